//! Exposition renderers: Prometheus text 0.0.4 and OpenMetrics 1.0, as [`SampleSink`]s.
//!
//! A target set streams one target's samples family by family; a renderer writes each one
//! straight into a byte buffer that is reused for the whole scrape, with no allocation per
//! sample. Once the buffer passes [`CHUNK_BYTES`] it is handed to a [`Spill`], which compresses
//! or sends it and clears it, so a target of a million series never sits in memory whole.

use crate::model::metrics::{Exemplar, Family, MetricKind, SampleSink, push_float};
use crate::model::push_hex;

/// Size at which a renderer hands its buffer to the [`Spill`].
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Code points of the exemplar label set `trace_id="<32 hex>",span_id="<16 hex>"` (names plus
/// values), which OpenMetrics caps at 128.
pub const EXEMPLAR_LABEL_CODE_POINTS: usize = "trace_id".len() + 32 + "span_id".len() + 16;

const _: () = assert!(EXEMPLAR_LABEL_CODE_POINTS <= 128);

/// Takes full chunks of an exposition off a renderer.
pub trait Spill {
    /// Consumes the bytes of `buffer` and leaves it empty (or keeps them, see [`Keep`]).
    fn spill(&mut self, buffer: &mut Vec<u8>);
}

/// Keeps the whole exposition in the renderer's buffer: for tests, tools and benches.
#[derive(Debug, Default)]
pub struct Keep;

impl Spill for Keep {
    fn spill(&mut self, _: &mut Vec<u8>) {}
}

/// The output buffer and bookkeeping both renderers share.
struct Writer<S> {
    out: Vec<u8>,
    spill: S,
    samples: u64,
}

impl<S: Spill> Writer<S> {
    fn new(out: Vec<u8>, spill: S) -> Self {
        Writer {
            out,
            spill,
            samples: 0,
        }
    }

    /// `{name="value",…}`, or nothing for an empty label set.
    fn labels(&mut self, labels: &[(&str, &str)]) {
        let Some(((first_name, first_value), rest)) = labels.split_first() else {
            return;
        };
        self.out.push(b'{');
        self.pair(first_name, first_value);
        for (name, value) in rest {
            self.out.push(b',');
            self.pair(name, value);
        }
        self.out.push(b'}');
    }

    fn pair(&mut self, name: &str, value: &str) {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"=\"");
        push_escaped(&mut self.out, value, true);
        self.out.push(b'"');
    }

    /// `name{labels} value`, without the line end.
    fn sample_head(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.extend_from_slice(name.as_bytes());
        self.labels(labels);
        self.out.push(b' ');
        push_float(&mut self.out, value);
    }

    fn end_line(&mut self) {
        self.out.push(b'\n');
        if self.out.len() >= CHUNK_BYTES {
            self.spill.spill(&mut self.out);
        }
    }

    /// `# KEYWORD name text\n`, with the text escaped for the format.
    fn metadata(&mut self, keyword: &str, name: &str, text: &str, escape_quotes: bool) {
        self.out.extend_from_slice(b"# ");
        self.out.extend_from_slice(keyword.as_bytes());
        self.out.push(b' ');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b' ');
        push_escaped(&mut self.out, text, escape_quotes);
        self.out.push(b'\n');
    }

    fn finish(mut self) -> (Vec<u8>, S, u64) {
        if !self.out.is_empty() {
            self.spill.spill(&mut self.out);
        }
        (self.out, self.spill, self.samples)
    }
}

/// Writes `text` with `\` and newline escaped, and `"` too when `quotes` is set.
pub fn push_escaped(out: &mut Vec<u8>, text: &str, quotes: bool) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (at, byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'"' if quotes => b"\\\"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..at]);
        out.extend_from_slice(escaped);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Renders Prometheus text format 0.0.4: `# HELP` and `# TYPE` under the text name (`_total` on
/// counters), no exemplars, no `_created`, no timestamps.
pub struct TextRenderer<S = Keep> {
    writer: Writer<S>,
    timestamp_ms: Option<i64>,
}

impl TextRenderer<Keep> {
    /// A renderer that keeps the whole exposition.
    pub fn new() -> Self {
        TextRenderer::with_spill(Vec::new(), Keep)
    }
}

impl Default for TextRenderer<Keep> {
    fn default() -> Self {
        TextRenderer::new()
    }
}

impl<S: Spill> TextRenderer<S> {
    /// A renderer writing into `buffer` (cleared first) and handing full chunks to `spill`.
    pub fn with_spill(mut buffer: Vec<u8>, spill: S) -> Self {
        buffer.clear();
        TextRenderer {
            writer: Writer::new(buffer, spill),
            timestamp_ms: None,
        }
    }

    /// Writes `timestamp_ms` (integer milliseconds) on the samples that follow, or none. Scrapes
    /// never do; offline files for backfill do.
    pub fn set_timestamp(&mut self, timestamp_ms: Option<i64>) {
        self.timestamp_ms = timestamp_ms;
    }

    /// Spills what is left; returns the buffer (the whole exposition with [`Keep`]), the spill
    /// and the number of samples written.
    pub fn finish(self) -> (Vec<u8>, S, u64) {
        self.writer.finish()
    }
}

impl<S: Spill> SampleSink for TextRenderer<S> {
    fn family(&mut self, family: &Family) {
        let name = family.text_name();
        if !family.help.is_empty() {
            self.writer.metadata("HELP", &name, &family.help, false);
        }
        self.writer
            .metadata("TYPE", &name, family.kind.text_name(), false);
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64, _: Option<&Exemplar>) {
        self.writer.sample_head(name, labels, value);
        if let Some(timestamp_ms) = self.timestamp_ms {
            self.writer.out.push(b' ');
            self.writer
                .out
                .extend_from_slice(itoa::Buffer::new().format(timestamp_ms).as_bytes());
        }
        self.writer.samples += 1;
        self.writer.end_line();
    }
}

/// What an OpenMetrics rendering includes beyond the samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenMetricsOptions {
    /// Exemplars on `_total` and `_bucket` samples.
    pub exemplars: bool,
    /// A `<name>_created` sample (Unix milliseconds) after each counter's `_total` and each
    /// histogram's or summary's `_count`.
    pub created_ms: Option<i64>,
    /// A timestamp (Unix milliseconds, written as seconds) on every sample. Scrapes never set
    /// it (timestamped series do not go stale); offline tools such as `promtool tsdb
    /// create-blocks-from openmetrics` need it.
    pub timestamp_ms: Option<i64>,
}

/// Renders OpenMetrics 1.0: `# TYPE` without `_total`, `# UNIT`, `info`, exemplars, optional
/// `_created`, and `# EOF` at the end.
pub struct OpenMetricsRenderer<S = Keep> {
    writer: Writer<S>,
    options: OpenMetricsOptions,
    kind: MetricKind,
}

impl OpenMetricsRenderer<Keep> {
    /// A renderer that keeps the whole exposition.
    pub fn new(options: OpenMetricsOptions) -> Self {
        OpenMetricsRenderer::with_spill(Vec::new(), Keep, options)
    }
}

impl<S: Spill> OpenMetricsRenderer<S> {
    /// A renderer writing into `buffer` (cleared first) and handing full chunks to `spill`.
    pub fn with_spill(mut buffer: Vec<u8>, spill: S, options: OpenMetricsOptions) -> Self {
        buffer.clear();
        OpenMetricsRenderer {
            writer: Writer::new(buffer, spill),
            options,
            kind: MetricKind::Gauge,
        }
    }

    /// Changes the timestamp written on the samples that follow.
    pub fn set_timestamp(&mut self, timestamp_ms: Option<i64>) {
        self.options.timestamp_ms = timestamp_ms;
    }

    /// Writes `# EOF` and spills what is left; returns the buffer (the whole exposition with
    /// [`Keep`]), the spill and the number of samples written (`_created` not included).
    pub fn finish(mut self) -> (Vec<u8>, S, u64) {
        self.writer.out.extend_from_slice(b"# EOF\n");
        self.writer.finish()
    }

    fn timestamp(&mut self, timestamp_ms: i64) {
        self.writer.out.push(b' ');
        push_float(&mut self.writer.out, timestamp_ms as f64 / 1000.0);
    }

    fn exemplar(&mut self, exemplar: &Exemplar) {
        let out = &mut self.writer.out;
        out.extend_from_slice(b" # {trace_id=\"");
        push_hex(out, &exemplar.trace_id);
        out.extend_from_slice(b"\",span_id=\"");
        push_hex(out, &exemplar.span_id);
        out.extend_from_slice(b"\"} ");
        push_float(out, exemplar.value);
        self.timestamp(exemplar.timestamp_ms);
    }

    /// Whether a sample named `name` of the current family may carry an exemplar.
    fn takes_exemplar(&self, name: &str) -> bool {
        match self.kind {
            MetricKind::Counter => name.ends_with("_total"),
            MetricKind::Histogram => name.ends_with("_bucket"),
            _ => false,
        }
    }

    /// The family-level name a `_created` sample follows `name` under, if any.
    fn created_base<'n>(&self, name: &'n str) -> Option<&'n str> {
        match self.kind {
            MetricKind::Counter => name.strip_suffix("_total"),
            MetricKind::Histogram | MetricKind::Summary => name.strip_suffix("_count"),
            _ => None,
        }
    }

    fn created(&mut self, base: &str, labels: &[(&str, &str)], created_ms: i64) {
        let out = &mut self.writer.out;
        out.extend_from_slice(base.as_bytes());
        out.extend_from_slice(b"_created");
        self.writer.labels(labels);
        self.writer.out.push(b' ');
        push_float(&mut self.writer.out, created_ms as f64 / 1000.0);
        if let Some(timestamp_ms) = self.options.timestamp_ms {
            self.timestamp(timestamp_ms);
        }
        self.writer.end_line();
    }
}

impl<S: Spill> SampleSink for OpenMetricsRenderer<S> {
    fn family(&mut self, family: &Family) {
        self.kind = family.kind;
        let name = family.name.as_str();
        if !family.help.is_empty() {
            self.writer.metadata("HELP", name, &family.help, true);
        }
        self.writer
            .metadata("TYPE", name, family.kind.openmetrics_name(), false);
        let unit = family.unit.as_str();
        let suffixed = name
            .strip_suffix(unit)
            .is_some_and(|stem| stem.ends_with('_'));
        if !unit.is_empty() && suffixed {
            self.writer.metadata("UNIT", name, unit, false);
        }
    }

    fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: f64,
        exemplar: Option<&Exemplar>,
    ) {
        self.writer.sample_head(name, labels, value);
        if let Some(timestamp_ms) = self.options.timestamp_ms {
            self.timestamp(timestamp_ms);
        }
        if let Some(exemplar) = exemplar.filter(|_| self.options.exemplars)
            && self.takes_exemplar(name)
        {
            self.exemplar(exemplar);
        }
        self.writer.samples += 1;
        self.writer.end_line();

        if let Some(created_ms) = self.options.created_ms
            && let Some(base) = self.created_base(name)
        {
            self.created(base, labels, created_ms);
        }
    }
}

#[cfg(test)]
mod tests;
