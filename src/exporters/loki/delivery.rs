//! Delivery of Loki push requests: per-tenant batching, bounded queues, concurrency and retry.
//!
//! One task (the runner) owns every tenant's state. It merges incoming batches into the tenant's
//! pending batch and seals a request when the pending line bytes reach `batch.max_bytes`, when
//! the oldest pending entry is `batch.max_age` old, or when the input closes. Sealed requests
//! wait in a small per-tenant queue; when it is full the newest request is dropped
//! (`queue_full`), so memory stays bounded whatever Loki does. A tenant has at most one request
//! in flight, which keeps each stream's entries in order across requests, and at most
//! `concurrency` tenants send at once, each in its own task that retries until done.
//!
//! Known shortcomings: the exporter always drops when a tenant's queue is full, which is the
//! live-mode rule; backfill should instead stop reading its input so that generation slows, but
//! [`ExporterInput`] does not say which mode runs yet. A single incoming batch larger than
//! `batch.max_bytes` is sent whole rather than split.

use crate::exporters::log_limiter::LogLimiter;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use tokio::task::{self, JoinError, JoinSet};
use tokio::time::Instant;

use super::Encoding;
use super::encode::PushEncoder;
use crate::exporters::http::HttpClient;
use crate::exporters::retry::{Backoff, RetryConfig, parse_retry_after};
use crate::exporters::{Exporter, ExporterInput, ExporterTask, StopSignal};
use crate::model::{Batch, LogBatch, Signal, TenantId};
use crate::pipeline::stats::{Delivery, DropReason, RejectClass};
use crate::random::mix64;

/// Sealed requests a tenant may have waiting behind its request in flight.
pub const TENANT_QUEUE_REQUESTS: usize = 4;

/// Longest part of a response body written to the log.
const LOGGED_BODY_BYTES: usize = 1024;

/// What a response means for the records of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Loki stored them.
    Accepted,
    /// Loki refused them for good.
    Rejected(RejectClass),
    /// Try again after a backoff.
    Retry,
}

/// The verdict of a Loki push response status (WIRE.md §2): 200 and 204 accept; another 2xx
/// (Loki's ingestion block answers 260) is a refusal; 429 and 5xx are retried; any other 4xx
/// (400 bad entries, 401, 403, 413) is final.
pub fn classify_status(status: u16) -> Verdict {
    match status {
        200 | 204 => Verdict::Accepted,
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

/// Everything the exporter needs, validated by [`super::LokiConfig::build`].
#[derive(Debug)]
pub(super) struct Settings {
    pub url: Url,
    pub tenant_header: HeaderName,
    pub encoding: Encoding,
    pub concurrency: usize,
    pub max_bytes: u64,
    pub max_age: Duration,
    pub retry: RetryConfig,
    pub http: HttpClient,
}

/// The running `loki` exporter.
#[derive(Debug)]
pub struct LokiExporter {
    settings: Settings,
}

impl LokiExporter {
    pub(super) fn new(settings: Settings) -> Self {
        LokiExporter { settings }
    }
}

impl Exporter for LokiExporter {
    fn run(self: Box<Self>, input: ExporterInput) -> ExporterTask {
        Box::pin(Runner::new(self.settings, input).run())
    }
}

/// A sealed push request of one tenant.
struct Request {
    tenant: TenantId,
    delivery: Arc<Delivery>,
    body: Bytes,
    records: u64,
}

/// Per-tenant state, owned by the runner.
struct TenantState {
    delivery: Arc<Delivery>,
    pending: LogBatch,
    pending_bytes: u64,
    oldest: Option<Instant>,
    queue: VecDeque<Request>,
    in_flight: bool,
    scheduled: bool,
}

/// What the sending tasks share.
struct Sender {
    url: Url,
    tenant_header: HeaderName,
    content_type: HeaderValue,
    retry: RetryConfig,
    http: HttpClient,
    sequence: AtomicU64,
    retry_log: LogLimiter,
    reject_log: LogLimiter,
    exhausted_log: LogLimiter,
}

struct Runner {
    sender: Arc<Sender>,
    encoding: Encoding,
    concurrency: usize,
    max_bytes: u64,
    max_age: Duration,
    encoder: PushEncoder,
    tenants: HashMap<TenantId, TenantState>,
    ready: VecDeque<TenantId>,
    tasks: JoinSet<TenantId>,
    task_tenants: HashMap<task::Id, TenantId>,
    input: ExporterInput,
    queue_full_log: LogLimiter,
}

impl Runner {
    fn new(settings: Settings, input: ExporterInput) -> Self {
        let content_type = HeaderValue::from_static(settings.encoding.content_type());
        let sender = Sender {
            url: settings.url,
            tenant_header: settings.tenant_header,
            content_type,
            retry: settings.retry,
            http: settings.http,
            sequence: AtomicU64::new(0),
            retry_log: LogLimiter::new(),
            reject_log: LogLimiter::new(),
            exhausted_log: LogLimiter::new(),
        };
        Runner {
            sender: Arc::new(sender),
            encoding: settings.encoding,
            concurrency: settings.concurrency,
            max_bytes: settings.max_bytes,
            max_age: settings.max_age,
            encoder: PushEncoder::new(),
            tenants: HashMap::new(),
            ready: VecDeque::new(),
            tasks: JoinSet::new(),
            task_tenants: HashMap::new(),
            input,
            queue_full_log: LogLimiter::new(),
        }
    }

    async fn run(mut self) {
        let mut endpoint = self.sender.url.clone();
        // Credentials in the URL stay out of the log.
        let _ = endpoint.set_password(None);
        tracing::info!(%endpoint, "Loki exporter started.");
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
        let tenants: Vec<TenantId> = self.tenants.keys().cloned().collect();
        for tenant in tenants {
            self.seal(&tenant);
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
        let batch = match batch {
            Batch::Logs(batch) => batch,
            other => {
                // Configuration validation routes only logs here; count anything else.
                let delivery = self.tenant(other.tenant()).delivery.clone();
                delivery.add_generated(other.len() as u64);
                delivery.add_dropped(DropReason::WriteFailed, other.len() as u64);
                return;
            }
        };
        let records = batch.entries.len() as u64;
        let tenant = Arc::clone(&batch.tenant);
        let state = self.tenant(&tenant);
        state.delivery.add_generated(records);
        if records == 0 {
            return;
        }
        let bytes = batch.line_bytes() as u64;
        if state.pending_bytes > 0 && state.pending_bytes + bytes > self.max_bytes {
            self.seal(&tenant);
        }
        let state = self.tenant(&tenant);
        if state.pending.entries.is_empty() {
            state.pending = batch;
            state.oldest = Some(Instant::now());
        } else {
            merge(&mut state.pending, &batch);
        }
        state.pending_bytes += bytes;
        if state.pending_bytes >= self.max_bytes {
            self.seal(&tenant);
        }
    }

    fn tenant(&mut self, tenant: &TenantId) -> &mut TenantState {
        let stats = &self.input.stats;
        self.tenants
            .entry(Arc::clone(tenant))
            .or_insert_with(|| TenantState {
                delivery: stats.delivery(tenant, Signal::Logs),
                pending: LogBatch::new(Arc::clone(tenant)),
                pending_bytes: 0,
                oldest: None,
                queue: VecDeque::new(),
                in_flight: false,
                scheduled: false,
            })
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.tenants
            .values()
            .filter_map(|state| state.oldest)
            .min()
            .map(|t| t + self.max_age)
    }

    fn seal_expired(&mut self) {
        let now = Instant::now();
        let expired: Vec<TenantId> = self
            .tenants
            .iter()
            .filter(|(_, state)| state.oldest.is_some_and(|t| t + self.max_age <= now))
            .map(|(tenant, _)| Arc::clone(tenant))
            .collect();
        for tenant in expired {
            self.seal(&tenant);
        }
    }

    /// Turns the tenant's pending entries into a request at the back of its queue, or drops
    /// them when the queue is full.
    fn seal(&mut self, tenant: &TenantId) {
        let Some(state) = self.tenants.get_mut(tenant) else {
            return;
        };
        let records = state.pending.entries.len() as u64;
        state.pending_bytes = 0;
        state.oldest = None;
        if records == 0 {
            return;
        }
        if state.queue.len() >= TENANT_QUEUE_REQUESTS {
            state.delivery.add_dropped(DropReason::QueueFull, records);
            state.pending.clear();
            if let Some(suppressed) = self.queue_full_log.allow() {
                tracing::warn!(
                    %tenant, records, suppressed,
                    "Loki push queue of the tenant is full; the newest records are dropped."
                );
            }
            return;
        }
        let mut body = Vec::new();
        match self.encoding {
            Encoding::Protobuf => self.encoder.encode_protobuf(&state.pending, &mut body),
            Encoding::Json => self.encoder.encode_json(&state.pending, &mut body),
        }
        state.pending.clear();
        let delivery = Arc::clone(&state.delivery);
        let request = Request {
            tenant: Arc::clone(tenant),
            delivery,
            body: body.into(),
            records,
        };
        state.queue.push_back(request);
        if !state.in_flight && !state.scheduled {
            state.scheduled = true;
            self.ready.push_back(Arc::clone(tenant));
        }
    }

    /// Starts requests of ready tenants while fewer than `concurrency` are in flight.
    fn dispatch(&mut self) {
        while self.tasks.len() < self.concurrency {
            let Some(tenant) = self.ready.pop_front() else {
                return;
            };
            let Some(state) = self.tenants.get_mut(&tenant) else {
                continue;
            };
            state.scheduled = false;
            let Some(request) = state.queue.pop_front() else {
                continue;
            };
            state.in_flight = true;
            let sender = Arc::clone(&self.sender);
            let stop = self.input.stop.clone();
            let handle = self.tasks.spawn(sender.deliver(request, stop));
            self.task_tenants.insert(handle.id(), tenant);
        }
    }

    /// Frees the tenant of a finished request and schedules its next one.
    fn finished(&mut self, joined: Result<(task::Id, TenantId), JoinError>) {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(error) => {
                tracing::error!(%error, "Loki push task failed; its records are lost uncounted.");
                error.id()
            }
        };
        let Some(tenant) = self.task_tenants.remove(&id) else {
            return;
        };
        let Some(state) = self.tenants.get_mut(&tenant) else {
            return;
        };
        state.in_flight = false;
        if !state.queue.is_empty() && !state.scheduled {
            state.scheduled = true;
            self.ready.push_back(tenant);
        }
    }

    /// After the stop signal: counts what was never sent as dropped `shutdown` and waits for the
    /// tasks in flight, which count their own records.
    async fn drop_everything_left(&mut self) {
        self.input.rx.close();
        while let Ok(batch) = self.input.rx.try_recv() {
            let records = batch.len() as u64;
            let delivery = self.tenant(batch.tenant()).delivery.clone();
            delivery.add_generated(records);
            delivery.add_dropped(DropReason::Shutdown, records);
        }
        for state in self.tenants.values_mut() {
            let queued: u64 = state.queue.drain(..).map(|request| request.records).sum();
            let pending = state.pending.entries.len() as u64;
            state.pending.clear();
            state
                .delivery
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
                "Loki exporter stopped."
            );
        } else {
            tracing::warn!(
                accepted = total.accepted, rejected = ?total.rejected, dropped = ?total.dropped,
                "Loki exporter stopped with records dropped."
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
    /// the outcome. Returns the tenant, for the runner's bookkeeping.
    async fn deliver(self: Arc<Self>, request: Request, mut stop: StopSignal) -> TenantId {
        let Request {
            tenant,
            delivery,
            body,
            records,
        } = request;
        delivery.add_sent(records);
        let seed = mix64(self.sequence.fetch_add(1, Ordering::Relaxed));
        let mut backoff = Backoff::new(&self.retry, seed);
        loop {
            delivery.add_request(body.len() as u64);
            let attempt = tokio::select! {
                biased;
                () = stop.triggered() => {
                    delivery.add_dropped(DropReason::Shutdown, records);
                    return tenant;
                }
                attempt = self.attempt(&tenant, body.clone()) => attempt,
            };
            let retry_after = match attempt {
                Attempt::Done(Verdict::Accepted) => {
                    delivery.add_accepted(records);
                    return tenant;
                }
                Attempt::Done(Verdict::Rejected(class)) => {
                    delivery.add_rejected(class, records);
                    return tenant;
                }
                Attempt::Done(Verdict::Retry) => None,
                Attempt::Retry(retry_after) => retry_after,
            };
            let Some(wait) = backoff.next_wait(retry_after) else {
                delivery.add_dropped(DropReason::RetriesExhausted, records);
                if let Some(suppressed) = self.exhausted_log.allow() {
                    tracing::error!(
                        %tenant, records, retries = backoff.retries(), suppressed,
                        "Loki push kept failing until the retry budget ran out; records dropped."
                    );
                }
                return tenant;
            };
            tokio::select! {
                biased;
                () = stop.triggered() => {
                    delivery.add_dropped(DropReason::Shutdown, records);
                    return tenant;
                }
                () = tokio::time::sleep(wait) => {}
            }
            delivery.add_retried(records);
        }
    }

    /// One POST of `body`, classified.
    async fn attempt(&self, tenant: &TenantId, body: Bytes) -> Attempt {
        let Ok(tenant_value) = HeaderValue::from_str(tenant) else {
            tracing::error!(%tenant, "Tenant id is not a valid header value; records rejected.");
            return Attempt::Done(Verdict::Rejected(RejectClass::Other));
        };
        let request = self
            .http
            .apply(self.http.client().post(self.url.clone()))
            .header(CONTENT_TYPE, self.content_type.clone())
            .header(&self.tenant_header, tenant_value)
            .body(body);
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let verdict = classify_error(&error);
                if let Some(suppressed) = self.retry_log.allow() {
                    tracing::warn!(%tenant, %error, suppressed, "Loki push failed to get a response.");
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
                    tracing::warn!(%tenant, status, %body, suppressed, "Loki push will be retried.");
                }
            }
            Verdict::Rejected(_) => {
                if let Some(suppressed) = self.reject_log.allow() {
                    tracing::error!(
                        %tenant, status, %body, suppressed,
                        "Loki refused the push; its records are rejected."
                    );
                }
            }
        }
    }
}

/// Appends `from`'s entries (same tenant) to `into`, mapping streams once per stream rather than
/// once per entry.
fn merge(into: &mut LogBatch, from: &LogBatch) {
    let streams: Vec<u32> = from
        .streams
        .iter()
        .map(|labels| {
            let found = into.streams.iter().position(|known| {
                Arc::ptr_eq(known, labels)
                    || (known.hash_value() == labels.hash_value() && **known == **labels)
            });
            found.unwrap_or_else(|| {
                into.streams.push(Arc::clone(labels));
                into.streams.len() - 1
            }) as u32
        })
        .collect();
    let text_offset = into.text.len() as u32;
    let metadata_offset = into.metadata.len() as u32;
    into.text.extend_from_slice(&from.text);
    into.metadata.extend(from.metadata.iter().map(|pair| {
        let mut pair = pair.clone();
        pair.value.start += text_offset;
        pair
    }));
    into.entries.extend(from.entries.iter().map(|entry| {
        let mut entry = entry.clone();
        entry.stream = streams[entry.stream as usize];
        entry.line.start += text_offset;
        entry.metadata =
            entry.metadata.start + metadata_offset..entry.metadata.end + metadata_offset;
        entry
    }));
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
    use crate::model::{Labels, Severity};

    #[test]
    fn classifies_statuses_by_loki_rules() {
        assert_eq!(classify_status(204), Verdict::Accepted);
        assert_eq!(classify_status(200), Verdict::Accepted);
        assert_eq!(classify_status(260), Verdict::Rejected(RejectClass::Other));
        assert_eq!(classify_status(202), Verdict::Rejected(RejectClass::Other));
        assert_eq!(classify_status(429), Verdict::Retry);
        assert_eq!(classify_status(500), Verdict::Retry);
        assert_eq!(classify_status(503), Verdict::Retry);
        for status in [400, 401, 403, 404, 408, 413] {
            assert_eq!(
                classify_status(status),
                Verdict::Rejected(RejectClass::Client),
                "{status}"
            );
        }
        assert_eq!(classify_status(302), Verdict::Rejected(RejectClass::Other));
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

    #[test]
    fn merge_maps_streams_and_rebases_spans() {
        let cart = Arc::new(Labels::new([("app", "cart")]).expect("labels"));
        let shop = Arc::new(Labels::new([("app", "shop")]).expect("labels"));
        let mut into = LogBatch::new("t".into());
        let s = into.stream_index(&cart);
        into.push_line(s, 1, Severity::Info, b"one");
        let mut from = LogBatch::new("t".into());
        let shop_index = from.stream_index(&shop);
        let cart_copy = from.stream_index(&Arc::new((*cart).clone()));
        from.push_metadata("user_id", b"u-7");
        from.push_line(cart_copy, 2, Severity::Info, b"two");
        from.entries[0].metadata = 0..1;
        from.push_line(shop_index, 3, Severity::Info, b"three");

        merge(&mut into, &from);

        assert_eq!(into.streams.len(), 2);
        let lines: Vec<&[u8]> = into.entries.iter().map(|e| into.line(e)).collect();
        assert_eq!(lines, [&b"one"[..], b"two", b"three"]);
        assert_eq!(into.entries[1].stream, 0);
        assert_eq!(into.entries[2].stream, 1);
        let pair = &into.metadata_of(&into.entries[1])[0];
        assert_eq!(into.text_of(pair.value), b"u-7");
    }

    #[tokio::test(start_paused = true)]
    async fn log_limiter_lets_one_through_per_interval() {
        let limiter = LogLimiter::new();
        assert_eq!(limiter.allow(), Some(0));
        assert_eq!(limiter.allow(), None);
        assert_eq!(limiter.allow(), None);
        tokio::time::advance(crate::exporters::log_limiter::LOG_INTERVAL).await;
        assert_eq!(limiter.allow(), Some(2));
    }
}
