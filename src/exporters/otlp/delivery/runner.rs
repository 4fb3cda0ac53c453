//! The runner of the `otlp` exporter: the one task that owns every (tenant, signal) lane,
//! merges incoming batches into a lane's pending batch, seals it by size, age or end of input,
//! starts at most `concurrency` requests at once, and counts what a stop leaves unsent.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::task::{self, JoinError, JoinSet};
use tokio::time::Instant;

use super::grpc::grpc_clients;
use super::seal::Sealer;
use super::send::Sender;
use super::{LANE_QUEUE_REQUESTS, LaneKey, LogLimiter, Request, Settings};
use crate::exporters::ExporterInput;
use crate::exporters::otlp::convert::StartTimes;
use crate::exporters::otlp::encode::SpanEncoder;
use crate::exporters::otlp::{Compression, Protocol, signal_slot};
use crate::model::Batch;
use crate::pipeline::stats::{Delivery, DropReason};

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

pub(super) struct Runner {
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

impl Runner {
    pub(super) fn new(
        settings: Settings,
        input: ExporterInput,
    ) -> Result<Self, (ExporterInput, String)> {
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

    pub(super) async fn run(mut self) {
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

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
