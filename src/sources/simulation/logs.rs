//! Log lines of simulated services: one or more per served request (with its trace and span
//! ids), WARN lines for upstream timeouts, ERROR lines for failures, and background chatter.

use std::sync::Arc;

use super::request::Served;
use super::world::{Protocol, World};
use super::{LogFormat, SimulationConfig};
use crate::exporters::file::json_string;
use crate::model::logs::push_rfc3339_nanos;
use crate::model::{Labels, LogBatch, LogEntry, Severity, TextSpan, push_hex};
use crate::random::{Key, Rng};
use crate::sources::BUCKET_NS;

/// One stream per service: `service_name`, `namespace`, `cluster`, `env`.
pub fn streams(
    world: &World,
    namespace: &str,
    cluster: &str,
    environment: &str,
) -> Result<Vec<Arc<Labels>>, String> {
    world
        .services
        .iter()
        .map(|service| {
            Labels::new([
                ("service_name", service.name.as_str()),
                ("namespace", namespace),
                ("cluster", cluster),
                ("env", environment),
            ])
            .map(Arc::new)
            .map_err(|error| error.to_string())
        })
        .collect()
}

/// Messages written while handling a request, before the completion line.
const HANDLING: &[&str] = &[
    "cache lookup finished",
    "loaded entity from repository",
    "validated request payload",
    "authorized request for session",
    "resolved feature flags",
];

/// Background messages of an instance, with their level.
const BACKGROUND: &[(Severity, &str)] = &[
    (Severity::Info, "health check passed"),
    (
        Severity::Info,
        "connection pool stats active=4 idle=12 waiting=0",
    ),
    (Severity::Info, "gc pause completed"),
    (
        Severity::Info,
        "refreshed configuration from config service",
    ),
    (Severity::Info, "flushed metrics buffer"),
    (Severity::Warn, "slow consumer detected on internal queue"),
];

struct Line<'a> {
    timestamp_ns: i64,
    severity: Severity,
    logger: &'a str,
    message: &'a str,
    fields: &'a [(&'a str, Field<'a>)],
    ids: Option<(&'a Served, [u8; 8])>,
}

enum Field<'a> {
    Text(&'a str),
    Number(i64),
    Float(f64),
}

/// The lines written for one served request.
pub fn request_lines(
    config: &SimulationConfig,
    world: &World,
    streams: &[Arc<Labels>],
    served: &Served,
    rng: &mut Rng,
    batch: &mut LogBatch,
) {
    let service = &world.services[served.service];
    let operation = &service.operations[served.operation];
    let (method, route) = match &operation.protocol {
        Protocol::Http { method, route } => (method.as_str(), route.as_str()),
        _ => ("-", operation.name.as_ref()),
    };
    let stream = batch.stream_index(&streams[served.service]);
    let instance = service.instances[served.instance].id.as_str();
    let logger = format!("{}.http", service.name);
    let end_ns = served.start_ns + (served.duration * 1e9) as i64;
    if rng.chance(0.4) {
        let message = HANDLING[rng.index(HANDLING.len())];
        let fields = [("pod", Field::Text(instance))];
        let line = Line {
            timestamp_ns: served.start_ns + (end_ns - served.start_ns) / 3,
            severity: Severity::Info,
            logger: &logger,
            message,
            fields: &fields,
            ids: Some((served, served.span_id)),
        };
        push(config.log_format, &line, stream, batch);
    }
    if let Some((callee, timeout_ms)) = served.upstream_timeout {
        let callee_name = world.services[callee].name.as_str();
        let message = format!("timeout calling {callee_name} after {timeout_ms}ms");
        let fields = [
            ("upstream", Field::Text(callee_name)),
            ("timeout_ms", Field::Number(timeout_ms)),
        ];
        let line = Line {
            timestamp_ns: end_ns - 1_000,
            severity: Severity::Warn,
            logger: &logger,
            message: &message,
            fields: &fields,
            ids: Some((served, served.span_id)),
        };
        push(config.log_format, &line, stream, batch);
    }
    let duration_ms = (served.duration * 1e6).round() / 1e3;
    let status = i64::from(served.status);
    let fields = [
        ("method", Field::Text(method)),
        ("route", Field::Text(route)),
        ("status", Field::Number(status)),
        ("duration_ms", Field::Float(duration_ms)),
        ("pod", Field::Text(instance)),
    ];
    let failed = served.status >= 500;
    let message = if failed {
        "request failed"
    } else {
        "request completed"
    };
    let line = Line {
        timestamp_ns: end_ns,
        severity: if failed {
            Severity::Error
        } else {
            Severity::Info
        },
        logger: &logger,
        message,
        fields: &fields,
        ids: Some((served, served.span_id)),
    };
    push(config.log_format, &line, stream, batch);
}

/// Background lines of every instance of every instrumented service in `bucket`.
pub fn background_lines(
    config: &SimulationConfig,
    world: &World,
    streams: &[Arc<Labels>],
    bucket: i64,
    key: Key,
    batch: &mut LogBatch,
) {
    if config.background_logs_per_second <= 0.0 {
        return;
    }
    let mut rng = key.with("background").with_u64(bucket as u64).rng();
    for (s, service) in world.services.iter().enumerate() {
        if !service.kind.is_instrumented() {
            continue;
        }
        let stream = batch.stream_index(&streams[s]);
        let logger = format!("{}.runtime", service.name);
        for instance in &service.instances {
            let count =
                crate::sources::logs::lines_in_bucket(config.background_logs_per_second, bucket);
            for _ in 0..count {
                let (severity, message) = BACKGROUND[rng.index(BACKGROUND.len())];
                let fields = [("pod", Field::Text(instance.id.as_str()))];
                let line = Line {
                    timestamp_ns: bucket * BUCKET_NS + rng.below(BUCKET_NS as u64) as i64,
                    severity,
                    logger: &logger,
                    message,
                    fields: &fields,
                    ids: None,
                };
                push(config.log_format, &line, stream, batch);
            }
        }
    }
}

fn push(format: LogFormat, line: &Line, stream: u32, batch: &mut LogBatch) {
    let start = batch.text.len();
    match format {
        LogFormat::Json => render_json(line, &mut batch.text),
        LogFormat::Logfmt => render_logfmt(line, &mut batch.text),
    }
    let end = batch.text.len();
    let metadata = batch.metadata.len() as u32;
    batch.entries.push(LogEntry {
        timestamp_ns: line.timestamp_ns,
        stream,
        line: TextSpan::between(start, end),
        severity: line.severity,
        trace_id: line.ids.map(|(served, _)| served.trace_id),
        span_id: line.ids.map(|(_, span)| span),
        metadata: metadata..metadata,
    });
}

fn render_json(line: &Line, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"ts\":\"");
    push_millis(out, line.timestamp_ns);
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(line.severity.as_str().as_bytes());
    out.extend_from_slice(b"\",\"logger\":");
    json_string(out, line.logger.as_bytes());
    out.extend_from_slice(b",\"msg\":");
    json_string(out, line.message.as_bytes());
    if let Some((served, span)) = line.ids {
        out.extend_from_slice(b",\"trace_id\":\"");
        push_hex(out, &served.trace_id);
        out.extend_from_slice(b"\",\"span_id\":\"");
        push_hex(out, &span);
        out.push(b'"');
    }
    for (key, value) in line.fields {
        out.push(b',');
        json_string(out, key.as_bytes());
        out.push(b':');
        match value {
            Field::Text(text) => json_string(out, text.as_bytes()),
            Field::Number(number) => {
                out.extend_from_slice(itoa::Buffer::new().format(*number).as_bytes())
            }
            Field::Float(number) => crate::model::metrics::push_float(out, *number),
        }
    }
    out.push(b'}');
}

fn render_logfmt(line: &Line, out: &mut Vec<u8>) {
    out.extend_from_slice(b"ts=");
    push_millis(out, line.timestamp_ns);
    out.extend_from_slice(b" level=");
    out.extend_from_slice(line.severity.as_str().as_bytes());
    out.extend_from_slice(b" logger=");
    out.extend_from_slice(line.logger.as_bytes());
    out.extend_from_slice(b" msg=");
    logfmt_value(out, line.message);
    if let Some((served, span)) = line.ids {
        out.extend_from_slice(b" trace_id=");
        push_hex(out, &served.trace_id);
        out.extend_from_slice(b" span_id=");
        push_hex(out, &span);
    }
    for (key, value) in line.fields {
        out.push(b' ');
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        match value {
            Field::Text(text) => logfmt_value(out, text),
            Field::Number(number) => {
                out.extend_from_slice(itoa::Buffer::new().format(*number).as_bytes())
            }
            Field::Float(number) => crate::model::metrics::push_float(out, *number),
        }
    }
}

fn logfmt_value(out: &mut Vec<u8>, value: &str) {
    let needs_quotes =
        value.is_empty() || value.bytes().any(|b| b == b' ' || b == b'=' || b == b'"');
    if !needs_quotes {
        out.extend_from_slice(value.as_bytes());
        return;
    }
    out.push(b'"');
    for byte in value.bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            other => out.push(other),
        }
    }
    out.push(b'"');
}

/// RFC 3339 with millisecond precision (`2026-12-03T19:26:44.123Z`).
fn push_millis(out: &mut Vec<u8>, timestamp_ns: i64) {
    let start = out.len();
    push_rfc3339_nanos(out, timestamp_ns);
    // Keep `.mmm` and the `Z`: drop the last six fraction digits.
    let z = out.len() - 1;
    if z >= start + 7 {
        out.drain(z - 6..z);
    }
}
