//! Exporters: the tail of every pipeline, delivering batches to a destination.
//!
//! Each exporter runs as one task that owns its input queue. It batches by size and age, encodes
//! once, sends with the retry rules of its protocol, and counts every record as accepted,
//! rejected or dropped in its [`ComponentStats`].

pub mod file;
pub mod http;
pub mod log_limiter;
pub mod loki;
pub mod otlp;
pub mod remote_write;
pub mod retry;
pub mod scrape;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::config::Problem;
use crate::model::metrics::TargetSet;
use crate::model::{Batch, Signal};
use crate::pipeline::stats::ComponentStats;

/// A future that runs an exporter to completion.
pub type ExporterTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Tells long-running work that the shutdown deadline has passed.
#[derive(Clone, Debug)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// A signal and the sender that triggers it.
    pub fn new() -> (watch::Sender<bool>, StopSignal) {
        let (tx, rx) = watch::channel(false);
        (tx, StopSignal(rx))
    }

    /// A signal that never fires, for tests and one-shot tools.
    pub fn never() -> StopSignal {
        let (tx, rx) = watch::channel(false);
        // Keep the sender alive forever so that `triggered` never resolves.
        std::mem::forget(tx);
        StopSignal(rx)
    }

    /// Whether the deadline has passed.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the deadline has passed (or the sender is gone).
    pub async fn triggered(&mut self) {
        while !*self.0.borrow_and_update() {
            if self.0.changed().await.is_err() {
                return;
            }
        }
    }
}

/// What an exporter's task receives.
pub struct ExporterInput {
    /// Batches from every pipeline that names this exporter; closed when they all end.
    pub rx: mpsc::Receiver<Batch>,
    /// The exporter's counters.
    pub stats: Arc<ComponentStats>,
    /// Fires when the shutdown deadline passes: stop retrying, count what is left as dropped.
    pub stop: StopSignal,
}

/// What an exporter's `build` step may read.
#[derive(Clone, Default)]
pub struct ExporterContext {
    /// The exporter's id.
    pub id: String,
    /// Target sets of the sources of every pipeline naming this exporter (pull exporters serve
    /// them; push exporters ignore them).
    pub target_sets: Vec<Arc<dyn TargetSet>>,
    /// Live anomalies (scrape targets apply the metric anomalies of their tenant at scrape
    /// time; push exporters receive batches that already carry them).
    pub anomalies: Arc<crate::anomaly::Registry>,
}

/// A built exporter, ready to run.
pub trait Exporter: Send + 'static {
    /// Runs until the input closes and everything pending is delivered or dropped.
    fn run(self: Box<Self>, input: ExporterInput) -> ExporterTask;
}

/// The `[exporters.*]` tables, by `type`.
#[derive(Clone, Debug)]
pub enum ExporterConfig {
    /// `type = "file"`: a file, in the signal's text or NDJSON.
    File(file::FileConfig),
    /// `type = "stdout"`: standard output, in the signal's text or NDJSON.
    Stdout(file::StdoutConfig),
    /// `type = "loki"`: Loki's push API.
    Loki(Box<loki::LokiConfig>),
    /// `type = "prometheus_scrape"`: synthetic scrape targets and HTTP service discovery.
    PrometheusScrape(scrape::PrometheusScrapeConfig),
    /// `type = "prometheus_remote_write"`: Prometheus remote write 1.0.
    RemoteWrite(Box<remote_write::RemoteWriteConfig>),
    /// `type = "otlp"`: OTLP over HTTP or gRPC, for traces, metrics and logs.
    Otlp(Box<otlp::OtlpConfig>),
}

impl ExporterConfig {
    /// Every `type` value, for error messages.
    pub const TYPES: &'static [&'static str] = &[
        "file",
        "stdout",
        "loki",
        "prometheus_scrape",
        "prometheus_remote_write",
        "otlp",
    ];

    /// Deserializes the table of `type = type_name` (the `type` key already removed).
    pub fn parse<'de, D>(type_name: &str, deserializer: D) -> Option<Result<Self, D::Error>>
    where
        D: serde::Deserializer<'de>,
    {
        Some(match type_name {
            "file" => file::FileConfig::deserialize(deserializer).map(Self::File),
            "stdout" => file::StdoutConfig::deserialize(deserializer).map(Self::Stdout),
            "loki" => loki::LokiConfig::deserialize(deserializer).map(|c| Self::Loki(Box::new(c))),
            "prometheus_scrape" => scrape::PrometheusScrapeConfig::deserialize(deserializer)
                .map(Self::PrometheusScrape),
            "prometheus_remote_write" => remote_write::RemoteWriteConfig::deserialize(deserializer)
                .map(|c| Self::RemoteWrite(Box::new(c))),
            "otlp" => otlp::OtlpConfig::deserialize(deserializer).map(|c| Self::Otlp(Box::new(c))),
            _ => return None,
        })
    }

    /// The `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            ExporterConfig::File(_) => "file",
            ExporterConfig::Stdout(_) => "stdout",
            ExporterConfig::Loki(_) => "loki",
            ExporterConfig::PrometheusScrape(_) => "prometheus_scrape",
            ExporterConfig::RemoteWrite(_) => "prometheus_remote_write",
            ExporterConfig::Otlp(_) => "otlp",
        }
    }

    /// The signals the exporter accepts.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            ExporterConfig::File(_) | ExporterConfig::Stdout(_) => &Signal::ALL,
            ExporterConfig::Loki(_) => &[Signal::Logs],
            ExporterConfig::PrometheusScrape(_) => &[Signal::Metrics],
            ExporterConfig::RemoteWrite(_) => &[Signal::Metrics],
            ExporterConfig::Otlp(_) => &Signal::ALL,
        }
    }

    /// Capacity of the exporter's input queue, in batches.
    pub fn queue_capacity(&self) -> usize {
        match self {
            ExporterConfig::File(config) => config.queue_capacity,
            ExporterConfig::Stdout(config) => config.queue_capacity,
            ExporterConfig::Loki(config) => config.queue_capacity,
            // Takes no batches.
            ExporterConfig::PrometheusScrape(_) => 1,
            ExporterConfig::RemoteWrite(config) => config.queue_capacity,
            ExporterConfig::Otlp(config) => config.queue_capacity,
        }
    }

    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        match self {
            ExporterConfig::File(config) => config.validate(),
            ExporterConfig::Stdout(_) => Vec::new(),
            ExporterConfig::Loki(config) => config.validate(),
            ExporterConfig::PrometheusScrape(config) => config.validate(),
            ExporterConfig::RemoteWrite(config) => config.validate(),
            ExporterConfig::Otlp(config) => config.validate(),
        }
    }

    /// Whether the exporter is pulled from (it serves target sets and takes no batches).
    pub fn is_pull(&self) -> bool {
        matches!(self, ExporterConfig::PrometheusScrape(_))
    }

    /// Builds the exporter.
    pub fn build(&self, context: &ExporterContext) -> Result<Box<dyn Exporter>, String> {
        let _ = context;
        match self {
            ExporterConfig::File(config) => Ok(Box::new(config.build()?)),
            ExporterConfig::Stdout(config) => Ok(Box::new(config.build()?)),
            ExporterConfig::Loki(config) => Ok(Box::new(config.build()?)),
            ExporterConfig::PrometheusScrape(config) => Ok(Box::new(config.build(context)?)),
            ExporterConfig::RemoteWrite(config) => Ok(Box::new(config.build()?)),
            ExporterConfig::Otlp(config) => Ok(Box::new(config.build()?)),
        }
    }
}
