//! `synthtel run`: builds the topology, serves the admin API, runs until SIGTERM or SIGINT.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::admin::{self, AdminState, RateTracker};
use crate::config::Config;
use crate::pipeline::Topology;
use crate::pipeline::clock::Clock;
use crate::pipeline::stats::Stats;

/// Runs the daemon until a stop signal, then shuts down within the configured deadline.
pub async fn run(config: Config) -> anyhow::Result<()> {
    run_until(config, wait_for_stop_signal()).await
}

/// Runs the daemon until `stop` resolves.
pub async fn run_until(
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let stats = Stats::new();
    let anomalies = crate::anomaly::Registry::new();
    let topology = Topology::build(&config, &stats, &anomalies).map_err(|errors| {
        anyhow::anyhow!("cannot build the pipelines:\n  {}", errors.join("\n  "))
    })?;
    let listener = TcpListener::bind(config.admin.listen)
        .await
        .with_context(|| format!("cannot listen on {} (admin.listen)", config.admin.listen))?;
    let address = listener.local_addr().unwrap_or(config.admin.listen);
    let state = AdminState::new(Arc::clone(&config), Arc::clone(&stats));
    let sampler = tokio::spawn(RateTracker::run(Arc::clone(&state)));
    let (server_stop_tx, server_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serve =
        axum::serve(listener, admin::router(Arc::clone(&state))).with_graceful_shutdown(async {
            let _ = server_stop_rx.await;
        });
    let server = tokio::spawn(async move { serve.await });

    let running = topology.start(Clock::Live);
    let bursts = crate::bursts::Bursts::new(
        Arc::clone(&config),
        Arc::clone(&anomalies),
        Clock::Live,
        tokio::runtime::Handle::current(),
    );
    state.set_bursts(Arc::clone(&bursts));
    state.set_ready(true);
    tracing::info!(
        admin = %address,
        sources = config.sources.len(),
        pipelines = config.pipelines.len(),
        exporters = config.exporters.len(),
        "synthtel started."
    );

    stop.await;
    tracing::info!(
        timeout_secs = config.runtime.shutdown_timeout.as_secs_f64(),
        "Stopping: sources halt, queues flush."
    );
    state.set_ready(false);
    bursts.cancel_all();
    running.shutdown(config.runtime.shutdown_timeout).await;
    log_summary(&stats);
    let _ = server_stop_tx.send(());
    let _ = server.await;
    sampler.abort();
    Ok(())
}

fn log_summary(stats: &Stats) {
    for component in stats.components().iter().filter(|c| c.kind() == "exporter") {
        let total = component.total();
        let dropped = total.dropped_total();
        let rejected = total.rejected.client_4xx + total.rejected.server_5xx + total.rejected.other;
        if dropped > 0 || rejected > 0 {
            tracing::warn!(
                exporter = component.id(),
                accepted = total.accepted,
                rejected,
                dropped,
                reasons = ?total.dropped,
                "Exporter stopped with records lost."
            );
        } else {
            tracing::info!(
                exporter = component.id(),
                accepted = total.accepted,
                "Exporter stopped."
            );
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn wait_for_stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
