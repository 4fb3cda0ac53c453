//! Configuration: one TOML file, validated completely before anything starts.
//!
//! Loading runs in passes that each collect every problem they find: environment expansion, TOML
//! syntax, the shape of each section and component (unknown keys are errors), each component's
//! own checks, and the references between pipelines and components. Every problem carries the
//! component id, the key and the line:column it points at.

pub mod de;
mod env;
mod load;
mod problem;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::de::DeTable;

pub use problem::Problem;

use load::Loader;

use crate::exporters::ExporterConfig;
use crate::model::Signal;
use crate::processors::ProcessorConfig;
use crate::sources::SourceConfig;

/// The configuration the binary runs when no file is given.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");

/// A fully validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Master seed; every random value derives from it.
    pub seed: u64,
    /// The admin API.
    pub admin: AdminConfig,
    /// Runtime settings.
    pub runtime: RuntimeConfig,
    /// Tenant profiles by id.
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Sources by id.
    pub sources: BTreeMap<String, SourceConfig>,
    /// Processors by id.
    pub processors: BTreeMap<String, ProcessorConfig>,
    /// Exporters by id.
    pub exporters: BTreeMap<String, ExporterConfig>,
    /// Pipelines by id (`logs`, `logs/noise`, …).
    pub pipelines: BTreeMap<String, PipelineConfig>,
    /// Hash of the expanded configuration text, in hex; recorded in ground truth.
    pub hash: String,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8686))
}

fn default_max_body_bytes() -> u64 {
    1 << 20
}

/// `[admin]`: the HTTP API.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address to bind; loopback by default.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// When set, every endpoint but `/healthz` requires `Authorization: Bearer <token>`.
    #[serde(default)]
    pub token: Option<String>,
    /// Largest request body accepted, in bytes or with a unit (`"1MiB"`).
    #[serde(default = "default_max_body_bytes", deserialize_with = "de::byte_size")]
    pub max_body_bytes: u64,
    /// Bursts running at once, at most; more are refused with 429.
    #[serde(default = "default_max_concurrent_bursts")]
    pub max_concurrent_bursts: usize,
    /// Records of own volume one burst may ask for.
    #[serde(default = "default_max_burst_records")]
    pub max_burst_records: u64,
    /// Highest own-volume rate of a burst, records per second.
    #[serde(default = "default_max_burst_rate")]
    pub max_burst_rate: f64,
    /// Longest burst.
    #[serde(
        default = "default_max_burst_duration",
        deserialize_with = "de::duration"
    )]
    pub max_burst_duration: Duration,
}

fn default_max_concurrent_bursts() -> usize {
    8
}

fn default_max_burst_records() -> u64 {
    100_000_000
}

fn default_max_burst_rate() -> f64 {
    1_000_000.0
}

fn default_max_burst_duration() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: default_listen(),
            token: None,
            max_body_bytes: default_max_body_bytes(),
            max_concurrent_bursts: default_max_concurrent_bursts(),
            max_burst_records: default_max_burst_records(),
            max_burst_rate: default_max_burst_rate(),
            max_burst_duration: default_max_burst_duration(),
        }
    }
}

fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}

/// `[runtime]`: how the daemon runs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// How long SIGTERM/SIGINT waits for queues to flush before dropping what is left.
    #[serde(
        default = "default_shutdown_timeout",
        deserialize_with = "de::duration"
    )]
    pub shutdown_timeout: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            shutdown_timeout: default_shutdown_timeout(),
        }
    }
}

fn default_model() -> String {
    "webshop".to_string()
}

fn default_scale() -> f64 {
    1.0
}

/// `[tenants.<id>]`: a tenant profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The world model the tenant's simulation uses.
    #[serde(default = "default_model")]
    pub model: String,
    /// Volume multiplier applied to every source's rate for this tenant.
    #[serde(default = "default_scale")]
    pub scale: f64,
}

impl Default for TenantConfig {
    fn default() -> Self {
        TenantConfig {
            model: default_model(),
            scale: default_scale(),
        }
    }
}

/// `[pipelines.<id>]`: sources → processors → exporters for one signal.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Source ids feeding the pipeline.
    pub sources: Vec<String>,
    /// Processor ids, applied in order.
    #[serde(default)]
    pub processors: Vec<String>,
    /// Exporter ids receiving every batch.
    pub exporters: Vec<String>,
}

impl Config {
    /// A short hash of the whole configuration, for manifests: the same file gives the same hash.
    pub fn hash(&self) -> String {
        let text = format!("{self:?}");
        let mut hash = 0x5eed_u64;
        for chunk in text.as_bytes().chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            hash = crate::random::mix64(hash ^ u64::from_le_bytes(word));
        }
        format!("{hash:016x}")
    }

    /// The signal a pipeline id names: the part before any `/` (`logs/noise` → logs).
    pub fn pipeline_signal(id: &str) -> Option<Signal> {
        Signal::parse(id.split('/').next().unwrap_or(id))
    }

    /// Loads and validates a file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            origin: origin.clone(),
            diagnostics: vec![Diagnostic::plain(format!("cannot read the file: {error}"))],
        })?;
        Config::from_str_with_env(&text, &origin, |name| std::env::var(name).ok())
    }

    /// The embedded default configuration.
    pub fn default_config() -> Result<Config, ConfigError> {
        Config::from_str_with_env(DEFAULT_CONFIG, "<embedded default>", |name| {
            std::env::var(name).ok()
        })
    }

    /// Loads and validates `text`; `origin` names it in messages; `lookup` reads variables.
    pub fn from_str_with_env(
        text: &str,
        origin: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let fail = |diagnostics| ConfigError {
            origin: origin.to_string(),
            diagnostics,
        };
        let expanded = env::expand(text, lookup).map_err(|errors| {
            fail(
                errors
                    .into_iter()
                    .map(|e| Diagnostic::at(text, Some(e.offset), None, e.message))
                    .collect(),
            )
        })?;
        let (root, syntax_errors) = DeTable::parse_recoverable(&expanded);
        if !syntax_errors.is_empty() {
            return Err(fail(
                syntax_errors
                    .iter()
                    .map(|e| {
                        Diagnostic::at(
                            &expanded,
                            e.span().map(|s| s.start),
                            None,
                            e.message().into(),
                        )
                    })
                    .collect(),
            ));
        }
        let mut loader = Loader {
            text: &expanded,
            diagnostics: Vec::new(),
            spans: BTreeMap::new(),
            broken: BTreeSet::new(),
        };
        let config = loader.load(root.into_inner());
        match config {
            Some(mut config) if loader.diagnostics.is_empty() => {
                config.hash = format!(
                    "{:016x}",
                    crate::random::Key::new(0).with(&expanded).value()
                );
                Ok(config)
            }
            _ => {
                loader
                    .diagnostics
                    .sort_by_key(|d| (d.line.unwrap_or(0), d.column.unwrap_or(0)));
                Err(fail(loader.diagnostics))
            }
        }
    }
}

/// One problem, with its position when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column, in characters.
    pub column: Option<usize>,
    /// Where in the configuration: `sources.shop.lines_per_second`.
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    fn plain(message: String) -> Self {
        Diagnostic {
            line: None,
            column: None,
            path: None,
            message,
        }
    }

    fn at(text: &str, offset: Option<usize>, path: Option<String>, message: String) -> Self {
        let (line, column) = match offset {
            Some(offset) => {
                let (line, column) = line_column(text, offset);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        Diagnostic {
            line,
            column,
            path,
            message,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, "{line}:{column}: ")?;
        }
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem of a configuration.
#[derive(Clone, Debug, thiserror::Error)]
pub struct ConfigError {
    /// The file (or `<embedded default>`).
    pub origin: String,
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.diagnostics.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "{} has {count} configuration {noun}:", self.origin)?;
        for diagnostic in &self.diagnostics {
            write!(f, "\n  {}:{diagnostic}", self.origin)?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Checks a tenant id against the rules shared by Loki, Mimir and Tempo.
pub fn validate_tenant_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 150 {
        return Err(format!("tenant id {id:?} must be 1 to 150 bytes long"));
    }
    if id == "." || id == ".." {
        return Err(format!("tenant id {id:?} is reserved"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c);
    if let Some(bad) = id.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "tenant id {id:?} holds {bad:?}; allowed are ASCII letters, digits and ! - _ . * ' ( )"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
