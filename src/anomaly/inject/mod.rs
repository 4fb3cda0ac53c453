//! Data anomalies applied to batches (the `inject_anomaly` stage).
//!
//! [`apply`] runs every data anomaly of a batch's tenant and signal over the batch, one after
//! the other, and dispatches by signal to [`logs`], [`metrics`] and [`traces`]. Each anomaly only
//! touches records whose timestamp lies inside its window and that match its [`Target`]; records
//! outside the window keep their bytes, and every random draw is keyed by the anomaly and by the
//! record it is made for (never by the record's position in the batch), so that injection is a
//! pure function of seed and data and the draws of one record never shift those of another.
//!
//! A few kinds need memory across batches (the first in-window value of a counter, the spans a
//! late trace holds back); that lives in [`state`], keyed by anomaly id.
//!
//! [`Target`]: super::Target

mod log_lines;
mod logs;
mod metric_series;
mod metrics;
mod state;
mod traces;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_logs;
#[cfg(test)]
mod tests_metrics;
#[cfg(test)]
mod tests_traces;

use std::sync::Arc;

use super::{Anomaly, Layer};
use crate::model::Batch;
use crate::random::{Rng, mix64};

/// Applies every anomaly in `anomalies` (all for the batch's tenant and signal, windows
/// overlapping the batch) to `batch`, pushing the result, and any batch it adds, onto `out`.
///
/// World-layer kinds are skipped: the `simulation` source applies them.
pub fn apply(batch: Batch, anomalies: &[Arc<Anomaly>], out: &mut Vec<Batch>) {
    let mut batch = batch;
    let signal = batch.signal();
    for anomaly in anomalies {
        if anomaly.kind.layer() != Layer::Data || anomaly.kind.signal() != signal {
            continue;
        }
        match &mut batch {
            Batch::Logs(logs) => logs::apply(logs, anomaly),
            Batch::Metrics(metrics) => metrics::apply(metrics, anomaly),
            Batch::Traces(spans) => traces::apply(spans, anomaly),
        }
    }
    out.push(batch);
}

/// Whether a record described by `get` (label or attribute lookup) matches the anomaly's
/// service, instance and label equalities; `service_keys` and `instance_keys` name where the
/// service and the instance are found, first present wins.
fn matches_target<'a>(
    anomaly: &Anomaly,
    get: impl Fn(&str) -> Option<&'a str>,
    service_keys: &[&str],
    instance_keys: &[&str],
) -> bool {
    let target = &anomaly.target;
    let first = |keys: &[&str]| keys.iter().find_map(|key| get(key));
    if let Some(service) = &target.service
        && first(service_keys) != Some(service.as_str())
    {
        return false;
    }
    if let Some(instance) = &target.instance
        && first(instance_keys) != Some(instance.as_str())
    {
        return false;
    }
    target
        .labels
        .iter()
        .all(|(name, value)| get(name) == Some(value.as_str()))
}

/// The generator of one record's draws: keyed by the anomaly, a purpose and the record's
/// identity, so that no draw depends on another record.
fn record_rng(anomaly: &Anomaly, purpose: &str, identity: u64) -> Rng {
    anomaly.key(purpose).with_u64(identity).rng()
}

/// A 64-bit identity from bytes (FNV-1a, mixed), for keying draws by record content.
fn bytes_identity(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(hash)
}

/// A share parameter scaled by intensity: the probability that one record is affected.
fn share_at(anomaly: &Anomaly, default: f64, t_ns: i64) -> f64 {
    anomaly.params.share_or(default) * anomaly.intensity(t_ns)
}
