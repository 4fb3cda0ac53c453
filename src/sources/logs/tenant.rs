//! A tenant's generator state: its services, pools and clocks, built once at start, and the
//! per-bucket loop that turns them into lines.
//!
//! Everything here is keyed by (seed, tenant, component, purpose), so a tenant's output does not
//! depend on which other tenants exist; each bucket draws from its own key, so any window can be
//! generated alone.

use std::sync::Arc;

use super::access::{AccessLayout, AccessLine, AccessPools, SiteKind};
use super::render::{self, CriContent, Line, RequestIds, Work};
use super::services::{self, PidStyle};
use super::stacktrace::{self, StackTrace};
use super::templates::{Domain, SetShape, Template, TemplateSet};
use super::timefmt::{TimeCache, TimeFormat};
use super::{Dialect, LogsSourceConfig, lines_in_bucket};
use crate::model::{Labels, LogBatch, LogEntry, Severity, TenantId, TextSpan};
use crate::random::{Key, Rng, WeightedIndex};
use crate::sources::{BUCKET_NS, BuildContext, TenantSpec, Window};

/// UTC offsets (minutes) a tenant's servers may run in; local-time dialects use one of them.
const OFFSETS_MINUTES: [i32; 8] = [0, -420, -300, 60, 120, 330, 540, -180];

/// The timestamp caches of one tenant, one per layout.
#[derive(Clone, Debug)]
pub struct Clocks {
    /// JSON `ts` with milliseconds.
    pub json_millis: TimeCache,
    /// JSON `ts` with microseconds.
    pub json_micros: TimeCache,
    /// logfmt `ts`.
    pub logfmt: TimeCache,
    /// klog header.
    pub klog: TimeCache,
    /// logback header.
    pub logback: TimeCache,
    /// RFC 3164 header.
    pub bsd: TimeCache,
    /// RFC 5424 header.
    pub rfc5424: TimeCache,
    /// CRI header.
    pub cri: TimeCache,
    /// Access-log time.
    pub apache: TimeCache,
}

impl Clocks {
    fn new(offset_minutes: i32) -> Self {
        let utc = |digits| TimeCache::new(TimeFormat::Rfc3339 { digits }, 0);
        Clocks {
            json_millis: utc(3),
            json_micros: utc(6),
            logfmt: utc(6),
            klog: TimeCache::new(TimeFormat::Klog, 0),
            logback: TimeCache::new(TimeFormat::Logback, offset_minutes),
            bsd: TimeCache::new(TimeFormat::Bsd, offset_minutes),
            rfc5424: utc(6),
            cri: utc(9),
            apache: TimeCache::new(TimeFormat::Apache, offset_minutes),
        }
    }
}

/// Per-template data of a service, prebuilt so lines only copy it.
#[derive(Clone, Debug)]
pub struct EntryExtras {
    /// Full Java logger name (`com.example.checkout.web.ApiController`).
    pub logger: String,
    /// logback's abbreviated name (`c.e.checkout.web.ApiController`).
    pub abbreviated_logger: String,
    /// Go-style logger (`checkout.web`).
    pub short_logger: String,
    /// Go-style caller (`web/api_controller.go:88`).
    pub caller: String,
    /// Java thread name; a trailing `-` gets a number per line.
    pub thread: &'static str,
    /// RFC 5424 MSGID.
    pub msgid: &'static str,
    /// The stack trace that follows the line in Java logs (ERROR templates).
    pub trace: Option<StackTrace>,
    /// `,"exception":{…}` for logback JSON (ERROR templates), else empty.
    pub json_exception: Vec<u8>,
    /// `,"stacktrace":"…"` for zap JSON (ERROR templates), else empty.
    pub json_stacktrace: Vec<u8>,
}

/// One service of a tenant.
#[derive(Clone, Debug)]
pub struct ServiceState {
    /// The `service_name` label and syslog tag.
    pub name: String,
    /// The name escaped for the inside of a JSON string.
    pub json_name: String,
    /// RFC 5424 APP-NAME (at most 48 printable characters).
    pub app_name: String,
    /// Hosts the service's lines come from.
    pub hosts: Vec<String>,
    /// Pod names.
    pub pods: Vec<String>,
    /// One long-lived pid per host.
    pub pids: Vec<u32>,
    /// Syslog facility.
    pub facility: u8,
    /// How the syslog tag carries a pid.
    pub pid_style: PidStyle,
    /// Inner format of CRI lines.
    pub cri_content: CriContent,
    /// Whether JSON lines use the zap layout (else logback's).
    pub json_zap: bool,
    templates: Option<TemplateSet>,
    extras: Vec<EntryExtras>,
    access: Option<AccessPools>,
    streams: Vec<Arc<Labels>>,
}

/// A tenant's generator.
pub struct TenantState {
    /// The tenant.
    pub id: TenantId,
    rate: f64,
    key: Key,
    dialect: Dialect,
    services: Vec<ServiceState>,
    service_table: WeightedIndex,
    pools: super::pools::Pools,
    corpus: Arc<Vec<Template>>,
    clocks: Clocks,
    scratch: Vec<u8>,
    stream_slots: Vec<u32>,
    /// Mean line length seen so far, to reserve a batch's text arena in one step.
    bytes_per_line: usize,
}

/// Labels for levels in stream order: debug, info, warn, error.
const LEVELS: [Severity; 4] = [
    Severity::Debug,
    Severity::Info,
    Severity::Warn,
    Severity::Error,
];

fn level_index(level: Severity) -> usize {
    match level {
        Severity::Trace | Severity::Debug => 0,
        Severity::Info => 1,
        Severity::Warn => 2,
        Severity::Error | Severity::Fatal => 3,
    }
}

impl TenantState {
    /// Builds a tenant's services, pools and template sets.
    pub fn build(
        config: &LogsSourceConfig,
        context: &BuildContext,
        tenant: &TenantSpec,
        corpus: &Arc<Vec<Template>>,
    ) -> Result<Self, String> {
        let key = Key::new(context.seed)
            .with(&tenant.id)
            .with("logs")
            .with(&context.component_id);
        let names = config.service_names();
        let pools = super::pools::Pools::build(key, &names).map_err(|error| error.to_string())?;
        let mut rng = key.with("tenant").rng();
        let offset = OFFSETS_MINUTES[rng.index(OFFSETS_MINUTES.len())];
        let hosts: Vec<String> = (0..5).map(|_| machine_name(&mut rng)).collect();
        let services = names
            .iter()
            .map(|name| {
                build_service(
                    config,
                    corpus,
                    &pools,
                    &hosts,
                    key.with("service").with(name),
                    name,
                )
            })
            .collect::<Result<Vec<_>, String>>()?;
        let service_table = WeightedIndex::zipf(services.len(), 1.0)
            .ok_or_else(|| "a logs source needs at least one service".to_string())?;
        Ok(TenantState {
            id: Arc::clone(&tenant.id),
            rate: config.lines_per_second * tenant.scale,
            key,
            dialect: config.dialect,
            stream_slots: vec![u32::MAX; services.len() * LEVELS.len()],
            services,
            service_table,
            pools,
            corpus: Arc::clone(corpus),
            clocks: Clocks::new(offset),
            scratch: Vec::with_capacity(256),
            bytes_per_line: 160,
        })
    }

    /// Forgets stream indices of the previous batch and reserves room for `window_lines`
    /// lines; call before filling a new batch.
    pub fn begin_batch(&mut self, batch: &mut LogBatch, window: Window) {
        self.stream_slots.fill(u32::MAX);
        let lines: u64 = window
            .buckets()
            .map(|bucket| lines_in_bucket(self.rate, bucket))
            .sum();
        let lines = lines as usize;
        batch.entries.reserve(lines + lines / 8);
        batch
            .text
            .reserve(lines * (self.bytes_per_line + self.bytes_per_line / 8));
    }

    /// Learns the mean line length of a finished batch.
    pub fn end_batch(&mut self, batch: &LogBatch) {
        if !batch.entries.is_empty() {
            self.bytes_per_line = batch.text.len() / batch.entries.len() + 1;
        }
    }

    /// Appends the lines of `bucket` to `batch`.
    pub fn generate_bucket(&mut self, bucket: i64, batch: &mut LogBatch) {
        let count = lines_in_bucket(self.rate, bucket);
        if count == 0 {
            return;
        }
        let mut rng = self.key.with_u64(bucket as u64).rng();
        let start = bucket * BUCKET_NS;
        let mut emitted = 0;
        let mut last = i64::MIN;
        while emitted < count {
            // Evenly spaced with jitter in the first half of each line's share of the bucket.
            let jitter = rng.below(BUCKET_NS as u64 / 2);
            let offset = (emitted * BUCKET_NS as u64 + jitter) / count;
            let timestamp = (start + offset as i64).max(last.saturating_add(1));
            let service = self.service_table.sample(&mut rng);
            let lines = self.emit(service, timestamp, count - emitted, &mut rng, batch);
            last = timestamp + lines as i64 - 1;
            emitted += lines;
        }
    }

    fn emit(
        &mut self,
        service: usize,
        timestamp: i64,
        budget: u64,
        rng: &mut Rng,
        batch: &mut LogBatch,
    ) -> u64 {
        let layout = match self.dialect {
            Dialect::ApacheCommon => Some(AccessLayout::Common),
            Dialect::ApacheCombined => Some(AccessLayout::Combined),
            Dialect::Nginx => Some(AccessLayout::Nginx),
            _ => None,
        };
        match (layout, &self.services[service].access) {
            (Some(layout), Some(_)) => self.emit_access(service, layout, timestamp, rng, batch),
            _ => self.emit_template(service, timestamp, budget, rng, batch),
        }
    }

    fn emit_access(
        &mut self,
        service: usize,
        layout: AccessLayout,
        timestamp: i64,
        rng: &mut Rng,
        batch: &mut LogBatch,
    ) -> u64 {
        let start = batch.text.len();
        let Some(access) = &self.services[service].access else {
            return 0;
        };
        let clock = &mut self.clocks.apache;
        let line = AccessLine {
            access,
            pools: &self.pools,
            clock,
            timestamp_ns: timestamp,
        };
        let severity = super::access::render(layout, line, rng, &mut batch.text);
        let span = TextSpan::between(start, batch.text.len());
        let ids = RequestIds::random(rng);
        let streams = &self.services[service].streams;
        let stream = stream_of(&mut self.stream_slots, service, streams, severity, batch);
        let metadata = batch.metadata.len();
        push_entry(
            batch,
            EntryParts {
                stream,
                timestamp,
                severity,
                span,
                ids: Some(ids),
                metadata,
            },
        );
        1
    }

    fn emit_template(
        &mut self,
        service: usize,
        timestamp: i64,
        budget: u64,
        rng: &mut Rng,
        batch: &mut LogBatch,
    ) -> u64 {
        let state = &self.services[service];
        let Some(set) = &state.templates else {
            return budget;
        };
        let position = set.choose(rng);
        let template = &self.corpus[set.entries[position]];
        let extras = &state.extras[position];
        let ids = template.request_scoped.then(|| RequestIds::random(rng));
        let line = Line {
            template,
            extras,
            service: state,
            pools: &self.pools,
            timestamp_ns: timestamp,
            ids,
        };
        let start = batch.text.len();
        let mut work = Work {
            rng,
            clocks: &mut self.clocks,
            scratch: &mut self.scratch,
        };
        let mut cri_content = None;
        match self.dialect {
            Dialect::Json if state.json_zap => render::json_zap(&line, &mut work, &mut batch.text),
            Dialect::Json => render::json_logback(&line, &mut work, &mut batch.text),
            Dialect::Logfmt => render::logfmt(&line, &mut work, &mut batch.text),
            Dialect::SyslogRfc3164 => render::syslog_3164(&line, &mut work, &mut batch.text),
            Dialect::SyslogRfc5424 => render::syslog_5424(&line, &mut work, &mut batch.text),
            Dialect::Cri => cri_content = Some(render::cri(&line, &mut work, &mut batch.text)),
            _ => render::java(&line, &mut work, &mut batch.text),
        }
        let level = template.level;
        let trace = match self.dialect {
            Dialect::JavaStacktrace => extras.trace.as_ref().map(|trace| trace.lines.as_slice()),
            _ => None,
        };
        let stream = stream_of(
            &mut self.stream_slots,
            service,
            &state.streams,
            level,
            batch,
        );
        if let Some(content_start) = cri_content
            && batch.text.len() - content_start > render::CRI_CHUNK_BYTES
        {
            let span = TextSpan::default();
            let parts = EntryParts {
                stream,
                timestamp,
                severity: level,
                span,
                ids,
                metadata: 0,
            };
            return split_cri(batch, start, content_start, parts, &mut self.scratch);
        }
        let span = TextSpan::between(start, batch.text.len());
        let metadata = batch.metadata.len();
        if let Some(ids) = &ids {
            batch.push_metadata("request_id", &hex_digits(ids.request_id));
        }
        push_entry(
            batch,
            EntryParts {
                stream,
                timestamp,
                severity: level,
                span,
                ids,
                metadata,
            },
        );
        match trace {
            Some(lines) if (lines.len() as u64) < budget => {
                push_trace(
                    batch,
                    lines,
                    EntryParts {
                        stream,
                        timestamp,
                        severity: level,
                        span,
                        ids,
                        metadata,
                    },
                );
                1 + lines.len() as u64
            }
            _ => 1,
        }
    }
}

/// The batch index of a service's stream for `level`, cached in `slots`.
fn stream_of(
    slots: &mut [u32],
    service: usize,
    streams: &[Arc<Labels>],
    level: Severity,
    batch: &mut LogBatch,
) -> u32 {
    let which = if streams.len() == 1 {
        0
    } else {
        level_index(level)
    };
    let slot = &mut slots[service * LEVELS.len() + which];
    if *slot == u32::MAX {
        *slot = batch.stream_index(&streams[which]);
    }
    *slot
}

/// What an entry carries besides its text.
#[derive(Clone, Copy, Debug)]
struct EntryParts {
    stream: u32,
    timestamp: i64,
    severity: Severity,
    span: TextSpan,
    ids: Option<RequestIds>,
    metadata: usize,
}

fn push_entry(batch: &mut LogBatch, parts: EntryParts) {
    let metadata = parts.metadata as u32..batch.metadata.len() as u32;
    batch.entries.push(LogEntry {
        timestamp_ns: parts.timestamp,
        stream: parts.stream,
        line: parts.span,
        severity: parts.severity,
        trace_id: parts.ids.map(|ids| ids.trace_id),
        span_id: parts.ids.map(|ids| ids.span_id),
        metadata,
    });
}

/// Each physical line of a stack trace is its own entry, 1 ns after the previous one.
fn push_trace(batch: &mut LogBatch, lines: &[String], head: EntryParts) {
    for (index, line) in lines.iter().enumerate() {
        let start = batch.text.len();
        batch.text.extend_from_slice(line.as_bytes());
        let span = TextSpan::between(start, batch.text.len());
        let timestamp = head.timestamp + 1 + index as i64;
        let metadata = batch.metadata.len();
        push_entry(
            batch,
            EntryParts {
                timestamp,
                span,
                metadata,
                ..head
            },
        );
    }
}

/// Rewrites an over-long CRI line at `start` as `P` chunks and a final `F` chunk, one entry each;
/// returns the number of entries.
fn split_cri(
    batch: &mut LogBatch,
    start: usize,
    content_start: usize,
    parts: EntryParts,
    scratch: &mut Vec<u8>,
) -> u64 {
    scratch.clear();
    scratch.extend_from_slice(&batch.text[start..content_start]);
    let header_len = scratch.len();
    scratch.extend_from_slice(&batch.text[content_start..]);
    batch.text.truncate(start);
    let (header, content) = scratch.split_at(header_len);
    // The header ends in "F "; partial chunks say "P ".
    let stream_part = &header[..header.len() - 2];
    let mut count = 0;
    for (is_final, chunk) in render::cri_chunks(content) {
        let line_start = batch.text.len();
        batch.text.extend_from_slice(stream_part);
        batch
            .text
            .extend_from_slice(if is_final { b"F " } else { b"P " });
        batch.text.extend_from_slice(chunk);
        let span = TextSpan::between(line_start, batch.text.len());
        let metadata = batch.metadata.len();
        push_entry(
            batch,
            EntryParts {
                span,
                metadata,
                ..parts
            },
        );
        count += 1;
    }
    count
}

/// Eight bytes as sixteen lower-case hex digits, without allocating.
fn hex_digits(bytes: [u8; 8]) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (index, byte) in bytes.into_iter().enumerate() {
        out[index * 2] = DIGITS[usize::from(byte >> 4)];
        out[index * 2 + 1] = DIGITS[usize::from(byte & 0x0f)];
    }
    out
}

fn build_service(
    config: &LogsSourceConfig,
    corpus: &[Template],
    pools: &super::pools::Pools,
    machines: &[String],
    key: Key,
    name: &str,
) -> Result<ServiceState, String> {
    let mut rng = key.rng();
    let is_system = services::domains_for(name)
        .iter()
        .all(|domain| is_system_domain(*domain));
    // Programs on a node see the application pods scheduled there, not pods of their own.
    let pod_owners: Vec<&str> = if is_system {
        services::APP_SERVICES.to_vec()
    } else {
        vec![name; 3]
    };
    let pods: Vec<String> = pod_owners
        .iter()
        .map(|owner| pod_name(owner, &mut rng))
        .collect();
    let hosts = if is_system {
        machines.to_vec()
    } else {
        pods.clone()
    };
    let pids = hosts
        .iter()
        .map(|_| 300 + rng.below(40_000) as u32)
        .collect();
    let cri_content = match rng.below(10) {
        0..=4 => CriContent::Json,
        5..=7 => CriContent::Logfmt,
        _ => CriContent::Klog,
    };
    let access = match config.dialect {
        Dialect::ApacheCommon | Dialect::ApacheCombined | Dialect::Nginx => {
            let kind = SiteKind::for_service(name);
            Some(AccessPools::build(kind, pools, &mut rng).map_err(|error| error.to_string())?)
        }
        _ => None,
    };
    let shape = SetShape {
        count: config.templates_per_service,
        exponent: config.zipf_exponent,
        debug_share: config.debug_share,
    };
    let templates = TemplateSet::build(corpus, services::domains_for(name), shape, &mut rng);
    let extras = templates
        .as_ref()
        .map(|set| {
            set.entries
                .iter()
                .map(|&index| extras_for(&corpus[index], name, &mut rng))
                .collect()
        })
        .unwrap_or_default();
    Ok(ServiceState {
        name: name.to_string(),
        json_name: json_escaped(name),
        app_name: app_name(name),
        hosts,
        pods,
        pids,
        facility: services::facility_for(name),
        pid_style: services::pid_style_for(name),
        cri_content,
        json_zap: rng.chance(0.5),
        templates,
        extras,
        access,
        streams: stream_labels(config, name)?,
    })
}

fn json_escaped(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    super::escape::push_json_escaped(&mut out, text.as_bytes());
    String::from_utf8(out).unwrap_or_default()
}

fn is_system_domain(domain: Domain) -> bool {
    use Domain::*;
    matches!(
        domain,
        Sshd | Cron | Systemd | Kernel | Sudo | Postfix | Kubelet | Chrony
    )
}

fn stream_labels(config: &LogsSourceConfig, name: &str) -> Result<Vec<Arc<Labels>>, String> {
    let base = [
        ("service_name", name),
        ("namespace", config.namespace.as_str()),
        ("cluster", config.cluster.as_str()),
        ("env", config.env.as_str()),
    ];
    let levels: &[Severity] = if config.level_label { &LEVELS } else { &[] };
    if levels.is_empty() {
        return Ok(vec![Arc::new(
            Labels::new(base).map_err(|error| error.to_string())?,
        )]);
    }
    levels
        .iter()
        .map(|level| {
            let pairs = base.into_iter().chain([("level", level.as_str())]);
            Labels::new(pairs)
                .map(Arc::new)
                .map_err(|error| error.to_string())
        })
        .collect()
}

fn extras_for(template: &Template, service: &str, rng: &mut Rng) -> EntryExtras {
    let package = services::package_name(service);
    let (sub, classes) = services::classes_for(template.domain);
    let class = classes[rng.index(classes.len())];
    let trace = (template.level == Severity::Error)
        .then(|| stacktrace::build(template.domain, &package, &format!("{sub}.{class}"), rng));
    let file = snake_case(class);
    EntryExtras {
        logger: format!("com.example.{package}.{sub}.{class}"),
        abbreviated_logger: format!("c.e.{package}.{sub}.{class}"),
        short_logger: format!("{package}.{sub}"),
        caller: format!("{sub}/{file}.go:{}", 30 + rng.index(400)),
        thread: services::thread_for(template.domain, template.request_scoped),
        msgid: msgid_for(template.domain),
        json_exception: trace.as_ref().map(json_exception).unwrap_or_default(),
        json_stacktrace: trace
            .as_ref()
            .map(|_| json_go_stacktrace(&package, sub, class, &file))
            .unwrap_or_default(),
        trace,
    }
}

/// `,"exception":{"class":…,"message":…,"stack_trace":…}` with the first frames of the trace.
fn json_exception(trace: &StackTrace) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b",\"exception\":{\"class\":");
    super::escape::push_json_string(&mut out, trace.exception.as_bytes());
    out.extend_from_slice(b",\"message\":");
    super::escape::push_json_string(&mut out, trace.message.as_bytes());
    out.extend_from_slice(b",\"stack_trace\":");
    let shortened = trace
        .lines
        .iter()
        .take(8)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    super::escape::push_json_string(&mut out, shortened.as_bytes());
    out.push(b'}');
    out
}

/// zap's `,"stacktrace":"…"` with a few Go frames.
fn json_go_stacktrace(package: &str, sub: &str, class: &str, file: &str) -> Vec<u8> {
    let text = format!(
        "{package}/{sub}.(*{class}).Handle\n\t/app/{sub}/{file}.go:88\nnet/http.HandlerFunc.ServeHTTP\n\t/usr/local/go/src/net/http/server.go:2220\nnet/http.serverHandler.ServeHTTP\n\t/usr/local/go/src/net/http/server.go:3210"
    );
    let mut out = b",\"stacktrace\":".to_vec();
    super::escape::push_json_string(&mut out, text.as_bytes());
    out
}

fn msgid_for(domain: Domain) -> &'static str {
    use Domain::*;
    match domain {
        Http | Retry | Probe => "HTTP",
        Db => "DB",
        Cache => "CACHE",
        Auth | Tls => "AUTH",
        Payment => "PAYMENT",
        Order | Cart | Catalog | Inventory | Shipping | Search => "BUSINESS",
        Notify => "NOTIFY",
        Kafka => "KAFKA",
        Scheduler => "JOB",
        Jvm | Lifecycle => "RUNTIME",
        _ => "-",
    }
}

fn snake_case(class: &str) -> String {
    let mut out = String::with_capacity(class.len() + 4);
    for (index, c) in class.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// RFC 5424 APP-NAME: printable ASCII without spaces, at most 48 characters.
fn app_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(48)
        .collect();
    if cleaned.is_empty() {
        "-".to_string()
    } else {
        cleaned
    }
}

fn pod_name(service: &str, rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let base: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!(
        "{}-{:x}-",
        base.trim_matches('-'),
        0x1_0000_0000 + rng.below(0xf_0000_0000)
    );
    for _ in 0..5 {
        name.push(char::from(ALPHABET[rng.index(ALPHABET.len())]));
    }
    name
}

fn machine_name(rng: &mut Rng) -> String {
    format!(
        "ip-10-{}-{}-{}",
        rng.below(8),
        rng.below(256),
        1 + rng.below(254)
    )
}
