//! The `prometheus_scrape` exporter: synthetic scrape targets served over HTTP, found by
//! Prometheus HTTP service discovery.
//!
//! It implements the scrape side of the Prometheus exposition formats (text 0.0.4 and
//! OpenMetrics 1.0, chosen by `Accept`) and the `http_sd_configs` document. A pull exporter, it
//! takes no batches: it keeps the target sets of its pipelines' sources and evaluates a target
//! at the moment it is scraped. `GET /targets/{tenant}/{job}/{instance}/metrics` serves one
//! target; `GET /sd` lists them all, with `job`, `instance`, `tenant` and the target's own
//! labels, since an exposition never carries those.
//!
//! The listener is bound in `build`, so a port already in use fails the start-up together with
//! every other configuration error instead of surfacing later in a log line.

mod anomalies;
mod negotiate;
pub mod render;
mod server;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::mpsc;

use super::{Exporter, ExporterContext, ExporterInput, ExporterTask, StopSignal};
use crate::config::Problem;
use crate::model::Batch;
use crate::pipeline::clock::wall_now_ns;
use crate::pipeline::stats::{ComponentStats, DropReason};
use server::{Catalog, Shared};

/// `[exporters.<id>]` with `type = "prometheus_scrape"`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusScrapeConfig {
    /// Address to serve targets and `/sd` on. Bound to `0.0.0.0`, service discovery advertises
    /// the `Host` the scraper used to reach it.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Answer in OpenMetrics 1.0 when the scraper accepts it (Prometheus does); otherwise, and
    /// always when false, in text format 0.0.4. Only OpenMetrics carries exemplars.
    #[serde(default = "yes")]
    pub openmetrics: bool,
    /// Write exemplars (trace and span ids) on counters and histogram buckets in OpenMetrics;
    /// without effect when `openmetrics` is false, as text format 0.0.4 has none.
    #[serde(default = "yes")]
    pub exemplars: bool,
    /// Write a `_created` sample (the exporter's start time) after each counter and each
    /// histogram in OpenMetrics. Off by default: Prometheus versions read it either as a series
    /// of its own or as a start time.
    #[serde(default)]
    pub created_timestamps: bool,
    /// Gzip the exposition when the scraper accepts it (about ten times smaller).
    #[serde(default = "yes")]
    pub gzip: bool,
}

impl Default for PrometheusScrapeConfig {
    fn default() -> Self {
        PrometheusScrapeConfig {
            listen: default_listen(),
            openmetrics: true,
            exemplars: true,
            created_timestamps: false,
            gzip: true,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}

fn yes() -> bool {
    true
}

impl PrometheusScrapeConfig {
    /// Problems found without building, all at once.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.created_timestamps && !self.openmetrics {
            problems.push(Problem::new(
                "created_timestamps",
                "needs openmetrics = true: text format 0.0.4 has no _created samples",
            ));
        }
        problems
    }

    /// Binds `listen` and keeps the context's target sets; the message names every problem.
    pub fn build(&self, context: &ExporterContext) -> Result<ScrapeExporter, String> {
        let problems = self.validate();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(list.join("; "));
        }
        let listener = TcpListener::bind(self.listen)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(|error| format!("listen: cannot bind {}: {error}", self.listen))?;
        let (catalog, skipped) = Catalog::new(context.target_sets.clone());
        for reason in skipped {
            tracing::warn!(exporter = %context.id, reason, "Scrape target left out.");
        }
        Ok(ScrapeExporter {
            id: context.id.clone(),
            config: self.clone(),
            listener,
            catalog,
            anomalies: Arc::clone(&context.anomalies),
        })
    }
}

/// A built `prometheus_scrape` exporter, its listener already bound.
pub struct ScrapeExporter {
    id: String,
    config: PrometheusScrapeConfig,
    listener: TcpListener,
    catalog: Catalog,
    anomalies: Arc<crate::anomaly::Registry>,
}

impl ScrapeExporter {
    /// The bound address (the real port when `listen` asked for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    async fn serve(self, input: ExporterInput) {
        let ExporterInput { rx, stats, stop } = input;
        let id = self.id;
        let listener = match self
            .listener
            .local_addr()
            .and_then(|addr| Ok((addr, tokio::net::TcpListener::from_std(self.listener)?)))
        {
            Ok(bound) => bound,
            Err(error) => {
                tracing::error!(exporter = %id, %error, "Cannot serve scrape targets.");
                return;
            }
        };
        let (bound, listener) = listener;
        let created_ms = self
            .config
            .created_timestamps
            .then(|| wall_now_ns() / 1_000_000);
        let shared = Arc::new(Shared {
            catalog: self.catalog,
            bound,
            openmetrics: self.config.openmetrics,
            exemplars: self.config.exemplars,
            created_ms,
            gzip: self.config.gzip,
            stats: Arc::clone(&stats),
            anomalies: self.anomalies,
        });
        let targets = shared.catalog.len();
        tracing::info!(exporter = %id, listen = %bound, targets, "Serving scrape targets.");

        let router = server::router(shared);
        let closed = wait_until_closed(rx, stop, stats);
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(closed)
            .await
        {
            tracing::error!(exporter = %id, %error, "Scrape target server failed.");
            return;
        }
        tracing::info!(exporter = %id, "Scrape targets stopped.");
    }
}

/// Resolves once the input has closed and the stop signal has fired.
///
/// A pull exporter's input closes at once (no pipeline routes batches to it), so in practice
/// the server runs until the daemon's stop signal; a batch that arrives anyway is counted as
/// dropped, since targets are evaluated at scrape time and never from batches.
///
/// Known shortcoming: the daemon fires the stop signal only once `runtime.shutdown_timeout` has
/// passed without every exporter ending, so a daemon serving scrape targets always takes that
/// long to stop. A separate "sources have stopped" signal from the pipeline would end it at
/// once; until then the wait is bounded and scrapes keep working during it.
async fn wait_until_closed(
    mut rx: mpsc::Receiver<Batch>,
    mut stop: StopSignal,
    stats: Arc<ComponentStats>,
) {
    while let Some(batch) = rx.recv().await {
        let delivery = stats.delivery(batch.tenant(), batch.signal());
        delivery.add_generated(batch.len() as u64);
        delivery.add_dropped(DropReason::Filtered, batch.len() as u64);
    }
    stop.triggered().await;
}

impl Exporter for ScrapeExporter {
    fn run(self: Box<Self>, input: ExporterInput) -> ExporterTask {
        Box::pin(self.serve(input))
    }
}

#[cfg(test)]
mod tests;
