//! Turning a [`TargetSet`]'s streamed samples into [`MetricBatch`]es for push exporters.
//!
//! Pushed series carry the target's identity labels (`job`, `instance` and the target's extra
//! labels), which scrapes get from service discovery instead. Series are built once per target
//! and shared by every batch that samples them again.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::TenantId;
use crate::model::metrics::{
    Exemplar, Family, LabelPair, MetricBatch, MetricSample, SampleSink, Series, Target, TargetSet,
    series_hash,
};

/// A batch being filled, with the position of each (target, cached series) in it.
pub struct PendingBatch {
    /// The batch.
    pub batch: MetricBatch,
    positions: HashMap<(usize, u32), u32>,
}

impl PendingBatch {
    /// An empty batch for `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        PendingBatch {
            batch: MetricBatch::new(tenant),
            positions: HashMap::new(),
        }
    }
}

#[derive(Default)]
struct SeriesCache {
    by_key: HashMap<u64, u32>,
    series: Vec<Arc<Series>>,
}

/// Series caches of every target sampled so far.
#[derive(Default)]
pub struct Materializer {
    caches: HashMap<usize, SeriesCache>,
}

impl Materializer {
    /// Samples target `index` of `set` at `timestamp_ms` into `pending`.
    pub fn sample_target(
        &mut self,
        set: &dyn TargetSet,
        index: usize,
        timestamp_ms: i64,
        pending: &mut PendingBatch,
    ) {
        let Some(target) = set.targets().get(index) else {
            return;
        };
        let mut sink = BatchSink {
            cache: self.caches.entry(index).or_default(),
            batch: &mut pending.batch,
            positions: &mut pending.positions,
            target: index,
            timestamp_ms,
            family: None,
            target_labels: target_labels(target),
        };
        set.visit(index, timestamp_ms, &mut sink);
    }
}

/// The identity labels a pushed series carries.
fn target_labels(target: &Target) -> Vec<LabelPair> {
    let mut labels: Vec<LabelPair> = vec![
        (Arc::from("job"), Arc::from(target.job.as_str())),
        (Arc::from("instance"), Arc::from(target.instance.as_str())),
    ];
    for (name, value) in &target.labels {
        labels.push((Arc::from(name.as_str()), Arc::from(value.as_str())));
    }
    labels
}

struct BatchSink<'a> {
    cache: &'a mut SeriesCache,
    batch: &'a mut MetricBatch,
    positions: &'a mut HashMap<(usize, u32), u32>,
    target: usize,
    timestamp_ms: i64,
    family: Option<Arc<Family>>,
    target_labels: Vec<LabelPair>,
}

impl SampleSink for BatchSink<'_> {
    fn family(&mut self, family: &Family) {
        if self.family.as_deref() != Some(family) {
            self.family = Some(Arc::new(family.clone()));
        }
    }

    fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: f64,
        exemplar: Option<&Exemplar>,
    ) {
        let key = series_hash(name, labels.iter().copied());
        let index = match self.cache.by_key.get(&key) {
            Some(index) => *index,
            None => {
                let Some(family) = &self.family else { return };
                let mut pairs = self.target_labels.clone();
                pairs.extend(labels.iter().map(|(n, v)| (Arc::from(*n), Arc::from(*v))));
                let series = Arc::new(Series::new(name, pairs, Arc::clone(family)));
                self.cache.series.push(series);
                let index = (self.cache.series.len() - 1) as u32;
                self.cache.by_key.insert(key, index);
                index
            }
        };
        let series = &self.cache.series[index as usize];
        let batch = &mut *self.batch;
        let position = *self
            .positions
            .entry((self.target, index))
            .or_insert_with(|| {
                batch.series.push(Arc::clone(series));
                (batch.series.len() - 1) as u32
            });
        self.batch.samples.push(MetricSample {
            series: position,
            timestamp_ms: self.timestamp_ms,
            value,
            exemplar: exemplar.copied(),
        });
    }
}
