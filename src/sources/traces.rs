//! The `traces` source: pure span volume of a configured shape, for load tests of trace
//! backends (no world model: trees of a given depth and fan-out, spread over a few services).

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;

use super::{BUCKET_NS, BuildContext, Source, Window};
use crate::config::Problem;
use crate::model::traces::{KeyValue, Resource, Span, SpanKind, StatusCode};
use crate::model::{Batch, Signal, SpanBatch, TenantId};
use crate::random::{Key, Rng};

fn default_rate() -> f64 {
    100.0
}
fn default_depth() -> u32 {
    4
}
fn default_fan_out() -> f64 {
    2.0
}
fn default_max_spans() -> u32 {
    200
}
fn default_duration() -> f64 {
    50.0
}
fn default_services() -> u32 {
    8
}
fn default_error_rate() -> f64 {
    0.01
}

/// `[sources.<id>]` with `type = "traces"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracesSourceConfig {
    /// Tenants; every configured tenant when absent.
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    /// Traces started per second per tenant, before the tenant's scale.
    #[serde(default = "default_rate")]
    pub traces_per_second: f64,
    /// Deepest level of a trace (the root is level 1).
    #[serde(default = "default_depth")]
    pub max_depth: u32,
    /// Mean number of children of a span above the deepest level (geometric).
    #[serde(default = "default_fan_out")]
    pub fan_out: f64,
    /// Largest number of spans in one trace.
    #[serde(default = "default_max_spans")]
    pub max_spans: u32,
    /// Median root duration in milliseconds (log-normal, σ 0.8).
    #[serde(default = "default_duration")]
    pub duration_ms: f64,
    /// Number of synthetic services spans are spread over.
    #[serde(default = "default_services")]
    pub services: u32,
    /// Share of spans that end in error.
    #[serde(default = "default_error_rate")]
    pub error_rate: f64,
}

impl TracesSourceConfig {
    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !(self.traces_per_second.is_finite() && (0.0..=1e6).contains(&self.traces_per_second)) {
            problems.push(Problem::new(
                "traces_per_second",
                "must be between 0 and 1000000",
            ));
        }
        if !(1..=100).contains(&self.max_depth) {
            problems.push(Problem::new("max_depth", "must be between 1 and 100"));
        }
        if !(self.fan_out.is_finite() && (0.0..=1000.0).contains(&self.fan_out)) {
            problems.push(Problem::new("fan_out", "must be between 0 and 1000"));
        }
        if !(1..=100_000).contains(&self.max_spans) {
            problems.push(Problem::new("max_spans", "must be between 1 and 100000"));
        }
        if !(self.duration_ms.is_finite() && self.duration_ms > 0.0) {
            problems.push(Problem::new("duration_ms", "must be positive"));
        }
        if !(1..=10_000).contains(&self.services) {
            problems.push(Problem::new("services", "must be between 1 and 10000"));
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            problems.push(Problem::new("error_rate", "must be between 0 and 1"));
        }
        problems
    }

    /// Builds the running source.
    pub fn build(&self, context: &BuildContext) -> Result<TracesSource, String> {
        let resources: Vec<Arc<Resource>> = (0..self.services)
            .map(|i| {
                Arc::new(Resource {
                    attributes: vec![
                        KeyValue::new("service.name", format!("load-service-{i}")),
                        KeyValue::new("service.instance.id", format!("load-service-{i}-0")),
                        KeyValue::new("telemetry.sdk.name", "synthtel"),
                    ],
                })
            })
            .collect();
        let tenants = context
            .tenants
            .iter()
            .map(|t| TenantLoad {
                id: Arc::clone(&t.id),
                rate: self.traces_per_second * t.scale,
                key: Key::new(context.seed)
                    .with(&t.id)
                    .with("traces")
                    .with(&context.component_id),
            })
            .collect();
        Ok(TracesSource {
            config: self.clone(),
            resources,
            tenants,
        })
    }
}

struct TenantLoad {
    id: TenantId,
    rate: f64,
    key: Key,
}

/// The running `traces` source.
pub struct TracesSource {
    config: TracesSourceConfig,
    resources: Vec<Arc<Resource>>,
    tenants: Vec<TenantLoad>,
}

const NAMES: [&str; 8] = [
    "GET /api/items",
    "POST /api/orders",
    "SELECT items",
    "cache.get",
    "publish events",
    "GET /api/users/{id}",
    "render",
    "validate",
];

impl TracesSource {
    #[allow(clippy::too_many_arguments, reason = "one node of the recursive tree")]
    fn node(
        &self,
        rng: &mut Rng,
        batch: &mut SpanBatch,
        trace_id: [u8; 16],
        parent: Option<[u8; 8]>,
        start: i64,
        duration: i64,
        depth: u32,
        budget: &mut u32,
    ) {
        let mut span_id = [0u8; 8];
        rng.fill_bytes(&mut span_id);
        span_id[0] |= 1;
        let service = rng.index(self.resources.len());
        let resource = batch.resource_index(&self.resources[service]);
        let failed = rng.chance(self.config.error_rate);
        batch.spans.push(Span {
            resource,
            trace_id,
            span_id,
            parent_span_id: parent,
            name: Cow::Borrowed(NAMES[rng.index(NAMES.len())]),
            kind: if parent.is_none() {
                SpanKind::Server
            } else {
                SpanKind::Internal
            },
            start_ns: start,
            end_ns: start + duration,
            status: if failed {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
            status_message: failed.then(|| "synthetic failure".to_string()),
            attributes: vec![KeyValue::new("load.depth", i64::from(depth))],
            events: Vec::new(),
            links: Vec::new(),
            flags: 1,
        });
        if depth >= self.config.max_depth || *budget == 0 {
            return;
        }
        // Geometric number of children with the configured mean.
        let p = 1.0 / (1.0 + self.config.fan_out);
        let mut children = 0u32;
        while !rng.chance(p) && children < 1000 {
            children += 1;
        }
        let children = children.min(*budget);
        *budget -= children;
        for i in 0..children {
            let slot = duration / i64::from(children.max(1));
            let child_start = start + slot * i64::from(i) + slot / 10;
            let child_duration = (slot * 8 / 10).max(1);
            self.node(
                rng,
                batch,
                trace_id,
                Some(span_id),
                child_start,
                child_duration,
                depth + 1,
                budget,
            );
        }
    }
}

impl Source for TracesSource {
    fn signals(&self) -> &[Signal] {
        &[Signal::Traces]
    }

    fn generate(&mut self, window: Window, out: &mut Vec<Batch>) {
        for tenant in &self.tenants {
            let mut batch = SpanBatch::new(Arc::clone(&tenant.id));
            for bucket in window.buckets() {
                let count = super::logs::lines_in_bucket(tenant.rate, bucket);
                let mut rng = tenant.key.with_u64(bucket as u64).rng();
                for i in 0..count {
                    let start = bucket * BUCKET_NS + (i as i64 * BUCKET_NS) / count.max(1) as i64;
                    let mut trace_id = [0u8; 16];
                    rng.fill_bytes(&mut trace_id);
                    trace_id[0] |= 1;
                    let median = self.config.duration_ms / 1000.0;
                    let duration = (rng.log_normal(median.ln(), 0.8) * 1e9).max(1000.0) as i64;
                    let mut budget = self.config.max_spans.saturating_sub(1);
                    self.node(
                        &mut rng,
                        &mut batch,
                        trace_id,
                        None,
                        start,
                        duration,
                        1,
                        &mut budget,
                    );
                }
            }
            if !batch.spans.is_empty() {
                out.push(Batch::Traces(batch));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::TenantSpec;

    #[test]
    fn traces_follow_the_configured_shape() {
        let config: TracesSourceConfig =
            toml::from_str("traces_per_second = 50\nmax_depth = 3\nfan_out = 2.0\nmax_spans = 20")
                .expect("config");
        assert!(config.validate().is_empty());
        let context = BuildContext {
            seed: 1,
            component_id: "t".into(),
            tenants: vec![TenantSpec {
                id: "acme".into(),
                scale: 1.0,
                model: "webshop".into(),
            }],
            anomalies: crate::anomaly::Registry::new(),
        };
        let mut source = config.build(&context).expect("build");
        let mut out = Vec::new();
        source.generate(Window::new(0, 10 * BUCKET_NS), &mut out);
        let Some(Batch::Traces(batch)) = out.first() else {
            panic!("spans expected")
        };
        let roots = batch
            .spans
            .iter()
            .filter(|s| s.parent_span_id.is_none())
            .count();
        assert_eq!(roots, 50, "50 traces per second for one second");
        let depths = batch.spans.iter().map(|s| s.attributes[0].value.clone());
        assert!(
            depths
                .into_iter()
                .all(|d| matches!(d, crate::model::traces::AttributeValue::Int(1..=3)))
        );
        let mut per_trace = std::collections::HashMap::<[u8; 16], usize>::new();
        for span in &batch.spans {
            *per_trace.entry(span.trace_id).or_default() += 1;
            assert!(span.end_ns > span.start_ns);
        }
        assert!(per_trace.values().all(|n| *n <= 20));
        assert!(config.build(&context).is_ok());
        let bad: TracesSourceConfig =
            toml::from_str("max_depth = 0\nfan_out = -1.0").expect("parses");
        assert_eq!(bad.validate().len(), 2);
    }
}
