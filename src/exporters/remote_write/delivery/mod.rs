//! Delivery of remote-write requests: per-tenant sharding, batching, bounded queues and retry.
//!
//! One task (the runner) owns every tenant's state. Each tenant has `shards` shards, and each
//! series belongs to shard `hash % shards`. The runner appends incoming samples to their shard's
//! pending batch and seals a request when it holds `batch.max_samples` samples, when its oldest
//! sample is `batch.max_age` old, or when the input closes. Sealed requests wait in a small
//! per-shard queue; when it is full the newest request is dropped (`queue_full`), so memory
//! stays bounded whatever the receiver does. A shard has at most one request in flight, retried
//! until done before the next starts, so a series' samples reach the receiver in order; the
//! shards of a tenant, and all tenants, send in parallel.
//!
//! Known shortcomings: the exporter always drops when a shard's queue is full, which is the
//! live-mode rule; backfill should instead stop reading its input so that generation slows, but
//! [`ExporterInput`] does not say which mode runs yet. Requests in flight are bounded by tenants
//! times shards, with no global cap. Encoding runs on the runner task, so one exporter encodes on
//! one core at a time.
//!
//! `runner` owns the tenants and their shards and decides when to seal and send; `send`
//! delivers one request with retries and logs what the receiver answered.

mod runner;
mod send;

use crate::exporters::log_limiter::LogLimiter;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};

use super::encode::EncodeOptions;
use crate::exporters::http::HttpClient;
use crate::exporters::retry::RetryConfig;
use crate::exporters::{Exporter, ExporterInput, ExporterTask};
use crate::model::TenantId;
use crate::pipeline::stats::{Delivery, RejectClass};

use runner::Runner;

/// Sealed requests a shard may have waiting behind its request in flight.
pub const SHARD_QUEUE_REQUESTS: usize = 4;

/// Longest part of a response body written to the log.
const LOGGED_BODY_BYTES: usize = 1024;

/// `X-Prometheus-Remote-Write-Version`.
const VERSION_HEADER: HeaderName = HeaderName::from_static("x-prometheus-remote-write-version");

/// What a response means for the samples of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The receiver stored them.
    Accepted,
    /// The receiver refused them for good.
    Rejected(RejectClass),
    /// Try again after a backoff.
    Retry,
}

/// The verdict of a remote-write response status (WIRE.md §3.1): 2xx accepts; 5xx and 429 are
/// retried; any other 4xx is final, since a 400 may follow a partial write (out of order,
/// duplicate, out of bounds) and would fail again.
pub fn classify_status(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Accepted,
        429 | 500..=599 => Verdict::Retry,
        400..=499 => Verdict::Rejected(RejectClass::Client),
        _ => Verdict::Rejected(RejectClass::Other),
    }
}

/// Everything the exporter needs, validated by [`super::RemoteWriteConfig::build`].
#[derive(Debug)]
pub(super) struct Settings {
    pub endpoint: String,
    pub tenant_header: Option<HeaderName>,
    pub options: EncodeOptions,
    pub shards: usize,
    pub max_samples: usize,
    pub max_age: Duration,
    pub retry: RetryConfig,
    pub http: HttpClient,
}

/// The running `prometheus_remote_write` exporter.
#[derive(Debug)]
pub struct RemoteWriteExporter {
    settings: Settings,
}

impl RemoteWriteExporter {
    pub(super) fn new(settings: Settings) -> Self {
        RemoteWriteExporter { settings }
    }
}

impl Exporter for RemoteWriteExporter {
    fn run(self: Box<Self>, input: ExporterInput) -> ExporterTask {
        Box::pin(Runner::new(self.settings, input).run())
    }
}

/// Where a tenant's requests go: URL and tenant header value.
#[derive(Clone)]
struct Target {
    url: Url,
    tenant_header: Option<HeaderValue>,
}

/// A sealed request of one shard.
struct Request {
    tenant: TenantId,
    target: Target,
    delivery: Arc<Delivery>,
    body: Bytes,
    samples: u64,
}

/// A (tenant, shard) pair.
type ShardKey = (TenantId, usize);

#[cfg(test)]
mod tests;
