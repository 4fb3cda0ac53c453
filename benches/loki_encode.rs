//! Loki push encoding throughput: protobuf + snappy (the default), protobuf alone, and JSON.
//!
//! Run with `cargo bench --bench loki_encode`. The batch resembles what the `logs` source
//! emits: 10 000 lines of about 110 bytes over 20 streams, in generation order (interleaved
//! streams), a third with trace and span ids, each with one metadata pair.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use synthtel::exporters::loki::PushEncoder;
use synthtel::model::{Labels, LogBatch, Severity};
use synthtel::random::Rng;

const ENTRIES: u64 = 10_000;

fn realistic_batch() -> LogBatch {
    let mut rng = Rng::from_seed(42);
    let mut batch = LogBatch::new("acme".into());
    let streams: Vec<u32> = (0..20)
        .map(|i| {
            let labels = Labels::new([
                ("service_name", format!("svc-{}", i % 10)),
                ("env", "prod".to_string()),
                ("namespace", "shop".to_string()),
                ("level", ["info", "warn"][i / 10].to_string()),
            ])
            .expect("labels");
            batch.stream_index(&Arc::new(labels))
        })
        .collect();
    let paths = [
        "/cart",
        "/checkout/confirm",
        "/api/v1/search?q=shoes",
        "/static/app.js",
    ];
    let mut timestamp = 1_700_000_000_000_000_000i64;
    for i in 0..ENTRIES {
        timestamp += rng.below(200_000) as i64;
        let line = format!(
            "10.0.{}.{} - - \"GET {} HTTP/1.1\" {} {} \"Mozilla/5.0 (X11; Linux x86_64)\" rt={:.3}",
            rng.below(256),
            rng.below(256),
            paths[rng.index(paths.len())],
            [200, 200, 200, 404, 500][rng.index(5)],
            rng.below(50_000),
            rng.f64()
        );
        let start = batch.metadata.len() as u32;
        batch.push_metadata("user_id", format!("u-{}", rng.below(10_000)).as_bytes());
        batch.push_line(
            streams[rng.index(streams.len())],
            timestamp,
            Severity::Info,
            line.as_bytes(),
        );
        let entry = batch.entries.last_mut().expect("entry");
        entry.metadata = start..start + 1;
        if i % 3 == 0 {
            let mut trace_id = [0u8; 16];
            rng.fill_bytes(&mut trace_id);
            let mut span_id = [0u8; 8];
            rng.fill_bytes(&mut span_id);
            entry.trace_id = Some(trace_id);
            entry.span_id = Some(span_id);
        }
    }
    batch
}

fn encode(c: &mut Criterion) {
    let batch = realistic_batch();
    let mut encoder = PushEncoder::new();
    let mut out = Vec::new();
    let mut group = c.benchmark_group("loki_encode");
    group.throughput(Throughput::Elements(ENTRIES));
    group.bench_function("protobuf_snappy", |b| {
        b.iter(|| {
            encoder.encode_protobuf(black_box(&batch), &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("protobuf_uncompressed", |b| {
        b.iter(|| {
            black_box(
                encoder
                    .encode_protobuf_uncompressed(black_box(&batch))
                    .len(),
            )
        })
    });
    group.bench_function("json", |b| {
        b.iter(|| {
            encoder.encode_json(black_box(&batch), &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
