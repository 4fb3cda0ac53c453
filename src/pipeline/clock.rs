//! The virtual clock: integer nanoseconds since the Unix epoch.
//!
//! Live mode maps virtual time onto the wall clock. The clock is read only by the runtime to
//! decide which window to generate next; value generation never reads it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where virtual time comes from.
#[derive(Clone, Debug)]
pub enum Clock {
    /// Virtual time is wall-clock time.
    Live,
}

impl Clock {
    /// The current virtual time in Unix nanoseconds.
    pub fn now_ns(&self) -> i64 {
        match self {
            Clock::Live => wall_now_ns(),
        }
    }

    /// How long to wait until virtual time reaches `target_ns` (zero if it has).
    pub fn until(&self, target_ns: i64) -> Duration {
        let now = self.now_ns();
        if target_ns <= now {
            Duration::ZERO
        } else {
            Duration::from_nanos((target_ns - now) as u64)
        }
    }
}

/// The wall clock in Unix nanoseconds.
pub fn wall_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
