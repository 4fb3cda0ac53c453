//! `synthtel generate --signal metrics` as a user runs it for backfill: OpenMetrics that
//! `promtool tsdb create-blocks-from openmetrics` accepts, text that `promtool check metrics`
//! accepts, and remote-write bodies that a real Prometheus ingests.

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use support::prometheus::Prometheus;

fn generate(args: &[&str]) -> Vec<u8> {
    let output = Command::new(env!("CARGO_BIN_EXE_synthtel"))
        .args(["generate", "--signal", "metrics"])
        .args(args)
        .output()
        .expect("run synthtel");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn openmetrics_output_backfills_with_promtool() {
    let text = generate(&[
        "--format",
        "openmetrics",
        "--from",
        "now-2h",
        "--to",
        "now-1h",
    ]);
    assert!(text.ends_with(b"# EOF\n"));
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("backfill.om");
    std::fs::write(&input, &text).expect("write");
    let output = Command::new("/usr/bin/promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(dir.path().join("blocks"))
        .output()
        .expect("promtool is installed (make test-deps)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("BLOCK ULID"), "{stdout}");
}

#[test]
fn prometheus_text_output_is_clean_and_deterministic() {
    let args = [
        "--count",
        "5000",
        "--seed",
        "3",
        "--from",
        "2025-06-01T00:00:00Z",
    ];
    let text = generate(&args);
    assert_eq!(text, generate(&args), "same seed and arguments, same bytes");
    let samples = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty() && l[0] != b'#')
        .count();
    assert_eq!(samples, 5000);
    let mut child = Command::new("/usr/bin/promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (make test-deps)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&text)
        .expect("write");
    let output = child.wait_with_output().expect("promtool");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// POSTs one remote-write body (HTTP/1.0, so the answer is not chunked).
fn post(port: u16, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let head = format!(
        "POST /api/v1/write HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n\
         Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(body).expect("body");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn remote_write_bodies_are_ingested_by_a_real_prometheus() {
    let framed = generate(&[
        "--format",
        "remote-write-protobuf",
        "--from",
        "now-10m",
        "--to",
        "now-1m",
    ]);
    let prometheus = Prometheus::start("");
    let mut rest = framed.as_slice();
    let mut bodies = 0;
    while !rest.is_empty() {
        let length = prost_varint(&mut rest);
        let (body, tail) = rest.split_at(length);
        rest = tail;
        assert_eq!(post(prometheus.port, body), 204, "{}", prometheus.log());
        bodies += 1;
    }
    assert_eq!(bodies, 36, "one body per 15 s step over 9 minutes");
    let series = prometheus
        .query("count(process_start_time_seconds{tenant!=\"\"} or process_start_time_seconds)");
    assert!(!series.is_empty());
    let rates = prometheus.query("rate(http_requests_total[2m]) < 0");
    assert!(rates.is_empty(), "{rates:?}");
    let p99 = prometheus.value(
        "histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket[5m])))",
    );
    assert!(p99.is_some_and(|v| v > 0.005 && v <= 10.0), "{p99:?}");
}

fn prost_varint(bytes: &mut &[u8]) -> usize {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return value;
        }
    }
    panic!("truncated varint");
}
