//! Metrics end to end, as a user runs them: the `synthtel` binary serving synthetic targets that a
//! real Prometheus discovers through `/sd` and scrapes, and pushing remote write into a real
//! Prometheus; both queried back with PromQL.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::daemon::Daemon;
use support::prometheus::Prometheus;
use support::{free_port, http_get, http_get_with};

const TENANTS: &str = r#"
[tenants.acme]
[tenants.globex]
scale = 0.3
"#;

#[test]
fn prometheus_discovers_and_scrapes_every_synthetic_target() {
    let scrape_port = free_port();
    let daemon = Daemon::start(&format!(
        r#"{TENANTS}
[sources.shop]
type = "metrics"
presets = ["http_red", "process", "node", "kube"]
services = ["frontend", "checkout", "cart"]
instances_per_service = 2

[exporters.targets]
type = "prometheus_scrape"
listen = "127.0.0.1:{scrape_port}"

[pipelines.metrics]
sources = ["shop"]
exporters = ["targets"]
"#
    ));
    let (status, sd) = http_get(scrape_port, "/sd").expect("sd");
    assert_eq!(status, 200);
    let groups: Vec<serde_json::Value> = serde_json::from_slice(&sd).expect("sd json");
    // 2 tenants × (6 pods + 2 nodes × 2 jobs + kube-state-metrics).
    assert_eq!(groups.len(), 2 * (6 + 2 * 2 + 1), "{groups:?}");

    let prometheus = Prometheus::start(&format!(
        "  - job_name: synthtel\n    scrape_interval: 2s\n    scrape_timeout: 2s\n    \
         http_sd_configs:\n      - url: http://127.0.0.1:{scrape_port}/sd\n        refresh_interval: 5s\n"
    ));
    prometheus.wait_for("count(up == 1)", Duration::from_secs(40), |result| {
        result.first().and_then(|r| r["value"][1].as_str()) == Some(&groups.len().to_string())
    });
    for target in prometheus.active_targets() {
        assert_eq!(target["health"], "up", "{target}");
        assert_eq!(target["lastError"], "", "{target}");
    }

    // Series counts: what Prometheus stored per target equals what the exposition holds.
    for group in &groups {
        let labels = &group["labels"];
        let path = labels["__metrics_path__"].as_str().expect("path");
        let (status, body) =
            http_get_with(scrape_port, path, &[("Accept", "text/plain;version=0.0.4")])
                .expect("scrape");
        assert_eq!(status, 200);
        let text = String::from_utf8(body).expect("utf-8");
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count();
        let instance = labels["instance"].as_str().expect("instance");
        let tenant = labels["tenant"].as_str().expect("tenant");
        let job = labels["job"].as_str().expect("job");
        let query = format!(
            "scrape_samples_scraped{{job=\"{job}\",instance=\"{instance}\",tenant=\"{tenant}\"}}"
        );
        let scraped = prometheus.value(&query).expect("scraped samples");
        assert_eq!(scraped as usize, samples, "{instance}");

        let (passed, findings) = promtool_check_metrics(&text);
        // node_exporter's own names (`node_memory_MemTotal_bytes`) are camelCase, which promtool
        // flags on a real node_exporter too; dashboards depend on them, so they are kept. Any
        // other finding fails the test.
        let unexpected: Vec<&str> = findings
            .lines()
            .filter(|line| !line.trim().is_empty())
            .filter(|line| {
                !(line.starts_with("node_memory_Mem")
                    && line.contains("'snake_case' not 'camelCase'"))
            })
            .collect();
        assert!(
            unexpected.is_empty() && (passed || job == "node"),
            "promtool check metrics failed for {path}:\n{findings}"
        );
    }

    let metadata = prometheus.api("/api/v1/metadata");
    let data = &metadata["data"];
    let kind = |name: &str| data[name][0]["type"].as_str().map(str::to_string);
    assert_eq!(
        kind("http_server_request_duration_seconds").as_deref(),
        Some("histogram")
    );
    assert_eq!(kind("process_start_time_seconds").as_deref(), Some("gauge"));
    assert!(
        kind("http_requests")
            .or_else(|| kind("http_requests_total"))
            .as_deref()
            == Some("counter"),
        "{data}"
    );

    // Two scrapes later, counters only grow and histograms give a plausible tail.
    prometheus.wait_for(
        "count(rate(http_requests_total[10s]) >= 0)",
        Duration::from_secs(30),
        |result| !result.is_empty(),
    );
    assert!(
        prometheus
            .query("rate(http_requests_total[10s]) < 0")
            .is_empty()
    );
    assert!(
        prometheus
            .query("rate(node_cpu_seconds_total[10s]) < 0")
            .is_empty()
    );
    let tenants = prometheus.query("count by (tenant) (http_requests_total)");
    assert_eq!(tenants.len(), 2, "{tenants:?}");

    let exporter = &daemon.pipelines()["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["id"] == "targets")
        .cloned()
        .expect("scrape exporter status");
    assert!(
        exporter["totals"]["accepted"].as_u64().unwrap_or(0) > 0,
        "{exporter}"
    );
}

#[test]
fn remote_write_reaches_prometheus_for_two_tenants() {
    let prometheus = Prometheus::start("");
    let _daemon = Daemon::start(&format!(
        r#"{TENANTS}
[sources.shop]
type = "metrics"
presets = ["http_red", "process"]
services = ["checkout", "payment"]
instances_per_service = 2
interval = "2s"

[exporters.prom]
type = "prometheus_remote_write"
endpoint = "http://127.0.0.1:{}/api/v1/write"
tenant_header = ""
tenant_label = "tenant"

[exporters.prom.batch]
max_age = "500ms"

[pipelines.metrics]
sources = ["shop"]
exporters = ["prom"]
"#,
        prometheus.port
    ));
    let tenants = prometheus.wait_for(
        "count by (tenant) (http_requests_total)",
        Duration::from_secs(30),
        |result| result.len() == 2,
    );
    assert_eq!(tenants.len(), 2);
    // Series travel in different shards, so each family is waited for on its own.
    let series = prometheus.wait_for(
        "process_start_time_seconds{tenant=\"acme\",job=\"checkout\"}",
        Duration::from_secs(30),
        |result| result.len() == 2,
    );
    assert_eq!(series.len(), 2, "two instances: {series:?}");
    for labels in series.iter().map(|s| &s["metric"]) {
        assert!(
            labels["instance"]
                .as_str()
                .is_some_and(|i| i.starts_with("checkout-"))
        );
        assert_eq!(labels["namespace"], "shop");
        assert_eq!(labels["service"], "checkout");
    }
    let p99 = "histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{tenant=\"acme\"}[20s])))";
    let quantile = prometheus.wait_for(p99, Duration::from_secs(40), |result| {
        result
            .first()
            .and_then(|r| r["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(f64::is_finite)
    });
    let value: f64 = quantile[0]["value"][1]
        .as_str()
        .expect("value")
        .parse()
        .expect("float");
    assert!(value > 0.005 && value <= 10.0, "p99 = {value}");
    assert!(
        prometheus
            .query("rate(http_requests_total[20s]) < 0")
            .is_empty()
    );
    assert!(
        prometheus
            .query("rate(process_cpu_seconds_total[20s]) < 0")
            .is_empty()
    );
}

/// Runs `promtool check metrics` on an exposition: (passed, findings).
fn promtool_check_metrics(text: &str) -> (bool, String) {
    let promtool = std::path::Path::new("/usr/bin/promtool");
    assert!(
        promtool.exists(),
        "promtool is missing: run `make test-deps`"
    );
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("promtool output");
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), findings)
}
