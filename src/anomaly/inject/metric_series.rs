//! Metric anomalies that add, drop or move samples or series (REALISM.md §5.2): M-GAP,
//! M-STALE, M-SKEW, M-DUP, M-OOO, M-CARD and M-RESET.
//!
//! - M-GAP: targeted samples in the window dropped.
//! - M-STALE: the first in-window sample of each series becomes the staleness marker, the rest
//!   of the window is dropped.
//! - M-SKEW: timestamps moved by `offset` (+2 min).
//! - M-DUP / M-OOO: a `share` (1 %) of samples copied, at the same time (half with another
//!   value) or `offset` (5 min) earlier and after every other sample of the batch.
//! - M-CARD: `size` (100) new `pod="cardinality-<n>"` series per targeted series, at most
//!   [`MAX_CARD_SAMPLES`] added samples per batch.
//! - M-RESET: cumulative series restart from 0 at their first in-window sample and
//!   `process_start_time_seconds` jumps to the window start. No scrape is missed, and after the
//!   window the counters are back at their true value (a jump up, not a second reset).

use std::collections::HashMap;
use std::sync::Arc;

use super::metrics::{is_cumulative, latest_ns, matches_labels, sample_ns};
use super::{record_rng, share_at, state};
use crate::anomaly::manifest::default_factor;
use crate::anomaly::{Anomaly, Kind};
use crate::model::MetricBatch;
use crate::model::metrics::{LabelPair, MetricSample, STALE_NAN, Series, is_stale_marker};

const NS_PER_MS: i64 = 1_000_000;

/// Most samples M-CARD adds to one batch, so a broad target cannot exhaust memory.
const MAX_CARD_SAMPLES: usize = 1_000_000;

/// The label M-CARD gives its new series.
const CARD_LABEL: &str = "pod";

/// Applies one of the sample-moving kinds; `targeted` says which series match.
pub(super) fn apply(batch: &mut MetricBatch, anomaly: &Anomaly, targeted: &[bool]) {
    let in_window = |sample: &MetricSample| {
        targeted[sample.series as usize] && anomaly.contains(sample_ns(sample.timestamp_ms))
    };
    let affected = match anomaly.kind {
        Kind::MGap => {
            let before = batch.samples.len();
            batch.samples.retain(|sample| !in_window(sample));
            before - batch.samples.len()
        }
        Kind::MStale => stale(batch, anomaly, targeted),
        Kind::MSkew => {
            let offset_ms = anomaly.params.offset_or(120_000_000_000) / NS_PER_MS;
            let mut moved = 0;
            for sample in batch.samples.iter_mut().filter(|s| in_window(s)) {
                sample.timestamp_ms += offset_ms;
                moved += 1;
            }
            moved
        }
        Kind::MDup | Kind::MOoo => copies(batch, anomaly, targeted),
        Kind::MCard => cardinality(batch, anomaly, targeted),
        Kind::MReset => reset(batch, anomaly, targeted),
        _ => 0,
    };
    anomaly.add_affected(affected as u64);
}

/// The identity of a sample for keyed draws.
fn sample_identity(batch: &MetricBatch, sample: &MetricSample) -> u64 {
    batch.series[sample.series as usize].hash ^ (sample.timestamp_ms as u64).rotate_left(32)
}

/// M-STALE: the first in-window sample of each targeted series becomes the staleness marker and
/// the rest of the window stays empty.
fn stale(batch: &mut MetricBatch, anomaly: &Anomaly, targeted: &[bool]) -> usize {
    let now_ns = latest_ns(batch, anomaly);
    let series = &batch.series;
    let samples = std::mem::take(&mut batch.samples);
    let mut affected = 0;
    let kept = state::with(anomaly, now_ns, |state| {
        let mut kept = Vec::with_capacity(samples.len());
        for mut sample in samples {
            let index = sample.series as usize;
            if !targeted[index] || !anomaly.contains(sample_ns(sample.timestamp_ms)) {
                kept.push(sample);
                continue;
            }
            affected += 1;
            let (first, _) = state.first(series[index].hash, sample.timestamp_ms, sample.value);
            if first == sample.timestamp_ms {
                sample.value = STALE_NAN;
                sample.exemplar = None;
                kept.push(sample);
            }
        }
        kept
    });
    batch.samples = kept;
    affected
}

/// M-DUP (a copy at the same timestamp, half of them with another value, right after the
/// original) and M-OOO (a copy `offset` earlier, 5 min by default, after every other sample).
fn copies(batch: &mut MetricBatch, anomaly: &Anomaly, targeted: &[bool]) -> usize {
    let duplicate = anomaly.kind == Kind::MDup;
    let offset_ms = anomaly.params.offset_or(300_000_000_000).abs() / NS_PER_MS;
    let mut out = Vec::with_capacity(batch.samples.len());
    let mut late = Vec::new();
    for sample in &batch.samples {
        out.push(*sample);
        let t_ns = sample_ns(sample.timestamp_ms);
        if !targeted[sample.series as usize]
            || !anomaly.contains(t_ns)
            || is_stale_marker(sample.value)
        {
            continue;
        }
        let mut rng = record_rng(anomaly, "copy", sample_identity(batch, sample));
        if !rng.chance(share_at(anomaly, 0.01, t_ns)) {
            continue;
        }
        let mut copy = *sample;
        if duplicate {
            if rng.chance(0.5) {
                copy.value = if copy.value == 0.0 {
                    1.0
                } else {
                    copy.value * 1.01
                };
            }
            out.push(copy);
        } else {
            copy.timestamp_ms -= offset_ms;
            late.push(copy);
        }
    }
    let affected = out.len() + late.len() - batch.samples.len();
    out.extend(late);
    batch.samples = out;
    affected
}

/// M-CARD: copies of the targeted samples onto new series that differ by a `pod` label value
/// (`cardinality-<n>`); `size` new values per series (default the kind's factor, 100), of which
/// a share rising with intensity is active.
fn cardinality(batch: &mut MetricBatch, anomaly: &Anomaly, targeted: &[bool]) -> usize {
    let values = anomaly
        .params
        .size
        .unwrap_or(default_factor(anomaly.kind, &anomaly.params).max(0.0) as u64);
    let mut created: HashMap<(u32, u64), u32> = HashMap::new();
    let mut added = Vec::new();
    for sample in &batch.samples {
        let t_ns = sample_ns(sample.timestamp_ms);
        if !targeted[sample.series as usize] || !anomaly.contains(t_ns) {
            continue;
        }
        let active = (values as f64 * anomaly.intensity(t_ns)).ceil() as u64;
        for n in 0..active.min(values) {
            if added.len() >= MAX_CARD_SAMPLES {
                break;
            }
            let index = *created.entry((sample.series, n)).or_insert_with(|| {
                let series = card_series(&batch.series[sample.series as usize], n);
                batch.series.push(Arc::new(series));
                (batch.series.len() - 1) as u32
            });
            added.push(MetricSample {
                series: index,
                exemplar: None,
                ..*sample
            });
        }
    }
    let affected = added.len();
    batch.samples.extend(added);
    affected
}

/// The series `original` with `pod="cardinality-<n>"`.
fn card_series(original: &Series, n: u64) -> Series {
    let mut labels: Vec<LabelPair> = original
        .labels
        .iter()
        .filter(|(name, _)| &**name != CARD_LABEL)
        .cloned()
        .collect();
    labels.push((Arc::from(CARD_LABEL), Arc::from(format!("cardinality-{n}"))));
    Series::new(
        Arc::clone(&original.name),
        labels,
        Arc::clone(&original.family),
    )
}

/// M-RESET: cumulative series restart from zero at their first in-window sample, and
/// `process_start_time_seconds` of the targeted service jumps to the window start.
fn reset(batch: &mut MetricBatch, anomaly: &Anomaly, targeted: &[bool]) -> usize {
    let now_ns = latest_ns(batch, anomaly);
    let start_seconds = anomaly.start_ns.div_euclid(1_000_000_000) as f64;
    let restarted: Vec<bool> = batch
        .series
        .iter()
        .map(|series| {
            &*series.name == "process_start_time_seconds" && matches_labels(anomaly, series)
        })
        .collect();
    let series = &batch.series;
    let samples = &mut batch.samples;
    state::with(anomaly, now_ns, |state| {
        let mut affected = 0;
        for sample in samples.iter_mut() {
            let index = sample.series as usize;
            if !anomaly.contains(sample_ns(sample.timestamp_ms)) || is_stale_marker(sample.value) {
                continue;
            }
            if restarted[index] {
                sample.value = start_seconds;
                affected += 1;
            } else if targeted[index] && is_cumulative(&series[index]) {
                let (_, first) = state.first(series[index].hash, sample.timestamp_ms, sample.value);
                sample.value = (sample.value - first).max(0.0);
                affected += 1;
            }
        }
        affected
    })
}
