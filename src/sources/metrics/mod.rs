//! The `metrics` source: synthetic scrape targets whose series follow the signal model.
//!
//! Each tenant gets services with instances (pods), nodes that host them, and the presets'
//! families on each: RED metrics of HTTP routes (`http_red`), process metrics (`process`),
//! node_exporter metrics (`node`), kube-state and cAdvisor metrics (`kube`), and pure
//! cardinality load (`custom`). Every value is a closed-form function of time
//! ([`signal::LoadCurve`]), so the `prometheus_scrape` exporter evaluates targets at scrape time
//! and this source samples them on a grid for push exporters (remote write, files).

pub mod families;
pub mod latency;
mod model;
mod presets;
pub mod signal;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::{BUCKET_NS, BuildContext, Source, Window};
use crate::config::{Problem, de};
use crate::model::metrics::TargetSet;
use crate::model::{Batch, Signal};
use crate::sources::materialize::{Materializer, PendingBatch};
pub use model::MetricsModel;

/// The families a target carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// HTTP request duration histogram, request counters and active requests per service.
    HttpRed,
    /// Process CPU, memory, file descriptors, start time, build info per service.
    Process,
    /// node_exporter CPU, memory, filesystem, network, disk and load per node.
    Node,
    /// kube-state-metrics pod phase, restarts and limits; cAdvisor container CPU and memory.
    Kube,
    /// Pure cardinality load: families × series × labels, with churn.
    Custom,
}

fn default_presets() -> Vec<Preset> {
    vec![Preset::HttpRed, Preset::Process]
}

fn default_instances() -> usize {
    3
}

fn default_interval() -> Duration {
    Duration::from_secs(15)
}

fn default_requests_per_second() -> f64 {
    20.0
}

fn default_namespace() -> String {
    "shop".to_string()
}

/// `[sources.<id>.custom]`: cardinality load of the kind avalanche produces.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomConfig {
    /// Targets per tenant (`job="synthetic-load"`).
    #[serde(default = "one")]
    pub targets: usize,
    /// Metric families per target (`synthetic_metric_00`, …); even ones are gauges, odd ones
    /// counters.
    #[serde(default = "ten")]
    pub families: usize,
    /// Series per family.
    #[serde(default = "hundred")]
    pub series_per_family: usize,
    /// Extra labels per series (`label_00`, …).
    #[serde(default = "three")]
    pub labels_per_series: usize,
    /// Distinct values of each extra label.
    #[serde(default = "ten")]
    pub label_values: usize,
    /// Every this long, all series are replaced by new ones (`cycle_id` changes); none when
    /// absent.
    #[serde(default, deserialize_with = "de::option_duration")]
    pub churn_interval: Option<Duration>,
}

fn one() -> usize {
    1
}
fn three() -> usize {
    3
}
fn ten() -> usize {
    10
}
fn hundred() -> usize {
    100
}

impl Default for CustomConfig {
    fn default() -> Self {
        CustomConfig {
            targets: 1,
            families: 10,
            series_per_family: 100,
            labels_per_series: 3,
            label_values: 10,
            churn_interval: None,
        }
    }
}

/// `[sources.<id>]` with `type = "metrics"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSourceConfig {
    /// Families to emit (`http_red`, `process`, `node`, `kube`, `custom`).
    #[serde(default = "default_presets")]
    pub presets: Vec<Preset>,
    /// Tenants to generate for; every configured tenant when absent.
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    /// Service names; a web-shop set when absent.
    #[serde(default)]
    pub services: Option<Vec<String>>,
    /// Instances (pods) per service.
    #[serde(default = "default_instances")]
    pub instances_per_service: usize,
    /// Mean requests per second of each service on a weekday, before the tenant's scale.
    #[serde(default = "default_requests_per_second")]
    pub requests_per_second: f64,
    /// Kubernetes namespace of the services.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Sampling interval of pushed samples (remote write, files); scrapes choose their own.
    #[serde(default = "default_interval", deserialize_with = "de::duration")]
    pub interval: Duration,
    /// Attach exemplars (trace and span ids) to histogram buckets and counters.
    #[serde(default = "yes")]
    pub exemplars: bool,
    /// Settings of the `custom` preset.
    #[serde(default)]
    pub custom: CustomConfig,
}

fn yes() -> bool {
    true
}

/// Largest number of series the `custom` preset may create per target.
pub const MAX_CUSTOM_SERIES: usize = 10_000_000;

impl MetricsSourceConfig {
    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.presets.is_empty() {
            problems.push(Problem::new("presets", "needs at least one preset"));
        }
        if self.instances_per_service == 0 || self.instances_per_service > 1000 {
            problems.push(Problem::new(
                "instances_per_service",
                "must be between 1 and 1000",
            ));
        }
        if !(self.requests_per_second.is_finite() && self.requests_per_second >= 0.0) {
            problems.push(Problem::new(
                "requests_per_second",
                format!(
                    "must be a non-negative number, got {}",
                    self.requests_per_second
                ),
            ));
        }
        if self.interval < Duration::from_millis(BUCKET_NS as u64 / 1_000_000) {
            problems.push(Problem::new("interval", "must be at least 100ms"));
        }
        if let Some(services) = &self.services {
            if services.is_empty() {
                problems.push(Problem::new("services", "needs at least one service"));
            }
            for service in services {
                let valid = !service.is_empty()
                    && service
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    problems.push(Problem::new(
                        "services",
                        format!("service name {service:?} may hold letters, digits, '-' and '_'"),
                    ));
                }
            }
        }
        let custom = &self.custom;
        let series = custom.families.saturating_mul(custom.series_per_family);
        if self.presets.contains(&Preset::Custom) {
            if series == 0 || series > MAX_CUSTOM_SERIES {
                problems.push(Problem::new(
                    "custom.series_per_family",
                    format!("families × series_per_family must be 1 to {MAX_CUSTOM_SERIES}"),
                ));
            }
            if custom.labels_per_series > 30 {
                problems.push(Problem::new(
                    "custom.labels_per_series",
                    "at most 30 labels",
                ));
            }
            if custom.label_values == 0 {
                problems.push(Problem::new("custom.label_values", "must be at least 1"));
            }
            if custom.targets == 0 || custom.targets > 10_000 {
                problems.push(Problem::new(
                    "custom.targets",
                    "must be between 1 and 10000",
                ));
            }
            if custom
                .churn_interval
                .is_some_and(|d| d < Duration::from_secs(1))
            {
                problems.push(Problem::new("custom.churn_interval", "must be at least 1s"));
            }
        }
        problems
    }

    /// Builds the running source.
    pub fn build(&self, context: &BuildContext) -> Result<MetricsSource, String> {
        let model = Arc::new(MetricsModel::new(self, context)?);
        let interval_ms = i64::try_from(self.interval.as_millis())
            .unwrap_or(i64::MAX)
            .max(100);
        Ok(MetricsSource {
            model,
            interval_ms,
            materializer: Materializer::default(),
        })
    }
}

/// The running `metrics` source.
pub struct MetricsSource {
    model: Arc<MetricsModel>,
    interval_ms: i64,
    materializer: Materializer,
}

impl MetricsSource {
    /// The model behind the source.
    pub fn model(&self) -> &Arc<MetricsModel> {
        &self.model
    }
}

impl Source for MetricsSource {
    fn signals(&self) -> &[Signal] {
        &[Signal::Metrics]
    }

    fn target_set(&self) -> Option<Arc<dyn TargetSet>> {
        Some(Arc::clone(&self.model) as Arc<dyn TargetSet>)
    }

    fn generate(&mut self, window: Window, out: &mut Vec<Batch>) {
        let start_ms = window.start_ns.div_euclid(1_000_000);
        let end_ms = window.end_ns.div_euclid(1_000_000);
        let mut per_tenant: BTreeMap<usize, PendingBatch> = BTreeMap::new();
        let model = Arc::clone(&self.model);
        for index in 0..self.model.targets().len() {
            // Each target is sampled at its own phase of the interval, as scrapers spread them.
            let phase = self.model.phase_ms(index, self.interval_ms);
            let first = (start_ms - phase).div_euclid(self.interval_ms)
                + i64::from((start_ms - phase).rem_euclid(self.interval_ms) != 0);
            let mut tick = first * self.interval_ms + phase;
            while tick < end_ms {
                let tenant = self.model.tenant_index(index);
                let pending = per_tenant.entry(tenant).or_insert_with(|| {
                    PendingBatch::new(Arc::clone(&model.targets()[index].tenant))
                });
                self.materializer
                    .sample_target(model.as_ref(), index, tick, pending);
                tick += self.interval_ms;
            }
        }
        out.extend(
            per_tenant
                .into_values()
                .map(|pending| pending.batch)
                .filter(|batch| !batch.samples.is_empty())
                .map(Batch::Metrics),
        );
    }
}

#[cfg(test)]
mod tests;
