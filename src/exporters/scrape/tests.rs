use std::io::Read as _;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use super::*;
use crate::exporters::ExporterConfig;
use crate::model::Signal;
use crate::model::metrics::{Family, MetricKind, SampleSink, Target, TargetSet};
use crate::pipeline::stats::Stats;

/// Two targets of one gauge and one counter; values follow the timestamp.
struct Tiny {
    targets: Vec<Target>,
}

impl Tiny {
    fn new() -> Arc<Self> {
        let target = |tenant: &str, instance: &str| Target {
            tenant: tenant.into(),
            job: "checkout".into(),
            instance: instance.into(),
            labels: vec![("namespace".into(), "shop".into())],
        };
        Arc::new(Tiny {
            targets: vec![target("acme", "pod-1:8080"), target("globex", "pod-2:8080")],
        })
    }
}

impl TargetSet for Tiny {
    fn targets(&self) -> &[Target] {
        &self.targets
    }

    fn visit(&self, index: usize, timestamp_ms: i64, sink: &mut dyn SampleSink) {
        sink.family(&Family {
            name: "up_seconds".into(),
            help: "Seconds up.".into(),
            unit: "seconds".into(),
            kind: MetricKind::Gauge,
        });
        sink.sample("up_seconds", &[], (timestamp_ms / 1000) as f64, None);
        sink.family(&Family {
            name: "jobs".into(),
            help: "Jobs done.".into(),
            unit: String::new(),
            kind: MetricKind::Counter,
        });
        let shard = index.to_string();
        sink.sample("jobs_total", &[("shard", &shard)], 7.0, None);
    }
}

fn shared(bound: SocketAddr) -> (Arc<Shared>, Arc<ComponentStats>) {
    shared_with(bound, crate::anomaly::Registry::new())
}

fn shared_with(
    bound: SocketAddr,
    anomalies: Arc<crate::anomaly::Registry>,
) -> (Arc<Shared>, Arc<ComponentStats>) {
    let sets: Vec<Arc<dyn TargetSet>> = vec![Tiny::new()];
    let (catalog, skipped) = Catalog::new(sets);
    assert!(skipped.is_empty(), "{skipped:?}");
    let stats = Stats::new().component("exporter", "targets", "prometheus_scrape");
    let shared = Arc::new(Shared {
        catalog,
        bound,
        openmetrics: true,
        exemplars: true,
        created_ms: None,
        gzip: true,
        stats: Arc::clone(&stats),
        anomalies,
    });
    (shared, stats)
}

async fn get(
    shared: &Arc<Shared>,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String, Vec<u8>) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = server::router(Arc::clone(shared))
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let gzip = response.headers().get(header::CONTENT_ENCODING).is_some();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    if gzip {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .expect("gzip");
        return (status, content_type, plain);
    }
    (status, content_type, body)
}

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[test]
fn defaults_serve_openmetrics_with_exemplars_on_9464() {
    let config: PrometheusScrapeConfig = toml::from_str("").expect("toml");
    assert_eq!(config, PrometheusScrapeConfig::default());
    assert_eq!(config.listen.to_string(), "127.0.0.1:9464");
    assert!(config.openmetrics && config.exemplars && config.gzip);
    assert!(!config.created_timestamps);
    assert!(config.validate().is_empty());
}

#[test]
fn refuses_unknown_keys_and_contradictions() {
    assert!(toml::from_str::<PrometheusScrapeConfig>("port = 9464").is_err());
    let config: PrometheusScrapeConfig =
        toml::from_str("openmetrics = false\ncreated_timestamps = true").expect("toml");
    let keys: Vec<String> = config.validate().into_iter().map(|p| p.key).collect();
    assert_eq!(keys, ["created_timestamps"]);
    let text_only: PrometheusScrapeConfig = toml::from_str("openmetrics = false").expect("toml");
    assert!(text_only.validate().is_empty());
    assert!(config.build(&ExporterContext::default()).is_err());
}

#[test]
fn registers_as_a_pull_exporter_of_metrics() {
    let table: toml::Table = toml::from_str("listen = \"127.0.0.1:0\"").expect("toml");
    let config = ExporterConfig::parse("prometheus_scrape", table)
        .expect("known type")
        .expect("valid");
    assert!(config.is_pull());
    assert_eq!(config.type_name(), "prometheus_scrape");
    assert_eq!(config.signals(), [Signal::Metrics]);
    assert!(ExporterConfig::TYPES.contains(&"prometheus_scrape"));
}

#[test]
fn a_port_in_use_fails_the_build() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let config = PrometheusScrapeConfig {
        listen: taken.local_addr().expect("addr"),
        ..PrometheusScrapeConfig::default()
    };
    let error = config
        .build(&ExporterContext::default())
        .err()
        .expect("error");
    assert!(error.starts_with("listen: cannot bind"), "{error}");
}

#[tokio::test]
async fn service_discovery_lists_every_target_with_its_labels() {
    let (shared, _) = shared("127.0.0.1:9464".parse().expect("addr"));
    let (status, content_type, body) = get(&shared, "/sd", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let groups: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        groups[0],
        serde_json::json!({
            "targets": ["127.0.0.1:9464"],
            "labels": {
                "__metrics_path__": "/targets/acme/checkout/pod-1:8080/metrics",
                "instance": "pod-1:8080",
                "job": "checkout",
                "namespace": "shop",
                "tenant": "acme",
            }
        })
    );
    assert_eq!(groups.as_array().map(Vec::len), Some(2));
}

#[test]
fn wildcard_binds_advertise_the_host_header() {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(header::HOST, "synthtel:9464".parse().expect("header"));
    let any: SocketAddr = "0.0.0.0:9464".parse().expect("addr");
    assert_eq!(server_address(any, &headers), "synthtel:9464");
    assert_eq!(server_address(any, &Default::default()), "0.0.0.0:9464");
    let loopback: SocketAddr = "127.0.0.1:9464".parse().expect("addr");
    assert_eq!(server_address(loopback, &headers), "127.0.0.1:9464");
}

fn server_address(bound: SocketAddr, headers: &axum::http::HeaderMap) -> String {
    server::advertised_address(bound, headers)
}

#[tokio::test]
async fn prometheus_gets_gzipped_openmetrics_and_the_scrape_is_counted() {
    let (shared, stats) = shared("127.0.0.1:9464".parse().expect("addr"));
    let headers = [("accept", PROMETHEUS_ACCEPT), ("accept-encoding", "gzip")];
    let path = "/targets/acme/checkout/pod-1:8080/metrics";
    let (status, content_type, body) = get(&shared, path, &headers).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let body = String::from_utf8(body).expect("utf-8");
    assert!(body.contains("# UNIT up_seconds seconds\n"), "{body}");
    assert!(body.contains("jobs_total{shard=\"0\"} 7\n"), "{body}");
    assert!(body.ends_with("# EOF\n"), "{body}");

    let totals = stats.total();
    assert_eq!(
        (totals.generated, totals.accepted, totals.requests),
        (2, 2, 1)
    );
    assert!(totals.bytes_sent > 0);
    let tenants: Vec<String> = stats.snapshot().iter().map(|s| s.0.to_string()).collect();
    assert_eq!(tenants, ["acme"]);
}

#[tokio::test]
async fn plain_scrapers_get_text_0_0_4() {
    let (shared, _) = shared("127.0.0.1:9464".parse().expect("addr"));
    let path = "/targets/globex/checkout/pod-2:8080/metrics";
    for accept in [&[("accept", "text/plain")][..], &[("accept", "*/*")], &[]] {
        let (status, content_type, body) = get(&shared, path, accept).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
        let body = String::from_utf8(body).expect("utf-8");
        assert!(body.contains("# TYPE jobs_total counter\njobs_total{shard=\"1\"} 7\n"));
        assert!(!body.contains("# EOF"));
    }
}

#[tokio::test]
async fn unknown_targets_get_the_json_404() {
    let (shared, stats) = shared("127.0.0.1:9464".parse().expect("addr"));
    for path in ["/targets/acme/checkout/pod-9/metrics", "/nowhere"] {
        let (status, _, body) = get(&shared, path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"]["code"], "not_found", "{body}");
    }
    assert_eq!(stats.total().requests, 0);
}

#[test]
fn targets_with_slashes_or_twice_listed_are_left_out() {
    let target = |instance: &str| Target {
        tenant: "acme".into(),
        job: "api".into(),
        instance: instance.into(),
        labels: Vec::new(),
    };
    let set = Tiny {
        targets: vec![target("a/b"), target("ok"), target("ok"), target("")],
    };
    let (catalog, skipped) = Catalog::new(vec![Arc::new(set)]);
    assert_eq!(catalog.len(), 1);
    assert_eq!(skipped.len(), 3, "{skipped:?}");
}

#[tokio::test]
async fn the_server_stops_once_input_closes_and_stop_fires() {
    let config = PrometheusScrapeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..PrometheusScrapeConfig::default()
    };
    let context = ExporterContext {
        anomalies: Default::default(),
        id: "targets".into(),
        target_sets: vec![Tiny::new()],
    };
    let exporter = config.build(&context).expect("build");
    let addr = exporter.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel(1);
    drop(tx);
    let (stop_tx, stop) = StopSignal::new();
    let stats = Stats::new().component("exporter", "targets", "prometheus_scrape");
    let task = tokio::spawn(Box::new(exporter).run(ExporterInput { rx, stats, stop }));

    // The input is closed from the start, as for every pull exporter: still serving.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    assert!(!task.is_finished());

    stop_tx.send(true).expect("send");
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("stopped in time")
        .expect("task");
}

#[tokio::test]
async fn live_metric_anomalies_change_their_tenants_scrapes_only() {
    use crate::anomaly::{Anomaly, Kind, Params, Shape, Target as Selector};
    let registry = crate::anomaly::Registry::new();
    let now = crate::pipeline::clock::wall_now_ns();
    let anomaly = |id: &str, kind, metric: &str, factor| {
        Anomaly::new(
            id.into(),
            kind,
            "acme".into(),
            Selector {
                metric: Some(metric.into()),
                ..Selector::default()
            },
            now - 60_000_000_000,
            now + 60_000_000_000,
            Shape::Step,
            Params {
                factor,
                ..Params::default()
            },
            1,
        )
    };
    registry.add(anomaly("b-0", Kind::MLevel, "up_seconds", Some(3.0)));
    registry.add(anomaly("b-1", Kind::MGap, "jobs", None));
    let (shared, _) = shared_with(
        "127.0.0.1:9464".parse().expect("addr"),
        Arc::clone(&registry),
    );
    let text = [("accept", "text/plain")];
    let (status, _, acme) = get(&shared, "/targets/acme/checkout/pod-1:8080/metrics", &text).await;
    assert_eq!(status, StatusCode::OK);
    let acme = String::from_utf8(acme).expect("utf-8");
    let value = |body: &str, name: &str| -> Option<f64> {
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let up = value(&acme, "up_seconds").expect("up_seconds");
    let expected = (now / 1_000_000_000) as f64 * 3.0;
    assert!((up / expected - 1.0).abs() < 1e-6, "{acme}");
    assert!(
        !acme.contains("jobs_total"),
        "M-GAP leaves the counter out: {acme}"
    );
    // Identity labels come from service discovery, never from the exposition.
    assert!(
        !acme.contains("instance=") && !acme.contains("job="),
        "{acme}"
    );
    assert!(
        registry.matching(
            "acme",
            Signal::Metrics,
            crate::anomaly::Layer::Data,
            now,
            now + 1
        )[0]
        .affected()
            > 0
    );

    let (_, _, globex) = get(
        &shared,
        "/targets/globex/checkout/pod-2:8080/metrics",
        &text,
    )
    .await;
    let globex = String::from_utf8(globex).expect("utf-8");
    let up = value(&globex, "up_seconds").expect("up_seconds");
    assert!(
        (up / (now / 1_000_000_000) as f64 - 1.0).abs() < 1e-6,
        "{globex}"
    );
    assert!(globex.contains("jobs_total{shard=\"1\"} 7"), "{globex}");
}
