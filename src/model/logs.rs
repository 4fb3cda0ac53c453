//! Log records, stored in batches that own one text arena.
//!
//! Rendering a line appends its bytes to [`LogBatch::text`] and records a [`TextSpan`], so a
//! batch of thousands of lines costs a handful of allocations. Stream labels are shared through
//! `Arc`, and each entry points at its stream by index.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Labels, SpanId, TenantId, TraceId};

/// A range of bytes inside a batch's text arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextSpan {
    /// Offset of the first byte.
    pub start: u32,
    /// Length in bytes.
    pub len: u32,
}

impl TextSpan {
    /// The span from `start` to `end`.
    pub fn between(start: usize, end: usize) -> Self {
        TextSpan {
            start: start as u32,
            len: (end - start) as u32,
        }
    }

    /// The byte range.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// Log severity, mapped onto OpenTelemetry severity numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Finest detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something recovered or suspicious.
    Warn,
    /// A failed operation.
    Error,
    /// The process cannot go on.
    Fatal,
}

impl Severity {
    /// Lower-case name (`info`), as in JSON and logfmt lines and in the `level` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Trace => "trace",
            Severity::Debug => "debug",
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Error => "error",
            Severity::Fatal => "fatal",
        }
    }

    /// Upper-case name (`INFO`), as in Java and plain-text lines.
    pub fn as_upper(self) -> &'static str {
        match self {
            Severity::Trace => "TRACE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }

    /// The OpenTelemetry severity number (the first of each range: TRACE 1 … FATAL 21).
    pub fn otel_number(self) -> i32 {
        match self {
            Severity::Trace => 1,
            Severity::Debug => 5,
            Severity::Info => 9,
            Severity::Warn => 13,
            Severity::Error => 17,
            Severity::Fatal => 21,
        }
    }

    /// The syslog severity (RFC 5424 table 2).
    pub fn syslog(self) -> u8 {
        match self {
            Severity::Trace | Severity::Debug => 7,
            Severity::Info => 6,
            Severity::Warn => 4,
            Severity::Error => 3,
            Severity::Fatal => 2,
        }
    }
}

/// One structured-metadata pair of a log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataPair {
    /// The name, usually a static key such as `user_id`.
    pub name: Cow<'static, str>,
    /// The value, inside the batch's text arena.
    pub value: TextSpan,
}

/// One log line and what travels with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Time of the line in Unix nanoseconds.
    pub timestamp_ns: i64,
    /// Index of the entry's stream in [`LogBatch::streams`].
    pub stream: u32,
    /// The rendered line, without a trailing newline.
    pub line: TextSpan,
    /// The line's severity.
    pub severity: Severity,
    /// The trace the line was written in, if any.
    pub trace_id: Option<TraceId>,
    /// The span the line was written in, if any.
    pub span_id: Option<SpanId>,
    /// Range of this entry's pairs in [`LogBatch::metadata`].
    pub metadata: std::ops::Range<u32>,
}

/// Log entries of one tenant, with their streams and text.
#[derive(Clone, Debug, Default)]
pub struct LogBatch {
    /// The tenant every entry belongs to.
    pub tenant: TenantId,
    /// Stream label sets referenced by the entries.
    pub streams: Vec<Arc<Labels>>,
    /// The entries, in generation order.
    pub entries: Vec<LogEntry>,
    /// Arena of line bytes and metadata values.
    pub text: Vec<u8>,
    /// Arena of structured-metadata pairs.
    pub metadata: Vec<MetadataPair>,
}

impl LogBatch {
    /// An empty batch for `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        LogBatch {
            tenant,
            ..LogBatch::default()
        }
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.streams.clear();
        self.entries.clear();
        self.text.clear();
        self.metadata.clear();
    }

    /// The bytes of an entry's line.
    pub fn line(&self, entry: &LogEntry) -> &[u8] {
        &self.text[entry.line.range()]
    }

    /// The stream labels of an entry.
    pub fn stream(&self, entry: &LogEntry) -> &Labels {
        &self.streams[entry.stream as usize]
    }

    /// The structured-metadata pairs of an entry (without trace and span ids).
    pub fn metadata_of(&self, entry: &LogEntry) -> &[MetadataPair] {
        &self.metadata[entry.metadata.start as usize..entry.metadata.end as usize]
    }

    /// The text of a metadata value.
    pub fn text_of(&self, span: TextSpan) -> &[u8] {
        &self.text[span.range()]
    }

    /// Index of `labels` in the batch's streams, adding it when new.
    pub fn stream_index(&mut self, labels: &Arc<Labels>) -> u32 {
        if let Some(i) = self
            .streams
            .iter()
            .position(|s| Arc::ptr_eq(s, labels) || **s == **labels)
        {
            return i as u32;
        }
        self.streams.push(Arc::clone(labels));
        (self.streams.len() - 1) as u32
    }

    /// Appends a metadata value to the arena and returns its pair.
    pub fn push_metadata(&mut self, name: impl Into<Cow<'static, str>>, value: &[u8]) {
        let start = self.text.len();
        self.text.extend_from_slice(value);
        let value = TextSpan::between(start, self.text.len());
        self.metadata.push(MetadataPair {
            name: name.into(),
            value,
        });
    }

    /// Appends an entry whose line is `line` (copied into the arena).
    pub fn push_line(&mut self, stream: u32, timestamp_ns: i64, severity: Severity, line: &[u8]) {
        let start = self.text.len();
        self.text.extend_from_slice(line);
        let meta = self.metadata.len() as u32;
        self.entries.push(LogEntry {
            timestamp_ns,
            stream,
            line: TextSpan::between(start, self.text.len()),
            severity,
            trace_id: None,
            span_id: None,
            metadata: meta..meta,
        });
    }

    /// Total bytes of line text, a proxy for the batch's weight.
    pub fn line_bytes(&self) -> usize {
        self.entries.iter().map(|e| e.line.len as usize).sum()
    }

    /// Moves the entries of `other` (same tenant) into this batch.
    pub fn append(&mut self, other: &LogBatch) {
        let text_offset = self.text.len() as u32;
        let meta_offset = self.metadata.len() as u32;
        self.text.extend_from_slice(&other.text);
        for pair in &other.metadata {
            let mut pair = pair.clone();
            pair.value.start += text_offset;
            self.metadata.push(pair);
        }
        for entry in &other.entries {
            let stream = self.stream_index(&other.streams[entry.stream as usize]);
            let mut entry = entry.clone();
            entry.stream = stream;
            entry.line.start += text_offset;
            entry.metadata = entry.metadata.start + meta_offset..entry.metadata.end + meta_offset;
            self.entries.push(entry);
        }
    }
}

/// Writes a Unix-nanosecond time as RFC 3339 UTC with nine fraction digits.
pub fn push_rfc3339_nanos(out: &mut Vec<u8>, timestamp_ns: i64) {
    let seconds = timestamp_ns.div_euclid(1_000_000_000);
    let nanos = timestamp_ns.rem_euclid(1_000_000_000) as u32;
    let (year, month, day, hour, minute, second) = civil_from_unix(seconds);
    let mut digits = itoa::Buffer::new();
    let mut push_padded = |out: &mut Vec<u8>, value: u32, width: usize| {
        let text = digits.format(value);
        for _ in text.len()..width {
            out.push(b'0');
        }
        out.extend_from_slice(text.as_bytes());
    };
    push_padded(out, year as u32, 4);
    out.push(b'-');
    push_padded(out, month, 2);
    out.push(b'-');
    push_padded(out, day, 2);
    out.push(b'T');
    push_padded(out, hour, 2);
    out.push(b':');
    push_padded(out, minute, 2);
    out.push(b':');
    push_padded(out, second, 2);
    out.push(b'.');
    push_padded(out, nanos, 9);
    out.push(b'Z');
}

/// Splits Unix seconds into UTC (year, month, day, hour, minute, second), proleptic Gregorian.
pub fn civil_from_unix(seconds: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400) as u32;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rest / 3600, rest / 60 % 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(service: &str) -> Arc<Labels> {
        Arc::new(Labels::new([("service_name", service)]).expect("labels"))
    }

    #[test]
    fn append_rebases_spans_and_streams() {
        let mut a = LogBatch::new("t".into());
        let s = a.stream_index(&labels("a"));
        a.push_line(s, 1, Severity::Info, b"first");
        let mut b = LogBatch::new("t".into());
        let s = b.stream_index(&labels("b"));
        b.push_metadata("user_id", b"u-1");
        b.push_line(s, 2, Severity::Warn, b"second");
        b.entries[0].metadata = 0..1;
        a.append(&b);
        assert_eq!(a.entries.len(), 2);
        assert_eq!(a.line(&a.entries[1]), b"second");
        assert_eq!(a.stream(&a.entries[1]).get("service_name"), Some("b"));
        let pair = &a.metadata_of(&a.entries[1])[0];
        assert_eq!(a.text_of(pair.value), b"u-1");
    }
}
