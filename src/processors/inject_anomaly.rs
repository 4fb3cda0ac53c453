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
