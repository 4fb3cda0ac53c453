//! Scrapes of a target whose tenant has live metric anomalies.
//!
//! Values of a scrape target are computed at scrape time, so anomalies cannot be applied to a
//! stream of batches as they are for pushed samples. Instead, while an anomaly of the target's
//! tenant is live, the scrape is materialized into a batch (identity labels included, so target
//! selectors match as they do for pushed series), the same injectors change it, and the result
//! is replayed into the renderer without the identity labels, which service discovery provides.
//! Series whose value is a staleness marker are left out: on a scrape endpoint a vanished
//! series is simply absent. Timestamp shifts (M-SKEW, M-OOO) cannot show in an exposition
//! without timestamps and act on pushed samples only.

use std::collections::HashSet;
use std::sync::Arc;

use crate::anomaly::{Anomaly, inject};
use crate::model::Batch;
use crate::model::metrics::{SampleSink, TargetSet, is_stale_marker};
use crate::sources::materialize::{Materializer, PendingBatch};

/// Writes target `index` of `set` at `now_ms`, changed by `anomalies`, to `sink`.
pub(super) fn visit(
    set: &dyn TargetSet,
    index: usize,
    now_ms: i64,
    anomalies: &[Arc<Anomaly>],
    sink: &mut dyn SampleSink,
) {
    let Some(target) = set.targets().get(index) else {
        return;
    };
    let mut pending = PendingBatch::new(Arc::clone(&target.tenant));
    Materializer::default().sample_target(set, index, now_ms, &mut pending);
    let mut out = Vec::new();
    inject::apply(Batch::Metrics(pending.batch), anomalies, &mut out);
    let identity: HashSet<&str> = ["job", "instance"]
        .into_iter()
        .chain(target.labels.iter().map(|(name, _)| name.as_str()))
        .collect();
    for batch in out {
        let Batch::Metrics(batch) = batch else {
            continue;
        };
        // One family's samples together, in the order the target wrote them.
        let mut order: Vec<usize> = (0..batch.samples.len()).collect();
        order.sort_by(|&a, &b| {
            let family = |i: usize| {
                let series = batch.samples[i].series as usize;
                batch.series.get(series).map(|s| s.family.name.as_str())
            };
            family(a).cmp(&family(b))
        });
        let mut current: Option<&str> = None;
        let mut labels: Vec<(&str, &str)> = Vec::new();
        for i in order {
            let sample = &batch.samples[i];
            let Some(series) = batch.series.get(sample.series as usize) else {
                continue;
            };
            if is_stale_marker(sample.value) {
                continue;
            }
            if current != Some(series.family.name.as_str()) {
                sink.family(&series.family);
                current = Some(series.family.name.as_str());
            }
            labels.clear();
            labels.extend(
                series
                    .labels
                    .iter()
                    .filter(|(name, _)| !identity.contains(&**name))
                    .map(|(name, value)| (&**name, &**value)),
            );
            labels.sort_by(|a, b| a.0.cmp(b.0));
            sink.sample(
                &series.name,
                &labels,
                sample.value,
                sample.exemplar.as_ref(),
            );
        }
    }
}
