//! Sealing for the `otlp` exporter: a lane's pending batch converted and encoded into
//! requests (HTTP/protobuf, HTTP/JSON or a gRPC message), split into as many as keep each
//! body under `max_request_bytes`.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message as _;

use super::{GrpcMessage, LogLimiter, Payload};
use crate::exporters::otlp::Protocol;
use crate::exporters::otlp::convert::{self, StartTimes};
use crate::exporters::otlp::encode::SpanEncoder;
use crate::model::metrics::MetricKind;
use crate::model::{Batch, LogBatch, MetricBatch, SpanBatch};
use crate::pipeline::stats::{Delivery, DropReason};

/// Turns pending batches into requests.
pub(super) struct Sealer {
    pub(super) protocol: Protocol,
    pub(super) gzip: bool,
    pub(super) max_request_bytes: usize,
    pub(super) spans: SpanEncoder,
    pub(super) too_large_log: LogLimiter,
}

/// One encoded request before it joins a queue.
pub(super) struct Part {
    pub(super) payload: Payload,
    pub(super) raw_bytes: usize,
    pub(super) records: u64,
    pub(super) items: u64,
}

impl Sealer {
    /// Encodes `batch`, split into as many requests as keep each under `max_request_bytes`; a
    /// single record over the limit is dropped as `too_large`.
    pub(super) fn encode_parts(
        &mut self,
        batch: Batch,
        starts: &mut StartTimes,
        delivery: &Delivery,
        out: &mut Vec<Part>,
    ) {
        let records = batch.len() as u64;
        let (payload, raw_bytes, items) = self.encode(&batch, starts);
        if raw_bytes <= self.max_request_bytes {
            out.push(Part {
                payload,
                raw_bytes,
                records,
                items,
            });
            return;
        }
        let pieces = raw_bytes.div_ceil(self.max_request_bytes).max(2);
        let halves = split(&batch, pieces);
        if halves.len() < 2 {
            delivery.add_dropped(DropReason::TooLarge, records);
            if let Some(suppressed) = self.too_large_log.allow() {
                tracing::error!(
                    records,
                    bytes = raw_bytes,
                    limit = self.max_request_bytes,
                    suppressed,
                    "OTLP request cannot be split below max_request_bytes; records dropped."
                );
            }
            return;
        }
        for half in halves {
            self.encode_parts(half, starts, delivery, out);
        }
    }

    /// The payload of one request, its size before compression, and its OTLP item count.
    fn encode(&mut self, batch: &Batch, starts: &mut StartTimes) -> (Payload, usize, u64) {
        match (batch, self.protocol) {
            (Batch::Traces(spans), Protocol::HttpProtobuf) => {
                let mut body = Vec::new();
                self.spans.encode(spans, &mut body);
                let items = spans.spans.len() as u64;
                let raw = body.len();
                (Payload::Http(self.finish(body)), raw, items)
            }
            (batch, Protocol::Grpc) => {
                let message = grpc_message(batch, starts);
                let (raw, items) = match &message {
                    GrpcMessage::Traces(r) => (r.encoded_len(), batch.len() as u64),
                    GrpcMessage::Logs(r) => (r.encoded_len(), batch.len() as u64),
                    GrpcMessage::Metrics(r) => (r.encoded_len(), data_points(r)),
                };
                (Payload::Grpc(Arc::new(message)), raw, items)
            }
            (batch, protocol) => {
                let json = protocol == Protocol::HttpJson;
                let mut body = Vec::new();
                let items = match grpc_message(batch, starts) {
                    GrpcMessage::Traces(r) => encode_http(&r, json, &mut body, batch.len()),
                    GrpcMessage::Logs(r) => encode_http(&r, json, &mut body, batch.len()),
                    GrpcMessage::Metrics(r) => {
                        let points = data_points(&r) as usize;
                        encode_http(&r, json, &mut body, points)
                    }
                };
                let raw = body.len();
                (Payload::Http(self.finish(body)), raw, items)
            }
        }
    }

    /// Gzips a body when configured.
    fn finish(&self, body: Vec<u8>) -> Bytes {
        if !self.gzip {
            return body.into();
        }
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(&body);
        encoder.finish().unwrap_or_default().into()
    }
}

fn encode_http<T>(request: &T, json: bool, out: &mut Vec<u8>, items: usize) -> u64
where
    T: prost::Message + serde::Serialize,
{
    if json {
        *out = convert::to_json(request);
    } else {
        convert::to_protobuf(request, out);
    }
    items as u64
}

fn grpc_message(batch: &Batch, starts: &mut StartTimes) -> GrpcMessage {
    match batch {
        Batch::Traces(spans) => GrpcMessage::Traces(convert::trace_request(spans)),
        Batch::Logs(logs) => GrpcMessage::Logs(convert::logs_request(logs)),
        Batch::Metrics(metrics) => GrpcMessage::Metrics(convert::metrics_request(metrics, starts)),
    }
}

/// Number of data points of a metrics request, the unit of its partial success.
pub fn data_points(request: &ExportMetricsServiceRequest) -> u64 {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let points = |data: &Option<Data>| match data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    };
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| points(&m.data) as u64)
        .sum()
}

/// Splits a batch into up to `pieces` batches of about equal record counts; metric samples of
/// one histogram or summary point stay together. Fewer than two pieces means it cannot split.
pub(super) fn split(batch: &Batch, pieces: usize) -> Vec<Batch> {
    let total = batch.len();
    let pieces = pieces.min(total).max(1);
    let piece_of = |i: usize| i * pieces / total.max(1);
    match batch {
        Batch::Traces(spans) => {
            let mut out: Vec<SpanBatch> = (0..pieces)
                .map(|_| SpanBatch {
                    tenant: Arc::clone(&spans.tenant),
                    resources: spans.resources.clone(),
                    spans: Vec::new(),
                })
                .collect();
            for (i, span) in spans.spans.iter().enumerate() {
                out[piece_of(i)].spans.push(span.clone());
            }
            out.into_iter()
                .filter(|b| !b.spans.is_empty())
                .map(Batch::Traces)
                .collect()
        }
        Batch::Logs(logs) => {
            let mut out: Vec<LogBatch> = (0..pieces)
                .map(|_| LogBatch::new(Arc::clone(&logs.tenant)))
                .collect();
            for (i, entry) in logs.entries.iter().enumerate() {
                copy_entry(&mut out[piece_of(i)], logs, entry);
            }
            out.into_iter()
                .filter(|b| !b.entries.is_empty())
                .map(Batch::Logs)
                .collect()
        }
        Batch::Metrics(metrics) => split_metrics(metrics, pieces)
            .into_iter()
            .map(Batch::Metrics)
            .collect(),
    }
}

fn copy_entry(into: &mut LogBatch, from: &LogBatch, entry: &crate::model::LogEntry) {
    let stream = into.stream_index(&from.streams[entry.stream as usize]);
    let metadata_start = into.metadata.len() as u32;
    for pair in from.metadata_of(entry) {
        into.push_metadata(pair.name.clone(), from.text_of(pair.value));
    }
    let metadata_end = into.metadata.len() as u32;
    into.push_line(stream, entry.timestamp_ns, entry.severity, from.line(entry));
    if let Some(copy) = into.entries.last_mut() {
        copy.trace_id = entry.trace_id;
        copy.span_id = entry.span_id;
        copy.metadata = metadata_start..metadata_end;
    }
}

fn split_metrics(batch: &MetricBatch, pieces: usize) -> Vec<MetricBatch> {
    let total = batch.samples.len().max(1);
    let mut out: Vec<MetricBatch> = (0..pieces)
        .map(|_| MetricBatch {
            tenant: Arc::clone(&batch.tenant),
            series: batch.series.clone(),
            samples: Vec::new(),
        })
        .collect();
    let mut piece_of_group: HashMap<(u64, i64), usize> = HashMap::new();
    for (i, sample) in batch.samples.iter().enumerate() {
        let series = batch.series_of(sample);
        let group = match series.family.kind {
            MetricKind::Histogram | MetricKind::Summary => {
                let family = series.family.name.as_str();
                let labels = series
                    .labels
                    .iter()
                    .filter(|(name, _)| !matches!(&**name, "le" | "quantile"))
                    .map(|(name, value)| (&**name, &**value));
                crate::model::metrics::series_hash(family, labels)
            }
            _ => series.hash,
        };
        let piece = *piece_of_group
            .entry((group, sample.timestamp_ms))
            .or_insert(i * pieces / total);
        out[piece].samples.push(*sample);
    }
    out.retain(|b| !b.samples.is_empty());
    out
}
