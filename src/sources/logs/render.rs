//! Renderers of template-based lines: JSON, logfmt, syslog (RFC 3164 and 5424), CRI with its
//! inner formats, and the Java/logback layout.
//!
//! Each renderer appends one physical line to the batch's text arena. Values are written with
//! `itoa` and prebuilt strings; the message goes through a scratch buffer only where the dialect
//! must escape or quote it.

use super::escape::{push_json_escaped, push_logfmt_value, push_sd_param_value};
use super::pools::{Pools, SlotScope, render_slot};
use super::templates::{Part, Template};
use super::tenant::{Clocks, EntryExtras, ServiceState};
use crate::model::{Severity, SpanId, TraceId};
use crate::random::Rng;

/// Longest CRI content chunk; longer content is split into `P` chunks and a final `F` chunk.
pub const CRI_CHUNK_BYTES: usize = 16 * 1024;

/// Ids of a request-scoped line.
#[derive(Clone, Copy, Debug)]
pub struct RequestIds {
    /// The trace id (never zero).
    pub trace_id: TraceId,
    /// The span id (never zero).
    pub span_id: SpanId,
    /// The request id, written as 16 hex digits.
    pub request_id: [u8; 8],
}

impl RequestIds {
    /// Fresh random ids.
    #[inline]
    pub fn random(rng: &mut Rng) -> Self {
        let high = rng.next_u64() | 1;
        let low = rng.next_u64();
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&high.to_be_bytes());
        trace_id[8..].copy_from_slice(&low.to_be_bytes());
        let span_id = (rng.next_u64() | 1 << 63).to_be_bytes();
        let request_id = rng.next_u64().to_be_bytes();
        RequestIds {
            trace_id,
            span_id,
            request_id,
        }
    }
}

/// Everything a renderer reads about one line.
pub struct Line<'a> {
    /// The template.
    pub template: &'a Template,
    /// Prebuilt per-template data of the service.
    pub extras: &'a EntryExtras,
    /// The service writing the line.
    pub service: &'a ServiceState,
    /// The tenant's pools.
    pub pools: &'a Pools,
    /// The line's time.
    pub timestamp_ns: i64,
    /// The request ids, for request-scoped lines.
    pub ids: Option<RequestIds>,
}

impl Line<'_> {
    fn scope(&self) -> SlotScope<'_> {
        SlotScope {
            pools: self.pools,
            pods: &self.service.pods,
        }
    }

    fn level(&self) -> Severity {
        self.template.level
    }
}

/// Scratch space and generator shared by the renderers.
pub struct Work<'a> {
    /// The bucket's generator.
    pub rng: &'a mut Rng,
    /// The tenant's timestamp caches.
    pub clocks: &'a mut Clocks,
    /// A reusable buffer for values that need escaping.
    pub scratch: &'a mut Vec<u8>,
}

/// Appends the message with its slots filled, unescaped.
pub fn push_parts(parts: &[Part], line: &Line<'_>, rng: &mut Rng, out: &mut Vec<u8>) {
    for part in parts {
        match part {
            Part::Text(text) => out.extend_from_slice(text.as_bytes()),
            Part::Slot(slot) => render_slot(*slot, line.scope(), rng, out),
        }
    }
}

/// Appends ` key=value` for every field, logfmt-quoted.
fn push_plain_fields(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    for field in &line.template.fields {
        out.extend_from_slice(&field.plain_prefix);
        work.scratch.clear();
        push_parts(&field.value, line, work.rng, work.scratch);
        push_logfmt_value(out, work.scratch);
    }
}

/// The message followed by its fields as `key=value` pairs.
fn push_plain_body(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    push_parts(&line.template.message, line, work.rng, out);
    push_plain_fields(line, work, out);
}

/// Appends parts as the inside of a JSON string: directly when the template's fixed text is
/// clean (slot values always are), else through the scratch buffer and the escaper.
fn push_json_parts(parts: &[Part], line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    if line.template.json_clean {
        push_parts(parts, line, work.rng, out);
    } else {
        work.scratch.clear();
        push_parts(parts, line, work.rng, work.scratch);
        push_json_escaped(out, work.scratch);
    }
}

/// Appends `,"key":"value"` for a value known to need no escaping.
fn push_json_clean(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    push_json_key(out, key);
    out.push(b'"');
    out.extend_from_slice(value);
    out.push(b'"');
}

/// Appends bytes as lower-case hex in one copy.
#[inline]
fn push_hex_fast(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 32];
    for (index, byte) in bytes.iter().take(16).enumerate() {
        text[index * 2] = DIGITS[usize::from(byte >> 4)];
        text[index * 2 + 1] = DIGITS[usize::from(byte & 0x0f)];
    }
    out.extend_from_slice(&text[..bytes.len().min(16) * 2]);
}

fn push_json_key(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn push_json_hex(out: &mut Vec<u8>, key: &str, bytes: &[u8]) {
    push_json_key(out, key);
    out.push(b'"');
    push_hex_fast(out, bytes);
    out.push(b'"');
}

fn push_json_message(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"msg\":\"");
    push_json_parts(&line.template.message, line, work, out);
    out.push(b'"');
}

fn push_json_ids(line: &Line<'_>, out: &mut Vec<u8>) {
    if let Some(ids) = &line.ids {
        push_json_hex(out, "trace_id", &ids.trace_id);
        push_json_hex(out, "span_id", &ids.span_id);
        push_json_hex(out, "request_id", &ids.request_id);
    }
}

fn push_json_fields(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    for field in &line.template.fields {
        out.extend_from_slice(&field.json_prefix);
        if field.numeric {
            push_parts(&field.value, line, work.rng, out);
        } else {
            push_json_parts(&field.value, line, work, out);
            out.push(b'"');
        }
    }
}

/// JSON in the layout of logstash-logback-encoder: `ts` first, nested `exception` on errors.
pub fn json_logback(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"ts\":\"");
    work.clocks.json_millis.push(out, line.timestamp_ns);
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(line.level().as_str().as_bytes());
    out.push(b'"');
    push_json_clean(out, "logger", line.extras.logger.as_bytes());
    push_json_key(out, "thread");
    out.push(b'"');
    push_thread(line, work.rng, out);
    out.push(b'"');
    push_json_message(line, work, out);
    push_json_clean(out, "service", line.service.json_name.as_bytes());
    push_json_clean(out, "host", pick_pod(line, work.rng));
    push_json_ids(line, out);
    push_json_fields(line, work, out);
    out.extend_from_slice(&line.extras.json_exception);
    out.push(b'}');
}

/// JSON in the layout of Go's zap: `level` first, `caller`, microsecond `ts`.
pub fn json_zap(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"level\":\"");
    out.extend_from_slice(line.level().as_str().as_bytes());
    out.extend_from_slice(b"\",\"ts\":\"");
    work.clocks.json_micros.push(out, line.timestamp_ns);
    out.push(b'"');
    push_json_clean(out, "logger", line.extras.short_logger.as_bytes());
    push_json_clean(out, "caller", line.extras.caller.as_bytes());
    push_json_message(line, work, out);
    push_json_clean(out, "service", line.service.json_name.as_bytes());
    push_json_clean(out, "pod", pick_pod(line, work.rng));
    push_json_ids(line, out);
    push_json_fields(line, work, out);
    out.extend_from_slice(&line.extras.json_stacktrace);
    out.push(b'}');
}

/// logfmt: `ts=… level=info msg="…" key=value … trace_id=… span_id=…`.
pub fn logfmt(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"ts=");
    work.clocks.logfmt.push(out, line.timestamp_ns);
    out.extend_from_slice(b" level=");
    out.extend_from_slice(line.level().as_str().as_bytes());
    out.extend_from_slice(b" msg=");
    work.scratch.clear();
    push_parts(&line.template.message, line, work.rng, work.scratch);
    push_logfmt_value(out, work.scratch);
    push_plain_fields(line, work, out);
    if let Some(ids) = &line.ids {
        out.extend_from_slice(b" trace_id=");
        push_hex_fast(out, &ids.trace_id);
        out.extend_from_slice(b" span_id=");
        push_hex_fast(out, &ids.span_id);
    }
}

/// klog: `I1203 19:26:44.123456       1 file.go:88] "message" key=value`.
pub fn klog(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    out.push(match line.level() {
        Severity::Warn => b'W',
        Severity::Error | Severity::Fatal => b'E',
        _ => b'I',
    });
    work.clocks.klog.push(out, line.timestamp_ns);
    out.extend_from_slice(b"       1 ");
    out.extend_from_slice(
        line.extras
            .caller
            .rsplit('/')
            .next()
            .unwrap_or("main.go:1")
            .as_bytes(),
    );
    out.extend_from_slice(b"] \"");
    work.scratch.clear();
    push_parts(&line.template.message, line, work.rng, work.scratch);
    push_json_escaped(out, work.scratch);
    out.push(b'"');
    push_plain_fields(line, work, out);
}

/// Java/logback: `2026-12-03 19:26:44.123 INFO  [thread] c.e.svc.Class - message`.
pub fn java(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    work.clocks.logback.push(out, line.timestamp_ns);
    out.push(b' ');
    out.extend_from_slice(padded_level(line.level()));
    out.extend_from_slice(b" [");
    push_thread(line, work.rng, out);
    out.extend_from_slice(b"] ");
    out.extend_from_slice(line.extras.abbreviated_logger.as_bytes());
    out.extend_from_slice(b" - ");
    push_plain_body(line, work, out);
}

fn padded_level(level: Severity) -> &'static [u8] {
    match level {
        Severity::Trace => b"TRACE",
        Severity::Debug => b"DEBUG",
        Severity::Info => b"INFO ",
        Severity::Warn => b"WARN ",
        Severity::Error => b"ERROR",
        Severity::Fatal => b"FATAL",
    }
}

fn push_thread(line: &Line<'_>, rng: &mut Rng, out: &mut Vec<u8>) {
    let thread = line.extras.thread;
    out.extend_from_slice(thread.as_bytes());
    if thread.ends_with('-') {
        super::pools::push_u64(out, 1 + rng.below(if line.ids.is_some() { 200 } else { 8 }));
    }
}

fn pick_pod<'a>(line: &Line<'a>, rng: &mut Rng) -> &'a [u8] {
    let pods = &line.service.pods;
    pods[rng.index(pods.len())].as_bytes()
}

fn push_priority(line: &Line<'_>, out: &mut Vec<u8>) {
    let priority = u64::from(line.service.facility) * 8 + u64::from(line.level().syslog());
    out.push(b'<');
    super::pools::push_u64(out, priority);
    out.push(b'>');
}

fn push_pid(line: &Line<'_>, host: usize, rng: &mut Rng, out: &mut Vec<u8>) -> bool {
    use super::services::PidStyle;
    let pid = match line.service.pid_style {
        PidStyle::None => return false,
        PidStyle::Fixed => u64::from(line.service.pids[host]),
        PidStyle::PerLine => 1_000 + rng.below(4_000_000),
    };
    super::pools::push_u64(out, pid);
    true
}

/// RFC 3164: `<PRI>Mmm dd hh:mm:ss HOST TAG[pid]: msg`.
pub fn syslog_3164(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    push_priority(line, out);
    work.clocks.bsd.push(out, line.timestamp_ns);
    out.push(b' ');
    let host = work.rng.index(line.service.hosts.len());
    out.extend_from_slice(line.service.hosts[host].as_bytes());
    out.push(b' ');
    out.extend_from_slice(line.service.name.as_bytes());
    out.push(b'[');
    if push_pid(line, host, work.rng, out) {
        out.extend_from_slice(b"]: ");
    } else {
        out.pop();
        out.extend_from_slice(b": ");
    }
    push_plain_body(line, work, out);
}

/// RFC 5424: `<PRI>1 TS HOST APP PROCID MSGID [SD] MSG`.
pub fn syslog_5424(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) {
    push_priority(line, out);
    out.extend_from_slice(b"1 ");
    work.clocks.rfc5424.push(out, line.timestamp_ns);
    out.push(b' ');
    let host = work.rng.index(line.service.hosts.len());
    out.extend_from_slice(line.service.hosts[host].as_bytes());
    out.push(b' ');
    out.extend_from_slice(line.service.app_name.as_bytes());
    out.push(b' ');
    if !push_pid(line, host, work.rng, out) {
        out.push(b'-');
    }
    out.push(b' ');
    out.extend_from_slice(line.extras.msgid.as_bytes());
    out.push(b' ');
    push_structured_data(line, host, out);
    out.push(b' ');
    push_plain_body(line, work, out);
}

fn push_structured_data(line: &Line<'_>, host: usize, out: &mut Vec<u8>) {
    let synced = host.is_multiple_of(2);
    if let Some(ids) = &line.ids {
        out.extend_from_slice(b"[request@32473 request_id=\"");
        push_hex_fast(out, &ids.request_id);
        out.extend_from_slice(b"\" trace_id=\"");
        push_hex_fast(out, &ids.trace_id);
        out.extend_from_slice(b"\" service=\"");
        push_sd_param_value(out, line.service.name.as_bytes());
        out.extend_from_slice(b"\"]");
    } else if !synced {
        out.push(b'-');
        return;
    }
    if synced {
        out.extend_from_slice(b"[timeQuality tzKnown=\"1\" isSynced=\"1\"]");
    }
}

/// The inner format of a CRI line's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CriContent {
    /// zap-style JSON.
    Json,
    /// logfmt.
    Logfmt,
    /// klog.
    Klog,
}

/// CRI: `<RFC3339Nano> stdout|stderr F <content>`; returns where the content starts.
pub fn cri(line: &Line<'_>, work: &mut Work<'_>, out: &mut Vec<u8>) -> usize {
    work.clocks.cri.push(out, line.timestamp_ns);
    let to_stderr = line.service.cri_content == CriContent::Klog
        || matches!(
            line.level(),
            Severity::Warn | Severity::Error | Severity::Fatal
        );
    out.extend_from_slice(if to_stderr {
        b" stderr F "
    } else {
        b" stdout F "
    });
    let content_start = out.len();
    match line.service.cri_content {
        CriContent::Json => json_zap(line, work, out),
        CriContent::Logfmt => logfmt(line, work, out),
        CriContent::Klog => klog(line, work, out),
    }
    content_start
}

/// Splits CRI content into chunks of at most [`CRI_CHUNK_BYTES`]: `(is_final, chunk)` pairs,
/// where every chunk but the last is partial (`P`).
pub fn cri_chunks(content: &[u8]) -> impl Iterator<Item = (bool, &[u8])> {
    let count = content.len().div_ceil(CRI_CHUNK_BYTES).max(1);
    (0..count).map(move |index| {
        let start = index * CRI_CHUNK_BYTES;
        let end = (start + CRI_CHUNK_BYTES).min(content.len());
        (index + 1 == count, &content[start..end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_chunks_split_only_above_limit() {
        let small = vec![b'x'; CRI_CHUNK_BYTES];
        assert_eq!(cri_chunks(&small).count(), 1);
        let big = vec![b'x'; 2 * CRI_CHUNK_BYTES + 1];
        let chunks: Vec<_> = cri_chunks(&big).collect();
        assert_eq!(chunks.len(), 3);
        assert!(!chunks[0].0 && !chunks[1].0 && chunks[2].0);
        assert_eq!(chunks[2].1.len(), 1);
        assert_eq!(
            chunks.iter().map(|(_, chunk)| chunk.len()).sum::<usize>(),
            big.len()
        );
    }

    #[test]
    fn request_ids_are_never_zero() {
        let mut rng = Rng::from_seed(0);
        for _ in 0..1_000 {
            let ids = RequestIds::random(&mut rng);
            assert!(ids.trace_id.iter().any(|b| *b != 0));
            assert!(ids.span_id.iter().any(|b| *b != 0));
        }
    }
}
