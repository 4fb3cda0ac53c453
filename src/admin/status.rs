//! `GET /api/v1/pipelines`: components, wiring, rates, queue depths and delivery counters.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AdminState;
use crate::pipeline::stats::{DeliverySnapshot, Stats};

/// How far back rates look.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Totals (records in, records failed) by `kind/id`, at one instant.
type Totals = (Instant, BTreeMap<String, (u64, u64)>);

/// Per-component totals sampled once a second, to derive recent rates.
#[derive(Debug, Default)]
pub struct RateTracker {
    samples: Mutex<VecDeque<Totals>>,
}

impl RateTracker {
    /// Records the current totals (records in, records failed) of every component.
    pub fn sample(&self, stats: &Stats) {
        let totals = stats
            .components()
            .iter()
            .map(|c| {
                let total = c.total();
                let failed = total.dropped_total()
                    + total.rejected.client_4xx
                    + total.rejected.server_5xx
                    + total.rejected.other;
                (
                    format!("{}/{}", c.kind(), c.id()),
                    (total.generated, failed),
                )
            })
            .collect();
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        samples.push_back((now, totals));
        while samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            samples.pop_front();
        }
    }

    /// Records per second and failures per second of a component over the window.
    pub fn rates(&self, key: &str) -> (f64, f64) {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let (Some((t0, first)), Some((t1, last))) = (samples.front(), samples.back()) else {
            return (0.0, 0.0);
        };
        let elapsed = t1.duration_since(*t0).as_secs_f64();
        if elapsed <= 0.0 {
            return (0.0, 0.0);
        }
        let (a, fa) = first.get(key).copied().unwrap_or_default();
        let (b, fb) = last.get(key).copied().unwrap_or_default();
        (
            b.saturating_sub(a) as f64 / elapsed,
            fb.saturating_sub(fa) as f64 / elapsed,
        )
    }

    /// Samples `stats` every second until the task is dropped.
    pub async fn run(state: Arc<AdminState>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            state.rates.sample(&state.stats);
        }
    }
}

/// The answer of `GET /api/v1/pipelines`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PipelinesBody {
    /// Seconds since the daemon started.
    pub uptime_seconds: f64,
    /// Hash of the running configuration.
    pub config_hash: String,
    /// How pipelines wire components.
    pub pipelines: Vec<PipelineWiring>,
    /// Every source, pipeline and exporter with its counters.
    pub components: Vec<ComponentStatus>,
}

/// One pipeline's wiring.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PipelineWiring {
    /// Pipeline id.
    pub id: String,
    /// Its signal.
    pub signal: String,
    /// Source ids.
    pub sources: Vec<String>,
    /// Processor ids, in order.
    pub processors: Vec<String>,
    /// Exporter ids.
    pub exporters: Vec<String>,
}

/// A queue's fill.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QueueStatus {
    /// Batches waiting.
    pub depth: i64,
    /// Capacity in batches.
    pub capacity: i64,
}

/// One component's status.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ComponentStatus {
    /// `source`, `pipeline` or `exporter`.
    pub kind: String,
    /// Id in the configuration.
    pub id: String,
    /// Component type (`logs`, `loki`, …); the signal for pipelines.
    #[serde(rename = "type")]
    pub component_type: String,
    /// Records per second over the last 10 s.
    pub records_per_second: f64,
    /// `ok`, or `degraded` when records were rejected or dropped in the last 10 s.
    pub health: String,
    /// The input queue.
    pub queue: QueueStatus,
    /// Counters summed over tenants and signals.
    pub totals: DeliverySnapshot,
    /// Counters per tenant and signal.
    pub tenants: Vec<TenantDelivery>,
}

/// Counters of one tenant and signal.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TenantDelivery {
    /// Tenant id.
    pub tenant: String,
    /// Signal.
    pub signal: String,
    /// Counters.
    #[serde(flatten)]
    pub delivery: DeliverySnapshot,
}

/// Components, rates, queue depths and delivery counters.
#[utoipa::path(get, path = "/api/v1/pipelines", responses((status = 200, body = PipelinesBody)))]
pub async fn pipelines(State(state): State<Arc<AdminState>>) -> Json<PipelinesBody> {
    let pipelines = state
        .config
        .pipelines
        .iter()
        .map(|(id, p)| PipelineWiring {
            id: id.clone(),
            signal: id.split('/').next().unwrap_or(id).to_string(),
            sources: p.sources.clone(),
            processors: p.processors.clone(),
            exporters: p.exporters.clone(),
        })
        .collect();
    let components = state
        .stats
        .components()
        .iter()
        .map(|c| {
            let (rate, failures) = state.rates.rates(&format!("{}/{}", c.kind(), c.id()));
            let (depth, capacity) = c.queue();
            ComponentStatus {
                kind: c.kind().to_string(),
                id: c.id().to_string(),
                component_type: c.component_type().to_string(),
                records_per_second: (rate * 10.0).round() / 10.0,
                health: if failures > 0.0 { "degraded" } else { "ok" }.to_string(),
                queue: QueueStatus { depth, capacity },
                totals: c.total(),
                tenants: c
                    .snapshot()
                    .into_iter()
                    .map(|(tenant, signal, delivery)| TenantDelivery {
                        tenant: tenant.to_string(),
                        signal: signal.to_string(),
                        delivery,
                    })
                    .collect(),
            }
        })
        .collect();
    Json(PipelinesBody {
        uptime_seconds: state.uptime_secs(),
        config_hash: state.config.hash.clone(),
        pipelines,
        components,
    })
}
