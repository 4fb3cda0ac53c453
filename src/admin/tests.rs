use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use super::*;

const CONFIG: &str = r#"
[tenants.acme]
[tenants.globex]

[sources.noise]
type = "logs"
dialect = "logfmt"
tenants = ["globex"]

[exporters.out]
type = "stdout"

[pipelines.logs]
sources = ["noise"]
exporters = ["out"]
"#;

fn state(extra: &str) -> Arc<AdminState> {
    let text = format!("{CONFIG}{extra}");
    let config = Config::from_str_with_env(&text, "test", |_| None).expect("config");
    AdminState::new(Arc::new(config), Stats::new())
}

async fn call(state: &Arc<AdminState>, uri: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder().uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router(Arc::clone(state))
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, body)
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("json body")
}

#[tokio::test]
async fn readiness_follows_the_flag() {
    let state = state("");
    assert_eq!(call(&state, "/healthz", None).await.0, StatusCode::OK);
    assert_eq!(
        call(&state, "/readyz", None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    state.set_ready(true);
    let (status, body) = call(&state, "/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["status"], "ready");
}

#[tokio::test]
async fn preview_returns_records_of_the_requested_dialect() {
    let state = state("");
    let (status, body) = call(&state, "/api/v1/preview?signal=logs&dialect=json&n=5", None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let body = json(&body);
    let records = body["records"].as_array().expect("records");
    assert_eq!(records.len(), 5);
    for record in records {
        let line = record["line"].as_str().expect("line");
        let parsed: serde_json::Value = serde_json::from_str(line).expect("json dialect line");
        assert!(parsed.is_object());
        assert_eq!(record["tenant"], "acme");
    }
}

#[tokio::test]
async fn preview_of_a_configured_source_uses_its_tenants() {
    let state = state("");
    let (status, body) = call(
        &state,
        "/api/v1/preview?source=noise&n=3&format=lines",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.iter().filter(|b| **b == b'\n').count(), 3);
    let (status, body) = call(&state, "/api/v1/preview?source=noise&n=1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["tenant"], "globex");
}

#[tokio::test]
async fn preview_rejects_bad_parameters_with_the_error_shape() {
    let state = state("");
    for (uri, status, field) in [
        ("/api/v1/preview?n=0", StatusCode::UNPROCESSABLE_ENTITY, "n"),
        (
            "/api/v1/preview?n=100000",
            StatusCode::UNPROCESSABLE_ENTITY,
            "n",
        ),
        (
            "/api/v1/preview?dialect=klingon",
            StatusCode::UNPROCESSABLE_ENTITY,
            "dialect",
        ),
        (
            "/api/v1/preview?signal=metrics",
            StatusCode::UNPROCESSABLE_ENTITY,
            "signal",
        ),
        (
            "/api/v1/preview?source=ghost",
            StatusCode::NOT_FOUND,
            "source",
        ),
        (
            "/api/v1/preview?tenant=ghost",
            StatusCode::NOT_FOUND,
            "tenant",
        ),
        (
            "/api/v1/preview?n=abc",
            StatusCode::UNPROCESSABLE_ENTITY,
            "query",
        ),
        (
            "/api/v1/preview?bogus=1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "query",
        ),
    ] {
        let (got, body) = call(&state, uri, None).await;
        assert_eq!(got, status, "{uri}");
        let body = json(&body);
        assert_eq!(body["error"]["field"], field, "{uri}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let (status, body) = call(&state(""), "/api/v1/nothing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json(&body)["error"]["code"], "not_found");
}

#[tokio::test]
async fn token_protects_everything_but_healthz() {
    let state = state("\n[admin]\ntoken = \"s3cret\"\n");
    state.set_ready(true);
    assert_eq!(call(&state, "/healthz", None).await.0, StatusCode::OK);
    for path in ["/readyz", "/metrics", "/api/v1/pipelines", "/openapi.json"] {
        assert_eq!(
            call(&state, path, None).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        assert_eq!(
            call(&state, path, Some("wrong")).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        assert_eq!(
            call(&state, path, Some("s3cret")).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
}

#[tokio::test]
async fn pipelines_and_metrics_report_counters() {
    let state = state("");
    let exporter = state.stats.component("exporter", "out", "stdout");
    let tenant: crate::model::TenantId = "globex".into();
    let delivery = exporter.delivery(&tenant, crate::model::Signal::Logs);
    delivery.add_accepted(7);
    delivery.add_dropped(crate::pipeline::stats::DropReason::QueueFull, 2);
    let (status, body) = call(&state, "/api/v1/pipelines", None).await;
    assert_eq!(status, StatusCode::OK);
    let body = json(&body);
    assert_eq!(body["pipelines"][0]["sources"][0], "noise");
    let out = &body["components"][0];
    assert_eq!(out["id"], "out");
    assert_eq!(out["totals"]["accepted"], 7);
    assert_eq!(out["tenants"][0]["dropped"]["queue_full"], 2);

    let (status, body) = call(&state, "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).expect("utf-8");
    assert!(text.contains(
        "synthtel_records_accepted_total{kind=\"exporter\",component=\"out\",tenant=\"globex\",signal=\"logs\"} 7"
    ));
    assert!(text.contains("reason=\"queue_full\"} 2"));
}

#[tokio::test]
async fn openapi_lists_every_endpoint() {
    let (status, body) = call(&state(""), "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let doc = json(&body);
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/pipelines",
        "/api/v1/preview",
        "/openapi.json",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}

#[test]
fn constant_time_comparison_is_correct() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
}
