//! The `file` and `stdout` exporters: records as text, for debugging and offline tools.
//!
//! Logs are written as their dialect's lines (`format = "lines"`) or as NDJSON objects carrying
//! tenant, stream labels, severity, ids and structured metadata (`format = "ndjson"`).

use std::io::Write as _;
use std::path::PathBuf;

use serde::Deserialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{Exporter, ExporterInput, ExporterTask};
use crate::config::Problem;
use crate::model::labels::escape_label_value;
use crate::model::metrics::push_float;
use crate::model::traces::{AttributeValue, KeyValue};
use crate::model::{Batch, LogBatch, MetricBatch, SpanBatch, push_hex};
use crate::pipeline::stats::{DropReason, RejectClass};

/// How records are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextFormat {
    /// The native text of the signal (log lines as rendered).
    #[default]
    Lines,
    /// One JSON object per record.
    Ndjson,
}

/// `[exporters.<id>]` with `type = "file"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The file to append to; created when missing.
    pub path: PathBuf,
    /// `lines` (default) or `ndjson`.
    #[serde(default)]
    pub format: TextFormat,
    /// Batches waiting to be written before new ones are dropped (live mode).
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
}

/// `[exporters.<id>]` with `type = "stdout"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    /// `lines` (default) or `ndjson`.
    #[serde(default)]
    pub format: TextFormat,
    /// Batches waiting to be written before new ones are dropped (live mode).
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
}

fn default_queue_capacity() -> usize {
    256
}

impl FileConfig {
    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        if self.path.as_os_str().is_empty() {
            return vec![Problem::new("path", "must not be empty")];
        }
        Vec::new()
    }

    /// Builds the exporter.
    pub fn build(&self) -> Result<TextExporter, String> {
        Ok(TextExporter {
            target: Target::File(self.path.clone()),
            format: self.format,
        })
    }
}

impl StdoutConfig {
    /// Builds the exporter.
    pub fn build(&self) -> Result<TextExporter, String> {
        Ok(TextExporter {
            target: Target::Stdout,
            format: self.format,
        })
    }
}

#[derive(Debug)]
enum Target {
    File(PathBuf),
    Stdout,
}

/// The running `file` or `stdout` exporter.
#[derive(Debug)]
pub struct TextExporter {
    target: Target,
    format: TextFormat,
}

impl Exporter for TextExporter {
    fn run(self: Box<Self>, input: ExporterInput) -> ExporterTask {
        Box::pin(async move {
            let writer: Box<dyn AsyncWrite + Send + Unpin> = match &self.target {
                Target::Stdout => Box::new(tokio::io::stdout()),
                Target::File(path) => {
                    let opened = tokio::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .await;
                    match opened {
                        Ok(file) => Box::new(file),
                        Err(error) => {
                            tracing::error!(
                                path = %path.display(), %error,
                                "Cannot open the output file; every record will be dropped."
                            );
                            drain_as_dropped(input).await;
                            return;
                        }
                    }
                }
            };
            write_all_batches(writer, self.format, input).await;
        })
    }
}

async fn drain_as_dropped(mut input: ExporterInput) {
    while let Some(batch) = input.rx.recv().await {
        let delivery = input.stats.delivery(batch.tenant(), batch.signal());
        delivery.add_generated(batch.len() as u64);
        delivery.add_dropped(DropReason::WriteFailed, batch.len() as u64);
    }
}

async fn write_all_batches(
    mut writer: Box<dyn AsyncWrite + Send + Unpin>,
    format: TextFormat,
    mut input: ExporterInput,
) {
    let mut buffer = Vec::with_capacity(1 << 16);
    while let Some(batch) = input.rx.recv().await {
        input
            .stats
            .set_queue(input.rx.len(), input.rx.max_capacity());
        let delivery = input.stats.delivery(batch.tenant(), batch.signal());
        let records = batch.len() as u64;
        delivery.add_generated(records);
        buffer.clear();
        render_batch(&batch, format, &mut buffer);
        delivery.add_sent(records);
        match writer.write_all(&buffer).await {
            Ok(()) => {
                delivery.add_request(buffer.len() as u64);
                delivery.add_accepted(records);
            }
            Err(error) => {
                tracing::warn!(%error, records, "Writing records failed; they are dropped.");
                delivery.add_rejected(RejectClass::Other, 0);
                delivery.add_dropped(DropReason::WriteFailed, records);
            }
        }
        if input.rx.is_empty() {
            let _ = writer.flush().await;
        }
    }
    let _ = writer.flush().await;
}

/// Renders a batch in `format`, each record ending in a newline.
pub fn render_batch(batch: &Batch, format: TextFormat, out: &mut Vec<u8>) {
    match batch {
        Batch::Logs(logs) => match format {
            TextFormat::Lines => render_log_lines(logs, out),
            TextFormat::Ndjson => render_log_ndjson(logs, out),
        },
        Batch::Metrics(metrics) => match format {
            TextFormat::Lines => render_metric_lines(metrics, out),
            TextFormat::Ndjson => render_metric_ndjson(metrics, out),
        },
        Batch::Traces(traces) => match format {
            TextFormat::Lines => render_span_lines(traces, out),
            TextFormat::Ndjson => render_span_ndjson(traces, out),
        },
    }
}

/// One readable line per span: time, ids, service, kind, name, duration and status.
pub fn render_span_lines(batch: &SpanBatch, out: &mut Vec<u8>) {
    for span in &batch.spans {
        crate::model::logs::push_rfc3339_nanos(out, span.start_ns);
        out.extend_from_slice(b" trace_id=");
        push_hex(out, &span.trace_id);
        out.extend_from_slice(b" span_id=");
        push_hex(out, &span.span_id);
        out.extend_from_slice(b" parent_id=");
        match span.parent_span_id {
            Some(parent) => push_hex(out, &parent),
            None => out.push(b'-'),
        }
        let service = batch.resource_of(span).get("service.name").unwrap_or("-");
        let _ = write!(
            out,
            " service={service} kind={:?} name={:?} duration_us={} status={:?}",
            span.kind,
            span.name,
            (span.end_ns - span.start_ns) / 1000,
            span.status
        );
        out.push(b'\n');
    }
}

/// One JSON object per span, with hex ids and attributes as a flat object.
pub fn render_span_ndjson(batch: &SpanBatch, out: &mut Vec<u8>) {
    for span in &batch.spans {
        out.extend_from_slice(b"{\"trace_id\":\"");
        push_hex(out, &span.trace_id);
        out.extend_from_slice(b"\",\"span_id\":\"");
        push_hex(out, &span.span_id);
        out.push(b'"');
        if let Some(parent) = span.parent_span_id {
            out.extend_from_slice(b",\"parent_span_id\":\"");
            push_hex(out, &parent);
            out.push(b'"');
        }
        out.extend_from_slice(b",\"tenant\":");
        json_string(out, batch.tenant.as_bytes());
        out.extend_from_slice(b",\"name\":");
        json_string(out, span.name.as_bytes());
        let _ = write!(
            out,
            ",\"kind\":{},\"start_ns\":{},\"end_ns\":{},\"status\":{}",
            span.kind as i32, span.start_ns, span.end_ns, span.status as i32
        );
        out.extend_from_slice(b",\"resource\":");
        attributes_json(&batch.resource_of(span).attributes, out);
        out.extend_from_slice(b",\"attributes\":");
        attributes_json(&span.attributes, out);
        out.extend_from_slice(b"}\n");
    }
}

fn attributes_json(attributes: &[KeyValue], out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, kv) in attributes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_string(out, kv.key.as_bytes());
        out.push(b':');
        match &kv.value {
            AttributeValue::String(text) => json_string(out, text.as_bytes()),
            AttributeValue::Int(value) => {
                out.extend_from_slice(itoa::Buffer::new().format(*value).as_bytes())
            }
            AttributeValue::Double(value) if value.is_finite() => push_float(out, *value),
            AttributeValue::Double(_) => out.extend_from_slice(b"null"),
            AttributeValue::Bool(value) => {
                out.extend_from_slice(if *value { b"true" } else { b"false" })
            }
        }
    }
    out.push(b'}');
}

/// Each sample as a text-format line with its millisecond timestamp:
/// `name{label="value"} 1.5 1700000000000`.
pub fn render_metric_lines(batch: &MetricBatch, out: &mut Vec<u8>) {
    for sample in &batch.samples {
        let series = batch.series_of(sample);
        out.extend_from_slice(series.name.as_bytes());
        if !series.labels.is_empty() {
            out.push(b'{');
            for (i, (name, value)) in series.labels.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"=\"");
                let mut escaped = String::new();
                escape_label_value(&mut escaped, value);
                out.extend_from_slice(escaped.as_bytes());
                out.push(b'"');
            }
            out.push(b'}');
        }
        out.push(b' ');
        push_float(out, sample.value);
        out.push(b' ');
        out.extend_from_slice(itoa::Buffer::new().format(sample.timestamp_ms).as_bytes());
        out.push(b'\n');
    }
}

/// One JSON object per sample: time, tenant, name, labels and value (a string for NaN and
/// infinities, which JSON numbers cannot hold).
pub fn render_metric_ndjson(batch: &MetricBatch, out: &mut Vec<u8>) {
    let mut tenant = Vec::new();
    json_string(&mut tenant, batch.tenant.as_bytes());
    for sample in &batch.samples {
        let series = batch.series_of(sample);
        out.extend_from_slice(b"{\"timestamp\":\"");
        crate::model::logs::push_rfc3339_nanos(out, sample.timestamp_ms.saturating_mul(1_000_000));
        out.extend_from_slice(b"\",\"tenant\":");
        out.extend_from_slice(&tenant);
        out.extend_from_slice(b",\"name\":");
        json_string(out, series.name.as_bytes());
        out.extend_from_slice(b",\"labels\":{");
        for (i, (name, value)) in series.labels.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_string(out, name.as_bytes());
            out.push(b':');
            json_string(out, value.as_bytes());
        }
        out.extend_from_slice(b"},\"value\":");
        if sample.value.is_finite() {
            push_float(out, sample.value);
        } else {
            out.push(b'"');
            push_float(out, sample.value);
            out.push(b'"');
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Each entry's line followed by a newline.
pub fn render_log_lines(batch: &LogBatch, out: &mut Vec<u8>) {
    for entry in &batch.entries {
        out.extend_from_slice(batch.line(entry));
        out.push(b'\n');
    }
}

/// One JSON object per entry: time, tenant, labels, severity, line, ids and metadata.
pub fn render_log_ndjson(batch: &LogBatch, out: &mut Vec<u8>) {
    let mut tenant = Vec::new();
    json_string(&mut tenant, batch.tenant.as_bytes());
    let mut labels: Vec<Vec<u8>> = Vec::with_capacity(batch.streams.len());
    for stream in &batch.streams {
        let mut text = vec![b'{'];
        for (i, (name, value)) in stream.pairs().iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            json_string(&mut text, name.as_bytes());
            text.push(b':');
            json_string(&mut text, value.as_bytes());
        }
        text.push(b'}');
        labels.push(text);
    }
    for entry in &batch.entries {
        out.extend_from_slice(b"{\"timestamp\":\"");
        crate::model::logs::push_rfc3339_nanos(out, entry.timestamp_ns);
        out.extend_from_slice(b"\",\"tenant\":");
        out.extend_from_slice(&tenant);
        out.extend_from_slice(b",\"labels\":");
        out.extend_from_slice(&labels[entry.stream as usize]);
        out.extend_from_slice(b",\"severity\":\"");
        out.extend_from_slice(entry.severity.as_str().as_bytes());
        out.extend_from_slice(b"\",\"line\":");
        json_string(out, batch.line(entry));
        if let Some(trace_id) = entry.trace_id {
            out.extend_from_slice(b",\"trace_id\":\"");
            push_hex(out, &trace_id);
            out.push(b'"');
        }
        if let Some(span_id) = entry.span_id {
            out.extend_from_slice(b",\"span_id\":\"");
            push_hex(out, &span_id);
            out.push(b'"');
        }
        let metadata = batch.metadata_of(entry);
        if !metadata.is_empty() {
            out.extend_from_slice(b",\"metadata\":{");
            for (i, pair) in metadata.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_string(out, pair.name.as_bytes());
                out.push(b':');
                json_string(out, batch.text_of(pair.value));
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Writes `bytes` as a JSON string; invalid UTF-8 becomes U+FFFD.
pub fn json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let text = String::from_utf8_lossy(bytes);
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Labels, Severity};

    #[test]
    fn ndjson_is_valid_json_with_ids_and_metadata() {
        let mut batch = LogBatch::new("acme".into());
        let labels = Arc::new(Labels::new([("service_name", "cart")]).expect("labels"));
        let stream = batch.stream_index(&labels);
        batch.push_line(
            stream,
            1_700_000_000_123_456_789,
            Severity::Warn,
            b"say \"hi\"\n\x01",
        );
        batch.entries[0].trace_id = Some([0xab; 16]);
        let meta_start = batch.metadata.len() as u32;
        batch.push_metadata("user_id", b"u-42");
        batch.entries[0].metadata = meta_start..meta_start + 1;
        let mut out = Vec::new();
        render_log_ndjson(&batch, &mut out);
        let value: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(value["timestamp"], "2023-11-14T22:13:20.123456789Z");
        assert_eq!(value["tenant"], "acme");
        assert_eq!(value["labels"]["service_name"], "cart");
        assert_eq!(value["line"], "say \"hi\"\n\u{1}");
        assert_eq!(value["trace_id"], "ab".repeat(16));
        assert_eq!(value["metadata"]["user_id"], "u-42");
    }
}
