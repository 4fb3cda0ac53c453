//! synthtel's own logs: `tracing` to standard error, as text for people or JSON for machines.
//!
//! Convention: fields first, then a capitalized sentence ending in a period, e.g.
//! `info!(tenant, burst_id, "Burst started.")`. error: data lost or operator action needed; warn:
//! recovered; info: lifecycle; debug: per batch; trace: per record. `RUST_LOG` filters.

use tracing_subscriber::EnvFilter;

/// How synthtel's own log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber; `default_level` applies when `RUST_LOG` is unset.
pub fn init(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second initialisation (tests, library use) keeps the first subscriber.
    drop(result);
}
