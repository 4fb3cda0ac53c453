//! gRPC for the `otlp` exporter: tonic's generated service clients with the `http` table's
//! headers and the tenant as metadata, one unary `Export` call per attempt, and the partial
//! success and `RetryInfo` delay read from what the server answers.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use super::send::{Attempt, Sender};
use super::{GrpcMessage, Settings, Verdict, classify_grpc};
use crate::exporters::otlp::{Compression, signal_slot};
use crate::model::{Signal, TenantId};
use crate::pipeline::stats::RejectClass;

/// The gRPC clients of the signals that have an endpoint.
#[derive(Clone)]
pub(super) struct GrpcClients {
    traces: Option<TraceServiceClient<Channel>>,
    metrics: Option<MetricsServiceClient<Channel>>,
    logs: Option<LogsServiceClient<Channel>>,
    metadata: MetadataMap,
    tenant_key: MetadataKey<tonic::metadata::Ascii>,
}

/// Extra headers and auth of the `http` table as gRPC metadata, plus the tenant key.
pub(super) fn grpc_metadata(
    settings: &Settings,
) -> Result<(MetadataMap, MetadataKey<tonic::metadata::Ascii>), String> {
    // The `http` table keeps its headers private; a request it decorates shows them.
    let probe = settings
        .http
        .apply(settings.http.client().post("http://127.0.0.1/"))
        .build()
        .map_err(|error| format!("http: {error}"))?;
    let mut metadata = MetadataMap::new();
    for (name, value) in probe.headers() {
        let key = MetadataKey::from_bytes(name.as_str().as_bytes())
            .map_err(|error| format!("http.headers.{name}: {error}"))?;
        let value = MetadataValue::try_from(value.as_bytes())
            .map_err(|error| format!("http.headers.{name}: {error}"))?;
        metadata.insert(key, value);
    }
    let tenant_key = MetadataKey::from_bytes(
        settings
            .tenant_header
            .as_str()
            .to_ascii_lowercase()
            .as_bytes(),
    )
    .map_err(|error| format!("tenant_header: {error}"))?;
    Ok((metadata, tenant_key))
}

/// A gRPC request carrying the configured metadata and the tenant.
pub(super) fn grpc_request<T>(
    message: T,
    metadata: &MetadataMap,
    tenant_key: &MetadataKey<tonic::metadata::Ascii>,
    tenant: MetadataValue<tonic::metadata::Ascii>,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    *request.metadata_mut() = metadata.clone();
    request.metadata_mut().insert(tenant_key.clone(), tenant);
    request
}

pub(super) fn grpc_clients(settings: &Settings) -> Result<GrpcClients, String> {
    let (metadata, tenant_key) = grpc_metadata(settings)?;
    let channel = |signal: Signal| -> Result<Option<Channel>, String> {
        let Some(url) = &settings.urls[signal_slot(signal)] else {
            return Ok(None);
        };
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|error| format!("endpoint {url}: {error}"))?
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("synthtel/", env!("CARGO_PKG_VERSION")))
            .map_err(|error| error.to_string())?;
        Ok(Some(endpoint.connect_lazy()))
    };
    let gzip = settings.compression == Compression::Gzip;
    macro_rules! client {
        ($client:ident, $signal:expr) => {
            channel($signal)?.map(|channel| {
                let client = $client::new(channel).accept_compressed(CompressionEncoding::Gzip);
                if gzip {
                    client.send_compressed(CompressionEncoding::Gzip)
                } else {
                    client
                }
            })
        };
    }
    Ok(GrpcClients {
        traces: client!(TraceServiceClient, Signal::Traces),
        metrics: client!(MetricsServiceClient, Signal::Metrics),
        logs: client!(LogsServiceClient, Signal::Logs),
        metadata,
        tenant_key,
    })
}

impl Sender {
    /// One unary `Export` call, classified.
    pub(super) async fn attempt_grpc(&self, tenant: &TenantId, message: &GrpcMessage) -> Attempt {
        let Some(clients) = &self.grpc else {
            return Attempt::Done(Verdict::Rejected(RejectClass::Other), 0);
        };
        let Ok(tenant_value) = MetadataValue::try_from(tenant.as_ref()) else {
            tracing::error!(%tenant, "Tenant id is not a valid metadata value; records rejected.");
            return Attempt::Done(Verdict::Rejected(RejectClass::Other), 0);
        };
        let (metadata, key) = (&clients.metadata, &clients.tenant_key);
        let missing = || tonic::Status::unimplemented("no endpoint for this signal");
        let (signal, result) = match message {
            GrpcMessage::Traces(m) => (
                Signal::Traces,
                match clients.traces.clone() {
                    Some(mut client) => client
                        .export(grpc_request(m.clone(), metadata, key, tenant_value))
                        .await
                        .map(|r| partial_of_traces(r.into_inner())),
                    None => Err(missing()),
                },
            ),
            GrpcMessage::Metrics(m) => (
                Signal::Metrics,
                match clients.metrics.clone() {
                    Some(mut client) => client
                        .export(grpc_request(m.clone(), metadata, key, tenant_value))
                        .await
                        .map(|r| partial_of_metrics(r.into_inner())),
                    None => Err(missing()),
                },
            ),
            GrpcMessage::Logs(m) => (
                Signal::Logs,
                match clients.logs.clone() {
                    Some(mut client) => client
                        .export(grpc_request(m.clone(), metadata, key, tenant_value))
                        .await
                        .map(|r| partial_of_logs(r.into_inner())),
                    None => Err(missing()),
                },
            ),
        };
        match result {
            Ok((rejected, message)) => {
                self.log_partial(tenant, signal, rejected, &message);
                Attempt::Done(Verdict::Accepted, rejected)
            }
            Err(status) => {
                let retry_delay = retry_info_delay(status.details());
                let verdict = classify_grpc(status.code(), retry_delay.is_some());
                let code = format!("{:?}", status.code());
                self.log_failure(tenant, signal, &code, verdict, status.message().as_bytes());
                match verdict {
                    Verdict::Retry => Attempt::Retry(retry_delay),
                    other => Attempt::Done(other, 0),
                }
            }
        }
    }
}

pub(super) fn partial_of_traces(response: ExportTraceServiceResponse) -> (u64, String) {
    response.partial_success.map_or((0, String::new()), |p| {
        (p.rejected_spans.max(0) as u64, p.error_message)
    })
}

pub(super) fn partial_of_metrics(response: ExportMetricsServiceResponse) -> (u64, String) {
    response.partial_success.map_or((0, String::new()), |p| {
        (p.rejected_data_points.max(0) as u64, p.error_message)
    })
}

pub(super) fn partial_of_logs(response: ExportLogsServiceResponse) -> (u64, String) {
    response.partial_success.map_or((0, String::new()), |p| {
        (p.rejected_log_records.max(0) as u64, p.error_message)
    })
}

/// `google.rpc.Status`, `google.protobuf.Any`, `google.rpc.RetryInfo` and
/// `google.protobuf.Duration`, written from their `.proto` files: enough to read a retry delay
/// from `grpc-status-details-bin`.
pub(super) mod rpc {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(int32, tag = "1")]
        pub code: i32,
        #[prost(string, tag = "2")]
        pub message: String,
        #[prost(message, repeated, tag = "3")]
        pub details: Vec<Any>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "1")]
        pub type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        pub retry_delay: Option<Duration>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Duration {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// The delay of a `google.rpc.RetryInfo` among a gRPC status's details, if any.
pub fn retry_info_delay(details: &[u8]) -> Option<Duration> {
    if details.is_empty() {
        return None;
    }
    let status = rpc::Status::decode(details).ok()?;
    let info = status
        .details
        .iter()
        .find(|any| any.type_url.ends_with("google.rpc.RetryInfo"))?;
    let delay = rpc::RetryInfo::decode(info.value.as_slice())
        .ok()?
        .retry_delay
        .unwrap_or_default();
    let seconds = u64::try_from(delay.seconds).unwrap_or(0);
    let nanos = u32::try_from(delay.nanos).unwrap_or(0).min(999_999_999);
    Some(Duration::new(seconds, nanos))
}
