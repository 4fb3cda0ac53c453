//! The `loki` exporter against fake Loki receivers on 127.0.0.1.
//!
//! Every protobuf push is decoded with the independent `loki-api` crate (Loki's own
//! `logproto.PushRequest` definitions), never with synthtel's encoder. `loki-api` predates
//! structured metadata, so that field is read with a small message written here from Loki's
//! `push.proto` (`EntryAdapter.structuredMetadata = 3`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use loki_api::prost::Message as _;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use synthtel::exporters::loki::LokiConfig;
use synthtel::exporters::{Exporter, ExporterInput, StopSignal};
use synthtel::model::{Batch, Labels, LogBatch, Severity};
use synthtel::pipeline::stats::{ComponentStats, DeliverySnapshot, Stats};

/// One request as the fake receiver saw it.
#[derive(Clone, Debug)]
struct Push {
    tenant: Option<String>,
    content_type: String,
    body: Bytes,
    at: Instant,
    status: u16,
}

/// Decides the answer to the n-th request (from 0).
type Script = Arc<dyn Fn(usize, &Push) -> Response + Send + Sync>;

#[derive(Clone)]
struct Receiver {
    pushes: Arc<Mutex<Vec<Push>>>,
    script: Script,
}

impl Receiver {
    fn pushes(&self) -> Vec<Push> {
        self.pushes.lock().expect("lock").clone()
    }

    /// Pushes answered with 200 or 204.
    fn accepted(&self) -> Vec<Push> {
        self.pushes()
            .into_iter()
            .filter(|p| p.status == 200 || p.status == 204)
            .collect()
    }
}

async fn handle(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let mut push = Push {
        tenant: text("x-scope-orgid"),
        content_type: text("content-type").unwrap_or_default(),
        body,
        at: Instant::now(),
        status: 0,
    };
    let n = receiver.pushes.lock().expect("lock").len();
    let response = (receiver.script)(n, &push);
    push.status = response.status().as_u16();
    receiver.pushes.lock().expect("lock").push(push);
    response
}

async fn serve_on(listener: TcpListener, script: Script) -> Receiver {
    let receiver = Receiver {
        pushes: Arc::default(),
        script,
    };
    let app = Router::new()
        .route("/loki/api/v1/push", post(handle))
        .with_state(receiver.clone());
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

/// Builds the exporter from `extra` TOML plus the endpoint, feeds `batches`, closes the input
/// and waits for the exporter to return.
async fn run_exporter(address: SocketAddr, extra: &str, batches: Vec<Batch>) -> DeliverySnapshot {
    let (stats, tx, task) = start_exporter(address, extra);
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

fn start_exporter(
    address: SocketAddr,
    extra: &str,
) -> (
    Arc<ComponentStats>,
    mpsc::Sender<Batch>,
    tokio::task::JoinHandle<()>,
) {
    let toml = format!("endpoint = \"http://{address}\"\n{extra}");
    let config: LokiConfig = toml::from_str(&toml).expect("config");
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    let exporter = config.build().expect("build");
    let (tx, rx) = mpsc::channel(config.queue_capacity);
    let stats = Stats::new().component("exporter", "loki", "loki");
    let input = ExporterInput {
        rx,
        stats: Arc::clone(&stats),
        stop: StopSignal::never(),
    };
    let task = tokio::spawn(Box::new(exporter).run(input));
    (stats, tx, task)
}

const FAST: &str = r#"
[batch]
max_age = "20ms"
[retry]
initial_backoff = "5ms"
max_backoff = "20ms"
max_elapsed = "5s"
"#;

/// A batch of `entries` lines for `tenant` over three streams, numbered from `first`, with times
/// after every earlier batch's but shuffled inside the batch; every third entry has a trace id.
fn make_batch(tenant: &str, first: u64, entries: u64) -> LogBatch {
    let mut batch = LogBatch::new(tenant.into());
    let streams: Vec<u32> = ["cart", "checkout", "search"]
        .iter()
        .map(|service| {
            let labels = Labels::new([
                ("service_name", *service),
                ("env", "qa"),
                ("namespace", "shop"),
                ("level", "info"),
            ])
            .expect("labels");
            batch.stream_index(&Arc::new(labels))
        })
        .collect();
    for i in 0..entries {
        let seq = first + i;
        // Reverse order inside each batch of 10, so the encoder has to sort.
        let timestamp = 1_700_000_000_000_000_000 + (seq - seq % 10 + 9 - seq % 10) as i64 * 1_000;
        let stream = streams[(seq % 3) as usize];
        let line = format!("tenant={tenant} seq={seq} msg=\"GET /cart \\\"ok\\\"\"");
        let meta_start = batch.metadata.len() as u32;
        batch.push_metadata("user_id", format!("u-{}", seq % 7).as_bytes());
        batch.push_line(stream, timestamp, Severity::Info, line.as_bytes());
        let entry = batch.entries.last_mut().expect("entry");
        entry.metadata = meta_start..meta_start + 1;
        if seq.is_multiple_of(3) {
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&seq.to_be_bytes());
            trace_id[15] = 1;
            entry.trace_id = Some(trace_id);
        }
    }
    batch
}

fn batches(tenant: &str, count: u64, per_batch: u64) -> Vec<Batch> {
    (0..count)
        .map(|b| Batch::Logs(make_batch(tenant, b * per_batch, per_batch)))
        .collect()
}

/// `EntryAdapter` with the structured metadata that `loki-api` lacks (Loki's `push.proto`).
mod with_metadata {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<StreamAdapter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamAdapter {
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<EntryAdapter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EntryAdapter {
        #[prost(string, tag = "2")]
        pub line: String,
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<LabelPairAdapter>,
        #[prost(message, repeated, tag = "4")]
        pub parsed: Vec<LabelPairAdapter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPairAdapter {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }
}

/// A decoded entry: stream labels, Unix ns, line, structured metadata.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    labels: BTreeMap<String, String>,
    timestamp_ns: i64,
    line: String,
    metadata: BTreeMap<String, String>,
}

fn unsnappy(body: &[u8]) -> Vec<u8> {
    assert!(!body.starts_with(&[0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]));
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .expect("snappy raw block")
}

/// Decodes a protobuf push with `loki-api` (plus the metadata message above).
fn decode_protobuf(push: &Push) -> Vec<Entry> {
    assert_eq!(push.content_type, "application/x-protobuf");
    let raw = unsnappy(&push.body);
    let request = loki_api::logproto::PushRequest::decode(raw.as_slice()).expect("loki-api");
    let metadata =
        <with_metadata::PushRequest as prost::Message>::decode(raw.as_slice()).expect("metadata");
    let mut entries = Vec::new();
    for (stream, meta_stream) in request.streams.iter().zip(&metadata.streams) {
        let labels = parse_selector(&stream.labels);
        assert_eq!(stream.entries.len(), meta_stream.entries.len());
        for (entry, meta_entry) in stream.entries.iter().zip(&meta_stream.entries) {
            assert!(meta_entry.parsed.is_empty(), "parsed is never sent");
            let timestamp = entry.timestamp.expect("timestamp");
            entries.push(Entry {
                labels: labels.clone(),
                timestamp_ns: timestamp.seconds * 1_000_000_000 + i64::from(timestamp.nanos),
                line: entry.line.clone(),
                metadata: meta_entry
                    .structured_metadata
                    .iter()
                    .map(|p| (p.name.clone(), p.value.clone()))
                    .collect(),
            });
        }
    }
    entries
}

/// Parses `{a="b", c="d\"e"}` the way LogQL reads a selector.
fn parse_selector(selector: &str) -> BTreeMap<String, String> {
    let pattern = regex::Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)""#).expect("re");
    assert!(
        selector.starts_with('{') && selector.ends_with('}'),
        "{selector}"
    );
    let labels: BTreeMap<String, String> = pattern
        .captures_iter(selector)
        .map(|c| {
            let value = c[2]
                .replace("\\\"", "\"")
                .replace("\\n", "\n")
                .replace("\\\\", "\\");
            (c[1].to_string(), value)
        })
        .collect();
    assert!(!labels.is_empty());
    labels
}

/// Asserts that a decoded entry respects WIRE.md §2 and carries what the batch had.
fn check_entry(entry: &Entry, tenant: &str) {
    assert!(entry.labels.len() <= 15, "{:?}", entry.labels);
    let id_like = regex::Regex::new(r"^[0-9a-f]{16,}$|^[0-9a-f]{8}-[0-9a-f]{4}-").expect("re");
    for value in entry.labels.values() {
        assert!(!id_like.is_match(value), "id-like label value {value}");
    }
    assert!(
        entry.line.starts_with(&format!("tenant={tenant} ")),
        "{}",
        entry.line
    );
    let seq: u64 = entry
        .line
        .split("seq=")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .expect("seq")
        .parse()
        .expect("number");
    assert_eq!(
        entry.metadata.get("user_id"),
        Some(&format!("u-{}", seq % 7))
    );
    if seq.is_multiple_of(3) {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&seq.to_be_bytes());
        trace_id[15] = 1;
        assert_eq!(
            entry.metadata.get("trace_id"),
            Some(&synthtel::model::hex(&trace_id))
        );
    } else {
        assert_eq!(entry.metadata.get("trace_id"), None);
    }
}

/// Every record counted exactly once as accepted, rejected or dropped.
fn assert_accounted(total: &DeliverySnapshot) {
    let rejected = total.rejected.client_4xx + total.rejected.server_5xx + total.rejected.other;
    assert_eq!(
        total.accepted + rejected + total.dropped_total(),
        total.generated,
        "{total:?}"
    );
}

#[tokio::test]
async fn pushes_each_tenant_with_its_header_and_streams_in_order() {
    let (address, receiver) = serve(always(StatusCode::NO_CONTENT)).await;
    let mut input = Vec::new();
    for round in 0..6u64 {
        for tenant in ["acme", "globex", "initech"] {
            input.push(Batch::Logs(make_batch(tenant, round * 30, 30)));
        }
    }

    let total = run_exporter(address, &format!("concurrency = 2\n{FAST}"), input).await;

    assert_eq!(total.generated, 3 * 6 * 30);
    assert_eq!(total.sent, total.generated);
    assert_eq!(total.accepted, total.generated);
    assert_eq!(total.retried, 0);
    let pushes = receiver.pushes();
    assert_eq!(total.requests, pushes.len() as u64);
    let mut per_tenant: HashMap<String, Vec<Entry>> = HashMap::new();
    for push in &pushes {
        let tenant = push.tenant.clone().expect("X-Scope-OrgID on every push");
        let entries = decode_protobuf(push);
        for entry in &entries {
            check_entry(entry, &tenant);
        }
        per_tenant.entry(tenant).or_default().extend(entries);
    }
    assert_eq!(per_tenant.len(), 3);
    for (tenant, entries) in per_tenant {
        assert_eq!(entries.len(), 180, "{tenant}: every record once");
        let mut newest: HashMap<&BTreeMap<String, String>, i64> = HashMap::new();
        for entry in &entries {
            let last = newest.entry(&entry.labels).or_insert(i64::MIN);
            assert!(
                entry.timestamp_ns >= *last,
                "{tenant}: stream order across pushes"
            );
            *last = entry.timestamp_ns;
        }
    }
}

#[tokio::test]
async fn json_encoding_sends_string_timestamps() {
    let (address, receiver) = serve(always(StatusCode::NO_CONTENT)).await;
    let total = run_exporter(
        address,
        &format!("encoding = \"json\"\n{FAST}"),
        batches("acme", 2, 20),
    )
    .await;

    assert_eq!(total.accepted, 40);
    let mut lines = 0;
    for push in receiver.pushes() {
        assert_eq!(push.content_type, "application/json");
        assert_eq!(push.tenant.as_deref(), Some("acme"));
        let document: serde_json::Value = serde_json::from_slice(&push.body).expect("json");
        for stream in document["streams"].as_array().expect("streams") {
            assert_eq!(stream["stream"]["env"], "qa");
            for value in stream["values"].as_array().expect("values") {
                let timestamp = value[0].as_str().expect("timestamp is a string");
                assert!(timestamp.parse::<i64>().expect("ns") >= 1_700_000_000_000_000_000);
                assert!(value[1].as_str().expect("line").starts_with("tenant=acme"));
                assert!(value[2]["user_id"].is_string());
                lines += 1;
            }
        }
    }
    assert_eq!(lines, 40);
}

#[tokio::test]
async fn retries_429_until_accepted_once() {
    // Every request first gets 429, then its retry gets 204.
    let script: Script = Arc::new(|n, _| {
        if n % 2 == 0 {
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited").into_response()
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    });
    let (address, receiver) = serve(script).await;

    let total = run_exporter(address, FAST, batches("acme", 3, 10)).await;

    assert_eq!(total.accepted, 30);
    assert_eq!(total.sent, 30, "sent counts the first attempt only");
    assert_eq!(total.retried, 30, "each record retried once");
    assert_eq!(total.requests, receiver.pushes().len() as u64);
    let mut lines: Vec<String> = receiver
        .accepted()
        .iter()
        .flat_map(decode_protobuf)
        .map(|e| e.line)
        .collect();
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), 30, "every line accepted exactly once");
    assert_eq!(
        receiver
            .accepted()
            .iter()
            .map(decode_protobuf)
            .map(|e| e.len())
            .sum::<usize>(),
        30
    );
    assert_accounted(&total);
}

#[tokio::test]
async fn bad_request_is_final_and_counted_rejected() {
    let script: Script = Arc::new(|_, _| {
        (
            StatusCode::BAD_REQUEST,
            "entry for stream has timestamp too old",
        )
            .into_response()
    });
    let (address, receiver) = serve(script).await;

    let batch = make_batch("acme", 0, 25);
    let total = run_exporter(address, FAST, vec![Batch::Logs(batch)]).await;

    assert_eq!(receiver.pushes().len(), 1, "a 400 is never retried");
    assert_eq!(decode_protobuf(&receiver.pushes()[0]).len(), 25);
    assert_eq!(total.rejected.client_4xx, 25);
    assert_eq!((total.accepted, total.retried, total.requests), (0, 0, 1));
    assert_accounted(&total);
}

#[tokio::test]
async fn ingestion_block_status_is_rejected_as_other() {
    let script: Script = Arc::new(|_, _| StatusCode::from_u16(260).expect("260").into_response());
    let (address, _receiver) = serve(script).await;
    let total = run_exporter(address, FAST, batches("acme", 1, 5)).await;
    assert_eq!(total.rejected.other, 5);
    assert_eq!(total.accepted, 0);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let script: Script = Arc::new(|n, _| {
        if n == 0 {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "1")],
                "busy",
            )
                .into_response()
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    });
    let (address, receiver) = serve(script).await;

    let total = run_exporter(address, FAST, batches("acme", 1, 5)).await;

    let pushes = receiver.pushes();
    assert_eq!(pushes.len(), 2);
    let gap = pushes[1].at - pushes[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "waited {gap:?}, not the 1s asked for"
    );
    assert!(gap < Duration::from_secs(3), "waited {gap:?}");
    assert_eq!((total.accepted, total.retried), (5, 5));
}

#[tokio::test]
async fn a_down_receiver_keeps_memory_bounded_and_delivery_resumes() {
    // Reserve a port, then close it: connections are refused until the receiver starts.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let config = r#"
        concurrency = 1
        [batch]
        max_bytes = 2048
        max_age = "10ms"
        [retry]
        initial_backoff = "5ms"
        max_backoff = "20ms"
        max_elapsed = "400ms"
    "#;
    let (stats, tx, task) = start_exporter(address, config);

    // While Loki is down: far more requests than the per-tenant queue holds.
    for batch in batches("acme", 200, 30) {
        tx.send(batch).await.expect("send");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let down = stats.total();
    assert!(
        down.dropped.get("queue_full").copied().unwrap_or(0) > 0,
        "{down:?}"
    );
    assert!(
        down.dropped.get("retries_exhausted").copied().unwrap_or(0) > 0,
        "{down:?}"
    );
    assert_eq!(down.accepted, 0);
    // Whatever is neither dropped nor delivered is waiting: at most the request in flight, the
    // queued ones and the pending batch, a few kilobytes each.
    let waiting = down.generated - down.dropped_total();
    assert!(
        waiting <= 6 * 80,
        "{waiting} records held while Loki is down"
    );

    // Loki comes back on the same port.
    let listener = TcpListener::bind(address).await.expect("rebind");
    let receiver = serve_on(listener, always(StatusCode::NO_CONTENT)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    for b in 200..210 {
        tx.send(Batch::Logs(make_batch("acme", b * 30, 30)))
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
    assert!(total.accepted >= 300, "delivery resumed: {total:?}");
    let delivered: usize = receiver
        .accepted()
        .iter()
        .map(|p| decode_protobuf(p).len())
        .sum();
    assert_eq!(delivered as u64, total.accepted);
    assert_accounted(&total);
}

#[tokio::test]
async fn one_failing_tenant_does_not_hold_up_the_others() {
    let script: Script = Arc::new(|_, push| {
        if push.tenant.as_deref() == Some("broken") {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    });
    let (address, _receiver) = serve(script).await;
    let config = r#"
        concurrency = 2
        [batch]
        max_age = "10ms"
        [retry]
        initial_backoff = "5ms"
        max_backoff = "10ms"
        max_elapsed = "1500ms"
    "#;
    let (stats, tx, task) = start_exporter(address, config);
    let started = Instant::now();
    for round in 0..5 {
        for tenant in ["broken", "acme", "globex"] {
            tx.send(Batch::Logs(make_batch(tenant, round * 10, 10)))
                .await
                .expect("send");
        }
    }
    // The healthy tenants finish long before the broken one's retry budget ends.
    loop {
        let healthy: u64 = stats
            .snapshot()
            .iter()
            .filter(|(tenant, _, _)| &**tenant != "broken")
            .map(|(_, _, s)| s.accepted)
            .sum();
        if healthy == 100 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "healthy tenants stalled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(tx);
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("ends")
        .expect("join");
    let total = stats.total();
    assert_eq!(total.accepted, 100);
    assert_eq!(
        total.dropped.get("retries_exhausted").copied().unwrap_or(0),
        50
    );
    assert_accounted(&total);
}

#[tokio::test]
async fn stop_signal_ends_retries_and_counts_shutdown() {
    let (address, _receiver) = serve(always(StatusCode::SERVICE_UNAVAILABLE)).await;
    let toml = format!("endpoint = \"http://{address}\"\n{FAST}");
    let config: LokiConfig = toml::from_str(&toml).expect("config");
    let exporter = config.build().expect("build");
    let (tx, rx) = mpsc::channel(config.queue_capacity);
    let stats = Stats::new().component("exporter", "loki", "loki");
    let (stop_tx, stop) = StopSignal::new();
    let task = tokio::spawn(Box::new(exporter).run(ExporterInput {
        rx,
        stats: Arc::clone(&stats),
        stop,
    }));
    for batch in batches("acme", 3, 10) {
        tx.send(batch).await.expect("send");
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

mod encoding {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_batch_decodes_with_loki_api(
            entries in proptest::collection::vec((0usize..3, any::<i64>(), "\\PC{0,30}"), 0..50)
        ) {
            let mut batch = LogBatch::new("t".into());
            let streams: Vec<u32> = ["a", "b \"quoted\"", "c\\d"]
                .iter()
                .map(|v| batch.stream_index(&Arc::new(Labels::new([("app", *v)]).expect("labels"))))
                .collect();
            for (stream, timestamp, line) in &entries {
                batch.push_line(streams[*stream], *timestamp, Severity::Info, line.as_bytes());
            }
            let mut body = Vec::new();
            synthtel::exporters::loki::encode_protobuf(&batch, &mut body);
            let raw = unsnappy(&body);
            let request = loki_api::logproto::PushRequest::decode(raw.as_slice()).expect("decode");

            let mut decoded = Vec::new();
            for stream in &request.streams {
                let app = parse_selector(&stream.labels)["app"].clone();
                for entry in &stream.entries {
                    let t = entry.timestamp.expect("timestamp");
                    decoded.push((app.clone(), t.seconds as i128 * 1_000_000_000 + t.nanos as i128, entry.line.clone()));
                }
            }
            let mut expected: Vec<(String, i128, String)> = entries
                .iter()
                .map(|(s, t, l)| (["a", "b \"quoted\"", "c\\d"][*s].to_string(), *t as i128, l.clone()))
                .collect();
            decoded.sort();
            expected.sort();
            prop_assert_eq!(decoded, expected);
        }
    }
}
