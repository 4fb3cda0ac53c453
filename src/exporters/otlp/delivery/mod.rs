//! Delivery of OTLP requests: per-(tenant, signal) batching, size splitting, bounded queues,
//! concurrency and retry, over HTTP (reqwest) or gRPC (tonic's generated service clients).
//!
//! One task (the runner) owns every lane, a lane being one tenant's records of one signal. It
//! merges incoming batches into the lane's pending batch and seals it once it holds
//! `batch.max_records` records, once its oldest record is `batch.max_age` old, or when the input
//! closes. Sealing converts and encodes, splitting the records into several requests when the
//! encoded body would exceed `max_request_bytes` (before compression). Sealed requests wait in a
//! small per-lane queue; when it is full the newest records are dropped (`queue_full`). A lane
//! has at most one request in flight and at most `concurrency` lanes send at once, each request
//! in its own task that retries by WIRE.md §4.2 until done.
//!
//! Known shortcomings: like the `loki` exporter, a full lane queue always drops (the live-mode
//! rule), even in backfill. A partial success on metrics reports rejected OTLP data points, which
//! are not synthtel's flattened samples (a histogram point is many samples): the rejected sample
//! count is the reported share of the request's samples, rounded up. gRPC runs without TLS.
//!
//! `runner` owns the lanes and decides when to seal and send; `seal` encodes and splits
//! a lane's pending batch into requests; `send` delivers one request over HTTP with retries
//! and reads partial successes; `grpc` holds the gRPC clients, metadata and status details.

mod grpc;
mod runner;
mod seal;
mod send;

use crate::exporters::log_limiter::LogLimiter;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use reqwest::Url;
use reqwest::header::HeaderName;
use tonic::transport::Endpoint;

use super::{Compression, Protocol};
use crate::exporters::http::HttpClient;
use crate::exporters::retry::RetryConfig;
use crate::exporters::{Exporter, ExporterInput, ExporterTask};
use crate::model::{Signal, TenantId};
use crate::pipeline::stats::{Delivery, DropReason, RejectClass};

pub use grpc::retry_info_delay;
pub use seal::data_points;
pub use send::partial_success;

use grpc::grpc_metadata;
use runner::Runner;

/// Sealed requests a lane may have waiting behind its request in flight.
pub const LANE_QUEUE_REQUESTS: usize = 4;

/// Longest part of a response body or error message written to the log.
const LOGGED_BODY_BYTES: usize = 1024;

/// What a response means for the records of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The receiver took them (a partial success is read from the body).
    Accepted,
    /// The receiver refused them for good.
    Rejected(RejectClass),
    /// Try again after a backoff.
    Retry,
}

/// The verdict of an OTLP/HTTP status (WIRE.md §4.2): 2xx succeeds; only 429, 502, 503 and 504
/// are retried; every other 4xx and 5xx (400, 413, 500 included) is final.
pub fn classify_http(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Accepted,
        429 | 502 | 503 | 504 => Verdict::Retry,
        400..=499 => Verdict::Rejected(RejectClass::Client),
        500..=599 => Verdict::Rejected(RejectClass::Server),
        _ => Verdict::Rejected(RejectClass::Other),
    }
}

/// The verdict of an OTLP/gRPC status (WIRE.md §4.2): CANCELLED, DEADLINE_EXCEEDED, ABORTED,
/// OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retried, RESOURCE_EXHAUSTED only when the server
/// sent a `RetryInfo`; everything else is final.
pub fn classify_grpc(code: tonic::Code, has_retry_info: bool) -> Verdict {
    use tonic::Code;
    match code {
        Code::Ok => Verdict::Accepted,
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Verdict::Retry,
        Code::ResourceExhausted if has_retry_info => Verdict::Retry,
        Code::Unknown | Code::Internal => Verdict::Rejected(RejectClass::Server),
        _ => Verdict::Rejected(RejectClass::Client),
    }
}

/// Everything the exporter needs, validated by [`super::OtlpConfig::build`].
#[derive(Debug)]
pub(super) struct Settings {
    /// Per signal, by [`super::signal_slot`].
    pub urls: [Option<Url>; 3],
    pub protocol: Protocol,
    pub compression: Compression,
    pub tenant_header: HeaderName,
    pub concurrency: usize,
    pub max_records: usize,
    pub max_age: Duration,
    pub max_request_bytes: u64,
    pub retry: RetryConfig,
    pub timeout: Duration,
    pub http: HttpClient,
}

/// The running `otlp` exporter.
#[derive(Debug)]
pub struct OtlpExporter {
    settings: Settings,
}

impl OtlpExporter {
    pub(super) fn new(settings: Settings) -> Result<Self, String> {
        if settings.protocol == Protocol::Grpc {
            // Fail at start-up on what tonic refuses, rather than at the first request.
            for url in settings.urls.iter().flatten() {
                Endpoint::from_shared(url.to_string())
                    .map_err(|error| format!("endpoint {url}: {error}"))?;
            }
            grpc_metadata(&settings)?;
        }
        Ok(OtlpExporter { settings })
    }
}

impl Exporter for OtlpExporter {
    fn run(self: Box<Self>, input: ExporterInput) -> ExporterTask {
        Box::pin(async move {
            match Runner::new(self.settings, input) {
                Ok(runner) => runner.run().await,
                Err((mut input, error)) => {
                    tracing::error!(%error, "OTLP exporter cannot start; every record is dropped.");
                    while let Some(batch) = input.rx.recv().await {
                        let delivery = input.stats.delivery(batch.tenant(), batch.signal());
                        delivery.add_generated(batch.len() as u64);
                        delivery.add_dropped(DropReason::WriteFailed, batch.len() as u64);
                    }
                }
            }
        })
    }
}

/// The message of a gRPC request, kept whole so that a retry sends it again.
#[derive(Clone, Debug)]
pub enum GrpcMessage {
    /// Spans.
    Traces(ExportTraceServiceRequest),
    /// Metric points.
    Metrics(ExportMetricsServiceRequest),
    /// Log records.
    Logs(ExportLogsServiceRequest),
}

/// What one request carries on the wire.
#[derive(Clone, Debug)]
enum Payload {
    /// A finished (possibly gzipped) HTTP body.
    Http(Bytes),
    /// A gRPC message, compressed by tonic.
    Grpc(Arc<GrpcMessage>),
}

/// A sealed request of one lane.
struct Request {
    tenant: TenantId,
    signal: Signal,
    delivery: Arc<Delivery>,
    payload: Payload,
    /// Bytes of the body before compression.
    raw_bytes: u64,
    /// synthtel records (spans, log lines, flattened samples).
    records: u64,
    /// OTLP items (spans, log records, data points), the unit of partial success.
    items: u64,
}

type LaneKey = (TenantId, Signal);

#[cfg(test)]
mod tests;
