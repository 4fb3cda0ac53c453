//! Sending for the `prometheus_remote_write` exporter: one request delivered until it is
//! accepted, rejected, out of retries or stopped, each attempt a snappy-compressed protobuf
//! POST whose outcome is counted and logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT,
};

use super::{
    LOGGED_BODY_BYTES, LogLimiter, Request, ShardKey, Target, VERSION_HEADER, Verdict,
    classify_status,
};
use crate::exporters::StopSignal;
use crate::exporters::http::HttpClient;
use crate::exporters::remote_write::PROTOCOL_VERSION;
use crate::exporters::retry::{Backoff, RetryConfig, parse_retry_after};
use crate::model::TenantId;
use crate::pipeline::stats::{DropReason, RejectClass};
use crate::random::mix64;

/// The verdict of a request that got no response: connection errors and timeouts are retried;
/// a request that could not even be built never will be.
pub(super) fn classify_error(error: &reqwest::Error) -> Verdict {
    if error.is_builder() {
        Verdict::Rejected(RejectClass::Other)
    } else {
        Verdict::Retry
    }
}

/// What the sending tasks share.
pub(super) struct Sender {
    pub(super) retry: RetryConfig,
    pub(super) http: HttpClient,
    pub(super) tenant_header: Option<HeaderName>,
    pub(super) sequence: AtomicU64,
    pub(super) retry_log: LogLimiter,
    pub(super) reject_log: LogLimiter,
    pub(super) exhausted_log: LogLimiter,
}

/// The result of one attempt.
enum Attempt {
    Done(Verdict),
    Retry(Option<Duration>),
}

impl Sender {
    /// Sends one request until it is accepted, rejected, out of retries or stopped, and counts
    /// the outcome. Returns the shard, for the runner's bookkeeping.
    pub(super) async fn deliver(
        self: Arc<Self>,
        request: Request,
        key: ShardKey,
        mut stop: StopSignal,
    ) -> ShardKey {
        let Request {
            tenant,
            target,
            delivery,
            body,
            samples,
        } = request;
        delivery.add_sent(samples);
        let seed = mix64(self.sequence.fetch_add(1, Ordering::Relaxed));
        let mut backoff = Backoff::new(&self.retry, seed);
        loop {
            delivery.add_request(body.len() as u64);
            let attempt = tokio::select! {
                biased;
                () = stop.triggered() => {
                    delivery.add_dropped(DropReason::Shutdown, samples);
                    return key;
                }
                attempt = self.attempt(&tenant, &target, body.clone()) => attempt,
            };
            let retry_after = match attempt {
                Attempt::Done(Verdict::Accepted) => {
                    delivery.add_accepted(samples);
                    return key;
                }
                Attempt::Done(Verdict::Rejected(class)) => {
                    delivery.add_rejected(class, samples);
                    return key;
                }
                Attempt::Done(Verdict::Retry) => None,
                Attempt::Retry(retry_after) => retry_after,
            };
            let Some(wait) = backoff.next_wait(retry_after) else {
                delivery.add_dropped(DropReason::RetriesExhausted, samples);
                if let Some(suppressed) = self.exhausted_log.allow() {
                    tracing::error!(
                        %tenant, samples, retries = backoff.retries(), suppressed,
                        "Remote write kept failing until the retry budget ran out; samples dropped."
                    );
                }
                return key;
            };
            tokio::select! {
                biased;
                () = stop.triggered() => {
                    delivery.add_dropped(DropReason::Shutdown, samples);
                    return key;
                }
                () = tokio::time::sleep(wait) => {}
            }
            delivery.add_retried(samples);
        }
    }

    /// One POST of `body`, classified.
    async fn attempt(&self, tenant: &TenantId, target: &Target, body: Bytes) -> Attempt {
        let mut request = self
            .http
            .apply(self.http.client().post(target.url.clone()))
            .header(CONTENT_ENCODING, HeaderValue::from_static("snappy"))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            )
            .header(
                USER_AGENT,
                HeaderValue::from_static(concat!("synthtel/", env!("CARGO_PKG_VERSION"))),
            )
            .header(VERSION_HEADER, HeaderValue::from_static(PROTOCOL_VERSION));
        if let (Some(name), Some(value)) = (&self.tenant_header, &target.tenant_header) {
            request = request.header(name, value.clone());
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => {
                let verdict = classify_error(&error);
                if let Some(suppressed) = self.retry_log.allow() {
                    tracing::warn!(%tenant, %error, suppressed, "Remote write failed to get a response.");
                }
                return match verdict {
                    Verdict::Retry => Attempt::Retry(None),
                    other => Attempt::Done(other),
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let verdict = classify_status(status.as_u16());
        // Reading the body lets the connection be reused, and explains a refusal.
        let body = response.bytes().await.unwrap_or_default();
        self.log_response(tenant, status, verdict, &body);
        match verdict {
            Verdict::Retry => Attempt::Retry(retry_after),
            other => Attempt::Done(other),
        }
    }

    fn log_response(&self, tenant: &TenantId, status: StatusCode, verdict: Verdict, body: &[u8]) {
        let status = status.as_u16();
        let body = String::from_utf8_lossy(&body[..body.len().min(LOGGED_BODY_BYTES)]);
        let body = body.trim_end();
        match verdict {
            Verdict::Accepted => {}
            Verdict::Retry => {
                if let Some(suppressed) = self.retry_log.allow() {
                    tracing::warn!(%tenant, status, %body, suppressed, "Remote write will be retried.");
                }
            }
            Verdict::Rejected(_) => {
                if let Some(suppressed) = self.reject_log.allow() {
                    tracing::error!(
                        %tenant, status, %body, suppressed,
                        "Receiver refused the remote write; its samples are rejected."
                    );
                }
            }
        }
    }
}
