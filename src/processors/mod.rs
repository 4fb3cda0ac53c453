//! Processors: transformations between sources and exporters.
//!
//! A processor runs inside its pipeline's task, one batch at a time, and may emit zero, one or
//! several batches for each batch it receives (fan-out to tenants, sampling, injection).

pub mod inject_anomaly;
pub mod sample;
pub mod tag_tenant;

use serde::Deserialize;

use std::sync::Arc;

use crate::anomaly::Registry;
use crate::config::Problem;
use crate::model::Batch;

/// A running processor.
pub trait Processor: Send + 'static {
    /// Transforms `batch`, pushing the results onto `out`.
    fn process(&mut self, batch: Batch, out: &mut Vec<Batch>);
}

/// What a processor is built with.
#[derive(Clone, Debug)]
pub struct ProcessorContext {
    /// The processor's id.
    pub id: String,
    /// The master seed.
    pub seed: u64,
    /// Hash of the running configuration (for manifests).
    pub config_hash: String,
    /// Live anomalies.
    pub anomalies: Arc<Registry>,
}

/// The `[processors.*]` tables, by `type`.
#[derive(Clone, Debug)]
pub enum ProcessorConfig {
    /// `type = "tag_tenant"`: assign, override or fan out tenants.
    TagTenant(tag_tenant::TagTenantConfig),
    /// `type = "sample"`: keep a share of whole traces by trace-id hash.
    Sample(sample::SampleConfig),
    /// `type = "inject_anomaly"`: apply anomalies; register scheduled ones.
    InjectAnomaly(inject_anomaly::InjectAnomalyConfig),
}

impl ProcessorConfig {
    /// Every `type` value, for error messages.
    pub const TYPES: &'static [&'static str] = &["tag_tenant", "sample", "inject_anomaly"];

    /// Deserializes the table of `type = type_name` (the `type` key already removed).
    pub fn parse<'de, D>(type_name: &str, deserializer: D) -> Option<Result<Self, D::Error>>
    where
        D: serde::Deserializer<'de>,
    {
        match type_name {
            "tag_tenant" => {
                Some(tag_tenant::TagTenantConfig::deserialize(deserializer).map(Self::TagTenant))
            }
            "sample" => Some(sample::SampleConfig::deserialize(deserializer).map(Self::Sample)),
            "inject_anomaly" => Some(
                inject_anomaly::InjectAnomalyConfig::deserialize(deserializer)
                    .map(Self::InjectAnomaly),
            ),
            _ => None,
        }
    }

    /// The `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            ProcessorConfig::TagTenant(_) => "tag_tenant",
            ProcessorConfig::Sample(_) => "sample",
            ProcessorConfig::InjectAnomaly(_) => "inject_anomaly",
        }
    }

    /// Tenant ids the processor names, checked against `[tenants]`.
    pub fn tenants(&self) -> Vec<&String> {
        match self {
            ProcessorConfig::TagTenant(config) => config.named_tenants(),
            ProcessorConfig::Sample(_) => Vec::new(),
            ProcessorConfig::InjectAnomaly(config) => config.named_tenants(),
        }
    }

    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        match self {
            ProcessorConfig::TagTenant(config) => config.validate(),
            ProcessorConfig::Sample(config) => config.validate(),
            ProcessorConfig::InjectAnomaly(config) => config.validate(),
        }
    }

    /// Builds the running processor.
    pub fn build(&self, context: &ProcessorContext) -> Result<Box<dyn Processor>, String> {
        match self {
            ProcessorConfig::TagTenant(config) => Ok(Box::new(config.build()?)),
            ProcessorConfig::Sample(config) => Ok(Box::new(config.build()?)),
            ProcessorConfig::InjectAnomaly(config) => Ok(Box::new(config.build(context)?)),
        }
    }
}
