//! Retry timing shared by the HTTP exporters: full-jitter exponential backoff, capped in total
//! time, that honours a receiver's `Retry-After` (RFC 9110 §10.2.3, seconds or HTTP-date).
//!
//! Which failures are retryable is each exporter's decision (WIRE.md, per protocol); this module
//! only says how long to wait before the next attempt, and when to give up.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::time::Instant;

use crate::config::Problem;
use crate::config::de;
use crate::random::Rng;

/// `retry` table of an HTTP exporter.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Upper bound of the first wait (full jitter draws between zero and it); doubles per retry.
    #[serde(default = "default_initial_backoff", deserialize_with = "de::duration")]
    pub initial_backoff: Duration,
    /// Upper bound of any single wait computed by backoff.
    #[serde(default = "default_max_backoff", deserialize_with = "de::duration")]
    pub max_backoff: Duration,
    /// Total time after the first attempt during which retries may start; then the request is
    /// dropped as `retries_exhausted`.
    #[serde(default = "default_max_elapsed", deserialize_with = "de::duration")]
    pub max_elapsed: Duration,
}

fn default_initial_backoff() -> Duration {
    Duration::from_millis(100)
}

fn default_max_backoff() -> Duration {
    Duration::from_secs(5)
}

fn default_max_elapsed() -> Duration {
    Duration::from_secs(30)
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            max_elapsed: default_max_elapsed(),
        }
    }
}

impl RetryConfig {
    /// Problems found without building; keys are prefixed with `prefix` (e.g. `retry`).
    pub fn validate(&self, prefix: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.initial_backoff.is_zero() {
            problems.push(Problem::new(
                format!("{prefix}.initial_backoff"),
                "must be positive",
            ));
        }
        if self.max_backoff < self.initial_backoff {
            problems.push(Problem::new(
                format!("{prefix}.max_backoff"),
                format!(
                    "{} is below initial_backoff {}",
                    humantime::format_duration(self.max_backoff),
                    humantime::format_duration(self.initial_backoff)
                ),
            ));
        }
        problems
    }
}

/// The retry state of one request: how many attempts failed and when the first one started.
#[derive(Debug)]
pub struct Backoff {
    config: RetryConfig,
    started: Instant,
    retries: u32,
    rng: Rng,
}

impl Backoff {
    /// Starts the clock for a request whose first attempt begins now; `seed` drives the jitter.
    pub fn new(config: &RetryConfig, seed: u64) -> Self {
        Backoff {
            config: config.clone(),
            started: Instant::now(),
            retries: 0,
            rng: Rng::from_seed(seed),
        }
    }

    /// Retries granted so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The wait before the next attempt, or `None` once `max_elapsed` is used up.
    ///
    /// `retry_after` (from the receiver) replaces the jittered backoff; either is cut to the time
    /// that remains, so a request never outlives its budget.
    pub fn next_wait(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        let elapsed = self.started.elapsed();
        let remaining = self
            .config
            .max_elapsed
            .checked_sub(elapsed)
            .filter(|d| !d.is_zero())?;
        let wait = retry_after.unwrap_or_else(|| self.jittered());
        self.retries = self.retries.saturating_add(1);
        Some(wait.min(remaining))
    }

    /// Full jitter: uniform in `[0, min(max_backoff, initial_backoff * 2^retries)]`.
    fn jittered(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.retries.min(31)).unwrap_or(u32::MAX);
        let ceiling = self
            .config
            .initial_backoff
            .saturating_mul(factor)
            .min(self.config.max_backoff);
        ceiling.mul_f64(self.rng.f64())
    }
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP-date measured from `now` (a date in
/// the past means no wait). Anything else is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RetryConfig {
        RetryConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_elapsed: Duration::from_secs(5),
        }
    }

    #[test]
    fn parses_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_grow_with_full_jitter_up_to_the_cap() {
        let mut backoff = Backoff::new(&config(), 7);
        let mut waits = Vec::new();
        for retry in 0..8u32 {
            let wait = backoff.next_wait(None).expect("within budget");
            let ceiling = Duration::from_millis(100 * (1 << retry)).min(Duration::from_secs(1));
            assert!(wait <= ceiling, "retry {retry}: {wait:?} > {ceiling:?}");
            waits.push(wait);
        }
        assert!(
            waits.iter().any(|w| *w > Duration::from_millis(200)),
            "{waits:?}"
        );
        assert_eq!(backoff.retries(), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_once_max_elapsed_has_passed() {
        let mut backoff = Backoff::new(&config(), 1);
        tokio::time::advance(Duration::from_millis(4_900)).await;
        let wait = backoff
            .next_wait(Some(Duration::from_secs(3)))
            .expect("100ms left");
        assert_eq!(
            wait,
            Duration::from_millis(100),
            "Retry-After is cut to what remains"
        );
        tokio::time::advance(wait).await;
        assert_eq!(backoff.next_wait(None), None);
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_within_budget() {
        let mut backoff = Backoff::new(&config(), 1);
        let wait = backoff
            .next_wait(Some(Duration::from_secs(2)))
            .expect("in budget");
        assert_eq!(
            wait,
            Duration::from_secs(2),
            "Retry-After may exceed max_backoff"
        );
    }

    #[test]
    fn rejects_a_cap_below_the_first_wait() {
        let config = RetryConfig {
            max_backoff: Duration::from_millis(10),
            ..config()
        };
        let problems = config.validate("retry");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "retry.max_backoff");
    }
}
