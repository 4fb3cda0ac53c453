//! Data anomalies applied to batches (the `inject_anomaly` stage).

use std::sync::Arc;

use super::Anomaly;
use crate::model::Batch;

/// Applies every anomaly in `anomalies` (all for the batch's tenant and signal, windows
/// overlapping the batch) to `batch`, pushing the result, and any batch it adds, onto `out`.
pub fn apply(batch: Batch, anomalies: &[Arc<Anomaly>], out: &mut Vec<Batch>) {
    let _ = anomalies;
    out.push(batch);
}
