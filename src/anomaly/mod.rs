//! Anomaly injection and its ground truth.
//!
//! An [`Anomaly`] is one injected fault: a [`Kind`] of the taxonomy, a tenant, a target selector,
//! a window of virtual time and a [`Shape`] over that window. Anomalies come from bursts
//! (`POST /api/v1/bursts`) and from schedules in the configuration; all of them live in one
//! shared [`Registry`]. World anomalies ([`Layer::World`]) are applied by `simulation` sources as
//! they simulate requests, so every signal shows them; data anomalies are applied to batches by
//! the `inject_anomaly` stage at the end of each pipeline. Each anomaly becomes a manifest entry
//! ([`manifest::Entry`]) before any of its data is sent.

pub mod inject;
pub mod kind;
pub mod manifest;
pub mod plan;
pub mod registry;
pub mod scenario;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::TenantId;
use crate::random::Key;
pub use kind::{Kind, LabelMode, Layer};
pub use registry::Registry;

/// How intensity varies over an anomaly's window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Full intensity for the whole window.
    #[default]
    Step,
    /// Rises linearly from nothing to full intensity at the end of the window.
    Ramp,
    /// Rises to full intensity at the middle of the window and falls back.
    Pulse,
    /// One smooth hump (half a sine period) over the window.
    Sine,
}

impl Shape {
    /// Intensity in `[0, 1]` at `t_ns` for a window `[start_ns, end_ns)`; 0 outside it.
    pub fn intensity(self, start_ns: i64, end_ns: i64, t_ns: i64) -> f64 {
        if t_ns < start_ns || t_ns >= end_ns || end_ns <= start_ns {
            return 0.0;
        }
        let x = (t_ns - start_ns) as f64 / (end_ns - start_ns) as f64;
        match self {
            Shape::Step => 1.0,
            Shape::Ramp => x,
            Shape::Pulse => 1.0 - (2.0 * x - 1.0).abs(),
            Shape::Sine => (std::f64::consts::PI * x).sin(),
        }
    }
}

/// What an anomaly targets; every field that is set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `service.name` (world anomalies, traces, logs' `service_name`, metrics' `service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Kind of service in the world model (`frontend`, `backend`, `database`, `cache`, `queue`),
    /// for world anomalies that target every service of a kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_kind: Option<String>,
    /// `http.route` (world anomalies and span attributes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The instance (metrics' `instance` label, `service.instance.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Metric name (exact; histograms match by family name, so `_bucket`, `_sum` and `_count`
    /// follow it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Further label equalities (stream labels for logs, series labels for metrics).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Parameters of an anomaly; each kind reads the ones it understands and has defaults
/// (REALISM.md's injection defaults) for those not given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Multiplier: of the level (M-LEVEL), of σ (M-SPIKE, M-DIP, M-VAR), of the rate (L-RATE±,
    /// L-ERRBURST, M-CARD), of self time (T-LAT), of values (M-UNIT), or retries per layer
    /// (T-RETRY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// Share of the records in the window that are affected, in `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// A time offset (L-TSKEW, M-SKEW, M-OOO, T-SKEW, T-LATE, M-SEASON's phase), like `"10m"`
    /// or `"-2h"`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "signed_duration"
    )]
    pub offset: Option<i64>,
    /// A size: bytes (L-HUGE), depth (T-DEEP), children (T-WIDE), frames (L-MULTILINE), new
    /// label values (M-CARD, L-LABELCARD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// HTTP status code for injected failures (T-ERR, L-ATTR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl Params {
    /// `factor`, or `default`.
    pub fn factor_or(&self, default: f64) -> f64 {
        self.factor.unwrap_or(default)
    }
    /// `share`, or `default`, clamped to `[0, 1]`.
    pub fn share_or(&self, default: f64) -> f64 {
        self.share.unwrap_or(default).clamp(0.0, 1.0)
    }
    /// `offset` in nanoseconds, or `default`.
    pub fn offset_or(&self, default_ns: i64) -> i64 {
        self.offset.unwrap_or(default_ns)
    }
    /// `size`, or `default`.
    pub fn size_or(&self, default: u64) -> u64 {
        self.size.unwrap_or(default)
    }
}

/// Signed durations written for people: `"10m"`, `"-2h"`, serialized back the same way.
mod signed_duration {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(ns) => {
                let sign = if *ns < 0 { "-" } else { "" };
                let text =
                    humantime::format_duration(std::time::Duration::from_nanos(ns.unsigned_abs()));
                serializer.serialize_str(&format!("{sign}{text}"))
            }
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<i64>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_signed_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses `"10m"`, `"-2h"`, `"+500ms"` into signed nanoseconds (at most ±30 days).
pub fn parse_signed_duration(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let (sign, rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let duration = humantime::parse_duration(rest.trim()).map_err(|error| {
        format!("invalid duration {text:?}: {error} (examples: \"10m\", \"-2h\")")
    })?;
    if duration > Duration::from_secs(30 * 86_400) {
        return Err(format!("duration {text:?} is longer than 30 days"));
    }
    Ok(sign * duration.as_nanos() as i64)
}

/// One injected anomaly, live in the [`Registry`].
#[derive(Debug)]
pub struct Anomaly {
    /// Unique id (`<burst or schedule id>-<n>`).
    pub id: String,
    /// The taxonomy code.
    pub kind: Kind,
    /// The tenant whose data it changes.
    pub tenant: TenantId,
    /// What it targets.
    pub target: Target,
    /// Start of the window, unix ns of virtual time.
    pub start_ns: i64,
    /// End of the window; moves earlier when the anomaly is cancelled.
    end_ns: AtomicI64,
    /// Shape over the window.
    pub shape: Shape,
    /// Parameters.
    pub params: Params,
    /// Seed of the injection's randomness.
    pub seed: u64,
    /// Records changed, added or removed so far.
    affected: AtomicU64,
}

impl Anomaly {
    /// A new anomaly over `[start_ns, end_ns)`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        kind: Kind,
        tenant: TenantId,
        target: Target,
        start_ns: i64,
        end_ns: i64,
        shape: Shape,
        params: Params,
        seed: u64,
    ) -> Anomaly {
        Anomaly {
            id,
            kind,
            tenant,
            target,
            start_ns,
            end_ns: AtomicI64::new(end_ns.max(start_ns)),
            shape,
            params,
            seed,
            affected: AtomicU64::new(0),
        }
    }

    /// End of the window (unix ns).
    pub fn end_ns(&self) -> i64 {
        self.end_ns.load(Ordering::Relaxed)
    }

    /// Ends the window at `at_ns` if it is still open then.
    pub fn cut(&self, at_ns: i64) {
        self.end_ns
            .fetch_min(at_ns.max(self.start_ns), Ordering::Relaxed);
    }

    /// Whether `t_ns` is inside the window.
    pub fn contains(&self, t_ns: i64) -> bool {
        t_ns >= self.start_ns && t_ns < self.end_ns()
    }

    /// Whether the window overlaps `[start_ns, end_ns)`.
    pub fn overlaps(&self, start_ns: i64, end_ns: i64) -> bool {
        self.start_ns < end_ns && start_ns < self.end_ns()
    }

    /// Intensity in `[0, 1]` at `t_ns`.
    pub fn intensity(&self, t_ns: i64) -> f64 {
        self.shape.intensity(self.start_ns, self.end_ns(), t_ns)
    }

    /// Counts `n` records changed, added or removed.
    pub fn add_affected(&self, n: u64) {
        self.affected.fetch_add(n, Ordering::Relaxed);
    }

    /// Records changed, added or removed so far.
    pub fn affected(&self) -> u64 {
        self.affected.load(Ordering::Relaxed)
    }

    /// The key of this anomaly's randomness, for `purpose`.
    pub fn key(&self, purpose: &str) -> Key {
        Key::new(self.seed).with(&self.id).with(purpose)
    }

    /// Whether a service name matches the target (no service in the target matches all).
    pub fn matches_service(&self, service: &str) -> bool {
        self.target.service.as_deref().is_none_or(|s| s == service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_stay_in_unit_interval_and_vanish_outside() {
        for shape in [Shape::Step, Shape::Ramp, Shape::Pulse, Shape::Sine] {
            assert_eq!(shape.intensity(100, 200, 99), 0.0);
            assert_eq!(shape.intensity(100, 200, 200), 0.0);
            for t in 100..200 {
                let v = shape.intensity(100, 200, t);
                assert!((0.0..=1.0).contains(&v), "{shape:?} at {t}: {v}");
            }
        }
        assert_eq!(Shape::Pulse.intensity(0, 100, 50), 1.0);
        assert!(Shape::Ramp.intensity(0, 100, 10) < Shape::Ramp.intensity(0, 100, 90));
    }

    #[test]
    fn signed_durations_parse() {
        assert_eq!(parse_signed_duration("10m"), Ok(600_000_000_000));
        assert_eq!(parse_signed_duration("-2h"), Ok(-7_200_000_000_000));
        assert_eq!(parse_signed_duration("+500ms"), Ok(500_000_000));
        assert!(parse_signed_duration("forever").is_err());
        assert!(parse_signed_duration("400d").is_err());
    }

    #[test]
    fn cut_only_shortens() {
        let a = Anomaly::new(
            "a-1".into(),
            Kind::MLevel,
            "acme".into(),
            Target::default(),
            100,
            200,
            Shape::Step,
            Params::default(),
            1,
        );
        a.cut(300);
        assert_eq!(a.end_ns(), 200);
        a.cut(150);
        assert_eq!(a.end_ns(), 150);
        a.cut(50);
        assert_eq!(a.end_ns(), 100);
        assert!(!a.contains(100));
    }
}
