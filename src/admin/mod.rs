//! The admin API: health, readiness, synthtel's own metrics, pipeline status and previews.
//!
//! JSON over HTTP with axum, on `admin.listen` (loopback by default). Every error has the shape of
//! [`error::ApiError`]. When `admin.token` is set, every endpoint but `/healthz` requires
//! `Authorization: Bearer <token>`, compared in constant time.

mod bursts;
pub mod error;
mod metrics;
mod preview;
mod status;

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::OpenApi;

use crate::config::Config;
use crate::pipeline::stats::Stats;
use error::ApiError;
pub use status::RateTracker;

/// What every handler can read.
pub struct AdminState {
    /// The running configuration.
    pub config: Arc<Config>,
    /// Every component's counters.
    pub stats: Arc<Stats>,
    /// Rates over the last seconds, sampled in the background.
    pub rates: RateTracker,
    ready: AtomicBool,
    started: Instant,
    bursts: OnceLock<Arc<crate::bursts::Bursts>>,
}

impl AdminState {
    /// State for a daemon that is not yet ready.
    pub fn new(config: Arc<Config>, stats: Arc<Stats>) -> Arc<Self> {
        Arc::new(AdminState {
            config,
            stats,
            rates: RateTracker::default(),
            ready: AtomicBool::new(false),
            started: Instant::now(),
            bursts: OnceLock::new(),
        })
    }

    /// Marks the daemon ready (or not) for `/readyz`.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Hands the burst manager to the API (once the pipelines run).
    pub fn set_bursts(&self, bursts: Arc<crate::bursts::Bursts>) {
        let _ = self.bursts.set(bursts);
    }

    /// The burst manager, once set.
    pub fn bursts(&self) -> Option<&Arc<crate::bursts::Bursts>> {
        self.bursts.get()
    }

    /// Seconds since the state was created.
    pub fn uptime_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "synthtel admin API",
        description = "Control and status of a synthtel daemon."
    ),
    paths(
        healthz,
        readyz,
        metrics::metrics,
        status::pipelines,
        preview::preview,
        bursts::create,
        bursts::list,
        bursts::get,
        bursts::cancel,
        bursts::manifest,
        bursts::scenarios,
        bursts::tenants,
        openapi_json
    ),
    components(schemas(
        Health,
        error::ErrorBody,
        error::ErrorDetail,
        status::PipelinesBody,
        status::ComponentStatus,
        status::TenantDelivery,
        status::PipelineWiring,
        status::QueueStatus,
        crate::pipeline::stats::DeliverySnapshot,
        crate::pipeline::stats::Rejected,
        preview::PreviewBody,
        bursts::Accepted,
        bursts::Offer,
        bursts::ScenariosBody,
        bursts::TenantInfo,
        crate::bursts::BurstStatus,
        crate::bursts::State,
        crate::bursts::AnomalyProgress,
        crate::bursts::ExporterDelivery,
    ))
)]
struct ApiDoc;

/// The router with every endpoint, auth and limits.
pub fn router(state: Arc<AdminState>) -> Router {
    let protected = Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/pipelines", get(status::pipelines))
        .route("/api/v1/preview", get(preview::preview))
        .route("/api/v1/bursts", get(bursts::list).post(bursts::create))
        .route(
            "/api/v1/bursts/{id}",
            get(bursts::get).delete(bursts::cancel),
        )
        .route("/api/v1/bursts/{id}/manifest", get(bursts::manifest))
        .route("/api/v1/scenarios", get(bursts::scenarios))
        .route("/api/v1/tenants", get(bursts::tenants))
        .route("/openapi.json", get(openapi_json))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            require_token,
        ));
    let body_limit = usize::try_from(state.config.admin.max_body_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Health and readiness answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `starting`.
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: every pipeline is built and running.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, body = Health), (status = 503, body = Health)
))]
async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        Json(Health { status: "ready" }).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health { status: "starting" }),
        )
            .into_response()
    }
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3.1")))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /openapi.json")
}

async fn require_token(
    State(state): State<Arc<AdminState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = &state.config.admin.token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => {
            next.run(request).await
        }
        _ => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong bearer token in the Authorization header",
        )
        .into_response(),
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
