//! Rendering one scrape of a target of 1,000,000 series, in text 0.0.4 and OpenMetrics 1.0,
//! plain and gzip (level 1, as served). The target set is the procedural one of
//! `tests/scrape_million.rs`; each run prints the exposition's size once.
//!
//! Last results (2 shared cores, `cargo bench --bench scrape`), seconds per scrape of 1,000,000
//! series: text 0.12 s (88.9 MB), text + gzip 0.25 s (6.3 MB), OpenMetrics with exemplars
//! 0.16 s (92.5 MB), OpenMetrics + gzip 0.29 s (7.1 MB). Served over HTTP, the process peaks at
//! about 30 MB resident (`tests/scrape_million.rs` asserts at most 200 MB).

use std::hint::black_box;
use std::io::Write as _;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;
use synthtel::exporters::scrape::render::{
    CHUNK_BYTES, OpenMetricsOptions, OpenMetricsRenderer, Spill, TextRenderer,
};
use synthtel::model::metrics::{SampleSink, TargetSet};

#[path = "../tests/scrape_million.rs"]
#[allow(
    dead_code,
    unused_imports,
    reason = "the test file's own tests are compiled but not run here"
)]
mod million;

const SERIES: usize = 1_000_000;
const NOW_MS: i64 = 1_700_000_000_000;

/// Counts and discards chunks, as a socket would take them.
#[derive(Default)]
struct Discard {
    bytes: u64,
}

impl Spill for Discard {
    fn spill(&mut self, buffer: &mut Vec<u8>) {
        self.bytes += buffer.len() as u64;
        black_box(&buffer);
        buffer.clear();
    }
}

/// Compresses chunks as the exporter does, counting the compressed bytes.
struct Gzip {
    encoder: GzEncoder<Vec<u8>>,
    bytes: u64,
}

impl Gzip {
    fn new() -> Self {
        Gzip {
            encoder: GzEncoder::new(Vec::with_capacity(2 * CHUNK_BYTES), Compression::fast()),
            bytes: 0,
        }
    }

    fn finish(self) -> u64 {
        let rest = self.encoder.finish().expect("gzip");
        self.bytes + rest.len() as u64
    }
}

impl Spill for Gzip {
    fn spill(&mut self, buffer: &mut Vec<u8>) {
        self.encoder.write_all(buffer).expect("gzip");
        let out = self.encoder.get_mut();
        self.bytes += out.len() as u64;
        out.clear();
        buffer.clear();
    }
}

fn openmetrics_options() -> OpenMetricsOptions {
    OpenMetricsOptions {
        exemplars: true,
        ..OpenMetricsOptions::default()
    }
}

fn text<S: Spill>(set: &dyn TargetSet, spill: S) -> (S, u64) {
    let mut renderer = TextRenderer::with_spill(Vec::with_capacity(2 * CHUNK_BYTES), spill);
    set.visit(0, NOW_MS, &mut renderer as &mut dyn SampleSink);
    let (_, spill, samples) = renderer.finish();
    (spill, samples)
}

fn openmetrics<S: Spill>(set: &dyn TargetSet, spill: S) -> (S, u64) {
    let buffer = Vec::with_capacity(2 * CHUNK_BYTES);
    let mut renderer = OpenMetricsRenderer::with_spill(buffer, spill, openmetrics_options());
    set.visit(0, NOW_MS, &mut renderer as &mut dyn SampleSink);
    let (_, spill, samples) = renderer.finish();
    (spill, samples)
}

fn report_sizes(set: &dyn TargetSet) {
    let (plain, samples) = text(set, Discard::default());
    let (gzip, _) = text(set, Gzip::new());
    eprintln!(
        "text 0.0.4: {samples} samples, {} bytes plain, {} bytes gzip",
        plain.bytes,
        gzip.finish()
    );
    let (plain, samples) = openmetrics(set, Discard::default());
    let (gzip, _) = openmetrics(set, Gzip::new());
    eprintln!(
        "openmetrics 1.0: {samples} samples, {} bytes plain, {} bytes gzip",
        plain.bytes,
        gzip.finish()
    );
}

fn scrape(c: &mut Criterion) {
    let set = million::Million::new(SERIES);
    report_sizes(&*set);

    let mut group = c.benchmark_group("scrape_1m_series");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("text", |b| {
        b.iter(|| black_box(text(&*set, Discard::default()).1))
    });
    group.bench_function("text_gzip", |b| {
        b.iter(|| black_box(text(&*set, Gzip::new()).0.finish()))
    });
    group.bench_function("openmetrics", |b| {
        b.iter(|| black_box(openmetrics(&*set, Discard::default()).1))
    });
    group.bench_function("openmetrics_gzip", |b| {
        b.iter(|| black_box(openmetrics(&*set, Gzip::new()).0.finish()))
    });
    group.finish();
}

criterion_group!(benches, scrape);
criterion_main!(benches);
