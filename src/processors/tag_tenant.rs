//! The `tag_tenant` processor: assigns, overrides or fans out the tenant of batches.
//!
//! With one tenant in `tenants`, matching batches move to it (an override, or an assignment when
//! `match_tenants` limits which batches are touched). With several, each matching batch is copied
//! to every listed tenant. `label` adds the tenant id as a stream label.

use std::sync::Arc;

use serde::Deserialize;

use super::Processor;
use crate::config::Problem;
use crate::model::metrics::{LabelPair, Series};
use crate::model::traces::{KeyValue, Resource};
use crate::model::{Batch, LogBatch, MetricBatch, TenantId, labels::is_valid_label_name};

/// `[processors.<id>]` with `type = "tag_tenant"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagTenantConfig {
    /// Target tenants: one moves matching batches to it, several copy them to each.
    pub tenants: Vec<String>,
    /// Only batches of these tenants are changed; every batch when absent.
    #[serde(default)]
    pub match_tenants: Option<Vec<String>>,
    /// Name of a stream label that receives the tenant id (logs), e.g. `"tenant"`.
    #[serde(default)]
    pub label: Option<String>,
}

impl TagTenantConfig {
    /// Tenants named by the processor.
    pub fn named_tenants(&self) -> Vec<&String> {
        self.tenants
            .iter()
            .chain(self.match_tenants.iter().flatten())
            .collect()
    }

    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.tenants.is_empty() {
            problems.push(Problem::new("tenants", "needs at least one tenant"));
        }
        if let Some(label) = &self.label
            && (!is_valid_label_name(label) || label.starts_with("__"))
        {
            {
                problems.push(Problem::new(
                    "label",
                    format!(
                        "{label:?} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, no \"__\")"
                    ),
                ));
            }
        }
        problems
    }

    /// Builds the running processor.
    pub fn build(&self) -> Result<TagTenant, String> {
        Ok(TagTenant {
            tenants: self.tenants.iter().map(|t| Arc::from(t.as_str())).collect(),
            match_tenants: self.match_tenants.clone(),
            label: self.label.clone(),
        })
    }
}

/// The running `tag_tenant` processor.
#[derive(Debug)]
pub struct TagTenant {
    tenants: Vec<TenantId>,
    match_tenants: Option<Vec<String>>,
    label: Option<String>,
}

impl TagTenant {
    fn matches(&self, tenant: &str) -> bool {
        self.match_tenants
            .as_ref()
            .is_none_or(|list| list.iter().any(|t| t == tenant))
    }

    fn retag(&self, batch: Batch, tenant: &TenantId) -> Batch {
        match batch {
            Batch::Logs(mut logs) => {
                logs.tenant = Arc::clone(tenant);
                if let Some(label) = &self.label {
                    relabel(&mut logs, label, tenant);
                }
                Batch::Logs(logs)
            }
            Batch::Metrics(mut metrics) => {
                metrics.tenant = Arc::clone(tenant);
                if let Some(label) = &self.label {
                    relabel_series(&mut metrics, label, tenant);
                }
                Batch::Metrics(metrics)
            }
            Batch::Traces(mut traces) => {
                traces.tenant = Arc::clone(tenant);
                if let Some(label) = &self.label {
                    for resource in &mut traces.resources {
                        let mut changed = Resource::clone(resource);
                        changed.attributes.retain(|kv| kv.key != label.as_str());
                        changed
                            .attributes
                            .push(KeyValue::new(label.clone(), tenant.to_string()));
                        *resource = Arc::new(changed);
                    }
                }
                Batch::Traces(traces)
            }
        }
    }
}

fn relabel(batch: &mut LogBatch, label: &str, tenant: &str) {
    for stream in &mut batch.streams {
        // A valid name was checked at build time, so `with` cannot fail here; keep the
        // original labels if it somehow does rather than losing the records.
        if let Ok(labels) = stream.with(label, tenant) {
            *stream = Arc::new(labels);
        }
    }
}

fn relabel_series(batch: &mut MetricBatch, label: &str, tenant: &str) {
    let name: Arc<str> = Arc::from(label);
    let value: Arc<str> = Arc::from(tenant);
    for series in &mut batch.series {
        let mut labels: Vec<LabelPair> = series
            .labels
            .iter()
            .filter(|(n, _)| **n != *label)
            .cloned()
            .collect();
        labels.push((Arc::clone(&name), Arc::clone(&value)));
        *series = Arc::new(Series::new(
            Arc::clone(&series.name),
            labels,
            Arc::clone(&series.family),
        ));
    }
}

impl Processor for TagTenant {
    fn process(&mut self, batch: Batch, out: &mut Vec<Batch>) {
        if !self.matches(batch.tenant()) {
            out.push(batch);
            return;
        }
        let Some((last, rest)) = self.tenants.split_last() else {
            out.push(batch);
            return;
        };
        for tenant in rest {
            out.push(self.retag(batch.clone(), tenant));
        }
        out.push(self.retag(batch, last));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, Severity};

    fn batch(tenant: &str) -> Batch {
        let mut logs = LogBatch::new(Arc::from(tenant));
        let labels = Arc::new(Labels::new([("service_name", "cart")]).expect("labels"));
        let stream = logs.stream_index(&labels);
        logs.push_line(stream, 1, Severity::Info, b"hello");
        Batch::Logs(logs)
    }

    fn processor(toml_text: &str) -> TagTenant {
        toml::from_str::<TagTenantConfig>(toml_text)
            .expect("config")
            .build()
            .expect("build")
    }

    #[test]
    fn overrides_the_tenant() {
        let mut out = Vec::new();
        processor("tenants = [\"acme\"]").process(batch("other"), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(&**out[0].tenant(), "acme");
    }

    #[test]
    fn fans_out_to_every_tenant_with_a_label() {
        let mut out = Vec::new();
        processor("tenants = [\"a\", \"b\"]\nlabel = \"tenant\"").process(batch("x"), &mut out);
        let tenants: Vec<&str> = out.iter().map(|b| &**b.tenant()).collect();
        assert_eq!(tenants, ["a", "b"]);
        let Batch::Logs(logs) = &out[1] else {
            panic!("logs expected")
        };
        assert_eq!(logs.streams[0].get("tenant"), Some("b"));
        assert_eq!(logs.streams[0].get("service_name"), Some("cart"));
    }

    #[test]
    fn leaves_unmatched_batches_alone() {
        let mut out = Vec::new();
        processor("tenants = [\"a\"]\nmatch_tenants = [\"default\"]").process(batch("x"), &mut out);
        assert_eq!(&**out[0].tenant(), "x");
    }

    #[test]
    fn rejects_bad_label_names() {
        let config: TagTenantConfig =
            toml::from_str("tenants = [\"a\"]\nlabel = \"__t\"").expect("config");
        assert_eq!(config.validate().len(), 1);
    }
}
