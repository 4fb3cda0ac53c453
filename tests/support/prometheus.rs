//! A real Prometheus (Debian package `prometheus`) started by a test on loopback, with a fresh
//! data directory, and queried back with PromQL.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, http_get, url_encode};

/// A running Prometheus; killed when dropped.
pub struct Prometheus {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    child: Child,
    /// Holds the configuration and the data directory.
    pub dir: tempfile::TempDir,
}

/// The Prometheus binary, or a loud failure that says how to install it.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("PROMETHEUS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
    assert!(
        path.exists(),
        "Prometheus is not installed ({}): run `make test-deps` (apt-get install prometheus)",
        path.display()
    );
    path
}

impl Prometheus {
    /// Starts Prometheus with `scrape_config_yaml` (the `scrape_configs:` body, may be empty),
    /// the remote-write receiver and exemplar storage on, and waits until it is ready.
    pub fn start(scrape_configs_yaml: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        let body = if scrape_configs_yaml.trim().is_empty() {
            "global:\n  scrape_interval: 15s\n".to_string()
        } else {
            format!(
                "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\nscrape_configs:\n{scrape_configs_yaml}"
            )
        };
        std::fs::write(&config, body).expect("write config");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new(binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--enable-feature=exemplar-storage")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(port, "/-/ready") {
                return prometheus;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Prometheus did not become ready:\n{}", prometheus.log());
    }

    /// Prometheus's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GET an API path and parse the JSON answer.
    pub fn api(&self, path_and_query: &str) -> serde_json::Value {
        let (status, body) = http_get(self.port, path_and_query).expect("prometheus answers");
        let value: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("{status}: {}", String::from_utf8_lossy(&body)));
        assert_eq!(value["status"], "success", "{path_and_query}: {value}");
        value
    }

    /// An instant query; returns `data.result`.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let value = self.api(&format!("/api/v1/query?query={}", url_encode(promql)));
        value["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// An instant query evaluated at Unix second `time`.
    pub fn query_at(&self, promql: &str, time: f64) -> Vec<serde_json::Value> {
        let path = format!("/api/v1/query?query={}&time={time}", url_encode(promql));
        self.api(&path)["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The single scalar value of an instant query, if there is exactly one series.
    pub fn value(&self, promql: &str) -> Option<f64> {
        let result = self.query(promql);
        if result.len() != 1 {
            return None;
        }
        result[0]["value"][1].as_str()?.parse().ok()
    }

    /// Polls `promql` until `accept` holds for its result or `timeout` passes.
    pub fn wait_for(
        &self,
        promql: &str,
        timeout: Duration,
        accept: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let result = self.query(promql);
            if accept(&result) {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {promql}; last result: {result:?}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Active scrape targets (`/api/v1/targets?state=active`).
    pub fn active_targets(&self) -> Vec<serde_json::Value> {
        let value = self.api("/api/v1/targets?state=active");
        value["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
