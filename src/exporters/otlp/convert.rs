//! Conversion of synthtel's batches into OTLP `Export*ServiceRequest` messages (OTLP 1.10, the
//! messages of `opentelemetry-proto`), and their OTLP/JSON form.
//!
//! Spans are grouped by resource, logs by stream (stream labels become the resource), metrics by
//! the `job` and `instance` of their series (the resource's `service.name` and
//! `service.instance.id`). Everything sits under one instrumentation scope, `synthtel`.
//!
//! Metrics arrive flattened the Prometheus way (`…_total`, `…_bucket{le}`, `_sum`, `_count`);
//! [`metrics_request`] regroups them into OTLP Sum, Gauge, Histogram and Summary points, all
//! cumulative with a start time fixed per series and kept in [`StartTimes`] between requests
//! (WIRE.md §4.3): a moving start time reads as a counter reset at every point downstream.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1 as otlp_metrics;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status, span};
use otlp_metrics::{
    AggregationTemporality, Exemplar as OtlpExemplar, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, SummaryDataPoint, metric,
};
use std::collections::HashMap;

use crate::model::metrics::{Exemplar, Family, MetricKind, Series, is_stale_marker};
use crate::model::traces::{self, AttributeValue};
use crate::model::{LogBatch, MetricBatch, SpanBatch};

/// The semantic-convention schema the generated telemetry follows.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.42.0";

/// Name of the instrumentation scope of every record.
pub const SCOPE_NAME: &str = "synthtel";

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: how OTLP carries a Prometheus stale marker.
const NO_RECORDED_VALUE: u32 = 1;

/// The `synthtel` scope.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..InstrumentationScope::default()
    }
}

fn string_value(text: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text.into())),
    }
}

fn key_value(key: impl Into<String>, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..KeyValue::default()
    }
}

fn attribute_value(value: &AttributeValue) -> AnyValue {
    let value = match value {
        AttributeValue::String(text) => any_value::Value::StringValue(text.to_string()),
        AttributeValue::Int(n) => any_value::Value::IntValue(*n),
        AttributeValue::Double(x) => any_value::Value::DoubleValue(*x),
        AttributeValue::Bool(b) => any_value::Value::BoolValue(*b),
    };
    AnyValue { value: Some(value) }
}

fn attributes(pairs: &[traces::KeyValue]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|pair| key_value(pair.key.as_ref(), attribute_value(&pair.value)))
        .collect()
}

/// Nanoseconds as OTLP's unsigned field; times before 1970 become 0 (unknown).
fn unix_nanos(ns: i64) -> u64 {
    u64::try_from(ns).unwrap_or(0)
}

/// `ExportTraceServiceRequest` of `batch`: one `ResourceSpans` per resource that has spans, in
/// the order the resources first appear.
pub fn trace_request(batch: &SpanBatch) -> ExportTraceServiceRequest {
    let mut by_resource: Vec<Option<usize>> = vec![None; batch.resources.len()];
    let mut resource_spans: Vec<ResourceSpans> = Vec::new();
    for item in &batch.spans {
        let slot = &mut by_resource[item.resource as usize];
        let index = *slot.get_or_insert_with(|| {
            let resource = &batch.resources[item.resource as usize];
            resource_spans.push(ResourceSpans {
                resource: Some(Resource {
                    attributes: attributes(&resource.attributes),
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope()),
                    spans: Vec::new(),
                    schema_url: SCHEMA_URL.to_string(),
                }],
                schema_url: SCHEMA_URL.to_string(),
            });
            resource_spans.len() - 1
        });
        resource_spans[index].scope_spans[0]
            .spans
            .push(otlp_span(item));
    }
    ExportTraceServiceRequest { resource_spans }
}

fn otlp_span(item: &traces::Span) -> opentelemetry_proto::tonic::trace::v1::Span {
    let message = match item.status {
        traces::StatusCode::Error => item.status_message.clone().unwrap_or_default(),
        _ => String::new(),
    };
    opentelemetry_proto::tonic::trace::v1::Span {
        trace_id: item.trace_id.to_vec(),
        span_id: item.span_id.to_vec(),
        parent_span_id: item
            .parent_span_id
            .map(|id| id.to_vec())
            .unwrap_or_default(),
        flags: span_flags(item.flags),
        name: item.name.to_string(),
        kind: item.kind as i32,
        start_time_unix_nano: unix_nanos(item.start_ns),
        end_time_unix_nano: unix_nanos(item.end_ns.max(item.start_ns)),
        attributes: attributes(&item.attributes),
        events: item
            .events
            .iter()
            .map(|event| span::Event {
                time_unix_nano: unix_nanos(event.time_ns),
                name: event.name.to_string(),
                attributes: attributes(&event.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        links: item
            .links
            .iter()
            .map(|link| span::Link {
                trace_id: link.trace_id.to_vec(),
                span_id: link.span_id.to_vec(),
                attributes: attributes(&link.attributes),
                flags: span_flags(0x01),
                ..span::Link::default()
            })
            .collect(),
        status: (item.status != traces::StatusCode::Unset).then_some(Status {
            message,
            code: item.status as i32,
        }),
        ..opentelemetry_proto::tonic::trace::v1::Span::default()
    }
}

/// W3C flags in the low byte plus the two "parent is remote" bits; reserved bits cleared.
pub fn span_flags(flags: u32) -> u32 {
    flags & 0x3ff
}

/// `ExportLogsServiceRequest` of `batch`: one `ResourceLogs` per stream, whose labels become the
/// resource (`service_name` as `service.name`); the line is the body, metadata the attributes.
pub fn logs_request(batch: &LogBatch) -> ExportLogsServiceRequest {
    let mut by_stream: Vec<Option<usize>> = vec![None; batch.streams.len()];
    let mut resource_logs: Vec<ResourceLogs> = Vec::new();
    for entry in &batch.entries {
        let slot = &mut by_stream[entry.stream as usize];
        let index = *slot.get_or_insert_with(|| {
            resource_logs.push(ResourceLogs {
                resource: Some(Resource {
                    attributes: stream_resource(batch.stream(entry).pairs()),
                    ..Resource::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope()),
                    log_records: Vec::new(),
                    schema_url: SCHEMA_URL.to_string(),
                }],
                schema_url: SCHEMA_URL.to_string(),
            });
            resource_logs.len() - 1
        });
        let record = LogRecord {
            time_unix_nano: unix_nanos(entry.timestamp_ns),
            observed_time_unix_nano: unix_nanos(entry.timestamp_ns),
            severity_number: entry.severity.otel_number(),
            severity_text: entry.severity.as_upper().to_string(),
            body: Some(string_value(String::from_utf8_lossy(batch.line(entry)))),
            attributes: batch
                .metadata_of(entry)
                .iter()
                .map(|pair| {
                    let value = String::from_utf8_lossy(batch.text_of(pair.value));
                    key_value(pair.name.as_ref(), string_value(value))
                })
                .collect(),
            flags: u32::from(entry.trace_id.is_some()),
            trace_id: entry.trace_id.map(|id| id.to_vec()).unwrap_or_default(),
            span_id: entry.span_id.map(|id| id.to_vec()).unwrap_or_default(),
            ..LogRecord::default()
        };
        resource_logs[index].scope_logs[0].log_records.push(record);
    }
    ExportLogsServiceRequest { resource_logs }
}

/// Resource attributes of a log stream: `service_name` becomes `service.name`.
pub fn stream_resource(pairs: &[(String, String)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(name, value)| {
            let key = if name == "service_name" {
                "service.name"
            } else {
                name.as_str()
            };
            key_value(key, string_value(value.as_str()))
        })
        .collect()
}

/// First-seen start times of cumulative series, kept by the exporter for each tenant so that
/// every point of a series carries the same `start_time_unix_nano` until the series resets.
///
/// Known shortcoming: entries of series that stop (churn) are never forgotten; at a few dozen
/// bytes each that is acceptable for the series counts synthtel generates in one run.
#[derive(Debug, Default)]
pub struct StartTimes {
    series: HashMap<u64, SeriesStart>,
}

#[derive(Clone, Copy, Debug)]
struct SeriesStart {
    start_ns: u64,
    last_ns: u64,
    last_value: f64,
}

impl StartTimes {
    /// An empty table.
    pub fn new() -> Self {
        StartTimes::default()
    }

    /// The start time of the series `key` for a point of `value` at `time_ns`: the time it was
    /// first seen, moved to just after the previous point when the value went down (a reset).
    pub fn start(&mut self, key: u64, time_ns: u64, value: f64) -> u64 {
        let state = self.series.entry(key).or_insert(SeriesStart {
            start_ns: time_ns,
            last_ns: time_ns,
            last_value: value,
        });
        if value < state.last_value && time_ns > state.last_ns {
            state.start_ns = state.last_ns + 1;
        }
        if time_ns >= state.last_ns && !value.is_nan() {
            state.last_ns = time_ns;
            state.last_value = value;
        }
        state.start_ns.min(time_ns)
    }

    /// Number of series remembered.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series is remembered.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

/// The OTLP unit (UCUM) of a Prometheus base unit.
pub fn ucum_unit(unit: &str) -> &str {
    match unit {
        "seconds" => "s",
        "milliseconds" => "ms",
        "bytes" => "By",
        "ratio" => "1",
        "percent" => "%",
        "celsius" => "Cel",
        "hertz" => "Hz",
        "meters" => "m",
        "volts" => "V",
        "amperes" => "A",
        "joules" => "J",
        "watts" => "W",
        "grams" => "g",
        other => other,
    }
}

/// A group of series that becomes one OTLP data point stream: the family, the labels that
/// identify it (without `le` and `quantile`), and a key for start times.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct PointKey {
    group: u64,
    time_ms: i64,
}

/// A histogram or summary point being assembled from flattened samples.
#[derive(Default)]
struct Assembly {
    attributes: Vec<KeyValue>,
    /// `(le or quantile, value, exemplar)`.
    parts: Vec<(f64, f64, Option<Exemplar>)>,
    sum: Option<f64>,
    count: Option<f64>,
    stale: bool,
}

/// Per-resource state while converting a metric batch.
struct ResourceBuilder<'a> {
    metrics: Vec<Metric>,
    by_family: HashMap<&'a str, usize>,
}

/// `ExportMetricsServiceRequest` of `batch`: series grouped by `job` and `instance` into
/// resources, families into metrics, histogram and summary series regrouped into points.
/// `starts` keeps the start time of each cumulative series across requests of the tenant.
pub fn metrics_request(
    batch: &MetricBatch,
    starts: &mut StartTimes,
) -> ExportMetricsServiceRequest {
    let mut resources: Vec<(Vec<KeyValue>, ResourceBuilder)> = Vec::new();
    let mut resource_index: HashMap<(Option<&str>, Option<&str>), usize> = HashMap::new();
    let mut assemblies: HashMap<PointKey, (usize, usize, Assembly)> = HashMap::new();
    let mut assembly_order: Vec<PointKey> = Vec::new();

    for sample in &batch.samples {
        let series = batch.series_of(sample);
        let job = series.label("job");
        let instance = series.label("instance");
        let r = *resource_index.entry((job, instance)).or_insert_with(|| {
            resources.push((
                series_resource(job, instance),
                ResourceBuilder {
                    metrics: Vec::new(),
                    by_family: HashMap::new(),
                },
            ));
            resources.len() - 1
        });
        let builder = &mut resources[r].1;
        let family = &series.family;
        let m = *builder
            .by_family
            .entry(family.name.as_str())
            .or_insert_with(|| {
                builder.metrics.push(empty_metric(family));
                builder.metrics.len() - 1
            });
        let time_ns = unix_nanos(sample.timestamp_ms.saturating_mul(1_000_000));
        match family.kind {
            MetricKind::Counter | MetricKind::Gauge | MetricKind::Info => {
                let point = number_point(series, sample.value, time_ns, sample.exemplar, starts);
                match &mut builder.metrics[m].data {
                    Some(metric::Data::Sum(sum)) => sum.data_points.push(point),
                    Some(metric::Data::Gauge(gauge)) => gauge.data_points.push(point),
                    _ => {}
                }
            }
            MetricKind::Histogram | MetricKind::Summary => {
                let (group, role) = group_of(series);
                let key = PointKey {
                    group,
                    time_ms: sample.timestamp_ms,
                };
                let (_, _, assembly) = assemblies.entry(key).or_insert_with(|| {
                    assembly_order.push(key);
                    let assembly = Assembly {
                        attributes: point_attributes(series),
                        ..Assembly::default()
                    };
                    (r, m, assembly)
                });
                assembly.stale |= is_stale_marker(sample.value);
                match role {
                    Role::Sum => assembly.sum = Some(sample.value),
                    Role::Count => assembly.count = Some(sample.value),
                    Role::Part(bound) => {
                        assembly.parts.push((bound, sample.value, sample.exemplar))
                    }
                }
            }
        }
    }

    for key in assembly_order {
        let Some((r, m, assembly)) = assemblies.remove(&key) else {
            continue;
        };
        let time_ns = unix_nanos(key.time_ms.saturating_mul(1_000_000));
        let count = assembly.count.or_else(|| {
            (assembly.parts.iter())
                .find(|(bound, _, _)| *bound == f64::INFINITY)
                .map(|(_, value, _)| *value)
        });
        let start = if assembly.stale {
            0
        } else {
            starts.start(key.group, time_ns, count.unwrap_or(0.0))
        };
        match &mut resources[r].1.metrics[m].data {
            Some(metric::Data::Histogram(histogram)) => {
                histogram
                    .data_points
                    .push(histogram_point(assembly, count, start, time_ns));
            }
            Some(metric::Data::Summary(summary)) => {
                summary
                    .data_points
                    .push(summary_point(assembly, count, start, time_ns));
            }
            _ => {}
        }
    }

    let resource_metrics = resources
        .into_iter()
        .map(|(attributes, builder)| ResourceMetrics {
            resource: Some(Resource {
                attributes,
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics: builder.metrics,
                schema_url: SCHEMA_URL.to_string(),
            }],
            schema_url: SCHEMA_URL.to_string(),
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}

/// The resource of a series' target: Prometheus and Mimir derive `job` and `instance` back from
/// `service.name` and `service.instance.id`.
fn series_resource(job: Option<&str>, instance: Option<&str>) -> Vec<KeyValue> {
    let mut attributes = vec![key_value(
        "service.name",
        string_value(job.unwrap_or(SCOPE_NAME)),
    )];
    if let Some(instance) = instance {
        attributes.push(key_value("service.instance.id", string_value(instance)));
    }
    attributes
}

fn empty_metric(family: &Family) -> Metric {
    let cumulative = AggregationTemporality::Cumulative as i32;
    let data = match family.kind {
        MetricKind::Counter => metric::Data::Sum(otlp_metrics::Sum {
            data_points: Vec::new(),
            aggregation_temporality: cumulative,
            is_monotonic: true,
        }),
        MetricKind::Gauge | MetricKind::Info => metric::Data::Gauge(otlp_metrics::Gauge {
            data_points: Vec::new(),
        }),
        MetricKind::Histogram => metric::Data::Histogram(otlp_metrics::Histogram {
            data_points: Vec::new(),
            aggregation_temporality: cumulative,
        }),
        MetricKind::Summary => metric::Data::Summary(otlp_metrics::Summary {
            data_points: Vec::new(),
        }),
    };
    let name = match family.kind {
        // Prometheus's OTLP translation writes `<name>_info` back from a gauge only when the
        // name says so; counters get their `_total` back from `is_monotonic`.
        MetricKind::Info => format!("{}_info", family.name),
        _ => family.name.clone(),
    };
    Metric {
        name,
        description: family.help.clone(),
        unit: ucum_unit(&family.unit).to_string(),
        data: Some(data),
        ..Metric::default()
    }
}

/// Labels of a series as point attributes: without `job` and `instance` (on the resource) and
/// without `le` and `quantile` (regrouped into the point).
fn point_attributes(series: &Series) -> Vec<KeyValue> {
    series
        .labels
        .iter()
        .filter(|(name, _)| !matches!(&**name, "job" | "instance" | "le" | "quantile"))
        .map(|(name, value)| key_value(&**name, string_value(&**value)))
        .collect()
}

fn number_point(
    series: &Series,
    value: f64,
    time_ns: u64,
    exemplar: Option<Exemplar>,
    starts: &mut StartTimes,
) -> NumberDataPoint {
    let stale = is_stale_marker(value);
    let start_time_unix_nano = match series.family.kind {
        MetricKind::Counter if !stale => starts.start(series.hash, time_ns, value),
        _ => 0,
    };
    NumberDataPoint {
        attributes: point_attributes(series),
        start_time_unix_nano,
        time_unix_nano: time_ns,
        exemplars: exemplar.iter().map(otlp_exemplar).collect(),
        flags: if stale { NO_RECORDED_VALUE } else { 0 },
        value: Some(otlp_metrics::number_data_point::Value::AsDouble(if stale {
            0.0
        } else {
            value
        })),
    }
}

fn otlp_exemplar(exemplar: &Exemplar) -> OtlpExemplar {
    OtlpExemplar {
        filtered_attributes: Vec::new(),
        time_unix_nano: unix_nanos(exemplar.timestamp_ms.saturating_mul(1_000_000)),
        span_id: exemplar.span_id.to_vec(),
        trace_id: exemplar.trace_id.to_vec(),
        value: Some(otlp_metrics::exemplar::Value::AsDouble(exemplar.value)),
    }
}

enum Role {
    Sum,
    Count,
    /// A bucket's `le` or a quantile.
    Part(f64),
}

/// The group a histogram or summary series belongs to (a hash of family and identifying labels)
/// and its role in the group.
fn group_of(series: &Series) -> (u64, Role) {
    let family = &series.family.name;
    let role = match series.name.strip_prefix(family.as_str()) {
        Some("_sum") => Role::Sum,
        Some("_count") => Role::Count,
        _ => {
            let bound = series
                .label("le")
                .or_else(|| series.label("quantile"))
                .map(parse_bound)
                .unwrap_or(f64::INFINITY);
            Role::Part(bound)
        }
    };
    let identifying = series
        .labels
        .iter()
        .filter(|(name, _)| !matches!(&**name, "le" | "quantile"))
        .map(|(name, value)| (&**name, &**value));
    let group = crate::model::metrics::series_hash(family, identifying);
    (group, role)
}

fn parse_bound(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" | "inf" => f64::INFINITY,
        other => other.parse().unwrap_or(f64::INFINITY),
    }
}

/// An OTLP histogram point from cumulative `le` buckets: explicit bounds are the finite `le`
/// values, bucket counts the differences between neighbours, the last bucket what `_count` has
/// beyond the largest finite bound.
fn histogram_point(
    mut assembly: Assembly,
    count: Option<f64>,
    start: u64,
    time_ns: u64,
) -> HistogramDataPoint {
    assembly.parts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = count.unwrap_or(0.0).max(0.0) as u64;
    let mut explicit_bounds = Vec::with_capacity(assembly.parts.len());
    let mut bucket_counts = Vec::with_capacity(assembly.parts.len() + 1);
    let mut below = 0u64;
    for (bound, cumulative, _) in &assembly.parts {
        if bound.is_infinite() {
            continue;
        }
        let cumulative = (cumulative.max(0.0) as u64).max(below);
        explicit_bounds.push(*bound);
        bucket_counts.push(cumulative - below);
        below = cumulative;
    }
    bucket_counts.push(total.saturating_sub(below));
    let exemplars = assembly
        .parts
        .iter()
        .filter_map(|(_, _, exemplar)| exemplar.as_ref())
        .map(otlp_exemplar)
        .collect();
    HistogramDataPoint {
        attributes: assembly.attributes,
        start_time_unix_nano: start,
        time_unix_nano: time_ns,
        count: total.max(below),
        sum: assembly.sum.filter(|sum| !sum.is_nan()),
        bucket_counts,
        explicit_bounds,
        exemplars,
        flags: if assembly.stale { NO_RECORDED_VALUE } else { 0 },
        min: None,
        max: None,
    }
}

fn summary_point(
    mut assembly: Assembly,
    count: Option<f64>,
    start: u64,
    time_ns: u64,
) -> SummaryDataPoint {
    assembly.parts.sort_by(|a, b| a.0.total_cmp(&b.0));
    SummaryDataPoint {
        attributes: assembly.attributes,
        start_time_unix_nano: start,
        time_unix_nano: time_ns,
        count: count.unwrap_or(0.0).max(0.0) as u64,
        sum: assembly.sum.filter(|sum| !sum.is_nan()).unwrap_or(0.0),
        quantile_values: assembly
            .parts
            .iter()
            .filter(|(quantile, _, _)| quantile.is_finite())
            .map(
                |(quantile, value, _)| otlp_metrics::summary_data_point::ValueAtQuantile {
                    quantile: *quantile,
                    value: *value,
                },
            )
            .collect(),
        flags: if assembly.stale { NO_RECORDED_VALUE } else { 0 },
    }
}

/// OTLP/JSON of a request (WIRE.md §4.1): ids in hex, enums as integers, lowerCamelCase keys,
/// 64-bit integers as decimal strings. `opentelemetry-proto`'s serde already writes exactly
/// that; the tests pin it.
pub fn to_json<T: serde::Serialize>(request: &T) -> Vec<u8> {
    // Serializing these plain structs into memory cannot fail: no map has non-string keys.
    serde_json::to_vec(request).unwrap_or_default()
}

/// Protobuf bytes of a request.
pub fn to_protobuf<T: prost::Message>(request: &T, out: &mut Vec<u8>) {
    out.reserve(request.encoded_len());
    // Encoding into a Vec never runs out of room.
    let _ = request.encode(out);
}

#[cfg(test)]
mod tests;
