//! `POST /api/v1/bursts` bodies: parsing and validation, with errors that name the field.

use std::time::Duration;

use serde::Deserialize;

use crate::anomaly::{Kind, Params, Shape, Target, scenario};
use crate::model::Signal;

/// A rejected request: HTTP status, stable code, message and the field at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 400, 404, 413, 422 or 429.
    pub status: u16,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
    /// The request field at fault.
    pub field: Option<String>,
}

impl Refusal {
    /// 422 naming `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            status: 422,
            code: "invalid_parameter",
            message: message.into(),
            field: Some(field.to_string()),
        }
    }
}

/// How the burst's own volume rate varies over its duration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateShape {
    /// `from` for the whole burst (`to` is ignored).
    #[default]
    Constant,
    /// From `from` to `to`, linearly.
    Ramp,
    /// `from`, rising to `to` in the middle, back to `from`.
    Pulse,
    /// `from` for the first half, `to` for the second.
    Step,
}

/// The `rate` object: records per second of the burst's own volume.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSpec {
    /// Shape over the burst.
    #[serde(default)]
    pub shape: RateShape,
    /// Starting rate.
    pub from: f64,
    /// Peak or final rate (defaults to `from`).
    #[serde(default)]
    pub to: Option<f64>,
    /// Only `per_second`.
    #[serde(default)]
    pub unit: Option<String>,
}

impl RateSpec {
    /// Records per second at `x` in `[0, 1]` of the burst.
    pub fn at(&self, x: f64) -> f64 {
        let to = self.to.unwrap_or(self.from);
        match self.shape {
            RateShape::Constant => self.from,
            RateShape::Ramp => self.from + (to - self.from) * x,
            RateShape::Pulse => self.from + (to - self.from) * (1.0 - (2.0 * x - 1.0).abs()),
            RateShape::Step => {
                if x < 0.5 {
                    self.from
                } else {
                    to
                }
            }
        }
    }

    /// The highest rate reached.
    pub fn peak(&self) -> f64 {
        self.from.max(self.to.unwrap_or(self.from))
    }
}

/// One anomaly asked for by a burst.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalySpec {
    /// Taxonomy code.
    pub kind: Kind,
    /// Delay from the burst's start (`"30s"`); 0 by default.
    #[serde(default)]
    pub start: Option<String>,
    /// Length of the anomaly's window; the burst's duration by default.
    #[serde(default)]
    pub duration: Option<String>,
    /// Shape over the window.
    #[serde(default)]
    pub shape: Shape,
    /// Target selector.
    #[serde(default)]
    pub target: Target,
    /// Parameters.
    #[serde(default)]
    pub params: Params,
}

/// The body of `POST /api/v1/bursts`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstRequest {
    /// The tenant the burst is scoped to.
    pub tenant: String,
    /// Signals of the burst's own volume (`logs`, `traces`); every signal its anomalies show in
    /// when absent.
    #[serde(default)]
    pub signals: Option<Vec<String>>,
    /// A built-in scenario.
    #[serde(default)]
    pub scenario: Option<String>,
    /// Target of the scenario (its default target when absent).
    #[serde(default)]
    pub target: Option<Target>,
    /// Anomalies, when no scenario is given.
    #[serde(default)]
    pub anomalies: Option<Vec<AnomalySpec>>,
    /// How long the burst lasts (`"10m"`).
    #[serde(default)]
    pub duration: Option<String>,
    /// How many records the burst's own volume has in total.
    #[serde(default)]
    pub count: Option<u64>,
    /// Rate of the burst's own volume.
    #[serde(default)]
    pub rate: Option<RateSpec>,
    /// Seed of the burst's randomness (the configuration's seed when absent).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Exporters of the burst's own volume (the push exporters of the signals' pipelines when
    /// absent).
    #[serde(default)]
    pub exporters: Option<Vec<String>>,
    /// Log dialect of the burst's own log volume (`json` by default).
    #[serde(default)]
    pub dialect: Option<String>,
}

/// Limits on what one burst may ask for.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest burst.
    pub max_duration: Duration,
    /// Most records of own volume in one burst.
    pub max_records: u64,
    /// Highest own-volume rate, records per second.
    pub max_rate: f64,
}

/// A request that passed validation.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The request.
    pub request: BurstRequest,
    /// Burst length, ns.
    pub duration_ns: i64,
    /// Signals of the own volume (empty: anomalies only).
    pub volume_signals: Vec<Signal>,
    /// Own-volume rate (None: anomalies only).
    pub rate: Option<RateSpec>,
    /// Anomalies with their start offset and length in ns.
    pub anomalies: Vec<(AnomalySpec, i64, i64)>,
}

fn duration_field(field: &str, text: &str) -> Result<Duration, Refusal> {
    humantime::parse_duration(text).map_err(|error| {
        Refusal::invalid(
            field,
            format!("invalid duration {text:?}: {error} (examples: \"30s\", \"10m\")"),
        )
    })
}

/// Parses a body: malformed JSON or a body that is not an object is 400; a well-formed object
/// with a wrong field is 422 naming the field.
pub fn parse(body: &[u8]) -> Result<BurstRequest, Refusal> {
    let malformed = |message: String| Refusal {
        status: 400,
        code: "malformed_json",
        message,
        field: None,
    };
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| malformed(format!("the body is not JSON: {error}")))?;
    if !value.is_object() {
        return Err(malformed("the body must be a JSON object".into()));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = (path != "." && path != "?").then_some(path);
        Refusal {
            status: 422,
            code: "invalid_parameter",
            message: error.into_inner().to_string(),
            field,
        }
    })
}

/// Validates a parsed request against the limits; tenant and exporters are checked by the caller.
pub fn check(request: BurstRequest, limits: &Limits) -> Result<Checked, Refusal> {
    if request.scenario.is_some() && request.anomalies.is_some() {
        return Err(Refusal::invalid(
            "anomalies",
            "give either scenario or anomalies",
        ));
    }
    if request.target.is_some() && request.scenario.is_none() {
        return Err(Refusal::invalid(
            "target",
            "target goes with scenario; anomalies carry their own",
        ));
    }
    if let Some(name) = &request.scenario
        && scenario::find(name).is_none()
    {
        let known: Vec<&str> = scenario::SCENARIOS.iter().map(|s| s.name).collect();
        return Err(Refusal::invalid(
            "scenario",
            format!("unknown scenario {name:?}; known: {}", known.join(", ")),
        ));
    }
    if let Some(rate) = &request.rate {
        for (field, value) in [("rate.from", Some(rate.from)), ("rate.to", rate.to)] {
            let Some(value) = value else { continue };
            if !value.is_finite() || value < 0.0 {
                return Err(Refusal::invalid(
                    field,
                    "must be a number of records per second, 0 or more",
                ));
            }
            if value > limits.max_rate {
                return Err(too_large(
                    field,
                    format!("{value} records/s is over the limit of {}", limits.max_rate),
                ));
            }
        }
        if rate.unit.as_deref().is_some_and(|u| u != "per_second") {
            return Err(Refusal::invalid("rate.unit", "only \"per_second\""));
        }
    }
    let duration = match &request.duration {
        Some(text) => Some(duration_field("duration", text)?),
        None => None,
    };
    if let Some(count) = request.count {
        if count == 0 {
            return Err(Refusal::invalid("count", "must be at least 1"));
        }
        if count > limits.max_records {
            return Err(too_large(
                "count",
                format!(
                    "{count} records is over the limit of {}",
                    limits.max_records
                ),
            ));
        }
    }
    let has_volume = request.count.is_some() || request.rate.is_some();
    let rate = has_volume.then(|| {
        request.rate.clone().unwrap_or(RateSpec {
            shape: RateShape::Constant,
            from: 1000.0,
            to: None,
            unit: None,
        })
    });
    // The burst's length: given, or the time `count` takes at the mean rate.
    let duration = match (duration, request.count, &rate) {
        (Some(d), _, _) => d,
        (None, Some(count), Some(rate)) => {
            let mean = (0..20)
                .map(|i| rate.at((i as f64 + 0.5) / 20.0))
                .sum::<f64>()
                / 20.0;
            if mean <= 0.0 {
                return Err(Refusal::invalid("rate", "a rate of 0 never reaches count"));
            }
            Duration::from_secs_f64(
                (count as f64 / mean).min(limits.max_duration.as_secs_f64() + 1.0),
            )
        }
        _ => return Err(Refusal::invalid("duration", "give duration or count")),
    };
    if duration.is_zero() {
        return Err(Refusal::invalid("duration", "must be more than 0"));
    }
    if duration > limits.max_duration {
        return Err(too_large(
            "duration",
            format!(
                "{} is over the limit of {}",
                humantime::format_duration(duration),
                humantime::format_duration(limits.max_duration)
            ),
        ));
    }
    if let Some(rate) = &rate {
        let most = rate.peak() * duration.as_secs_f64();
        if request.count.is_none() && most > limits.max_records as f64 {
            return Err(too_large(
                "rate",
                format!(
                    "up to {most:.0} records is over the limit of {}",
                    limits.max_records
                ),
            ));
        }
    }
    let duration_ns = duration.as_nanos() as i64;
    let mut anomalies = Vec::new();
    for (i, spec) in request.anomalies.iter().flatten().enumerate() {
        let field = |f: &str| format!("anomalies[{i}].{f}");
        let start = match &spec.start {
            Some(text) => duration_field(&field("start"), text)?.as_nanos() as i64,
            None => 0,
        };
        let length = match &spec.duration {
            Some(text) => duration_field(&field("duration"), text)?.as_nanos() as i64,
            None => duration_ns - start,
        };
        if start >= duration_ns || length <= 0 || start + length > duration_ns {
            return Err(Refusal::invalid(
                &field("duration"),
                "the anomaly's window must lie inside the burst's duration",
            ));
        }
        check_params(spec, &field)?;
        anomalies.push((spec.clone(), start, length));
    }
    if request.scenario.is_none() && anomalies.is_empty() && !has_volume {
        return Err(Refusal::invalid(
            "anomalies",
            "a burst needs a scenario, anomalies, or volume (count or rate)",
        ));
    }
    let volume_signals = match (&request.signals, has_volume) {
        (_, false) => Vec::new(),
        (Some(names), true) => {
            let mut signals = Vec::new();
            for (i, name) in names.iter().enumerate() {
                match Signal::parse(name) {
                    Some(Signal::Metrics) => {
                        return Err(Refusal::invalid(
                            &format!("signals[{i}]"),
                            "own volume is logs or traces; metric anomalies act on the tenant's live series",
                        ));
                    }
                    Some(signal) if !signals.contains(&signal) => signals.push(signal),
                    Some(_) => {}
                    None => {
                        return Err(Refusal::invalid(
                            &format!("signals[{i}]"),
                            format!("unknown signal {name:?}; use logs or traces"),
                        ));
                    }
                }
            }
            if signals.is_empty() {
                return Err(Refusal::invalid(
                    "signals",
                    "name at least one signal for the volume",
                ));
            }
            signals
        }
        (None, true) => {
            let mut signals: Vec<Signal> = Vec::new();
            for (spec, _, _) in &anomalies {
                let signal = spec.kind.signal();
                if signal != Signal::Metrics && !signals.contains(&signal) {
                    signals.push(signal);
                }
            }
            if signals.is_empty() {
                signals.push(Signal::Logs);
            }
            signals
        }
    };
    Ok(Checked {
        request,
        duration_ns,
        volume_signals,
        rate,
        anomalies,
    })
}

fn too_large(field: &str, message: String) -> Refusal {
    Refusal {
        status: 413,
        code: "volume_too_large",
        message,
        field: Some(field.to_string()),
    }
}

fn check_params(spec: &AnomalySpec, field: &dyn Fn(&str) -> String) -> Result<(), Refusal> {
    let params = &spec.params;
    if let Some(factor) = params.factor
        && !(factor.is_finite() && (0.0..=1e6).contains(&factor))
    {
        return Err(Refusal::invalid(
            &field("params.factor"),
            "must be between 0 and 1000000",
        ));
    }
    if let Some(share) = params.share
        && !(share.is_finite() && (0.0..=1.0).contains(&share))
    {
        return Err(Refusal::invalid(
            &field("params.share"),
            "must be between 0 and 1",
        ));
    }
    if let Some(size) = params.size
        && size > 16 << 20
    {
        return Err(too_large(
            &field("params.size"),
            format!("{size} is over the limit of 16 MiB"),
        ));
    }
    if let Some(status) = params.status
        && !(100..=599).contains(&status)
    {
        return Err(Refusal::invalid(
            &field("params.status"),
            "must be an HTTP status, 100 to 599",
        ));
    }
    Ok(())
}
