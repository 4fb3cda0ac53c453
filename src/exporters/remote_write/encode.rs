//! Remote-write 1.0 bodies, encoded straight from a [`MetricBatch`].
//!
//! The message is `prometheus.WriteRequest` (Prometheus's `prompb/remote.proto` and
//! `types.proto`), written by hand in two passes: the first computes every message length, the
//! second writes tags, lengths and bytes into one reused buffer, which is then compressed as a
//! snappy **raw block** (never the framed format). Zero-valued scalar fields are omitted, as
//! every protobuf encoder does, so the bytes equal those of a generated encoder.
//!
//! Each series becomes one `TimeSeries` whose labels are `__name__`, the series labels and the
//! optional tenant label, sorted bytewise by name, without repeats or empty values; its samples
//! follow in ascending time (stably), in milliseconds. Values are copied bit for bit, so the
//! stale marker `0x7ff0000000000002` survives.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::model::MetricBatch;
use crate::model::metrics::{Family, MetricKind, MetricSample, Series};
use crate::random::mix64;

// Field tags: field number << 3 | wire type (0 varint, 1 fixed64, 2 length-delimited).
/// `WriteRequest.timeseries = 1`.
const REQUEST_TIMESERIES: u8 = 0x0a;
/// `WriteRequest.metadata = 3`.
const REQUEST_METADATA: u8 = 0x1a;
/// `TimeSeries.labels = 1`.
const SERIES_LABELS: u8 = 0x0a;
/// `TimeSeries.samples = 2`.
const SERIES_SAMPLES: u8 = 0x12;
/// `TimeSeries.exemplars = 3`.
const SERIES_EXEMPLARS: u8 = 0x1a;
/// `Label.name = 1`.
const LABEL_NAME: u8 = 0x0a;
/// `Label.value = 2`.
const LABEL_VALUE: u8 = 0x12;
/// `Sample.value = 1` (double).
const SAMPLE_VALUE: u8 = 0x09;
/// `Sample.timestamp = 2` (int64).
const SAMPLE_TIMESTAMP: u8 = 0x10;
/// `Exemplar.labels = 1`.
const EXEMPLAR_LABELS: u8 = 0x0a;
/// `Exemplar.value = 2` (double).
const EXEMPLAR_VALUE: u8 = 0x11;
/// `Exemplar.timestamp = 3` (int64).
const EXEMPLAR_TIMESTAMP: u8 = 0x18;
/// `MetricMetadata.type = 1` (enum).
const METADATA_TYPE: u8 = 0x08;
/// `MetricMetadata.metric_family_name = 2`.
const METADATA_FAMILY: u8 = 0x12;
/// `MetricMetadata.help = 4`.
const METADATA_HELP: u8 = 0x22;
/// `MetricMetadata.unit = 5`.
const METADATA_UNIT: u8 = 0x2a;

/// The metric-name label.
pub const NAME_LABEL: &str = "__name__";
/// Exemplar label holding the trace id (hex).
pub const TRACE_ID: &str = "trace_id";
/// Exemplar label holding the span id (hex).
pub const SPAN_ID: &str = "span_id";

/// What goes into a request besides the samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// A label name under which the batch's tenant is added to every series (replacing a series
    /// label of that name).
    pub tenant_label: Option<String>,
    /// Whether `MetricMetadata` (type, help, unit) of each family is sent.
    pub metadata: bool,
    /// Whether exemplars are sent.
    pub exemplars: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            tenant_label: None,
            metadata: true,
            exemplars: true,
        }
    }
}

/// Reusable scratch space for encoding write requests: sample order, lengths and the
/// uncompressed protobuf. Keep one per task to encode without allocating once warmed up.
pub struct WriteEncoder {
    /// Sample indices grouped by series, each group ordered by timestamp.
    order: Vec<u32>,
    /// Start of each series' group in `order` (one more element than series).
    group_starts: Vec<u32>,
    /// Each series' encoded labels (the repeated field, tags included), back to back.
    labels: Vec<u8>,
    /// End of each series' labels in `labels`, by series.
    label_ends: Vec<u32>,
    /// Encoded length of each `TimeSeries`, by series.
    series_lens: Vec<u32>,
    /// Index of one series per distinct family, in first-seen order.
    families: Vec<u32>,
    seen_families: HashSet<usize, BuildHasherDefault<PointerHasher>>,
    /// The uncompressed protobuf.
    proto: Vec<u8>,
    snappy: snap::raw::Encoder,
}

impl Default for WriteEncoder {
    fn default() -> Self {
        WriteEncoder::new()
    }
}

impl std::fmt::Debug for WriteEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteEncoder")
            .field("proto_capacity", &self.proto.capacity())
            .finish()
    }
}

impl WriteEncoder {
    /// A new encoder with empty scratch space.
    pub fn new() -> Self {
        WriteEncoder {
            order: Vec::new(),
            group_starts: Vec::new(),
            labels: Vec::new(),
            label_ends: Vec::new(),
            series_lens: Vec::new(),
            families: Vec::new(),
            seen_families: HashSet::default(),
            proto: Vec::new(),
            snappy: snap::raw::Encoder::new(),
        }
    }

    /// Replaces `out` with the snappy-compressed (raw block) `WriteRequest` of `batch`.
    pub fn encode(&mut self, batch: &MetricBatch, options: &EncodeOptions, out: &mut Vec<u8>) {
        self.encode_uncompressed(batch, options);
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

    /// The uncompressed `WriteRequest` of `batch`, valid until the next call.
    pub fn encode_uncompressed(&mut self, batch: &MetricBatch, options: &EncodeOptions) -> &[u8] {
        let tenant = options
            .tenant_label
            .as_deref()
            .filter(|name| !name.is_empty() && !batch.tenant.is_empty())
            .map(|name| (name, &*batch.tenant));
        self.group(batch);
        self.proto.clear();
        let total = self.measure(batch, tenant, options);
        self.proto.reserve(total);
        self.write(batch, options);
        debug_assert_eq!(self.proto.len(), total);
        &self.proto
    }

    /// Fills `order` with sample indices grouped by series (a counting sort, so stable) and
    /// sorts each group by timestamp when it is not already sorted. Samples that point past the
    /// batch's series are left out.
    fn group(&mut self, batch: &MetricBatch) {
        let series = batch.series.len();
        self.group_starts.clear();
        self.group_starts.resize(series + 1, 0);
        for sample in &batch.samples {
            if let Some(count) = self.group_starts.get_mut(sample.series as usize + 1) {
                *count += 1;
            }
        }
        for i in 0..series {
            self.group_starts[i + 1] += self.group_starts[i];
        }
        self.order.clear();
        self.order.resize(self.group_starts[series] as usize, 0);
        // `series_lens` serves as the per-series write cursor here; `measure` overwrites it.
        self.series_lens.clear();
        self.series_lens
            .extend_from_slice(&self.group_starts[..series]);
        for (index, sample) in batch.samples.iter().enumerate() {
            if let Some(cursor) = self.series_lens.get_mut(sample.series as usize) {
                self.order[*cursor as usize] = index as u32;
                *cursor += 1;
            }
        }
        for series in 0..series {
            let group = self.group_range(series);
            let slice = &mut self.order[group];
            let timestamp = |i: u32| batch.samples[i as usize].timestamp_ms;
            if !slice.is_sorted_by_key(|&i| timestamp(i)) {
                // The index breaks ties, which makes the unstable sort stable.
                slice.sort_unstable_by_key(|&i| (timestamp(i), i));
            }
        }
    }

    fn group_range(&self, series: usize) -> std::ops::Range<usize> {
        self.group_starts[series] as usize..self.group_starts[series + 1] as usize
    }

    /// Computes each series' lengths and returns the request's length.
    fn measure(
        &mut self,
        batch: &MetricBatch,
        tenant: Option<(&str, &str)>,
        options: &EncodeOptions,
    ) -> usize {
        self.labels.clear();
        self.label_ends.clear();
        self.series_lens.clear();
        self.families.clear();
        self.seen_families.clear();
        let mut total = 0;
        let mut last_family: Option<*const Family> = None;
        for (index, series) in batch.series.iter().enumerate() {
            let group = self.group_range(index);
            if group.is_empty() {
                self.label_ends.push(self.labels.len() as u32);
                self.series_lens.push(0);
                continue;
            }
            // Labels are written once here and copied in `write`, which keeps the merge of
            // `__name__` and the tenant label off the second pass.
            let start = self.labels.len();
            let out = &mut self.labels;
            for_each_label(series, tenant, |name, value| {
                write_label(out, SERIES_LABELS, name, value);
            });
            let mut body = self.labels.len() - start;
            for &i in &self.order[group] {
                let sample = &batch.samples[i as usize];
                body += field_len(sample_len(sample.value, sample.timestamp_ms));
                if options.exemplars
                    && let Some(exemplar) = &sample.exemplar
                {
                    body += field_len(exemplar_len(exemplar.value, exemplar.timestamp_ms));
                }
            }
            self.label_ends.push(self.labels.len() as u32);
            self.series_lens.push(body as u32);
            total += field_len(body);

            let family = Arc::as_ptr(&series.family);
            if options.metadata
                && last_family != Some(family)
                && self.seen_families.insert(family as usize)
            {
                self.families.push(index as u32);
                total += field_len(metadata_len(&series.family));
            }
            last_family = Some(family);
        }
        total
    }

    fn write(&mut self, batch: &MetricBatch, options: &EncodeOptions) {
        let mut out = std::mem::take(&mut self.proto);
        for index in 0..batch.series.len() {
            let group = self.group_range(index);
            if group.is_empty() {
                continue;
            }
            out.push(REQUEST_TIMESERIES);
            push_varint(&mut out, self.series_lens[index].into());
            let start = match index {
                0 => 0,
                _ => self.label_ends[index - 1] as usize,
            };
            out.extend_from_slice(&self.labels[start..self.label_ends[index] as usize]);
            for &i in &self.order[group.clone()] {
                let sample = &batch.samples[i as usize];
                out.push(SERIES_SAMPLES);
                push_varint(
                    &mut out,
                    sample_len(sample.value, sample.timestamp_ms) as u64,
                );
                write_scalars(&mut out, SAMPLE_VALUE, SAMPLE_TIMESTAMP, sample);
            }
            if options.exemplars {
                for &i in &self.order[group] {
                    write_exemplar(&mut out, &batch.samples[i as usize]);
                }
            }
        }
        for &index in &self.families {
            write_metadata(&mut out, &batch.series[index as usize].family);
        }
        self.proto = out;
    }
}

/// Hashes the address of a family, which is all the per-batch family set keys on.
#[derive(Default)]
struct PointerHasher(u64);

impl Hasher for PointerHasher {
    fn finish(&self) -> u64 {
        mix64(self.0)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) ^ u64::from(byte);
        }
    }

    fn write_usize(&mut self, value: usize) {
        self.0 = value as u64;
    }
}

thread_local! {
    static ENCODER: RefCell<WriteEncoder> = RefCell::new(WriteEncoder::new());
}

/// Replaces `out` with the wire-ready body (snappy raw block of a `WriteRequest`) of `batch`,
/// using a per-thread [`WriteEncoder`].
pub fn encode_write_request(batch: &MetricBatch, options: &EncodeOptions, out: &mut Vec<u8>) {
    ENCODER.with(|encoder| match encoder.try_borrow_mut() {
        Ok(mut encoder) => encoder.encode(batch, options, out),
        Err(_) => WriteEncoder::new().encode(batch, options, out),
    });
}

/// Calls `f` with each label of `series` as remote write sends it: `__name__`, the series labels
/// and `tenant`, sorted bytewise by name, the first of a repeated name winning (`__name__`, then
/// the tenant label, then the series' own), without empty names or values.
///
/// Series labels are sorted by construction, so this merges in one pass; labels built by hand
/// out of order take a slower path that sorts a copy.
pub fn for_each_label(
    series: &Series,
    tenant: Option<(&str, &str)>,
    mut f: impl FnMut(&str, &str),
) {
    let mut extras: [(&str, &str); 2] = [(NAME_LABEL, &series.name), ("", "")];
    if let Some(tenant) = tenant {
        extras[1] = tenant;
        if name_less(tenant.0, NAME_LABEL) {
            extras.swap(0, 1);
        }
    }
    let sorted = series
        .labels
        .windows(2)
        .all(|pair| !name_less(&pair[1].0, &pair[0].0));
    if !sorted {
        return for_each_unsorted(series, tenant, f);
    }

    let mut extras = extras
        .iter()
        .filter(|(name, _)| !name.is_empty())
        .peekable();
    let mut labels = series.labels.iter().map(|(n, v)| (&**n, &**v)).peekable();
    let mut last: Option<&str> = None;
    loop {
        let take_extra = match (extras.peek(), labels.peek()) {
            (None, None) => return,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(extra), Some(label)) => !name_less(label.0, extra.0),
        };
        let (name, value) = if take_extra {
            extras.next().copied()
        } else {
            labels.next()
        }
        .unwrap_or_default();
        if name.is_empty() || value.is_empty() || last == Some(name) {
            continue;
        }
        last = Some(name);
        f(name, value);
    }
}

/// Whether `a` sorts before `b` bytewise. Label names are short, where an inlined loop beats a
/// call to `memcmp`.
#[inline]
fn name_less(a: &str, b: &str) -> bool {
    for (x, y) in a.bytes().zip(b.bytes()) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

fn for_each_unsorted(series: &Series, tenant: Option<(&str, &str)>, mut f: impl FnMut(&str, &str)) {
    let mut all: Vec<(&str, &str)> = vec![(NAME_LABEL, &series.name)];
    all.extend(tenant);
    all.extend(series.labels.iter().map(|(n, v)| (&**n, &**v)));
    // Stable, so that `__name__` and the tenant label stay ahead of a series label of that name.
    all.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    all.retain(|(name, value)| !name.is_empty() && !value.is_empty());
    all.dedup_by(|later, earlier| later.0 == earlier.0);
    for (name, value) in all {
        f(name, value);
    }
}

/// The family name text 0.0.4 writes on `# TYPE` (`http_requests_total`), in two parts so that
/// nothing is allocated.
fn family_name(family: &Family) -> (&str, &'static str) {
    let suffix = match family.kind {
        MetricKind::Counter => "_total",
        MetricKind::Info => "_info",
        _ => "",
    };
    (&family.name, suffix)
}

fn label_len(name: usize, value: usize) -> usize {
    field_len(name) + field_len(value)
}

fn sample_len(value: f64, timestamp_ms: i64) -> usize {
    let mut len = 0;
    if value != 0.0 {
        len += 9;
    }
    if timestamp_ms != 0 {
        len += 1 + varint_len(timestamp_ms as u64);
    }
    len
}

/// Length of an `Exemplar` with trace and span ids.
fn exemplar_len(value: f64, timestamp_ms: i64) -> usize {
    field_len(label_len(TRACE_ID.len(), 32))
        + field_len(label_len(SPAN_ID.len(), 16))
        + sample_len(value, timestamp_ms)
}

fn metadata_len(family: &Family) -> usize {
    let kind = family.kind.remote_write_type();
    let (name, suffix) = family_name(family);
    let mut len = 1 + varint_len(kind as u64) + field_len(name.len() + suffix.len());
    if !family.help.is_empty() {
        len += field_len(family.help.len());
    }
    if !family.unit.is_empty() {
        len += field_len(family.unit.len());
    }
    len
}

/// Bytes of a length-delimited field (tag, length, body) whose body has `body` bytes.
fn field_len(body: usize) -> usize {
    1 + varint_len(body as u64) + body
}

fn write_label(out: &mut Vec<u8>, tag: u8, name: &str, value: &str) {
    out.push(tag);
    push_varint(out, label_len(name.len(), value.len()) as u64);
    push_bytes(out, LABEL_NAME, name.as_bytes());
    push_bytes(out, LABEL_VALUE, value.as_bytes());
}

/// `value` and `timestamp` of a `Sample` (or, with other tags, of an `Exemplar`).
fn write_scalars(out: &mut Vec<u8>, value_tag: u8, timestamp_tag: u8, sample: &MetricSample) {
    write_value_time(
        out,
        value_tag,
        timestamp_tag,
        sample.value,
        sample.timestamp_ms,
    );
}

fn write_value_time(out: &mut Vec<u8>, value_tag: u8, time_tag: u8, value: f64, time: i64) {
    if value != 0.0 {
        out.push(value_tag);
        out.extend_from_slice(&value.to_bits().to_le_bytes());
    }
    if time != 0 {
        out.push(time_tag);
        push_varint(out, time as u64);
    }
}

fn write_exemplar(out: &mut Vec<u8>, sample: &MetricSample) {
    let Some(exemplar) = &sample.exemplar else {
        return;
    };
    out.push(SERIES_EXEMPLARS);
    push_varint(
        out,
        exemplar_len(exemplar.value, exemplar.timestamp_ms) as u64,
    );
    let mut span = [0u8; 16];
    let mut trace = [0u8; 32];
    hex_into(&exemplar.span_id, &mut span);
    hex_into(&exemplar.trace_id, &mut trace);
    // Sorted by name: `span_id` < `trace_id`.
    write_label_bytes(out, SPAN_ID, &span);
    write_label_bytes(out, TRACE_ID, &trace);
    write_value_time(
        out,
        EXEMPLAR_VALUE,
        EXEMPLAR_TIMESTAMP,
        exemplar.value,
        exemplar.timestamp_ms,
    );
}

fn write_label_bytes(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(EXEMPLAR_LABELS);
    push_varint(out, label_len(name.len(), value.len()) as u64);
    push_bytes(out, LABEL_NAME, name.as_bytes());
    push_bytes(out, LABEL_VALUE, value);
}

fn write_metadata(out: &mut Vec<u8>, family: &Family) {
    out.push(REQUEST_METADATA);
    push_varint(out, metadata_len(family) as u64);
    let kind = family.kind.remote_write_type();
    out.push(METADATA_TYPE);
    push_varint(out, kind as u64);
    let (name, suffix) = family_name(family);
    out.push(METADATA_FAMILY);
    push_varint(out, (name.len() + suffix.len()) as u64);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(suffix.as_bytes());
    if !family.help.is_empty() {
        push_bytes(out, METADATA_HELP, family.help.as_bytes());
    }
    if !family.unit.is_empty() {
        push_bytes(out, METADATA_UNIT, family.unit.as_bytes());
    }
}

/// Lower-case hex of `bytes` into `out`, which holds exactly twice as many bytes.
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

/// Bytes of `value` as a protobuf varint (negative `int64`s take ten).
fn varint_len(value: u64) -> usize {
    ((64 - (value | 1).leading_zeros()) as usize).div_ceil(7)
}

#[inline]
fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[inline]
fn push_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    push_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests;
