//! The runner of the `prometheus_remote_write` exporter: the one task that owns every tenant's
//! shards, appends incoming samples to their series' shard, seals a shard's pending batch by
//! size, age or end of input, starts each shard's next request, and counts what a stop leaves
//! unsent.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;
use tokio::task::{self, JoinError, JoinSet};
use tokio::time::Instant;

use super::send::Sender;
use super::{LogLimiter, Request, SHARD_QUEUE_REQUESTS, Settings, ShardKey, Target};
use crate::exporters::ExporterInput;
use crate::exporters::remote_write::encode::{EncodeOptions, WriteEncoder};
use crate::exporters::remote_write::write_url;
use crate::model::metrics::Series;
use crate::model::{Batch, MetricBatch, Signal, TenantId};
use crate::pipeline::stats::{Delivery, DropReason};

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

pub(super) struct Runner {
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
    pub(super) fn new(settings: Settings, input: ExporterInput) -> Self {
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

    pub(super) async fn run(mut self) {
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

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
