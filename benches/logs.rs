//! Throughput of the `logs` source per dialect, in lines generated into a `LogBatch` per second
//! on one core.
//!
//! Each iteration generates 100 ms of virtual time (100,000 lines) for one tenant at one million lines per
//! second: `cargo bench --bench logs`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use synthtel::model::Batch;
use synthtel::sources::logs::{Dialect, LogsSourceConfig};
use synthtel::sources::{BuildContext, Source, TenantSpec, Window, tenant_id};

const START_NS: i64 = 1_796_000_000_000_000_000;
const WINDOW_NS: i64 = 100_000_000;
const LINES_PER_SECOND: f64 = 1_000_000.0;

fn source(dialect: Dialect) -> impl Source {
    let text = format!(
        "dialect = \"{}\"\nlines_per_second = {LINES_PER_SECOND}",
        dialect.as_str()
    );
    let config: LogsSourceConfig = toml::from_str(&text).expect("config parses");
    let context = BuildContext {
        seed: 42,
        component_id: "bench".to_string(),
        tenants: vec![TenantSpec {
            id: tenant_id("acme"),
            scale: 1.0,
            model: "webshop".into(),
        }],
        anomalies: synthtel::anomaly::Registry::new(),
    };
    config.build(&context).expect("source builds")
}

fn lines_per_window(source: &mut impl Source) -> u64 {
    let mut out = Vec::new();
    source.generate(Window::new(START_NS, START_NS + WINDOW_NS), &mut out);
    out.iter().map(Batch::len).sum::<usize>() as u64
}

fn dialects(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("logs");
    for dialect in Dialect::ALL {
        let mut source = source(dialect);
        group.throughput(Throughput::Elements(lines_per_window(&mut source)));
        let mut window = 0;
        group.bench_function(dialect.as_str(), |bencher| {
            bencher.iter(|| {
                // A new window each time, so the per-second time caches see real traffic.
                window += 1;
                let start = START_NS + window * WINDOW_NS;
                let mut out = Vec::with_capacity(1);
                source.generate(Window::new(start, start + WINDOW_NS), &mut out);
                black_box(out)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, dialects);
criterion_main!(benches);
