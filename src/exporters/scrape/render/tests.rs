use super::*;
use crate::model::metrics::MetricKind;

fn family(name: &str, kind: MetricKind, unit: &str, help: &str) -> Family {
    Family {
        name: name.into(),
        help: help.into(),
        unit: unit.into(),
        kind,
    }
}

fn exemplar(value: f64) -> Exemplar {
    Exemplar {
        trace_id: std::array::from_fn(|i| i as u8),
        span_id: std::array::from_fn(|i| i as u8 + 1),
        value,
        timestamp_ms: 1_700_000_000_123,
    }
}

/// A small target: a counter with an exemplar, a gauge with a unit, a histogram with an
/// exemplar on one bucket, an info metric. Exemplars on a gauge and on `_sum` must be ignored.
fn feed(sink: &mut dyn SampleSink) {
    let requests = family("http_requests", MetricKind::Counter, "", "Requests served.");
    sink.family(&requests);
    let labels = [("method", "GET"), ("status", "200")];
    sink.sample("http_requests_total", &labels, 1027.0, Some(&exemplar(1.0)));
    let labels = [("method", "POST"), ("status", "500")];
    sink.sample("http_requests_total", &labels, 3.0, None);

    let memory = "process_resident_memory_bytes";
    sink.family(&family(
        memory,
        MetricKind::Gauge,
        "bytes",
        "Resident memory size.",
    ));
    sink.sample(memory, &[], 123_456.5, Some(&exemplar(2.0)));

    let latency = "http_request_duration_seconds";
    sink.family(&family(
        latency,
        MetricKind::Histogram,
        "seconds",
        "Request latency.",
    ));
    let bucket = "http_request_duration_seconds_bucket";
    sink.sample(bucket, &[("le", "0.1"), ("route", "/api")], 30.0, None);
    let slow = exemplar(0.27);
    sink.sample(
        bucket,
        &[("le", "0.5"), ("route", "/api")],
        40.0,
        Some(&slow),
    );
    sink.sample(bucket, &[("le", "+Inf"), ("route", "/api")], 42.0, None);
    let sum = "http_request_duration_seconds_sum";
    sink.sample(sum, &[("route", "/api")], 12.5, Some(&slow));
    sink.sample(
        "http_request_duration_seconds_count",
        &[("route", "/api")],
        42.0,
        None,
    );

    sink.family(&family("build", MetricKind::Info, "", "Build information."));
    sink.sample("build_info", &[("version", "1.2.3")], 1.0, None);
}

fn text() -> String {
    let mut renderer = TextRenderer::new();
    feed(&mut renderer);
    let (out, Keep, samples) = renderer.finish();
    assert_eq!(samples, 9);
    String::from_utf8(out).expect("utf-8")
}

fn openmetrics(options: OpenMetricsOptions) -> String {
    let mut renderer = OpenMetricsRenderer::new(options);
    feed(&mut renderer);
    let (out, Keep, samples) = renderer.finish();
    assert_eq!(samples, 9);
    String::from_utf8(out).expect("utf-8")
}

const TEXT_GOLDEN: &str = r#"# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{method="GET",status="200"} 1027
http_requests_total{method="POST",status="500"} 3
# HELP process_resident_memory_bytes Resident memory size.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 123456.5
# HELP http_request_duration_seconds Request latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1",route="/api"} 30
http_request_duration_seconds_bucket{le="0.5",route="/api"} 40
http_request_duration_seconds_bucket{le="+Inf",route="/api"} 42
http_request_duration_seconds_sum{route="/api"} 12.5
http_request_duration_seconds_count{route="/api"} 42
# HELP build_info Build information.
# TYPE build_info gauge
build_info{version="1.2.3"} 1
"#;

const OPENMETRICS_GOLDEN: &str = r#"# HELP http_requests Requests served.
# TYPE http_requests counter
http_requests_total{method="GET",status="200"} 1027 # {trace_id="000102030405060708090a0b0c0d0e0f",span_id="0102030405060708"} 1 1700000000.123
http_requests_total{method="POST",status="500"} 3
# HELP process_resident_memory_bytes Resident memory size.
# TYPE process_resident_memory_bytes gauge
# UNIT process_resident_memory_bytes bytes
process_resident_memory_bytes 123456.5
# HELP http_request_duration_seconds Request latency.
# TYPE http_request_duration_seconds histogram
# UNIT http_request_duration_seconds seconds
http_request_duration_seconds_bucket{le="0.1",route="/api"} 30
http_request_duration_seconds_bucket{le="0.5",route="/api"} 40 # {trace_id="000102030405060708090a0b0c0d0e0f",span_id="0102030405060708"} 0.27 1700000000.123
http_request_duration_seconds_bucket{le="+Inf",route="/api"} 42
http_request_duration_seconds_sum{route="/api"} 12.5
http_request_duration_seconds_count{route="/api"} 42
# HELP build Build information.
# TYPE build info
build_info{version="1.2.3"} 1
# EOF
"#;

#[test]
fn text_matches_the_golden_exposition() {
    assert_eq!(text(), TEXT_GOLDEN);
}

#[test]
fn openmetrics_matches_the_golden_exposition() {
    let options = OpenMetricsOptions {
        exemplars: true,
        ..OpenMetricsOptions::default()
    };
    assert_eq!(openmetrics(options), OPENMETRICS_GOLDEN);
}

#[test]
fn openmetrics_ends_with_eof_and_text_does_not() {
    let rendered = openmetrics(OpenMetricsOptions::default());
    assert!(rendered.ends_with("\n# EOF\n"), "{rendered}");
    assert_eq!(rendered.matches("# EOF").count(), 1);
    assert!(!text().contains("# EOF"));
    assert!(text().ends_with('\n'));

    let empty = OpenMetricsRenderer::new(OpenMetricsOptions::default())
        .finish()
        .0;
    assert_eq!(empty, b"# EOF\n");
}

#[test]
fn text_never_carries_exemplars_or_timestamps() {
    let rendered = text();
    assert!(!rendered.contains("trace_id"), "{rendered}");
    for line in rendered.lines().filter(|line| !line.starts_with('#')) {
        let tokens = match line.rsplit_once('}') {
            Some((_, after_labels)) => after_labels.split_whitespace().count() + 1,
            None => line.split_whitespace().count(),
        };
        assert_eq!(tokens, 2, "{line}");
    }
}

#[test]
fn exemplars_can_be_switched_off() {
    let rendered = openmetrics(OpenMetricsOptions::default());
    assert!(!rendered.contains("trace_id"), "{rendered}");
}

#[test]
fn created_follows_counters_and_histogram_counts() {
    let options = OpenMetricsOptions {
        created_ms: Some(1_699_999_000_500),
        ..OpenMetricsOptions::default()
    };
    let rendered = openmetrics(options);
    let created: Vec<&str> = rendered
        .lines()
        .filter(|l| l.contains("_created"))
        .collect();
    assert_eq!(
        created,
        [
            r#"http_requests_created{method="GET",status="200"} 1699999000.5"#,
            r#"http_requests_created{method="POST",status="500"} 1699999000.5"#,
            r#"http_request_duration_seconds_created{route="/api"} 1699999000.5"#,
        ]
    );
    let counter = rendered
        .find("http_requests_total{method=\"GET\"")
        .expect("total");
    assert!(counter < rendered.find("http_requests_created").expect("created"));
}

#[test]
fn timestamps_are_seconds_when_asked_for() {
    let options = OpenMetricsOptions {
        timestamp_ms: Some(1_700_000_001_250),
        ..OpenMetricsOptions::default()
    };
    let rendered = openmetrics(options);
    assert!(rendered.contains("build_info{version=\"1.2.3\"} 1 1700000001.25\n"));
}

#[test]
fn label_values_escape_backslash_quote_and_newline() {
    let gauge = family(
        "weird",
        MetricKind::Gauge,
        "",
        "Odd \\ help\nwith \"quotes\".",
    );
    let value = "C:\\path \"quoted\"\nnext";
    let mut text = TextRenderer::new();
    text.family(&gauge);
    text.sample("weird", &[("path", value)], 1.0, None);
    let (text, _, _) = text.finish();
    assert_eq!(
        String::from_utf8(text).expect("utf-8"),
        "# HELP weird Odd \\\\ help\\nwith \"quotes\".\n# TYPE weird gauge\n\
         weird{path=\"C:\\\\path \\\"quoted\\\"\\nnext\"} 1\n"
    );

    let mut open = OpenMetricsRenderer::new(OpenMetricsOptions::default());
    open.family(&gauge);
    open.sample("weird", &[("path", value)], 1.0, None);
    let (open, _, _) = open.finish();
    assert_eq!(
        String::from_utf8(open).expect("utf-8"),
        "# HELP weird Odd \\\\ help\\nwith \\\"quotes\\\".\n# TYPE weird gauge\n\
         weird{path=\"C:\\\\path \\\"quoted\\\"\\nnext\"} 1\n# EOF\n"
    );
}

#[test]
fn unit_lines_need_the_unit_suffix() {
    let mut open = OpenMetricsRenderer::new(OpenMetricsOptions::default());
    open.family(&family(
        "queue_length",
        MetricKind::Gauge,
        "seconds",
        "Mismatched.",
    ));
    open.family(&family(
        "wait_xseconds",
        MetricKind::Gauge,
        "seconds",
        "Not a suffix.",
    ));
    let (out, _, _) = open.finish();
    assert!(!String::from_utf8(out).expect("utf-8").contains("# UNIT"));
}

#[test]
fn floats_use_go_syntax() {
    let mut text = TextRenderer::new();
    text.family(&family("g", MetricKind::Gauge, "", ""));
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.5] {
        text.sample("g", &[], value, None);
    }
    let (out, _, _) = text.finish();
    assert_eq!(out, b"# TYPE g gauge\ng NaN\ng +Inf\ng -Inf\ng -0.5\n");
}

/// A spill that records each chunk, to check that big expositions leave the buffer.
#[derive(Default)]
struct Collect(Vec<Vec<u8>>);

impl Spill for Collect {
    fn spill(&mut self, buffer: &mut Vec<u8>) {
        self.0.push(std::mem::take(buffer));
    }
}

#[test]
fn large_expositions_spill_in_chunks_that_add_up() {
    let gauge = family("g", MetricKind::Gauge, "", "Help.");
    let mut keep = TextRenderer::new();
    let mut chunked = TextRenderer::with_spill(Vec::new(), Collect::default());
    for sink in [&mut keep as &mut dyn SampleSink, &mut chunked] {
        sink.family(&gauge);
        for i in 0..20_000 {
            let id = i.to_string();
            sink.sample("g", &[("id", &id)], i as f64, None);
        }
    }
    let (whole, _, _) = keep.finish();
    let (rest, Collect(chunks), samples) = chunked.finish();
    assert_eq!(samples, 20_000);
    assert!(rest.is_empty());
    assert!(chunks.len() > 2, "{}", chunks.len());
    assert!(chunks.iter().all(|c| c.len() < CHUNK_BYTES + 100));
    assert_eq!(chunks.concat(), whole);
}

#[test]
fn exemplar_label_sets_stay_within_128_code_points() {
    let rendered = openmetrics(OpenMetricsOptions {
        exemplars: true,
        ..OpenMetricsOptions::default()
    });
    for line in rendered.lines().filter(|l| l.contains(" # {")) {
        let set = line.split(" # {").nth(1).and_then(|s| s.split('}').next());
        let set = set.expect("exemplar label set");
        let code_points: usize = set
            .split(',')
            .map(|pair| pair.replace(['=', '"'], "").chars().count())
            .sum();
        assert_eq!(code_points, EXEMPLAR_LABEL_CODE_POINTS);
        assert!(code_points <= 128);
    }
}
