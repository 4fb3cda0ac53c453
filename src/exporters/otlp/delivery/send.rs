//! Sending for the `otlp` exporter: one request delivered until it is accepted, rejected, out
//! of retries or stopped, each attempt an HTTP POST (or a gRPC call, see [`super::grpc`]) whose
//! outcome, partial successes included, is counted and logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use reqwest::Url;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};

use super::grpc::{GrpcClients, partial_of_logs, partial_of_metrics, partial_of_traces};
use super::{LOGGED_BODY_BYTES, LaneKey, LogLimiter, Payload, Request, Verdict, classify_http};
use crate::exporters::StopSignal;
use crate::exporters::http::HttpClient;
use crate::exporters::otlp::{Protocol, signal_slot};
use crate::exporters::retry::{Backoff, RetryConfig, parse_retry_after};
use crate::model::{Signal, TenantId};
use crate::pipeline::stats::{DropReason, RejectClass};
use crate::random::mix64;

/// A request that got no HTTP response: connection errors and timeouts are retried; one that
/// could not even be built never will be.
pub(super) fn classify_reqwest_error(error: &reqwest::Error) -> Verdict {
    if error.is_builder() {
        Verdict::Rejected(RejectClass::Other)
    } else {
        Verdict::Retry
    }
}

/// What the sending tasks share.
pub(super) struct Sender {
    pub(super) protocol: Protocol,
    pub(super) urls: [Option<Url>; 3],
    pub(super) tenant_header: HeaderName,
    pub(super) gzip: bool,
    pub(super) retry: RetryConfig,
    pub(super) http: HttpClient,
    pub(super) grpc: Option<GrpcClients>,
    pub(super) sequence: AtomicU64,
    pub(super) retry_log: LogLimiter,
    pub(super) reject_log: LogLimiter,
    pub(super) partial_log: LogLimiter,
    pub(super) exhausted_log: LogLimiter,
}

/// The result of one attempt.
pub(super) enum Attempt {
    /// Done: accepted (with the OTLP items the receiver rejected in a partial success) or
    /// rejected.
    Done(Verdict, u64),
    /// Try again, after the receiver's delay when it gave one.
    Retry(Option<Duration>),
}

impl Sender {
    /// Sends one request until it is accepted, rejected, out of retries or stopped, and counts
    /// the outcome. Returns the lane, for the runner's bookkeeping.
    pub(super) async fn deliver(
        self: Arc<Self>,
        request: Request,
        mut stop: StopSignal,
    ) -> LaneKey {
        let Request {
            tenant,
            signal,
            delivery,
            payload,
            raw_bytes,
            records,
            items,
        } = request;
        let key = (Arc::clone(&tenant), signal);
        delivery.add_sent(records);
        let seed = mix64(self.sequence.fetch_add(1, Ordering::Relaxed));
        let mut backoff = Backoff::new(&self.retry, seed);
        let wire_bytes = match &payload {
            Payload::Http(body) => body.len() as u64,
            Payload::Grpc(_) => raw_bytes,
        };
        loop {
            delivery.add_request(wire_bytes);
            let attempt = tokio::select! {
                biased;
                () = stop.triggered() => {
                    delivery.add_dropped(DropReason::Shutdown, records);
                    return key;
                }
                attempt = self.attempt(&tenant, signal, &payload) => attempt,
            };
            let retry_after = match attempt {
                Attempt::Done(Verdict::Accepted, rejected_items) => {
                    let rejected = rejected_records(rejected_items, items, records);
                    if rejected > 0 {
                        delivery.add_rejected(RejectClass::Other, rejected);
                    }
                    delivery.add_accepted(records - rejected);
                    return key;
                }
                Attempt::Done(Verdict::Rejected(class), _) => {
                    delivery.add_rejected(class, records);
                    return key;
                }
                Attempt::Done(Verdict::Retry, _) => None,
                Attempt::Retry(retry_after) => retry_after,
            };
            let Some(wait) = backoff.next_wait(retry_after) else {
                delivery.add_dropped(DropReason::RetriesExhausted, records);
                if let Some(suppressed) = self.exhausted_log.allow() {
                    tracing::error!(
                        %tenant, %signal, records, retries = backoff.retries(), suppressed,
                        "OTLP export kept failing until the retry budget ran out; records dropped."
                    );
                }
                return key;
            };
            tokio::select! {
                biased;
                () = stop.triggered() => {
                    delivery.add_dropped(DropReason::Shutdown, records);
                    return key;
                }
                () = tokio::time::sleep(wait) => {}
            }
            delivery.add_retried(records);
        }
    }

    async fn attempt(&self, tenant: &TenantId, signal: Signal, payload: &Payload) -> Attempt {
        match payload {
            Payload::Http(body) => self.attempt_http(tenant, signal, body.clone()).await,
            Payload::Grpc(message) => self.attempt_grpc(tenant, message).await,
        }
    }

    /// One POST, classified; a 2xx body is read for a partial success.
    async fn attempt_http(&self, tenant: &TenantId, signal: Signal, body: Bytes) -> Attempt {
        let Some(url) = &self.urls[signal_slot(signal)] else {
            return Attempt::Done(Verdict::Rejected(RejectClass::Other), 0);
        };
        let Ok(tenant_value) = HeaderValue::from_str(tenant) else {
            tracing::error!(%tenant, "Tenant id is not a valid header value; records rejected.");
            return Attempt::Done(Verdict::Rejected(RejectClass::Other), 0);
        };
        let content_type = match self.protocol {
            Protocol::HttpJson => "application/json",
            _ => "application/x-protobuf",
        };
        let mut request = self
            .http
            .apply(self.http.client().post(url.clone()))
            .header(CONTENT_TYPE, content_type)
            .header(&self.tenant_header, tenant_value);
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => {
                let verdict = classify_reqwest_error(&error);
                if let Some(suppressed) = self.retry_log.allow() {
                    tracing::warn!(%tenant, %signal, %error, suppressed, "OTLP export got no response.");
                }
                return match verdict {
                    Verdict::Retry => Attempt::Retry(None),
                    other => Attempt::Done(other, 0),
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains("json"));
        let verdict = classify_http(status.as_u16());
        // Reading the body lets the connection be reused, and explains a refusal.
        let body = response.bytes().await.unwrap_or_default();
        match verdict {
            Verdict::Accepted => {
                let (rejected, message) = partial_success(signal, &body, json);
                self.log_partial(tenant, signal, rejected, &message);
                Attempt::Done(Verdict::Accepted, rejected)
            }
            Verdict::Retry => {
                self.log_failure(tenant, signal, &status.to_string(), verdict, &body);
                Attempt::Retry(retry_after)
            }
            Verdict::Rejected(_) => {
                self.log_failure(tenant, signal, &status.to_string(), verdict, &body);
                Attempt::Done(verdict, 0)
            }
        }
    }

    pub(super) fn log_partial(
        &self,
        tenant: &TenantId,
        signal: Signal,
        rejected: u64,
        message: &str,
    ) {
        if rejected == 0 && message.is_empty() {
            return;
        }
        if let Some(suppressed) = self.partial_log.allow() {
            let message = truncate(message);
            if rejected > 0 {
                tracing::error!(
                    %tenant, %signal, rejected, error_message = %message, suppressed,
                    "OTLP receiver rejected part of the request; those records are not retried."
                );
            } else {
                tracing::warn!(
                    %tenant, %signal, error_message = %message, suppressed,
                    "OTLP receiver accepted the request with a warning."
                );
            }
        }
    }

    pub(super) fn log_failure(
        &self,
        tenant: &TenantId,
        signal: Signal,
        status: &str,
        verdict: Verdict,
        body: &[u8],
    ) {
        let body = String::from_utf8_lossy(&body[..body.len().min(LOGGED_BODY_BYTES)]);
        let body = body.trim_end();
        match verdict {
            Verdict::Accepted => {}
            Verdict::Retry => {
                if let Some(suppressed) = self.retry_log.allow() {
                    tracing::warn!(%tenant, %signal, status, %body, suppressed, "OTLP export will be retried.");
                }
            }
            Verdict::Rejected(_) => {
                if let Some(suppressed) = self.reject_log.allow() {
                    tracing::error!(
                        %tenant, %signal, status, %body, suppressed,
                        "OTLP receiver refused the request; its records are rejected."
                    );
                }
            }
        }
    }
}

fn truncate(text: &str) -> &str {
    let mut end = text.len().min(LOGGED_BODY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Rejected records for `rejected_items` of `items` OTLP items carrying `records` records:
/// equal for spans and logs; the rounded-up share for metric points.
pub(super) fn rejected_records(rejected_items: u64, items: u64, records: u64) -> u64 {
    if rejected_items == 0 || items == 0 {
        return 0;
    }
    if items == records {
        return rejected_items.min(records);
    }
    let share = u128::from(rejected_items.min(items)) * u128::from(records);
    u64::try_from(share.div_ceil(u128::from(items)))
        .unwrap_or(records)
        .min(records)
}

/// The rejected item count and error message of a successful OTLP/HTTP response body
/// (protobuf, or OTLP/JSON when the response says so); an empty or unreadable body is a full
/// success.
pub fn partial_success(signal: Signal, body: &[u8], json: bool) -> (u64, String) {
    if body.is_empty() {
        return (0, String::new());
    }
    if json {
        return json_partial_success(signal, body);
    }
    match signal {
        Signal::Traces => {
            ExportTraceServiceResponse::decode(body).map_or((0, String::new()), partial_of_traces)
        }
        Signal::Metrics => ExportMetricsServiceResponse::decode(body)
            .map_or((0, String::new()), partial_of_metrics),
        Signal::Logs => {
            ExportLogsServiceResponse::decode(body).map_or((0, String::new()), partial_of_logs)
        }
    }
}

/// OTLP/JSON writes the rejected count as a decimal string; some receivers write a number.
fn json_partial_success(signal: Signal, body: &[u8]) -> (u64, String) {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (0, String::new());
    };
    let partial = &document["partialSuccess"];
    let key = match signal {
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
        Signal::Logs => "rejectedLogRecords",
    };
    let rejected = match &partial[key] {
        serde_json::Value::String(text) => text.parse().unwrap_or(0),
        value => value.as_u64().unwrap_or(0),
    };
    let message = partial["errorMessage"].as_str().unwrap_or_default();
    (rejected, message.to_string())
}
