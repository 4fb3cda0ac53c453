//! OTLP span encoding throughput, in spans per second: the direct encoder (the exporter's
//! HTTP/protobuf path) with and without gzip, and the generated `opentelemetry-proto` messages
//! (the gRPC and OTLP/JSON path) for comparison.
//!
//! Run with `cargo bench --bench otlp`. The batch resembles a webshop's traces: 10 000 spans
//! over 20 service instances, SERVER and CLIENT spans with the stable HTTP attributes (seven to
//! nine each), one in twenty with an `exception` event and ERROR status.

use std::hint::black_box;
use std::io::Write as _;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message as _;
use synthtel::exporters::otlp::convert::trace_request;
use synthtel::exporters::otlp::encode::SpanEncoder;
use synthtel::model::SpanBatch;
use synthtel::model::traces::{KeyValue, Resource, Span, SpanEvent, SpanKind, StatusCode};
use synthtel::random::Rng;

const SPANS: usize = 10_000;

fn realistic_batch() -> SpanBatch {
    let mut rng = Rng::from_seed(7);
    let mut batch = SpanBatch::new("acme".into());
    let resources: Vec<u32> = (0..20)
        .map(|i| {
            let resource = Arc::new(Resource {
                attributes: vec![
                    KeyValue::new("service.name", format!("svc-{}", i % 10)),
                    KeyValue::new("service.namespace", "shop"),
                    KeyValue::new("service.version", "1.4.2"),
                    KeyValue::new("service.instance.id", format!("svc-{}-{i}", i % 10)),
                    KeyValue::new("deployment.environment.name", "prod"),
                    KeyValue::new("k8s.pod.name", format!("svc-{}-7d9f8-{i:05}", i % 10)),
                ],
            });
            batch.resource_index(&resource)
        })
        .collect();
    let routes = [
        "/api/cart/{id}",
        "/api/checkout",
        "/api/search",
        "/api/items/{id}",
    ];
    let mut start = 1_700_000_000_000_000_000i64;
    for i in 0..SPANS {
        start += rng.below(100_000) as i64;
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
        trace_id[8..].copy_from_slice(&((i / 8) as u64 + 1).to_be_bytes());
        let route = routes[rng.index(routes.len())];
        let server = i % 2 == 0;
        let error = rng.below(20) == 0;
        let mut attributes = vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", route),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new(
                "http.response.status_code",
                if error { 500i64 } else { 200 },
            ),
            KeyValue::new("server.address", "cart.shop.svc"),
            KeyValue::new("server.port", 8080i64),
            KeyValue::new("network.protocol.version", "1.1"),
        ];
        if server {
            attributes.push(KeyValue::new(
                "url.path",
                format!("/api/cart/{}", rng.below(1000)),
            ));
            attributes.push(KeyValue::new("client.address", "10.0.3.17"));
        }
        let events = if error {
            vec![SpanEvent {
                time_ns: start + 1_000,
                name: "exception".into(),
                attributes: vec![
                    KeyValue::new("exception.type", "java.io.IOException"),
                    KeyValue::new("exception.message", "connection reset by peer"),
                ],
            }]
        } else {
            Vec::new()
        };
        batch.spans.push(Span {
            resource: resources[rng.index(resources.len())],
            trace_id,
            span_id: (rng.next_u64() | 1).to_be_bytes(),
            parent_span_id: (i % 8 != 0).then(|| (rng.next_u64() | 1).to_be_bytes()),
            name: format!("GET {route}").into(),
            kind: if server {
                SpanKind::Server
            } else {
                SpanKind::Client
            },
            start_ns: start,
            end_ns: start + rng.below(300_000_000) as i64,
            status: if error {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
            status_message: None,
            attributes,
            events,
            links: Vec::new(),
            flags: 0x301,
        });
    }
    batch
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(body).expect("gzip");
    encoder.finish().expect("gzip")
}

fn bench(c: &mut Criterion) {
    let batch = realistic_batch();
    let mut encoder = SpanEncoder::new();
    let mut body = Vec::new();
    encoder.encode(&batch, &mut body);
    eprintln!(
        "{SPANS} spans: {} bytes protobuf ({} per span), {} gzipped",
        body.len(),
        body.len() / SPANS,
        gzip(&body).len()
    );

    let mut group = c.benchmark_group("otlp_spans");
    group.throughput(Throughput::Elements(SPANS as u64));
    group.bench_function("direct_protobuf", |b| {
        let mut out = Vec::with_capacity(body.len());
        b.iter(|| {
            out.clear();
            encoder.encode(black_box(&batch), &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("direct_protobuf_gzip", |b| {
        let mut out = Vec::with_capacity(body.len());
        b.iter(|| {
            out.clear();
            encoder.encode(black_box(&batch), &mut out);
            black_box(gzip(&out).len())
        })
    });
    group.bench_function("generated_messages_protobuf", |b| {
        let mut out = Vec::with_capacity(body.len());
        b.iter(|| {
            out.clear();
            let request = trace_request(black_box(&batch));
            request.encode(&mut out).expect("encode");
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
