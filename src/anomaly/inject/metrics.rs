//! Metric anomalies that change sample values (REALISM.md §5.2).
//!
//! Most value anomalies act on gauges only: a spike, a trend or a square wave on a counter would
//! make it decrease, which no real exporter does, so counters, histograms and summaries are left
//! alone by M-SPIKE, M-DIP, M-CONTEXT, M-TREND, M-VAR, M-SEASON and M-SHAPE. M-LEVEL, M-FLAT and
//! M-UNIT also act on cumulative series, keeping them monotonic. The kinds that add, drop or move
//! samples live in [`super::metric_series`].
//!
//! Without access to the source's model, σ and the daily curve are approximated here:
//! σ_local is 10 % of |value| (1 for a zero value), and the daily curve is
//! `1 + 0.5·cos(2π(hour − 15)/24)` (peak at 15:00 UTC), the shape of the web-shop load.
//!
//! Per kind, inside the window (factor defaults from `manifest::default_factor`):
//! - M-SPIKE / M-DIP: the first 1–3 samples of each gauge ± factor·σ (6σ); dips stop at 0.
//! - M-CONTEXT: gauge × curve(t + 12 h) / curve(t); M-SEASON: the same with `offset` (6 h),
//!   or, with `factor` given, the daily amplitude × factor.
//! - M-LEVEL: gauges × (1 + (factor − 1)·intensity); cumulative series grow `factor` times as
//!   fast as from their first in-window sample.
//! - M-TREND: gauges × (1 + (factor − 1)·ramp), whatever the shape.
//! - M-VAR: gauges + N(0, 1)·σ·(factor − 1), non-negative values stay non-negative.
//! - M-SHAPE: gauges × 1.5 and × 0.5 alternating, four periods per window.
//! - M-FLAT: every targeted series frozen at its first in-window value.
//! - M-UNIT: gauges, summary quantiles and `_sum` of `_seconds` families × factor (1000).
//!
//! Known shortcoming: records after the window are never changed, so a counter whose rate
//! M-LEVEL raised falls back to its true value when the window closes, which a reader sees as a
//! counter reset; acceptable because the window is labelled `regime_change` and bounded.

use std::f64::consts::PI;

use super::state::{self, State};
use super::{matches_target, metric_series, record_rng};
use crate::anomaly::manifest::default_factor;
use crate::anomaly::{Anomaly, Kind, Shape};
use crate::model::MetricBatch;
use crate::model::metrics::{MetricKind, Series, is_stale_marker};

const NS_PER_MS: i64 = 1_000_000;
const NS_PER_HOUR: i64 = 3_600_000_000_000;

/// Applies one metric anomaly to `batch`.
pub(super) fn apply(batch: &mut MetricBatch, anomaly: &Anomaly) {
    let targeted: Vec<bool> = batch
        .series
        .iter()
        .map(|series| series_matches(anomaly, series))
        .collect();
    match anomaly.kind {
        Kind::MGap
        | Kind::MStale
        | Kind::MSkew
        | Kind::MDup
        | Kind::MOoo
        | Kind::MCard
        | Kind::MReset => metric_series::apply(batch, anomaly, &targeted),
        _ => change_values(batch, anomaly, &targeted),
    }
}

/// Whether a series matches the target: service (`service`, else `job`), instance, metric by
/// family name (so `_bucket`, `_sum`, `_count` and `_total` follow it) and label equalities.
pub(super) fn series_matches(anomaly: &Anomaly, series: &Series) -> bool {
    if let Some(metric) = &anomaly.target.metric
        && !names_family(series, metric)
    {
        return false;
    }
    matches_labels(anomaly, series)
}

/// Whether a series matches the target's service, instance and labels, whatever its metric.
pub(super) fn matches_labels(anomaly: &Anomaly, series: &Series) -> bool {
    matches_target(
        anomaly,
        |name| series.label(name),
        &["service", "job"],
        &["instance"],
    )
}

/// Whether `metric` names the series or its family.
fn names_family(series: &Series, metric: &str) -> bool {
    *series.name == *metric || series.family.name == metric || series.family.text_name() == metric
}

/// Whether the series only ever grows (counters, histogram samples, summary `_sum`/`_count`).
pub(super) fn is_cumulative(series: &Series) -> bool {
    match series.family.kind {
        MetricKind::Counter | MetricKind::Histogram => true,
        MetricKind::Summary => *series.name != *series.family.name,
        MetricKind::Gauge | MetricKind::Info => false,
    }
}

/// Whether the series goes up and down (gauges and summary quantiles).
fn is_gauge(series: &Series) -> bool {
    match series.family.kind {
        MetricKind::Gauge => true,
        MetricKind::Summary => *series.name == *series.family.name,
        _ => false,
    }
}

/// The timestamp of a sample in nanoseconds.
pub(super) fn sample_ns(timestamp_ms: i64) -> i64 {
    timestamp_ms.saturating_mul(NS_PER_MS)
}

/// The latest sample time of a batch (the anomaly's start for an empty one), for pruning state.
pub(super) fn latest_ns(batch: &MetricBatch, anomaly: &Anomaly) -> i64 {
    batch
        .samples
        .iter()
        .map(|sample| sample_ns(sample.timestamp_ms))
        .max()
        .unwrap_or(anomaly.start_ns)
}

fn change_values(batch: &mut MetricBatch, anomaly: &Anomaly, targeted: &[bool]) {
    let now_ns = latest_ns(batch, anomaly);
    let series = &batch.series;
    let samples = &mut batch.samples;
    let affected = state::with(anomaly, now_ns, |state| {
        let mut affected = 0;
        for sample in samples.iter_mut() {
            let index = sample.series as usize;
            let t_ns = sample_ns(sample.timestamp_ms);
            if !targeted[index] || !anomaly.contains(t_ns) || is_stale_marker(sample.value) {
                continue;
            }
            let point = Point {
                series: &series[index],
                t_ns,
                value: sample.value,
            };
            if let Some(value) = new_value(anomaly, state, &point)
                && value.to_bits() != sample.value.to_bits()
            {
                sample.value = value;
                affected += 1;
            }
        }
        affected
    });
    anomaly.add_affected(affected);
}

/// One in-window sample of a targeted series.
struct Point<'a> {
    series: &'a Series,
    t_ns: i64,
    value: f64,
}

/// The injected value of a sample, or `None` when the kind leaves this series alone.
fn new_value(anomaly: &Anomaly, state: &mut State, point: &Point) -> Option<f64> {
    let factor = default_factor(anomaly.kind, &anomaly.params);
    let intensity = anomaly.intensity(point.t_ns);
    let gauge = is_gauge(point.series);
    let v = point.value;
    match anomaly.kind {
        Kind::MSpike | Kind::MDip if gauge => Some(spike(anomaly, state, point, factor)),
        Kind::MContext if gauge => {
            let ratio = diurnal(point.t_ns + 12 * NS_PER_HOUR) / diurnal(point.t_ns);
            Some(v * (1.0 + (ratio - 1.0) * intensity))
        }
        Kind::MLevel if gauge => Some(v * (1.0 + (factor - 1.0) * intensity)),
        Kind::MLevel if is_cumulative(point.series) => {
            // The increase since the window opened, scaled: the counter stays monotonic. The
            // full factor applies (not the shape), as a shaped factor could make it decrease.
            let (_, first) = state.first(point.series.hash, point.t_ns, v);
            Some(first + (v - first) * factor.max(0.0))
        }
        Kind::MTrend if gauge => {
            let ramp = Shape::Ramp.intensity(anomaly.start_ns, anomaly.end_ns(), point.t_ns);
            Some(v * (1.0 + (factor - 1.0) * ramp))
        }
        Kind::MVar if gauge => {
            let mut rng = record_rng(anomaly, "var", point.series.hash ^ point.t_ns as u64);
            let noise = rng.normal() * sigma(v) * (factor - 1.0) * intensity;
            Some(keep_sign(v, v + noise))
        }
        Kind::MSeason if gauge => Some(season(anomaly, point, intensity)),
        Kind::MShape if gauge => {
            let period = ((anomaly.end_ns() - anomaly.start_ns) / 4).max(1);
            let high = ((point.t_ns - anomaly.start_ns) / (period / 2).max(1)) % 2 == 0;
            let sign = if high { 0.5 } else { -0.5 };
            Some(v * (1.0 + sign * intensity))
        }
        Kind::MFlat => Some(state.first(point.series.hash, point.t_ns, v).1),
        Kind::MUnit if in_seconds(point.series) => Some(v * factor),
        _ => None,
    }
}

/// M-SPIKE or M-DIP: the first 1–3 in-window samples of the series pushed by factor × σ.
fn spike(anomaly: &Anomaly, state: &mut State, point: &Point, factor: f64) -> f64 {
    let count = 1 + record_rng(anomaly, "spike-count", point.series.hash).below(3) as usize;
    let timestamp = point.t_ns;
    if !state.chosen(point.series.hash, timestamp, count) {
        return point.value;
    }
    let v = point.value;
    if anomaly.kind == Kind::MDip {
        keep_sign(v, v - factor * sigma(v))
    } else {
        v + factor * sigma(v)
    }
}

/// M-SEASON: with `factor` given, the daily amplitude scaled by it; otherwise the phase moved
/// by `offset` (6 h by default), both on the approximate daily curve.
fn season(anomaly: &Anomaly, point: &Point, intensity: f64) -> f64 {
    let daily = diurnal(point.t_ns);
    let wanted = match anomaly.params.factor {
        Some(amplitude) => 1.0 + amplitude * (daily - 1.0),
        None => diurnal(point.t_ns + anomaly.params.offset_or(6 * NS_PER_HOUR)),
    };
    let ratio = wanted / daily;
    point.value * (1.0 + (ratio - 1.0) * intensity)
}

/// Whether values of the series are in seconds and a ms-for-s bug shows in them (gauges,
/// summary quantiles and `_sum`; bucket and sample counts do not change).
fn in_seconds(series: &Series) -> bool {
    let seconds = series.family.unit == "seconds" || series.family.name.ends_with("_seconds");
    seconds && (is_gauge(series) || series.name.ends_with("_sum"))
}

/// The local scale of a value: 10 % of it, 1 for zero.
fn sigma(value: f64) -> f64 {
    if value == 0.0 { 1.0 } else { 0.1 * value.abs() }
}

/// `changed`, but never below zero when `original` was not negative.
fn keep_sign(original: f64, changed: f64) -> f64 {
    if original >= 0.0 {
        changed.max(0.0)
    } else {
        changed
    }
}

/// The approximate daily load curve at `t_ns`: 0.5 at 03:00 UTC, 1.5 at 15:00 UTC.
pub(super) fn diurnal(t_ns: i64) -> f64 {
    let hour = t_ns.rem_euclid(24 * NS_PER_HOUR) as f64 / NS_PER_HOUR as f64;
    1.0 + 0.5 * (2.0 * PI * (hour - 15.0) / 24.0).cos()
}
