//! Tests of the conversion: grouping, ids, severities, histogram regrouping, start times, the
//! direct span encoder against the generated messages, and the OTLP/JSON shape.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message as _;

use super::*;
use crate::exporters::otlp::encode::SpanEncoder;
use crate::model::metrics::{Exemplar, Family, MetricKind, MetricSample, STALE_NAN, Series};
use crate::model::traces::{
    KeyValue as ModelKeyValue, Resource as ModelResource, Span, SpanEvent, SpanKind, SpanLink,
    StatusCode,
};
use crate::model::{Labels, LogBatch, MetricBatch, Severity, SpanBatch};

fn resource(service: &'static str) -> Arc<ModelResource> {
    Arc::new(ModelResource {
        attributes: vec![
            ModelKeyValue::new("service.name", service),
            ModelKeyValue::new("service.instance.id", format!("{service}-0")),
        ],
    })
}

fn span(resource: u32, n: u8, parent: Option<u8>) -> Span {
    Span {
        resource,
        trace_id: [n; 16],
        span_id: [n.wrapping_add(100); 8],
        parent_span_id: parent.map(|p| [p; 8]),
        name: "GET /api/cart/{id}".into(),
        kind: if parent.is_some() {
            SpanKind::Client
        } else {
            SpanKind::Server
        },
        start_ns: 1_700_000_000_000_000_000 + i64::from(n),
        end_ns: 1_700_000_000_250_000_000,
        status: if n.is_multiple_of(2) {
            StatusCode::Error
        } else {
            StatusCode::Unset
        },
        status_message: Some("boom".into()),
        attributes: vec![
            ModelKeyValue::new("http.request.method", "GET"),
            ModelKeyValue::new("http.response.status_code", 500i64),
            ModelKeyValue::new("retry", true),
            ModelKeyValue::new("ratio", 0.5),
            ModelKeyValue::new("negative", -3i64),
        ],
        events: vec![SpanEvent {
            time_ns: 1_700_000_000_100_000_000,
            name: "exception".into(),
            attributes: vec![ModelKeyValue::new("exception.type", "IOError")],
        }],
        links: vec![SpanLink {
            trace_id: [9; 16],
            span_id: [8; 8],
            attributes: vec![ModelKeyValue::new("link.kind", "follows")],
        }],
        flags: 0x301,
    }
}

fn span_batch() -> SpanBatch {
    let mut batch = SpanBatch::new("acme".into());
    let cart = batch.resource_index(&resource("cart"));
    let shop = batch.resource_index(&resource("shop"));
    batch.spans = vec![
        span(cart, 1, None),
        span(shop, 2, Some(1)),
        span(cart, 3, Some(1)),
        span(shop, 4, None),
    ];
    batch
}

fn string_of(value: &Option<AnyValue>) -> &str {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(text)) => text,
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn spans_are_grouped_by_resource_with_raw_ids() {
    let request = trace_request(&span_batch());

    assert_eq!(request.resource_spans.len(), 2);
    let services: Vec<&str> = request
        .resource_spans
        .iter()
        .map(|r| string_of(&r.resource.as_ref().expect("resource").attributes[0].value))
        .collect();
    assert_eq!(services, ["cart", "shop"]);
    for resource_spans in &request.resource_spans {
        assert_eq!(resource_spans.schema_url, SCHEMA_URL);
        let scope_spans = &resource_spans.scope_spans[0];
        assert_eq!(scope_spans.scope.as_ref().expect("scope").name, "synthtel");
        assert_eq!(scope_spans.spans.len(), 2);
        for span in &scope_spans.spans {
            assert_eq!(span.trace_id.len(), 16);
            assert_eq!(span.span_id.len(), 8);
            assert!(span.parent_span_id.is_empty() || span.parent_span_id.len() == 8);
            assert!(span.kind >= 1 && span.kind <= 5);
            assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
            assert_eq!(span.flags, 0x301);
            assert_eq!(span.events[0].name, "exception");
            assert_eq!(span.links[0].trace_id, vec![9; 16]);
        }
    }
    let root = &request.resource_spans[0].scope_spans[0].spans[0];
    assert!(root.parent_span_id.is_empty(), "roots have no parent id");
    assert_eq!(root.kind, 2);
    assert!(root.status.is_none(), "UNSET sends no status");
    let failed = &request.resource_spans[1].scope_spans[0].spans[0];
    let status = failed.status.as_ref().expect("status");
    assert_eq!((status.code, status.message.as_str()), (2, "boom"));
}

#[test]
fn direct_span_encoding_decodes_to_the_converted_request() {
    let batch = span_batch();
    let mut body = Vec::new();
    SpanEncoder::new().encode(&batch, &mut body);

    let decoded = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
    assert_eq!(decoded, trace_request(&batch));
    assert_eq!(body.len(), trace_request(&batch).encoded_len());
}

#[test]
fn the_span_encoder_reuses_its_scratch_across_batches() {
    let mut encoder = SpanEncoder::new();
    let mut first = span_batch();
    first.spans.truncate(1);
    let second = span_batch();
    for batch in [&second, &first, &second] {
        let mut body = Vec::new();
        encoder.encode(batch, &mut body);
        let decoded = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        assert_eq!(decoded, trace_request(batch));
    }
}

#[test]
fn otlp_json_has_hex_ids_integer_enums_and_string_times() {
    let json: serde_json::Value =
        serde_json::from_slice(&to_json(&trace_request(&span_batch()))).expect("json");
    let span = &json["resourceSpans"][1]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], "02020202020202020202020202020202");
    assert_eq!(span["spanId"], "6666666666666666");
    assert_eq!(span["parentSpanId"], "0101010101010101");
    assert_eq!(span["kind"], 3, "enums are integers");
    assert_eq!(span["status"]["code"], 2);
    assert_eq!(span["startTimeUnixNano"], "1700000000000000002");
    let attributes = span["attributes"].as_array().expect("attributes");
    assert_eq!(attributes[1]["key"], "http.response.status_code");
    assert_eq!(attributes[1]["value"]["intValue"], "500");
    assert_eq!(attributes[0]["value"]["stringValue"], "GET");
    assert_eq!(span["links"][0]["traceId"], "09".repeat(16));
}

fn log_batch() -> LogBatch {
    let mut batch = LogBatch::new("acme".into());
    let cart = Arc::new(Labels::new([("service_name", "cart"), ("env", "prod")]).expect("labels"));
    let shop = Arc::new(Labels::new([("service_name", "shop"), ("env", "prod")]).expect("labels"));
    let cart = batch.stream_index(&cart);
    let shop = batch.stream_index(&shop);
    for (i, severity) in [
        Severity::Trace,
        Severity::Debug,
        Severity::Info,
        Severity::Warn,
        Severity::Error,
        Severity::Fatal,
    ]
    .into_iter()
    .enumerate()
    {
        let start = batch.metadata.len() as u32;
        batch.push_metadata("user_id", format!("u-{i}").as_bytes());
        let stream = if i % 2 == 0 { cart } else { shop };
        batch.push_line(
            stream,
            1_700_000_000_000_000_000 + i as i64,
            severity,
            b"hello",
        );
        let entry = batch.entries.last_mut().expect("entry");
        entry.metadata = start..start + 1;
        if i == 2 {
            entry.trace_id = Some([7; 16]);
            entry.span_id = Some([8; 8]);
        }
    }
    batch
}

#[test]
fn logs_take_their_resource_from_stream_labels() {
    let request = logs_request(&log_batch());

    assert_eq!(request.resource_logs.len(), 2);
    let resource = request.resource_logs[0]
        .resource
        .as_ref()
        .expect("resource");
    let keys: Vec<&str> = resource
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(keys, ["env", "service.name"]);
    assert_eq!(string_of(&resource.attributes[1].value), "cart");
    let records: Vec<_> = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs[0].log_records)
        .collect();
    let mut numbers: Vec<i32> = records.iter().map(|r| r.severity_number).collect();
    numbers.sort();
    assert_eq!(numbers, [1, 5, 9, 13, 17, 21]);
    for record in &records {
        assert_eq!(string_of(&record.body), "hello");
        assert_eq!(record.attributes[0].key, "user_id");
        assert_eq!(record.observed_time_unix_nano, record.time_unix_nano);
        assert!(!record.severity_text.is_empty());
    }
    let traced = records
        .iter()
        .find(|r| !r.trace_id.is_empty())
        .expect("traced");
    assert_eq!((traced.trace_id.len(), traced.span_id.len()), (16, 8));
    assert_eq!(traced.severity_text, "INFO");
}

#[test]
fn log_json_ids_are_hex() {
    let json: serde_json::Value =
        serde_json::from_slice(&to_json(&logs_request(&log_batch()))).expect("json");
    let record = &json["resourceLogs"][0]["scopeLogs"][0]["logRecords"][1];
    assert_eq!(record["traceId"], "07".repeat(16));
    assert_eq!(record["spanId"], "08".repeat(8));
    assert_eq!(record["severityNumber"], 9);
    assert_eq!(record["body"]["stringValue"], "hello");
}

fn family(name: &str, kind: MetricKind, unit: &str) -> Arc<Family> {
    Arc::new(Family {
        name: name.into(),
        help: format!("{name} help"),
        unit: unit.into(),
        kind,
    })
}

fn series(name: &str, family: &Arc<Family>, extra: &[(&str, &str)]) -> Arc<Series> {
    let mut labels: Vec<(Arc<str>, Arc<str>)> = vec![
        ("job".into(), "cart".into()),
        ("instance".into(), "cart-0:9090".into()),
        ("route".into(), "/cart".into()),
    ];
    labels.extend(extra.iter().map(|(n, v)| (Arc::from(*n), Arc::from(*v))));
    Arc::new(Series::new(name, labels, Arc::clone(family)))
}

fn sample(series: u32, timestamp_ms: i64, value: f64) -> MetricSample {
    MetricSample {
        series,
        timestamp_ms,
        value,
        exemplar: None,
    }
}

/// A histogram with buckets 0.1, 0.5, +Inf, sampled at two times, plus a counter.
fn metric_batch() -> MetricBatch {
    let histogram = family(
        "http_request_duration_seconds",
        MetricKind::Histogram,
        "seconds",
    );
    let counter = family("http_requests", MetricKind::Counter, "");
    let mut batch = MetricBatch::new("acme".into());
    let name = "http_request_duration_seconds";
    batch.series = vec![
        series(&format!("{name}_bucket"), &histogram, &[("le", "0.5")]),
        series(&format!("{name}_bucket"), &histogram, &[("le", "+Inf")]),
        series(&format!("{name}_bucket"), &histogram, &[("le", "0.1")]),
        series(&format!("{name}_sum"), &histogram, &[]),
        series(&format!("{name}_count"), &histogram, &[]),
        series("http_requests_total", &counter, &[("code", "200")]),
    ];
    let exemplar = Exemplar {
        trace_id: [3; 16],
        span_id: [4; 8],
        value: 0.07,
        timestamp_ms: 999,
    };
    for (t, scale) in [(1_000, 1.0), (2_000, 2.0)] {
        batch.samples.extend([
            sample(0, t, 8.0 * scale),
            sample(1, t, 10.0 * scale),
            MetricSample {
                exemplar: Some(exemplar),
                ..sample(2, t, 5.0 * scale)
            },
            sample(3, t, 2.5 * scale),
            sample(4, t, 10.0 * scale),
            sample(5, t, 100.0 * scale),
        ]);
    }
    batch
}

fn metrics_of(request: &ExportMetricsServiceRequest) -> &[Metric] {
    assert_eq!(request.resource_metrics.len(), 1);
    &request.resource_metrics[0].scope_metrics[0].metrics
}

#[test]
fn classic_histograms_are_regrouped_into_otlp_points() {
    let mut starts = StartTimes::new();
    let request = metrics_request(&metric_batch(), &mut starts);

    let resource = request.resource_metrics[0]
        .resource
        .as_ref()
        .expect("resource");
    assert_eq!(string_of(&resource.attributes[0].value), "cart");
    assert_eq!(resource.attributes[1].key, "service.instance.id");
    let metrics = metrics_of(&request);
    assert_eq!(metrics.len(), 2);
    let histogram = &metrics[0];
    assert_eq!(histogram.name, "http_request_duration_seconds");
    assert_eq!(histogram.unit, "s");
    let Some(Data::Histogram(data)) = &histogram.data else {
        panic!("not a histogram: {histogram:?}");
    };
    assert_eq!(data.aggregation_temporality, 2, "cumulative");
    assert_eq!(data.data_points.len(), 2, "one point per timestamp");
    let point = &data.data_points[0];
    assert_eq!(point.explicit_bounds, [0.1, 0.5]);
    assert_eq!(
        point.bucket_counts,
        [5, 3, 2],
        "differences of the cumulative le buckets"
    );
    assert_eq!(point.count, 10);
    assert_eq!(point.sum, Some(2.5));
    assert_eq!(point.time_unix_nano, 1_000_000_000);
    let keys: Vec<&str> = point.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["route"], "no le, job or instance on the point");
    assert_eq!(point.exemplars.len(), 1);
    assert_eq!(point.exemplars[0].trace_id, vec![3; 16]);
    assert_eq!(point.exemplars[0].span_id, vec![4; 8]);
    assert_eq!(data.data_points[1].bucket_counts, [10, 6, 4]);

    let counter = &metrics[1];
    assert_eq!(counter.name, "http_requests", "Prometheus adds _total back");
    let Some(Data::Sum(sum)) = &counter.data else {
        panic!("not a sum");
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.aggregation_temporality, 2);
    assert_eq!(sum.data_points.len(), 2);
    assert_eq!(sum.data_points[0].attributes.len(), 2, "route and code");
}

#[test]
fn start_times_stay_fixed_per_series_and_move_only_on_reset() {
    let mut starts = StartTimes::new();
    let first = metrics_request(&metric_batch(), &mut starts);
    let mut later = metric_batch();
    for sample in &mut later.samples {
        sample.timestamp_ms += 10_000;
        sample.value *= 3.0;
    }
    let second = metrics_request(&later, &mut starts);

    let starts_of = |request: &ExportMetricsServiceRequest| -> Vec<u64> {
        metrics_of(request)
            .iter()
            .flat_map(|metric| match &metric.data {
                Some(Data::Histogram(h)) => h
                    .data_points
                    .iter()
                    .map(|p| p.start_time_unix_nano)
                    .collect::<Vec<_>>(),
                Some(Data::Sum(s)) => s
                    .data_points
                    .iter()
                    .map(|p| p.start_time_unix_nano)
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    let all: Vec<u64> = starts_of(&first)
        .into_iter()
        .chain(starts_of(&second))
        .collect();
    assert!(all.iter().all(|start| *start == 1_000_000_000), "{all:?}");
    assert_eq!(starts.len(), 2, "one histogram and one counter series");

    // The counter drops: a reset, so its start moves just after the last point before it.
    let mut reset = metric_batch();
    for sample in &mut reset.samples {
        sample.timestamp_ms += 20_000;
        sample.value /= 10.0;
    }
    let third = metrics_of(&metrics_request(&reset, &mut starts)).to_vec();
    let Some(Data::Sum(sum)) = &third[1].data else {
        panic!("sum");
    };
    let moved = 12_000_000_000 + 1;
    assert_eq!(sum.data_points[0].start_time_unix_nano, moved);
    assert_eq!(
        sum.data_points[1].start_time_unix_nano, moved,
        "and stays there"
    );
    assert!(sum.data_points[0].time_unix_nano >= moved);
}

#[test]
fn gauges_info_and_stale_markers_convert_sensibly() {
    let gauge = family("temperature_celsius", MetricKind::Gauge, "celsius");
    let info = family("build", MetricKind::Info, "");
    let mut batch = MetricBatch::new("acme".into());
    batch.series = vec![
        series("temperature_celsius", &gauge, &[]),
        series("build_info", &info, &[("version", "1.2.3")]),
    ];
    batch.samples = vec![
        sample(0, 1_000, 21.5),
        sample(0, 2_000, STALE_NAN),
        sample(1, 1_000, 1.0),
    ];
    let request = metrics_request(&batch, &mut StartTimes::new());
    let metrics = metrics_of(&request);
    assert_eq!(metrics[0].unit, "Cel");
    let Some(Data::Gauge(data)) = &metrics[0].data else {
        panic!("gauge");
    };
    assert_eq!(data.data_points[0].start_time_unix_nano, 0);
    assert_eq!(
        data.data_points[1].flags, 1,
        "no recorded value marks staleness"
    );
    assert_eq!(metrics[1].name, "build_info");
    assert!(matches!(metrics[1].data, Some(Data::Gauge(_))));
}

#[test]
fn summaries_become_summary_points() {
    let summary = family("rpc_duration_seconds", MetricKind::Summary, "seconds");
    let mut batch = MetricBatch::new("acme".into());
    batch.series = vec![
        series("rpc_duration_seconds", &summary, &[("quantile", "0.99")]),
        series("rpc_duration_seconds", &summary, &[("quantile", "0.5")]),
        series("rpc_duration_seconds_sum", &summary, &[]),
        series("rpc_duration_seconds_count", &summary, &[]),
    ];
    batch.samples = vec![
        sample(0, 1_000, 0.9),
        sample(1, 1_000, 0.2),
        sample(2, 1_000, 30.0),
        sample(3, 1_000, 100.0),
    ];
    let request = metrics_request(&batch, &mut StartTimes::new());
    let Some(Data::Summary(data)) = &metrics_of(&request)[0].data else {
        panic!("summary");
    };
    let point = &data.data_points[0];
    assert_eq!((point.count, point.sum), (100, 30.0));
    let quantiles: Vec<(f64, f64)> = point
        .quantile_values
        .iter()
        .map(|q| (q.quantile, q.value))
        .collect();
    assert_eq!(quantiles, [(0.5, 0.2), (0.99, 0.9)]);
    assert_eq!(point.start_time_unix_nano, 1_000_000_000);
}
