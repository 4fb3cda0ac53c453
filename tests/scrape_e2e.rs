//! The `prometheus_scrape` exporter scraped by a real Prometheus 2.42 (Debian package), which
//! finds the targets through `http_sd_configs` pointing at the exporter's `/sd`.
//!
//! Checks that every target is discovered and up, with its `tenant` label; that each target's
//! series count is what the target set produces; that types reach `/api/v1/metadata`; and that
//! OpenMetrics was negotiated: `info` survives as a type and exemplars are queryable, neither of
//! which text 0.0.4 can carry.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use synthtel::exporters::{ExporterConfig, ExporterContext, ExporterInput, StopSignal};
use synthtel::model::metrics::{Exemplar, Family, MetricKind, SampleSink, Target, TargetSet};
use synthtel::pipeline::stats::Stats;
use tokio::sync::mpsc;

use support::prometheus::Prometheus;
use support::{free_port, http_get_with};

/// A few shop services of two tenants; target `i` has `2 + i` order-status series, so each
/// target's series count differs.
struct Shop {
    targets: Vec<Target>,
    families: [Family; 4],
}

const STATUSES: [&str; 4] = ["cancelled", "failed", "paid", "shipped"];
const BOUNDS: [(&str, f64); 3] = [("0.1", 0.4), ("0.5", 0.9), ("+Inf", 1.0)];

impl Shop {
    fn new() -> Arc<Self> {
        let target = |tenant: &str, job: &str, instance: &str| Target {
            tenant: tenant.into(),
            job: job.into(),
            instance: instance.into(),
            labels: vec![("namespace".into(), format!("{tenant}-prod"))],
        };
        let family = |name: &str, kind, unit: &str, help: &str| Family {
            name: name.into(),
            help: help.into(),
            unit: unit.into(),
            kind,
        };
        Arc::new(Shop {
            targets: vec![
                target("acme", "checkout", "checkout-0:8080"),
                target("acme", "checkout", "checkout-1:8080"),
                target("globex", "payments", "payments-0:8080"),
            ],
            families: [
                family("shop_orders", MetricKind::Counter, "", "Orders placed."),
                family(
                    "shop_cart_items",
                    MetricKind::Gauge,
                    "",
                    "Items in open carts.",
                ),
                family(
                    "shop_request_duration_seconds",
                    MetricKind::Histogram,
                    "seconds",
                    "Request latency.",
                ),
                family("shop_build", MetricKind::Info, "", "Build information."),
            ],
        })
    }

    /// Samples target `index` writes: orders, one gauge, a histogram of three buckets plus
    /// `_sum` and `_count`, one info.
    fn expected_series(index: usize) -> usize {
        (2 + index) + 1 + (BOUNDS.len() + 2) + 1
    }
}

fn exemplar(seed: usize, value: f64, timestamp_ms: i64) -> Exemplar {
    Exemplar {
        trace_id: std::array::from_fn(|i| (seed * 16 + i + 1) as u8),
        span_id: std::array::from_fn(|i| (seed * 8 + i + 1) as u8),
        value,
        timestamp_ms,
    }
}

impl TargetSet for Shop {
    fn targets(&self) -> &[Target] {
        &self.targets
    }

    fn visit(&self, index: usize, timestamp_ms: i64, sink: &mut dyn SampleSink) {
        let seconds = (timestamp_ms / 1000) as f64;
        let [orders, cart, latency, build] = &self.families;

        sink.family(orders);
        for (n, status) in STATUSES.iter().take(2 + index).enumerate() {
            let exemplar = exemplar(n, 1.0, timestamp_ms - 100);
            let value = (seconds * (n + 1) as f64 / 10.0).floor();
            sink.sample(
                "shop_orders_total",
                &[("status", status)],
                value,
                Some(&exemplar),
            );
        }

        sink.family(cart);
        sink.sample("shop_cart_items", &[], (seconds % 60.0) + 1.0, None);

        sink.family(latency);
        let count = (seconds / 2.0).floor();
        for (n, (le, share)) in BOUNDS.iter().enumerate() {
            let slow = exemplar(7 + n, 0.3, timestamp_ms - 100);
            let exemplar = (n == 1).then_some(&slow);
            let labels = [("le", *le), ("route", "/cart")];
            let name = "shop_request_duration_seconds_bucket";
            sink.sample(name, &labels, (count * share).floor(), exemplar);
        }
        let labels = [("route", "/cart")];
        sink.sample(
            "shop_request_duration_seconds_sum",
            &labels,
            count * 0.2,
            None,
        );
        sink.sample("shop_request_duration_seconds_count", &labels, count, None);

        sink.family(build);
        sink.sample("shop_build_info", &[("version", "1.4.2")], 1.0, None);
    }
}

/// Builds the exporter from a TOML table, as the configuration loader does.
fn exporter_config(toml_text: &str) -> ExporterConfig {
    let mut table: toml::Table = toml::from_str(toml_text).expect("toml");
    let type_name = table.remove("type").expect("type");
    let type_name = type_name.as_str().expect("string");
    ExporterConfig::parse(type_name, table)
        .expect("known type")
        .expect("valid table")
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

#[test]
fn prometheus_discovers_scrapes_and_stores_every_target() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let port = free_port();
    let config = exporter_config(&format!(
        "type = \"prometheus_scrape\"\nlisten = \"127.0.0.1:{port}\"\n"
    ));
    assert!(config.is_pull());
    let set = Shop::new();
    let context = ExporterContext {
        anomalies: Default::default(),
        id: "targets".into(),
        target_sets: vec![set.clone()],
    };
    let exporter = config.build(&context).expect("build");
    let (_tx, rx) = mpsc::channel(1);
    let stats = Stats::new().component("exporter", "targets", "prometheus_scrape");
    let input = ExporterInput {
        rx,
        stats: Arc::clone(&stats),
        stop: StopSignal::never(),
    };
    runtime.spawn(exporter.run(input));

    // The exporter answers unknown targets with the JSON error shape.
    let (status, body) =
        http_get_with(port, "/targets/acme/checkout/nope/metrics", &[]).expect("answer");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));

    let started = now_secs();
    let prometheus = Prometheus::start(&format!(
        "  - job_name: synthtel\n    scrape_interval: 2s\n    scrape_timeout: 2s\n    \
         http_sd_configs:\n      - url: http://127.0.0.1:{port}/sd\n        refresh_interval: 5s\n"
    ));

    // Every target discovered and up.
    prometheus.wait_for("up", Duration::from_secs(45), |result| {
        result.len() == 3 && result.iter().all(|s| s["value"][1] == "1")
    });
    let targets = prometheus.active_targets();
    assert_eq!(targets.len(), 3, "{targets:?}");
    for target in &targets {
        assert_eq!(target["health"], "up", "{target}");
        assert_eq!(target["lastError"], "", "{target}");
        let labels = &target["labels"];
        let path = target["discoveredLabels"]["__metrics_path__"]
            .as_str()
            .expect("path");
        let expected = format!(
            "/targets/{}/{}/{}/metrics",
            labels["tenant"].as_str().expect("tenant"),
            labels["job"].as_str().expect("job"),
            labels["instance"].as_str().expect("instance")
        );
        assert_eq!(path, expected, "{target}");
        assert!(labels["namespace"].as_str().is_some(), "{target}");
        assert_eq!(
            target["scrapeUrl"],
            format!("http://127.0.0.1:{port}{path}"),
            "{target}"
        );
    }

    // Series counts per target match the target set, seen two ways.
    for (index, target) in set.targets().iter().enumerate() {
        let expected = Shop::expected_series(index) as f64;
        let selector = format!(
            "{{tenant=\"{}\",job=\"{}\",instance=\"{}\"}}",
            target.tenant, target.job, target.instance
        );
        let scraped = format!("scrape_samples_scraped{selector}");
        let scraped = prometheus.value(&scraped);
        assert_eq!(scraped, Some(expected), "{selector}");
        let stored = format!(
            "count({{__name__=~\"shop_.*\",tenant=\"{}\",instance=\"{}\"}})",
            target.tenant, target.instance
        );
        assert_eq!(prometheus.value(&stored), Some(expected), "{stored}");
    }
    let per_instance =
        prometheus.query("count by (instance) ({__name__=~\"shop_.*\",tenant=\"acme\"})");
    assert_eq!(per_instance.len(), 2, "{per_instance:?}");

    // The tenant label arrives with the samples, and values follow the target set's clock.
    let globex = prometheus.query("shop_orders_total{tenant=\"globex\"}");
    assert_eq!(globex.len(), 4, "{globex:?}");
    assert!(globex.iter().all(|s| s["metric"]["job"] == "payments"));
    let failed = prometheus.value("shop_orders_total{tenant=\"globex\",status=\"failed\"}");
    let expected = (now_secs() * 2.0 / 10.0).floor();
    let failed = failed.expect("one series");
    assert!((expected - failed).abs() <= 2.0, "{failed} vs {expected}");

    // Types (and units) reach the metadata API; `info` is only kept by OpenMetrics.
    let metadata = prometheus.api("/api/v1/metadata")["data"].clone();
    let kind = |name: &str| metadata[name][0]["type"].as_str().map(String::from);
    assert_eq!(
        kind("shop_orders").as_deref(),
        Some("counter"),
        "{metadata}"
    );
    assert_eq!(
        kind("shop_cart_items").as_deref(),
        Some("gauge"),
        "{metadata}"
    );
    assert_eq!(
        kind("shop_request_duration_seconds").as_deref(),
        Some("histogram"),
        "{metadata}"
    );
    assert_eq!(kind("shop_build").as_deref(), Some("info"), "{metadata}");
    assert_eq!(
        metadata["shop_request_duration_seconds"][0]["unit"], "seconds",
        "{metadata}"
    );
    assert_eq!(
        metadata["shop_orders"][0]["help"], "Orders placed.",
        "{metadata}"
    );

    // Exemplars (OpenMetrics only) are stored on counters and buckets.
    let end = now_secs() + 5.0;
    for (query, trace_id) in [
        (
            "shop_orders_total{tenant=\"acme\",status=\"cancelled\"}",
            "0102030405060708090a0b0c0d0e0f10",
        ),
        (
            "shop_request_duration_seconds_bucket{tenant=\"globex\"}",
            "8182838485868788898a8b8c8d8e8f90",
        ),
    ] {
        let path = format!(
            "/api/v1/query_exemplars?query={}&start={}&end={end}",
            support::url_encode(query),
            started - 60.0
        );
        let data = prometheus.api(&path)["data"].clone();
        let series = data.as_array().expect("array");
        assert!(!series.is_empty(), "{query}: {data}");
        let exemplar = &series[0]["exemplars"][0];
        assert_eq!(exemplar["labels"]["trace_id"], trace_id, "{data}");
        assert!(exemplar["labels"]["span_id"].as_str().is_some(), "{data}");
    }

    // The scrapes are counted per tenant.
    let acme = stats
        .snapshot()
        .into_iter()
        .find(|(tenant, _, _)| &**tenant == "acme")
        .map(|(_, _, delivery)| delivery)
        .expect("acme counted");
    assert!(acme.requests >= 2, "{acme:?}");
    assert!(acme.accepted >= (Shop::expected_series(0) + Shop::expected_series(1)) as u64);
    assert!(acme.bytes_sent > 0);

    drop(prometheus);
    runtime.shutdown_timeout(Duration::from_secs(2));
}
