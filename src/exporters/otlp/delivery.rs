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

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use reqwest::Url;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use tokio::task::{self, JoinError, JoinSet};
use tokio::time::Instant;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use super::convert::{self, StartTimes};
use super::encode::SpanEncoder;
use super::{Compression, Protocol, signal_slot};
use crate::exporters::http::HttpClient;
use crate::exporters::retry::{Backoff, RetryConfig, parse_retry_after};
use crate::exporters::{Exporter, ExporterInput, ExporterTask, StopSignal};
use crate::model::metrics::MetricKind;
use crate::model::{Batch, LogBatch, MetricBatch, Signal, SpanBatch, TenantId};
use crate::pipeline::stats::{Delivery, DropReason, RejectClass};
use crate::random::mix64;

/// Sealed requests a lane may have waiting behind its request in flight.
pub const LANE_QUEUE_REQUESTS: usize = 4;

/// Longest part of a response body or error message written to the log.
const LOGGED_BODY_BYTES: usize = 1024;

/// Shortest time between two logs of the same kind of failure.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

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

/// A request that got no HTTP response: connection errors and timeouts are retried; one that
/// could not even be built never will be.
fn classify_reqwest_error(error: &reqwest::Error) -> Verdict {
    if error.is_builder() {
        Verdict::Rejected(RejectClass::Other)
    } else {
        Verdict::Retry
    }
}

/// Everything the exporter needs, validated by [`super::OtlpConfig::build`].
#[derive(Debug)]
pub(super) struct Settings {
    /// Per signal, by [`signal_slot`].
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

/// Per-(tenant, signal) state, owned by the runner.
struct Lane {
    delivery: Arc<Delivery>,
    pending: Option<Batch>,
    oldest: Option<Instant>,
    queue: VecDeque<Request>,
    in_flight: bool,
    scheduled: bool,
    starts: StartTimes,
}

/// The gRPC clients of the signals that have an endpoint.
#[derive(Clone)]
struct GrpcClients {
    traces: Option<TraceServiceClient<Channel>>,
    metrics: Option<MetricsServiceClient<Channel>>,
    logs: Option<LogsServiceClient<Channel>>,
    metadata: MetadataMap,
    tenant_key: MetadataKey<tonic::metadata::Ascii>,
}

/// What the sending tasks share.
struct Sender {
    protocol: Protocol,
    urls: [Option<Url>; 3],
    tenant_header: HeaderName,
    gzip: bool,
    retry: RetryConfig,
    http: HttpClient,
    grpc: Option<GrpcClients>,
    sequence: AtomicU64,
    retry_log: LogLimiter,
    reject_log: LogLimiter,
    partial_log: LogLimiter,
    exhausted_log: LogLimiter,
}

/// Turns pending batches into requests.
struct Sealer {
    protocol: Protocol,
    gzip: bool,
    max_request_bytes: usize,
    spans: SpanEncoder,
    too_large_log: LogLimiter,
}

struct Runner {
    sender: Arc<Sender>,
    sealer: Sealer,
    concurrency: usize,
    max_records: usize,
    max_age: Duration,
    lanes: HashMap<LaneKey, Lane>,
    ready: VecDeque<LaneKey>,
    tasks: JoinSet<LaneKey>,
    task_lanes: HashMap<task::Id, LaneKey>,
    input: ExporterInput,
    queue_full_log: LogLimiter,
}

/// Extra headers and auth of the `http` table as gRPC metadata, plus the tenant key.
fn grpc_metadata(
    settings: &Settings,
) -> Result<(MetadataMap, MetadataKey<tonic::metadata::Ascii>), String> {
    // The `http` table keeps its headers private; a request it decorates shows them.
    let probe = settings
        .http
        .apply(settings.http.client().post("http://127.0.0.1/"))
        .build()
        .map_err(|error| format!("http: {error}"))?;
    let mut metadata = MetadataMap::new();
    for (name, value) in probe.headers() {
        let key = MetadataKey::from_bytes(name.as_str().as_bytes())
            .map_err(|error| format!("http.headers.{name}: {error}"))?;
        let value = MetadataValue::try_from(value.as_bytes())
            .map_err(|error| format!("http.headers.{name}: {error}"))?;
        metadata.insert(key, value);
    }
    let tenant_key = MetadataKey::from_bytes(
        settings
            .tenant_header
            .as_str()
            .to_ascii_lowercase()
            .as_bytes(),
    )
    .map_err(|error| format!("tenant_header: {error}"))?;
    Ok((metadata, tenant_key))
}

/// A gRPC request carrying the configured metadata and the tenant.
fn grpc_request<T>(
    message: T,
    metadata: &MetadataMap,
    tenant_key: &MetadataKey<tonic::metadata::Ascii>,
    tenant: MetadataValue<tonic::metadata::Ascii>,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    *request.metadata_mut() = metadata.clone();
    request.metadata_mut().insert(tenant_key.clone(), tenant);
    request
}

fn grpc_clients(settings: &Settings) -> Result<GrpcClients, String> {
    let (metadata, tenant_key) = grpc_metadata(settings)?;
    let channel = |signal: Signal| -> Result<Option<Channel>, String> {
        let Some(url) = &settings.urls[signal_slot(signal)] else {
            return Ok(None);
        };
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|error| format!("endpoint {url}: {error}"))?
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("synthtel/", env!("CARGO_PKG_VERSION")))
            .map_err(|error| error.to_string())?;
        Ok(Some(endpoint.connect_lazy()))
    };
    let gzip = settings.compression == Compression::Gzip;
    macro_rules! client {
        ($client:ident, $signal:expr) => {
            channel($signal)?.map(|channel| {
                let client = $client::new(channel).accept_compressed(CompressionEncoding::Gzip);
                if gzip {
                    client.send_compressed(CompressionEncoding::Gzip)
                } else {
                    client
                }
            })
        };
    }
    Ok(GrpcClients {
        traces: client!(TraceServiceClient, Signal::Traces),
        metrics: client!(MetricsServiceClient, Signal::Metrics),
        logs: client!(LogsServiceClient, Signal::Logs),
        metadata,
        tenant_key,
    })
}

impl Runner {
    fn new(settings: Settings, input: ExporterInput) -> Result<Self, (ExporterInput, String)> {
        let grpc = if settings.protocol == Protocol::Grpc {
            match grpc_clients(&settings) {
                Ok(clients) => Some(clients),
                Err(error) => return Err((input, error)),
            }
        } else {
            None
        };
        let gzip = settings.compression == Compression::Gzip;
        let sender = Sender {
            protocol: settings.protocol,
            urls: settings.urls,
            tenant_header: settings.tenant_header,
            gzip,
            retry: settings.retry,
            http: settings.http,
            grpc,
            sequence: AtomicU64::new(0),
            retry_log: LogLimiter::new(),
            reject_log: LogLimiter::new(),
            partial_log: LogLimiter::new(),
            exhausted_log: LogLimiter::new(),
        };
        let sealer = Sealer {
            protocol: settings.protocol,
            gzip,
            max_request_bytes: usize::try_from(settings.max_request_bytes).unwrap_or(usize::MAX),
            spans: SpanEncoder::new(),
            too_large_log: LogLimiter::new(),
        };
        Ok(Runner {
            sender: Arc::new(sender),
            sealer,
            concurrency: settings.concurrency,
            max_records: settings.max_records,
            max_age: settings.max_age,
            lanes: HashMap::new(),
            ready: VecDeque::new(),
            tasks: JoinSet::new(),
            task_lanes: HashMap::new(),
            input,
            queue_full_log: LogLimiter::new(),
        })
    }

    async fn run(mut self) {
        let endpoints: Vec<String> = self
            .sender
            .urls
            .iter()
            .flatten()
            .map(|url| {
                let mut url = url.clone();
                // Credentials in the URL stay out of the log.
                let _ = url.set_password(None);
                url.to_string()
            })
            .collect();
        tracing::info!(
            ?endpoints,
            protocol = self.sender.protocol.as_str(),
            "OTLP exporter started."
        );
        let mut stopped = self.receive_until_closed().await;
        if !stopped {
            stopped = self.flush_until_done().await;
        }
        if stopped {
            self.drop_everything_left().await;
        }
        self.log_summary();
    }

    /// Batches, seals and sends until the input closes; `true` when the stop signal fired first.
    async fn receive_until_closed(&mut self) -> bool {
        let mut stop = self.input.stop.clone();
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                biased;
                () = stop.triggered() => return true,
                () = sleep_until(deadline), if deadline.is_some() => self.seal_expired(),
                Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.finished(joined);
                }
                batch = self.input.rx.recv() => match batch {
                    Some(batch) => self.receive(batch),
                    None => return false,
                },
            }
            self.dispatch();
            self.input
                .stats
                .set_queue(self.input.rx.len(), self.input.rx.max_capacity());
        }
    }

    /// Seals every pending batch and waits for all requests; `true` when stopped first.
    async fn flush_until_done(&mut self) -> bool {
        let keys: Vec<LaneKey> = self.lanes.keys().cloned().collect();
        for key in keys {
            self.seal(&key);
        }
        self.dispatch();
        let mut stop = self.input.stop.clone();
        while !self.tasks.is_empty() {
            tokio::select! {
                biased;
                () = stop.triggered() => return true,
                Some(joined) = self.tasks.join_next_with_id() => self.finished(joined),
            }
            self.dispatch();
        }
        false
    }

    fn receive(&mut self, batch: Batch) {
        let key = (Arc::clone(batch.tenant()), batch.signal());
        let records = batch.len();
        let has_url = self.sender.urls[signal_slot(key.1)].is_some();
        let lane = self.lane(&key);
        lane.delivery.add_generated(records as u64);
        if records == 0 {
            return;
        }
        if !has_url {
            lane.delivery
                .add_dropped(DropReason::WriteFailed, records as u64);
            if let Some(suppressed) = self.queue_full_log.allow() {
                tracing::error!(
                    signal = %key.1, records, suppressed,
                    "OTLP exporter has no endpoint for this signal; records dropped."
                );
            }
            return;
        }
        let pending = lane.pending.as_ref().map_or(0, Batch::len);
        if pending > 0 && pending + records > self.max_records {
            self.seal(&key);
        }
        let lane = self.lane(&key);
        match &mut lane.pending {
            Some(pending) if !pending.is_empty() => merge(pending, &batch),
            slot => {
                *slot = Some(batch);
                lane.oldest = Some(Instant::now());
            }
        }
        if lane.pending.as_ref().map_or(0, Batch::len) >= self.max_records {
            self.seal(&key);
        }
    }

    fn lane(&mut self, key: &LaneKey) -> &mut Lane {
        let stats = &self.input.stats;
        self.lanes.entry(key.clone()).or_insert_with(|| Lane {
            delivery: stats.delivery(&key.0, key.1),
            pending: None,
            oldest: None,
            queue: VecDeque::new(),
            in_flight: false,
            scheduled: false,
            starts: StartTimes::new(),
        })
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.lanes
            .values()
            .filter_map(|lane| lane.oldest)
            .min()
            .map(|t| t + self.max_age)
    }

    fn seal_expired(&mut self) {
        let now = Instant::now();
        let expired: Vec<LaneKey> = self
            .lanes
            .iter()
            .filter(|(_, lane)| lane.oldest.is_some_and(|t| t + self.max_age <= now))
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.seal(&key);
        }
    }

    /// Turns the lane's pending records into requests at the back of its queue, or drops them
    /// when the queue is full.
    fn seal(&mut self, key: &LaneKey) {
        let Some(lane) = self.lanes.get_mut(key) else {
            return;
        };
        lane.oldest = None;
        let Some(batch) = lane.pending.take().filter(|batch| !batch.is_empty()) else {
            return;
        };
        let records = batch.len() as u64;
        if lane.queue.len() >= LANE_QUEUE_REQUESTS {
            lane.delivery.add_dropped(DropReason::QueueFull, records);
            if let Some(suppressed) = self.queue_full_log.allow() {
                tracing::warn!(
                    tenant = %key.0, signal = %key.1, records, suppressed,
                    "OTLP queue of the tenant is full; the newest records are dropped."
                );
            }
            return;
        }
        let mut parts = Vec::new();
        self.sealer
            .encode_parts(batch, &mut lane.starts, &lane.delivery, &mut parts);
        for part in parts {
            lane.queue.push_back(Request {
                tenant: Arc::clone(&key.0),
                signal: key.1,
                delivery: Arc::clone(&lane.delivery),
                payload: part.payload,
                raw_bytes: part.raw_bytes as u64,
                records: part.records,
                items: part.items,
            });
        }
        if !lane.queue.is_empty() && !lane.in_flight && !lane.scheduled {
            lane.scheduled = true;
            self.ready.push_back(key.clone());
        }
    }

    /// Starts requests of ready lanes while fewer than `concurrency` are in flight.
    fn dispatch(&mut self) {
        while self.tasks.len() < self.concurrency {
            let Some(key) = self.ready.pop_front() else {
                return;
            };
            let Some(lane) = self.lanes.get_mut(&key) else {
                continue;
            };
            lane.scheduled = false;
            let Some(request) = lane.queue.pop_front() else {
                continue;
            };
            lane.in_flight = true;
            let sender = Arc::clone(&self.sender);
            let stop = self.input.stop.clone();
            let handle = self.tasks.spawn(sender.deliver(request, stop));
            self.task_lanes.insert(handle.id(), key);
        }
    }

    /// Frees the lane of a finished request and schedules its next one.
    fn finished(&mut self, joined: Result<(task::Id, LaneKey), JoinError>) {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(error) => {
                tracing::error!(%error, "OTLP export task failed; its records are lost uncounted.");
                error.id()
            }
        };
        let Some(key) = self.task_lanes.remove(&id) else {
            return;
        };
        let Some(lane) = self.lanes.get_mut(&key) else {
            return;
        };
        lane.in_flight = false;
        if !lane.queue.is_empty() && !lane.scheduled {
            lane.scheduled = true;
            self.ready.push_back(key);
        }
    }

    /// After the stop signal: counts what was never sent as dropped `shutdown` and waits for the
    /// tasks in flight, which count their own records.
    async fn drop_everything_left(&mut self) {
        self.input.rx.close();
        while let Ok(batch) = self.input.rx.try_recv() {
            let records = batch.len() as u64;
            let key = (Arc::clone(batch.tenant()), batch.signal());
            let delivery = Arc::clone(&self.lane(&key).delivery);
            delivery.add_generated(records);
            delivery.add_dropped(DropReason::Shutdown, records);
        }
        for lane in self.lanes.values_mut() {
            let queued: u64 = lane.queue.drain(..).map(|request| request.records).sum();
            let pending = lane.pending.take().map_or(0, |batch| batch.len() as u64);
            lane.delivery
                .add_dropped(DropReason::Shutdown, queued + pending);
        }
        self.ready.clear();
        while let Some(joined) = self.tasks.join_next_with_id().await {
            self.finished(joined);
        }
    }

    fn log_summary(&self) {
        let total = self.input.stats.total();
        if total.dropped_total() == 0 {
            tracing::info!(
                accepted = total.accepted, rejected = ?total.rejected, requests = total.requests,
                "OTLP exporter stopped."
            );
        } else {
            tracing::warn!(
                accepted = total.accepted, rejected = ?total.rejected, dropped = ?total.dropped,
                "OTLP exporter stopped with records dropped."
            );
        }
    }
}

/// One encoded request before it joins a queue.
struct Part {
    payload: Payload,
    raw_bytes: usize,
    records: u64,
    items: u64,
}

impl Sealer {
    /// Encodes `batch`, split into as many requests as keep each under `max_request_bytes`; a
    /// single record over the limit is dropped as `too_large`.
    fn encode_parts(
        &mut self,
        batch: Batch,
        starts: &mut StartTimes,
        delivery: &Delivery,
        out: &mut Vec<Part>,
    ) {
        let records = batch.len() as u64;
        let (payload, raw_bytes, items) = self.encode(&batch, starts);
        if raw_bytes <= self.max_request_bytes {
            out.push(Part {
                payload,
                raw_bytes,
                records,
                items,
            });
            return;
        }
        let pieces = raw_bytes.div_ceil(self.max_request_bytes).max(2);
        let halves = split(&batch, pieces);
        if halves.len() < 2 {
            delivery.add_dropped(DropReason::TooLarge, records);
            if let Some(suppressed) = self.too_large_log.allow() {
                tracing::error!(
                    records,
                    bytes = raw_bytes,
                    limit = self.max_request_bytes,
                    suppressed,
                    "OTLP request cannot be split below max_request_bytes; records dropped."
                );
            }
            return;
        }
        for half in halves {
            self.encode_parts(half, starts, delivery, out);
        }
    }

    /// The payload of one request, its size before compression, and its OTLP item count.
    fn encode(&mut self, batch: &Batch, starts: &mut StartTimes) -> (Payload, usize, u64) {
        match (batch, self.protocol) {
            (Batch::Traces(spans), Protocol::HttpProtobuf) => {
                let mut body = Vec::new();
                self.spans.encode(spans, &mut body);
                let items = spans.spans.len() as u64;
                let raw = body.len();
                (Payload::Http(self.finish(body)), raw, items)
            }
            (batch, Protocol::Grpc) => {
                let message = grpc_message(batch, starts);
                let (raw, items) = match &message {
                    GrpcMessage::Traces(r) => (r.encoded_len(), batch.len() as u64),
                    GrpcMessage::Logs(r) => (r.encoded_len(), batch.len() as u64),
                    GrpcMessage::Metrics(r) => (r.encoded_len(), data_points(r)),
                };
                (Payload::Grpc(Arc::new(message)), raw, items)
            }
            (batch, protocol) => {
                let json = protocol == Protocol::HttpJson;
                let mut body = Vec::new();
                let items = match grpc_message(batch, starts) {
                    GrpcMessage::Traces(r) => encode_http(&r, json, &mut body, batch.len()),
                    GrpcMessage::Logs(r) => encode_http(&r, json, &mut body, batch.len()),
                    GrpcMessage::Metrics(r) => {
                        let points = data_points(&r) as usize;
                        encode_http(&r, json, &mut body, points)
                    }
                };
                let raw = body.len();
                (Payload::Http(self.finish(body)), raw, items)
            }
        }
    }

    /// Gzips a body when configured.
    fn finish(&self, body: Vec<u8>) -> Bytes {
        if !self.gzip {
            return body.into();
        }
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(&body);
        encoder.finish().unwrap_or_default().into()
    }
}

fn encode_http<T>(request: &T, json: bool, out: &mut Vec<u8>, items: usize) -> u64
where
    T: prost::Message + serde::Serialize,
{
    if json {
        *out = convert::to_json(request);
    } else {
        convert::to_protobuf(request, out);
    }
    items as u64
}

fn grpc_message(batch: &Batch, starts: &mut StartTimes) -> GrpcMessage {
    match batch {
        Batch::Traces(spans) => GrpcMessage::Traces(convert::trace_request(spans)),
        Batch::Logs(logs) => GrpcMessage::Logs(convert::logs_request(logs)),
        Batch::Metrics(metrics) => GrpcMessage::Metrics(convert::metrics_request(metrics, starts)),
    }
}

/// Number of data points of a metrics request, the unit of its partial success.
pub fn data_points(request: &ExportMetricsServiceRequest) -> u64 {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let points = |data: &Option<Data>| match data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    };
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| points(&m.data) as u64)
        .sum()
}

/// Splits a batch into up to `pieces` batches of about equal record counts; metric samples of
/// one histogram or summary point stay together. Fewer than two pieces means it cannot split.
fn split(batch: &Batch, pieces: usize) -> Vec<Batch> {
    let total = batch.len();
    let pieces = pieces.min(total).max(1);
    let piece_of = |i: usize| i * pieces / total.max(1);
    match batch {
        Batch::Traces(spans) => {
            let mut out: Vec<SpanBatch> = (0..pieces)
                .map(|_| SpanBatch {
                    tenant: Arc::clone(&spans.tenant),
                    resources: spans.resources.clone(),
                    spans: Vec::new(),
                })
                .collect();
            for (i, span) in spans.spans.iter().enumerate() {
                out[piece_of(i)].spans.push(span.clone());
            }
            out.into_iter()
                .filter(|b| !b.spans.is_empty())
                .map(Batch::Traces)
                .collect()
        }
        Batch::Logs(logs) => {
            let mut out: Vec<LogBatch> = (0..pieces)
                .map(|_| LogBatch::new(Arc::clone(&logs.tenant)))
                .collect();
            for (i, entry) in logs.entries.iter().enumerate() {
                copy_entry(&mut out[piece_of(i)], logs, entry);
            }
            out.into_iter()
                .filter(|b| !b.entries.is_empty())
                .map(Batch::Logs)
                .collect()
        }
        Batch::Metrics(metrics) => split_metrics(metrics, pieces)
            .into_iter()
            .map(Batch::Metrics)
            .collect(),
    }
}

fn copy_entry(into: &mut LogBatch, from: &LogBatch, entry: &crate::model::LogEntry) {
    let stream = into.stream_index(&from.streams[entry.stream as usize]);
    let metadata_start = into.metadata.len() as u32;
    for pair in from.metadata_of(entry) {
        into.push_metadata(pair.name.clone(), from.text_of(pair.value));
    }
    let metadata_end = into.metadata.len() as u32;
    into.push_line(stream, entry.timestamp_ns, entry.severity, from.line(entry));
    if let Some(copy) = into.entries.last_mut() {
        copy.trace_id = entry.trace_id;
        copy.span_id = entry.span_id;
        copy.metadata = metadata_start..metadata_end;
    }
}

fn split_metrics(batch: &MetricBatch, pieces: usize) -> Vec<MetricBatch> {
    let total = batch.samples.len().max(1);
    let mut out: Vec<MetricBatch> = (0..pieces)
        .map(|_| MetricBatch {
            tenant: Arc::clone(&batch.tenant),
            series: batch.series.clone(),
            samples: Vec::new(),
        })
        .collect();
    let mut piece_of_group: HashMap<(u64, i64), usize> = HashMap::new();
    for (i, sample) in batch.samples.iter().enumerate() {
        let series = batch.series_of(sample);
        let group = match series.family.kind {
            MetricKind::Histogram | MetricKind::Summary => {
                let family = series.family.name.as_str();
                let labels = series
                    .labels
                    .iter()
                    .filter(|(name, _)| !matches!(&**name, "le" | "quantile"))
                    .map(|(name, value)| (&**name, &**value));
                crate::model::metrics::series_hash(family, labels)
            }
            _ => series.hash,
        };
        let piece = *piece_of_group
            .entry((group, sample.timestamp_ms))
            .or_insert(i * pieces / total);
        out[piece].samples.push(*sample);
    }
    out.retain(|b| !b.samples.is_empty());
    out
}

/// Appends `from` (same tenant and signal) to `into`.
fn merge(into: &mut Batch, from: &Batch) {
    match (into, from) {
        (Batch::Traces(into), Batch::Traces(from)) => {
            let map: Vec<u32> = from
                .resources
                .iter()
                .map(|resource| into.resource_index(resource))
                .collect();
            into.spans.extend(from.spans.iter().map(|span| {
                let mut span = span.clone();
                span.resource = map[span.resource as usize];
                span
            }));
        }
        (Batch::Logs(into), Batch::Logs(from)) => into.append(from),
        (Batch::Metrics(into), Batch::Metrics(from)) => {
            let map: Vec<u32> = from
                .series
                .iter()
                .map(|series| {
                    let found = into.series.iter().position(|known| {
                        Arc::ptr_eq(known, series)
                            || (known.hash == series.hash && **known == **series)
                    });
                    found.unwrap_or_else(|| {
                        into.series.push(Arc::clone(series));
                        into.series.len() - 1
                    }) as u32
                })
                .collect();
            into.samples.extend(from.samples.iter().map(|sample| {
                let mut sample = *sample;
                sample.series = map[sample.series as usize];
                sample
            }));
        }
        _ => {}
    }
}

/// The result of one attempt.
enum Attempt {
    /// Done: accepted (with the OTLP items the receiver rejected in a partial success) or
    /// rejected.
    Done(Verdict, u64),
    /// Try again, after the receiver's delay when it gave one.
    Retry(Option<Duration>),
}

impl Sender {
    /// Sends one request until it is accepted, rejected, out of retries or stopped, and counts
    /// the outcome. Returns the lane, for the runner's bookkeeping.
    async fn deliver(self: Arc<Self>, request: Request, mut stop: StopSignal) -> LaneKey {
        let Request {
            tenant,
            signal,
            delivery,
            payload,
            raw_bytes,
            records,
            items,
        } = request;
        let key = (Arc::clone(&tenant), signal);
        delivery.add_sent(records);
        let seed = mix64(self.sequence.fetch_add(1, Ordering::Relaxed));
        let mut backoff = Backoff::new(&self.retry, seed);
        let wire_bytes = match &payload {
            Payload::Http(body) => body.len() as u64,
            Payload::Grpc(_) => raw_bytes,
        };
        loop {
            delivery.add_request(wire_bytes);
            let attempt = tokio::select! {
                biased;
                () = stop.triggered() => {
                    delivery.add_dropped(DropReason::Shutdown, records);
                    return key;
                }
                attempt = self.attempt(&tenant, signal, &payload) => attempt,
            };
            let retry_after = match attempt {
                Attempt::Done(Verdict::Accepted, rejected_items) => {
                    let rejected = rejected_records(rejected_items, items, records);
                    if rejected > 0 {
                        delivery.add_rejected(RejectClass::Other, rejected);
                    }
                    delivery.add_accepted(records - rejected);
                    return key;
                }
                Attempt::Done(Verdict::Rejected(class), _) => {
                    delivery.add_rejected(class, records);
                    return key;
                }
                Attempt::Done(Verdict::Retry, _) => None,
                Attempt::Retry(retry_after) => retry_after,
            };
            let Some(wait) = backoff.next_wait(retry_after) else {
                delivery.add_dropped(DropReason::RetriesExhausted, records);
                if let Some(suppressed) = self.exhausted_log.allow() {
                    tracing::error!(
                        %tenant, %signal, records, retries = backoff.retries(), suppressed,
                        "OTLP export kept failing until the retry budget ran out; records dropped."
                    );
                }
                return key;
            };
            tokio::select! {
                biased;
                () = stop.triggered() => {
                    delivery.add_dropped(DropReason::Shutdown, records);
                    return key;
                }
                () = tokio::time::sleep(wait) => {}
            }
            delivery.add_retried(records);
        }
    }

    async fn attempt(&self, tenant: &TenantId, signal: Signal, payload: &Payload) -> Attempt {
        match payload {
            Payload::Http(body) => self.attempt_http(tenant, signal, body.clone()).await,
            Payload::Grpc(message) => self.attempt_grpc(tenant, message).await,
        }
    }

    /// One POST, classified; a 2xx body is read for a partial success.
    async fn attempt_http(&self, tenant: &TenantId, signal: Signal, body: Bytes) -> Attempt {
        let Some(url) = &self.urls[signal_slot(signal)] else {
            return Attempt::Done(Verdict::Rejected(RejectClass::Other), 0);
        };
        let Ok(tenant_value) = HeaderValue::from_str(tenant) else {
            tracing::error!(%tenant, "Tenant id is not a valid header value; records rejected.");
            return Attempt::Done(Verdict::Rejected(RejectClass::Other), 0);
        };
        let content_type = match self.protocol {
            Protocol::HttpJson => "application/json",
            _ => "application/x-protobuf",
        };
        let mut request = self
            .http
            .apply(self.http.client().post(url.clone()))
            .header(CONTENT_TYPE, content_type)
            .header(&self.tenant_header, tenant_value);
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => {
                let verdict = classify_reqwest_error(&error);
                if let Some(suppressed) = self.retry_log.allow() {
                    tracing::warn!(%tenant, %signal, %error, suppressed, "OTLP export got no response.");
                }
                return match verdict {
                    Verdict::Retry => Attempt::Retry(None),
                    other => Attempt::Done(other, 0),
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains("json"));
        let verdict = classify_http(status.as_u16());
        // Reading the body lets the connection be reused, and explains a refusal.
        let body = response.bytes().await.unwrap_or_default();
        match verdict {
            Verdict::Accepted => {
                let (rejected, message) = partial_success(signal, &body, json);
                self.log_partial(tenant, signal, rejected, &message);
                Attempt::Done(Verdict::Accepted, rejected)
            }
            Verdict::Retry => {
                self.log_failure(tenant, signal, &status.to_string(), verdict, &body);
                Attempt::Retry(retry_after)
            }
            Verdict::Rejected(_) => {
                self.log_failure(tenant, signal, &status.to_string(), verdict, &body);
                Attempt::Done(verdict, 0)
            }
        }
    }

    /// One unary `Export` call, classified.
    async fn attempt_grpc(&self, tenant: &TenantId, message: &GrpcMessage) -> Attempt {
        let Some(clients) = &self.grpc else {
            return Attempt::Done(Verdict::Rejected(RejectClass::Other), 0);
        };
        let Ok(tenant_value) = MetadataValue::try_from(tenant.as_ref()) else {
            tracing::error!(%tenant, "Tenant id is not a valid metadata value; records rejected.");
            return Attempt::Done(Verdict::Rejected(RejectClass::Other), 0);
        };
        let (metadata, key) = (&clients.metadata, &clients.tenant_key);
        let missing = || tonic::Status::unimplemented("no endpoint for this signal");
        let (signal, result) = match message {
            GrpcMessage::Traces(m) => (
                Signal::Traces,
                match clients.traces.clone() {
                    Some(mut client) => client
                        .export(grpc_request(m.clone(), metadata, key, tenant_value))
                        .await
                        .map(|r| partial_of_traces(r.into_inner())),
                    None => Err(missing()),
                },
            ),
            GrpcMessage::Metrics(m) => (
                Signal::Metrics,
                match clients.metrics.clone() {
                    Some(mut client) => client
                        .export(grpc_request(m.clone(), metadata, key, tenant_value))
                        .await
                        .map(|r| partial_of_metrics(r.into_inner())),
                    None => Err(missing()),
                },
            ),
            GrpcMessage::Logs(m) => (
                Signal::Logs,
                match clients.logs.clone() {
                    Some(mut client) => client
                        .export(grpc_request(m.clone(), metadata, key, tenant_value))
                        .await
                        .map(|r| partial_of_logs(r.into_inner())),
                    None => Err(missing()),
                },
            ),
        };
        match result {
            Ok((rejected, message)) => {
                self.log_partial(tenant, signal, rejected, &message);
                Attempt::Done(Verdict::Accepted, rejected)
            }
            Err(status) => {
                let retry_delay = retry_info_delay(status.details());
                let verdict = classify_grpc(status.code(), retry_delay.is_some());
                let code = format!("{:?}", status.code());
                self.log_failure(tenant, signal, &code, verdict, status.message().as_bytes());
                match verdict {
                    Verdict::Retry => Attempt::Retry(retry_delay),
                    other => Attempt::Done(other, 0),
                }
            }
        }
    }

    fn log_partial(&self, tenant: &TenantId, signal: Signal, rejected: u64, message: &str) {
        if rejected == 0 && message.is_empty() {
            return;
        }
        if let Some(suppressed) = self.partial_log.allow() {
            let message = truncate(message);
            if rejected > 0 {
                tracing::error!(
                    %tenant, %signal, rejected, error_message = %message, suppressed,
                    "OTLP receiver rejected part of the request; those records are not retried."
                );
            } else {
                tracing::warn!(
                    %tenant, %signal, error_message = %message, suppressed,
                    "OTLP receiver accepted the request with a warning."
                );
            }
        }
    }

    fn log_failure(
        &self,
        tenant: &TenantId,
        signal: Signal,
        status: &str,
        verdict: Verdict,
        body: &[u8],
    ) {
        let body = String::from_utf8_lossy(&body[..body.len().min(LOGGED_BODY_BYTES)]);
        let body = body.trim_end();
        match verdict {
            Verdict::Accepted => {}
            Verdict::Retry => {
                if let Some(suppressed) = self.retry_log.allow() {
                    tracing::warn!(%tenant, %signal, status, %body, suppressed, "OTLP export will be retried.");
                }
            }
            Verdict::Rejected(_) => {
                if let Some(suppressed) = self.reject_log.allow() {
                    tracing::error!(
                        %tenant, %signal, status, %body, suppressed,
                        "OTLP receiver refused the request; its records are rejected."
                    );
                }
            }
        }
    }
}

fn truncate(text: &str) -> &str {
    let mut end = text.len().min(LOGGED_BODY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Rejected records for `rejected_items` of `items` OTLP items carrying `records` records:
/// equal for spans and logs; the rounded-up share for metric points.
fn rejected_records(rejected_items: u64, items: u64, records: u64) -> u64 {
    if rejected_items == 0 || items == 0 {
        return 0;
    }
    if items == records {
        return rejected_items.min(records);
    }
    let share = u128::from(rejected_items.min(items)) * u128::from(records);
    u64::try_from(share.div_ceil(u128::from(items)))
        .unwrap_or(records)
        .min(records)
}

fn partial_of_traces(response: ExportTraceServiceResponse) -> (u64, String) {
    response.partial_success.map_or((0, String::new()), |p| {
        (p.rejected_spans.max(0) as u64, p.error_message)
    })
}

fn partial_of_metrics(response: ExportMetricsServiceResponse) -> (u64, String) {
    response.partial_success.map_or((0, String::new()), |p| {
        (p.rejected_data_points.max(0) as u64, p.error_message)
    })
}

fn partial_of_logs(response: ExportLogsServiceResponse) -> (u64, String) {
    response.partial_success.map_or((0, String::new()), |p| {
        (p.rejected_log_records.max(0) as u64, p.error_message)
    })
}

/// The rejected item count and error message of a successful OTLP/HTTP response body
/// (protobuf, or OTLP/JSON when the response says so); an empty or unreadable body is a full
/// success.
pub fn partial_success(signal: Signal, body: &[u8], json: bool) -> (u64, String) {
    if body.is_empty() {
        return (0, String::new());
    }
    if json {
        return json_partial_success(signal, body);
    }
    match signal {
        Signal::Traces => {
            ExportTraceServiceResponse::decode(body).map_or((0, String::new()), partial_of_traces)
        }
        Signal::Metrics => ExportMetricsServiceResponse::decode(body)
            .map_or((0, String::new()), partial_of_metrics),
        Signal::Logs => {
            ExportLogsServiceResponse::decode(body).map_or((0, String::new()), partial_of_logs)
        }
    }
}

/// OTLP/JSON writes the rejected count as a decimal string; some receivers write a number.
fn json_partial_success(signal: Signal, body: &[u8]) -> (u64, String) {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (0, String::new());
    };
    let partial = &document["partialSuccess"];
    let key = match signal {
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
        Signal::Logs => "rejectedLogRecords",
    };
    let rejected = match &partial[key] {
        serde_json::Value::String(text) => text.parse().unwrap_or(0),
        value => value.as_u64().unwrap_or(0),
    };
    let message = partial["errorMessage"].as_str().unwrap_or_default();
    (rejected, message.to_string())
}

/// `google.rpc.Status`, `google.protobuf.Any`, `google.rpc.RetryInfo` and
/// `google.protobuf.Duration`, written from their `.proto` files: enough to read a retry delay
/// from `grpc-status-details-bin`.
mod rpc {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(int32, tag = "1")]
        pub code: i32,
        #[prost(string, tag = "2")]
        pub message: String,
        #[prost(message, repeated, tag = "3")]
        pub details: Vec<Any>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "1")]
        pub type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        pub retry_delay: Option<Duration>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Duration {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// The delay of a `google.rpc.RetryInfo` among a gRPC status's details, if any.
pub fn retry_info_delay(details: &[u8]) -> Option<Duration> {
    if details.is_empty() {
        return None;
    }
    let status = rpc::Status::decode(details).ok()?;
    let info = status
        .details
        .iter()
        .find(|any| any.type_url.ends_with("google.rpc.RetryInfo"))?;
    let delay = rpc::RetryInfo::decode(info.value.as_slice())
        .ok()?
        .retry_delay
        .unwrap_or_default();
    let seconds = u64::try_from(delay.seconds).unwrap_or(0);
    let nanos = u32::try_from(delay.nanos).unwrap_or(0).min(999_999_999);
    Some(Duration::new(seconds, nanos))
}

/// Lets one log through per [`LOG_INTERVAL`], counting the ones held back.
struct LogLimiter {
    next: std::sync::Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl LogLimiter {
    fn new() -> Self {
        LogLimiter {
            next: std::sync::Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(held back since the last log)` when a log may be written now.
    fn allow(&self) -> Option<u64> {
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

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
