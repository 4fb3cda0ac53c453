//! Bursts against a real Prometheus: the daemon runs as a user runs it, a burst is fired with
//! `POST /api/v1/bursts`, and PromQL shows the anomaly inside the manifest's window and not
//! outside it, on the burst's tenant only.

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::daemon::Daemon;
use support::prometheus::Prometheus;
use support::{http_get, http_send};

const TENANTS: &str = "[tenants.acme]\n[tenants.globex]\n";

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Fires a burst; returns its id and manifest entries.
fn fire(daemon: &Daemon, body: &str) -> (String, Vec<serde_json::Value>) {
    let (status, head, answer) =
        http_send(daemon.admin, "POST", "/api/v1/bursts", body).expect("POST /api/v1/bursts");
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&answer));
    let accepted: serde_json::Value = serde_json::from_slice(&answer).expect("json");
    let id = accepted["id"].as_str().expect("id").to_string();
    assert!(
        head.to_ascii_lowercase().contains(&format!(
            "location: /api/v1/bursts/{}",
            id.to_ascii_lowercase()
        )),
        "{head}"
    );
    let (status, manifest) =
        http_get(daemon.admin, &format!("/api/v1/bursts/{id}/manifest")).expect("manifest");
    assert_eq!(status, 200);
    let entries = String::from_utf8_lossy(&manifest)
        .lines()
        .map(|line| serde_json::from_str(line).expect("manifest line"))
        .collect();
    (id, entries)
}

fn window(entry: &serde_json::Value) -> (f64, f64) {
    let start = entry["start_unix_ns"].as_i64().expect("start") as f64 / 1e9;
    let end = entry["end_unix_ns"].as_i64().expect("end") as f64 / 1e9;
    (start, end)
}

fn sleep_until(t: f64) {
    let wait = t - now_secs();
    if wait > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(wait));
    }
}

/// Raw samples `(timestamp, value)` of the single series `selector` over the last `range`.
fn raw_samples(prometheus: &Prometheus, selector: &str, range: &str, at: f64) -> Vec<(f64, f64)> {
    let result = prometheus.query_at(&format!("{selector}[{range}]"), at);
    assert_eq!(result.len(), 1, "one series for {selector}: {result:?}");
    result[0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|pair| {
            let t = pair[0].as_f64().expect("timestamp");
            let v: f64 = pair[1].as_str().expect("value").parse().expect("float");
            (t, v)
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
fn m_level_burst_shifts_one_tenants_series_inside_its_window_only() {
    let prometheus = Prometheus::start("");
    let daemon = Daemon::start(&format!(
        r#"{TENANTS}
[sources.hosts]
type = "metrics"
presets = ["process"]
services = ["checkout"]
instances_per_service = 1
interval = "1s"

[exporters.prom]
type = "prometheus_remote_write"
endpoint = "http://127.0.0.1:{}/api/v1/write"
tenant_header = ""
tenant_label = "tenant"

[exporters.prom.batch]
max_age = "200ms"

[pipelines.metrics]
sources = ["hosts"]
exporters = ["prom"]
"#,
        prometheus.port
    ));
    prometheus.wait_for(
        "count by (tenant) (process_resident_memory_bytes)",
        Duration::from_secs(30),
        |result| result.len() == 2,
    );
    std::thread::sleep(Duration::from_secs(6));
    let (_, manifest) = fire(
        &daemon,
        r#"{"tenant":"acme","duration":"20s","seed":3,
            "anomalies":[{"kind":"M-LEVEL","start":"4s","duration":"10s",
                          "target":{"metric":"process_resident_memory_bytes"},
                          "params":{"factor":3}}]}"#,
    );
    assert_eq!(manifest.len(), 1);
    assert_eq!(manifest[0]["kind"], "M-LEVEL");
    assert_eq!(manifest[0]["tenant"], "acme");
    let (start, end) = window(&manifest[0]);
    assert!((end - start - 10.0).abs() < 0.01);
    sleep_until(end + 5.0);
    let at = end + 4.0;

    let acme = raw_samples(
        &prometheus,
        "process_resident_memory_bytes{tenant=\"acme\"}",
        "30s",
        at,
    );
    let baseline = median(
        acme.iter()
            .filter(|(t, _)| *t < start)
            .map(|s| s.1)
            .collect(),
    );
    let (mut inside, mut outside) = (0, 0);
    for (t, v) in &acme {
        let ratio = v / baseline;
        if *t >= start && *t < end {
            inside += 1;
            assert!(
                (2.4..=3.7).contains(&ratio),
                "inside the window at {t}: ratio {ratio}"
            );
        } else {
            outside += 1;
            assert!(
                (0.75..=1.3).contains(&ratio),
                "outside the window at {t}: ratio {ratio}"
            );
        }
    }
    assert!(inside >= 8, "{inside} samples inside the window");
    assert!(outside >= 8, "{outside} samples outside the window");

    let globex = raw_samples(
        &prometheus,
        "process_resident_memory_bytes{tenant=\"globex\"}",
        "30s",
        at,
    );
    let baseline = median(globex.iter().map(|s| s.1).collect());
    for (t, v) in &globex {
        let ratio = v / baseline;
        assert!(
            (0.75..=1.3).contains(&ratio),
            "globex at {t}: ratio {ratio}"
        );
    }

    // The burst lasts 20 s from 4 s before the anomaly's start.
    sleep_until(start + 16.5);
    let (_, status) = http_get(daemon.admin, "/api/v1/bursts").expect("list");
    let list: serde_json::Value = serde_json::from_slice(&status).expect("json");
    assert_eq!(list[0]["state"], "completed", "{list}");
    assert!(
        list[0]["anomalies"][0]["affected"].as_u64().unwrap_or(0) >= 8,
        "{list}"
    );
}

/// p99 per route of one tenant's request durations over the 15 s before `at`.
fn p99_by_route(prometheus: &Prometheus, tenant: &str, at: f64) -> Vec<(String, f64)> {
    let query = format!(
        "histogram_quantile(0.99, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{{tenant=\"{tenant}\"}}[15s])))"
    );
    prometheus
        .query_at(&query, at)
        .iter()
        .filter_map(|series| {
            let route = series["metric"]["http_route"].as_str()?.to_string();
            let value: f64 = series["value"][1].as_str()?.parse().ok()?;
            value.is_finite().then_some((route, value))
        })
        .collect()
}

fn p99(prometheus: &Prometheus, tenant: &str, at: f64) -> f64 {
    let query = format!(
        "histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{{tenant=\"{tenant}\"}}[15s])))"
    );
    let result = prometheus.query_at(&query, at);
    assert_eq!(result.len(), 1, "{query}: {result:?}");
    result[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("p99 value")
}

#[test]
fn db_slowdown_raises_one_tenants_p99_and_its_error_logs_carry_error_trace_ids() {
    let prometheus = Prometheus::start("");
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs.ndjson");
    let spans = dir.path().join("spans.ndjson");
    let daemon = Daemon::start(&format!(
        r#"{TENANTS}
[sources.shop]
type = "simulation"
requests_per_second = 40
metrics_interval = "1s"

[exporters.prom]
type = "prometheus_remote_write"
endpoint = "http://127.0.0.1:{}/api/v1/write"
tenant_header = ""
tenant_label = "tenant"

[exporters.prom.batch]
max_age = "200ms"

[exporters.logfile]
type = "file"
path = "{}"
format = "ndjson"

[exporters.spanfile]
type = "file"
path = "{}"
format = "ndjson"

[pipelines.metrics]
sources = ["shop"]
exporters = ["prom"]

[pipelines.logs]
sources = ["shop"]
exporters = ["logfile"]

[pipelines.traces]
sources = ["shop"]
exporters = ["spanfile"]
"#,
        prometheus.port,
        logs.display(),
        spans.display()
    ));
    prometheus.wait_for(
        "count by (tenant) (http_server_request_duration_seconds_count)",
        Duration::from_secs(40),
        |result| result.len() == 2,
    );
    std::thread::sleep(Duration::from_secs(20));
    let (_, manifest) = fire(
        &daemon,
        r#"{"tenant":"acme","scenario":"db_slowdown","duration":"30s"}"#,
    );
    let root = &manifest[0];
    assert_eq!(root["kind"], "T-LAT");
    assert_eq!(root["root_cause"], true);
    assert!(manifest[1..].iter().all(|e| e["caused_by"] == root["id"]));
    let (start, end) = window(root);
    // The simulation runs 10 s behind the clock; its samples for the window arrive after that.
    let started = Instant::now();
    sleep_until(end + 16.0);
    assert!(started.elapsed() < Duration::from_secs(60));

    // The routes that query the database slow down; the p99 of the most affected one rises
    // several times over, while the other tenant's p99 stays where it was.
    let before = p99_by_route(&prometheus, "acme", start - 0.5);
    let during = p99_by_route(&prometheus, "acme", end - 0.5);
    let ratios: Vec<(String, f64)> = during
        .iter()
        .filter_map(|(route, value)| {
            let base = before.iter().find(|(r, _)| r == route)?.1;
            (base > 0.0).then(|| (route.clone(), value / base))
        })
        .collect();
    let worst = ratios.iter().map(|r| r.1).fold(0.0, f64::max);
    assert!(
        worst > 3.0,
        "acme p99 ratios by route, during / before: {ratios:?}"
    );
    let globex_before = p99(&prometheus, "globex", start - 0.5);
    let globex_during = p99(&prometheus, "globex", end - 0.5);
    assert!(
        globex_during < 1.6 * globex_before && globex_before < 1.6 * globex_during,
        "globex p99 {globex_before} before, {globex_during} during acme's slowdown"
    );

    // Error logs of acme inside the window carry trace ids of traces with an error span.
    let start_text = root["start"].as_str().expect("start").to_string();
    let end_text = root["end"].as_str().expect("end").to_string();
    let error_traces: std::collections::HashSet<String> = std::fs::read_to_string(&spans)
        .expect("spans")
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|span| span["tenant"] == "acme" && span["status"] == 2)
        .filter_map(|span| span["trace_id"].as_str().map(String::from))
        .collect();
    let mut error_lines = 0;
    for line in std::fs::read_to_string(&logs).expect("logs").lines() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let timestamp = entry["timestamp"].as_str().unwrap_or_default();
        if entry["tenant"] != "acme"
            || entry["severity"] != "error"
            || timestamp < start_text.as_str()
            || timestamp >= end_text.as_str()
        {
            continue;
        }
        let Some(trace_id) = entry["trace_id"].as_str() else {
            continue;
        };
        error_lines += 1;
        assert!(
            error_traces.contains(trace_id),
            "error log {line} has no error span in its trace"
        );
    }
    assert!(
        error_lines > 0,
        "the slowdown produced no error logs with trace ids"
    );
}
