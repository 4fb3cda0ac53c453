//! Sources: the generators at the head of every pipeline.
//!
//! A source is a pure function of (seed, tenant, entity, time) to records. The runtime asks it for
//! one [`Window`] of virtual time at a time; windows are aligned to [`BUCKET_NS`], and a source
//! draws the randomness of each bucket from a key of that bucket, so generating a window alone
//! gives exactly that slice of a longer run.

pub mod logs;
pub mod materialize;
pub mod metrics;
pub mod simulation;
pub mod traces;

use std::sync::Arc;

use serde::Deserialize;

use crate::config::Problem;
use crate::model::metrics::TargetSet;
use crate::model::{Batch, Signal, TenantId};

/// The unit of virtual time a source generates at once: 100 ms.
pub const BUCKET_NS: i64 = 100_000_000;

/// A half-open range `[start_ns, end_ns)` of virtual time, aligned to [`BUCKET_NS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// First nanosecond of the window.
    pub start_ns: i64,
    /// First nanosecond after the window.
    pub end_ns: i64,
}

impl Window {
    /// The window `[start_ns, end_ns)`.
    pub fn new(start_ns: i64, end_ns: i64) -> Self {
        Window { start_ns, end_ns }
    }

    /// The indices of the buckets the window covers.
    pub fn buckets(self) -> std::ops::Range<i64> {
        self.start_ns.div_euclid(BUCKET_NS)..self.end_ns.div_euclid(BUCKET_NS)
    }
}

/// A tenant as sources see it.
#[derive(Clone, Debug)]
pub struct TenantSpec {
    /// The tenant id.
    pub id: TenantId,
    /// Volume multiplier from the tenant profile.
    pub scale: f64,
    /// The world model the tenant uses (`webshop`, …).
    pub model: String,
}

/// What a component's `build` step may read.
#[derive(Clone, Debug)]
pub struct BuildContext {
    /// The master seed.
    pub seed: u64,
    /// The id of the component being built.
    pub component_id: String,
    /// The tenants this component serves (already resolved from its `tenants` list).
    pub tenants: Vec<TenantSpec>,
    /// Live anomalies; `simulation` sources apply the world anomalies of their tenants.
    pub anomalies: std::sync::Arc<crate::anomaly::Registry>,
}

/// A running generator.
pub trait Source: Send + 'static {
    /// The signals this source emits.
    fn signals(&self) -> &[Signal];

    /// Generates every record with a timestamp in `window`, as batches of one tenant and signal.
    fn generate(&mut self, window: Window, out: &mut Vec<Batch>);

    /// The scrape targets this source models, for pull exporters (`prometheus_scrape`).
    fn target_set(&self) -> Option<Arc<dyn TargetSet>> {
        None
    }

    /// Generates a preview of at most `n` records of `signal` starting at `start_ns`.
    fn preview(&mut self, signal: Signal, start_ns: i64, n: usize) -> Vec<Batch> {
        let mut out = Vec::new();
        let mut start = start_ns.div_euclid(BUCKET_NS) * BUCKET_NS;
        let mut total = 0;
        // Bounded: a source that emits nothing for a minute of virtual time yields nothing.
        for _ in 0..600 {
            let mut batches = Vec::new();
            self.generate(Window::new(start, start + BUCKET_NS), &mut batches);
            for batch in batches.into_iter().filter(|b| b.signal() == signal) {
                total += batch.len();
                out.push(batch);
            }
            if total >= n {
                break;
            }
            start += BUCKET_NS;
        }
        out
    }
}

/// The `[sources.*]` tables, by `type`.
#[derive(Clone, Debug)]
pub enum SourceConfig {
    /// `type = "logs"`: a volume stream in one dialect.
    Logs(logs::LogsSourceConfig),
    /// `type = "metrics"`: synthetic scrape targets following the signal model.
    Metrics(metrics::MetricsSourceConfig),
    /// `type = "simulation"`: a world model per tenant driving spans, logs and RED metrics.
    Simulation(simulation::SimulationConfig),
    /// `type = "traces"`: span volume of a configured shape.
    Traces(traces::TracesSourceConfig),
}

impl SourceConfig {
    /// Every `type` value, for error messages.
    pub const TYPES: &'static [&'static str] = &["logs", "metrics", "simulation", "traces"];

    /// Deserializes the table of `type = type_name` (the `type` key already removed).
    pub fn parse<'de, D>(type_name: &str, deserializer: D) -> Option<Result<Self, D::Error>>
    where
        D: serde::Deserializer<'de>,
    {
        match type_name {
            "logs" => Some(logs::LogsSourceConfig::deserialize(deserializer).map(Self::Logs)),
            "metrics" => {
                Some(metrics::MetricsSourceConfig::deserialize(deserializer).map(Self::Metrics))
            }
            "simulation" => {
                Some(simulation::SimulationConfig::deserialize(deserializer).map(Self::Simulation))
            }
            "traces" => {
                Some(traces::TracesSourceConfig::deserialize(deserializer).map(Self::Traces))
            }
            _ => None,
        }
    }

    /// The `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceConfig::Logs(_) => "logs",
            SourceConfig::Metrics(_) => "metrics",
            SourceConfig::Simulation(_) => "simulation",
            SourceConfig::Traces(_) => "traces",
        }
    }

    /// The tenants the source names (`None` means every tenant).
    pub fn tenants(&self) -> Option<&[String]> {
        match self {
            SourceConfig::Logs(config) => config.tenants.as_deref(),
            SourceConfig::Metrics(config) => config.tenants.as_deref(),
            SourceConfig::Simulation(config) => config.tenants.as_deref(),
            SourceConfig::Traces(config) => config.tenants.as_deref(),
        }
    }

    /// The signals the source emits.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            SourceConfig::Logs(_) => &[Signal::Logs],
            SourceConfig::Metrics(_) => &[Signal::Metrics],
            SourceConfig::Simulation(_) => &Signal::ALL,
            SourceConfig::Traces(_) => &[Signal::Traces],
        }
    }

    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        match self {
            SourceConfig::Logs(config) => config.validate(),
            SourceConfig::Metrics(config) => config.validate(),
            SourceConfig::Simulation(config) => config.validate(),
            SourceConfig::Traces(config) => config.validate(),
        }
    }

    /// Builds the running source.
    pub fn build(&self, context: &BuildContext) -> Result<Box<dyn Source>, String> {
        match self {
            SourceConfig::Logs(config) => Ok(Box::new(config.build(context)?)),
            SourceConfig::Metrics(config) => Ok(Box::new(config.build(context)?)),
            SourceConfig::Simulation(config) => Ok(Box::new(config.build(context)?)),
            SourceConfig::Traces(config) => Ok(Box::new(config.build(context)?)),
        }
    }
}

/// Shorthand used by sources for a shared tenant id.
pub fn tenant_id(id: &str) -> TenantId {
    Arc::from(id)
}
