//! Spans straight to OTLP protobuf bytes, without building `opentelemetry-proto` messages.
//!
//! Building the generated structs copies every name, key and string value into a fresh
//! `String`; at a million spans a second that allocation is most of the cost. [`SpanEncoder`]
//! writes `ExportTraceServiceRequest` bytes from the model with prost's encoding helpers instead,
//! sizing each nested message first (protobuf prefixes them with their length). The bytes are
//! the same message as [`super::convert::trace_request`] encodes; a test decodes both with the
//! generated types and compares them, so a wrong field number cannot pass.
//!
//! Field numbers are those of `opentelemetry/proto/trace/v1/trace.proto` and
//! `common/v1/common.proto` (OTLP 1.10).

use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

use super::convert::{SCHEMA_URL, SCOPE_NAME, span_flags};
use crate::model::SpanBatch;
use crate::model::traces::{AttributeValue, KeyValue, Span, SpanEvent, SpanLink, StatusCode};

/// Reusable scratch space for encoding span batches.
#[derive(Debug, Default)]
pub struct SpanEncoder {
    /// Encoded length of each span of the batch being written.
    span_lengths: Vec<usize>,
    /// Spans of the batch by resource: `(resource, span indices)`.
    groups: Vec<(u32, Vec<u32>)>,
    /// Index into `groups` for each resource, `usize::MAX` when it has no span yet.
    group_of: Vec<usize>,
}

impl SpanEncoder {
    /// An encoder with empty scratch space.
    pub fn new() -> Self {
        SpanEncoder::default()
    }

    /// Appends the `ExportTraceServiceRequest` of `batch` to `out`: one `ResourceSpans` per
    /// resource that has spans, in order of first appearance, each with one `synthtel` scope.
    pub fn encode(&mut self, batch: &SpanBatch, out: &mut Vec<u8>) {
        self.group(batch);
        self.span_lengths.clear();
        self.span_lengths.extend(batch.spans.iter().map(span_len));
        let scope = scope_len();
        for (resource, spans) in &self.groups {
            let attributes = &batch.resources[*resource as usize].attributes;
            let resource_len = attributes_len(1, attributes);
            let spans_len: usize = spans
                .iter()
                .map(|i| nested_len(2, self.span_lengths[*i as usize]))
                .sum();
            let scope_spans_len = nested_len(1, scope) + spans_len + string_len(3, SCHEMA_URL);
            let resource_spans_len = nested_len(1, resource_len)
                + nested_len(2, scope_spans_len)
                + string_len(3, SCHEMA_URL);

            put_len(out, 1, resource_spans_len);
            put_len(out, 1, resource_len);
            put_attributes(out, 1, attributes);
            put_len(out, 2, scope_spans_len);
            put_scope(out, scope);
            for i in spans {
                put_len(out, 2, self.span_lengths[*i as usize]);
                put_span(out, &batch.spans[*i as usize]);
            }
            put_string(out, 3, SCHEMA_URL);
            put_string(out, 3, SCHEMA_URL);
        }
    }

    fn group(&mut self, batch: &SpanBatch) {
        for (_, spans) in &mut self.groups {
            spans.clear();
        }
        let mut used = 0;
        self.group_of.clear();
        self.group_of.resize(batch.resources.len(), usize::MAX);
        for (i, span) in batch.spans.iter().enumerate() {
            let slot = &mut self.group_of[span.resource as usize];
            if *slot == usize::MAX {
                if used == self.groups.len() {
                    self.groups.push((span.resource, Vec::new()));
                }
                self.groups[used].0 = span.resource;
                *slot = used;
                used += 1;
            }
            self.groups[*slot].1.push(i as u32);
        }
        self.groups.truncate(used);
    }
}

/// Length of a length-delimited field whose payload is `len` bytes.
fn nested_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn string_len(tag: u32, text: &str) -> usize {
    if text.is_empty() {
        0
    } else {
        nested_len(tag, text.len())
    }
}

fn put_len(out: &mut Vec<u8>, tag: u32, len: usize) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

fn put_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_len(out, tag, bytes.len());
        out.extend_from_slice(bytes);
    }
}

fn put_string(out: &mut Vec<u8>, tag: u32, text: &str) {
    put_bytes(out, tag, text.as_bytes());
}

fn put_fixed64(out: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        encode_key(tag, WireType::SixtyFourBit, out);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn put_fixed32(out: &mut Vec<u8>, tag: u32, value: u32) {
    if value != 0 {
        encode_key(tag, WireType::ThirtyTwoBit, out);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn put_varint(out: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        encode_key(tag, WireType::Varint, out);
        encode_varint(value, out);
    }
}

fn fixed64_len(tag: u32, value: u64) -> usize {
    if value == 0 { 0 } else { key_len(tag) + 8 }
}

fn fixed32_len(tag: u32, value: u32) -> usize {
    if value == 0 { 0 } else { key_len(tag) + 4 }
}

fn varint_len(tag: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(value)
    }
}

fn nanos(ns: i64) -> u64 {
    u64::try_from(ns).unwrap_or(0)
}

/// `InstrumentationScope { name = 1, version = 2 }`.
fn scope_len() -> usize {
    string_len(1, SCOPE_NAME) + string_len(2, env!("CARGO_PKG_VERSION"))
}

fn put_scope(out: &mut Vec<u8>, len: usize) {
    put_len(out, 1, len);
    put_string(out, 1, SCOPE_NAME);
    put_string(out, 2, env!("CARGO_PKG_VERSION"));
}

/// `AnyValue { string_value = 1, bool_value = 2, int_value = 3, double_value = 4 }`; prost
/// writes a set oneof member even when it holds the default value.
fn any_value_len(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::String(text) => nested_len(1, text.len()),
        AttributeValue::Bool(_) => key_len(2) + 1,
        AttributeValue::Int(n) => key_len(3) + encoded_len_varint(*n as u64),
        AttributeValue::Double(_) => key_len(4) + 8,
    }
}

fn put_any_value(out: &mut Vec<u8>, value: &AttributeValue) {
    match value {
        AttributeValue::String(text) => {
            put_len(out, 1, text.len());
            out.extend_from_slice(text.as_bytes());
        }
        AttributeValue::Bool(b) => {
            encode_key(2, WireType::Varint, out);
            out.push(u8::from(*b));
        }
        AttributeValue::Int(n) => {
            encode_key(3, WireType::Varint, out);
            encode_varint(*n as u64, out);
        }
        AttributeValue::Double(x) => {
            encode_key(4, WireType::SixtyFourBit, out);
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
}

/// `KeyValue { key = 1, value = 2 }`.
fn key_value_len(pair: &KeyValue) -> usize {
    string_len(1, &pair.key) + nested_len(2, any_value_len(&pair.value))
}

fn attributes_len(tag: u32, pairs: &[KeyValue]) -> usize {
    pairs
        .iter()
        .map(|pair| nested_len(tag, key_value_len(pair)))
        .sum()
}

fn put_attributes(out: &mut Vec<u8>, tag: u32, pairs: &[KeyValue]) {
    for pair in pairs {
        put_len(out, tag, key_value_len(pair));
        put_string(out, 1, &pair.key);
        put_len(out, 2, any_value_len(&pair.value));
        put_any_value(out, &pair.value);
    }
}

/// `Span.Event { time_unix_nano = 1, name = 2, attributes = 3 }`.
fn event_len(event: &SpanEvent) -> usize {
    fixed64_len(1, nanos(event.time_ns))
        + string_len(2, &event.name)
        + attributes_len(3, &event.attributes)
}

/// `Span.Link { trace_id = 1, span_id = 2, attributes = 4, flags = 6 }`.
fn link_len(link: &SpanLink) -> usize {
    nested_len(1, 16) + nested_len(2, 8) + attributes_len(4, &link.attributes) + key_len(6) + 4
}

/// `Status { message = 2, code = 3 }`, written only when the code is set.
fn status_len(span: &Span) -> usize {
    string_len(2, status_message(span)) + varint_len(3, span.status as u64)
}

fn status_message(span: &Span) -> &str {
    match (span.status, &span.status_message) {
        (StatusCode::Error, Some(message)) => message,
        _ => "",
    }
}

/// `Span`: ids 1, 2, 4; name 5; kind 6; times 7, 8; attributes 9; events 11; links 13;
/// status 15; flags 16.
fn span_len(span: &Span) -> usize {
    let mut len = nested_len(1, 16) + nested_len(2, 8);
    if span.parent_span_id.is_some() {
        len += nested_len(4, 8);
    }
    len += string_len(5, &span.name)
        + varint_len(6, span.kind as u64)
        + fixed64_len(7, nanos(span.start_ns))
        + fixed64_len(8, nanos(span.end_ns.max(span.start_ns)))
        + attributes_len(9, &span.attributes)
        + fixed32_len(16, span_flags(span.flags));
    for event in &span.events {
        len += nested_len(11, event_len(event));
    }
    for link in &span.links {
        len += nested_len(13, link_len(link));
    }
    if span.status != StatusCode::Unset {
        len += nested_len(15, status_len(span));
    }
    len
}

fn put_span(out: &mut Vec<u8>, span: &Span) {
    put_bytes(out, 1, &span.trace_id);
    put_bytes(out, 2, &span.span_id);
    if let Some(parent) = &span.parent_span_id {
        put_bytes(out, 4, parent);
    }
    put_string(out, 5, &span.name);
    put_varint(out, 6, span.kind as u64);
    put_fixed64(out, 7, nanos(span.start_ns));
    put_fixed64(out, 8, nanos(span.end_ns.max(span.start_ns)));
    put_attributes(out, 9, &span.attributes);
    for event in &span.events {
        put_len(out, 11, event_len(event));
        put_fixed64(out, 1, nanos(event.time_ns));
        put_string(out, 2, &event.name);
        put_attributes(out, 3, &event.attributes);
    }
    for link in &span.links {
        put_len(out, 13, link_len(link));
        put_bytes(out, 1, &link.trace_id);
        put_bytes(out, 2, &link.span_id);
        put_attributes(out, 4, &link.attributes);
        encode_key(6, WireType::ThirtyTwoBit, out);
        out.extend_from_slice(&span_flags(0x01).to_le_bytes());
    }
    if span.status != StatusCode::Unset {
        put_len(out, 15, status_len(span));
        put_string(out, 2, status_message(span));
        put_varint(out, 3, span.status as u64);
    }
    put_fixed32(out, 16, span_flags(span.flags));
}

/// Encoded size of one span inside a request, for splitting batches below a size limit.
pub fn span_size(span: &Span) -> usize {
    nested_len(2, span_len(span))
}
