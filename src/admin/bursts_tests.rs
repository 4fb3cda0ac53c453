//! The burst API end to end inside the process: real router, real burst manager, a file
//! exporter receiving the bursts' own volume.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::admin::{AdminState, router};
use crate::anomaly::Registry;
use crate::bursts::Bursts;
use crate::config::Config;
use crate::pipeline::clock::Clock;
use crate::pipeline::stats::Stats;

struct Harness {
    state: Arc<AdminState>,
    registry: Arc<Registry>,
    _dir: tempfile::TempDir,
    out: std::path::PathBuf,
}

fn harness(admin: &str) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("burst.log");
    let text = format!(
        r#"
[admin]
{admin}
[tenants.acme]
[tenants.globex]
[sources.noise]
type = "logs"
dialect = "logfmt"
[exporters.out]
type = "file"
path = "{}"
[pipelines.logs]
sources = ["noise"]
exporters = ["out"]
"#,
        out.display()
    );
    let config = Arc::new(Config::from_str_with_env(&text, "test", |_| None).expect("config"));
    let state = AdminState::new(Arc::clone(&config), Stats::new());
    let registry = Registry::new();
    state.set_bursts(Bursts::new(
        config,
        Arc::clone(&registry),
        Clock::Live,
        tokio::runtime::Handle::current(),
    ));
    Harness {
        state,
        registry,
        _dir: dir,
        out,
    }
}

async fn call(
    harness: &Harness,
    method: &str,
    uri: &str,
    body: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router(Arc::clone(&harness.state))
        .oneshot(request.body(Body::from(body.to_string())).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, location, body)
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("json: {}", String::from_utf8_lossy(body)))
}

async fn wait_state(harness: &Harness, id: &str, want: &str) -> serde_json::Value {
    for _ in 0..200 {
        let (_, _, body) = call(harness, "GET", &format!("/api/v1/bursts/{id}"), "", None).await;
        let status = json(&body);
        if status["state"] == want {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("burst {id} never reached {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_burst_delivers_its_count_and_says_what_it_injected() {
    let harness = harness("");
    let body = r#"{"tenant":"acme","anomalies":[{"kind":"L-HUGE","params":{"share":0.1,"size":20000}}],
        "count":300,"rate":{"from":3000},"dialect":"json","seed":9}"#;
    let (status, location, body) = call(&harness, "POST", "/api/v1/bursts", body, None).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let accepted = json(&body);
    let id = accepted["id"].as_str().expect("id").to_string();
    assert_eq!(
        location.as_deref(),
        Some(format!("/api/v1/bursts/{id}").as_str())
    );
    assert_eq!(accepted["expected"][0]["kind"], "L-HUGE");

    let status = wait_state(&harness, &id, "completed").await;
    assert_eq!(status["generated"], 300);
    let delivery = &status["delivery"][0];
    assert_eq!(delivery["exporter"], "out");
    assert_eq!(delivery["signal"], "logs");
    assert_eq!(delivery["accepted"], 300);
    assert!(status["first_batch_ms"].as_f64().expect("first batch") < 1000.0);

    let text = std::fs::read_to_string(&harness.out).expect("exporter output");
    assert_eq!(
        text.lines().count(),
        300,
        "every generated line reached the exporter"
    );

    let (status, _, body) = call(
        &harness,
        "GET",
        &format!("/api/v1/bursts/{id}/manifest"),
        "",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&body)
        .lines()
        .map(|l| serde_json::from_str(l).expect("manifest line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["tenant"], "acme");
    assert_eq!(lines[0]["seed"], 9);
    assert!(lines[0]["start_unix_ns"].as_i64() < lines[0]["end_unix_ns"].as_i64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_start_nothing() {
    let harness = harness("max_body_bytes = 2048\nmax_concurrent_bursts = 1");
    let huge = format!(r#"{{"tenant":"acme","pad":"{}"}}"#, "x".repeat(4096));
    let cases: Vec<(String, StatusCode, Option<&str>)> = vec![
        ("{not json".into(), StatusCode::BAD_REQUEST, None),
        (huge, StatusCode::PAYLOAD_TOO_LARGE, None),
        (
            r#"{"tenant":"nobody","count":5}"#.into(),
            StatusCode::NOT_FOUND,
            Some("tenant"),
        ),
        (
            r#"{"tenant":"acme","count":5,"colour":1}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("colour"),
        ),
        (
            r#"{"tenant":"acme","count":-1}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("count"),
        ),
        (
            r#"{"tenant":"acme","count":1e30}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("count"),
        ),
        (
            r#"{"tenant":"acme","count":999999999999}"#.into(),
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("count"),
        ),
        (
            r#"{"tenant":"acme","scenario":"db_slowdown","duration":"1m"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("scenario"),
        ),
        (
            r#"{"tenant":"acme","count":5,"exporters":["nope"]}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("exporters[0]"),
        ),
    ];
    for (body, want, field) in &cases {
        let (status, _, answer) = call(&harness, "POST", "/api/v1/bursts", body, None).await;
        assert_eq!(
            status,
            *want,
            "{body}: {}",
            String::from_utf8_lossy(&answer)
        );
        let error = json(&answer);
        assert!(error["error"]["code"].is_string(), "{error}");
        assert_eq!(error["error"]["field"].as_str(), *field, "{body}");
    }
    let (_, _, list) = call(&harness, "GET", "/api/v1/bursts", "", None).await;
    assert_eq!(json(&list).as_array().map(Vec::len), Some(0));
    assert!(harness.registry.is_empty());

    // One running burst is the limit here; the next is refused with 429.
    let long = r#"{"tenant":"acme","anomalies":[{"kind":"L-DUP"}],"duration":"10m"}"#;
    assert_eq!(
        call(&harness, "POST", "/api/v1/bursts", long, None).await.0,
        StatusCode::ACCEPTED
    );
    let (status, _, body) = call(&harness, "POST", "/api/v1/bursts", long, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json(&body)["error"]["code"], "too_many_bursts");
    let (status, _, _) = call(&harness, "DELETE", "/api/v1/bursts/b-NOPE", "", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_stops_a_running_burst_within_a_batch_interval() {
    let harness = harness("");
    let body = r#"{"tenant":"globex","rate":{"from":2000},"duration":"1m"}"#;
    let (status, _, body) = call(&harness, "POST", "/api/v1/bursts", body, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = json(&body)["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, _, body) = call(
        &harness,
        "DELETE",
        &format!("/api/v1/bursts/{id}"),
        "",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["state"], "cancelled");
    // One batch interval (100 ms) later, generation has stopped.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (_, _, first) = call(&harness, "GET", &format!("/api/v1/bursts/{id}"), "", None).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, _, second) = call(&harness, "GET", &format!("/api/v1/bursts/{id}"), "", None).await;
    let (first, second) = (json(&first), json(&second));
    assert_eq!(first["generated"], second["generated"]);
    let generated = second["generated"].as_u64().expect("generated");
    assert!((500..=2000).contains(&generated), "generated {generated}");
    assert_eq!(second["state"], "cancelled");
    assert_eq!(second["delivery"][0]["generated"], generated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_every_burst_endpoint() {
    let harness = harness("token = \"s3cret\"");
    let body = r#"{"tenant":"acme","count":5}"#;
    for (method, uri) in [
        ("POST", "/api/v1/bursts"),
        ("GET", "/api/v1/bursts"),
        ("GET", "/api/v1/scenarios"),
        ("GET", "/api/v1/tenants"),
    ] {
        let (status, _, _) = call(&harness, method, uri, body, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        let (status, _, _) = call(&harness, method, uri, body, Some("wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
    let (status, _, _) = call(&harness, "POST", "/api/v1/bursts", body, Some("s3cret")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        call(&harness, "GET", "/healthz", "", None).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_tenants_and_openapi_list_what_can_be_asked() {
    let harness = harness("");
    let (_, _, body) = call(&harness, "GET", "/api/v1/scenarios", "", None).await;
    let body = json(&body);
    assert_eq!(body["scenarios"].as_array().map(Vec::len), Some(7));
    assert_eq!(
        body["anomalies"].as_array().map(Vec::len),
        Some(crate::anomaly::Kind::ALL.len())
    );
    let (_, _, body) = call(&harness, "GET", "/api/v1/tenants", "", None).await;
    assert_eq!(json(&body)[0]["id"], "acme");
    let (_, _, body) = call(&harness, "GET", "/openapi.json", "", None).await;
    let paths = &json(&body)["paths"];
    for path in [
        "/api/v1/bursts",
        "/api/v1/bursts/{id}",
        "/api/v1/bursts/{id}/manifest",
        "/api/v1/scenarios",
        "/api/v1/tenants",
    ] {
        assert!(
            paths.get(path).is_some(),
            "{path} missing from openapi.json"
        );
    }
    assert!(paths["/api/v1/bursts/{id}"].get("delete").is_some());
}
