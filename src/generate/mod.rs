//! `synthtel generate`: one-shot generation to a file or stdout, without network.
//!
//! The command draws from a source of a configuration file, or from a default source of the
//! signal, over a virtual time range, and writes the records in the chosen format exactly as the
//! daemon would. Same seed and arguments give byte-identical output.

mod inject;
pub mod metrics;
pub mod traces;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};

use std::sync::Arc;

use crate::anomaly::Registry;
use crate::config::Config;
use crate::exporters::file::{render_log_lines, render_log_ndjson};
use crate::exporters::loki::encode::PushEncoder;
use crate::model::{Batch, LogBatch, Signal, TenantId};
use crate::pipeline::clock::wall_now_ns;
use crate::sources::logs::{Dialect, LogsSourceConfig};
use crate::sources::{BUCKET_NS, BuildContext, Source, SourceConfig, TenantSpec, Window};

/// Default start of the time range, fixed so that output is reproducible: 2025-01-01T00:00:00Z.
pub const DEFAULT_FROM_NS: i64 = 1_735_689_600_000_000_000;

/// Records generated when neither `--count` nor `--to` is given.
pub const DEFAULT_COUNT: u64 = 1000;

/// Buckets generated per step: one second of virtual time.
const STEP_BUCKETS: i64 = 10;

/// Output formats for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogsFormat {
    /// The dialect's text, one line per record.
    Lines,
    /// One JSON object per record.
    Ndjson,
    /// Loki push bodies in JSON, one per line.
    LokiJson,
    /// Loki push bodies in protobuf, snappy-compressed as on the wire, each preceded by its
    /// length as a protobuf varint.
    LokiProtobuf,
}

impl LogsFormat {
    /// Every format name.
    pub const NAMES: &'static [&'static str] = &["lines", "ndjson", "loki-json", "loki-protobuf"];

    fn parse(name: &str) -> Option<Self> {
        match name {
            "lines" => Some(LogsFormat::Lines),
            "ndjson" => Some(LogsFormat::Ndjson),
            "loki-json" => Some(LogsFormat::LokiJson),
            "loki-protobuf" => Some(LogsFormat::LokiProtobuf),
            _ => None,
        }
    }

    /// Whether records are grouped into push requests rather than written one by one.
    fn is_push(self) -> bool {
        matches!(self, LogsFormat::LokiJson | LogsFormat::LokiProtobuf)
    }
}

/// Line bytes per Loki push body, as the `loki` exporter's default `batch.max_bytes`.
const PUSH_BYTES: usize = 1 << 20;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// The signal.
    pub signal: Signal,
    /// Dialect of the default logs source.
    pub dialect: Option<String>,
    /// Output format name.
    pub format: Option<String>,
    /// Number of records.
    pub count: Option<u64>,
    /// Start of the range.
    pub from: Option<String>,
    /// End of the range (exclusive).
    pub to: Option<String>,
    /// Master seed.
    pub seed: Option<u64>,
    /// Tenant.
    pub tenant: Option<String>,
    /// Records per second for the default source.
    pub rate: Option<f64>,
    /// Configuration file.
    pub config: Option<PathBuf>,
    /// Source id in the configuration.
    pub source: Option<String>,
    /// Output path, `-` for stdout.
    pub output: PathBuf,
    /// Anomalies to inject (`KIND[@START[+DURATION]][,key=value…]`).
    pub anomalies: Vec<String>,
    /// Where the manifest of the injected anomalies goes.
    pub manifest: Option<PathBuf>,
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records written.
    pub records: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Runs a generation to completion.
pub fn run(options: GenerateOptions) -> anyhow::Result<Summary> {
    if options.manifest.is_some() && options.anomalies.is_empty() {
        bail!("--manifest lists injected anomalies: give at least one --anomaly");
    }
    match options.signal {
        Signal::Logs => run_logs(options),
        Signal::Metrics => {
            if !options.anomalies.is_empty() {
                bail!(
                    "--anomaly works with --signal logs and traces; metric anomalies are injected by the daemon (bursts and schedules)"
                );
            }
            run_metrics(options)
        }
        Signal::Traces => run_traces(options),
    }
}

/// Registers the `--anomaly` specs of a run for `tenant` and writes the manifest before any
/// record.
pub(crate) fn injection(
    options: &GenerateOptions,
    registry: &Arc<Registry>,
    tenant: &str,
    from_ns: i64,
) -> anyhow::Result<inject::Injection> {
    inject::Injection::prepare(
        Arc::clone(registry),
        &options.anomalies,
        options.signal,
        tenant,
        from_ns,
        options.seed.unwrap_or(42),
        options.manifest.as_deref(),
    )
}

/// The output: a file, or stdout for `-`.
fn open_output(path: &Path) -> anyhow::Result<BufWriter<Box<dyn Write>>> {
    let writer: Box<dyn Write> = if path == Path::new("-") {
        Box::new(io::stdout().lock())
    } else {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Box::new(file)
    };
    Ok(BufWriter::with_capacity(1 << 20, writer))
}

/// The `--from`, `--to` and `--count` of a run, in Unix nanoseconds and records.
fn time_range(options: &GenerateOptions) -> anyhow::Result<(i64, Option<i64>, Option<u64>)> {
    let now = wall_now_ns();
    let from = match &options.from {
        Some(text) => parse_time(text, now).with_context(|| format!("--from {text:?}"))?,
        None => DEFAULT_FROM_NS,
    };
    let to = match &options.to {
        Some(text) => Some(parse_time(text, now).with_context(|| format!("--to {text:?}"))?),
        None => None,
    };
    if to.is_some_and(|to| to <= from) {
        bail!("--to must be after --from");
    }
    let count = match (options.count, to) {
        (Some(count), _) => Some(count),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_COUNT),
    };
    Ok((from, to, count))
}

fn run_traces(options: GenerateOptions) -> anyhow::Result<Summary> {
    let format_name = options.format.as_deref().unwrap_or("otlp-json");
    let format = traces::TracesFormat::parse(format_name).ok_or_else(|| {
        anyhow!(
            "unknown traces format {format_name:?}; one of {}",
            traces::TracesFormat::NAMES.join(", ")
        )
    })?;
    let (from, to, count) = time_range(&options)?;
    let registry = Registry::new();
    let (mut source, tenant, lag_ns) = traces::build_simulation(&options, &registry)?;
    let mut injection = injection(&options, &registry, &tenant, from)?;
    let mut writer = open_output(&options.output)?;
    let range = traces::Range {
        from,
        to,
        count,
        lag_ns,
    };
    let summary = traces::write(source.as_mut(), &range, &mut injection, format, &mut writer)?;
    writer.flush().context("cannot write the output")?;
    Ok(summary)
}

fn run_metrics(options: GenerateOptions) -> anyhow::Result<Summary> {
    let format_name = options.format.as_deref().unwrap_or("prometheus");
    let format = metrics::MetricsFormat::parse(format_name).ok_or_else(|| {
        anyhow!(
            "unknown metrics format {format_name:?}; one of {}",
            metrics::MetricsFormat::NAMES.join(", ")
        )
    })?;
    let (from, to, count) = time_range(&options)?;
    let (set, interval, _tenant) = metrics::build_target_set(&options)?;
    let mut writer = open_output(&options.output)?;
    let plan = metrics::MetricsPlan {
        from_ms: from.div_euclid(1_000_000),
        to_ms: to.map(|to| to.div_euclid(1_000_000)),
        count,
        format,
    };
    let summary = metrics::write(set.as_ref(), interval, &plan, &mut writer)?;
    writer.flush().context("cannot write the output")?;
    Ok(summary)
}

/// The tenant a configured source generates for: `wanted`, else its first tenant.
pub(crate) fn chosen_tenant(
    config: &Config,
    source: &SourceConfig,
    wanted: Option<&str>,
    id: &str,
) -> anyhow::Result<TenantSpec> {
    let tenants = crate::pipeline::resolve_tenants(config, source.tenants());
    match wanted {
        Some(wanted) => tenants
            .into_iter()
            .find(|t| &*t.id == wanted)
            .ok_or_else(|| anyhow!("source {id:?} does not serve tenant {wanted:?}")),
        None => tenants
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("source {id:?} has no tenant")),
    }
}

fn run_logs(options: GenerateOptions) -> anyhow::Result<Summary> {
    let format_name = options.format.as_deref().unwrap_or("lines");
    let format = LogsFormat::parse(format_name).ok_or_else(|| {
        anyhow!(
            "unknown logs format {format_name:?}; one of {}",
            LogsFormat::NAMES.join(", ")
        )
    })?;
    let now = wall_now_ns();
    let from = match &options.from {
        Some(text) => parse_time(text, now).with_context(|| format!("--from {text:?}"))?,
        None => DEFAULT_FROM_NS,
    };
    let to = match &options.to {
        Some(text) => Some(parse_time(text, now).with_context(|| format!("--to {text:?}"))?),
        None => None,
    };
    if to.is_some_and(|to| to <= from) {
        bail!("--to must be after --from");
    }
    let count = match (options.count, to) {
        (Some(count), _) => Some(count),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_COUNT),
    };
    let registry = Registry::new();
    let (mut source, tenant) = build_source(&options, &registry)?;
    let mut injection = injection(&options, &registry, &tenant, from)?;
    let writer: Box<dyn Write> = if options.output == Path::new("-") {
        Box::new(io::stdout().lock())
    } else {
        let file = File::create(&options.output)
            .with_context(|| format!("cannot create {}", options.output.display()))?;
        Box::new(file)
    };
    let mut writer = BufWriter::with_capacity(1 << 20, writer);
    let progress = progress_bar(count, from, to);
    let plan = Plan {
        from: from.div_euclid(BUCKET_NS) * BUCKET_NS,
        to,
        count,
        format,
    };
    let summary = write_records(
        source.as_mut(),
        &plan,
        &mut injection,
        &mut writer,
        &progress,
    )?;
    writer.flush().context("cannot write the output")?;
    progress.finish_and_clear();
    Ok(summary)
}

struct Plan {
    from: i64,
    to: Option<i64>,
    count: Option<u64>,
    format: LogsFormat,
}

fn write_records(
    source: &mut dyn Source,
    plan: &Plan,
    injection: &mut inject::Injection,
    writer: &mut impl Write,
    progress: &ProgressBar,
) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let mut batches = Vec::new();
    let mut injected = Vec::new();
    let mut text = Vec::with_capacity(1 << 20);
    let mut push = PushWriter::default();
    let mut start = plan.from;
    let mut idle_steps = 0;
    loop {
        let mut end = start + STEP_BUCKETS * BUCKET_NS;
        if let Some(to) = plan.to {
            if start >= to {
                break;
            }
            end = end.min(to.div_euclid(BUCKET_NS) * BUCKET_NS + BUCKET_NS);
        }
        batches.clear();
        injected.clear();
        source.generate(Window::new(start, end), &mut batches);
        for batch in batches.drain(..) {
            injection.apply(batch, &mut injected);
        }
        let mut produced = 0;
        for batch in injected.drain(..) {
            let Batch::Logs(mut logs) = batch else {
                continue;
            };
            if let Some(to) = plan.to {
                logs.entries.retain(|e| e.timestamp_ns < to);
            }
            if let Some(count) = plan.count {
                let left = count.saturating_sub(summary.records) as usize;
                logs.entries.truncate(left);
            }
            produced += logs.entries.len();
            summary.records += logs.entries.len() as u64;
            if plan.format.is_push() {
                summary.bytes += push.add(logs, plan.format, writer)?;
                continue;
            }
            text.clear();
            render(&logs, plan.format, &mut text);
            writer.write_all(&text).context("cannot write the output")?;
            summary.bytes += text.len() as u64;
        }
        progress.set_position(match plan.count {
            Some(_) => summary.records,
            None => ((end - plan.from) / 1_000_000_000) as u64,
        });
        if plan.count.is_some_and(|count| summary.records >= count) {
            break;
        }
        // A source with a zero rate never reaches a count: stop after a day of nothing.
        idle_steps = if produced == 0 { idle_steps + 1 } else { 0 };
        if plan.to.is_none() && idle_steps > 86_400 {
            bail!("the source generated nothing for a day of virtual time; is its rate zero?");
        }
        start = end;
    }
    summary.bytes += push.flush(plan.format, writer)?;
    Ok(summary)
}

/// Groups entries into push bodies of about [`PUSH_BYTES`] line bytes.
#[derive(Default)]
struct PushWriter {
    pending: Option<LogBatch>,
    encoder: PushEncoder,
    body: Vec<u8>,
}

impl PushWriter {
    fn add(
        &mut self,
        logs: LogBatch,
        format: LogsFormat,
        writer: &mut impl Write,
    ) -> anyhow::Result<u64> {
        match &mut self.pending {
            Some(pending) => pending.append(&logs),
            None => self.pending = Some(logs),
        }
        let full = self
            .pending
            .as_ref()
            .is_some_and(|p| p.line_bytes() >= PUSH_BYTES);
        if full {
            self.flush(format, writer)
        } else {
            Ok(0)
        }
    }

    fn flush(&mut self, format: LogsFormat, writer: &mut impl Write) -> anyhow::Result<u64> {
        let Some(pending) = self.pending.take() else {
            return Ok(0);
        };
        if pending.entries.is_empty() {
            return Ok(0);
        }
        self.body.clear();
        // The frame around the body: a varint length before it, or a newline after it.
        let mut prefix = Vec::new();
        let suffix: &[u8] = match format {
            LogsFormat::LokiJson => {
                self.encoder.encode_json(&pending, &mut self.body);
                b"\n"
            }
            _ => {
                self.encoder.encode_protobuf(&pending, &mut self.body);
                prost::encoding::encode_varint(self.body.len() as u64, &mut prefix);
                b""
            }
        };
        for part in [&prefix[..], &self.body[..], suffix] {
            writer.write_all(part).context("cannot write the output")?;
        }
        // Keep the pending batch's buffers for the next body.
        let mut pending = pending;
        pending.entries.clear();
        pending.streams.clear();
        pending.text.clear();
        pending.metadata.clear();
        self.pending = Some(pending);
        Ok((prefix.len() + self.body.len() + suffix.len()) as u64)
    }
}

fn render(batch: &LogBatch, format: LogsFormat, out: &mut Vec<u8>) {
    match format {
        LogsFormat::Lines => render_log_lines(batch, out),
        LogsFormat::Ndjson | LogsFormat::LokiJson | LogsFormat::LokiProtobuf => {
            render_log_ndjson(batch, out)
        }
    }
}

fn build_source(
    options: &GenerateOptions,
    registry: &Arc<Registry>,
) -> anyhow::Result<(Box<dyn Source>, TenantId)> {
    let (source_config, seed, tenant) = match (&options.config, &options.source) {
        (Some(path), Some(id)) => {
            let config = Config::from_file(path).map_err(|error| anyhow!("{error}"))?;
            let source = config.sources.get(id).cloned().ok_or_else(|| {
                let known: Vec<&String> = config.sources.keys().collect();
                anyhow!(
                    "no source {id:?} in {} (defined: {known:?})",
                    path.display()
                )
            })?;
            let tenants = crate::pipeline::resolve_tenants(&config, source.tenants());
            let tenant = match &options.tenant {
                Some(wanted) => tenants
                    .into_iter()
                    .find(|t| &*t.id == wanted.as_str())
                    .ok_or_else(|| anyhow!("source {id:?} does not serve tenant {wanted:?}"))?,
                None => tenants
                    .into_iter()
                    .next()
                    .ok_or_else(|| anyhow!("source {id:?} has no tenant"))?,
            };
            (source, options.seed.unwrap_or(config.seed), tenant)
        }
        _ => {
            let dialect_name = options.dialect.as_deref().unwrap_or("apache_combined");
            let dialect = Dialect::parse(dialect_name).ok_or_else(|| {
                let known: Vec<&str> = Dialect::ALL.iter().map(|d| d.as_str()).collect();
                anyhow!(
                    "unknown dialect {dialect_name:?}; one of {}",
                    known.join(", ")
                )
            })?;
            let mut config: LogsSourceConfig =
                toml::from_str(&format!("dialect = \"{}\"", dialect.as_str()))?;
            if let Some(rate) = options.rate {
                config.lines_per_second = rate;
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
            (SourceConfig::Logs(config), options.seed.unwrap_or(42), spec)
        }
    };
    let problems = source_config.validate();
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
    let source = source_config
        .build(&context)
        .map_err(|error| anyhow!(error))?;
    Ok((source, tenant.id))
}

/// Parses `now`, `now-1h`, `now+5m` or an RFC 3339 time into Unix nanoseconds.
pub fn parse_time(text: &str, now_ns: i64) -> anyhow::Result<i64> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now_ns);
        }
        let (sign, amount) = match rest.split_at(1) {
            ("-", amount) => (-1, amount),
            ("+", amount) => (1, amount),
            _ => bail!("expected now, now-<duration> or now+<duration>"),
        };
        let duration = humantime::parse_duration(amount.trim())?;
        return Ok(now_ns + sign * duration.as_nanos() as i64);
    }
    let time = humantime::parse_rfc3339_weak(text).map_err(|error| {
        anyhow!("{error} (expected RFC 3339, e.g. 2025-01-01T00:00:00Z, or now-1h)")
    })?;
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    Ok(since.as_nanos() as i64)
}

fn progress_bar(count: Option<u64>, from: i64, to: Option<i64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (length, unit) = match (count, to) {
        (Some(count), _) => (count, "records"),
        (None, Some(to)) => (((to - from) / 1_000_000_000) as u64, "virtual seconds"),
        (None, None) => (0, "records"),
    };
    let bar = ProgressBar::new(length);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// Wall-clock now, exposed for tests that need a fixed reference.
pub fn system_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relative_and_absolute_times() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_time("now", now).expect("now"), now);
        assert_eq!(parse_time("now-1s", now).expect("rel"), now - 1_000_000_000);
        assert_eq!(
            parse_time("now+2m", now).expect("rel"),
            now + 120_000_000_000
        );
        assert_eq!(
            parse_time("2025-01-01T00:00:00Z", now).expect("abs"),
            DEFAULT_FROM_NS
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("now*2", now).is_err());
    }
}
