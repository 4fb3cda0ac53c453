//! The pipeline runtime: sources → processors → fan-out → exporters.
//!
//! [`Topology::build`] turns a validated [`Config`] into running parts and wires them with bounded
//! channels: each source runs on its own thread and feeds one queue per pipeline that names it;
//! each pipeline runs its processors in one task and fans batches out to one queue per exporter;
//! each exporter runs as one task. In live mode no queue ever blocks its producer: a full queue
//! drops the newest batch and counts it as `queue_full`. Shutdown travels downstream: sources
//! stop, pipelines drain and close, exporters flush until the deadline.

pub mod clock;
mod source_thread;
pub mod stats;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::anomaly::Registry;
use crate::config::Config;
use crate::exporters::{Exporter, ExporterContext, ExporterInput, StopSignal};
use crate::model::metrics::TargetSet;
use crate::model::{Batch, Signal};
use crate::processors::inject_anomaly::InjectAnomaly;
use crate::processors::{Processor, ProcessorConfig, ProcessorContext};
use crate::sources::{BuildContext, Source, TenantSpec};
use clock::Clock;
use stats::{ComponentStats, DropReason, Stats};

/// Capacity of each pipeline's input queue, in batches.
pub const PIPELINE_QUEUE_CAPACITY: usize = 64;

/// Tenants of a component, resolved from its `tenants` list (every tenant when absent).
pub fn resolve_tenants(config: &Config, names: Option<&[String]>) -> Vec<TenantSpec> {
    let spec = |id: &String| {
        let tenant = config.tenants.get(id).cloned().unwrap_or_default();
        TenantSpec {
            id: Arc::from(id.as_str()),
            scale: tenant.scale,
            model: tenant.model,
        }
    };
    match names {
        Some(names) => names.iter().map(spec).collect(),
        None => config.tenants.keys().map(spec).collect(),
    }
}

/// Builds every source that some pipeline names, with no routes yet.
fn build_sources(
    config: &Config,
    stats: &Arc<Stats>,
    anomalies: &Arc<Registry>,
    errors: &mut Vec<String>,
) -> BTreeMap<String, (Box<dyn Source>, Vec<Route>)> {
    let mut built = BTreeMap::new();
    for (id, source_config) in &config.sources {
        if !config.pipelines.values().any(|p| p.sources.contains(id)) {
            tracing::warn!(source = %id, "Source is in no pipeline; it will not run.");
            continue;
        }
        stats.component("source", id, source_config.type_name());
        let context = BuildContext {
            seed: config.seed,
            component_id: id.clone(),
            tenants: resolve_tenants(config, source_config.tenants()),
            anomalies: Arc::clone(anomalies),
        };
        match source_config.build(&context) {
            Ok(source) => {
                built.insert(id.clone(), (source, Vec::new()));
            }
            Err(error) => errors.push(format!("sources.{id}: {error}")),
        }
    }
    built
}

/// One output of a source: the queue of a pipeline of one signal.
#[derive(Clone)]
pub(crate) struct Route {
    signal: Signal,
    tx: mpsc::Sender<Batch>,
    stats: Arc<ComponentStats>,
}

struct SourcePart {
    id: String,
    source: Box<dyn Source>,
    routes: Vec<Route>,
    stats: Arc<ComponentStats>,
}

struct PipelinePart {
    rx: mpsc::Receiver<Batch>,
    processors: Vec<Box<dyn Processor>>,
    exporters: Vec<Route>,
    stats: Arc<ComponentStats>,
}

struct ExporterPart {
    exporter: Box<dyn Exporter>,
    rx: mpsc::Receiver<Batch>,
    stats: Arc<ComponentStats>,
    /// A pull exporter serves until the sources stop, rather than until a flush deadline.
    pull: bool,
}

/// The built, not yet running, parts of a configuration.
pub struct Topology {
    sources: Vec<SourcePart>,
    pipelines: Vec<PipelinePart>,
    exporters: Vec<ExporterPart>,
}

impl Topology {
    /// Builds every component; on failure, returns every build error at once.
    pub fn build(
        config: &Config,
        stats: &Arc<Stats>,
        anomalies: &Arc<Registry>,
    ) -> Result<Topology, Vec<String>> {
        let mut errors = Vec::new();
        let mut built_sources = build_sources(config, stats, anomalies, &mut errors);

        // Target sets of every source, collected per exporter through the pipelines naming it.
        let mut target_sets: BTreeMap<&str, Vec<Arc<dyn TargetSet>>> = BTreeMap::new();
        for pipeline in config.pipelines.values() {
            for source in &pipeline.sources {
                let Some(set) = built_sources.get(source).and_then(|(s, _)| s.target_set()) else {
                    continue;
                };
                for exporter in &pipeline.exporters {
                    let sets = target_sets.entry(exporter.as_str()).or_default();
                    if !sets.iter().any(|known| Arc::ptr_eq(known, &set)) {
                        sets.push(Arc::clone(&set));
                    }
                }
            }
        }

        let mut exporter_txs = BTreeMap::new();
        let mut exporters = Vec::new();
        for (id, exporter_config) in &config.exporters {
            let component = stats.component("exporter", id, exporter_config.type_name());
            let capacity = exporter_config.queue_capacity().max(1);
            let (tx, rx) = mpsc::channel(capacity);
            component.set_queue(0, capacity);
            let context = ExporterContext {
                anomalies: Arc::clone(anomalies),
                id: id.clone(),
                target_sets: target_sets.remove(id.as_str()).unwrap_or_default(),
            };
            match exporter_config.build(&context) {
                Ok(exporter) => {
                    if !exporter_config.is_pull() {
                        exporter_txs.insert(id.clone(), (tx, Arc::clone(&component)));
                    }
                    exporters.push(ExporterPart {
                        pull: exporter_config.is_pull(),
                        exporter,
                        rx,
                        stats: component,
                    });
                }
                Err(error) => errors.push(format!("exporters.{id}: {error}")),
            }
        }

        let mut pipelines = Vec::new();
        for (id, pipeline) in &config.pipelines {
            let Some(signal) = Config::pipeline_signal(id) else {
                continue;
            };
            let component = stats.component("pipeline", id, signal.as_str());
            let (tx, rx) = mpsc::channel(PIPELINE_QUEUE_CAPACITY);
            component.set_queue(0, PIPELINE_QUEUE_CAPACITY);
            let mut processors = Vec::new();
            let mut injects = false;
            for processor_id in &pipeline.processors {
                let context = ProcessorContext {
                    id: processor_id.clone(),
                    seed: config.seed,
                    config_hash: config.hash(),
                    anomalies: Arc::clone(anomalies),
                };
                let processor_config = config.processors.get(processor_id);
                injects |= matches!(processor_config, Some(ProcessorConfig::InjectAnomaly(_)));
                match processor_config.map(|p| p.build(&context)) {
                    Some(Ok(processor)) => processors.push(processor),
                    Some(Err(error)) => errors.push(format!("processors.{processor_id}: {error}")),
                    None => errors.push(format!("pipelines.{id}: no processor {processor_id:?}")),
                }
            }
            // Every pipeline applies the anomalies of bursts, at its end unless placed.
            if !injects {
                processors.push(Box::new(InjectAnomaly::stage(Arc::clone(anomalies))));
            }
            let routes: Vec<Route> = pipeline
                .exporters
                .iter()
                .filter_map(|exporter| exporter_txs.get(exporter))
                .map(|(tx, stats)| Route {
                    signal,
                    tx: tx.clone(),
                    stats: Arc::clone(stats),
                })
                .collect();
            // A pipeline whose exporters all pull needs no batches from its sources.
            if !routes.is_empty() {
                for source in &pipeline.sources {
                    if let Some((_, source_routes)) = built_sources.get_mut(source) {
                        source_routes.push(Route {
                            signal,
                            tx: tx.clone(),
                            stats: Arc::clone(&component),
                        });
                    }
                }
            }
            pipelines.push(PipelinePart {
                rx,
                processors,
                exporters: routes,
                stats: component,
            });
        }

        let sources = built_sources
            .into_iter()
            .filter(|(_, (_, routes))| !routes.is_empty())
            .map(|(id, (source, routes))| {
                let stats = stats.component("source", &id, config.sources[&id].type_name());
                SourcePart {
                    id,
                    source,
                    routes,
                    stats,
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(Topology {
                sources,
                pipelines,
                exporters,
            })
        } else {
            Err(errors)
        }
    }

    /// Starts every part on the current tokio runtime, generating from the clock's now.
    pub fn start(self, clock: Clock) -> RunningTopology {
        let (stop_tx, stop) = StopSignal::new();
        let (sources_stopped_tx, sources_stopped) = StopSignal::new();
        let mut exporter_tasks = JoinSet::new();
        for part in self.exporters {
            let stop = if part.pull {
                sources_stopped.clone()
            } else {
                stop.clone()
            };
            let input = ExporterInput {
                rx: part.rx,
                stats: part.stats,
                stop,
            };
            exporter_tasks.spawn(part.exporter.run(input));
        }
        let mut pipeline_tasks = JoinSet::new();
        for part in self.pipelines {
            pipeline_tasks.spawn(run_pipeline(part));
        }
        let halt = Arc::new(AtomicBool::new(false));
        let source_threads = self
            .sources
            .into_iter()
            .filter_map(|part| {
                let halt = Arc::clone(&halt);
                let clock = clock.clone();
                let name = format!("source-{}", part.id);
                let spawned = std::thread::Builder::new().name(name).spawn(move || {
                    source_thread::run(part.source, part.routes, part.stats, clock, halt)
                });
                match spawned {
                    Ok(handle) => Some(handle),
                    Err(error) => {
                        tracing::error!(source = %part.id, %error, "Cannot start the source thread.");
                        None
                    }
                }
            })
            .collect();
        RunningTopology {
            halt,
            source_threads,
            pipeline_tasks,
            exporter_tasks,
            stop_tx,
            sources_stopped_tx,
        }
    }
}

/// A started topology.
pub struct RunningTopology {
    halt: Arc<AtomicBool>,
    source_threads: Vec<JoinHandle<()>>,
    pipeline_tasks: JoinSet<()>,
    exporter_tasks: JoinSet<()>,
    stop_tx: watch::Sender<bool>,
    sources_stopped_tx: watch::Sender<bool>,
}

impl RunningTopology {
    /// Stops the sources, lets queues drain and exporters flush for up to `timeout`, then makes
    /// exporters drop (and count) whatever is left.
    pub async fn shutdown(mut self, timeout: Duration) {
        self.halt.store(true, Ordering::Relaxed);
        let threads = std::mem::take(&mut self.source_threads);
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        });
        let _ = joined.await;
        let deadline = tokio::time::Instant::now() + timeout;
        while self.pipeline_tasks.join_next().await.is_some() {}
        // Nothing new will be generated: pull exporters stop serving now.
        let _ = self.sources_stopped_tx.send(true);
        let flushed = tokio::time::timeout_at(deadline, async {
            while self.exporter_tasks.join_next().await.is_some() {}
        })
        .await;
        if flushed.is_err() {
            tracing::warn!(
                timeout_secs = timeout.as_secs_f64(),
                "Exporters did not flush in time; what is left is dropped."
            );
            let _ = self.stop_tx.send(true);
            let grace = tokio::time::timeout(Duration::from_secs(2), async {
                while self.exporter_tasks.join_next().await.is_some() {}
            })
            .await;
            if grace.is_err() {
                self.exporter_tasks.abort_all();
            }
        }
    }
}

async fn run_pipeline(mut part: PipelinePart) {
    let mut stage = Vec::new();
    let mut next = Vec::new();
    while let Some(batch) = part.rx.recv().await {
        part.stats.set_queue(part.rx.len(), part.rx.max_capacity());
        let delivery = part.stats.delivery(batch.tenant(), batch.signal());
        let received = batch.len() as u64;
        delivery.add_generated(received);
        stage.clear();
        stage.push(batch);
        for processor in &mut part.processors {
            for batch in stage.drain(..) {
                processor.process(batch, &mut next);
            }
            std::mem::swap(&mut stage, &mut next);
        }
        // Records a processor chose not to keep (sampling) are counted, never lost silently.
        let kept: u64 = stage.iter().map(|b| b.len() as u64).sum();
        if kept < received {
            delivery.add_dropped(DropReason::Filtered, received - kept);
        }
        for batch in stage.drain(..) {
            part.stats
                .delivery(batch.tenant(), batch.signal())
                .add_sent(batch.len() as u64);
            fan_out(&part.exporters, batch);
        }
    }
}

/// Offers `batch` to every route without waiting; a full queue drops and counts it.
pub(crate) fn fan_out(routes: &[Route], batch: Batch) {
    let Some((last, rest)) = routes.split_last() else {
        return;
    };
    for route in rest {
        offer(route, batch.clone());
    }
    offer(last, batch);
}

pub(crate) fn offer(route: &Route, batch: Batch) {
    let records = batch.len() as u64;
    let tenant = Arc::clone(batch.tenant());
    let signal = batch.signal();
    match route.tx.try_send(batch) {
        Ok(()) => {
            let depth = route.tx.max_capacity() - route.tx.capacity();
            route.stats.set_queue(depth, route.tx.max_capacity());
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            let delivery = route.stats.delivery(&tenant, signal);
            delivery.add_generated(records);
            delivery.add_dropped(DropReason::QueueFull, records);
            rate_limited_warn(&route.stats, "Queue full; the newest batch was dropped.");
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            let delivery = route.stats.delivery(&tenant, signal);
            delivery.add_generated(records);
            delivery.add_dropped(DropReason::Shutdown, records);
        }
    }
}

fn rate_limited_warn(stats: &ComponentStats, message: &'static str) {
    use std::sync::atomic::AtomicU64;
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST.swap(now, Ordering::Relaxed) != now {
        tracing::warn!(component = stats.id(), kind = stats.kind(), "{message}");
    }
}

#[cfg(test)]
mod tests;
