//! Tests of the delivery rules: classification tables, partial success, RetryInfo, splitting.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use tonic::metadata::MetadataValue;

use super::grpc::{grpc_request, rpc};
use super::seal::{Sealer, split};
use super::send::{classify_reqwest_error, rejected_records};
use super::*;
use crate::exporters::otlp::convert::StartTimes;
use crate::exporters::otlp::encode::SpanEncoder;
use crate::model::metrics::{Family, MetricKind, MetricSample, Series};
use crate::model::{Batch, Labels, LogBatch, MetricBatch};

#[test]
fn http_statuses_follow_the_otlp_table() {
    assert_eq!(classify_http(200), Verdict::Accepted);
    assert_eq!(classify_http(202), Verdict::Accepted);
    for status in [429, 502, 503, 504] {
        assert_eq!(classify_http(status), Verdict::Retry, "{status}");
    }
    for status in [400, 401, 403, 404, 408, 413] {
        assert_eq!(
            classify_http(status),
            Verdict::Rejected(RejectClass::Client),
            "{status}"
        );
    }
    for status in [500, 501, 505] {
        assert_eq!(
            classify_http(status),
            Verdict::Rejected(RejectClass::Server),
            "{status}: final, unlike remote write"
        );
    }
    assert_eq!(classify_http(302), Verdict::Rejected(RejectClass::Other));
}

#[test]
fn grpc_codes_follow_the_otlp_table() {
    use tonic::Code;
    assert_eq!(classify_grpc(Code::Ok, false), Verdict::Accepted);
    for code in [
        Code::Cancelled,
        Code::DeadlineExceeded,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unavailable,
        Code::DataLoss,
    ] {
        assert_eq!(classify_grpc(code, false), Verdict::Retry, "{code:?}");
    }
    assert_eq!(
        classify_grpc(Code::ResourceExhausted, false),
        Verdict::Rejected(RejectClass::Client),
        "oversize without RetryInfo is final"
    );
    assert_eq!(classify_grpc(Code::ResourceExhausted, true), Verdict::Retry);
    for code in [
        Code::InvalidArgument,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::Unauthenticated,
        Code::FailedPrecondition,
        Code::Unimplemented,
    ] {
        assert_eq!(
            classify_grpc(code, false),
            Verdict::Rejected(RejectClass::Client),
            "{code:?}"
        );
    }
    for code in [Code::Unknown, Code::Internal] {
        assert_eq!(
            classify_grpc(code, false),
            Verdict::Rejected(RejectClass::Server),
            "{code:?}"
        );
    }
}

#[tokio::test]
async fn connection_errors_are_retried_and_build_errors_are_not() {
    crate::exporters::http::install_crypto_provider();
    let client = reqwest::Client::new();
    let refused = client
        .post("http://127.0.0.1:9/")
        .send()
        .await
        .expect_err("refused");
    assert_eq!(classify_reqwest_error(&refused), Verdict::Retry);
    let unbuildable = client.post("not a url").send().await.expect_err("bad url");
    assert_eq!(
        classify_reqwest_error(&unbuildable),
        Verdict::Rejected(RejectClass::Other)
    );
}

#[test]
fn retry_info_delay_is_read_from_status_details() {
    let info = rpc::RetryInfo {
        retry_delay: Some(rpc::Duration {
            seconds: 2,
            nanos: 500_000_000,
        }),
    };
    let status = rpc::Status {
        code: 8,
        message: "slow down".into(),
        details: vec![
            rpc::Any {
                type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                value: vec![1, 2, 3],
            },
            rpc::Any {
                type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                value: info.encode_to_vec(),
            },
        ],
    };
    assert_eq!(
        retry_info_delay(&status.encode_to_vec()),
        Some(Duration::from_millis(2_500))
    );
    let without = rpc::Status {
        details: Vec::new(),
        ..status
    };
    assert_eq!(retry_info_delay(&without.encode_to_vec()), None);
    assert_eq!(retry_info_delay(&[]), None);
}

#[test]
fn partial_success_is_read_from_protobuf_and_json_bodies() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
    let response = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 3,
            error_message: "too old".into(),
        }),
    };
    let body = response.encode_to_vec();
    assert_eq!(
        partial_success(Signal::Traces, &body, false),
        (3, "too old".to_string())
    );
    let json = br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"x"}}"#;
    assert_eq!(
        partial_success(Signal::Logs, json, true),
        (2, "x".to_string())
    );
    assert_eq!(
        partial_success(Signal::Metrics, b"", false),
        (0, String::new())
    );
    assert_eq!(
        partial_success(Signal::Metrics, b"{}", true),
        (0, String::new())
    );
}

#[test]
fn rejected_points_become_a_share_of_samples() {
    assert_eq!(rejected_records(3, 10, 10), 3);
    assert_eq!(rejected_records(0, 10, 40), 0);
    assert_eq!(rejected_records(1, 2, 24), 12);
    assert_eq!(rejected_records(1, 3, 10), 4, "rounded up");
    assert_eq!(rejected_records(50, 2, 24), 24, "capped");
}

fn histogram_batch(points: usize) -> MetricBatch {
    let family = Arc::new(Family {
        name: "latency_seconds".into(),
        help: String::new(),
        unit: "seconds".into(),
        kind: MetricKind::Histogram,
    });
    let mut batch = MetricBatch::new("acme".into());
    for le in ["0.1", "1", "+Inf"] {
        batch.series.push(Arc::new(Series::new(
            "latency_seconds_bucket",
            vec![("le".into(), le.into()), ("job".into(), "a".into())],
            Arc::clone(&family),
        )));
    }
    for point in 0..points {
        for series in 0..3 {
            batch.samples.push(MetricSample {
                series,
                timestamp_ms: point as i64 * 1_000,
                value: series as f64,
                exemplar: None,
            });
        }
    }
    batch
}

#[test]
fn splitting_keeps_the_buckets_of_a_point_together() {
    let batch = Batch::Metrics(histogram_batch(10));
    let pieces = split(&batch, 4);
    assert!(pieces.len() >= 2);
    assert_eq!(pieces.iter().map(Batch::len).sum::<usize>(), 30);
    for piece in &pieces {
        assert_eq!(piece.len() % 3, 0, "whole points only");
    }
}

#[test]
fn oversized_batches_are_split_below_the_limit_and_single_records_dropped() {
    let mut sealer = Sealer {
        protocol: Protocol::HttpProtobuf,
        gzip: false,
        max_request_bytes: 2_000,
        spans: SpanEncoder::new(),
        too_large_log: LogLimiter::new(),
    };
    let mut logs = LogBatch::new("acme".into());
    let stream = logs.stream_index(&Arc::new(Labels::new([("service_name", "a")]).expect("l")));
    for i in 0..100 {
        logs.push_line(stream, i, crate::model::Severity::Info, &[b'x'; 100]);
    }
    let delivery = Delivery::default();
    let mut parts = Vec::new();
    sealer.encode_parts(
        Batch::Logs(logs),
        &mut StartTimes::new(),
        &delivery,
        &mut parts,
    );
    assert!(parts.len() >= 6, "{}", parts.len());
    assert!(parts.iter().all(|p| p.raw_bytes <= 2_000));
    assert_eq!(parts.iter().map(|p| p.records).sum::<u64>(), 100);

    let mut huge = LogBatch::new("acme".into());
    let stream = huge.stream_index(&Arc::new(Labels::new([("service_name", "a")]).expect("l")));
    huge.push_line(stream, 1, crate::model::Severity::Info, &[b'x'; 5_000]);
    let mut parts = Vec::new();
    sealer.encode_parts(
        Batch::Logs(huge),
        &mut StartTimes::new(),
        &delivery,
        &mut parts,
    );
    assert!(parts.is_empty());
    assert_eq!(delivery.snapshot().dropped.get("too_large"), Some(&1));
}

#[test]
fn grpc_requests_carry_the_tenant_and_extra_headers_as_metadata() {
    let config: super::super::OtlpConfig = toml::from_str(
        r#"
        endpoint = "http://127.0.0.1:4317"
        protocol = "grpc"
        http = { headers = { "X-Team" = "blue" }, auth = { bearer_token = "t0k" } }
        "#,
    )
    .expect("toml");
    let settings = Settings {
        urls: [None, None, None],
        protocol: Protocol::Grpc,
        compression: Compression::Gzip,
        tenant_header: HeaderName::from_static("x-scope-orgid"),
        concurrency: 1,
        max_records: 1,
        max_age: Duration::from_secs(1),
        max_request_bytes: 1 << 20,
        retry: RetryConfig::default(),
        timeout: Duration::from_secs(1),
        http: config.http.build("http", &[]).expect("http"),
    };
    let (metadata, key) = grpc_metadata(&settings).expect("metadata");
    let request = grpc_request((), &metadata, &key, MetadataValue::from_static("acme"));
    let metadata = request.metadata();
    assert_eq!(
        metadata.get("x-scope-orgid").and_then(|v| v.to_str().ok()),
        Some("acme")
    );
    assert_eq!(
        metadata.get("x-team").and_then(|v| v.to_str().ok()),
        Some("blue")
    );
    assert_eq!(
        metadata.get("authorization").and_then(|v| v.to_str().ok()),
        Some("Bearer t0k")
    );
}
