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

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{
    CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use reqwest::{StatusCode, Url};
use tokio::task::{self, JoinError, JoinSet};
use tokio::time::Instant;

use super::encode::{EncodeOptions, WriteEncoder};
use super::{PROTOCOL_VERSION, write_url};
use crate::exporters::http::HttpClient;
use crate::exporters::retry::{Backoff, RetryConfig, parse_retry_after};
use crate::exporters::{Exporter, ExporterInput, ExporterTask, StopSignal};
use crate::model::metrics::Series;
use crate::model::{Batch, MetricBatch, Signal, TenantId};
use crate::pipeline::stats::{Delivery, DropReason, RejectClass};
use crate::random::mix64;

/// Sealed requests a shard may have waiting behind its request in flight.
pub const SHARD_QUEUE_REQUESTS: usize = 4;

/// Longest part of a response body written to the log.
const LOGGED_BODY_BYTES: usize = 1024;

/// Shortest time between two logs of the same kind of failure.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

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

/// The verdict of a request that got no response: connection errors and timeouts are retried;
/// a request that could not even be built never will be.
fn classify_error(error: &reqwest::Error) -> Verdict {
    if error.is_builder() {
        Verdict::Rejected(RejectClass::Other)
    } else {
        Verdict::Retry
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

/// One shard of a tenant: pending samples, sealed requests, and whether one is in flight.
struct Shard {
    pending: MetricBatch,
    /// Series of `pending` by hash, to merge samples of one series from many batches.
    index: HashMap<u64, u32>,
    /// Bumped on every seal, which invalidates series positions cached for `pending`.
    generation: u32,
    oldest: Option<Instant>,
    queue: VecDeque<Request>,
    in_flight: bool,
    scheduled: bool,
}

impl Shard {
    fn new(tenant: &TenantId) -> Self {
        Shard {
            pending: MetricBatch::new(Arc::clone(tenant)),
            index: HashMap::new(),
            generation: 0,
            oldest: None,
            queue: VecDeque::new(),
            in_flight: false,
            scheduled: false,
        }
    }

    /// The position of `series` in `pending.series`, added when new.
    fn series_position(&mut self, series: &Arc<Series>) -> u32 {
        if let Some(&position) = self.index.get(&series.hash) {
            let known = &self.pending.series[position as usize];
            if Arc::ptr_eq(known, series) || **known == **series {
                return position;
            }
        }
        let position = self.pending.series.len() as u32;
        self.pending.series.push(Arc::clone(series));
        self.index.entry(series.hash).or_insert(position);
        position
    }

    /// Empties `pending` for the next request.
    fn clear_pending(&mut self) {
        self.pending.series.clear();
        self.pending.samples.clear();
        self.index.clear();
        self.generation = self.generation.wrapping_add(1);
        self.oldest = None;
    }
}

/// Per-tenant state, owned by the runner.
struct TenantState {
    delivery: Arc<Delivery>,
    /// Where requests go, or why they cannot be sent.
    target: Result<Target, String>,
    shards: Vec<Shard>,
}

/// What the sending tasks share.
struct Sender {
    retry: RetryConfig,
    http: HttpClient,
    tenant_header: Option<HeaderName>,
    sequence: AtomicU64,
    retry_log: LogLimiter,
    reject_log: LogLimiter,
    exhausted_log: LogLimiter,
}

struct Runner {
    sender: Arc<Sender>,
    endpoint: String,
    options: EncodeOptions,
    shard_count: usize,
    max_samples: usize,
    max_age: Duration,
    encoder: WriteEncoder,
    tenants: HashMap<TenantId, TenantState>,
    /// Per incoming series: (shard generation, position in the shard's pending batch).
    positions: Vec<(u32, u32)>,
    ready: VecDeque<ShardKey>,
    tasks: JoinSet<ShardKey>,
    task_shards: HashMap<task::Id, ShardKey>,
    input: ExporterInput,
    queue_full_log: LogLimiter,
    unsendable_log: LogLimiter,
}

impl Runner {
    fn new(settings: Settings, input: ExporterInput) -> Self {
        let sender = Sender {
            retry: settings.retry,
            http: settings.http,
            tenant_header: settings.tenant_header,
            sequence: AtomicU64::new(0),
            retry_log: LogLimiter::new(),
            reject_log: LogLimiter::new(),
            exhausted_log: LogLimiter::new(),
        };
        Runner {
            sender: Arc::new(sender),
            endpoint: settings.endpoint,
            options: settings.options,
            shard_count: settings.shards,
            max_samples: settings.max_samples,
            max_age: settings.max_age,
            encoder: WriteEncoder::new(),
            tenants: HashMap::new(),
            positions: Vec::new(),
            ready: VecDeque::new(),
            tasks: JoinSet::new(),
            task_shards: HashMap::new(),
            input,
            queue_full_log: LogLimiter::new(),
            unsendable_log: LogLimiter::new(),
        }
    }

    async fn run(mut self) {
        let endpoint = match Url::parse(&self.endpoint) {
            Ok(mut url) => {
                // Credentials in the URL stay out of the log.
                let _ = url.set_password(None);
                url.to_string()
            }
            Err(_) => self.endpoint.clone(),
        };
        tracing::info!(%endpoint, shards = self.shard_count, "Remote-write exporter started.");
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
        let keys: Vec<ShardKey> = self.shard_keys().collect();
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

    fn shard_keys(&self) -> impl Iterator<Item = ShardKey> + use<'_> {
        self.tenants
            .keys()
            .flat_map(|tenant| (0..self.shard_count).map(|shard| (Arc::clone(tenant), shard)))
    }

    fn receive(&mut self, batch: Batch) {
        let batch = match batch {
            Batch::Metrics(batch) => batch,
            other => {
                // Configuration validation routes only metrics here; count anything else.
                let delivery = Arc::clone(&self.tenant(other.tenant()).delivery);
                delivery.add_generated(other.len() as u64);
                delivery.add_dropped(DropReason::WriteFailed, other.len() as u64);
                return;
            }
        };
        let tenant = Arc::clone(&batch.tenant);
        let state = self.tenant(&tenant);
        let delivery = Arc::clone(&state.delivery);
        delivery.add_generated(batch.samples.len() as u64);
        if batch.samples.is_empty() {
            return;
        }
        if let Err(reason) = &state.target {
            let reason = reason.clone();
            self.unsendable(&tenant, &delivery, batch.samples.len() as u64, &reason);
            return;
        }
        self.positions.clear();
        self.positions.resize(batch.series.len(), (u32::MAX, 0));
        let mut invalid = 0;
        for sample in &batch.samples {
            let Some(series) = batch.series.get(sample.series as usize) else {
                invalid += 1;
                continue;
            };
            let shard_index = (series.hash % self.shard_count as u64) as usize;
            let full = self.append(&tenant, shard_index, series, sample);
            if full {
                self.seal(&(Arc::clone(&tenant), shard_index));
            }
        }
        if invalid > 0 {
            let reason = "samples point past the batch's series";
            self.unsendable(&tenant, &delivery, invalid, reason);
        }
    }

    /// Appends one sample to its shard; `true` when the shard's pending batch is full.
    fn append(
        &mut self,
        tenant: &TenantId,
        shard_index: usize,
        series: &Arc<Series>,
        sample: &crate::model::metrics::MetricSample,
    ) -> bool {
        let Some(state) = self.tenants.get_mut(tenant) else {
            return false;
        };
        let shard = &mut state.shards[shard_index];
        let cached = &mut self.positions[sample.series as usize];
        let position = if cached.0 == shard.generation {
            cached.1
        } else {
            let position = shard.series_position(series);
            *cached = (shard.generation, position);
            position
        };
        if shard.pending.samples.is_empty() {
            shard.oldest = Some(Instant::now());
        }
        shard
            .pending
            .samples
            .push(crate::model::metrics::MetricSample {
                series: position,
                ..*sample
            });
        shard.pending.samples.len() >= self.max_samples
    }

    /// Counts samples that can never be sent as dropped (`write_failed`) and logs why.
    fn unsendable(&self, tenant: &TenantId, delivery: &Delivery, samples: u64, reason: &str) {
        delivery.add_dropped(DropReason::WriteFailed, samples);
        if let Some(suppressed) = self.unsendable_log.allow() {
            tracing::error!(
                %tenant, samples, reason, suppressed,
                "Remote-write samples cannot be sent; they are dropped."
            );
        }
    }

    fn tenant(&mut self, tenant: &TenantId) -> &mut TenantState {
        let stats = &self.input.stats;
        let endpoint = &self.endpoint;
        let shard_count = self.shard_count;
        let has_header = self.sender.tenant_header.is_some();
        self.tenants.entry(Arc::clone(tenant)).or_insert_with(|| {
            let target = write_url(endpoint, tenant).and_then(|url| {
                let tenant_header = match has_header {
                    true => Some(
                        HeaderValue::from_str(tenant)
                            .map_err(|_| "tenant id is not a valid header value".to_string())?,
                    ),
                    false => None,
                };
                Ok(Target { url, tenant_header })
            });
            TenantState {
                delivery: stats.delivery(tenant, Signal::Metrics),
                target,
                shards: (0..shard_count).map(|_| Shard::new(tenant)).collect(),
            }
        })
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.tenants
            .values()
            .flat_map(|state| state.shards.iter().filter_map(|shard| shard.oldest))
            .min()
            .map(|t| t + self.max_age)
    }

    fn seal_expired(&mut self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        for (tenant, state) in &self.tenants {
            for (index, shard) in state.shards.iter().enumerate() {
                if shard.oldest.is_some_and(|t| t + self.max_age <= now) {
                    expired.push((Arc::clone(tenant), index));
                }
            }
        }
        for key in expired {
            self.seal(&key);
        }
    }

    /// Turns the shard's pending samples into a request at the back of its queue, or drops them
    /// when the queue is full.
    fn seal(&mut self, key: &ShardKey) {
        let (tenant, index) = key;
        let Some(state) = self.tenants.get_mut(tenant) else {
            return;
        };
        let Ok(target) = &state.target else {
            return;
        };
        let shard = &mut state.shards[*index];
        let samples = shard.pending.samples.len() as u64;
        if samples == 0 {
            shard.clear_pending();
            return;
        }
        if shard.queue.len() >= SHARD_QUEUE_REQUESTS {
            state.delivery.add_dropped(DropReason::QueueFull, samples);
            shard.clear_pending();
            if let Some(suppressed) = self.queue_full_log.allow() {
                tracing::warn!(
                    %tenant, shard = index, samples, suppressed,
                    "Remote-write queue of the shard is full; the newest samples are dropped."
                );
            }
            return;
        }
        let mut body = Vec::new();
        self.encoder
            .encode(&shard.pending, &self.options, &mut body);
        shard.clear_pending();
        shard.queue.push_back(Request {
            tenant: Arc::clone(tenant),
            target: target.clone(),
            delivery: Arc::clone(&state.delivery),
            body: body.into(),
            samples,
        });
        if !shard.in_flight && !shard.scheduled {
            shard.scheduled = true;
            self.ready.push_back(key.clone());
        }
    }

    /// Starts the next request of every ready shard.
    fn dispatch(&mut self) {
        while let Some(key) = self.ready.pop_front() {
            let Some(shard) = self.shard_mut(&key) else {
                continue;
            };
            shard.scheduled = false;
            let Some(request) = shard.queue.pop_front() else {
                continue;
            };
            shard.in_flight = true;
            let sender = Arc::clone(&self.sender);
            let stop = self.input.stop.clone();
            let handle = self.tasks.spawn(sender.deliver(request, key.clone(), stop));
            self.task_shards.insert(handle.id(), key);
        }
    }

    fn shard_mut(&mut self, (tenant, index): &ShardKey) -> Option<&mut Shard> {
        self.tenants.get_mut(tenant)?.shards.get_mut(*index)
    }

    /// Frees the shard of a finished request and schedules its next one.
    fn finished(&mut self, joined: Result<(task::Id, ShardKey), JoinError>) {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(error) => {
                tracing::error!(%error, "Remote-write task failed; its samples are lost uncounted.");
                error.id()
            }
        };
        let Some(key) = self.task_shards.remove(&id) else {
            return;
        };
        let Some(shard) = self.shard_mut(&key) else {
            return;
        };
        shard.in_flight = false;
        if !shard.queue.is_empty() && !shard.scheduled {
            shard.scheduled = true;
            self.ready.push_back(key);
        }
    }

    /// After the stop signal: counts what was never sent as dropped `shutdown` and waits for the
    /// tasks in flight, which count their own samples.
    async fn drop_everything_left(&mut self) {
        self.input.rx.close();
        while let Ok(batch) = self.input.rx.try_recv() {
            let samples = batch.len() as u64;
            let delivery = Arc::clone(&self.tenant(batch.tenant()).delivery);
            delivery.add_generated(samples);
            delivery.add_dropped(DropReason::Shutdown, samples);
        }
        for state in self.tenants.values_mut() {
            for shard in &mut state.shards {
                let queued: u64 = shard.queue.drain(..).map(|request| request.samples).sum();
                let pending = shard.pending.samples.len() as u64;
                shard.clear_pending();
                state
                    .delivery
                    .add_dropped(DropReason::Shutdown, queued + pending);
            }
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
                retried = total.retried, "Remote-write exporter stopped."
            );
        } else {
            tracing::warn!(
                accepted = total.accepted, rejected = ?total.rejected, dropped = ?total.dropped,
                retried = total.retried, "Remote-write exporter stopped with samples dropped."
            );
        }
    }
}

/// The result of one attempt.
enum Attempt {
    Done(Verdict),
    Retry(Option<Duration>),
}

impl Sender {
    /// Sends one request until it is accepted, rejected, out of retries or stopped, and counts
    /// the outcome. Returns the shard, for the runner's bookkeeping.
    async fn deliver(
        self: Arc<Self>,
        request: Request,
        key: ShardKey,
        mut stop: StopSignal,
    ) -> ShardKey {
        let Request {
            tenant,
            target,
            delivery,
            body,
            samples,
        } = request;
        delivery.add_sent(samples);
        let seed = mix64(self.sequence.fetch_add(1, Ordering::Relaxed));
        let mut backoff = Backoff::new(&self.retry, seed);
        loop {
            delivery.add_request(body.len() as u64);
            let attempt = tokio::select! {
                biased;
                () = stop.triggered() => {
                    delivery.add_dropped(DropReason::Shutdown, samples);
                    return key;
                }
                attempt = self.attempt(&tenant, &target, body.clone()) => attempt,
            };
            let retry_after = match attempt {
                Attempt::Done(Verdict::Accepted) => {
                    delivery.add_accepted(samples);
                    return key;
                }
                Attempt::Done(Verdict::Rejected(class)) => {
                    delivery.add_rejected(class, samples);
                    return key;
                }
                Attempt::Done(Verdict::Retry) => None,
                Attempt::Retry(retry_after) => retry_after,
            };
            let Some(wait) = backoff.next_wait(retry_after) else {
                delivery.add_dropped(DropReason::RetriesExhausted, samples);
                if let Some(suppressed) = self.exhausted_log.allow() {
                    tracing::error!(
                        %tenant, samples, retries = backoff.retries(), suppressed,
                        "Remote write kept failing until the retry budget ran out; samples dropped."
                    );
                }
                return key;
            };
            tokio::select! {
                biased;
                () = stop.triggered() => {
                    delivery.add_dropped(DropReason::Shutdown, samples);
                    return key;
                }
                () = tokio::time::sleep(wait) => {}
            }
            delivery.add_retried(samples);
        }
    }

    /// One POST of `body`, classified.
    async fn attempt(&self, tenant: &TenantId, target: &Target, body: Bytes) -> Attempt {
        let mut request = self
            .http
            .apply(self.http.client().post(target.url.clone()))
            .header(CONTENT_ENCODING, HeaderValue::from_static("snappy"))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            )
            .header(
                USER_AGENT,
                HeaderValue::from_static(concat!("synthtel/", env!("CARGO_PKG_VERSION"))),
            )
            .header(VERSION_HEADER, HeaderValue::from_static(PROTOCOL_VERSION));
        if let (Some(name), Some(value)) = (&self.tenant_header, &target.tenant_header) {
            request = request.header(name, value.clone());
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => {
                let verdict = classify_error(&error);
                if let Some(suppressed) = self.retry_log.allow() {
                    tracing::warn!(%tenant, %error, suppressed, "Remote write failed to get a response.");
                }
                return match verdict {
                    Verdict::Retry => Attempt::Retry(None),
                    other => Attempt::Done(other),
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let verdict = classify_status(status.as_u16());
        // Reading the body lets the connection be reused, and explains a refusal.
        let body = response.bytes().await.unwrap_or_default();
        self.log_response(tenant, status, verdict, &body);
        match verdict {
            Verdict::Retry => Attempt::Retry(retry_after),
            other => Attempt::Done(other),
        }
    }

    fn log_response(&self, tenant: &TenantId, status: StatusCode, verdict: Verdict, body: &[u8]) {
        let status = status.as_u16();
        let body = String::from_utf8_lossy(&body[..body.len().min(LOGGED_BODY_BYTES)]);
        let body = body.trim_end();
        match verdict {
            Verdict::Accepted => {}
            Verdict::Retry => {
                if let Some(suppressed) = self.retry_log.allow() {
                    tracing::warn!(%tenant, status, %body, suppressed, "Remote write will be retried.");
                }
            }
            Verdict::Rejected(_) => {
                if let Some(suppressed) = self.reject_log.allow() {
                    tracing::error!(
                        %tenant, status, %body, suppressed,
                        "Receiver refused the remote write; its samples are rejected."
                    );
                }
            }
        }
    }
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
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses_by_remote_write_rules() {
        for status in [200, 204, 202] {
            assert_eq!(classify_status(status), Verdict::Accepted, "{status}");
        }
        for status in [429, 500, 502, 503, 504] {
            assert_eq!(classify_status(status), Verdict::Retry, "{status}");
        }
        for status in [400, 401, 403, 404, 408, 409, 413] {
            assert_eq!(
                classify_status(status),
                Verdict::Rejected(RejectClass::Client),
                "{status}"
            );
        }
        assert_eq!(classify_status(302), Verdict::Rejected(RejectClass::Other));
        assert_eq!(classify_status(100), Verdict::Rejected(RejectClass::Other));
    }

    #[tokio::test]
    async fn connection_errors_are_retried_and_build_errors_are_not() {
        crate::exporters::http::install_crypto_provider();
        let client = reqwest::Client::new();
        // Port 9 (discard) on loopback refuses connections on test machines.
        let refused = client
            .post("http://127.0.0.1:9/")
            .send()
            .await
            .expect_err("refused");
        assert_eq!(classify_error(&refused), Verdict::Retry);
        let unbuildable = client.post("not a url").send().await.expect_err("bad url");
        assert_eq!(
            classify_error(&unbuildable),
            Verdict::Rejected(RejectClass::Other)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn log_limiter_lets_one_through_per_interval() {
        let limiter = LogLimiter::new();
        assert_eq!(limiter.allow(), Some(0));
        assert_eq!(limiter.allow(), None);
        tokio::time::advance(LOG_INTERVAL).await;
        assert_eq!(limiter.allow(), Some(1));
    }
}
