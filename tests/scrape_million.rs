//! A target of a million series, served by the `prometheus_scrape` exporter over real HTTP:
//! every scrape has the exact series count, and the process's peak resident memory stays under
//! 200 MB. The target set is procedural (nothing materialised) and shared with
//! `benches/scrape.rs`.

use std::sync::Arc;

use synthtel::model::metrics::{Exemplar, Family, MetricKind, SampleSink, Target, TargetSet};

/// A single target of `series` samples per scrape: 40 % counters (one in ten with an exemplar),
/// 52 % histogram samples (buckets, `_sum`, `_count`) and 8 % gauges, values a function of time.
pub struct Million {
    targets: Vec<Target>,
    routes: Vec<String>,
    queues: Vec<String>,
    counters: Family,
    latency: Family,
    depth: Family,
    series: usize,
}

const METHODS: [&str; 4] = ["DELETE", "GET", "POST", "PUT"];
const STATUSES: [&str; 5] = ["200", "201", "404", "500", "503"];
const BOUNDS: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];
/// Histogram samples per label set: the buckets, `_sum` and `_count`.
const PER_HISTOGRAM: usize = BOUNDS.len() + 2;

impl Million {
    /// A target set of one target with `series` samples (a multiple of 100).
    pub fn new(series: usize) -> Arc<Self> {
        assert_eq!(series % 100, 0);
        let routes = (0..series / 20)
            .map(|i| format!("/api/v1/items/{i}"))
            .collect();
        let queues = (0..series / 10).map(|i| format!("queue-{i:06}")).collect();
        let family = |name: &str, kind, unit: &str, help: &str| Family {
            name: name.into(),
            help: help.into(),
            unit: unit.into(),
            kind,
        };
        Arc::new(Million {
            targets: vec![Target {
                tenant: "acme".into(),
                job: "gateway".into(),
                instance: "gateway-0:8080".into(),
                labels: vec![("namespace".into(), "edge".into())],
            }],
            routes,
            queues,
            counters: family("http_requests", MetricKind::Counter, "", "Requests served."),
            latency: family(
                "http_request_duration_seconds",
                MetricKind::Histogram,
                "seconds",
                "Request latency.",
            ),
            depth: family("worker_queue_depth", MetricKind::Gauge, "", "Jobs waiting."),
            series,
        })
    }

    /// Label sets of the histogram: about 52 % of the series.
    fn histogram_sets(&self) -> usize {
        self.series * 52 / 100 / PER_HISTOGRAM
    }

    fn counters(&self, now_s: f64, sink: &mut dyn SampleSink) {
        sink.family(&self.counters);
        let count = self.series * 4 / 10;
        for i in 0..count {
            let route = &self.routes[i / 20];
            let method = METHODS[i % 4];
            let status = STATUSES[(i / 4) % 5];
            let labels = [
                ("method", method),
                ("route", route.as_str()),
                ("status", status),
            ];
            let value = (now_s * (1 + i % 7) as f64).floor();
            let exemplar = Exemplar {
                trace_id: [(i % 251) as u8 + 1; 16],
                span_id: [(i % 241) as u8 + 1; 8],
                value: 0.05,
                timestamp_ms: (now_s * 1000.0) as i64,
            };
            let exemplar = (i % 10 == 0).then_some(&exemplar);
            sink.sample("http_requests_total", &labels, value, exemplar);
        }
    }

    fn histograms(&self, now_s: f64, sink: &mut dyn SampleSink) {
        sink.family(&self.latency);
        let sets = self.histogram_sets();
        for i in 0..sets {
            let route = self.routes[i / 4].as_str();
            let method = METHODS[i % 4];
            let total = (now_s * (1 + i % 5) as f64).floor();
            for (b, bound) in BOUNDS.iter().enumerate() {
                let labels = [("le", *bound), ("method", method), ("route", route)];
                let cumulative = if b + 1 == BOUNDS.len() {
                    total
                } else {
                    (total * (b + 1) as f64 / BOUNDS.len() as f64).floor()
                };
                let name = "http_request_duration_seconds_bucket";
                sink.sample(name, &labels, cumulative, None);
            }
            let labels = [("method", method), ("route", route)];
            sink.sample(
                "http_request_duration_seconds_sum",
                &labels,
                total * 0.125,
                None,
            );
            sink.sample("http_request_duration_seconds_count", &labels, total, None);
        }
    }

    fn gauges(&self, now_s: f64, sink: &mut dyn SampleSink) {
        sink.family(&self.depth);
        let count = self.series - self.series * 4 / 10 - self.histogram_sets() * PER_HISTOGRAM;
        for i in 0..count {
            let labels = [("queue", self.queues[i].as_str())];
            let value = ((now_s as usize + i) % 97) as f64;
            sink.sample("worker_queue_depth", &labels, value, None);
        }
    }
}

impl TargetSet for Million {
    fn targets(&self) -> &[Target] {
        &self.targets
    }

    fn visit(&self, _: usize, timestamp_ms: i64, sink: &mut dyn SampleSink) {
        let now_s = timestamp_ms as f64 / 1000.0;
        self.counters(now_s, sink);
        self.histograms(now_s, sink);
        self.gauges(now_s, sink);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Read, Write as _};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    use synthtel::exporters::{ExporterConfig, ExporterContext, ExporterInput, StopSignal};
    use synthtel::model::metrics::CountingSink;
    use synthtel::pipeline::stats::Stats;
    use tokio::sync::mpsc;

    use super::*;

    const SERIES: usize = 1_000_000;
    const RSS_LIMIT_BYTES: u64 = 200 << 20;

    /// Counts what passes through a reader.
    struct Counted<R> {
        inner: R,
        bytes: u64,
    }

    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.bytes += n as u64;
            Ok(n)
        }
    }

    /// What one scrape returned, read as a stream so the client never holds a whole body.
    struct Scrape {
        head: String,
        wire_bytes: u64,
        plain_bytes: u64,
        samples: usize,
        last_line: Vec<u8>,
    }

    /// A GET over HTTP/1.0 (no chunked encoding), counting sample lines on the fly.
    fn scrape(port: u16, path: &str, headers: &str) -> Scrape {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}\r\n");
        stream.write_all(request.as_bytes()).expect("write");
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("head");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let gzip = head.to_ascii_lowercase().contains("content-encoding: gzip");
        let mut wire = Counted {
            inner: reader,
            bytes: 0,
        };
        let mut body: Box<dyn Read + '_> = if gzip {
            Box::new(flate2::read::GzDecoder::new(&mut wire))
        } else {
            Box::new(&mut wire)
        };
        let (mut plain_bytes, mut samples) = (0, 0);
        let mut line = Vec::new();
        let mut last_line = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            let n = body.read(&mut chunk).expect("body");
            if n == 0 {
                break;
            }
            plain_bytes += n as u64;
            for byte in &chunk[..n] {
                if *byte == b'\n' {
                    if line.first().is_some_and(|b| *b != b'#') {
                        samples += 1;
                    }
                    std::mem::swap(&mut line, &mut last_line);
                    line.clear();
                } else {
                    line.push(*byte);
                }
            }
        }
        drop(body);
        Scrape {
            head,
            wire_bytes: wire.bytes,
            plain_bytes,
            samples,
            last_line,
        }
    }

    /// Peak resident memory of this process (`VmHWM`), in bytes.
    fn peak_rss_bytes() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .expect("VmHWM");
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("kB");
        kib * 1024
    }

    #[test]
    fn the_set_has_exactly_the_series_asked_for() {
        let set = Million::new(SERIES);
        assert_eq!(set.series_count(0, 1_700_000_000_000), SERIES);
        let mut count = CountingSink::default();
        Million::new(1000).visit(0, 0, &mut count);
        assert_eq!(count.0, 1000);
    }

    #[test]
    fn a_million_series_scrape_is_complete_fast_and_under_200_mb() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            probe.local_addr().expect("addr").port()
        };
        let table: toml::Table =
            toml::from_str(&format!("listen = \"127.0.0.1:{port}\"")).expect("toml");
        let config = ExporterConfig::parse("prometheus_scrape", table)
            .expect("known")
            .expect("valid");
        let context = ExporterContext {
            anomalies: Default::default(),
            id: "targets".into(),
            target_sets: vec![Million::new(SERIES)],
        };
        let exporter = config.build(&context).expect("build");
        let (_, rx) = mpsc::channel(1);
        let stats = Stats::new().component("exporter", "targets", "prometheus_scrape");
        let input = ExporterInput {
            rx,
            stats: Arc::clone(&stats),
            stop: StopSignal::never(),
        };
        runtime.spawn(exporter.run(input));

        let path = "/targets/acme/gateway/gateway-0:8080/metrics";
        let openmetrics = "Accept: application/openmetrics-text;version=1.0.0\r\n";
        let openmetrics_gzip = format!("{openmetrics}Accept-Encoding: gzip\r\n");
        let cases = [
            ("text", ""),
            ("text gzip", "Accept-Encoding: gzip\r\n"),
            ("openmetrics", openmetrics),
            ("openmetrics gzip", &openmetrics_gzip),
        ];
        for (name, headers) in cases {
            let started = Instant::now();
            let scrape = scrape(port, path, headers);
            let elapsed = started.elapsed();
            assert!(scrape.head.starts_with("HTTP/1.0 200"), "{}", scrape.head);
            assert_eq!(scrape.samples, SERIES, "{name}");
            if name.starts_with("openmetrics") {
                assert_eq!(scrape.last_line, b"# EOF", "{name}");
            }
            eprintln!(
                "{name}: {:.3} s, {} bytes on the wire, {} bytes plain, peak RSS {} MB",
                elapsed.as_secs_f64(),
                scrape.wire_bytes,
                scrape.plain_bytes,
                peak_rss_bytes() >> 20
            );
        }
        let peak = peak_rss_bytes();
        // The rendering thread counts just after its last chunk; give it a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        while stats.total().accepted < 4 * SERIES as u64 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(stats.total().accepted, 4 * SERIES as u64);
        runtime.shutdown_background();
        assert!(peak <= RSS_LIMIT_BYTES, "peak RSS {peak} bytes");
    }
}
