//! The shared set of anomalies, read by sources and pipelines on every batch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use super::{Anomaly, Layer};
use crate::model::Signal;

/// How long an anomaly stays in the registry after its window ends: long enough for lagging
/// sources (the simulation runs 10 s behind the clock) and late batches.
const KEEP_AFTER_END_NS: i64 = 5 * 60 * 1_000_000_000;

/// Every live anomaly. Cheap to consult when empty, which is the common case.
#[derive(Debug, Default)]
pub struct Registry {
    anomalies: RwLock<Vec<Arc<Anomaly>>>,
    len: AtomicUsize,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Arc<Registry> {
        Arc::new(Registry::default())
    }

    /// Adds `anomaly`; returns the shared handle.
    pub fn add(&self, anomaly: Anomaly) -> Arc<Anomaly> {
        let anomaly = Arc::new(anomaly);
        if let Ok(mut anomalies) = self.anomalies.write() {
            anomalies.push(Arc::clone(&anomaly));
            self.len.store(anomalies.len(), Ordering::Release);
        }
        anomaly
    }

    /// Whether no anomaly is registered.
    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }

    /// Anomalies of `layer` for `tenant` whose window overlaps `[start_ns, end_ns)` and that show
    /// in `signal` (world anomalies show in every signal).
    pub fn matching(
        &self,
        tenant: &str,
        signal: Signal,
        layer: Layer,
        start_ns: i64,
        end_ns: i64,
    ) -> Vec<Arc<Anomaly>> {
        if self.is_empty() {
            return Vec::new();
        }
        let Ok(anomalies) = self.anomalies.read() else {
            return Vec::new();
        };
        anomalies
            .iter()
            .filter(|a| {
                &*a.tenant == tenant
                    && a.kind.layer() == layer
                    && (layer == Layer::World || a.kind.signal() == signal)
                    && a.overlaps(start_ns, end_ns)
            })
            .cloned()
            .collect()
    }

    /// Whether an anomaly whose id starts with `prefix` is registered.
    pub fn contains_prefix(&self, prefix: &str) -> bool {
        self.anomalies
            .read()
            .is_ok_and(|anomalies| anomalies.iter().any(|a| a.id.starts_with(prefix)))
    }

    /// Ends every anomaly whose id starts with `prefix` at `at_ns`; returns how many.
    pub fn cut(&self, prefix: &str, at_ns: i64) -> usize {
        let Ok(anomalies) = self.anomalies.read() else {
            return 0;
        };
        let mut count = 0;
        for anomaly in anomalies.iter().filter(|a| a.id.starts_with(prefix)) {
            anomaly.cut(at_ns);
            count += 1;
        }
        count
    }

    /// Forgets anomalies that ended well before `now_ns`.
    pub fn prune(&self, now_ns: i64) {
        if self.is_empty() {
            return;
        }
        if let Ok(mut anomalies) = self.anomalies.write() {
            anomalies.retain(|a| a.end_ns() + KEEP_AFTER_END_NS > now_ns);
            self.len.store(anomalies.len(), Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::{Kind, Params, Shape, Target};

    fn anomaly(id: &str, kind: Kind, tenant: &str, start: i64, end: i64) -> Anomaly {
        Anomaly::new(
            id.into(),
            kind,
            tenant.into(),
            Target::default(),
            start,
            end,
            Shape::Step,
            Params::default(),
            7,
        )
    }

    #[test]
    fn matches_by_tenant_signal_layer_and_window() {
        let registry = Registry::new();
        assert!(registry.is_empty());
        registry.add(anomaly("b1-0", Kind::MLevel, "acme", 100, 200));
        registry.add(anomaly("b1-1", Kind::TLat, "acme", 100, 200));
        registry.add(anomaly("b2-0", Kind::LHuge, "globex", 100, 200));
        let hits = registry.matching("acme", Signal::Metrics, Layer::Data, 150, 160);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].kind, Kind::MLevel);
        assert!(
            registry
                .matching("acme", Signal::Logs, Layer::Data, 150, 160)
                .is_empty()
        );
        assert!(
            registry
                .matching("acme", Signal::Metrics, Layer::Data, 200, 300)
                .is_empty()
        );
        assert_eq!(
            registry
                .matching("acme", Signal::Logs, Layer::World, 0, 101)
                .len(),
            1
        );
        assert_eq!(registry.cut("b1-", 120), 2);
        assert!(
            registry
                .matching("acme", Signal::Metrics, Layer::Data, 130, 160)
                .is_empty()
        );
        registry.prune(10 * KEEP_AFTER_END_NS);
        assert!(registry.is_empty());
    }
}
