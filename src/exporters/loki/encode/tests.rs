use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::model::{Labels, Severity};

/// Loki's messages, written from `pkg/push/push.proto` for decoding only.
mod wire {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<StreamAdapter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamAdapter {
        #[prost(string, tag = "1")]
        pub labels: String,
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<EntryAdapter>,
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EntryAdapter {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        #[prost(string, tag = "2")]
        pub line: String,
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<LabelPairAdapter>,
        #[prost(message, repeated, tag = "4")]
        pub parsed: Vec<LabelPairAdapter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPairAdapter {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

fn labels(pairs: &[(&str, &str)]) -> Arc<Labels> {
    Arc::new(Labels::new(pairs.iter().copied()).expect("labels"))
}

fn push(batch: &mut LogBatch, stream: u32, timestamp_ns: i64, line: &str, meta: &[(&str, &str)]) {
    let start = batch.metadata.len() as u32;
    for (name, value) in meta {
        batch.push_metadata(name.to_string(), value.as_bytes());
    }
    batch.push_line(stream, timestamp_ns, Severity::Info, line.as_bytes());
    let entry = batch.entries.last_mut().expect("entry");
    entry.metadata = start..batch.metadata.len() as u32;
}

fn decode(body: &[u8]) -> wire::PushRequest {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .expect("snappy block");
    prost::Message::decode(raw.as_slice()).expect("push request")
}

#[test]
fn golden_bytes_of_a_one_entry_push() {
    let mut batch = LogBatch::new("t".into());
    let stream = batch.stream_index(&labels(&[("app", "a")]));
    push(&mut batch, stream, 1_000_000_002, "hi", &[("u", "v")]);

    let mut encoder = PushEncoder::new();
    let proto = encoder.encode_protobuf_uncompressed(&batch).to_vec();

    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[0x0a, 31][..],                    // PushRequest.streams (1), 31 bytes
        &[0x0a, 9], b"{app=\"a\"}",         //   StreamAdapter.labels (1)
        &[0x12, 18],                        //   StreamAdapter.entries (2), 18 bytes
        &[0x0a, 4, 0x08, 1, 0x10, 2],       //     timestamp (1): seconds (1) = 1, nanos (2) = 2
        &[0x12, 2], b"hi",                  //     line (2)
        &[0x1a, 6, 0x0a, 1, b'u', 0x12, 1, b'v'], // structuredMetadata (3): name (1), value (2)
    ]
    .concat();
    assert_eq!(proto, expected);
}

#[test]
fn golden_bytes_of_trace_and_span_ids() {
    let mut batch = LogBatch::new("t".into());
    let stream = batch.stream_index(&labels(&[("a", "b")]));
    push(&mut batch, stream, 5, "x", &[]);
    batch.entries[0].trace_id = Some([0xab; 16]);
    batch.entries[0].span_id = Some([0x01; 8]);

    let proto = PushEncoder::new()
        .encode_protobuf_uncompressed(&batch)
        .to_vec();

    let trace_hex = "ab".repeat(16);
    let span_hex = "01".repeat(8);
    #[rustfmt::skip]
    let entry: Vec<u8> = [
        &[0x0a, 2, 0x10, 5][..],                // timestamp: seconds 0 omitted, nanos = 5
        &[0x12, 1], b"x",
        &[0x1a, 44, 0x0a, 8], b"trace_id", &[0x12, 32], trace_hex.as_bytes(),
        &[0x1a, 27, 0x0a, 7], b"span_id", &[0x12, 16], span_hex.as_bytes(),
    ]
    .concat();
    assert_eq!(entry.len(), 4 + 3 + 46 + 29);
    let mut stream_body = [&[0x0a, 7][..], b"{a=\"b\"}", &[0x12, entry.len() as u8]].concat();
    stream_body.extend_from_slice(&entry);
    let mut expected = vec![0x0a, stream_body.len() as u8];
    expected.extend_from_slice(&stream_body);
    assert_eq!(proto, expected);
}

#[test]
fn snappy_output_is_a_raw_block() {
    let mut batch = LogBatch::new("t".into());
    let stream = batch.stream_index(&labels(&[("app", "a")]));
    for i in 0..100 {
        push(
            &mut batch,
            stream,
            1_700_000_000_000_000_000 + i,
            "GET /cart 200",
            &[],
        );
    }
    let mut encoder = PushEncoder::new();
    let proto = encoder.encode_protobuf_uncompressed(&batch).to_vec();
    let mut body = Vec::new();
    encoder.encode_protobuf(&batch, &mut body);

    let framed_header = [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59];
    assert!(!body.starts_with(&framed_header));
    // A raw block starts with the uncompressed length as a varint.
    let mut length = Vec::new();
    push_varint(&mut length, proto.len() as u64);
    assert!(body.starts_with(&length));
    assert!(body.len() < proto.len() / 4, "repetitive lines compress");
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .expect("raw block");
    assert_eq!(raw, proto);
}

#[test]
fn groups_by_stream_and_sorts_each_stream_stably() {
    let mut batch = LogBatch::new("t".into());
    let a = batch.stream_index(&labels(&[("app", "a")]));
    let b = batch.stream_index(&labels(&[("app", "b")]));
    let _unused = batch.stream_index(&labels(&[("app", "c")]));
    push(&mut batch, a, 30, "a30", &[]);
    push(&mut batch, b, 10, "b10", &[]);
    push(&mut batch, a, 10, "a10-first", &[]);
    push(&mut batch, a, 10, "a10-second", &[]);
    push(&mut batch, b, 5, "b5", &[]);

    let mut body = Vec::new();
    encode_protobuf(&batch, &mut body);
    let request = decode(&body);

    assert_eq!(
        request.streams.len(),
        2,
        "a stream without entries is left out"
    );
    let lines =
        |s: &wire::StreamAdapter| s.entries.iter().map(|e| e.line.clone()).collect::<Vec<_>>();
    assert_eq!(request.streams[0].labels, r#"{app="a"}"#);
    assert_eq!(
        lines(&request.streams[0]),
        ["a10-first", "a10-second", "a30"]
    );
    assert_eq!(lines(&request.streams[1]), ["b5", "b10"]);
    assert!(request.streams.iter().all(|s| s.hash == 0));
}

#[test]
fn escapes_label_values_in_the_selector() {
    let mut batch = LogBatch::new("t".into());
    let stream = batch.stream_index(&labels(&[("path", "C:\\dir \"x\"\nend")]));
    push(&mut batch, stream, 1, "l", &[]);
    let mut body = Vec::new();
    encode_protobuf(&batch, &mut body);
    assert_eq!(
        decode(&body).streams[0].labels,
        r#"{path="C:\\dir \"x\"\nend"}"#
    );
}

#[test]
fn negative_timestamps_keep_nanos_positive() {
    let mut batch = LogBatch::new("t".into());
    let stream = batch.stream_index(&labels(&[("a", "b")]));
    push(&mut batch, stream, -1, "before the epoch", &[]);
    let mut body = Vec::new();
    encode_protobuf(&batch, &mut body);
    let timestamp = decode(&body).streams[0].entries[0]
        .timestamp
        .clone()
        .expect("timestamp");
    assert_eq!((timestamp.seconds, timestamp.nanos), (-1, 999_999_999));
}

#[test]
fn json_has_string_timestamps_and_metadata() {
    let mut batch = LogBatch::new("t".into());
    let a = batch.stream_index(&labels(&[("app", "a"), ("env", "prod")]));
    push(
        &mut batch,
        a,
        1_700_000_000_000_000_002,
        "second \"quoted\"",
        &[("user_id", "u-1")],
    );
    push(&mut batch, a, 1_700_000_000_000_000_001, "first", &[]);
    batch.entries[0].trace_id = Some([0x0f; 16]);

    let mut out = Vec::new();
    encode_json(&batch, &mut out);
    let value: serde_json::Value = serde_json::from_slice(&out).expect("json");

    let stream = &value["streams"][0];
    assert_eq!(
        stream["stream"],
        serde_json::json!({"app": "a", "env": "prod"})
    );
    assert_eq!(
        stream["values"][0],
        serde_json::json!(["1700000000000000001", "first"])
    );
    assert_eq!(
        stream["values"][1],
        serde_json::json!([
            "1700000000000000002",
            "second \"quoted\"",
            {"trace_id": "0f".repeat(16), "user_id": "u-1"}
        ])
    );
}

#[test]
fn varint_lengths_match_the_encoding() {
    for value in [
        0,
        1,
        127,
        128,
        16_383,
        16_384,
        u64::from(u32::MAX),
        u64::MAX,
    ] {
        let mut out = Vec::new();
        push_varint(&mut out, value);
        assert_eq!(varint_len(value), out.len(), "{value}");
    }
}

/// A batch of up to 4 streams and 60 entries with arbitrary times, text and metadata.
fn arbitrary_batch() -> impl Strategy<Value = LogBatch> {
    let entry = (
        0u32..4,
        any::<i64>(),
        "\\PC{0,40}",
        proptest::option::of(any::<[u8; 16]>()),
        proptest::collection::vec(("[a-z_]{1,8}", "\\PC{0,12}"), 0..3),
    );
    (
        proptest::collection::vec("[ -~]{1,10}", 1..5),
        proptest::collection::vec(entry, 0..60),
    )
        .prop_map(|(values, entries)| {
            let mut batch = LogBatch::new("t".into());
            let streams: Vec<u32> = values
                .iter()
                .enumerate()
                .map(|(i, v)| batch.stream_index(&labels(&[("app", v), ("n", &i.to_string())])))
                .collect();
            for (stream, timestamp, line, trace_id, meta) in entries {
                let stream = streams[stream as usize % streams.len()];
                let meta: Vec<(&str, &str)> =
                    meta.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                push(&mut batch, stream, timestamp, &line, &meta);
                batch.entries.last_mut().expect("entry").trace_id = trace_id;
            }
            batch
        })
}

proptest! {
    #[test]
    fn any_batch_decodes_with_the_same_entries(batch in arbitrary_batch()) {
        let mut body = Vec::new();
        PushEncoder::new().encode_protobuf(&batch, &mut body);
        let request = decode(&body);

        let mut decoded = Vec::new();
        for stream in &request.streams {
            let timestamps: Vec<i64> = stream
                .entries
                .iter()
                .map(|e| e.timestamp.as_ref().map_or(0, |t| t.seconds * 1_000_000_000 + i64::from(t.nanos)))
                .collect();
            prop_assert!(timestamps.windows(2).all(|w| w[0] <= w[1]));
            for (entry, timestamp) in stream.entries.iter().zip(timestamps) {
                prop_assert!(entry.parsed.is_empty());
                let metadata: Vec<(String, String)> = entry
                    .structured_metadata
                    .iter()
                    .map(|p| (p.name.clone(), p.value.clone()))
                    .collect();
                decoded.push((stream.labels.clone(), timestamp, entry.line.clone(), metadata));
            }
        }

        let mut expected = Vec::new();
        for entry in &batch.entries {
            let mut metadata = Vec::new();
            if let Some(trace_id) = entry.trace_id {
                metadata.push(("trace_id".to_string(), crate::model::hex(&trace_id)));
            }
            for pair in batch.metadata_of(entry) {
                let value = String::from_utf8_lossy(batch.text_of(pair.value)).into_owned();
                metadata.push((pair.name.to_string(), value));
            }
            let line = String::from_utf8_lossy(batch.line(entry)).into_owned();
            expected.push((batch.stream(entry).selector().to_string(), entry.timestamp_ns, line, metadata));
        }
        decoded.sort();
        expected.sort();
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn any_batch_encodes_as_valid_json(batch in arbitrary_batch()) {
        let mut out = Vec::new();
        PushEncoder::new().encode_json(&batch, &mut out);
        let value: serde_json::Value = serde_json::from_slice(&out).expect("json");
        let values: usize = value["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .map(|s| s["values"].as_array().expect("values").len())
            .sum();
        prop_assert_eq!(values, batch.entries.len());
    }
}

proptest! {
    #[test]
    fn fast_json_strings_match_the_plain_escaper(bytes in proptest::collection::vec(any::<u8>(), 0..40), text in "\\PC{0,20}[\\x00-\\x1f\"\\\\]{0,4}") {
        for input in [bytes.as_slice(), text.as_bytes()] {
            let mut fast = Vec::new();
            json_string(&mut fast, input);
            let mut plain = Vec::new();
            file::json_string(&mut plain, input);
            prop_assert_eq!(&fast, &plain);
        }
    }
}
