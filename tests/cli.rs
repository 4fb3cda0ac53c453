//! The command line as a user drives it: `validate`, `generate` and `run`.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn synthtel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synthtel"))
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

#[test]
fn validate_accepts_every_example_and_the_default() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_file("config/examples"))
        .expect("config/examples")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.push(repo_file("config/default.toml"));
    assert!(files.len() >= 2, "no example configurations found");
    for file in files {
        let output = synthtel()
            .arg("validate")
            .arg("--config")
            .arg(&file)
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "{} is invalid:\n{}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn validate_lists_every_problem_with_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "seed = \"forty-two\"\n\n[tenants.acme]\n\n[sources.s]\ntype = \"logs\"\ndialect = \"json\"\n\
         rate = 5\n\n[exporters.e]\ntype = \"stdout\"\n\n[pipelines.logs]\nsources = [\"s\", \"t\"]\n\
         exporters = [\"e\"]\n",
    )
    .expect("write");
    let output = synthtel()
        .arg("validate")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("3 configuration problems"), "{stderr}");
    assert!(stderr.contains("broken.toml:1:8: seed:"), "{stderr}");
    assert!(
        stderr.contains("broken.toml:8:1: sources.s: unknown field `rate`"),
        "{stderr}"
    );
    assert!(stderr.contains(":14:"), "{stderr}");
    assert!(stderr.contains("no source with id \"t\""), "{stderr}");
}

#[test]
fn validate_reports_a_missing_file() {
    let output = synthtel()
        .args(["validate", "--config", "/nonexistent/synthtel.toml"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read the file"));
}

fn generate(args: &[&str]) -> Vec<u8> {
    let output = synthtel().arg("generate").args(args).output().expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn generate_is_byte_identical_for_the_same_arguments() {
    let args = [
        "--signal",
        "logs",
        "--dialect",
        "json",
        "--count",
        "2000",
        "--seed",
        "7",
    ];
    let first = generate(&args);
    assert_eq!(first, generate(&args));
    assert_eq!(first.iter().filter(|b| **b == b'\n').count(), 2000);
    let other_seed = generate(&[
        "--signal",
        "logs",
        "--dialect",
        "json",
        "--count",
        "2000",
        "--seed",
        "8",
    ]);
    assert_ne!(first, other_seed);
}

#[test]
fn generate_writes_a_file_and_honours_a_time_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.ndjson");
    let output = synthtel()
        .args([
            "generate", "--signal", "logs", "--format", "ndjson", "--rate", "50",
        ])
        .args([
            "--from",
            "2025-03-01T00:00:00Z",
            "--to",
            "2025-03-01T00:01:00Z",
            "--output",
        ])
        .arg(&path)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&path).expect("output file");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect();
    assert_eq!(lines.len(), 3000, "50 lines/s for 60 s");
    for line in &lines {
        let ts = line["timestamp"].as_str().expect("timestamp");
        assert!(ts.starts_with("2025-03-01T00:00:"), "{ts}");
    }
}

#[test]
fn generate_rejects_bad_arguments() {
    for args in [
        vec!["--signal", "logs", "--dialect", "klingon"],
        vec!["--signal", "logs", "--format", "mp3"],
        vec!["--signal", "logs", "--from", "yesterday"],
        vec![
            "--signal",
            "logs",
            "--from",
            "2025-01-02T00:00:00Z",
            "--to",
            "2025-01-01T00:00:00Z",
        ],
    ] {
        let output = synthtel()
            .arg("generate")
            .args(&args)
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).starts_with("error: "),
            "{args:?}"
        );
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Write as _;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())?;
    Some((status, body))
}

#[test]
fn run_serves_the_default_configuration_and_stops_on_sigterm() {
    let port = free_port();
    let child = synthtel()
        .arg("run")
        .env("SYNTHTEL_ADMIN_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "SYNTHTEL_SCRAPE_LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut daemon = Daemon(child);
    let started = Instant::now();
    loop {
        if let Some((200, _)) = get(port, "/readyz") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (status, body) = get(
        port,
        "/api/v1/preview?dialect=apache_combined&n=5&format=lines",
    )
    .expect("preview");
    assert_eq!(status, 200, "{body}");

    std::thread::sleep(Duration::from_millis(1500));
    let pid = daemon.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = daemon.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "daemon did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let mut stdout = String::new();
    daemon
        .0
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read");
    assert!(
        stdout.lines().count() >= 5,
        "the default config writes lines to stdout:\n{stdout}"
    );
    let mut stderr = String::new();
    daemon
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert!(stderr.contains("synthtel started."), "{stderr}");
    assert!(stderr.contains("Exporter stopped."), "{stderr}");
}

#[test]
fn run_refuses_a_broken_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[sources.x]\ntype = \"nope\"\n").expect("write");
    let output = synthtel()
        .arg("run")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown type \"nope\""));
}

#[test]
fn generate_loki_protobuf_decodes_with_an_independent_decoder() {
    use loki_api::prost::Message as _;

    let common = [
        "--signal",
        "logs",
        "--dialect",
        "logfmt",
        "--count",
        "30000",
        "--rate",
        "2000",
    ];
    let lines = generate(&common);
    let mut args = common.to_vec();
    args.extend(["--format", "loki-protobuf"]);
    let framed = generate(&args);

    let mut rest = framed.as_slice();
    let mut decoded_lines = Vec::new();
    let mut bodies = 0;
    while !rest.is_empty() {
        let length = loki_api::prost::encoding::decode_varint(&mut rest).expect("varint") as usize;
        let (body, tail) = rest.split_at(length);
        rest = tail;
        bodies += 1;
        let raw = snap::raw::Decoder::new()
            .decompress_vec(body)
            .expect("snappy block");
        let request = loki_api::logproto::PushRequest::decode(raw.as_slice()).expect("push");
        for stream in request.streams {
            assert!(stream.labels.starts_with('{') && stream.labels.contains("service_name=\""));
            let mut previous = i64::MIN;
            for entry in stream.entries {
                let ts = entry.timestamp.expect("timestamp");
                let ns = ts.seconds * 1_000_000_000 + i64::from(ts.nanos);
                assert!(ns >= previous, "entries ordered per stream");
                previous = ns;
                decoded_lines.push(entry.line);
            }
        }
    }
    assert!(
        bodies >= 2,
        "30000 lines make several push bodies of about 1 MiB, got {bodies}"
    );
    let mut expected: Vec<String> = String::from_utf8(lines)
        .expect("utf-8")
        .lines()
        .map(str::to_string)
        .collect();
    expected.sort();
    decoded_lines.sort();
    assert_eq!(decoded_lines, expected, "the same lines as --format lines");
}

#[test]
fn generate_loki_json_bodies_are_valid_push_requests() {
    let body = generate(&[
        "--signal",
        "logs",
        "--dialect",
        "json",
        "--count",
        "500",
        "--format",
        "loki-json",
    ]);
    let text = String::from_utf8(body).expect("utf-8");
    let mut count = 0;
    for line in text.lines() {
        let push: serde_json::Value = serde_json::from_str(line).expect("json");
        for stream in push["streams"].as_array().expect("streams") {
            assert!(stream["stream"]["service_name"].is_string());
            for value in stream["values"].as_array().expect("values") {
                assert!(
                    value[0]
                        .as_str()
                        .expect("string timestamp")
                        .parse::<i64>()
                        .is_ok()
                );
                count += 1;
            }
        }
    }
    assert_eq!(count, 500);
}
