use std::sync::Arc;

use proptest::prelude::*;
use prost::Message as _;

use super::*;
use crate::model::metrics::{Exemplar, STALE_NAN};

/// Prometheus's `prompb` messages, written from `remote.proto` and `types.proto` for decoding.
mod wire {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
        #[prost(message, repeated, tag = "3")]
        pub metadata: Vec<MetricMetadata>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
        #[prost(message, repeated, tag = "3")]
        pub exemplars: Vec<Exemplar>,
    }

    #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(double, tag = "2")]
        pub value: f64,
        #[prost(int64, tag = "3")]
        pub timestamp: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricMetadata {
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        #[prost(string, tag = "2")]
        pub metric_family_name: String,
        #[prost(string, tag = "4")]
        pub help: String,
        #[prost(string, tag = "5")]
        pub unit: String,
    }
}

fn family(name: &str, kind: MetricKind, help: &str) -> Arc<Family> {
    Arc::new(Family {
        name: name.into(),
        help: help.into(),
        unit: String::new(),
        kind,
    })
}

fn series(name: &str, labels: &[(&str, &str)], family: &Arc<Family>) -> Arc<Series> {
    let labels = labels
        .iter()
        .map(|(n, v)| (Arc::from(*n), Arc::from(*v)))
        .collect();
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

fn plain() -> EncodeOptions {
    EncodeOptions {
        tenant_label: None,
        metadata: false,
        exemplars: false,
    }
}

fn decode(body: &[u8]) -> wire::WriteRequest {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .expect("snappy raw block");
    wire::WriteRequest::decode(raw.as_slice()).expect("WriteRequest")
}

#[test]
fn golden_bytes_of_a_one_sample_request() {
    let gauge = family("up", MetricKind::Gauge, "");
    let mut batch = MetricBatch::new("acme".into());
    batch.series.push(series("up", &[("job", "a")], &gauge));
    batch.samples.push(sample(0, 1000, 1.0));

    let mut encoder = WriteEncoder::new();
    let proto = encoder.encode_uncompressed(&batch, &plain()).to_vec();

    #[rustfmt::skip]
    let expected: &[u8] = &[
        0x0a, 0x28,                               // WriteRequest.timeseries (1), 40 bytes
          0x0a, 0x0e,                             //   TimeSeries.labels (1), 14 bytes
            0x0a, 0x08, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', // Label.name (1)
            0x12, 0x02, b'u', b'p',               //     Label.value (2)
          0x0a, 0x08,                             //   TimeSeries.labels (1), 8 bytes
            0x0a, 0x03, b'j', b'o', b'b',
            0x12, 0x01, b'a',
          0x12, 0x0c,                             //   TimeSeries.samples (2), 12 bytes
            0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,   //     Sample.value (1, fixed64) = 1.0
            0x10, 0xe8, 0x07,                     //     Sample.timestamp (2, varint) = 1000
    ];
    assert_eq!(proto, expected);
}

#[test]
fn golden_bytes_of_metadata_exemplar_and_stale_marker() {
    let counter = family("hits", MetricKind::Counter, "Hits.");
    let mut batch = MetricBatch::new("acme".into());
    batch.series.push(series("hits_total", &[], &counter));
    let mut trace_id = [0u8; 16];
    trace_id[15] = 0xab;
    let mut span_id = [0u8; 8];
    span_id[0] = 0x01;
    batch.samples.push(MetricSample {
        exemplar: Some(Exemplar {
            trace_id,
            span_id,
            value: 0.0,
            timestamp_ms: 2,
        }),
        ..sample(0, 1, STALE_NAN)
    });
    let options = EncodeOptions {
        tenant_label: None,
        metadata: true,
        exemplars: true,
    };

    let proto = WriteEncoder::new()
        .encode_uncompressed(&batch, &options)
        .to_vec();

    let mut expected: Vec<u8> = Vec::new();
    // TimeSeries: labels (2 + 22), sample (2 + 11), exemplar (2 + 77) = 116 bytes.
    expected.extend([0x0a, 116]);
    expected.extend([0x0a, 22, 0x0a, 8]);
    expected.extend(b"__name__");
    expected.extend([0x12, 10]);
    expected.extend(b"hits_total");
    expected.extend([0x12, 11, 0x09, 0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f, 0x10, 0x01]);
    // Exemplar: span_id label (2 + 27), trace_id label (2 + 44), timestamp (2); value 0 omitted.
    expected.extend([0x1a, 77]);
    expected.extend([0x0a, 27, 0x0a, 7]);
    expected.extend(b"span_id");
    expected.extend([0x12, 16]);
    expected.extend(b"0100000000000000");
    expected.extend([0x0a, 44, 0x0a, 8]);
    expected.extend(b"trace_id");
    expected.extend([0x12, 32]);
    expected.extend(b"000000000000000000000000000000ab");
    expected.extend([0x18, 0x02]);
    // MetricMetadata: type COUNTER, family name with `_total`, help.
    expected.extend([0x1a, 21, 0x08, 0x01, 0x12, 10]);
    expected.extend(b"hits_total");
    expected.extend([0x22, 5]);
    expected.extend(b"Hits.");
    assert_eq!(proto, expected);
}

#[test]
fn snappy_output_is_a_raw_block() {
    let gauge = family("up", MetricKind::Gauge, "");
    let mut batch = MetricBatch::new("acme".into());
    batch.series.push(series("up", &[("job", "a")], &gauge));
    batch
        .samples
        .extend((0..100).map(|i| sample(0, 1000 + i, 1.0)));

    let mut body = Vec::new();
    encode_write_request(&batch, &EncodeOptions::default(), &mut body);

    // A framed stream starts with the stream identifier chunk `ff 06 00 00 sNaPpY`.
    assert_ne!(body.first(), Some(&0xff));
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .expect("raw block");
    let mut encoder = WriteEncoder::new();
    assert_eq!(
        raw,
        encoder.encode_uncompressed(&batch, &EncodeOptions::default())
    );
}

#[test]
fn groups_by_series_and_sorts_each_series_stably() {
    let gauge = family("g", MetricKind::Gauge, "");
    let mut batch = MetricBatch::new("acme".into());
    batch.series.push(series("g", &[("i", "0")], &gauge));
    batch.series.push(series("g", &[("i", "1")], &gauge));
    batch.series.push(series("g", &[("i", "unused")], &gauge));
    batch.samples = vec![
        sample(1, 30, 1.0),
        sample(0, 20, 2.0),
        sample(1, 10, 3.0),
        sample(0, 20, 4.0),
        sample(0, 5, 5.0),
    ];

    let mut body = Vec::new();
    encode_write_request(&batch, &plain(), &mut body);
    let request = decode(&body);

    assert_eq!(
        request.timeseries.len(),
        2,
        "series without samples are left out"
    );
    let points = |ts: &wire::TimeSeries| -> Vec<(i64, f64)> {
        ts.samples.iter().map(|s| (s.timestamp, s.value)).collect()
    };
    assert_eq!(
        points(&request.timeseries[0]),
        [(5, 5.0), (20, 2.0), (20, 4.0)]
    );
    assert_eq!(points(&request.timeseries[1]), [(10, 3.0), (30, 1.0)]);
}

#[test]
fn upper_case_and_tenant_labels_sort_around_the_name() {
    let gauge = family("g", MetricKind::Gauge, "");
    let mut batch = MetricBatch::new("acme".into());
    batch.series.push(series(
        "g",
        &[("Zone", "eu"), ("a", "1"), ("tenant", "old")],
        &gauge,
    ));
    batch.samples.push(sample(0, 1, 1.0));
    let options = EncodeOptions {
        tenant_label: Some("tenant".into()),
        ..plain()
    };

    let mut body = Vec::new();
    encode_write_request(&batch, &options, &mut body);
    let labels: Vec<(String, String)> = decode(&body).timeseries[0]
        .labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();

    let expected = [
        ("Zone", "eu"),
        ("__name__", "g"),
        ("a", "1"),
        ("tenant", "acme"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(labels, expected);
}

#[test]
fn hand_built_unsorted_labels_are_sorted_and_deduplicated() {
    let gauge = family("g", MetricKind::Gauge, "");
    let series = Series {
        name: "g".into(),
        labels: vec![
            (Arc::from("b"), Arc::from("2")),
            (Arc::from("a"), Arc::from("")),
            (Arc::from("a"), Arc::from("1")),
            (Arc::from("b"), Arc::from("3")),
        ]
        .into_boxed_slice(),
        family: gauge,
        hash: 0,
    };
    let mut seen = Vec::new();
    for_each_label(&series, Some(("__name__", "x")), |n, v| {
        seen.push((n.to_string(), v.to_string()))
    });
    let expected: Vec<(String, String)> = [("__name__", "g"), ("a", "1"), ("b", "2")]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn metadata_once_per_family_with_text_names() {
    let histogram = family("latency_seconds", MetricKind::Histogram, "Latency.");
    let info = family("build", MetricKind::Info, "Build.");
    let mut batch = MetricBatch::new("acme".into());
    batch.series.push(series(
        "latency_seconds_bucket",
        &[("le", "0.1")],
        &histogram,
    ));
    batch
        .series
        .push(series("latency_seconds_sum", &[], &histogram));
    batch
        .series
        .push(series("build_info", &[("version", "1")], &info));
    batch.samples = (0..3).map(|s| sample(s, 1, 1.0)).collect();

    let mut body = Vec::new();
    encode_write_request(&batch, &EncodeOptions::default(), &mut body);
    let metadata = decode(&body).metadata;

    let names: Vec<(i32, &str)> = metadata
        .iter()
        .map(|m| (m.r#type, m.metric_family_name.as_str()))
        .collect();
    assert_eq!(names, [(3, "latency_seconds"), (6, "build_info")]);
    assert_eq!(metadata[0].help, "Latency.");
}

#[test]
fn varint_lengths_match_the_encoding() {
    for value in [0, 1, 127, 128, 16_383, 16_384, u64::MAX, -1i64 as u64] {
        let mut out = Vec::new();
        push_varint(&mut out, value);
        assert_eq!(out.len(), varint_len(value), "{value}");
    }
}

fn arbitrary_batch() -> impl Strategy<Value = MetricBatch> {
    let label = ("[A-Za-z_][a-z_]{0,3}", "\\PC{0,6}");
    let series = (
        "[a-z_:]{1,8}",
        proptest::collection::vec(label, 0..5),
        0usize..3,
    );
    let value = prop_oneof![
        any::<f64>(),
        Just(STALE_NAN),
        Just(0.0),
        Just(f64::NAN),
        -1e6..1e6f64,
    ];
    let sample = (
        0u32..6,
        any::<i64>(),
        value,
        any::<bool>(),
        any::<[u8; 16]>(),
    );
    (
        proptest::collection::vec(series, 1..6),
        proptest::collection::vec(sample, 0..40),
        "[a-z]{0,4}",
    )
        .prop_map(|(series_specs, samples, tenant)| {
            let kinds = [
                MetricKind::Counter,
                MetricKind::Gauge,
                MetricKind::Histogram,
            ];
            let families: Vec<Arc<Family>> = kinds
                .iter()
                .map(|kind| family("f", *kind, "Help."))
                .collect();
            let mut batch = MetricBatch::new(tenant.into());
            for (name, labels, kind) in series_specs {
                let labels = labels
                    .into_iter()
                    .map(|(n, v)| (Arc::from(n.as_str()), Arc::from(v.as_str())))
                    .collect();
                let family = Arc::clone(&families[kind]);
                batch
                    .series
                    .push(Arc::new(Series::new(name, labels, family)));
            }
            let count = batch.series.len() as u32;
            batch.samples = samples
                .into_iter()
                .map(|(series, timestamp_ms, value, traced, id)| MetricSample {
                    series: series % count,
                    timestamp_ms,
                    value,
                    exemplar: traced.then(|| Exemplar {
                        trace_id: id,
                        span_id: id[..8].try_into().unwrap_or_default(),
                        value: value / 2.0,
                        timestamp_ms,
                    }),
                })
                .collect();
            batch
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn labels_are_sorted_unique_and_never_empty(
        batch in arbitrary_batch(),
        tenant_label in proptest::option::of("[a-zA-Z_][a-z]{0,5}"),
    ) {
        let options = EncodeOptions { tenant_label, ..EncodeOptions::default() };
        let mut body = Vec::new();
        encode_write_request(&batch, &options, &mut body);
        for series in decode(&body).timeseries {
            let names: Vec<&[u8]> = series.labels.iter().map(|l| l.name.as_bytes()).collect();
            prop_assert!(names.windows(2).all(|w| w[0] < w[1]), "{:?}", series.labels);
            prop_assert!(series.labels.iter().all(|l| !l.name.is_empty() && !l.value.is_empty()));
            prop_assert!(series.labels.iter().any(|l| l.name == NAME_LABEL));
            if let Some(name) = &options.tenant_label && !batch.tenant.is_empty() {
                let tenant = series.labels.iter().find(|l| &l.name == name);
                prop_assert_eq!(tenant.map(|l| l.value.as_str()), Some(&*batch.tenant));
            }
        }
    }

    #[test]
    fn any_batch_decodes_to_the_same_samples(batch in arbitrary_batch()) {
        let mut body = Vec::new();
        encode_write_request(&batch, &EncodeOptions::default(), &mut body);
        let request = decode(&body);

        // (series name, timestamp, value bits) as the batch has them, per series in time order.
        let mut expected: Vec<(String, i64, u64)> = Vec::new();
        for (index, series) in batch.series.iter().enumerate() {
            let mut points: Vec<(i64, u64)> = batch
                .samples
                .iter()
                .filter(|s| s.series as usize == index)
                .map(|s| (s.timestamp_ms, s.value.to_bits()))
                .collect();
            points.sort_by_key(|p| p.0);
            expected.extend(points.into_iter().map(|(t, v)| (series.name.to_string(), t, v)));
        }
        let mut decoded = Vec::new();
        for series in &request.timeseries {
            let name = &series.labels.iter().find(|l| l.name == NAME_LABEL).expect("name").value;
            prop_assert!(series.samples.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
            // A zero value is omitted on the wire and decodes as +0.0.
            decoded.extend(series.samples.iter().map(|s| (name.clone(), s.timestamp, s.value.to_bits())));
        }
        let normalize = |bits: u64| if f64::from_bits(bits) == 0.0 { 0 } else { bits };
        let expected: Vec<_> = expected.into_iter().map(|(n, t, v)| (n, t, normalize(v))).collect();
        prop_assert_eq!(decoded, expected);

        let exemplars: usize = request.timeseries.iter().map(|s| s.exemplars.len()).sum();
        prop_assert_eq!(exemplars, batch.samples.iter().filter(|s| s.exemplar.is_some()).count());
        for series in &request.timeseries {
            for exemplar in &series.exemplars {
                let names: Vec<&str> = exemplar.labels.iter().map(|l| l.name.as_str()).collect();
                prop_assert_eq!(names, ["span_id", "trace_id"]);
                prop_assert_eq!(exemplar.labels[1].value.len(), 32);
            }
        }
    }

    #[test]
    fn stale_markers_keep_their_bits(timestamps in proptest::collection::vec(any::<i64>(), 1..20)) {
        let gauge = family("g", MetricKind::Gauge, "");
        let mut batch = MetricBatch::new("t".into());
        batch.series.push(series("g", &[], &gauge));
        batch.samples = timestamps.iter().map(|&t| sample(0, t, STALE_NAN)).collect();
        let mut body = Vec::new();
        encode_write_request(&batch, &plain(), &mut body);
        for sample in &decode(&body).timeseries[0].samples {
            prop_assert_eq!(sample.value.to_bits(), 0x7ff0_0000_0000_0002);
        }
    }

    #[test]
    fn bytes_equal_a_generated_encoder(batch in arbitrary_batch()) {
        // Re-encoding the decoded message with prost gives the same bytes: the hand-written
        // encoder writes canonical protobuf (field order, omitted defaults, lengths).
        let options = EncodeOptions::default();
        let mut encoder = WriteEncoder::new();
        let proto = encoder.encode_uncompressed(&batch, &options).to_vec();
        let request = wire::WriteRequest::decode(proto.as_slice()).expect("decode");
        prop_assert_eq!(request.encode_to_vec(), proto);
    }
}
