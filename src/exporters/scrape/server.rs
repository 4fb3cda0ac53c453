//! The HTTP side of `prometheus_scrape`: one path per target, and the service-discovery document.
//!
//! A scrape evaluates its target at the time of the request on a blocking thread and streams
//! the exposition to the client in chunks (gzip-compressed when accepted), so memory stays
//! bounded by a few chunks whatever the target's series count.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body::Frame;
use serde::Serialize;
use tokio::sync::mpsc;

use super::negotiate::{Format, accepts_gzip, choose_format};
use super::render::{CHUNK_BYTES, OpenMetricsOptions, OpenMetricsRenderer, Spill, TextRenderer};
use crate::admin::error::ApiError;
use crate::model::Signal;
use crate::model::metrics::{Target, TargetSet};
use crate::pipeline::clock::wall_now_ns;
use crate::pipeline::stats::{ComponentStats, DropReason};

/// Chunks in flight between a rendering thread and the connection.
const CHANNEL_CHUNKS: usize = 4;

/// A target's place: which set, which index in it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    set: usize,
    index: usize,
}

/// Every target of the exporter, indexed by `(tenant, job, instance)`.
pub(super) struct Catalog {
    sets: Vec<Arc<dyn TargetSet>>,
    slots: HashMap<(String, String, String), Slot>,
    /// Slots in service-discovery order.
    order: Vec<Slot>,
}

impl Catalog {
    /// Indexes the targets of `sets`; returns the catalog and a message per target left out.
    pub(super) fn new(sets: Vec<Arc<dyn TargetSet>>) -> (Catalog, Vec<String>) {
        let mut slots = HashMap::new();
        let mut order = Vec::new();
        let mut skipped = Vec::new();
        for (set_index, set) in sets.iter().enumerate() {
            for (index, target) in set.targets().iter().enumerate() {
                let key = (
                    target.tenant.to_string(),
                    target.job.clone(),
                    target.instance.clone(),
                );
                let path = format!("{}/{}/{}", key.0, key.1, key.2);
                if [&key.0, &key.1, &key.2]
                    .iter()
                    .any(|part| part.is_empty() || part.contains('/'))
                {
                    skipped.push(format!("target {path:?} has an empty part or a '/'"));
                    continue;
                }
                if slots.contains_key(&key) {
                    skipped.push(format!("target {path:?} is listed twice"));
                    continue;
                }
                let slot = Slot {
                    set: set_index,
                    index,
                };
                slots.insert(key, slot);
                order.push(slot);
            }
        }
        (Catalog { sets, slots, order }, skipped)
    }

    /// Number of targets served.
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    fn target(&self, slot: Slot) -> &Target {
        &self.sets[slot.set].targets()[slot.index]
    }
}

/// What the handlers share.
pub(super) struct Shared {
    pub(super) catalog: Catalog,
    /// The bound address, advertised in service discovery unless it is unspecified.
    pub(super) bound: SocketAddr,
    pub(super) openmetrics: bool,
    pub(super) exemplars: bool,
    /// Unix milliseconds of `_created` samples, when they are on.
    pub(super) created_ms: Option<i64>,
    pub(super) gzip: bool,
    pub(super) stats: Arc<ComponentStats>,
    pub(super) anomalies: Arc<crate::anomaly::Registry>,
}

/// The exporter's routes.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/sd", get(service_discovery))
        .route("/targets/{tenant}/{job}/{instance}/metrics", get(scrape))
        .fallback(|| async { ApiError::not_found("no such path") })
        .with_state(shared)
}

/// One target group of Prometheus HTTP service discovery.
#[derive(Debug, Serialize)]
struct TargetGroup {
    targets: [String; 1],
    labels: BTreeMap<String, String>,
}

async fn service_discovery(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Json<Vec<TargetGroup>> {
    let address = advertised_address(shared.bound, &headers);
    let groups = shared
        .catalog
        .order
        .iter()
        .map(|slot| target_group(shared.catalog.target(*slot), &address))
        .collect();
    Json(groups)
}

/// The address scrapers can reach: the bound one, or the request's `Host` when bound to every
/// interface.
pub(super) fn advertised_address(bound: SocketAddr, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| !host.is_empty());
    match host {
        Some(host) if bound.ip().is_unspecified() => host.to_string(),
        _ => bound.to_string(),
    }
}

fn target_group(target: &Target, address: &str) -> TargetGroup {
    let mut labels: BTreeMap<String, String> = target.labels.iter().cloned().collect();
    let path = format!(
        "/targets/{}/{}/{}/metrics",
        target.tenant, target.job, target.instance
    );
    labels.insert("__metrics_path__".into(), path);
    labels.insert("job".into(), target.job.clone());
    labels.insert("instance".into(), target.instance.clone());
    labels.insert("tenant".into(), target.tenant.to_string());
    TargetGroup {
        targets: [address.to_string()],
        labels,
    }
}

async fn scrape(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(&slot) = shared.catalog.slots.get(&key) else {
        let (tenant, job, instance) = key;
        let message = format!("no target {tenant}/{job}/{instance}");
        return ApiError::not_found(message).into_response();
    };
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let format = choose_format(text(header::ACCEPT), shared.openmetrics);
    let gzip = shared.gzip && accepts_gzip(text(header::ACCEPT_ENCODING));

    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let render_shared = Arc::clone(&shared);
    tokio::task::spawn_blocking(move || render(&render_shared, slot, format, gzip, tx));

    let mut response = Response::new(Body::new(ChunkBody { rx, ended: false }));
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response_headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    if gzip {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    *response.status_mut() = StatusCode::OK;
    response
}

/// Evaluates one target now and streams its exposition into `tx`; counts the scrape.
fn render(shared: &Shared, slot: Slot, format: Format, gzip: bool, tx: mpsc::Sender<Chunk>) {
    let now_ns = wall_now_ns();
    let now_ms = now_ns / 1_000_000;
    let set = &shared.catalog.sets[slot.set];
    let target = shared.catalog.target(slot);
    let anomalies = shared.anomalies.matching(
        &target.tenant,
        Signal::Metrics,
        crate::anomaly::Layer::Data,
        now_ns,
        now_ns + 1,
    );
    let visit = |sink: &mut dyn crate::model::metrics::SampleSink| {
        if anomalies.is_empty() {
            set.visit(slot.index, now_ms, sink);
        } else {
            super::anomalies::visit(set.as_ref(), slot.index, now_ms, &anomalies, sink);
        }
    };
    let spill = StreamSpill::new(tx, gzip);
    let (spill, samples) = match format {
        Format::Text => {
            let mut renderer = TextRenderer::with_spill(Vec::with_capacity(2 * CHUNK_BYTES), spill);
            visit(&mut renderer);
            let (_, spill, samples) = renderer.finish();
            (spill, samples)
        }
        Format::OpenMetrics => {
            let options = OpenMetricsOptions {
                exemplars: shared.exemplars,
                created_ms: shared.created_ms,
                timestamp_ms: None,
            };
            let buffer = Vec::with_capacity(2 * CHUNK_BYTES);
            let mut renderer = OpenMetricsRenderer::with_spill(buffer, spill, options);
            visit(&mut renderer);
            let (_, spill, samples) = renderer.finish();
            (spill, samples)
        }
    };
    let mut spill = spill;
    let (bytes, delivered) = spill.flush();

    let delivery = shared.stats.delivery(&target.tenant, Signal::Metrics);
    delivery.add_generated(samples);
    delivery.add_sent(samples);
    delivery.add_request(bytes);
    if delivered {
        delivery.add_accepted(samples);
        tracing::debug!(
            tenant = %target.tenant,
            job = %target.job,
            instance = %target.instance,
            samples,
            bytes,
            "Target scraped."
        );
    } else {
        delivery.add_dropped(DropReason::WriteFailed, samples);
        tracing::debug!(
            tenant = %target.tenant,
            job = %target.job,
            instance = %target.instance,
            "The scraper went away before the exposition was sent."
        );
    }
    // Counted first, so that a scraper that sees the end also sees the scrape counted.
    spill.end();
}

/// A piece of a streamed exposition.
enum Chunk {
    Data(Bytes),
    /// The exposition is complete; a stream that closes without it was cut short.
    End,
}

/// Hands full chunks to the connection, gzip-compressing them first when asked.
struct StreamSpill {
    tx: mpsc::Sender<Chunk>,
    gzip: Option<GzEncoder<Vec<u8>>>,
    bytes: u64,
    closed: bool,
}

impl StreamSpill {
    fn new(tx: mpsc::Sender<Chunk>, gzip: bool) -> Self {
        let gzip = gzip.then(|| {
            // Level 1: scrapes of a million series must stay well inside Prometheus's timeout.
            GzEncoder::new(Vec::with_capacity(2 * CHUNK_BYTES), Compression::fast())
        });
        StreamSpill {
            tx,
            gzip,
            bytes: 0,
            closed: false,
        }
    }

    fn send(&mut self, data: Bytes) {
        if self.closed || data.is_empty() {
            return;
        }
        self.bytes += data.len() as u64;
        if self.tx.blocking_send(Chunk::Data(data)).is_err() {
            self.closed = true;
        }
    }

    /// Flushes the compressor; returns the bytes sent and whether every chunk reached the
    /// connection.
    fn flush(&mut self) -> (u64, bool) {
        if let Some(encoder) = self.gzip.take() {
            match encoder.finish() {
                Ok(rest) => self.send(Bytes::from(rest)),
                Err(_) => self.closed = true,
            }
        }
        (self.bytes, !self.closed)
    }

    /// Marks the exposition complete, which ends the response body.
    fn end(self) {
        if !self.closed {
            let _ = self.tx.blocking_send(Chunk::End);
        }
    }
}

impl Spill for StreamSpill {
    fn spill(&mut self, buffer: &mut Vec<u8>) {
        match self.gzip.as_mut() {
            Some(encoder) => {
                // Writing into a Vec cannot fail.
                let _ = encoder.write_all(buffer);
                if encoder.get_ref().len() >= CHUNK_BYTES {
                    let fresh = Vec::with_capacity(2 * CHUNK_BYTES);
                    let full = std::mem::replace(encoder.get_mut(), fresh);
                    self.send(Bytes::from(full));
                }
            }
            None => self.send(Bytes::copy_from_slice(buffer)),
        }
        buffer.clear();
    }
}

/// A response body fed by a rendering thread; an error (so the connection is aborted rather
/// than a truncated exposition accepted) when the thread stops before the end.
struct ChunkBody {
    rx: mpsc::Receiver<Chunk>,
    ended: bool,
}

impl http_body::Body for ChunkBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match this.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Chunk::Data(data))) => Poll::Ready(Some(Ok(Frame::data(data)))),
            Poll::Ready(Some(Chunk::End)) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                this.ended = true;
                let error = std::io::Error::other("the exposition was cut short");
                Poll::Ready(Some(Err(error)))
            }
        }
    }
}
