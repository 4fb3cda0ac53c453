//! The `prometheus_remote_write` exporter against fake remote-write receivers on 127.0.0.1.
//!
//! Every request is checked the way a receiver would: required headers, a snappy raw block, and
//! a `prometheus.WriteRequest` decoded with prost messages written here from Prometheus's
//! `prompb` definitions, never with synthtel's encoder.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use prost::Message as _;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use synthtel::exporters::remote_write::RemoteWriteConfig;
use synthtel::exporters::{Exporter, ExporterInput, StopSignal};
use synthtel::model::metrics::{Family, MetricKind, MetricSample, STALE_NAN, Series};
use synthtel::model::{Batch, MetricBatch};
use synthtel::pipeline::stats::{ComponentStats, DeliverySnapshot, Stats};

/// Prometheus's `prompb` messages (`remote.proto`, `types.proto`), for decoding only.
mod prompb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
        #[prost(message, repeated, tag = "3")]
        pub metadata: Vec<MetricMetadata>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricMetadata {
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        #[prost(string, tag = "2")]
        pub metric_family_name: String,
    }
}

/// One request as the fake receiver saw it.
#[derive(Clone, Debug)]
struct Write {
    path: String,
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
    status: u16,
}

impl Write {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Decides the answer to a request, given how many came before it.
type Script = Arc<dyn Fn(usize, &Write) -> Response + Send + Sync>;

#[derive(Clone)]
struct Receiver {
    writes: Arc<Mutex<Vec<Write>>>,
    script: Script,
}

impl Receiver {
    fn writes(&self) -> Vec<Write> {
        self.writes.lock().expect("lock").clone()
    }

    fn accepted(&self) -> Vec<Write> {
        self.writes()
            .into_iter()
            .filter(|w| (200..300).contains(&w.status))
            .collect()
    }
}

async fn handle(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut write = Write {
        path: uri.path().to_string(),
        headers,
        body,
        at: Instant::now(),
        status: 0,
    };
    let mut writes = receiver.writes.lock().expect("lock");
    let response = (receiver.script)(writes.len(), &write);
    write.status = response.status().as_u16();
    writes.push(write);
    response
}

async fn serve_on(listener: TcpListener, script: Script) -> Receiver {
    let receiver = Receiver {
        writes: Arc::default(),
        script,
    };
    let app = Router::new().fallback(handle).with_state(receiver.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    receiver
}

async fn serve(script: Script) -> (SocketAddr, Receiver) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    (address, serve_on(listener, script).await)
}

fn always(status: StatusCode) -> Script {
    Arc::new(move |_, _| status.into_response())
}

fn start_exporter(
    toml: &str,
    stop: StopSignal,
) -> (
    Arc<ComponentStats>,
    mpsc::Sender<Batch>,
    tokio::task::JoinHandle<()>,
) {
    let config: RemoteWriteConfig = toml::from_str(toml).expect("config");
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    let exporter = config.build().expect("build");
    let (tx, rx) = mpsc::channel(config.queue_capacity);
    let stats = Stats::new().component("exporter", "rw", "prometheus_remote_write");
    let input = ExporterInput {
        rx,
        stats: Arc::clone(&stats),
        stop,
    };
    let task = tokio::spawn(Box::new(exporter).run(input));
    (stats, tx, task)
}

/// Builds the exporter for `address` plus `extra` TOML, feeds `batches`, closes the input and
/// waits for the exporter to return.
async fn run_exporter(address: SocketAddr, extra: &str, batches: Vec<Batch>) -> DeliverySnapshot {
    let toml = format!("endpoint = \"http://{address}/api/v1/write\"\n{extra}");
    let (stats, tx, task) = start_exporter(&toml, StopSignal::never());
    for batch in batches {
        tx.send(batch).await.expect("send");
    }
    drop(tx);
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("exporter ends")
        .expect("join");
    stats.total()
}

const FAST: &str = r#"
[batch]
max_age = "20ms"
[retry]
initial_backoff = "5ms"
max_backoff = "20ms"
max_elapsed = "5s"
"#;

/// Milliseconds of the first step; steps are 15 s apart.
const BASE_MS: i64 = 1_760_000_000_000;

/// Samples of `series` gauges `sensor_temperature{sensor="<i>"}` and a counter for `tenant`, at
/// steps `first..first + steps`, in generation order (steps outside, series inside).
fn make_batch(tenant: &str, series: usize, first: i64, steps: i64) -> MetricBatch {
    let gauge = Arc::new(Family {
        name: "sensor_temperature".into(),
        help: "Temperature.".into(),
        unit: String::new(),
        kind: MetricKind::Gauge,
    });
    let counter = Arc::new(Family {
        name: "sensor_reads".into(),
        help: "Reads.".into(),
        unit: String::new(),
        kind: MetricKind::Counter,
    });
    let mut batch = MetricBatch::new(tenant.into());
    for i in 0..series {
        let (name, family) = match i % 2 {
            0 => ("sensor_temperature", &gauge),
            _ => ("sensor_reads_total", &counter),
        };
        let labels = vec![
            (Arc::from("sensor"), Arc::from(i.to_string().as_str())),
            (Arc::from("site"), Arc::from("lab")),
        ];
        batch
            .series
            .push(Arc::new(Series::new(name, labels, Arc::clone(family))));
    }
    for step in first..first + steps {
        for i in 0..series {
            batch.samples.push(MetricSample {
                series: i as u32,
                timestamp_ms: BASE_MS + step * 15_000,
                value: (step * 100 + i as i64) as f64,
                exemplar: None,
            });
        }
    }
    batch
}

fn unsnappy(body: &[u8]) -> Vec<u8> {
    assert!(
        !body.starts_with(&[0xff, 0x06, 0x00, 0x00]),
        "framed snappy"
    );
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .expect("snappy raw block")
}

/// Asserts the headers WIRE.md §3.1 requires, then decodes the body.
fn decode(write: &Write) -> prompb::WriteRequest {
    assert_eq!(write.header("content-encoding"), Some("snappy"));
    assert_eq!(write.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(
        write.header("x-prometheus-remote-write-version"),
        Some("0.1.0")
    );
    let agent = write.header("user-agent").expect("user-agent");
    assert_eq!(agent, concat!("synthtel/", env!("CARGO_PKG_VERSION")));
    prompb::WriteRequest::decode(unsnappy(&write.body).as_slice()).expect("WriteRequest")
}

/// A series' labels as text, and its samples as (ms, value), in request order.
type Decoded = Vec<(String, Vec<(i64, f64)>)>;

fn series_of(request: &prompb::WriteRequest) -> Decoded {
    request
        .timeseries
        .iter()
        .map(|series| {
            let names: Vec<&str> = series.labels.iter().map(|l| l.name.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted, "labels sorted and unique");
            assert_eq!(names.first(), Some(&"__name__"));
            let key = series
                .labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect::<Vec<_>>()
                .join(",");
            let samples = series
                .samples
                .iter()
                .map(|s| (s.timestamp, s.value))
                .collect();
            (key, samples)
        })
        .collect()
}

/// Every sample per series in arrival order, asserting ascending ms timestamps throughout.
fn samples_in_order(writes: &[Write]) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut per_series: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for write in writes {
        for (key, samples) in series_of(&decode(write)) {
            let all = per_series.entry(key.clone()).or_default();
            for (timestamp, value) in samples {
                assert!(
                    (BASE_MS..BASE_MS + 86_400_000).contains(&timestamp),
                    "{timestamp} is not in milliseconds"
                );
                if let Some(&(last, _)) = all.last() {
                    assert!(timestamp > last, "{key}: {timestamp} after {last}");
                }
                all.push((timestamp, value));
            }
        }
    }
    per_series
}

/// Every sample counted exactly once as accepted, rejected or dropped.
fn assert_accounted(total: &DeliverySnapshot) {
    let rejected = total.rejected.client_4xx + total.rejected.server_5xx + total.rejected.other;
    assert_eq!(
        total.accepted + rejected + total.dropped_total(),
        total.generated,
        "{total:?}"
    );
}

#[tokio::test]
async fn writes_each_tenant_with_headers_and_every_series_in_order() {
    let (address, receiver) = serve(always(StatusCode::NO_CONTENT)).await;
    let mut input = Vec::new();
    for round in 0..8 {
        for tenant in ["acme", "globex", "initech"] {
            input.push(Batch::Metrics(make_batch(tenant, 40, round * 5, 5)));
        }
    }
    let extra = r#"
        shards = 3
        [batch]
        max_samples = 150
        max_age = "20ms"
    "#;

    let total = run_exporter(address, extra, input).await;

    assert_eq!(total.generated, 3 * 8 * 200);
    assert_eq!(
        (total.sent, total.accepted),
        (total.generated, total.generated)
    );
    assert_eq!(total.retried, 0);
    let writes = receiver.writes();
    assert_eq!(total.requests, writes.len() as u64);
    let mut per_tenant: HashMap<String, Vec<Write>> = HashMap::new();
    for write in writes {
        assert_eq!(write.path, "/api/v1/write");
        let samples: usize = decode(&write)
            .timeseries
            .iter()
            .map(|s| s.samples.len())
            .sum();
        assert!(samples <= 150, "{samples} samples over batch.max_samples");
        let tenant = write
            .header("x-scope-orgid")
            .expect("tenant header")
            .to_string();
        per_tenant.entry(tenant).or_default().push(write);
    }
    assert_eq!(per_tenant.len(), 3);
    for (tenant, writes) in per_tenant {
        let per_series = samples_in_order(&writes);
        assert_eq!(per_series.len(), 40, "{tenant}");
        for (key, samples) in per_series {
            assert_eq!(samples.len(), 40, "{tenant} {key}: every sample once");
        }
    }
}

#[tokio::test]
async fn sends_metadata_once_per_family_and_stale_markers_bit_exact() {
    let (address, receiver) = serve(always(StatusCode::NO_CONTENT)).await;
    let mut batch = make_batch("acme", 2, 0, 1);
    batch.samples.push(MetricSample {
        series: 0,
        timestamp_ms: BASE_MS + 15_000,
        value: STALE_NAN,
        exemplar: None,
    });

    let total = run_exporter(address, FAST, vec![Batch::Metrics(batch)]).await;

    assert_eq!(total.accepted, 3);
    let mut families = Vec::new();
    let mut stale = 0;
    for write in receiver.writes() {
        let request = decode(&write);
        families.extend(
            request
                .metadata
                .iter()
                .map(|m| (m.r#type, m.metric_family_name.clone())),
        );
        for series in &request.timeseries {
            stale += series
                .samples
                .iter()
                .filter(|s| s.value.to_bits() == 0x7ff0_0000_0000_0002)
                .count();
        }
    }
    families.sort();
    assert_eq!(
        families,
        [
            (1, "sensor_reads_total".into()),
            (2, "sensor_temperature".into())
        ]
    );
    assert_eq!(stale, 1);
}

#[tokio::test]
async fn a_500_is_retried_and_the_batch_arrives_once_more_in_order() {
    // The first delivery of each body gets 500; the same body again gets 204.
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let script: Script = Arc::new(move |_, write| {
        if seen.lock().expect("lock").insert(write.body.clone()) {
            (StatusCode::INTERNAL_SERVER_ERROR, "try later").into_response()
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    });
    let (address, receiver) = serve(script).await;
    let batches: Vec<Batch> = (0..4)
        .map(|round| Batch::Metrics(make_batch("acme", 10, round * 3, 3)))
        .collect();

    let total = run_exporter(address, &format!("shards = 2\n{FAST}"), batches).await;

    assert_eq!(total.accepted, 120);
    assert_eq!(total.sent, 120, "sent counts the first attempt only");
    assert_eq!(total.retried, 120, "each sample retried once");
    let writes = receiver.writes();
    assert_eq!(total.requests, writes.len() as u64);
    let failed: Vec<&Bytes> = writes
        .iter()
        .filter(|w| w.status == 500)
        .map(|w| &w.body)
        .collect();
    let accepted = receiver.accepted();
    assert_eq!(failed.len(), accepted.len());
    for write in &accepted {
        assert!(failed.contains(&&write.body), "the same body is sent again");
    }
    let per_series = samples_in_order(&accepted);
    assert_eq!(per_series.len(), 10);
    assert!(per_series.values().all(|samples| samples.len() == 12));
    assert_accounted(&total);
}

#[tokio::test]
async fn a_400_is_final_and_counted_rejected() {
    let script: Script =
        Arc::new(|_, _| (StatusCode::BAD_REQUEST, "out of order sample").into_response());
    let (address, receiver) = serve(script).await;

    let batch = make_batch("acme", 5, 0, 5);
    let extra = format!("shards = 1\n{FAST}");
    let total = run_exporter(address, &extra, vec![Batch::Metrics(batch)]).await;

    assert_eq!(receiver.writes().len(), 1, "a 400 is never retried");
    let samples: usize = decode(&receiver.writes()[0])
        .timeseries
        .iter()
        .map(|s| s.samples.len())
        .sum();
    assert_eq!(samples, 25);
    assert_eq!(total.rejected.client_4xx, 25);
    assert_eq!((total.accepted, total.retried, total.requests), (0, 0, 1));
    assert_accounted(&total);
}

#[tokio::test]
async fn a_429_is_retried_honouring_retry_after() {
    let script: Script = Arc::new(|n, _| {
        if n == 0 {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                "slow down",
            )
                .into_response()
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    });
    let (address, receiver) = serve(script).await;

    let batch = make_batch("acme", 1, 0, 5);
    let total = run_exporter(address, FAST, vec![Batch::Metrics(batch)]).await;

    let writes = receiver.writes();
    assert_eq!(writes.len(), 2);
    let gap = writes[1].at - writes[0].at;
    assert!(gap >= Duration::from_millis(950), "waited {gap:?}, not 1s");
    assert!(gap < Duration::from_secs(3), "waited {gap:?}");
    assert_eq!((total.accepted, total.retried), (5, 5));
}

#[tokio::test]
async fn templates_the_tenant_into_the_url_and_can_omit_the_header() {
    let (address, receiver) = serve(always(StatusCode::NO_CONTENT)).await;
    let toml = format!(
        "endpoint = \"http://{address}/insert/{{tenant}}/prometheus/api/v1/write\"\n\
         tenant_header = \"\"\n\
         tenant_label = \"tenant\"\n\
         http.headers = {{ \"X-Extra\" = \"yes\" }}\n{FAST}"
    );
    let (stats, tx, task) = start_exporter(&toml, StopSignal::never());
    for tenant in ["7", "42:1"] {
        tx.send(Batch::Metrics(make_batch(tenant, 2, 0, 2)))
            .await
            .expect("send");
    }
    drop(tx);
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("ends")
        .expect("join");

    assert_eq!(stats.total().accepted, 8);
    let mut paths = HashSet::new();
    for write in receiver.writes() {
        assert_eq!(write.header("x-scope-orgid"), None);
        assert_eq!(write.header("x-extra"), Some("yes"));
        let tenant = write
            .path
            .strip_prefix("/insert/")
            .and_then(|rest| rest.strip_suffix("/prometheus/api/v1/write"))
            .expect("templated path")
            .to_string();
        for (key, _) in series_of(&decode(&write)) {
            assert!(key.ends_with(&format!(",tenant={tenant}")), "{key}");
        }
        paths.insert(tenant);
    }
    assert_eq!(paths, HashSet::from(["7".to_string(), "42:1".to_string()]));
}

#[tokio::test]
async fn a_down_receiver_keeps_memory_bounded_and_delivery_resumes() {
    // Reserve a port, then close it: connections are refused until the receiver starts.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let toml = format!(
        r#"
        endpoint = "http://{address}/api/v1/write"
        shards = 2
        [batch]
        max_samples = 50
        max_age = "10ms"
        [retry]
        initial_backoff = "5ms"
        max_backoff = "20ms"
        max_elapsed = "400ms"
        "#
    );
    let (stats, tx, task) = start_exporter(&toml, StopSignal::never());

    // While the receiver is down: far more requests than the shard queues hold.
    for round in 0..200 {
        tx.send(Batch::Metrics(make_batch("acme", 10, round * 10, 10)))
            .await
            .expect("send");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let down = stats.total();
    assert!(
        down.dropped.get("queue_full").copied().unwrap_or(0) > 0,
        "{down:?}"
    );
    assert_eq!(down.accepted, 0);
    // Whatever is neither dropped nor delivered is waiting: per shard, the request in flight,
    // the queued ones and the pending samples, each at most `max_samples`.
    let waiting = down.generated - down.dropped_total();
    assert!(
        waiting <= 2 * 6 * 50,
        "{waiting} samples held while the receiver is down"
    );

    // The receiver comes back on the same port.
    let listener = TcpListener::bind(address).await.expect("rebind");
    let receiver = serve_on(listener, always(StatusCode::NO_CONTENT)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    for round in 200..210 {
        tx.send(Batch::Metrics(make_batch("acme", 10, round * 10, 10)))
            .await
            .expect("send");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    drop(tx);
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("ends")
        .expect("join");

    let total = stats.total();
    assert!(total.accepted >= 1000, "delivery resumed: {total:?}");
    let delivered: usize = samples_in_order(&receiver.accepted())
        .values()
        .map(Vec::len)
        .sum();
    assert_eq!(delivered as u64, total.accepted);
    assert_accounted(&total);
}

#[tokio::test]
async fn stop_signal_ends_retries_and_counts_shutdown() {
    let (address, _receiver) = serve(always(StatusCode::SERVICE_UNAVAILABLE)).await;
    let toml = format!("endpoint = \"http://{address}\"\n{FAST}");
    let (stop_tx, stop) = StopSignal::new();
    let (stats, tx, task) = start_exporter(&toml, stop);
    for round in 0..3 {
        tx.send(Batch::Metrics(make_batch("acme", 2, round * 5, 5)))
            .await
            .expect("send");
    }
    drop(tx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!task.is_finished(), "still retrying within max_elapsed");

    stop_tx.send(true).expect("stop");
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stops")
        .expect("join");

    let total = stats.total();
    assert_eq!(total.dropped.get("shutdown"), Some(&30), "{total:?}");
    assert!(total.retried > 0);
    assert_accounted(&total);
}
