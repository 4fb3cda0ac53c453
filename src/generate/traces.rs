//! `generate --signal traces`: the simulation's traces over a time range, as OTLP/JSON request
//! bodies (one per line) or OTLP protobuf request bodies (each preceded by its length as a
//! varint), exactly as the `otlp` exporter would send them.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};

use super::{GenerateOptions, Summary, chosen_tenant};
use crate::anomaly::Registry;
use crate::config::Config;
use crate::exporters::otlp::convert::{to_json, trace_request};
use crate::exporters::otlp::encode::SpanEncoder;
use crate::model::{Batch, TenantId};
use crate::sources::simulation::{LAG_NS, SimulationConfig};
use crate::sources::{BuildContext, Source, SourceConfig, TenantSpec, Window};

/// Output formats for traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TracesFormat {
    /// OTLP/JSON `ExportTraceServiceRequest`, one per line (hex ids, integer enums).
    Json,
    /// OTLP protobuf `ExportTraceServiceRequest`, each preceded by its length as a varint.
    Protobuf,
}

impl TracesFormat {
    /// Every format name.
    pub const NAMES: &'static [&'static str] = &["otlp-json", "otlp-protobuf"];

    /// Parses a format name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "otlp-json" => Some(TracesFormat::Json),
            "otlp-protobuf" => Some(TracesFormat::Protobuf),
            _ => None,
        }
    }
}

/// Builds the source of spans the options name: a `simulation` (the `webshop` model by
/// default) or a `traces` source. Returns it with its tenant and how far behind the asked window
/// it generates.
pub fn build_simulation(
    options: &GenerateOptions,
    registry: &Arc<Registry>,
) -> anyhow::Result<(Box<dyn Source>, TenantId, i64)> {
    let (config, seed, tenant) = match (&options.config, &options.source) {
        (Some(path), Some(id)) => {
            let config = Config::from_file(path).map_err(|error| anyhow!("{error}"))?;
            let source = config
                .sources
                .get(id)
                .cloned()
                .ok_or_else(|| anyhow!("no source {id:?} in {}", path.display()))?;
            if !matches!(
                source,
                SourceConfig::Simulation(_) | SourceConfig::Traces(_)
            ) {
                bail!(
                    "source {id:?} is a {} source; traces come from a simulation or traces source",
                    source.type_name()
                );
            }
            let tenant = chosen_tenant(&config, &source, options.tenant.as_deref(), id)?;
            (source, options.seed.unwrap_or(config.seed), tenant)
        }
        _ => {
            let mut simulation: SimulationConfig = toml::from_str("")?;
            if let Some(rate) = options.rate {
                simulation.requests_per_second = rate;
            }
            let tenant = options
                .tenant
                .clone()
                .unwrap_or_else(|| "default".to_string());
            crate::config::validate_tenant_id(&tenant).map_err(|error| anyhow!(error))?;
            let spec = TenantSpec {
                id: tenant.as_str().into(),
                scale: 1.0,
                model: "webshop".into(),
            };
            (
                SourceConfig::Simulation(simulation),
                options.seed.unwrap_or(42),
                spec,
            )
        }
    };
    let problems = config.validate();
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        bail!("invalid source: {}", list.join("; "));
    }
    let context = BuildContext {
        seed,
        component_id: options
            .source
            .clone()
            .unwrap_or_else(|| "generate".to_string()),
        tenants: vec![tenant.clone()],
        anomalies: Arc::clone(registry),
    };
    // The simulation runs requests LAG_NS behind the window it is asked for.
    let lag = if matches!(config, SourceConfig::Simulation(_)) {
        LAG_NS
    } else {
        0
    };
    let source = config.build(&context).map_err(|error| anyhow!(error))?;
    Ok((source, tenant.id, lag))
}

/// The time range and count of a run.
pub struct Range {
    /// Start, unix ns.
    pub from: i64,
    /// End (exclusive), unix ns.
    pub to: Option<i64>,
    /// Spans at most.
    pub count: Option<u64>,
    /// How far behind the asked window the source generates.
    pub lag_ns: i64,
}

/// Writes spans from `from_ns` until `to_ns` or `count` spans.
pub fn write(
    source: &mut dyn Source,
    range: &Range,
    injection: &mut super::inject::Injection,
    format: TracesFormat,
    writer: &mut impl Write,
) -> anyhow::Result<Summary> {
    let (from_ns, to_ns, count) = (range.from, range.to, range.count);
    let mut injected = Vec::new();
    let step = 200_000_000;
    let mut summary = Summary::default();
    let mut start = from_ns.div_euclid(100_000_000) * 100_000_000;
    let mut batches = Vec::new();
    let mut encoder = SpanEncoder::new();
    let mut body = Vec::new();
    let mut idle = 0;
    loop {
        if to_ns.is_some_and(|to| start >= to) || count.is_some_and(|c| summary.records >= c) {
            break;
        }
        let end = to_ns.map_or(start + step, |to| {
            (start + step).min(to.div_euclid(100_000_000) * 100_000_000 + 100_000_000)
        });
        batches.clear();
        let lag = range.lag_ns;
        source.generate(Window::new(start + lag, end + lag), &mut batches);
        for batch in batches.drain(..) {
            injection.apply(batch, &mut injected);
        }
        let mut produced = 0;
        for batch in injected.drain(..) {
            let Batch::Traces(mut traces) = batch else {
                continue;
            };
            if let Some(to) = to_ns {
                traces.spans.retain(|span| span.start_ns < to);
            }
            if let Some(count) = count {
                traces
                    .spans
                    .truncate(count.saturating_sub(summary.records) as usize);
            }
            if traces.spans.is_empty() {
                continue;
            }
            produced += traces.spans.len();
            summary.records += traces.spans.len() as u64;
            body.clear();
            match format {
                TracesFormat::Json => {
                    body.extend_from_slice(&to_json(&trace_request(&traces)));
                    body.push(b'\n');
                }
                TracesFormat::Protobuf => {
                    let mut encoded = Vec::new();
                    encoder.encode(&traces, &mut encoded);
                    prost::encoding::encode_varint(encoded.len() as u64, &mut body);
                    body.extend_from_slice(&encoded);
                }
            }
            writer.write_all(&body).context("cannot write the output")?;
            summary.bytes += body.len() as u64;
        }
        idle = if produced == 0 { idle + 1 } else { 0 };
        if to_ns.is_none() && idle > 86_400 {
            bail!("the simulation produced no span for a day of virtual time; is its rate zero?");
        }
        start = end;
    }
    Ok(summary)
}
