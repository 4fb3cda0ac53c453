//! Rate-limited logging for exporters: a backend that fails every request must not flood
//! synthtel's own log, so each kind of message is written at most once per interval, with the
//! number held back since the last one. Time is tokio's, so tests with a paused clock can step
//! past the interval.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How often one kind of exporter message may be logged.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Lets one log through per [`LOG_INTERVAL`], counting the ones held back.
#[derive(Debug)]
pub struct LogLimiter {
    next: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter::new()
    }
}

impl LogLimiter {
    /// A limiter that lets the first log through.
    pub fn new() -> Self {
        LogLimiter {
            next: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(held back since the last log)` when a log may be written now.
    pub fn allow(&self) -> Option<u64> {
        let now = Instant::now();
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if next.is_some_and(|next| now < next) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *next = Some(now + LOG_INTERVAL);
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}
