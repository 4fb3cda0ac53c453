//! A real OpenTelemetry collector for end-to-end tests: rotel (PyPI `rotel`, pre-release),
//! started on free loopback ports with a blackhole exporter and detailed debug logs, so that
//! every record it decodes is printed on its standard output.
//!
//! rotel does not print request headers or gRPC metadata, so tenant headers are checked with
//! fake receivers instead.

use std::io::Read as _;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::free_port;

/// How to install rotel when it is missing.
pub const INSTALL: &str = "pip install --pre rotel";

/// A running rotel; killed on drop.
pub struct Rotel {
    child: Child,
    /// Port of the OTLP/gRPC receiver on 127.0.0.1.
    pub grpc_port: u16,
    /// Port of the OTLP/HTTP receiver on 127.0.0.1.
    pub http_port: u16,
    output: Arc<Mutex<Vec<u8>>>,
}

/// The `rotel-agent` binary inside the Python package; panics with the install command when
/// the package is missing.
pub fn binary() -> PathBuf {
    let output = Command::new("python3")
        .args([
            "-c",
            "import rotel, os; print(os.path.dirname(rotel.__file__))",
        ])
        .output();
    let dir = match output {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        }
        _ => panic!("rotel is not installed; install it with `{INSTALL}`"),
    };
    let path = PathBuf::from(dir).join("rotel-agent");
    assert!(
        path.exists(),
        "{} is missing; reinstall with `{INSTALL}`",
        path.display()
    );
    path
}

impl Rotel {
    /// Starts rotel and waits until both receivers accept connections.
    pub fn start() -> Rotel {
        let grpc_port = free_port();
        let http_port = free_port();
        let mut child = Command::new(binary())
            .arg("start")
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc_port}")])
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
            .args(["--exporter", "blackhole"])
            .args(["--debug-log", "traces", "--debug-log", "metrics"])
            .args(["--debug-log", "logs", "--debug-log-verbosity", "detailed"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start rotel-agent ({INSTALL}): {error}"));
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 8192];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    output.lock().expect("lock").extend_from_slice(&buffer[..n]);
                }
            });
        }
        let rotel = Rotel {
            child,
            grpc_port,
            http_port,
            output,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        for port in [grpc_port, http_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "rotel did not listen on {port}: {}",
                    rotel.output()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        rotel
    }

    /// Everything rotel printed so far, without ANSI colours.
    pub fn output(&self) -> String {
        let raw = self.output.lock().expect("lock").clone();
        strip_ansi(&String::from_utf8_lossy(&raw))
    }

    /// Waits up to `timeout` until every needle appears in the output; returns the output.
    pub fn wait_for(&self, needles: &[&str], timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let output = self.output();
            if needles.iter().all(|needle| output.contains(needle)) {
                return output;
            }
            if Instant::now() >= deadline {
                let missing: Vec<&&str> =
                    needles.iter().filter(|n| !output.contains(**n)).collect();
                panic!("rotel never printed {missing:?}; it printed:\n{output}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes ANSI escape sequences (`ESC [ … letter`).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}
