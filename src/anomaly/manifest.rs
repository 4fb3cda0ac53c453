//! Ground truth: one manifest entry per injected anomaly, written before its data is sent.

use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use super::{Anomaly, Kind, LabelMode, Params, Shape, Target};
use crate::model::Signal;

/// What a backend should show because of an anomaly.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Observable {
    /// The signal to look in.
    pub signal: &'static str,
    /// A selector or query in that signal's language (PromQL, LogQL, TraceQL).
    pub selector: String,
    /// `up`, `down`, `appears`, `absent` or `changes`.
    pub direction: &'static str,
    /// Smallest effect a correct observer sees (ratio, share or count, as the selector says).
    pub min_effect: f64,
    /// How long after the window's start the effect can take to show, in seconds.
    pub lag_seconds: f64,
}

/// One line of a manifest (REALISM.md §5.1).
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// Id of the anomaly.
    pub id: String,
    /// The burst or schedule that injected it.
    pub source: String,
    /// Taxonomy code.
    pub kind: Kind,
    /// Signal it shows in first.
    pub signal: &'static str,
    /// Tenant.
    pub tenant: String,
    /// Target selector.
    pub target: Target,
    /// Window start, RFC 3339 with nanoseconds.
    pub start: String,
    /// Window end, RFC 3339 with nanoseconds.
    pub end: String,
    /// Window start, unix ns.
    pub start_unix_ns: i64,
    /// Window end, unix ns.
    pub end_unix_ns: i64,
    /// Shape over the window.
    pub shape: Shape,
    /// Parameters as given (defaults apply to those left out).
    pub params: Params,
    /// Labelling for scoring.
    pub label_mode: LabelMode,
    /// Whether this entry is a root cause (scenarios add symptom entries that are not).
    pub root_cause: bool,
    /// The root-cause entry this one follows from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<String>,
    /// Whether the behaviour is expected and should not alert (a legitimate surge).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expected: bool,
    /// What a backend should show.
    pub expected_observables: Vec<Observable>,
    /// Seed of the injection (with the id, it reproduces the randomness).
    pub seed: u64,
    /// `synthtel <version>`.
    pub generator_version: String,
    /// Hash of the configuration the daemon runs.
    pub config_hash: String,
    /// Whether the anomaly is injected by synthtel (false for symptoms that follow from a root
    /// cause through the world model).
    pub injected: bool,
}

/// RFC 3339 with nanoseconds, UTC.
pub fn rfc3339(unix_ns: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_nanos(unix_ns.max(0) as u64);
    humantime::format_rfc3339_nanos(time).to_string()
}

impl Entry {
    /// The entry of an injected root-cause anomaly.
    pub fn of(anomaly: &Anomaly, source: &str, config_hash: &str) -> Entry {
        Entry {
            id: anomaly.id.clone(),
            source: source.to_string(),
            kind: anomaly.kind,
            signal: anomaly.kind.signal().as_str(),
            tenant: anomaly.tenant.to_string(),
            target: anomaly.target.clone(),
            start: rfc3339(anomaly.start_ns),
            end: rfc3339(anomaly.end_ns()),
            start_unix_ns: anomaly.start_ns,
            end_unix_ns: anomaly.end_ns(),
            shape: anomaly.shape,
            params: anomaly.params.clone(),
            label_mode: anomaly.kind.label_mode(),
            root_cause: true,
            caused_by: None,
            expected: false,
            expected_observables: observables(anomaly),
            seed: anomaly.seed,
            generator_version: format!("synthtel {}", env!("CARGO_PKG_VERSION")),
            config_hash: config_hash.to_string(),
            injected: true,
        }
    }

    /// Refreshes the window end (after a cancellation).
    pub fn refresh(&mut self, anomaly: &Anomaly) {
        self.end_unix_ns = anomaly.end_ns();
        self.end = rfc3339(self.end_unix_ns);
    }
}

/// A PromQL label matcher list for the target, with the tenant's identity.
fn promql_matchers(anomaly: &Anomaly) -> String {
    let target = &anomaly.target;
    let mut parts = Vec::new();
    if let Some(metric) = &target.metric {
        parts.push(format!(
            "__name__=~\"{metric}(_bucket|_sum|_count|_total)?\""
        ));
    }
    if let Some(service) = &target.service {
        parts.push(format!("service=\"{service}\""));
    }
    if let Some(instance) = &target.instance {
        parts.push(format!("instance=\"{instance}\""));
    }
    for (name, value) in &target.labels {
        parts.push(format!("{name}=\"{value}\""));
    }
    format!("{{{}}}", parts.join(","))
}

/// A LogQL stream selector for the target.
fn logql_selector(anomaly: &Anomaly) -> String {
    let target = &anomaly.target;
    let mut parts = Vec::new();
    if let Some(service) = &target.service {
        parts.push(format!("service_name=\"{service}\""));
    }
    for (name, value) in &target.labels {
        parts.push(format!("{name}=\"{value}\""));
    }
    if parts.is_empty() {
        parts.push("service_name=~\".+\"".to_string());
    }
    format!("{{{}}}", parts.join(","))
}

/// A TraceQL selector for the target.
fn traceql_selector(anomaly: &Anomaly) -> String {
    let target = &anomaly.target;
    let mut parts = Vec::new();
    if let Some(service) = &target.service {
        parts.push(format!("resource.service.name = \"{service}\""));
    }
    if let Some(route) = &target.route {
        parts.push(format!("span.http.route = \"{route}\""));
    }
    if parts.is_empty() {
        "{ }".to_string()
    } else {
        format!("{{ {} }}", parts.join(" && "))
    }
}

/// The default observables of an anomaly, by kind.
pub fn observables(anomaly: &Anomaly) -> Vec<Observable> {
    let kind = anomaly.kind;
    let params = &anomaly.params;
    let (signal, selector) = match kind.signal() {
        Signal::Metrics => ("metrics", promql_matchers(anomaly)),
        Signal::Logs => ("logs", logql_selector(anomaly)),
        Signal::Traces => ("traces", traceql_selector(anomaly)),
    };
    let (direction, min_effect) = match kind {
        Kind::MSpike | Kind::MLevel | Kind::MTrend | Kind::MUnit | Kind::MVar => {
            ("up", default_factor(kind, params).max(1.0))
        }
        Kind::MDip => ("down", default_factor(kind, params)),
        Kind::MGap | Kind::MStale | Kind::LSilence => ("absent", 1.0),
        Kind::LRateUp | Kind::LErrburst | Kind::MCard | Kind::TLat | Kind::TRetry | Kind::WLoad => {
            ("up", default_factor(kind, params))
        }
        Kind::LRateDown => ("down", 1.0 / default_factor(kind, params).max(1.0)),
        Kind::LNewtpl | Kind::LHuge | Kind::LMultiline | Kind::LLabelcard => ("appears", 1.0),
        Kind::TErr | Kind::TTimeout => ("up", params.share_or(0.5)),
        _ => ("changes", params.share_or(0.01)),
    };
    vec![Observable {
        signal,
        selector,
        direction,
        min_effect,
        lag_seconds: 60.0,
    }]
}

/// The factor a kind uses when none is given (REALISM.md's injection defaults).
pub fn default_factor(kind: Kind, params: &Params) -> f64 {
    let default = match kind {
        Kind::MSpike | Kind::MDip => 6.0,
        Kind::MLevel => 1.5,
        Kind::MTrend => 2.0,
        Kind::MVar => 3.0,
        Kind::MUnit => 1000.0,
        Kind::MCard => 100.0,
        Kind::LErrburst => 30.0,
        Kind::LRateUp => 5.0,
        Kind::LRateDown => 5.0,
        Kind::TLat => 10.0,
        Kind::TRetry => 3.0,
        Kind::WLoad => 4.0,
        _ => 1.0,
    };
    params.factor_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_serializes_the_manifest_fields() {
        let anomaly = Anomaly::new(
            "b-1-0".into(),
            Kind::MLevel,
            "acme".into(),
            Target {
                service: Some("checkout".into()),
                ..Target::default()
            },
            1_700_000_000_000_000_000,
            1_700_000_060_000_000_000,
            Shape::Step,
            Params {
                factor: Some(2.0),
                ..Params::default()
            },
            7,
        );
        let entry = Entry::of(&anomaly, "b-1", "abc");
        let json: serde_json::Value = serde_json::to_value(&entry).expect("serializes");
        for field in [
            "id",
            "kind",
            "signal",
            "tenant",
            "target",
            "start",
            "end",
            "start_unix_ns",
            "end_unix_ns",
            "shape",
            "params",
            "label_mode",
            "root_cause",
            "expected_observables",
            "seed",
            "generator_version",
            "config_hash",
        ] {
            assert!(json.get(field).is_some(), "missing {field}: {json}");
        }
        assert_eq!(json["kind"], "M-LEVEL");
        assert_eq!(json["label_mode"], "regime_change");
        assert_eq!(json["start"], "2023-11-14T22:13:20.000000000Z");
        assert_eq!(json["expected_observables"][0]["min_effect"], 2.0);
        assert!(
            json["expected_observables"][0]["selector"]
                .as_str()
                .is_some_and(|s| s.contains("service=\"checkout\""))
        );
    }
}
