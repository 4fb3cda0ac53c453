//! `generate --signal metrics`: a source's targets sampled on its interval over a time range,
//! written as Prometheus text 0.0.4 or OpenMetrics with timestamps (families grouped, as
//! `promtool tsdb create-blocks-from openmetrics` wants), or as remote-write request bodies.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};

use super::{GenerateOptions, Summary, chosen_tenant};
use crate::config::Config;
use crate::exporters::remote_write::encode::{EncodeOptions, encode_write_request};
use crate::exporters::scrape::render::{OpenMetricsOptions, OpenMetricsRenderer, TextRenderer};
use crate::model::metrics::{Exemplar, Family, SampleSink, TargetSet};
use crate::sources::materialize::{Materializer, PendingBatch};
use crate::sources::metrics::MetricsSourceConfig;
use crate::sources::{BuildContext, SourceConfig};

/// Output formats for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsFormat {
    /// Prometheus text 0.0.4 with millisecond timestamps.
    Prometheus,
    /// OpenMetrics 1.0 with second timestamps and exemplars, ending in `# EOF`.
    OpenMetrics,
    /// Remote-write 1.0 request bodies (snappy block), each preceded by its length as a varint.
    RemoteWrite,
}

impl MetricsFormat {
    /// Every format name.
    pub const NAMES: &'static [&'static str] =
        &["prometheus", "openmetrics", "remote-write-protobuf"];

    /// Parses a format name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "prometheus" => Some(MetricsFormat::Prometheus),
            "openmetrics" => Some(MetricsFormat::OpenMetrics),
            "remote-write-protobuf" => Some(MetricsFormat::RemoteWrite),
            _ => None,
        }
    }
}

/// The time range and limits of a metrics generation.
pub struct MetricsPlan {
    /// First instant, Unix ms.
    pub from_ms: i64,
    /// End (exclusive), Unix ms.
    pub to_ms: Option<i64>,
    /// Most samples to write.
    pub count: Option<u64>,
    /// The format.
    pub format: MetricsFormat,
}

/// Builds the metrics source the options name, with its sampling interval.
pub fn build_target_set(
    options: &GenerateOptions,
) -> anyhow::Result<(Arc<dyn TargetSet>, Duration, String)> {
    let (config, seed, tenant): (SourceConfig, u64, crate::sources::TenantSpec) =
        match (&options.config, &options.source) {
            (Some(path), Some(id)) => {
                let config = Config::from_file(path).map_err(|error| anyhow!("{error}"))?;
                let source = config
                    .sources
                    .get(id)
                    .cloned()
                    .ok_or_else(|| anyhow!("no source {id:?} in {}", path.display()))?;
                let tenant = chosen_tenant(&config, &source, options.tenant.as_deref(), id)?;
                (source, options.seed.unwrap_or(config.seed), tenant)
            }
            _ => {
                let config: MetricsSourceConfig = toml::from_str("")?;
                let tenant = options
                    .tenant
                    .clone()
                    .unwrap_or_else(|| "default".to_string());
                crate::config::validate_tenant_id(&tenant).map_err(|error| anyhow!(error))?;
                let spec = crate::sources::TenantSpec {
                    id: tenant.as_str().into(),
                    scale: 1.0,
                    model: "webshop".into(),
                };
                (
                    SourceConfig::Metrics(config),
                    options.seed.unwrap_or(42),
                    spec,
                )
            }
        };
    let interval = match &config {
        SourceConfig::Metrics(metrics) => metrics.interval,
        other => bail!(
            "source type {:?} does not generate metrics offline",
            other.type_name()
        ),
    };
    let problems = config.validate();
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        bail!("invalid source: {}", list.join("; "));
    }
    let tenant_id = tenant.id.to_string();
    let context = BuildContext {
        seed,
        component_id: options
            .source
            .clone()
            .unwrap_or_else(|| "generate".to_string()),
        tenants: vec![tenant],
        anomalies: crate::anomaly::Registry::new(),
    };
    let source = config.build(&context).map_err(|error| anyhow!(error))?;
    let set = source
        .target_set()
        .ok_or_else(|| anyhow!("the source has no targets"))?;
    Ok((set, interval, tenant_id))
}

/// Writes the samples of every target of `set` at each interval step of the plan.
pub fn write(
    set: &dyn TargetSet,
    interval: Duration,
    plan: &MetricsPlan,
    writer: &mut impl Write,
) -> anyhow::Result<Summary> {
    let step = i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let first = plan.from_ms.div_euclid(step) * step
        + if plan.from_ms.rem_euclid(step) == 0 {
            0
        } else {
            step
        };
    let targets: Vec<usize> = (0..set.targets().len()).collect();
    if targets.is_empty() {
        bail!("the source has no targets for this tenant");
    }
    let limit = plan.count.unwrap_or(u64::MAX);
    let mut summary = Summary::default();
    match plan.format {
        MetricsFormat::RemoteWrite => {
            let mut materializer = Materializer::default();
            let options = EncodeOptions {
                tenant_label: None,
                metadata: true,
                exemplars: true,
            };
            let mut body = Vec::new();
            let mut framed = Vec::new();
            let mut at = first;
            while plan.to_ms.is_none_or(|to| at < to) && summary.records < limit {
                let tenant = Arc::clone(&set.targets()[0].tenant);
                let mut pending = PendingBatch::new(tenant);
                for index in &targets {
                    materializer.sample_target(set, *index, at, &mut pending);
                }
                let left = (limit - summary.records) as usize;
                pending.batch.samples.truncate(left);
                summary.records += pending.batch.samples.len() as u64;
                body.clear();
                encode_write_request(&pending.batch, &options, &mut body);
                framed.clear();
                prost::encoding::encode_varint(body.len() as u64, &mut framed);
                framed.extend_from_slice(&body);
                writer
                    .write_all(&framed)
                    .context("cannot write the output")?;
                summary.bytes += framed.len() as u64;
                at += step;
            }
        }
        MetricsFormat::Prometheus | MetricsFormat::OpenMetrics => {
            let mut grouped = Grouped::new(plan.format, limit);
            let mut at = first;
            while plan.to_ms.is_none_or(|to| at < to) && grouped.samples < limit {
                for index in &targets {
                    let target = &set.targets()[*index];
                    let mut identity: Vec<(String, String)> = vec![
                        ("instance".into(), target.instance.clone()),
                        ("job".into(), target.job.clone()),
                        ("tenant".into(), target.tenant.to_string()),
                    ];
                    identity.extend(target.labels.iter().cloned());
                    identity.sort();
                    grouped.identity = identity;
                    grouped.set_timestamp(at);
                    set.visit(*index, at, &mut grouped);
                }
                at += step;
            }
            summary.records = grouped.samples;
            summary.bytes = grouped.write_to(writer)?;
        }
    }
    Ok(summary)
}

enum Renderer {
    Text(TextRenderer),
    OpenMetrics(OpenMetricsRenderer),
}

/// Groups samples by family across targets and instants, one renderer per family.
struct Grouped {
    format: MetricsFormat,
    families: Vec<Renderer>,
    by_name: HashMap<String, usize>,
    family: Option<Family>,
    identity: Vec<(String, String)>,
    timestamp_ms: i64,
    samples: u64,
    limit: u64,
}

impl Grouped {
    fn new(format: MetricsFormat, limit: u64) -> Self {
        Grouped {
            format,
            families: Vec::new(),
            by_name: HashMap::new(),
            family: None,
            identity: Vec::new(),
            timestamp_ms: 0,
            samples: 0,
            limit,
        }
    }

    fn set_timestamp(&mut self, timestamp_ms: i64) {
        for renderer in &mut self.families {
            match renderer {
                Renderer::Text(text) => text.set_timestamp(Some(timestamp_ms)),
                Renderer::OpenMetrics(open) => open.set_timestamp(Some(timestamp_ms)),
            }
        }
        self.timestamp_ms = timestamp_ms;
    }

    fn write_to(self, writer: &mut impl Write) -> anyhow::Result<u64> {
        let mut bytes = 0;
        for renderer in self.families {
            let mut text = match renderer {
                Renderer::Text(text) => text.finish().0,
                Renderer::OpenMetrics(open) => open.finish().0,
            };
            if self.format == MetricsFormat::OpenMetrics {
                text.truncate(text.len().saturating_sub(b"# EOF\n".len()));
            }
            writer.write_all(&text).context("cannot write the output")?;
            bytes += text.len() as u64;
        }
        if self.format == MetricsFormat::OpenMetrics {
            writer
                .write_all(b"# EOF\n")
                .context("cannot write the output")?;
            bytes += 6;
        }
        Ok(bytes)
    }
}

impl Grouped {
    /// The renderer of the current family, created (with its header) on its first sample.
    fn renderer(&mut self) -> Option<&mut Renderer> {
        let family = self.family.as_ref()?;
        let index = match self.by_name.get(&family.name) {
            Some(index) => *index,
            None => {
                let mut renderer = match self.format {
                    MetricsFormat::OpenMetrics => {
                        Renderer::OpenMetrics(OpenMetricsRenderer::new(OpenMetricsOptions {
                            exemplars: true,
                            created_ms: None,
                            timestamp_ms: Some(self.timestamp_ms),
                        }))
                    }
                    _ => {
                        let mut text = TextRenderer::new();
                        text.set_timestamp(Some(self.timestamp_ms));
                        Renderer::Text(text)
                    }
                };
                match &mut renderer {
                    Renderer::Text(text) => text.family(family),
                    Renderer::OpenMetrics(open) => open.family(family),
                }
                self.families.push(renderer);
                self.by_name
                    .insert(family.name.clone(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        self.families.get_mut(index)
    }
}

impl SampleSink for Grouped {
    fn family(&mut self, family: &Family) {
        self.family = Some(family.clone());
    }

    fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: f64,
        exemplar: Option<&Exemplar>,
    ) {
        if self.samples >= self.limit {
            return;
        }
        let mut merged: Vec<(String, String)> = self.identity.clone();
        for (label, text) in labels {
            if !self.identity.iter().any(|(n, _)| n == label) {
                merged.push((label.to_string(), text.to_string()));
            }
        }
        merged.sort();
        let pairs: Vec<(&str, &str)> = merged
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let Some(renderer) = self.renderer() else {
            return;
        };
        match renderer {
            Renderer::Text(text) => text.sample(name, &pairs, value, exemplar),
            Renderer::OpenMetrics(open) => open.sample(name, &pairs, value, exemplar),
        }
        self.samples += 1;
    }
}
