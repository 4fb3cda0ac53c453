//! `GET /api/v1/preview`: a sample of what a source would generate, without sending anything.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use serde::{Deserialize, Serialize};

use super::AdminState;
use super::error::ApiError;
use crate::exporters::file::{render_log_lines, render_log_ndjson};
use crate::model::{Batch, Signal};
use crate::pipeline::clock::wall_now_ns;
use crate::pipeline::resolve_tenants;
use crate::sources::logs::{Dialect, LogsSourceConfig};
use crate::sources::{BuildContext, SourceConfig};

/// Most records one preview returns.
pub const MAX_PREVIEW: usize = 1000;

/// Query parameters of a preview.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// `logs` (default).
    pub signal: Option<String>,
    /// A log dialect (`json`, `apache_combined`, …): preview a fresh `logs` source.
    pub dialect: Option<String>,
    /// A configured source id to preview instead.
    pub source: Option<String>,
    /// Tenant to preview; the source's first tenant by default.
    pub tenant: Option<String>,
    /// Number of records, 1 to 1000 (default 20).
    pub n: Option<usize>,
    /// `json` (default: records as objects) or `lines` (plain text).
    pub format: Option<String>,
}

/// A preview answered as JSON.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PreviewBody {
    /// The previewed signal.
    pub signal: String,
    /// The tenant the records belong to.
    pub tenant: String,
    /// The records, as in the `ndjson` output format.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
}

/// A sample of what would be generated.
#[utoipa::path(get, path = "/api/v1/preview", params(PreviewQuery), responses(
    (status = 200, body = PreviewBody),
    (status = 404, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody)
))]
pub async fn preview(
    State(state): State<Arc<AdminState>>,
    query: Result<Query<PreviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::invalid("query", rejection.body_text()))?;
    let signal = query.signal.as_deref().unwrap_or("logs");
    if Signal::parse(signal) != Some(Signal::Logs) {
        return Err(ApiError::invalid(
            "signal",
            format!("unsupported signal {signal:?}; use logs"),
        ));
    }
    let n = query.n.unwrap_or(20);
    if n == 0 || n > MAX_PREVIEW {
        return Err(ApiError::invalid(
            "n",
            format!("n must be between 1 and {MAX_PREVIEW}"),
        ));
    }
    let lines = match query.format.as_deref() {
        None | Some("json") => false,
        Some("lines") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("unknown format {other:?}; use json or lines"),
            ));
        }
    };
    let (source_config, tenant_names) = choose_source(&state, &query)?;
    let mut tenants = resolve_tenants(&state.config, tenant_names.as_deref());
    if let Some(wanted) = &query.tenant {
        tenants.retain(|t| &*t.id == wanted.as_str());
        if tenants.is_empty() {
            return Err(
                ApiError::not_found(format!("unknown tenant {wanted:?} for this source"))
                    .with_field("tenant"),
            );
        }
    }
    tenants.truncate(1);
    let Some(tenant) = tenants.first().map(|t| t.id.to_string()) else {
        return Err(ApiError::not_found("no tenant is configured").with_field("tenant"));
    };
    let context = BuildContext {
        seed: state.config.seed,
        component_id: query
            .source
            .clone()
            .unwrap_or_else(|| "preview".to_string()),
        tenants,
        anomalies: crate::anomaly::Registry::new(),
    };
    let mut source = source_config
        .build(&context)
        .map_err(|error| ApiError::invalid("source", error))?;
    let batches =
        tokio::task::spawn_blocking(move || source.preview(Signal::Logs, wall_now_ns(), n))
            .await
            .map_err(|_| ApiError::invalid("source", "the preview failed"))?;
    let mut text = Vec::new();
    let mut remaining = n;
    for batch in &batches {
        let Batch::Logs(logs) = batch else { continue };
        let mut logs = logs.clone();
        logs.entries.truncate(remaining);
        remaining -= logs.entries.len();
        if lines {
            render_log_lines(&logs, &mut text)
        } else {
            render_log_ndjson(&logs, &mut text)
        }
    }
    if lines {
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
    }
    let records = text
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect();
    Ok(Json(PreviewBody {
        signal: signal.to_string(),
        tenant,
        records,
    })
    .into_response())
}

fn choose_source(
    state: &AdminState,
    query: &PreviewQuery,
) -> Result<(SourceConfig, Option<Vec<String>>), ApiError> {
    if let Some(id) = &query.source {
        let source = state.config.sources.get(id).ok_or_else(|| {
            ApiError::not_found(format!("no source with id {id:?}")).with_field("source")
        })?;
        return Ok((source.clone(), source.tenants().map(<[String]>::to_vec)));
    }
    let dialect_name = query.dialect.as_deref().unwrap_or("json");
    let dialect = Dialect::parse(dialect_name).ok_or_else(|| {
        let known: Vec<&str> = Dialect::ALL.iter().map(|d| d.as_str()).collect();
        ApiError::invalid(
            "dialect",
            format!(
                "unknown dialect {dialect_name:?}; one of {}",
                known.join(", ")
            ),
        )
    })?;
    let config: LogsSourceConfig =
        toml::from_str(&format!("dialect = \"{}\"", dialect.as_str()))
            .map_err(|error| ApiError::invalid("dialect", error.to_string()))?;
    Ok((SourceConfig::Logs(config), None))
}
