//! The `prometheus_remote_write` exporter against a real Prometheus (`--web.enable-remote-write-
//! receiver`), read back with PromQL: the independent decoder WIRE.md §8 asks for.
//!
//! Prometheus is single-tenant, so the two tenants travel as a `tenant` label. Timestamps lie in
//! the last ten minutes, never in the future (BACKENDS.md: a future sample poisons the head).

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use support::prometheus::Prometheus;
use synthtel::exporters::remote_write::RemoteWriteConfig;
use synthtel::exporters::{Exporter, ExporterInput, StopSignal};
use synthtel::model::metrics::{Exemplar, Family, MetricKind, MetricSample, STALE_NAN, Series};
use synthtel::model::{Batch, MetricBatch};
use synthtel::pipeline::stats::Stats;

/// Scrape-like steps of 15 s; the last one 15 s before now.
const STEPS: i64 = 40;
const STEP_MS: i64 = 15_000;

/// Histogram buckets and the share of each step's 100 observations that falls in each: 50 at or
/// below 0.1 s, 30 in (0.1, 0.5], 20 in (0.5, 1]. The 0.9 quantile is then 0.5 + 10/20 × 0.5.
const BUCKETS: [(&str, f64); 4] = [("0.1", 50.0), ("0.5", 80.0), ("1", 100.0), ("+Inf", 100.0)];
const EXPECTED_P90: f64 = 0.75;

fn family(name: &str, kind: MetricKind, unit: &str) -> Arc<Family> {
    Arc::new(Family {
        name: name.into(),
        help: format!("Demo {name}."),
        unit: unit.into(),
        kind,
    })
}

fn series(name: &str, labels: &[(&str, &str)], family: &Arc<Family>) -> Arc<Series> {
    let labels = labels
        .iter()
        .map(|(n, v)| (Arc::from(*n), Arc::from(*v)))
        .collect();
    Arc::new(Series::new(name, labels, Arc::clone(family)))
}

/// One batch per step for `tenant`: a counter growing `rate` per second, a gauge, a classic
/// histogram scaled by `scale`, and an ephemeral gauge that ends with a stale marker two steps
/// before the others.
fn batches(tenant: &str, now_ms: i64, rate: f64, scale: f64) -> Vec<MetricBatch> {
    let requests = family("demo_requests", MetricKind::Counter, "");
    let temperature = family("demo_temperature_celsius", MetricKind::Gauge, "celsius");
    let latency = family("demo_latency_seconds", MetricKind::Histogram, "seconds");
    let ephemeral = family("demo_ephemeral", MetricKind::Gauge, "");
    let mut all = vec![
        series("demo_requests_total", &[("service", "cart")], &requests),
        series("demo_temperature_celsius", &[("room", "a")], &temperature),
        series("demo_latency_seconds_sum", &[], &latency),
        series("demo_latency_seconds_count", &[], &latency),
        series("demo_ephemeral", &[("pod", "p-1")], &ephemeral),
    ];
    for (le, _) in BUCKETS {
        all.push(series(
            "demo_latency_seconds_bucket",
            &[("le", le)],
            &latency,
        ));
    }

    let first_ms = now_ms - STEPS * STEP_MS;
    (0..STEPS)
        .map(|step| {
            let timestamp_ms = first_ms + step * STEP_MS;
            let elapsed = (step * STEP_MS) as f64 / 1000.0;
            let observations = (step + 1) as f64 * scale;
            let mut values = vec![
                (0, rate * elapsed + 1000.0),
                (1, 21.5 + step as f64 * 0.01),
                (2, observations * 30.0),
                (3, observations * 100.0),
            ];
            if step < STEPS - 2 {
                values.push((4, 1.0));
            } else if step == STEPS - 2 {
                values.push((4, STALE_NAN));
            }
            for (i, (_, cumulative)) in BUCKETS.iter().enumerate() {
                values.push((5 + i, observations * cumulative));
            }
            let mut batch = MetricBatch::new(tenant.into());
            batch.series = all.clone();
            batch.samples = values
                .into_iter()
                .map(|(series, value)| MetricSample {
                    series: series as u32,
                    timestamp_ms,
                    value,
                    exemplar: (series == 0).then(|| Exemplar {
                        trace_id: [step as u8 + 1; 16],
                        span_id: [7; 8],
                        value: 1.0,
                        timestamp_ms,
                    }),
                })
                .collect();
            batch
        })
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn values(result: &[serde_json::Value]) -> Vec<f64> {
    result
        .iter()
        .filter_map(|r| r["value"][1].as_str()?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_of_counters_gauges_and_histograms_come_back_through_promql() {
    let prometheus = Prometheus::start("");
    let toml = format!(
        r#"
        endpoint = "http://127.0.0.1:{}/api/v1/write"
        tenant_header = ""
        tenant_label = "tenant"
        shards = 2
        [batch]
        max_age = "50ms"
        [retry]
        max_elapsed = "5s"
        "#,
        prometheus.port
    );
    let config: RemoteWriteConfig = toml::from_str(&toml).expect("config");
    let exporter = config.build().expect("build");
    let (tx, rx) = mpsc::channel(config.queue_capacity);
    let stats = Stats::new().component("exporter", "rw", "prometheus_remote_write");
    let task = tokio::spawn(Box::new(exporter).run(ExporterInput {
        rx,
        stats: Arc::clone(&stats),
        stop: StopSignal::never(),
    }));

    let now = now_ms();
    let acme = batches("acme", now, 10.0, 1.0);
    let globex = batches("globex", now, 20.0, 2.0);
    for (a, g) in acme.into_iter().zip(globex) {
        tx.send(Batch::Metrics(a)).await.expect("send");
        tx.send(Batch::Metrics(g)).await.expect("send");
    }
    drop(tx);
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("exporter ends")
        .expect("join");
    let total = stats.total();
    assert_eq!(total.generated, 2 * (STEPS as u64 * 9 - 1), "{total:?}");
    assert_eq!(
        total.accepted,
        total.generated,
        "{total:?}\n{}",
        prometheus.log()
    );

    let checks = tokio::task::spawn_blocking(move || check_promql(&prometheus, now));
    checks.await.expect("promql checks");
}

fn check_promql(prometheus: &Prometheus, now_ms: i64) {
    let wait = Duration::from_secs(15);

    // The gauge of both tenants with exactly the labels sent, plus the tenant label.
    let gauges = prometheus.wait_for("demo_temperature_celsius", wait, |r| r.len() == 2);
    for gauge in &gauges {
        let labels = gauge["metric"].as_object().expect("labels");
        let mut names: Vec<&str> = labels.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["__name__", "room", "tenant"], "{gauge}");
        assert_eq!(labels["room"], "a");
        assert!(labels["tenant"] == "acme" || labels["tenant"] == "globex");
    }

    // Counter rates: per tenant as generated, and never negative over the whole window.
    let rate = |tenant: &str| {
        prometheus
            .value(&format!(
                "rate(demo_requests_total{{tenant=\"{tenant}\"}}[1m])"
            ))
            .expect("one series")
    };
    assert!(
        (rate("acme") - 10.0).abs() < 0.5,
        "acme rate {}",
        rate("acme")
    );
    assert!(
        (rate("globex") - 20.0).abs() < 1.0,
        "globex rate {}",
        rate("globex")
    );
    let start = (now_ms - STEPS * STEP_MS) as f64 / 1000.0;
    let end = now_ms as f64 / 1000.0;
    let range = prometheus.api(&format!(
        "/api/v1/query_range?query={}&start={start}&end={end}&step=15",
        support::url_encode("rate(demo_requests_total[1m])")
    ));
    let mut points = 0;
    for series in range["data"]["result"].as_array().expect("matrix") {
        for point in series["values"].as_array().expect("values") {
            let value: f64 = point[1].as_str().expect("value").parse().expect("float");
            assert!(value >= 0.0, "negative rate {value} in {series}");
            points += 1;
        }
    }
    assert!(points > 2 * 30, "{points} rate points");

    // Histogram: the 0.9 quantile lands where the bucket counts put it, over both tenants.
    let p90 = prometheus
        .value("histogram_quantile(0.9, sum by (le) (rate(demo_latency_seconds_bucket[1m])))")
        .expect("p90");
    assert!((p90 - EXPECTED_P90).abs() < 1e-6, "p90 {p90}");
    let mean = prometheus
        .value(
            "sum(rate(demo_latency_seconds_sum[1m])) / sum(rate(demo_latency_seconds_count[1m]))",
        )
        .expect("mean");
    assert!((mean - 0.3).abs() < 1e-6, "mean {mean}");

    // The stale marker ends the ephemeral series: present before it, gone at now.
    let before = (now_ms - 4 * STEP_MS) as f64 / 1000.0;
    assert_eq!(prometheus.query_at("demo_ephemeral", before).len(), 2);
    assert_eq!(prometheus.query_at("demo_ephemeral", end).len(), 0);
    assert_eq!(
        prometheus.query_at("demo_temperature_celsius", end).len(),
        2
    );

    // Exemplars reach exemplar storage with hex trace ids.
    let exemplars = prometheus.api(&format!(
        "/api/v1/query_exemplars?query={}&start={start}&end={end}",
        support::url_encode("demo_requests_total")
    ));
    let found = exemplars["data"].as_array().expect("exemplar series");
    assert_eq!(found.len(), 2, "{exemplars}");
    let trace_id = &found[0]["exemplars"][0]["labels"]["trace_id"];
    assert_eq!(trace_id.as_str().map(str::len), Some(32), "{exemplars}");
    assert!(
        values(&prometheus.query("demo_requests_total"))
            .iter()
            .all(|v| *v > 1000.0)
    );
}
