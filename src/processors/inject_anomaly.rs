//! The `inject_anomaly` processor: applies the data anomalies of the shared registry to batches,
//! and registers the anomalies of its schedule (with their manifest entries) ahead of time.
//!
//! Every pipeline ends with an injection stage; configure this processor to place the stage
//! elsewhere in a pipeline or to give it a schedule.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::Processor;
use crate::anomaly::plan::{Placement, place};
use crate::anomaly::scenario::{self, Planned};
use crate::anomaly::{Kind, Layer, Params, Registry, Shape, Target, inject};
use crate::config::{Problem, de};
use crate::model::{Batch, TenantId};

/// How long before an occurrence starts it is registered (sources run behind the clock).
const LEAD_NS: i64 = 60_000_000_000;

/// One recurring anomaly or scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// A taxonomy code (`M-LEVEL`); give this or `scenario`.
    #[serde(default)]
    pub kind: Option<Kind>,
    /// A built-in scenario (`db_slowdown`); give this or `kind`.
    #[serde(default)]
    pub scenario: Option<String>,
    /// Tenants it happens to.
    pub tenants: Vec<String>,
    /// Period between occurrences (`"4h"`).
    #[serde(deserialize_with = "de::duration")]
    pub every: Duration,
    /// Length of each occurrence (`"15m"`).
    #[serde(deserialize_with = "de::duration")]
    pub duration: Duration,
    /// Start of the first occurrence within each period (`"1h"`): occurrences start at
    /// `k × every + at` since the unix epoch.
    #[serde(default, deserialize_with = "de::duration")]
    pub at: Duration,
    /// Target selector.
    #[serde(default)]
    pub target: Target,
    /// Shape over the window.
    #[serde(default)]
    pub shape: Shape,
    /// Parameters of the anomaly.
    #[serde(default)]
    pub params: Params,
}

/// `[processors.<id>]` with `type = "inject_anomaly"`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectAnomalyConfig {
    /// Recurring anomalies.
    #[serde(default)]
    pub schedule: Vec<ScheduleEntry>,
    /// JSON-lines file the manifest entries of scheduled anomalies are appended to.
    #[serde(default)]
    pub manifest: Option<PathBuf>,
}

impl InjectAnomalyConfig {
    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (n, entry) in self.schedule.iter().enumerate() {
            let key = |k: &str| format!("schedule[{n}].{k}");
            match (&entry.kind, &entry.scenario) {
                (Some(_), Some(_)) | (None, None) => {
                    problems.push(Problem::new(key("kind"), "give either kind or scenario"))
                }
                (None, Some(name)) if scenario::find(name).is_none() => {
                    let known: Vec<&str> = scenario::SCENARIOS.iter().map(|s| s.name).collect();
                    problems.push(Problem::new(
                        key("scenario"),
                        format!("unknown scenario {name:?}; known: {}", known.join(", ")),
                    ));
                }
                _ => {}
            }
            if entry.every < Duration::from_secs(60) {
                problems.push(Problem::new(key("every"), "must be at least 1m"));
            }
            if entry.duration.is_zero() || entry.duration > entry.every {
                problems.push(Problem::new(
                    key("duration"),
                    "must be more than 0 and at most `every`",
                ));
            }
            if entry.at >= entry.every {
                problems.push(Problem::new(key("at"), "must be less than `every`"));
            }
        }
        problems
    }

    /// Tenant ids the schedule names.
    pub fn named_tenants(&self) -> Vec<&String> {
        self.schedule.iter().flat_map(|e| &e.tenants).collect()
    }

    /// Builds the running processor.
    pub fn build(&self, context: &super::ProcessorContext) -> Result<InjectAnomaly, String> {
        let manifest = match &self.manifest {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|error| format!("cannot open manifest {}: {error}", path.display()))?,
            ),
            None => None,
        };
        let mut schedule = Vec::new();
        for entry in &self.schedule {
            let plan = match (&entry.kind, &entry.scenario) {
                (Some(kind), _) => vec![Planned {
                    kind: *kind,
                    target: entry.target.clone(),
                    from: 0.0,
                    to: 1.0,
                    shape: entry.shape,
                    params: entry.params.clone(),
                    injected: true,
                    root_cause: true,
                    expected: false,
                    observables: Vec::new(),
                }],
                (None, Some(name)) => scenario::expand(name, &entry.target)
                    .ok_or_else(|| format!("unknown scenario {name:?}"))?,
                (None, None) => return Err("a schedule entry needs kind or scenario".into()),
            };
            for tenant in &entry.tenants {
                schedule.push(Recurring {
                    plan: plan.clone(),
                    tenant: Arc::from(tenant.as_str()),
                    every_ns: entry.every.as_nanos() as i64,
                    duration_ns: entry.duration.as_nanos() as i64,
                    at_ns: entry.at.as_nanos() as i64,
                    next_period: None,
                });
            }
        }
        Ok(InjectAnomaly {
            registry: Arc::clone(&context.anomalies),
            config_hash: context.config_hash.clone(),
            seed: context.seed,
            id: context.id.clone(),
            schedule,
            manifest,
        })
    }
}

struct Recurring {
    plan: Vec<Planned>,
    tenant: TenantId,
    every_ns: i64,
    duration_ns: i64,
    at_ns: i64,
    /// The next period whose occurrence is not registered yet.
    next_period: Option<i64>,
}

/// The running processor.
pub struct InjectAnomaly {
    registry: Arc<Registry>,
    config_hash: String,
    seed: u64,
    id: String,
    schedule: Vec<Recurring>,
    manifest: Option<std::fs::File>,
}

impl InjectAnomaly {
    /// The implicit stage of a pipeline with no `inject_anomaly` processor.
    pub fn stage(registry: Arc<Registry>) -> InjectAnomaly {
        InjectAnomaly {
            registry,
            config_hash: String::new(),
            seed: 0,
            id: String::new(),
            schedule: Vec::new(),
            manifest: None,
        }
    }

    /// Registers every scheduled occurrence starting before `now_ns + LEAD_NS`.
    fn register_due(&mut self, now_ns: i64) {
        for (index, recurring) in self.schedule.iter_mut().enumerate() {
            let next = *recurring.next_period.get_or_insert_with(|| {
                // Start with the occurrence still running (or next) at the first batch.
                (now_ns - recurring.at_ns - recurring.duration_ns).div_euclid(recurring.every_ns)
                    + 1
            });
            let mut period = next;
            loop {
                let start = period * recurring.every_ns + recurring.at_ns;
                if start > now_ns + LEAD_NS {
                    break;
                }
                let prefix = format!("{}-{index}-{}-{period}", self.id, recurring.tenant);
                // The same processor in several pipelines registers each occurrence once.
                if self.registry.contains_prefix(&format!("{prefix}-")) {
                    period += 1;
                    continue;
                }
                let (_, entries) = place(
                    &recurring.plan,
                    &Placement {
                        tenant: &recurring.tenant,
                        start_ns: start,
                        end_ns: start + recurring.duration_ns,
                        id_prefix: &prefix,
                        seed: self.seed ^ period as u64,
                        config_hash: &self.config_hash,
                    },
                    &self.registry,
                );
                tracing::info!(
                    processor = %self.id,
                    tenant = %recurring.tenant,
                    anomalies = entries.len(),
                    start = %crate::anomaly::manifest::rfc3339(start),
                    "Scheduled anomaly registered."
                );
                if let Some(file) = &mut self.manifest {
                    for entry in &entries {
                        let line = serde_json::to_string(entry).unwrap_or_default();
                        if let Err(error) = writeln!(file, "{line}") {
                            tracing::warn!(%error, "Cannot append to the manifest.");
                        }
                    }
                }
                period += 1;
            }
            recurring.next_period = Some(period);
        }
        self.registry.prune(now_ns);
    }
}

/// Earliest and latest timestamp (ns) of a batch's records.
fn time_range(batch: &Batch) -> Option<(i64, i64)> {
    let mut range: Option<(i64, i64)> = None;
    let mut see = |t: i64| {
        range = Some(match range {
            Some((low, high)) => (low.min(t), high.max(t)),
            None => (t, t),
        });
    };
    match batch {
        Batch::Logs(logs) => logs.entries.iter().for_each(|e| see(e.timestamp_ns)),
        Batch::Metrics(metrics) => metrics
            .samples
            .iter()
            .for_each(|s| see(s.timestamp_ms.saturating_mul(1_000_000))),
        Batch::Traces(spans) => spans.spans.iter().for_each(|s| {
            see(s.start_ns);
            see(s.end_ns);
        }),
    }
    range
}

impl Processor for InjectAnomaly {
    fn process(&mut self, batch: Batch, out: &mut Vec<Batch>) {
        if !self.schedule.is_empty()
            && let Some((_, high)) = time_range(&batch)
        {
            self.register_due(high);
        }
        if self.registry.is_empty() {
            out.push(batch);
            return;
        }
        let Some((low, high)) = time_range(&batch) else {
            out.push(batch);
            return;
        };
        let anomalies = self.registry.matching(
            batch.tenant(),
            batch.signal(),
            Layer::Data,
            low,
            high.saturating_add(1),
        );
        if anomalies.is_empty() {
            out.push(batch);
        } else {
            inject::apply(batch, &anomalies, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogBatch;

    fn build(schedule: &str, manifest: &std::path::Path) -> (InjectAnomaly, Arc<Registry>) {
        let text = format!("manifest = \"{}\"\n{schedule}", manifest.display());
        let config: InjectAnomalyConfig = toml::from_str(&text).expect("config");
        assert!(config.validate().is_empty(), "{:?}", config.validate());
        let registry = Registry::new();
        let context = crate::processors::ProcessorContext {
            id: "incidents".into(),
            seed: 5,
            config_hash: "cafe".into(),
            anomalies: Arc::clone(&registry),
        };
        (config.build(&context).expect("build"), registry)
    }

    fn batch_at(t_ns: i64) -> Batch {
        let mut logs = LogBatch::new("acme".into());
        let labels = crate::model::Labels::new([("service_name", "a")]).expect("labels");
        let stream = logs.stream_index(&Arc::new(labels));
        logs.push_line(stream, t_ns, crate::model::Severity::Info, b"hello");
        Batch::Logs(logs)
    }

    #[test]
    fn schedules_register_each_occurrence_once_ahead_of_time_with_its_manifest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let manifest = dir.path().join("manifest.jsonl");
        let (mut processor, registry) = build(
            r#"
[[schedule]]
scenario = "telemetry_pipeline_outage"
tenants = ["acme"]
every = "1h"
duration = "5m"
at = "30m"
"#,
            &manifest,
        );
        let hour = 3_600_000_000_000_i64;
        let base = 1_000 * hour;
        let mut out = Vec::new();
        // At 00:10 nothing is due (the next occurrence starts at 00:30).
        processor.process(batch_at(base + hour / 6), &mut out);
        assert!(registry.is_empty());
        // At 00:29:30 the 00:30 occurrence is registered ahead of its start.
        processor.process(batch_at(base + hour / 2 - 30_000_000_000), &mut out);
        processor.process(batch_at(base + hour / 2 - 20_000_000_000), &mut out);
        let text = std::fs::read_to_string(&manifest).expect("manifest");
        let entries: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("entry"))
            .collect();
        assert_eq!(
            entries.len(),
            3,
            "three anomalies of the scenario, once: {text}"
        );
        // A second instance (the processor named in another pipeline) registers nothing again.
        let (mut other, _) = build("", &dir.path().join("other.jsonl"));
        other.registry = Arc::clone(&registry);
        other.schedule = std::mem::take(&mut processor.schedule);
        for r in &mut other.schedule {
            r.next_period = None;
        }
        other.process(batch_at(base + hour / 2 - 10_000_000_000), &mut out);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("other.jsonl")).expect("other"),
            ""
        );
        assert_eq!(entries[0]["start_unix_ns"], base + hour / 2);
        assert_eq!(entries[0]["end_unix_ns"], base + hour / 2 + hour / 12);
        assert_eq!(entries[0]["config_hash"], "cafe");
        assert!(entries.iter().all(|e| e["tenant"] == "acme"));
        assert_eq!(
            registry
                .matching(
                    "acme",
                    crate::model::Signal::Logs,
                    Layer::Data,
                    base + hour / 2,
                    base + hour / 2 + 1
                )
                .len(),
            1
        );
        // Records pass through (the injectors decide what changes).
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn bad_schedules_are_reported() {
        let config: InjectAnomalyConfig = toml::from_str(
            r#"
[[schedule]]
kind = "M-LEVEL"
scenario = "db_slowdown"
tenants = ["acme"]
every = "10s"
duration = "1h"
"#,
        )
        .expect("parses");
        let keys: Vec<String> = config.validate().iter().map(|p| p.key.clone()).collect();
        assert_eq!(
            keys,
            [
                "schedule[0].kind",
                "schedule[0].every",
                "schedule[0].duration"
            ]
        );
    }
}
