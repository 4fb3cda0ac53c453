//! Remote-write encoding throughput: `WriteRequest` + snappy (what goes on the wire), and the
//! protobuf alone.
//!
//! Run with `cargo bench --bench remote_write`. Two batches of 2000 samples (the default
//! `batch.max_samples`) over HTTP RED and node-like series with six to eight labels each:
//! `live` has one sample per series (one scrape interval of 2000 series), `backfill` has 20
//! samples for each of 100 series. A tenth of the samples carry an exemplar; metadata is on.
//!
//! Last results (2-core AMD EPYC VM shared with other builds, load average about 3, so ±30 %),
//! samples per second on one core: backfill 6.7–9.4 M with snappy, 11.8–16 M protobuf alone;
//! live 1.5–2.1 M with snappy, 2.4–3.7 M protobuf alone. A live sample carries its whole label
//! set (about 220 bytes), and snappy takes about 45 % of that time.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use synthtel::exporters::remote_write::{EncodeOptions, WriteEncoder};
use synthtel::model::MetricBatch;
use synthtel::model::metrics::{Exemplar, Family, MetricKind, MetricSample, Series};
use synthtel::random::Rng;

const SAMPLES: usize = 2000;

fn families() -> Vec<(Arc<Family>, &'static str)> {
    let family = |name: &str, kind, unit: &str| {
        Arc::new(Family {
            name: name.into(),
            help: format!("Synthetic {name}."),
            unit: unit.into(),
            kind,
        })
    };
    vec![
        (
            family("http_requests", MetricKind::Counter, ""),
            "http_requests_total",
        ),
        (
            family(
                "http_request_duration_seconds",
                MetricKind::Histogram,
                "seconds",
            ),
            "http_request_duration_seconds_bucket",
        ),
        (
            family("process_resident_memory_bytes", MetricKind::Gauge, "bytes"),
            "process_resident_memory_bytes",
        ),
    ]
}

fn make_series(count: usize, rng: &mut Rng) -> Vec<Arc<Series>> {
    let families = families();
    let routes = [
        "/cart",
        "/checkout",
        "/api/v1/search",
        "/static/app.js",
        "/login",
    ];
    let buckets = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf",
    ];
    (0..count)
        .map(|i| {
            let (family, name) = &families[i % families.len()];
            let service = format!("svc-{}", rng.below(20));
            let mut labels = vec![
                ("job", service.clone()),
                ("instance", format!("{service}-{:x}", rng.below(1 << 24))),
                ("namespace", "shop".to_string()),
                ("method", ["GET", "POST"][rng.index(2)].to_string()),
                ("route", routes[rng.index(routes.len())].to_string()),
                ("status", ["200", "404", "500"][rng.index(3)].to_string()),
            ];
            if family.kind == MetricKind::Histogram {
                labels.push(("le", buckets[i % buckets.len()].to_string()));
            }
            let labels = labels
                .into_iter()
                .map(|(n, v)| (Arc::from(n), Arc::from(v.as_str())))
                .collect();
            Arc::new(Series::new(*name, labels, Arc::clone(family)))
        })
        .collect()
}

fn batch(series_count: usize, per_series: usize) -> MetricBatch {
    let mut rng = Rng::from_seed(7);
    let mut batch = MetricBatch::new("acme".into());
    batch.series = make_series(series_count, &mut rng);
    let start = 1_760_000_000_000i64;
    // Generation order: time steps outside, series inside (samples interleave across series).
    for step in 0..per_series {
        for series in 0..series_count {
            let exemplar = rng.chance(0.1).then(|| {
                let mut trace_id = [0u8; 16];
                rng.fill_bytes(&mut trace_id);
                let mut span_id = [0u8; 8];
                rng.fill_bytes(&mut span_id);
                Exemplar {
                    trace_id,
                    span_id,
                    value: rng.f64(),
                    timestamp_ms: start,
                }
            });
            batch.samples.push(MetricSample {
                series: series as u32,
                timestamp_ms: start + step as i64 * 15_000 + rng.below(50) as i64,
                value: (rng.below(1_000_000) as f64) * 0.25,
                exemplar,
            });
        }
    }
    batch
}

fn encode(c: &mut Criterion) {
    let options = EncodeOptions {
        tenant_label: Some("tenant".into()),
        ..EncodeOptions::default()
    };
    let mut encoder = WriteEncoder::new();
    let mut out = Vec::new();
    let mut group = c.benchmark_group("remote_write_encode");
    group.throughput(Throughput::Elements(SAMPLES as u64));
    for (name, batch) in [
        ("live", batch(SAMPLES, 1)),
        ("backfill", batch(SAMPLES / 20, 20)),
    ] {
        assert_eq!(batch.samples.len(), SAMPLES);
        group.bench_function(format!("{name}/protobuf_snappy"), |b| {
            b.iter(|| {
                encoder.encode(black_box(&batch), &options, &mut out);
                black_box(out.len())
            })
        });
        group.bench_function(format!("{name}/protobuf"), |b| {
            b.iter(|| {
                black_box(
                    encoder
                        .encode_uncompressed(black_box(&batch), &options)
                        .len(),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
