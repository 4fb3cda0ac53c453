//! The `synthtel` binary run as a user runs it: a configuration file, `synthtel run`, readiness
//! polled on the admin API, killed on drop.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, http_get};

/// A running daemon.
pub struct Daemon {
    child: Child,
    /// The admin API port.
    pub admin: u16,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Writes `config` (an `[admin]` table is added) and starts the daemon on it.
    pub fn start(config: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let admin = free_port();
        let path = dir.path().join("synthtel.toml");
        let mut file = std::fs::File::create(&path).expect("config");
        writeln!(file, "[admin]\nlisten = \"127.0.0.1:{admin}\"\n{config}").expect("write");
        let child = Command::new(env!("CARGO_BIN_EXE_synthtel"))
            .arg("run")
            .arg("--config")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn synthtel");
        let daemon = Daemon {
            child,
            admin,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(admin, "/readyz") {
                return daemon;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("synthtel never became ready");
    }

    /// `GET /api/v1/pipelines` as JSON.
    pub fn pipelines(&self) -> serde_json::Value {
        let (_, body) = http_get(self.admin, "/api/v1/pipelines").expect("pipelines");
        serde_json::from_slice(&body).expect("json")
    }

    /// The totals of one component.
    pub fn totals(&self, id: &str) -> serde_json::Value {
        self.pipelines()["components"]
            .as_array()
            .expect("components")
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["totals"].clone())
            .unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
