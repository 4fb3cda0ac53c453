//! The configuration loader: the passes that turn a parsed TOML table into a [`Config`].
//!
//! [`Config::from_str_with_env`] expands the environment and parses the TOML; the [`Loader`]
//! here then reads each section, parses every component through its own `parse`, and checks
//! the references between pipelines, tenants and components, collecting every problem with the
//! key offsets it needs for line:column positions.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::{
    AdminConfig, Config, Diagnostic, PipelineConfig, Problem, RuntimeConfig, TenantConfig,
    validate_tenant_id,
};
use crate::exporters::ExporterConfig;
use crate::processors::ProcessorConfig;
use crate::sources::SourceConfig;

type Table<'i> = DeTable<'i>;

pub(super) struct Loader<'t> {
    pub(super) text: &'t str,
    pub(super) diagnostics: Vec<Diagnostic>,
    /// Key offsets of every component and pipeline, by `section.id`.
    pub(super) spans: BTreeMap<String, KeySpans>,
    /// Components that exist but could not be parsed (`sources.id`); references to them are
    /// not reported again as missing.
    pub(super) broken: BTreeSet<String>,
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

    pub(super) fn load(&mut self, root: Table<'t>) -> Option<Config> {
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
pub(super) struct KeySpans {
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
