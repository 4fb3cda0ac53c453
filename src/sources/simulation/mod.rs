//! The `simulation` source: one world model per tenant drives spans, request logs and RED
//! metrics that describe the same simulated requests.
//!
//! Each 100 ms bucket of virtual time starts a number of requests given by the tenant's load
//! curve; each request is simulated through the call graph ([`request::simulate`]), producing its
//! spans, the log lines its services write (carrying the trace and span ids), and the
//! observations that RED histograms count — so histogram counts equal server-span counts and
//! every exemplar points at a trace that was emitted. Requests are simulated [`LAG_NS`] behind
//! the clock, so a trace is complete (and never in the future) when it is sent.
//!
//! World anomalies of the tenant (T-LAT, T-ERR, T-TIMEOUT, T-RETRY, W-LOAD) change the simulated
//! requests themselves ([`effects`]), so all three signals show them consistently. A request
//! that meets no anomaly is simulated exactly as in a clean run; one an anomaly changes draws
//! from a stream of its own, and is also simulated clean, unseen, to keep the bucket's stream
//! in step, so later requests are again those of the clean run.

mod effects;
mod logs;
pub mod model;
mod red;
pub mod request;
pub mod world;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use super::{BUCKET_NS, BuildContext, Source, Window};
use crate::anomaly::{Layer, Registry};
use crate::config::{Problem, de};
use crate::model::metrics::TargetSet;
use crate::model::{Batch, LogBatch, Signal, SpanBatch};
use crate::random::{Key, Rng};
use crate::sources::materialize::{Materializer, PendingBatch};
use effects::Effects;
use model::ModelDef;
use red::RedState;
use request::{Conditions, Trace};
use world::World;

/// How far behind the clock requests are simulated: the longest a request may take.
pub const LAG_NS: i64 = 10_000_000_000;

/// Formats of the simulation's log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// `key=value` pairs.
    Logfmt,
}

fn default_rate() -> f64 {
    20.0
}
fn default_namespace() -> String {
    "shop".into()
}
fn default_environment() -> String {
    "prod".into()
}
fn default_cluster() -> String {
    "synthtel".into()
}
fn default_interval() -> Duration {
    Duration::from_secs(15)
}
fn default_background() -> f64 {
    0.2
}

/// `[sources.<id>]` with `type = "simulation"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationConfig {
    /// Tenants to simulate; every configured tenant when absent.
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    /// World model: `webshop`, `random-small`, `random-medium`, `random-large`; the tenant's
    /// `model` when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// A custom model file (TOML or JSON, the format of `config/models/webshop.toml`).
    #[serde(default)]
    pub model_file: Option<PathBuf>,
    /// Mean user requests per second per tenant on a weekday, before the tenant's scale.
    #[serde(default = "default_rate")]
    pub requests_per_second: f64,
    /// Kubernetes namespace (`service.namespace`, `k8s.namespace.name`, `namespace` label).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// `deployment.environment.name` and the `env` stream label.
    #[serde(default = "default_environment")]
    pub environment: String,
    /// The `cluster` stream label.
    #[serde(default = "default_cluster")]
    pub cluster: String,
    /// Format of the request and background log lines.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Background (not request-scoped) log lines per second per instance.
    #[serde(default = "default_background")]
    pub background_logs_per_second: f64,
    /// Interval of pushed metric samples.
    #[serde(default = "default_interval", deserialize_with = "de::duration")]
    pub metrics_interval: Duration,
}

impl SimulationConfig {
    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !(self.requests_per_second.is_finite()
            && (0.0..=1e6).contains(&self.requests_per_second))
        {
            problems.push(Problem::new(
                "requests_per_second",
                "must be between 0 and 1000000",
            ));
        }
        if !(self.background_logs_per_second.is_finite()
            && (0.0..=1e4).contains(&self.background_logs_per_second))
        {
            problems.push(Problem::new(
                "background_logs_per_second",
                "must be between 0 and 10000",
            ));
        }
        if self.model.is_some() && self.model_file.is_some() {
            problems.push(Problem::new(
                "model_file",
                "give either model or model_file",
            ));
        }
        if let Some(name) = &self.model
            && let Err(error) = ModelDef::builtin(name, Key::new(0))
        {
            problems.push(Problem::new("model", error));
        }
        if let Some(path) = &self.model_file {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    if let Err(error) = ModelDef::parse(&text) {
                        problems.push(Problem::new(
                            "model_file",
                            format!("{}: {error}", path.display()),
                        ));
                    }
                }
                Err(error) => problems.push(Problem::new(
                    "model_file",
                    format!("cannot read {}: {error}", path.display()),
                )),
            }
        }
        if self.metrics_interval < Duration::from_secs(1) {
            problems.push(Problem::new("metrics_interval", "must be at least 1s"));
        }
        problems
    }

    /// Builds the running source.
    pub fn build(&self, context: &BuildContext) -> Result<SimulationSource, String> {
        let key = Key::new(context.seed)
            .with("simulation")
            .with(&context.component_id);
        let custom = match &self.model_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
                Some(ModelDef::parse(&text)?)
            }
            None => None,
        };
        let mut worlds = Vec::new();
        for tenant in &context.tenants {
            let tenant_key = key.with(&tenant.id);
            let model = match (&custom, &self.model) {
                (Some(model), _) => model.clone(),
                (None, Some(name)) => ModelDef::builtin(name, tenant_key)?,
                (None, None) => ModelDef::builtin(&tenant.model, tenant_key)?,
            };
            let world = World::compile(
                &model,
                &tenant.id,
                self.requests_per_second * tenant.scale,
                &self.namespace,
                &self.environment,
                tenant_key,
            )?;
            worlds.push(TenantSimulation {
                log_streams: logs::streams(
                    &world,
                    &self.namespace,
                    &self.cluster,
                    &self.environment,
                )?,
                world,
                key: tenant_key,
            });
        }
        let red = Arc::new(Mutex::new(RedState::new(worlds.len())));
        let targets = Arc::new(red::RedTargets::new(
            Arc::clone(&red),
            &worlds,
            &self.namespace,
        ));
        Ok(SimulationSource {
            config: self.clone(),
            tenants: worlds,
            red,
            targets,
            materializer: Materializer::default(),
            interval_ms: self.metrics_interval.as_millis().max(1000) as i64,
            anomalies: Arc::clone(&context.anomalies),
        })
    }
}

struct TenantSimulation {
    world: World,
    key: Key,
    log_streams: Vec<Arc<crate::model::Labels>>,
}

/// The running `simulation` source.
pub struct SimulationSource {
    config: SimulationConfig,
    tenants: Vec<TenantSimulation>,
    red: Arc<Mutex<RedState>>,
    targets: Arc<red::RedTargets>,
    materializer: Materializer,
    interval_ms: i64,
    anomalies: Arc<Registry>,
}

/// Requests starting in bucket `bucket` at `rate` per second (exact over any run of buckets).
fn requests_in_bucket(rate: f64, bucket: i64) -> u64 {
    crate::sources::logs::lines_in_bucket(rate, bucket)
}

impl SimulationSource {
    /// Latency inflation at `t` seconds: queueing grows as the load level rises (M/M/1-style).
    /// A `surge` (W-LOAD) multiplies the load; capacity scales out only partly, so latency rises
    /// convexly but stays short of saturation.
    fn conditions(world: &World, t: f64, surge: f64) -> Conditions {
        let (low, high) = world.load.diurnal_range();
        let level = ((world.load.diurnal(t) - low) / (high - low)).clamp(0.0, 1.0);
        let mut utilisation = 0.3 + 0.5 * level;
        if surge > 1.0 {
            utilisation = (utilisation * (1.0 + 0.15 * (surge - 1.0))).min(0.9);
        }
        Conditions {
            inflation: (1.0 - 0.3) / (1.0 - utilisation.min(0.95)),
        }
    }

    /// The world anomalies a request started in `bucket` can meet before its deadline.
    fn effects(&self, tenant: usize, bucket: i64) -> Option<Effects> {
        if self.anomalies.is_empty() {
            return None;
        }
        let world = &self.tenants[tenant].world;
        let start = bucket * BUCKET_NS;
        let anomalies = self.anomalies.matching(
            &world.tenant,
            Signal::Traces,
            Layer::World,
            start,
            start + BUCKET_NS + LAG_NS,
        );
        (!anomalies.is_empty()).then(|| Effects::new(world, anomalies, bucket))
    }

    fn simulate_bucket(&self, tenant: usize, bucket: i64, out: &mut Output) {
        let simulation = &self.tenants[tenant];
        let world = &simulation.world;
        let start = bucket * BUCKET_NS;
        let t = start as f64 / 1e9;
        let rate = world.load.mean_rate(t) * (1.0 + 0.1 * world.load.value_noise(t));
        let count = requests_in_bucket(rate, bucket);
        let mut effects = self.effects(tenant, bucket);
        let surge = effects.as_ref().map_or(1.0, |effects| effects.load(start));
        let conditions = Self::conditions(world, t, surge);
        let mut rng = simulation
            .key
            .with("requests")
            .with_u64(bucket as u64)
            .rng();
        for index in 0..count {
            let offset = (index as i64 * BUCKET_NS) / count.max(1) as i64;
            let jitter = rng.below((BUCKET_NS / count.max(1) as i64).max(1) as u64) as i64;
            let request = Request {
                bucket,
                index,
                entry: world.entries[world.entry_mix.sample(&mut rng)],
                at: start + offset + jitter,
                conditions,
            };
            match effects.as_mut() {
                None => {
                    let trace = request.simulate(world, &mut rng, None);
                    self.emit(simulation, trace, &mut rng, out);
                }
                // The surge changes every request of the bucket: no clean twin to keep in step.
                Some(effects) if surge > 1.0 => {
                    let trace = request.simulate(world, &mut rng, Some(effects));
                    self.emit(simulation, trace, &mut rng, out);
                }
                Some(effects) => self.simulate_under(simulation, &request, &mut rng, effects, out),
            }
        }
        if let Some(effects) = effects.as_mut() {
            self.simulate_surges(simulation, effects, rate, start, conditions, out);
            effects.flush();
        }
        logs::background_lines(
            &self.config,
            world,
            &simulation.log_streams,
            bucket,
            simulation.key,
            &mut out.logs,
        );
    }

    /// Adds a simulated request's spans, request log lines and RED observations to `out`.
    fn emit(&self, simulation: &TenantSimulation, trace: Trace, rng: &mut Rng, out: &mut Output) {
        let world = &simulation.world;
        for emitted in trace.spans {
            let resource = &world.services[emitted.service].instances[emitted.instance].resource;
            let index = out.spans.resource_index(resource);
            let mut span = emitted.span;
            span.resource = index;
            out.spans.spans.push(span);
        }
        for served in &trace.served {
            logs::request_lines(
                &self.config,
                world,
                &simulation.log_streams,
                served,
                rng,
                &mut out.logs,
            );
        }
        out.served.extend(trace.served);
    }

    /// Simulates `request` under world anomalies. A request no anomaly reaches comes out as in
    /// the clean run. A changed one draws from a stream of its own, so that its ids and values
    /// never repeat those of the bucket's later requests, and the clean run's draws for it are
    /// made unseen, so that those later requests stay those of the clean run.
    fn simulate_under(
        &self,
        simulation: &TenantSimulation,
        request: &Request,
        rng: &mut Rng,
        effects: &mut Effects,
        out: &mut Output,
    ) {
        let world = &simulation.world;
        let checkpoint = effects.checkpoint();
        let mut probe = rng.clone();
        let trace = request.simulate(world, &mut probe, Some(effects));
        if !trace.touched {
            *rng = probe;
            self.emit(simulation, trace, rng, out);
            return;
        }
        effects.restore(checkpoint);
        let clean = request.simulate(world, rng, None);
        let mut unseen = LogBatch::new(Arc::clone(&world.tenant));
        for served in &clean.served {
            logs::request_lines(
                &self.config,
                world,
                &simulation.log_streams,
                served,
                rng,
                &mut unseen,
            );
        }
        let mut own = simulation
            .key
            .with("anomalous")
            .with_u64(request.bucket as u64)
            .with_u64(request.index)
            .rng();
        let trace = request.simulate(world, &mut own, Some(effects));
        self.emit(simulation, trace, &mut own, out);
    }

    /// The requests W-LOAD surges add to the bucket starting at `start` (ns).
    fn simulate_surges(
        &self,
        simulation: &TenantSimulation,
        effects: &mut Effects,
        rate: f64,
        start: i64,
        conditions: Conditions,
        out: &mut Output,
    ) {
        let world = &simulation.world;
        for mut extra in effects.extra_requests(rate, start, BUCKET_NS) {
            for (at, entry) in extra.requests {
                let trace =
                    request::simulate(world, entry, at, conditions, &mut extra.rng, Some(effects));
                self.emit(simulation, trace, &mut extra.rng, out);
            }
        }
    }
}

/// A request a bucket starts: its `index`-th.
struct Request {
    bucket: i64,
    index: u64,
    entry: (usize, usize),
    at: i64,
    conditions: Conditions,
}

impl Request {
    fn simulate(&self, world: &World, rng: &mut Rng, effects: Option<&mut Effects>) -> Trace {
        request::simulate(world, self.entry, self.at, self.conditions, rng, effects)
    }
}

struct Output {
    spans: SpanBatch,
    logs: LogBatch,
    served: Vec<request::Served>,
}

impl Source for SimulationSource {
    fn signals(&self) -> &[Signal] {
        &[Signal::Traces, Signal::Logs, Signal::Metrics]
    }

    fn target_set(&self) -> Option<Arc<dyn TargetSet>> {
        Some(Arc::clone(&self.targets) as Arc<dyn TargetSet>)
    }

    fn generate(&mut self, window: Window, out: &mut Vec<Batch>) {
        let lagged = Window::new(window.start_ns - LAG_NS, window.end_ns - LAG_NS);
        for tenant in 0..self.tenants.len() {
            let id = Arc::clone(&self.tenants[tenant].world.tenant);
            let mut output = Output {
                spans: SpanBatch::new(Arc::clone(&id)),
                logs: LogBatch::new(Arc::clone(&id)),
                served: Vec::new(),
            };
            for bucket in lagged.buckets() {
                self.simulate_bucket(tenant, bucket, &mut output);
            }
            if let Ok(mut red) = self.red.lock() {
                red.observe(tenant, &output.served);
            }
            if !output.spans.spans.is_empty() {
                out.push(Batch::Traces(output.spans));
            }
            if !output.logs.entries.is_empty() {
                output.logs.entries.sort_by_key(|entry| entry.timestamp_ns);
                out.push(Batch::Logs(output.logs));
            }
        }
        // Metric samples on the interval grid, as of the simulated time.
        let start_ms = lagged.start_ns.div_euclid(1_000_000);
        let end_ms = lagged.end_ns.div_euclid(1_000_000);
        let first = start_ms.div_euclid(self.interval_ms)
            + i64::from(start_ms.rem_euclid(self.interval_ms) != 0);
        let mut tick = first * self.interval_ms;
        while tick < end_ms {
            for tenant in 0..self.tenants.len() {
                let mut pending = PendingBatch::new(Arc::clone(&self.tenants[tenant].world.tenant));
                let indices: Vec<usize> = self.targets.targets_of(tenant).collect();
                for index in indices {
                    self.materializer.sample_target(
                        self.targets.as_ref(),
                        index,
                        tick,
                        &mut pending,
                    );
                }
                if !pending.batch.samples.is_empty() {
                    out.push(Batch::Metrics(pending.batch));
                }
            }
            tick += self.interval_ms;
        }
    }
}

#[cfg(test)]
mod anomaly_tests;
#[cfg(test)]
mod tests;
