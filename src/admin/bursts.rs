//! `/api/v1/bursts`, `/api/v1/scenarios` and `/api/v1/tenants`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AdminState;
use super::error::ApiError;
use crate::anomaly::Kind;
use crate::anomaly::scenario::SCENARIOS;
use crate::bursts::request::Refusal;
use crate::bursts::{BurstStatus, Bursts};

fn refusal(refusal: Refusal) -> ApiError {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
    let error = ApiError::new(status, refusal.code, refusal.message);
    match refusal.field {
        Some(field) => error.with_field(field),
        None => error,
    }
}

fn manager(state: &AdminState) -> Result<&Arc<Bursts>, ApiError> {
    state.bursts().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "bursts start once the pipelines run",
        )
    })
}

/// The answer to an accepted burst.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// Burst id.
    pub id: String,
    /// State right after acceptance.
    pub state: crate::bursts::State,
    /// What the backends should show: one entry per anomaly (the manifest).
    #[schema(value_type = Vec<Object>)]
    pub expected: Vec<crate::anomaly::manifest::Entry>,
}

/// Starts a burst: a scenario or anomalies scoped to one tenant, with optional own volume.
#[utoipa::path(post, path = "/api/v1/bursts", request_body(content = Object, description = "tenant, signals, scenario or anomalies, duration or count, rate, seed, exporters"), responses(
    (status = 202, body = Accepted),
    (status = 400, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody),
    (status = 413, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody),
    (status = 429, body = super::error::ErrorBody)
))]
pub async fn create(State(state): State<Arc<AdminState>>, body: Body) -> Response {
    let limit = usize::try_from(state.config.admin.max_body_bytes).unwrap_or(usize::MAX);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is over {limit} bytes (admin.max_body_bytes)"),
            )
            .into_response();
        }
    };
    let bursts = match manager(&state) {
        Ok(bursts) => bursts,
        Err(error) => return error.into_response(),
    };
    match bursts.start(&bytes) {
        Ok(burst) => {
            let location = format!("/api/v1/bursts/{}", burst.id);
            let body = Accepted {
                id: burst.id.clone(),
                state: burst.state(bursts.now_ns()),
                expected: burst.manifest(),
            };
            let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Err(error) => refusal(error).into_response(),
    }
}

/// Every burst, oldest first (finished ones are kept for a while).
#[utoipa::path(get, path = "/api/v1/bursts", responses((status = 200, body = Vec<BurstStatus>)))]
pub async fn list(
    State(state): State<Arc<AdminState>>,
) -> Result<Json<Vec<BurstStatus>>, ApiError> {
    let bursts = manager(&state)?;
    let now = bursts.now_ns();
    Ok(Json(bursts.list().iter().map(|b| b.status(now)).collect()))
}

/// State, progress and delivery counts of one burst.
#[utoipa::path(get, path = "/api/v1/bursts/{id}", params(("id" = String, Path, description = "burst id")), responses(
    (status = 200, body = BurstStatus), (status = 404, body = super::error::ErrorBody)
))]
pub async fn get(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<BurstStatus>, ApiError> {
    let bursts = manager(&state)?;
    let burst = bursts.get(&id).ok_or_else(|| unknown(&id))?;
    Ok(Json(burst.status(bursts.now_ns())))
}

/// Cancels a burst; what it generated is still delivered and counted.
#[utoipa::path(delete, path = "/api/v1/bursts/{id}", params(("id" = String, Path, description = "burst id")), responses(
    (status = 200, body = BurstStatus), (status = 404, body = super::error::ErrorBody)
))]
pub async fn cancel(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<BurstStatus>, ApiError> {
    let bursts = manager(&state)?;
    let burst = bursts.cancel(&id).ok_or_else(|| unknown(&id))?;
    Ok(Json(burst.status(bursts.now_ns())))
}

/// The ground truth of a burst, as JSON lines: one entry per anomaly.
#[utoipa::path(get, path = "/api/v1/bursts/{id}/manifest", params(("id" = String, Path, description = "burst id")), responses(
    (status = 200, content_type = "application/x-ndjson", description = "one manifest entry per line"),
    (status = 404, body = super::error::ErrorBody)
))]
pub async fn manifest(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let bursts = manager(&state)?;
    let burst = bursts.get(&id).ok_or_else(|| unknown(&id))?;
    let mut text = String::new();
    for entry in burst.manifest() {
        text.push_str(&serde_json::to_string(&entry).unwrap_or_default());
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], text).into_response())
}

fn unknown(id: &str) -> ApiError {
    ApiError::not_found(format!("no burst {id:?}; GET /api/v1/bursts lists them"))
}

/// A scenario or an anomaly kind that bursts can ask for.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Offer {
    /// Name or code.
    pub name: &'static str,
    /// Signal it shows in first (kinds only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<&'static str>,
    /// What it does.
    pub summary: &'static str,
}

/// `GET /api/v1/scenarios`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScenariosBody {
    /// Built-in scenarios.
    pub scenarios: Vec<Offer>,
    /// Every anomaly kind.
    pub anomalies: Vec<Offer>,
}

/// The built-in scenarios and every anomaly kind.
#[utoipa::path(get, path = "/api/v1/scenarios", responses((status = 200, body = ScenariosBody)))]
pub async fn scenarios() -> Json<ScenariosBody> {
    Json(ScenariosBody {
        scenarios: SCENARIOS
            .iter()
            .map(|s| Offer {
                name: s.name,
                signal: None,
                summary: s.summary,
            })
            .collect(),
        anomalies: Kind::ALL
            .iter()
            .map(|k| Offer {
                name: k.code(),
                signal: Some(k.signal().as_str()),
                summary: k.summary(),
            })
            .collect(),
    })
}

/// One tenant.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TenantInfo {
    /// Tenant id (`X-Scope-OrgID`).
    pub id: String,
    /// World model.
    pub model: String,
    /// Volume multiplier.
    pub scale: f64,
    /// Sources serving the tenant.
    pub sources: Vec<String>,
}

/// The configured tenants.
#[utoipa::path(get, path = "/api/v1/tenants", responses((status = 200, body = Vec<TenantInfo>)))]
pub async fn tenants(State(state): State<Arc<AdminState>>) -> Json<Vec<TenantInfo>> {
    let config = &state.config;
    Json(
        config
            .tenants
            .iter()
            .map(|(id, tenant)| TenantInfo {
                id: id.clone(),
                model: tenant.model.clone(),
                scale: tenant.scale,
                sources: config
                    .sources
                    .iter()
                    .filter(|(_, s)| s.tenants().is_none_or(|t| t.contains(id)))
                    .map(|(source, _)| source.clone())
                    .collect(),
            })
            .collect(),
    )
}

#[cfg(test)]
#[path = "bursts_tests.rs"]
mod tests;
