//! Metric records: families, series and samples.
//!
//! A [`Family`] carries the type, help and unit that exposition formats and remote-write
//! metadata need. A [`Series`] is one sample stream: the exact metric name it is written under
//! (`http_requests_total`, `http_server_request_duration_seconds_bucket`), its labels without
//! `__name__`, and its family. Samples travel in a [`MetricBatch`] of one tenant and point at
//! their series by index, so a batch of a million samples shares a few thousand series.

use std::sync::Arc;

use serde::Serialize;

use super::{SpanId, TenantId, TraceId};
use crate::random::mix64;

/// The type of a metric family, as Prometheus and OpenMetrics name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Monotonic count; samples are written as `<family>_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets plus `_sum` and `_count`.
    Histogram,
    /// Quantiles plus `_sum` and `_count`.
    Summary,
    /// Constant 1 with descriptive labels; written as `<family>_info`.
    Info,
}

impl MetricKind {
    /// The name in `# TYPE` lines of text 0.0.4.
    pub fn text_name(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge | MetricKind::Info => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
        }
    }

    /// The name in `# TYPE` lines of OpenMetrics 1.0.
    pub fn openmetrics_name(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
            MetricKind::Info => "info",
        }
    }

    /// The remote-write `MetricMetadata.type` value.
    pub fn remote_write_type(self) -> i32 {
        match self {
            MetricKind::Counter => 1,
            MetricKind::Gauge => 2,
            MetricKind::Histogram => 3,
            MetricKind::Summary => 5,
            MetricKind::Info => 6,
        }
    }
}

/// A metric family: what every series of one metric shares.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Family {
    /// Family name as OpenMetrics writes it on `# TYPE`: without `_total` for counters and
    /// without `_info` for info metrics (`http_requests`, `target`).
    pub name: String,
    /// Help text.
    pub help: String,
    /// Unit (`seconds`, `bytes`), empty when dimensionless; the name ends with it.
    pub unit: String,
    /// The type.
    pub kind: MetricKind,
}

impl Family {
    /// The name text 0.0.4 uses on `# HELP` and `# TYPE` lines (`http_requests_total`).
    pub fn text_name(&self) -> String {
        match self.kind {
            MetricKind::Counter => format!("{}_total", self.name),
            MetricKind::Info => format!("{}_info", self.name),
            _ => self.name.clone(),
        }
    }
}

/// A label pair of a series, with shared strings.
pub type LabelPair = (Arc<str>, Arc<str>);

/// One sample stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// The exact name samples are written under (the `__name__` label).
    pub name: Arc<str>,
    /// Labels other than `__name__`, sorted bytewise by name, without empty values.
    pub labels: Box<[LabelPair]>,
    /// The family the series belongs to.
    pub family: Arc<Family>,
    /// A stable hash of name and labels, for sharding and ordering.
    pub hash: u64,
}

impl Series {
    /// A series from labels in any order; pairs with an empty value are dropped.
    pub fn new(name: impl Into<Arc<str>>, labels: Vec<LabelPair>, family: Arc<Family>) -> Self {
        let name = name.into();
        let mut labels = labels;
        labels.retain(|(_, value)| !value.is_empty());
        labels.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let hash = series_hash(&name, labels.iter().map(|(n, v)| (&**n, &**v)));
        Series {
            name,
            labels: labels.into_boxed_slice(),
            family,
            hash,
        }
    }

    /// The value of a label.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| &**v)
    }
}

/// A stable 64-bit hash of a series' name and sorted labels.
pub fn series_hash<'a>(name: &str, labels: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut hash: u64 = 0x7365_7269_6573;
    let mut eat = |bytes: &[u8], end: u8| {
        for byte in bytes.iter().chain([end].iter()) {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(name.as_bytes(), 0xfd);
    for (label, value) in labels {
        eat(label.as_bytes(), 0xff);
        eat(value.as_bytes(), 0xfe);
    }
    mix64(hash)
}

/// Receives the samples of one target, family by family, without materialising series.
///
/// Scrape renderers and encoders implement it, so a target of a million series can be written
/// at scrape time with no per-series allocation.
pub trait SampleSink {
    /// Starts a family; the samples that follow until the next call belong to it.
    fn family(&mut self, family: &Family);

    /// One sample of the current family: `name` is the exact sample name (`…_bucket`), `labels`
    /// are sorted by name and exclude `__name__`.
    fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: f64,
        exemplar: Option<&Exemplar>,
    );
}

/// A synthetic scrape target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The tenant that owns the target.
    pub tenant: TenantId,
    /// The `job` label (a service name).
    pub job: String,
    /// The `instance` label (a pod-like instance id).
    pub instance: String,
    /// Extra target labels for service discovery (`namespace`, `service`, …), sorted.
    pub labels: Vec<(String, String)>,
}

/// Series of synthetic targets whose values are a pure function of time.
///
/// Sources that model metrics expose one; the scrape exporter evaluates it at scrape time and
/// push sources evaluate it on their sampling grid.
pub trait TargetSet: Send + Sync + 'static {
    /// Every target.
    fn targets(&self) -> &[Target];

    /// Writes every sample of target `index` as of Unix millisecond `timestamp_ms` to `sink`.
    fn visit(&self, index: usize, timestamp_ms: i64, sink: &mut dyn SampleSink);

    /// Number of samples `visit` writes for target `index` at `timestamp_ms`.
    fn series_count(&self, index: usize, timestamp_ms: i64) -> usize {
        let mut count = CountingSink(0);
        self.visit(index, timestamp_ms, &mut count);
        count.0
    }
}

/// A sink that only counts samples.
#[derive(Debug, Default)]
pub struct CountingSink(pub usize);

impl SampleSink for CountingSink {
    fn family(&mut self, _: &Family) {}

    fn sample(&mut self, _: &str, _: &[(&str, &str)], _: f64, _: Option<&Exemplar>) {
        self.0 += 1;
    }
}

/// An exemplar: one traced observation behind a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exemplar {
    /// The trace of the observation.
    pub trace_id: TraceId,
    /// The span of the observation.
    pub span_id: SpanId,
    /// The observed value (a latency in seconds, say).
    pub value: f64,
    /// When it was observed, in Unix milliseconds.
    pub timestamp_ms: i64,
}

/// One sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricSample {
    /// Index of the series in [`MetricBatch::series`].
    pub series: u32,
    /// Unix milliseconds.
    pub timestamp_ms: i64,
    /// The value; the stale marker is [`STALE_NAN`].
    pub value: f64,
    /// An exemplar, on counters and histogram buckets only.
    pub exemplar: Option<Exemplar>,
}

/// Writes `value` in the Go float syntax of the exposition formats: `NaN`, `+Inf`, `-Inf`,
/// integers without a fraction, otherwise the shortest round-tripping decimal.
pub fn push_float(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if value == value.trunc() && value.abs() < 1e15 {
        out.extend_from_slice(itoa::Buffer::new().format(value as i64).as_bytes());
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    }
}

/// Prometheus's staleness marker: a NaN with this exact bit pattern, and never another NaN.
pub const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

/// Whether `value` is the staleness marker (bitwise, since NaN never equals itself).
pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_NAN.to_bits()
}

/// Samples of one tenant with their series.
#[derive(Clone, Debug, Default)]
pub struct MetricBatch {
    /// The tenant every sample belongs to.
    pub tenant: TenantId,
    /// Series referenced by the samples.
    pub series: Vec<Arc<Series>>,
    /// The samples, ascending in time within each series.
    pub samples: Vec<MetricSample>,
}

impl MetricBatch {
    /// An empty batch for `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        MetricBatch {
            tenant,
            ..MetricBatch::default()
        }
    }

    /// The series of a sample.
    pub fn series_of(&self, sample: &MetricSample) -> &Series {
        &self.series[sample.series as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_has_the_exact_bits() {
        assert_eq!(STALE_NAN.to_bits(), 0x7ff0_0000_0000_0002);
        assert!(is_stale_marker(STALE_NAN));
        assert!(!is_stale_marker(f64::NAN));
    }

    #[test]
    fn floats_use_the_go_syntax() {
        let render = |v| {
            let mut out = Vec::new();
            push_float(&mut out, v);
            String::from_utf8(out).expect("utf-8")
        };
        assert_eq!(render(f64::NAN), "NaN");
        assert_eq!(render(f64::INFINITY), "+Inf");
        assert_eq!(render(f64::NEG_INFINITY), "-Inf");
        assert_eq!(render(42.0), "42");
        assert_eq!(render(-0.25), "-0.25");
        assert_eq!(render(1e20), "1e20");
    }

    #[test]
    fn text_names_carry_suffixes() {
        let family = |kind| Family {
            name: "http_requests".into(),
            help: String::new(),
            unit: String::new(),
            kind,
        };
        assert_eq!(
            family(MetricKind::Counter).text_name(),
            "http_requests_total"
        );
        assert_eq!(family(MetricKind::Gauge).text_name(), "http_requests");
        assert_eq!(family(MetricKind::Info).text_name(), "http_requests_info");
    }
}
