//! The anomaly taxonomy: every code synthtel can inject, with its signal, label mode and the
//! part of synthtel that injects it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::Signal;

/// How an anomaly is labelled in its manifest entry, for scoring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelMode {
    /// Individual timestamps.
    Point,
    /// One contiguous window.
    Range,
    /// The onset of a new normal.
    RegimeChange,
    /// Whole log sequences or traces.
    Entity,
}

/// Where an anomaly acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// On the world model of a `simulation` source, so that every signal shows it.
    World,
    /// On batches, in the `inject_anomaly` stage of each pipeline.
    Data,
}

macro_rules! kinds {
    ($( $variant:ident = $code:literal, $signal:ident, $label:ident, $layer:ident, $summary:literal; )*) => {
        /// An anomaly code of the taxonomy.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $(
                #[doc = $summary]
                $variant,
            )*
        }

        impl Kind {
            /// Every code, in taxonomy order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The code, as written in requests and manifests (`M-LEVEL`).
            pub fn code(self) -> &'static str {
                match self { $(Kind::$variant => $code,)* }
            }

            /// The signal the anomaly shows in first.
            pub fn signal(self) -> Signal {
                match self { $(Kind::$variant => Signal::$signal,)* }
            }

            /// How the manifest labels it.
            pub fn label_mode(self) -> LabelMode {
                match self { $(Kind::$variant => LabelMode::$label,)* }
            }

            /// Where it is injected.
            pub fn layer(self) -> Layer {
                match self { $(Kind::$variant => Layer::$layer,)* }
            }

            /// One line saying what it is.
            pub fn summary(self) -> &'static str {
                match self { $(Kind::$variant => $summary,)* }
            }

            /// Parses a code (`M-LEVEL`, case-insensitive).
            pub fn parse(code: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|kind| kind.code().eq_ignore_ascii_case(code))
            }
        }
    };
}

kinds! {
    MSpike = "M-SPIKE", Metrics, Point, Data, "A few samples far above the local distribution.";
    MDip = "M-DIP", Metrics, Point, Data, "A few samples far below the local distribution.";
    MContext = "M-CONTEXT", Metrics, Range, Data, "Normal values, wrong for the time of day.";
    MLevel = "M-LEVEL", Metrics, RegimeChange, Data, "A sustained step in level.";
    MTrend = "M-TREND", Metrics, RegimeChange, Data, "A drift or slow leak.";
    MVar = "M-VAR", Metrics, Range, Data, "More variance around the same mean.";
    MSeason = "M-SEASON", Metrics, Range, Data, "A break of the daily seasonality's phase or amplitude.";
    MShape = "M-SHAPE", Metrics, Range, Data, "A square wave where a smooth curve belongs.";
    MFlat = "M-FLAT", Metrics, Range, Data, "A frozen value, as from a hung exporter.";
    MGap = "M-GAP", Metrics, Range, Data, "Missing samples.";
    MReset = "M-RESET", Metrics, Point, Data, "A counter reset with a restart.";
    MCard = "M-CARD", Metrics, Range, Data, "A cardinality explosion: many new label values.";
    MDup = "M-DUP", Metrics, Range, Data, "Duplicate samples for the same series and timestamp.";
    MOoo = "M-OOO", Metrics, Range, Data, "Samples behind the newest of their series.";
    MStale = "M-STALE", Metrics, Point, Data, "A series vanishes, with a staleness marker.";
    MSkew = "M-SKEW", Metrics, Range, Data, "One instance's timestamps offset by clock skew.";
    MUnit = "M-UNIT", Metrics, RegimeChange, Data, "A scale bug: milliseconds written into seconds.";
    LErrburst = "L-ERRBURST", Logs, Range, Data, "A burst of ERROR lines from a few templates.";
    LNewtpl = "L-NEWTPL", Logs, Range, Data, "A template never seen in the baseline.";
    LAttr = "L-ATTR", Logs, Point, Data, "A known template with an abnormal variable.";
    LSeq = "L-SEQ", Logs, Entity, Data, "A request sequence missing its closing event.";
    LRateUp = "L-RATE+", Logs, Range, Data, "A volume surge.";
    LRateDown = "L-RATE-", Logs, Range, Data, "A volume drop.";
    LSilence = "L-SILENCE", Logs, Range, Data, "A stream stops.";
    LMalformed = "L-MALFORMED", Logs, Entity, Data, "Truncated JSON, unbalanced quotes, missing fields.";
    LGarbage = "L-GARBAGE", Logs, Entity, Data, "Invalid UTF-8, NUL, ANSI escapes, mixed line ends, BOM.";
    LHuge = "L-HUGE", Logs, Entity, Data, "Oversized lines.";
    LMultiline = "L-MULTILINE", Logs, Entity, Data, "A multi-line explosion of stack frames.";
    LTskew = "L-TSKEW", Logs, Entity, Data, "Timestamps far in the future or the past.";
    LDup = "L-DUP", Logs, Range, Data, "At-least-once shipping duplicates.";
    LLabelcard = "L-LABELCARD", Logs, Range, Data, "A request id promoted to a stream label.";
    TLat = "T-LAT", Traces, Range, World, "One service slows; its callers slow along the critical path.";
    TErr = "T-ERR", Traces, Range, World, "One service fails; errors propagate to its callers.";
    TTimeout = "T-TIMEOUT", Traces, Range, World, "Calls exceed their client's deadline.";
    TRetry = "T-RETRY", Traces, Range, World, "A retry storm.";
    TOrphan = "T-ORPHAN", Traces, Entity, Data, "Spans whose parent is never emitted.";
    TNoroot = "T-NOROOT", Traces, Entity, Data, "Traces without a root span.";
    TMultiroot = "T-MULTIROOT", Traces, Entity, Data, "Traces with two or more roots.";
    TLate = "T-LATE", Traces, Entity, Data, "Part of a trace arrives late.";
    TDeep = "T-DEEP", Traces, Entity, Data, "Traces 20 to 100 levels deep.";
    TWide = "T-WIDE", Traces, Entity, Data, "One parent with thousands of children (N+1 queries).";
    TSkew = "T-SKEW", Traces, Range, Data, "Children outside their parent through host clock skew.";
    TBadid = "T-BADID", Traces, Entity, Data, "All-zero trace or span ids.";
    TNamecard = "T-NAMECARD", Traces, RegimeChange, Data, "Raw ids in span names.";
    TSampling = "T-SAMPLING", Traces, Range, Data, "One service ignores the parent's sampling decision.";
    WLoad = "W-LOAD", Traces, Range, World, "User load multiplied (a legitimate surge); synthtel's addition for scenarios.";
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Kind, D::Error> {
        let code = String::deserialize(deserializer)?;
        Kind::parse(&code).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown anomaly kind {code:?} (GET /api/v1/scenarios lists every kind)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for &kind in Kind::ALL {
            assert!(seen.insert(kind.code()), "{kind} twice");
            assert_eq!(Kind::parse(kind.code()), Some(kind));
            assert_eq!(Kind::parse(&kind.code().to_lowercase()), Some(kind));
        }
        assert_eq!(Kind::ALL.len(), 46);
        assert_eq!(Kind::parse("M-NOPE"), None);
    }
}
