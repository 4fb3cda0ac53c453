//! Memory that some anomalies keep across batches, keyed by anomaly id.
//!
//! Counters need the value of their first sample inside the window (M-LEVEL, M-FLAT, M-RESET,
//! M-STALE), point anomalies the samples they already chose (M-SPIKE, M-DIP), and T-LATE the
//! spans it holds back. Every entry is idempotent for a batch seen twice (it records the first
//! timestamp and value rather than "already done"), so applying an anomaly to the same batch
//! again gives the same output. Entries are dropped a day of virtual time after their window.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::anomaly::Anomaly;
use crate::model::traces::{Resource, Span};

/// How long after its window an anomaly's state is kept.
const GRACE_NS: i64 = 86_400_000_000_000;

/// The cross-batch memory of one anomaly.
#[derive(Debug, Default)]
pub(super) struct State {
    /// End of the anomaly's window when last seen.
    end_ns: i64,
    /// First in-window (timestamp, value) per series hash.
    first: HashMap<u64, (i64, f64)>,
    /// Timestamps chosen per series hash, ascending.
    chosen: HashMap<u64, Vec<i64>>,
    /// Spans held back, with their resources (T-LATE).
    pub held: Vec<(Span, Arc<Resource>)>,
}

impl State {
    /// The first in-window sample of `series`: `(timestamp, value)` as first seen.
    pub fn first(&mut self, series: u64, timestamp: i64, value: f64) -> (i64, f64) {
        *self.first.entry(series).or_insert((timestamp, value))
    }

    /// Whether the sample of `series` at `timestamp` is among the first `n` in the window.
    pub fn chosen(&mut self, series: u64, timestamp: i64, n: usize) -> bool {
        let list = self.chosen.entry(series).or_default();
        if list.contains(&timestamp) {
            return true;
        }
        if list.len() < n && list.last().is_none_or(|last| *last < timestamp) {
            list.push(timestamp);
            return true;
        }
        false
    }
}

fn states() -> MutexGuard<'static, HashMap<String, State>> {
    static STATES: OnceLock<Mutex<HashMap<String, State>>> = OnceLock::new();
    let lock = STATES.get_or_init(Mutex::default);
    // A panic elsewhere leaves the map consistent: every update is a single insert or push.
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `f` on the state of `anomaly`, first dropping states whose window ended more than a day
/// before `now_ns`.
pub(super) fn with<R>(anomaly: &Anomaly, now_ns: i64, f: impl FnOnce(&mut State) -> R) -> R {
    let mut states = states();
    states.retain(|_, state| state.end_ns.saturating_add(GRACE_NS) >= now_ns);
    let state = states.entry(anomaly.id.clone()).or_default();
    state.end_ns = anomaly.end_ns();
    f(state)
}

/// Forgets the state of an anomaly id (tests that apply one anomaly twice from scratch).
#[cfg(test)]
pub(super) fn forget(id: &str) {
    states().remove(id);
}
