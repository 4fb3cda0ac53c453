//! Loki push bodies, encoded straight from a [`LogBatch`]'s arena.
//!
//! Protobuf: `logproto.PushRequest` (Loki's `pkg/push/push.proto`), written by hand in two
//! passes: the first computes every message length, the second writes tags, lengths and bytes
//! into one buffer, which is then compressed as a snappy **raw block** (never the framed
//! format). JSON: the `streams`/`values` document with nanosecond timestamps as strings.
//!
//! Both group entries by stream and order each stream's entries by timestamp (stably), because
//! Loki refuses entries that fall more than an hour behind their stream's newest one.

use std::cell::RefCell;

use crate::exporters::file;
use crate::model::{LogBatch, LogEntry, push_hex};

// Field tags (field number << 3 | wire type 2, length-delimited) and varint tags (wire type 0).
/// `PushRequest.streams = 1`.
const PUSH_STREAMS: u8 = 0x0a;
/// `StreamAdapter.labels = 1`.
const STREAM_LABELS: u8 = 0x0a;
/// `StreamAdapter.entries = 2`.
const STREAM_ENTRIES: u8 = 0x12;
/// `EntryAdapter.timestamp = 1`.
const ENTRY_TIMESTAMP: u8 = 0x0a;
/// `EntryAdapter.line = 2`.
const ENTRY_LINE: u8 = 0x12;
/// `EntryAdapter.structuredMetadata = 3`.
const ENTRY_METADATA: u8 = 0x1a;
/// `LabelPairAdapter.name = 1`.
const PAIR_NAME: u8 = 0x0a;
/// `LabelPairAdapter.value = 2`.
const PAIR_VALUE: u8 = 0x12;
/// `Timestamp.seconds = 1` (varint).
const TIMESTAMP_SECONDS: u8 = 0x08;
/// `Timestamp.nanos = 2` (varint).
const TIMESTAMP_NANOS: u8 = 0x10;

/// Structured-metadata name of an entry's trace id (hex).
pub const TRACE_ID: &str = "trace_id";
/// Structured-metadata name of an entry's span id (hex).
pub const SPAN_ID: &str = "span_id";

/// Reusable scratch space for encoding push bodies: entry order, lengths and the uncompressed
/// protobuf. Keep one per task to encode without allocating once warmed up.
pub struct PushEncoder {
    /// Entry indices grouped by stream, each group ordered by timestamp.
    order: Vec<u32>,
    /// Start of each stream's group in `order` (one more element than streams).
    group_starts: Vec<u32>,
    /// Encoded length of each `EntryAdapter`, by position in `order`.
    entry_lens: Vec<u32>,
    /// The uncompressed protobuf.
    proto: Vec<u8>,
    snappy: snap::raw::Encoder,
}

impl Default for PushEncoder {
    fn default() -> Self {
        PushEncoder::new()
    }
}

impl std::fmt::Debug for PushEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushEncoder")
            .field("proto_capacity", &self.proto.capacity())
            .finish()
    }
}

impl PushEncoder {
    /// A new encoder with empty scratch space.
    pub fn new() -> Self {
        PushEncoder {
            order: Vec::new(),
            group_starts: Vec::new(),
            entry_lens: Vec::new(),
            proto: Vec::new(),
            snappy: snap::raw::Encoder::new(),
        }
    }

    /// Replaces `out` with the snappy-compressed (raw block) `PushRequest` of `batch`.
    pub fn encode_protobuf(&mut self, batch: &LogBatch, out: &mut Vec<u8>) {
        self.encode_protobuf_uncompressed(batch);
        let max = snap::raw::max_compress_len(self.proto.len());
        if out.len() < max {
            out.resize(max, 0);
        }
        match self.snappy.compress(&self.proto, &mut out[..max]) {
            Ok(written) => out.truncate(written),
            // Only an input over ~4 GiB fails; there is nothing useful to send then.
            Err(_) => out.clear(),
        }
    }

    /// The uncompressed `PushRequest` of `batch`, valid until the next call.
    pub fn encode_protobuf_uncompressed(&mut self, batch: &LogBatch) -> &[u8] {
        self.group(batch);
        self.proto.clear();
        let total = self.measure(batch);
        self.proto.reserve(total);
        self.write(batch);
        debug_assert_eq!(self.proto.len(), total);
        &self.proto
    }

    /// Replaces `out` with the JSON push body of `batch`.
    pub fn encode_json(&mut self, batch: &LogBatch, out: &mut Vec<u8>) {
        self.group(batch);
        out.clear();
        out.extend_from_slice(b"{\"streams\":[");
        let mut first_stream = true;
        for (stream, group) in self.groups() {
            if group.is_empty() {
                continue;
            }
            if !first_stream {
                out.push(b',');
            }
            first_stream = false;
            out.extend_from_slice(b"{\"stream\":{");
            for (i, (name, value)) in batch.streams[stream].pairs().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_string(out, name.as_bytes());
                out.push(b':');
                json_string(out, value.as_bytes());
            }
            out.extend_from_slice(b"},\"values\":[");
            for (i, &index) in self.order[group].iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_value(batch, &batch.entries[index as usize], out);
            }
            out.extend_from_slice(b"]}");
        }
        out.extend_from_slice(b"]}");
    }

    /// Fills `order` with entry indices grouped by stream (a counting sort, so stable) and sorts
    /// each group by timestamp when it is not already sorted.
    fn group(&mut self, batch: &LogBatch) {
        let streams = batch.streams.len();
        self.group_starts.clear();
        self.group_starts.resize(streams + 1, 0);
        for entry in &batch.entries {
            self.group_starts[entry.stream as usize + 1] += 1;
        }
        for i in 0..streams {
            self.group_starts[i + 1] += self.group_starts[i];
        }
        self.order.clear();
        self.order.resize(batch.entries.len(), 0);
        // `entry_lens` serves as the per-stream write cursor here; `measure` overwrites it.
        self.entry_lens.clear();
        self.entry_lens
            .extend_from_slice(&self.group_starts[..streams]);
        for (index, entry) in batch.entries.iter().enumerate() {
            let cursor = &mut self.entry_lens[entry.stream as usize];
            self.order[*cursor as usize] = index as u32;
            *cursor += 1;
        }
        for stream in 0..streams {
            let group = self.group_range(stream);
            let slice = &mut self.order[group];
            let sorted = slice.windows(2).all(|pair| {
                batch.entries[pair[0] as usize].timestamp_ns
                    <= batch.entries[pair[1] as usize].timestamp_ns
            });
            if !sorted {
                // The index breaks ties, which makes the unstable sort stable.
                slice.sort_unstable_by_key(|&i| (batch.entries[i as usize].timestamp_ns, i));
            }
        }
    }

    fn group_range(&self, stream: usize) -> std::ops::Range<usize> {
        self.group_starts[stream] as usize..self.group_starts[stream + 1] as usize
    }

    fn groups(&self) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + use<'_> {
        (0..self.group_starts.len().saturating_sub(1)).map(|s| (s, self.group_range(s)))
    }

    /// Computes each entry's length into `entry_lens` and returns the request's length.
    fn measure(&mut self, batch: &LogBatch) -> usize {
        self.entry_lens.clear();
        self.entry_lens.extend(self.order.iter().map(|&i| {
            let entry = &batch.entries[i as usize];
            entry_len(batch, entry) as u32
        }));
        let mut total = 0;
        for (stream, group) in self.groups() {
            if group.is_empty() {
                continue;
            }
            let body = self.stream_len(batch, stream, group);
            total += 1 + varint_len(body as u64) + body;
        }
        total
    }

    fn stream_len(&self, batch: &LogBatch, stream: usize, group: std::ops::Range<usize>) -> usize {
        let selector = batch.streams[stream].selector().len();
        let entries: usize = self.entry_lens[group]
            .iter()
            .map(|&len| 1 + varint_len(len.into()) + len as usize)
            .sum();
        1 + varint_len(selector as u64) + selector + entries
    }

    fn write(&mut self, batch: &LogBatch) {
        let mut proto = std::mem::take(&mut self.proto);
        for (stream, group) in self.groups() {
            if group.is_empty() {
                continue;
            }
            let body = self.stream_len(batch, stream, group.clone());
            proto.push(PUSH_STREAMS);
            push_varint(&mut proto, body as u64);
            push_bytes(
                &mut proto,
                STREAM_LABELS,
                batch.streams[stream].selector().as_bytes(),
            );
            for position in group {
                let entry = &batch.entries[self.order[position] as usize];
                proto.push(STREAM_ENTRIES);
                push_varint(&mut proto, self.entry_lens[position].into());
                write_entry(batch, entry, &mut proto);
            }
        }
        self.proto = proto;
    }
}

thread_local! {
    static ENCODER: RefCell<PushEncoder> = RefCell::new(PushEncoder::new());
}

/// Replaces `out` with the snappy-compressed (raw block) protobuf `PushRequest` of `batch`,
/// using a per-thread [`PushEncoder`].
pub fn encode_protobuf(batch: &LogBatch, out: &mut Vec<u8>) {
    ENCODER.with(|encoder| match encoder.try_borrow_mut() {
        Ok(mut encoder) => encoder.encode_protobuf(batch, out),
        Err(_) => PushEncoder::new().encode_protobuf(batch, out),
    });
}

/// Replaces `out` with the JSON push body of `batch`, using a per-thread [`PushEncoder`].
pub fn encode_json(batch: &LogBatch, out: &mut Vec<u8>) {
    ENCODER.with(|encoder| match encoder.try_borrow_mut() {
        Ok(mut encoder) => encoder.encode_json(batch, out),
        Err(_) => PushEncoder::new().encode_json(batch, out),
    });
}

/// `seconds` and `nanos` of a `google.protobuf.Timestamp`.
fn split_timestamp(timestamp_ns: i64) -> (i64, i32) {
    (
        timestamp_ns.div_euclid(1_000_000_000),
        timestamp_ns.rem_euclid(1_000_000_000) as i32,
    )
}

fn timestamp_len(timestamp_ns: i64) -> usize {
    let (seconds, nanos) = split_timestamp(timestamp_ns);
    let mut len = 0;
    if seconds != 0 {
        len += 1 + varint_len(seconds as u64);
    }
    if nanos != 0 {
        len += 1 + varint_len(nanos as u64);
    }
    len
}

fn pair_len(name: usize, value: usize) -> usize {
    1 + varint_len(name as u64) + name + 1 + varint_len(value as u64) + value
}

fn field_len(body: usize) -> usize {
    1 + varint_len(body as u64) + body
}

fn entry_len(batch: &LogBatch, entry: &LogEntry) -> usize {
    let mut len = field_len(timestamp_len(entry.timestamp_ns));
    len += field_len(entry.line.len as usize);
    if entry.trace_id.is_some() {
        len += field_len(pair_len(TRACE_ID.len(), 32));
    }
    if entry.span_id.is_some() {
        len += field_len(pair_len(SPAN_ID.len(), 16));
    }
    for pair in batch.metadata_of(entry) {
        len += field_len(pair_len(pair.name.len(), pair.value.len as usize));
    }
    len
}

fn write_entry(batch: &LogBatch, entry: &LogEntry, out: &mut Vec<u8>) {
    let (seconds, nanos) = split_timestamp(entry.timestamp_ns);
    out.push(ENTRY_TIMESTAMP);
    push_varint(out, timestamp_len(entry.timestamp_ns) as u64);
    if seconds != 0 {
        out.push(TIMESTAMP_SECONDS);
        push_varint(out, seconds as u64);
    }
    if nanos != 0 {
        out.push(TIMESTAMP_NANOS);
        push_varint(out, nanos as u64);
    }
    push_bytes(out, ENTRY_LINE, batch.line(entry));
    let mut hex = [0u8; 32];
    if let Some(trace_id) = &entry.trace_id {
        write_pair(out, TRACE_ID.as_bytes(), hex_into(trace_id, &mut hex));
    }
    if let Some(span_id) = &entry.span_id {
        write_pair(out, SPAN_ID.as_bytes(), hex_into(span_id, &mut hex));
    }
    for pair in batch.metadata_of(entry) {
        write_pair(out, pair.name.as_bytes(), batch.text_of(pair.value));
    }
}

fn write_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(ENTRY_METADATA);
    push_varint(out, pair_len(name.len(), value.len()) as u64);
    push_bytes(out, PAIR_NAME, name);
    push_bytes(out, PAIR_VALUE, value);
}

fn hex_into<'a>(bytes: &[u8], out: &'a mut [u8; 32]) -> &'a [u8] {
    for (i, byte) in bytes.iter().enumerate() {
        out[2 * i] = HEX_DIGITS[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX_DIGITS[usize::from(byte & 0x0f)];
    }
    &out[..bytes.len() * 2]
}

fn json_value(batch: &LogBatch, entry: &LogEntry, out: &mut Vec<u8>) {
    out.extend_from_slice(b"[\"");
    out.extend_from_slice(itoa::Buffer::new().format(entry.timestamp_ns).as_bytes());
    out.extend_from_slice(b"\",");
    json_string(out, batch.line(entry));
    let metadata = batch.metadata_of(entry);
    if entry.trace_id.is_some() || entry.span_id.is_some() || !metadata.is_empty() {
        out.extend_from_slice(b",{");
        let mut first = true;
        let mut separator = |out: &mut Vec<u8>| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
        };
        if let Some(trace_id) = &entry.trace_id {
            separator(out);
            out.extend_from_slice(b"\"trace_id\":\"");
            push_hex(out, trace_id);
            out.push(b'"');
        }
        if let Some(span_id) = &entry.span_id {
            separator(out);
            out.extend_from_slice(b"\"span_id\":\"");
            push_hex(out, span_id);
            out.push(b'"');
        }
        for pair in metadata {
            separator(out);
            json_string(out, pair.name.as_bytes());
            out.push(b':');
            json_string(out, batch.text_of(pair.value));
        }
        out.push(b'}');
    }
    out.push(b']');
}

/// Writes `bytes` as a JSON string, copying runs that need no escape in one go; invalid UTF-8
/// takes the slower path that replaces it with U+FFFD.
fn json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    if std::str::from_utf8(bytes).is_err() {
        return file::json_string(out, bytes);
    }
    out.push(b'"');
    let mut run = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..0x20 => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX_DIGITS[usize::from(byte >> 4)]);
            out.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
        } else {
            out.extend_from_slice(escape);
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Bytes of `value` as a protobuf varint.
fn varint_len(value: u64) -> usize {
    ((64 - (value | 1).leading_zeros()) as usize).div_ceil(7)
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn push_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    push_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests;
