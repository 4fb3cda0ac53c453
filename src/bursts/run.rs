//! The own volume of a burst: a generator thread paced on the virtual clock, the burst's data
//! anomalies applied to its batches, and its own exporter instances.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::request::{Checked, RateSpec, Refusal};
use super::{Burst, Volume};
use crate::anomaly::Registry;
use crate::config::Config;
use crate::exporters::{Exporter, ExporterContext, ExporterInput, StopSignal};
use crate::model::{Batch, Signal};
use crate::pipeline::clock::Clock;
use crate::pipeline::stats::{ComponentStats, DropReason};
use crate::processors::Processor;
use crate::processors::inject_anomaly::InjectAnomaly;
use crate::sources::{BUCKET_NS, BuildContext, Source, TenantSpec, Window};

/// Spans per trace the `traces` source makes on average, to turn a span rate into traces.
const SPANS_PER_TRACE: f64 = 6.0;

/// Sources and exporters of a burst's volume, built before the burst is accepted.
pub struct Prepared {
    sources: Vec<(Signal, Box<dyn Source>)>,
    exporters: Vec<(Box<dyn Exporter>, usize)>,
}

/// Builds the sources and exporter instances of a checked request.
pub fn prepare(
    checked: &Checked,
    exporters: &[(String, &'static str)],
    seed: u64,
    burst_id: &str,
    config: &Config,
    registry: &Arc<Registry>,
) -> Result<Prepared, Refusal> {
    let Some(rate) = &checked.rate else {
        return Ok(Prepared {
            sources: Vec::new(),
            exporters: Vec::new(),
        });
    };
    let tenant = &checked.request.tenant;
    let tenant_config = config.tenants.get(tenant).cloned().unwrap_or_default();
    let context = BuildContext {
        seed,
        component_id: burst_id.to_string(),
        tenants: vec![TenantSpec {
            id: Arc::from(tenant.as_str()),
            scale: 1.0,
            model: tenant_config.model,
        }],
        anomalies: Arc::clone(registry),
    };
    let peak = rate.peak().max(1.0);
    let mut sources: Vec<(Signal, Box<dyn Source>)> = Vec::new();
    for signal in &checked.volume_signals {
        let source: Box<dyn Source> = match signal {
            Signal::Logs => {
                let dialect = checked.request.dialect.as_deref().unwrap_or("json");
                let config: crate::sources::logs::LogsSourceConfig =
                    serde_json::from_value(serde_json::json!({
                        "dialect": dialect,
                        "lines_per_second": peak,
                    }))
                    .map_err(|error| Refusal::invalid("dialect", error.to_string()))?;
                Box::new(
                    config
                        .build(&context)
                        .map_err(|error| Refusal::invalid("dialect", error))?,
                )
            }
            Signal::Traces => {
                let config: crate::sources::traces::TracesSourceConfig =
                    serde_json::from_value(serde_json::json!({
                        "traces_per_second": (peak / SPANS_PER_TRACE).max(1.0),
                    }))
                    .map_err(|error| Refusal::invalid("rate", error.to_string()))?;
                Box::new(
                    config
                        .build(&context)
                        .map_err(|error| Refusal::invalid("rate", error))?,
                )
            }
            Signal::Metrics => {
                return Err(Refusal::invalid("signals", "own volume is logs or traces"));
            }
        };
        sources.push((*signal, source));
    }
    let mut built = Vec::new();
    for (i, (id, _)) in exporters.iter().enumerate() {
        let Some(exporter_config) = config.exporters.get(id) else {
            return Err(Refusal::invalid(
                &format!("exporters[{i}]"),
                "no such exporter",
            ));
        };
        let exporter = exporter_config
            .build(&ExporterContext {
                anomalies: Default::default(),
                id: format!("{burst_id}/{id}"),
                target_sets: Vec::new(),
            })
            .map_err(|error| Refusal::invalid(&format!("exporters[{i}]"), error))?;
        built.push((exporter, exporter_config.queue_capacity().max(1)));
    }
    Ok(Prepared {
        sources,
        exporters: built,
    })
}

/// Starts the volume of `burst`: exporter tasks on `runtime`, the generator on a thread.
pub fn spawn(
    runtime: &tokio::runtime::Handle,
    burst: Arc<Burst>,
    prepared: Prepared,
    checked: &Checked,
    registry: Arc<Registry>,
    clock: Clock,
    accepted: Instant,
) {
    let Some(volume) = burst.volume.clone() else {
        return;
    };
    let Some(rate) = checked.rate.clone() else {
        volume.done.store(true, Ordering::Relaxed);
        return;
    };
    let mut lanes = Vec::new();
    let mut tasks = Vec::new();
    for ((exporter, capacity), stats) in prepared.exporters.into_iter().zip(&volume.exporters) {
        let (tx, rx) = mpsc::channel(capacity);
        stats.set_queue(0, capacity);
        let input = ExporterInput {
            rx,
            stats: Arc::clone(stats),
            stop: StopSignal::never(),
        };
        tasks.push(runtime.spawn(exporter.run(input)));
        lanes.push((tx, Arc::clone(stats)));
    }
    let generator = Generator {
        burst: Arc::clone(&burst),
        volume: Arc::clone(&volume),
        sources: prepared.sources,
        lanes,
        inject: InjectAnomaly::stage(registry),
        clock,
        rate,
        accepted,
    };
    let (finished_tx, finished_rx) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name(format!("burst-{}", burst.id))
        .spawn(move || {
            generator.run();
            let _ = finished_tx.send(());
        });
    if let Err(error) = spawned {
        let _ = volume
            .failure
            .set(format!("cannot start the generator thread: {error}"));
        volume.done.store(true, Ordering::Relaxed);
        return;
    }
    runtime.spawn(async move {
        let _ = finished_rx.await;
        for task in tasks {
            let _ = task.await;
        }
        volume.done.store(true, Ordering::Relaxed);
        tracing::info!(
            burst = %burst.id,
            generated = volume.generated.load(Ordering::Relaxed),
            "Burst volume delivered."
        );
    });
}

struct Generator {
    burst: Arc<Burst>,
    volume: Arc<Volume>,
    sources: Vec<(Signal, Box<dyn Source>)>,
    lanes: Vec<(mpsc::Sender<Batch>, Arc<ComponentStats>)>,
    inject: InjectAnomaly,
    clock: Clock,
    rate: RateSpec,
    accepted: Instant,
}

impl Generator {
    fn run(mut self) {
        let start = self.burst.start_ns;
        let end = self.burst.end_ns;
        let span = (end - start).max(1) as f64;
        let mut carry = 0.0;
        let mut window_start = start;
        let mut batches = Vec::new();
        let mut staged = Vec::new();
        while window_start < end && !self.burst.is_cancelled() {
            let wait = self.clock.until(window_start);
            if !wait.is_zero() {
                std::thread::sleep(wait.min(Duration::from_millis(20)));
                continue;
            }
            let window_end = (window_start + BUCKET_NS).min(end);
            let x = ((window_start + window_end) / 2 - start) as f64 / span;
            let budget = self.rate.at(x) * (window_end - window_start) as f64 / 1e9 + carry;
            let mut records = budget.floor().max(0.0) as u64;
            carry = budget - records as f64;
            let generated = self.volume.generated.load(Ordering::Relaxed);
            if let Some(target) = self.volume.target {
                records = records.min(target.saturating_sub(generated));
            }
            let signals = self.sources.len().max(1) as u64;
            for (index, (_, source)) in self.sources.iter_mut().enumerate() {
                let share = records / signals + u64::from((index as u64) < records % signals);
                if share == 0 {
                    continue;
                }
                source.generate(Window::new(window_start, window_end), &mut batches);
                for batch in batches.drain(..) {
                    staged.push(truncate(batch, share as usize));
                }
            }
            let mut out = Vec::new();
            for batch in staged.drain(..) {
                self.inject.process(batch, &mut out);
            }
            for batch in out {
                if batch.is_empty() {
                    continue;
                }
                self.volume
                    .generated
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                self.offer(batch);
            }
            window_start = window_end;
            if self
                .volume
                .target
                .is_some_and(|t| self.volume.generated.load(Ordering::Relaxed) >= t)
            {
                break;
            }
        }
    }

    fn offer(&self, batch: Batch) {
        for (tx, stats) in &self.lanes {
            let records = batch.len() as u64;
            let tenant = Arc::clone(batch.tenant());
            let signal = batch.signal();
            match tx.try_send(batch.clone()) {
                Ok(()) => {
                    let _ = self
                        .volume
                        .first_batch_ms
                        .set(self.accepted.elapsed().as_secs_f64() * 1e3);
                }
                Err(error) => {
                    let reason = match error {
                        mpsc::error::TrySendError::Full(_) => DropReason::QueueFull,
                        mpsc::error::TrySendError::Closed(_) => DropReason::Shutdown,
                    };
                    let delivery = stats.delivery(&tenant, signal);
                    delivery.add_generated(records);
                    delivery.add_dropped(reason, records);
                }
            }
        }
    }
}

/// Keeps the first `records` records of a batch; for spans, whole traces.
fn truncate(batch: Batch, records: usize) -> Batch {
    match batch {
        Batch::Logs(mut logs) => {
            logs.entries.truncate(records);
            Batch::Logs(logs)
        }
        Batch::Traces(mut spans) => {
            if spans.spans.len() > records {
                let keep: HashSet<[u8; 16]> = spans
                    .spans
                    .iter()
                    .take(records)
                    .map(|s| s.trace_id)
                    .collect();
                spans.spans.retain(|s| keep.contains(&s.trace_id));
            }
            Batch::Traces(spans)
        }
        Batch::Metrics(mut metrics) => {
            metrics.samples.truncate(records);
            Batch::Metrics(metrics)
        }
    }
}
