//! The scrape renderers checked by independent readers: Prometheus's own `promtool` (Debian
//! package `prometheus`) lints text 0.0.4 and imports OpenMetrics into TSDB blocks, and a small
//! text parser written here reads label values back under proptest.

use std::path::PathBuf;
use std::process::Command;

use proptest::prelude::*;
use synthtel::exporters::scrape::render::{OpenMetricsOptions, OpenMetricsRenderer, TextRenderer};
use synthtel::model::metrics::{Exemplar, Family, MetricKind, SampleSink};

/// `promtool`, or a loud failure that says how to install it.
fn promtool() -> PathBuf {
    let path = std::env::var_os("PROMTOOL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/promtool"));
    assert!(
        path.exists(),
        "promtool is not installed ({}): run `make test-deps` (apt-get install prometheus)",
        path.display()
    );
    path
}

fn family(name: &str, kind: MetricKind, unit: &str, help: &str) -> Family {
    Family {
        name: name.into(),
        help: help.into(),
        unit: unit.into(),
        kind,
    }
}

/// A target with every kind the renderers write, odd label values and help texts included.
fn feed(sink: &mut dyn SampleSink, now_ms: i64) {
    let exemplar = Exemplar {
        trace_id: [0x4b; 16],
        span_id: [0x2a; 8],
        value: 0.042,
        timestamp_ms: now_ms - 500,
    };
    sink.family(&family(
        "http_requests",
        MetricKind::Counter,
        "",
        "Requests served, by \"route\" \\ status.\nSecond line.",
    ));
    for (route, status, value) in [("/cart", "200", 1027.0), ("/pay\"q\\\n", "500", 3.0)] {
        let labels = [("route", route), ("status", status)];
        sink.sample("http_requests_total", &labels, value, Some(&exemplar));
    }

    sink.family(&family(
        "process_resident_memory_bytes",
        MetricKind::Gauge,
        "bytes",
        "Resident memory size in bytes.",
    ));
    sink.sample("process_resident_memory_bytes", &[], 1.5e8, None);

    let latency = "http_request_duration_seconds";
    sink.family(&family(
        latency,
        MetricKind::Histogram,
        "seconds",
        "Request latency.",
    ));
    let name = "http_request_duration_seconds_bucket";
    for (le, count) in [("0.05", 10.0), ("0.1", 25.0), ("1", 29.0), ("+Inf", 30.0)] {
        let labels = [("le", le), ("route", "/cart")];
        let with = (le == "0.05").then_some(&exemplar);
        sink.sample(name, &labels, count, with);
    }
    let labels = [("route", "/cart")];
    sink.sample("http_request_duration_seconds_sum", &labels, 4.75, None);
    sink.sample("http_request_duration_seconds_count", &labels, 30.0, None);

    sink.family(&family(
        "rpc_latency_seconds",
        MetricKind::Summary,
        "seconds",
        "RPC latency.",
    ));
    for (quantile, value) in [("0.5", 0.01), ("0.99", 0.2)] {
        sink.sample(
            "rpc_latency_seconds",
            &[("quantile", quantile)],
            value,
            None,
        );
    }
    sink.sample("rpc_latency_seconds_sum", &[], 12.0, None);
    sink.sample("rpc_latency_seconds_count", &[], 400.0, None);

    sink.family(&family("build", MetricKind::Info, "", "Build information."));
    sink.sample("build_info", &[("version", "1.4.2")], 1.0, None);
}

fn now_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.expect("clock").as_millis() as i64
}

#[test]
fn promtool_check_metrics_accepts_text_0_0_4() {
    let mut renderer = TextRenderer::new();
    feed(&mut renderer, now_ms());
    let (text, _, _) = renderer.finish();

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &text).expect("write");
    let output = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).expect("open"))
        .output()
        .expect("run promtool");
    assert!(
        output.status.success(),
        "promtool check metrics exited {:?}:\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&text)
    );
}

#[test]
fn promtool_imports_openmetrics_with_timestamps_into_blocks() {
    // Import needs timestamps, which scrapes never carry; this rendering adds them, and
    // `_created` too, to cover that switch.
    let now = now_ms();
    let options = OpenMetricsOptions {
        exemplars: true,
        created_ms: Some(now - 3_600_000),
        timestamp_ms: Some(now - 60_000),
    };
    let mut renderer = OpenMetricsRenderer::new(options);
    feed(&mut renderer, now);
    let (text, _, _) = renderer.finish();

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("metrics.om");
    std::fs::write(&file, &text).expect("write");
    let blocks = dir.path().join("blocks");
    let output = Command::new(promtool())
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(&blocks)
        .output()
        .expect("run promtool");
    let report = format!(
        "exit {:?}:\n{}\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&text)
    );
    assert!(output.status.success(), "{report}");
    let created = std::fs::read_dir(&blocks).map(|d| d.count()).unwrap_or(0);
    assert!(created > 0, "no block written: {report}");

    // The same rendering without `# EOF` must be refused: the check can fail.
    let cut = &text[..text.len() - "# EOF\n".len()];
    std::fs::write(&file, cut).expect("write");
    let refused = Command::new(promtool())
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(dir.path().join("refused"))
        .output()
        .expect("run promtool");
    assert!(
        !refused.status.success(),
        "an exposition without # EOF was imported"
    );
}

/// One sample line of text 0.0.4, read back: name, labels (unescaped) and value text.
type Parsed = (String, Vec<(String, String)>, String);

/// A deliberately small, independent reader of text-format sample lines.
fn parse_sample_line(line: &str) -> Result<Parsed, String> {
    let name_end = line.find(['{', ' ']).ok_or("no name end")?;
    let name = line[..name_end].to_string();
    let mut rest = line[name_end..].chars().peekable();
    let mut labels = Vec::new();
    if rest.peek() == Some(&'{') {
        rest.next();
        loop {
            if rest.peek() == Some(&'}') {
                rest.next();
                break;
            }
            let label: String = rest.by_ref().take_while(|c| *c != '=').collect();
            if rest.next() != Some('"') {
                return Err(format!("no quote after {label}="));
            }
            let mut value = String::new();
            loop {
                match rest.next().ok_or("unterminated value")? {
                    '"' => break,
                    '\\' => match rest.next().ok_or("dangling escape")? {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => return Err(format!("bad escape \\{other}")),
                    },
                    '\n' => return Err("raw newline in a value".into()),
                    other => value.push(other),
                }
            }
            labels.push((label, value));
            match rest.next() {
                Some(',') => continue,
                Some('}') => break,
                other => return Err(format!("unexpected {other:?} after a value")),
            }
        }
    }
    let tail: String = rest.collect();
    let value = tail.strip_prefix(' ').ok_or("no space before the value")?;
    if value.contains(' ') {
        return Err(format!("more than a value: {value:?}"));
    }
    Ok((name, labels, value.to_string()))
}

proptest! {
    #[test]
    fn text_label_values_read_back_unchanged(
        values in proptest::collection::vec("\\PC*|[\\\\\"\\n a-z]{0,12}", 1..4),
        value in proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
    ) {
        let names = ["a", "b", "c", "d"];
        let labels: Vec<(&str, &str)> =
            names.iter().copied().zip(values.iter().map(String::as_str)).collect();
        let mut renderer = TextRenderer::new();
        renderer.family(&family("probe", MetricKind::Gauge, "", "Probe."));
        renderer.sample("probe", &labels, value, None);
        let (text, _, samples) = renderer.finish();
        prop_assert_eq!(samples, 1);
        let text = String::from_utf8(text).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        prop_assert_eq!(lines.len(), 3, "{}", text);
        let (name, parsed, rendered) = parse_sample_line(lines[2]).map_err(|e| {
            TestCaseError::fail(format!("{e}: {:?}", lines[2]))
        })?;
        prop_assert_eq!(name, "probe");
        let expected: Vec<(String, String)> =
            labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        prop_assert_eq!(parsed, expected);
        prop_assert_eq!(rendered.parse::<f64>().ok(), Some(value));
    }
}
