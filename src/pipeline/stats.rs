//! Delivery counters: what every component generated, sent, delivered, rejected and dropped.
//!
//! Counters are kept per component and per (tenant, signal), as plain atomics, so the hot path
//! only performs relaxed additions. The admin API and `/metrics` read snapshots.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::model::{Signal, TenantId};

/// Why records were dropped. Every record is either delivered or counted under one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A bounded queue was full in live mode; the newest batch was dropped.
    QueueFull,
    /// Retries ran out of time or attempts.
    RetriesExhausted,
    /// The daemon stopped before the records could be sent.
    Shutdown,
    /// A single record or request was larger than the destination accepts.
    TooLarge,
    /// The records could not be encoded or written.
    WriteFailed,
    /// A processor chose not to keep them (sampling, filtering).
    Filtered,
}

impl DropReason {
    /// Every reason, in a stable order.
    pub const ALL: [DropReason; 6] = [
        DropReason::QueueFull,
        DropReason::RetriesExhausted,
        DropReason::Shutdown,
        DropReason::TooLarge,
        DropReason::WriteFailed,
        DropReason::Filtered,
    ];

    /// The snake_case name used in APIs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::Shutdown => "shutdown",
            DropReason::TooLarge => "too_large",
            DropReason::WriteFailed => "write_failed",
            DropReason::Filtered => "filtered",
        }
    }
}

/// Class of a final, non-retried rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectClass {
    /// HTTP 4xx or an equivalent gRPC status.
    Client,
    /// HTTP 5xx or an equivalent gRPC status.
    Server,
    /// Anything else (a partial success, a 2xx that is not a success, an unexpected code).
    Other,
}

/// Counters of one component for one (tenant, signal).
#[derive(Debug, Default)]
pub struct Delivery {
    generated: AtomicU64,
    sent: AtomicU64,
    accepted: AtomicU64,
    rejected_4xx: AtomicU64,
    rejected_5xx: AtomicU64,
    rejected_other: AtomicU64,
    retried: AtomicU64,
    requests: AtomicU64,
    bytes_sent: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
}

impl Delivery {
    /// Records produced by a source (or received by an exporter).
    pub fn add_generated(&self, n: u64) {
        self.generated.fetch_add(n, Ordering::Relaxed);
    }

    /// Records handed to the destination for the first time.
    pub fn add_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// Records the destination confirmed.
    pub fn add_accepted(&self, n: u64) {
        self.accepted.fetch_add(n, Ordering::Relaxed);
    }

    /// Records the destination refused for good.
    pub fn add_rejected(&self, class: RejectClass, n: u64) {
        let counter = match class {
            RejectClass::Client => &self.rejected_4xx,
            RejectClass::Server => &self.rejected_5xx,
            RejectClass::Other => &self.rejected_other,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records sent again after a retryable failure.
    pub fn add_retried(&self, n: u64) {
        self.retried.fetch_add(n, Ordering::Relaxed);
    }

    /// One request (or write) of `bytes` bytes.
    pub fn add_request(&self, bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records given up, with the reason.
    pub fn add_dropped(&self, reason: DropReason, n: u64) {
        self.dropped[reason as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// A consistent-enough copy of the counters.
    pub fn snapshot(&self) -> DeliverySnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let dropped = DropReason::ALL
            .iter()
            .map(|reason| (reason.as_str(), load(&self.dropped[*reason as usize])))
            .filter(|(_, n)| *n > 0)
            .collect();
        DeliverySnapshot {
            generated: load(&self.generated),
            sent: load(&self.sent),
            accepted: load(&self.accepted),
            rejected: Rejected {
                client_4xx: load(&self.rejected_4xx),
                server_5xx: load(&self.rejected_5xx),
                other: load(&self.rejected_other),
            },
            retried: load(&self.retried),
            requests: load(&self.requests),
            bytes_sent: load(&self.bytes_sent),
            dropped,
        }
    }
}

/// Rejections by status class.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Rejected {
    /// Refused with a 4xx (or equivalent).
    #[serde(rename = "4xx")]
    pub client_4xx: u64,
    /// Refused with a 5xx (or equivalent) that is not retried.
    #[serde(rename = "5xx")]
    pub server_5xx: u64,
    /// Refused otherwise (partial success, unexpected status).
    pub other: u64,
}

/// A copy of a [`Delivery`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeliverySnapshot {
    /// Records generated (sources) or received (processors and exporters).
    pub generated: u64,
    /// Records put into a first request or write.
    pub sent: u64,
    /// Records the destination accepted.
    pub accepted: u64,
    /// Records refused for good, by status class.
    pub rejected: Rejected,
    /// Records sent again after a retryable failure (once per retry).
    pub retried: u64,
    /// Requests or writes made.
    pub requests: u64,
    /// Bytes put on the wire (after compression).
    pub bytes_sent: u64,
    /// Records dropped, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
}

impl DeliverySnapshot {
    /// Total records dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

/// The counters of one component.
#[derive(Debug)]
pub struct ComponentStats {
    id: String,
    kind: &'static str,
    component_type: &'static str,
    per_tenant: Mutex<BTreeMap<(TenantId, Signal), Arc<Delivery>>>,
    queue_depth: AtomicI64,
    queue_capacity: AtomicI64,
}

impl ComponentStats {
    /// The component's id in the configuration.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `source`, `processor`, `exporter` or `pipeline`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The component's `type` (`logs`, `loki`, …).
    pub fn component_type(&self) -> &'static str {
        self.component_type
    }

    /// The counters for one tenant and signal, created on first use.
    pub fn delivery(&self, tenant: &TenantId, signal: Signal) -> Arc<Delivery> {
        let mut map = self
            .per_tenant
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        Arc::clone(map.entry((Arc::clone(tenant), signal)).or_default())
    }

    /// Sets the number of batches waiting in the component's input queue.
    pub fn set_queue(&self, depth: usize, capacity: usize) {
        self.queue_depth.store(depth as i64, Ordering::Relaxed);
        self.queue_capacity
            .store(capacity as i64, Ordering::Relaxed);
    }

    /// Batches waiting in the input queue, and its capacity.
    pub fn queue(&self) -> (i64, i64) {
        (
            self.queue_depth.load(Ordering::Relaxed),
            self.queue_capacity.load(Ordering::Relaxed),
        )
    }

    /// Snapshots of every (tenant, signal).
    pub fn snapshot(&self) -> Vec<(TenantId, Signal, DeliverySnapshot)> {
        let map = self
            .per_tenant
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        map.iter()
            .map(|((tenant, signal), delivery)| (Arc::clone(tenant), *signal, delivery.snapshot()))
            .collect()
    }

    /// The sum over tenants and signals.
    pub fn total(&self) -> DeliverySnapshot {
        let mut total = DeliverySnapshot::default();
        for (_, _, s) in self.snapshot() {
            total.generated += s.generated;
            total.sent += s.sent;
            total.accepted += s.accepted;
            total.rejected.client_4xx += s.rejected.client_4xx;
            total.rejected.server_5xx += s.rejected.server_5xx;
            total.rejected.other += s.rejected.other;
            total.retried += s.retried;
            total.requests += s.requests;
            total.bytes_sent += s.bytes_sent;
            for (reason, n) in s.dropped {
                *total.dropped.entry(reason).or_default() += n;
            }
        }
        total
    }
}

/// Every component's counters, shared by the runtime, the admin API and the exporters.
#[derive(Debug, Default)]
pub struct Stats {
    components: Mutex<Vec<Arc<ComponentStats>>>,
}

impl Stats {
    /// A new, empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Stats::default())
    }

    /// Registers a component (or returns the existing entry with the same kind and id).
    pub fn component(
        &self,
        kind: &'static str,
        id: &str,
        component_type: &'static str,
    ) -> Arc<ComponentStats> {
        let mut components = self
            .components
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(existing) = components.iter().find(|c| c.kind == kind && c.id == id) {
            return Arc::clone(existing);
        }
        let stats = Arc::new(ComponentStats {
            id: id.to_string(),
            kind,
            component_type,
            per_tenant: Mutex::default(),
            queue_depth: AtomicI64::new(0),
            queue_capacity: AtomicI64::new(0),
        });
        components.push(Arc::clone(&stats));
        stats
    }

    /// Counters for a component that is not registered (a burst's own exporters).
    pub fn detached(
        kind: &'static str,
        id: &str,
        component_type: &'static str,
    ) -> Arc<ComponentStats> {
        Arc::new(ComponentStats {
            id: id.to_string(),
            kind,
            component_type,
            per_tenant: Mutex::default(),
            queue_depth: AtomicI64::new(0),
            queue_capacity: AtomicI64::new(0),
        })
    }

    /// Every registered component, in registration order.
    pub fn components(&self) -> Vec<Arc<ComponentStats>> {
        self.components
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_tenant_and_totals() {
        let stats = Stats::new();
        let loki = stats.component("exporter", "loki", "loki");
        let acme: TenantId = "acme".into();
        let globex: TenantId = "globex".into();
        loki.delivery(&acme, Signal::Logs).add_accepted(3);
        loki.delivery(&globex, Signal::Logs).add_accepted(2);
        loki.delivery(&globex, Signal::Logs)
            .add_dropped(DropReason::QueueFull, 5);
        let total = loki.total();
        assert_eq!(total.accepted, 5);
        assert_eq!(total.dropped.get("queue_full"), Some(&5));
        assert!(Arc::ptr_eq(
            &loki,
            &stats.component("exporter", "loki", "loki")
        ));
    }
}
