//! Configuration: one TOML file, validated completely before anything starts.
//!
//! Loading runs in passes that each collect every problem they find: environment expansion, TOML
//! syntax, the shape of each section and component (unknown keys are errors), each component's
//! own checks, and the references between pipelines and components. Every problem carries the
//! component id, the key and the line:column it points at.

pub mod de;
mod env;
mod problem;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

pub use problem::Problem;

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

type Table<'i> = DeTable<'i>;

struct Loader<'t> {
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
    /// Key offsets of every component and pipeline, by `section.id`.
    spans: BTreeMap<String, KeySpans>,
    /// Components that exist but could not be parsed (`sources.id`); references to them are
    /// not reported again as missing.
    broken: BTreeSet<String>,
}

const SECTIONS: &[&str] = &[
    "seed",
    "admin",
    "runtime",
    "tenants",
    "sources",
    "processors",
    "exporters",
    "pipelines",
];

impl<'t> Loader<'t> {
    fn report(&mut self, offset: Option<usize>, path: &str, message: impl Into<String>) {
        let path = (!path.is_empty()).then(|| path.to_string());
        self.diagnostics
            .push(Diagnostic::at(self.text, offset, path, message.into()));
    }

    fn report_toml(&mut self, path: &str, fallback: usize, error: &toml::de::Error) {
        let offset = error.span().map_or(fallback, |span| span.start);
        self.report(Some(offset), path, error.message().to_string());
    }

    fn load(&mut self, root: Table<'t>) -> Option<Config> {
        let mut config = Config {
            seed: 0,
            admin: AdminConfig::default(),
            runtime: RuntimeConfig::default(),
            tenants: BTreeMap::new(),
            sources: BTreeMap::new(),
            processors: BTreeMap::new(),
            exporters: BTreeMap::new(),
            pipelines: BTreeMap::new(),
            hash: String::new(),
        };
        for (key, value) in root {
            let name = key.get_ref().to_string();
            let start = key.span().start;
            match name.as_str() {
                "seed" => config.seed = self.typed(&name, value).unwrap_or(0),
                "admin" => config.admin = self.typed(&name, value).unwrap_or_default(),
                "runtime" => config.runtime = self.typed(&name, value).unwrap_or_default(),
                "tenants" => config.tenants = self.tenants(value),
                "sources" => {
                    config.sources = self.components(&name, value, SourceConfig::TYPES, |t, d| {
                        SourceConfig::parse(t, d)
                    })
                }
                "processors" => {
                    config.processors =
                        self.components(&name, value, ProcessorConfig::TYPES, |t, d| {
                            ProcessorConfig::parse(t, d)
                        })
                }
                "exporters" => {
                    config.exporters =
                        self.components(&name, value, ExporterConfig::TYPES, |t, d| {
                            ExporterConfig::parse(t, d)
                        })
                }
                "pipelines" => config.pipelines = self.pipelines(value),
                other => self.report(
                    Some(start),
                    other,
                    format!(
                        "unknown key {other:?}, expected one of {}",
                        SECTIONS.join(", ")
                    ),
                ),
            }
        }
        self.check_components(&config);
        self.check_references(&config);
        Some(config)
    }

    fn typed<T: for<'de> Deserialize<'de>>(
        &mut self,
        path: &str,
        value: Spanned<DeValue<'t>>,
    ) -> Option<T> {
        let start = value.span().start;
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(typed) => Some(typed),
            Err(error) => {
                self.report_toml(path, start, &error);
                None
            }
        }
    }

    fn table(&mut self, path: &str, value: Spanned<DeValue<'t>>) -> Option<(usize, Table<'t>)> {
        let start = value.span().start;
        match value.into_inner() {
            DeValue::Table(table) => Some((start, table)),
            other => {
                self.report(
                    Some(start),
                    path,
                    format!("expected a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn tenants(&mut self, value: Spanned<DeValue<'t>>) -> BTreeMap<String, TenantConfig> {
        let mut tenants = BTreeMap::new();
        let Some((_, table)) = self.table("tenants", value) else {
            return tenants;
        };
        for (key, value) in table {
            let id = key.get_ref().to_string();
            let path = format!("tenants.{id}");
            if let Err(message) = validate_tenant_id(&id) {
                self.report(Some(key.span().start), &path, message);
            }
            if let Some(tenant) = self.typed::<TenantConfig>(&path, value) {
                if !(tenant.scale.is_finite() && tenant.scale >= 0.0) {
                    self.report(
                        Some(key.span().start),
                        &format!("{path}.scale"),
                        format!("must be a non-negative number, got {}", tenant.scale),
                    );
                }
                tenants.insert(id, tenant);
            }
        }
        tenants
    }

    fn components<C>(
        &mut self,
        section: &str,
        value: Spanned<DeValue<'t>>,
        types: &[&str],
        parse: impl Fn(&str, ValueDeserializer<'t>) -> Option<Result<C, toml::de::Error>>,
    ) -> BTreeMap<String, C> {
        let mut components = BTreeMap::new();
        let Some((_, table)) = self.table(section, value) else {
            return components;
        };
        for (key, value) in table {
            let id = key.get_ref().to_string();
            let path = format!("{section}.{id}");
            if let Err(message) = validate_component_id(&id) {
                self.report(Some(key.span().start), &path, message);
            }
            self.broken.insert(path.clone());
            let Some((start, mut table)) = self.table(&path, value) else {
                continue;
            };
            let spans = KeySpans::of(&table, start);
            let type_name = match take_type(&mut table) {
                Some(Ok(type_name)) => type_name,
                Some(Err(offset)) => {
                    self.report(Some(offset), &format!("{path}.type"), "must be a string");
                    continue;
                }
                None => {
                    self.report(
                        Some(start),
                        &path,
                        format!("missing key \"type\", expected one of {}", types.join(", ")),
                    );
                    continue;
                }
            };
            let end = self.text.len();
            let deserializer =
                ValueDeserializer::from(Spanned::new(start..end, DeValue::Table(table)));
            let type_offset = spans.get("type");
            self.spans.insert(path.clone(), spans);
            match parse(&type_name, deserializer) {
                None => self.report(
                    type_offset,
                    &format!("{path}.type"),
                    format!(
                        "unknown type {type_name:?}, expected one of {}",
                        types.join(", ")
                    ),
                ),
                Some(Err(error)) => self.report_toml(&path, start, &error),
                Some(Ok(component)) => {
                    self.broken.remove(&path);
                    components.insert(id, component);
                }
            }
        }
        components
    }

    fn pipelines(&mut self, value: Spanned<DeValue<'t>>) -> BTreeMap<String, PipelineConfig> {
        let mut pipelines = BTreeMap::new();
        let Some((_, table)) = self.table("pipelines", value) else {
            return pipelines;
        };
        for (key, value) in table {
            let id = key.get_ref().to_string();
            let path = format!("pipelines.{id}");
            if Config::pipeline_signal(&id).is_none() {
                self.report(
                    Some(key.span().start),
                    &path,
                    "a pipeline id starts with its signal: logs, metrics or traces \
                     (e.g. \"logs\" or \"logs/noise\")",
                );
            }
            if let DeValue::Table(table) = value.get_ref() {
                self.spans
                    .insert(path.clone(), KeySpans::of(table, value.span().start));
            }
            if let Some(pipeline) = self.typed::<PipelineConfig>(&path, value) {
                pipelines.insert(id, pipeline);
            }
        }
        pipelines
    }

    /// Offset of `key` (dotted) in component `path`, else of the component itself.
    fn offset_of(&self, path: &str, key: &str) -> Option<usize> {
        let spans = self.spans.get(path)?;
        spans.get(key).or(Some(spans.start))
    }

    fn report_problem(&mut self, path: &str, problem: Problem) {
        let offset = self.offset_of(path, &problem.key);
        let full = if problem.key.is_empty() {
            path.to_string()
        } else {
            format!("{path}.{}", problem.key)
        };
        self.report(offset, &full, problem.message);
    }

    fn check_components(&mut self, config: &Config) {
        let mut problems = Vec::new();
        for (id, source) in &config.sources {
            let path = format!("sources.{id}");
            problems.extend(source.validate().into_iter().map(|p| (path.clone(), p)));
            for tenant in source.tenants().unwrap_or_default() {
                if !config.tenants.contains_key(tenant) {
                    problems.push((path.clone(), unknown_tenant(tenant, config)));
                }
            }
            if source.tenants().is_none() && config.tenants.is_empty() {
                problems.push((
                    path.clone(),
                    Problem::new("tenants", "no tenants: add a [tenants.<id>] table"),
                ));
            }
        }
        for (id, processor) in &config.processors {
            let path = format!("processors.{id}");
            problems.extend(processor.validate().into_iter().map(|p| (path.clone(), p)));
            for tenant in processor.tenants() {
                if !config.tenants.contains_key(tenant) {
                    problems.push((path.clone(), unknown_tenant(tenant, config)));
                }
            }
        }
        for (id, exporter) in &config.exporters {
            let path = format!("exporters.{id}");
            problems.extend(exporter.validate().into_iter().map(|p| (path.clone(), p)));
        }
        for (path, problem) in problems {
            self.report_problem(&path, problem);
        }
    }

    fn check_references(&mut self, config: &Config) {
        let mut problems = Vec::new();
        for (id, pipeline) in &config.pipelines {
            let path = format!("pipelines.{id}");
            let Some(signal) = Config::pipeline_signal(id) else {
                continue;
            };
            if pipeline.sources.is_empty() {
                problems.push((
                    path.clone(),
                    Problem::new("sources", "needs at least one source"),
                ));
            }
            if pipeline.exporters.is_empty() {
                problems.push((
                    path.clone(),
                    Problem::new("exporters", "needs at least one exporter"),
                ));
            }
            for source in &pipeline.sources {
                match config.sources.get(source) {
                    None if self.broken.contains(&format!("sources.{source}")) => {}
                    None => problems.push((
                        path.clone(),
                        missing("sources", source, config.sources.keys()),
                    )),
                    Some(found) if !found.signals().contains(&signal) => problems.push((
                        path.clone(),
                        Problem::new(
                            "sources",
                            format!(
                                "source {source:?} (type {}) does not emit {signal}",
                                found.type_name()
                            ),
                        ),
                    )),
                    Some(_) => {}
                }
            }
            for processor in &pipeline.processors {
                if !config.processors.contains_key(processor)
                    && !self.broken.contains(&format!("processors.{processor}"))
                {
                    problems.push((
                        path.clone(),
                        missing("processors", processor, config.processors.keys()),
                    ));
                }
            }
            let mut seen = BTreeSet::new();
            for exporter in &pipeline.exporters {
                if !seen.insert(exporter) {
                    problems.push((
                        path.clone(),
                        Problem::new(
                            "exporters",
                            format!("exporter {exporter:?} is listed twice"),
                        ),
                    ));
                }
                match config.exporters.get(exporter) {
                    None if self.broken.contains(&format!("exporters.{exporter}")) => {}
                    None => problems.push((
                        path.clone(),
                        missing("exporters", exporter, config.exporters.keys()),
                    )),
                    Some(found) if !found.signals().contains(&signal) => problems.push((
                        path.clone(),
                        Problem::new(
                            "exporters",
                            format!(
                                "exporter {exporter:?} (type {}) does not accept {signal}",
                                found.type_name()
                            ),
                        ),
                    )),
                    Some(_) => {}
                }
            }
        }
        for (path, problem) in problems {
            self.report_problem(&path, problem);
        }
    }
}

fn unknown_tenant(tenant: &str, config: &Config) -> Problem {
    let known: Vec<&str> = config.tenants.keys().map(String::as_str).collect();
    Problem::new(
        "tenants",
        format!(
            "unknown tenant {tenant:?} (configured: {})",
            list_or_none(&known)
        ),
    )
}

fn missing<'a>(key: &str, id: &str, known: impl Iterator<Item = &'a String>) -> Problem {
    let known: Vec<&str> = known.map(String::as_str).collect();
    let kind = key.trim_end_matches('s');
    Problem::new(
        key,
        format!(
            "no {kind} with id {id:?} (defined: {})",
            list_or_none(&known)
        ),
    )
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// Removes and returns the `type` key: `None` when absent, `Err(offset)` when not a string.
fn take_type(table: &mut Table<'_>) -> Option<Result<String, usize>> {
    let key = table.keys().find(|key| key.get_ref() == "type")?.clone();
    let value = table.remove(&key)?;
    match value.get_ref() {
        DeValue::String(text) => Some(Ok(text.to_string())),
        _ => Some(Err(value.span().start)),
    }
}

/// Byte offsets of the keys of a component table, by dotted path.
#[derive(Clone, Debug, Default)]
struct KeySpans {
    start: usize,
    keys: BTreeMap<String, usize>,
}

impl KeySpans {
    fn of(table: &Table<'_>, start: usize) -> Self {
        let mut spans = KeySpans {
            start,
            keys: BTreeMap::new(),
        };
        spans.walk(table, "");
        spans
    }

    fn walk(&mut self, table: &Table<'_>, prefix: &str) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.get_ref().to_string()
            } else {
                format!("{prefix}.{}", key.get_ref())
            };
            self.keys.insert(path.clone(), key.span().start);
            if let DeValue::Table(inner) = value.get_ref() {
                self.walk(inner, &path);
            }
        }
    }

    fn get(&self, key: &str) -> Option<usize> {
        self.keys.get(key).copied()
    }
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

fn validate_component_id(id: &str) -> Result<(), String> {
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "component id {id:?} may only hold ASCII letters, digits, '_' and '-'"
        ))
    }
}

#[cfg(test)]
mod tests;
