//! The `otlp` exporter: traces, metrics and logs to any OTLP receiver (an OpenTelemetry
//! Collector, Tempo, Loki's and Mimir's OTLP endpoints) over HTTP/protobuf (default),
//! HTTP/JSON or gRPC, one request per tenant with the tenant in `X-Scope-OrgID` (gRPC metadata
//! `x-scope-orgid`).
//!
//! [`convert`] turns batches into `Export*ServiceRequest` messages; [`encode`] writes spans
//! straight to protobuf bytes on the hot path; [`delivery`] batches per tenant and signal,
//! splits requests below `max_request_bytes`, sends with bounded queues and the retry rules of
//! WIRE.md §4.2, and counts every record's outcome.

pub mod convert;
pub mod delivery;
pub mod encode;

use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderName;
use serde::Deserialize;

pub use delivery::{OtlpExporter, Verdict, classify_grpc, classify_http};

use super::http::HttpClientConfig;
use super::retry::RetryConfig;
use crate::config::Problem;
use crate::config::de;
use crate::model::Signal;

/// gRPC servers refuse messages over 4 MiB by default; this leaves room for the envelope.
pub const GRPC_MAX_REQUEST_BYTES: u64 = (4 << 20) - (64 << 10);

/// Default request size over HTTP: "a few hundred KB" (WIRE.md §1).
pub const HTTP_MAX_REQUEST_BYTES: u64 = 512 << 10;

/// Largest `batch.max_records`.
pub const MAX_BATCH_RECORDS: usize = 1 << 20;

/// How requests travel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    /// `POST /v1/<signal>` with a protobuf body (`application/x-protobuf`).
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    /// `POST /v1/<signal>` with an OTLP/JSON body (`application/json`); for debugging.
    #[serde(rename = "http/json")]
    HttpJson,
    /// Unary `Export` calls of the OTLP gRPC services.
    #[serde(rename = "grpc")]
    Grpc,
}

impl Protocol {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }
}

/// Compression of request bodies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// `Content-Encoding: gzip` (HTTP) or `grpc-encoding: gzip`.
    #[default]
    Gzip,
    /// Uncompressed bodies.
    None,
}

/// `[exporters.<id>]` with `type = "otlp"`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// Base URL of the receiver (`http://collector:4318`, or `http://collector:4317` for gRPC).
    /// Over HTTP `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended to its path.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// URL for traces, used as is (`http://tempo:4318/v1/traces`); overrides `endpoint`.
    #[serde(default)]
    pub traces_endpoint: Option<String>,
    /// URL for metrics, used as is (`http://mimir/otlp/v1/metrics`); overrides `endpoint`.
    #[serde(default)]
    pub metrics_endpoint: Option<String>,
    /// URL for logs, used as is (`http://loki:3100/otlp/v1/logs`); overrides `endpoint`.
    #[serde(default)]
    pub logs_endpoint: Option<String>,
    /// `http/protobuf` (default), `http/json` or `grpc`.
    #[serde(default)]
    pub protocol: Protocol,
    /// `gzip` (default) or `none`.
    #[serde(default)]
    pub compression: Compression,
    /// Header that carries the tenant of each request; over gRPC its lower-case form is the
    /// metadata key (`x-scope-orgid`).
    #[serde(default = "default_tenant_header")]
    pub tenant_header: String,
    /// Capacity of the exporter's input queue, in batches.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// (Tenant, signal) pairs whose requests may be in flight at the same time; each pair has at
    /// most one.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// When a tenant's pending records of one signal are sealed into requests.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Largest request body before compression; bigger batches are split. Defaults to just
    /// under gRPC's 4 MiB limit for `grpc` and to 512 KiB over HTTP.
    #[serde(default, deserialize_with = "de_option_byte_size")]
    pub max_request_bytes: Option<u64>,
    /// Backoff and time budget of retries.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Timeout, auth, extra headers and TLS (TLS over HTTP only).
    #[serde(default)]
    pub http: HttpClientConfig,
}

/// The `batch` table of the `otlp` exporter.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// A tenant's pending records of one signal are sealed once they reach this count.
    #[serde(default = "default_max_records")]
    pub max_records: usize,
    /// ... or once the oldest of them has waited this long.
    #[serde(default = "default_max_age", deserialize_with = "de::duration")]
    pub max_age: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_records: default_max_records(),
            max_age: default_max_age(),
        }
    }
}

fn de_option_byte_size<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    de::byte_size(deserializer).map(Some)
}

fn default_tenant_header() -> String {
    "X-Scope-OrgID".to_string()
}

fn default_queue_capacity() -> usize {
    64
}

fn default_concurrency() -> usize {
    4
}

fn default_max_records() -> usize {
    8192
}

fn default_max_age() -> Duration {
    Duration::from_secs(1)
}

impl OtlpConfig {
    /// The request size limit in force.
    pub fn max_request_bytes(&self) -> u64 {
        self.max_request_bytes.unwrap_or(match self.protocol {
            Protocol::Grpc => GRPC_MAX_REQUEST_BYTES,
            Protocol::HttpProtobuf | Protocol::HttpJson => HTTP_MAX_REQUEST_BYTES,
        })
    }

    /// The configured URL key and value for `signal`, before parsing.
    fn endpoint_of(&self, signal: Signal) -> Option<(&'static str, &str, bool)> {
        let (key, specific) = match signal {
            Signal::Traces => ("traces_endpoint", &self.traces_endpoint),
            Signal::Metrics => ("metrics_endpoint", &self.metrics_endpoint),
            Signal::Logs => ("logs_endpoint", &self.logs_endpoint),
        };
        match (specific, &self.endpoint) {
            (Some(url), _) => Some((key, url.as_str(), true)),
            (None, Some(url)) => Some(("endpoint", url.as_str(), false)),
            (None, None) => None,
        }
    }

    /// The parsed URL for `signal`, `None` when neither `endpoint` nor its own key is set.
    pub fn signal_url(&self, signal: Signal) -> Option<Result<Url, (&'static str, String)>> {
        let (key, text, as_is) = self.endpoint_of(signal)?;
        Some(signal_url(text, signal, as_is, self.protocol).map_err(|message| (key, message)))
    }

    /// Problems found without building, all at once.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut any = false;
        let mut reported = Vec::new();
        for signal in Signal::ALL {
            match self.signal_url(signal) {
                None => {}
                Some(Ok(_)) => any = true,
                Some(Err((key, message))) => {
                    any = true;
                    if !reported.contains(&key) {
                        reported.push(key);
                        problems.push(Problem::new(key, message));
                    }
                }
            }
        }
        if !any {
            problems.push(Problem::new(
                "endpoint",
                "set endpoint, or traces_endpoint, metrics_endpoint or logs_endpoint",
            ));
        }
        if HeaderName::from_bytes(self.tenant_header.as_bytes()).is_err() {
            let message = format!("{:?} is not a valid header name", self.tenant_header);
            problems.push(Problem::new("tenant_header", message));
        }
        if self.queue_capacity == 0 {
            problems.push(Problem::new("queue_capacity", "must be at least 1"));
        }
        if self.concurrency == 0 {
            problems.push(Problem::new("concurrency", "must be at least 1"));
        }
        if self.batch.max_records == 0 || self.batch.max_records > MAX_BATCH_RECORDS {
            let message = format!("must be between 1 and {MAX_BATCH_RECORDS}");
            problems.push(Problem::new("batch.max_records", message));
        }
        if self.batch.max_age.is_zero() {
            problems.push(Problem::new("batch.max_age", "must be positive"));
        }
        let max = self.max_request_bytes();
        if max < 1024 || (self.protocol == Protocol::Grpc && max > 4 << 20) {
            let message = match self.protocol {
                Protocol::Grpc => "must be between 1 KiB and 4 MiB for grpc",
                _ => "must be at least 1 KiB",
            };
            problems.push(Problem::new("max_request_bytes", message));
        }
        problems.extend(self.retry.validate("retry"));
        problems.extend(self.http.validate("http", &self.reserved_headers()));
        if self.protocol == Protocol::Grpc && self.http.tls != Default::default() {
            problems.push(Problem::new(
                "http.tls",
                "TLS settings apply to http/protobuf and http/json only",
            ));
        }
        problems
    }

    /// Builds the exporter; the message names every problem.
    pub fn build(&self) -> Result<OtlpExporter, String> {
        let problems = self.validate();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(list.join("; "));
        }
        let tenant_header = HeaderName::from_bytes(self.tenant_header.as_bytes())
            .map_err(|error| format!("tenant_header: {error}"))?;
        let http = self
            .http
            .build("http", &self.reserved_headers())
            .map_err(|error| error.to_string())?;
        let mut urls = [None, None, None];
        for signal in Signal::ALL {
            if let Some(url) = self.signal_url(signal) {
                urls[signal_slot(signal)] =
                    Some(url.map_err(|(key, message)| format!("{key}: {message}"))?);
            }
        }
        delivery::OtlpExporter::new(delivery::Settings {
            urls,
            protocol: self.protocol,
            compression: self.compression,
            tenant_header,
            concurrency: self.concurrency,
            max_records: self.batch.max_records,
            max_age: self.batch.max_age,
            max_request_bytes: self.max_request_bytes(),
            retry: self.retry.clone(),
            timeout: self.http.timeout,
            http,
        })
    }

    fn reserved_headers(&self) -> [&str; 5] {
        [
            "content-type",
            "content-encoding",
            "te",
            "grpc-encoding",
            self.tenant_header.as_str(),
        ]
    }
}

/// Index of a signal in per-signal arrays.
pub(crate) fn signal_slot(signal: Signal) -> usize {
    match signal {
        Signal::Logs => 0,
        Signal::Metrics => 1,
        Signal::Traces => 2,
    }
}

/// The OTLP/HTTP path of a signal.
pub fn signal_path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/v1/traces",
        Signal::Metrics => "/v1/metrics",
        Signal::Logs => "/v1/logs",
    }
}

/// The URL of `signal`: over HTTP a base `endpoint` gets `/v1/<signal>` appended to its path, a
/// per-signal endpoint (`as_is`) is used unchanged; over gRPC the URL names the server only.
pub fn signal_url(
    endpoint: &str,
    signal: Signal,
    as_is: bool,
    protocol: Protocol,
) -> Result<Url, String> {
    let mut url = Url::parse(endpoint).map_err(|error| format!("{endpoint:?}: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{endpoint:?} must be an http or https URL"));
    }
    if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{endpoint:?} has no host"));
    }
    if protocol == Protocol::Grpc {
        if url.scheme() == "https" {
            return Err(format!(
                "{endpoint:?}: grpc over TLS is not supported yet; use http/protobuf for https"
            ));
        }
        if !(url.path().is_empty() || url.path() == "/") {
            return Err(format!("{endpoint:?}: a grpc endpoint has no path"));
        }
        return Ok(url);
    }
    if !as_is {
        let base = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base}{}", signal_path(signal)));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> OtlpConfig {
        toml::from_str(text).expect("toml")
    }

    #[test]
    fn defaults_follow_wire() {
        let config = parse(r#"endpoint = "http://collector:4318""#);
        assert_eq!(config.protocol, Protocol::HttpProtobuf);
        assert_eq!(config.compression, Compression::Gzip);
        assert_eq!(config.tenant_header, "X-Scope-OrgID");
        assert_eq!((config.queue_capacity, config.concurrency), (64, 4));
        assert_eq!(config.max_request_bytes(), HTTP_MAX_REQUEST_BYTES);
        assert!(config.validate().is_empty(), "{:?}", config.validate());
        let grpc = parse("endpoint = \"http://c:4317\"\nprotocol = \"grpc\"");
        assert_eq!(grpc.max_request_bytes(), GRPC_MAX_REQUEST_BYTES);
        const { assert!(GRPC_MAX_REQUEST_BYTES < 4 << 20) };
        assert!(grpc.validate().is_empty());
    }

    #[test]
    fn endpoints_get_signal_paths_and_per_signal_ones_are_used_as_is() {
        let config = parse(
            r#"
            endpoint = "http://collector:4318/prefix/"
            logs_endpoint = "http://loki:3100/otlp/v1/logs"
            "#,
        );
        let url = |signal| {
            config
                .signal_url(signal)
                .expect("set")
                .expect("valid")
                .to_string()
        };
        assert_eq!(
            url(Signal::Traces),
            "http://collector:4318/prefix/v1/traces"
        );
        assert_eq!(
            url(Signal::Metrics),
            "http://collector:4318/prefix/v1/metrics"
        );
        assert_eq!(url(Signal::Logs), "http://loki:3100/otlp/v1/logs");
        let bare = parse(r#"endpoint = "http://c:4318""#);
        assert_eq!(
            bare.signal_url(Signal::Logs)
                .expect("set")
                .expect("ok")
                .path(),
            "/v1/logs"
        );
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let config = parse(
            r#"
            traces_endpoint = "nowhere"
            protocol = "grpc"
            metrics_endpoint = "https://mimir:4317"
            tenant_header = "bad header"
            concurrency = 0
            max_request_bytes = "8MiB"
            batch = { max_records = 0, max_age = "0s" }
            "#,
        );
        let keys: Vec<String> = config.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "metrics_endpoint",
                "traces_endpoint",
                "tenant_header",
                "concurrency",
                "batch.max_records",
                "batch.max_age",
                "max_request_bytes"
            ]
        );
        assert!(config.build().is_err());
        let none = parse("protocol = \"http/json\"");
        assert_eq!(none.validate()[0].key, "endpoint");
    }

    #[test]
    fn refuses_unknown_keys_and_protocols() {
        assert!(toml::from_str::<OtlpConfig>("endpoint = \"http://c\"\nheaders = 1").is_err());
        assert!(
            toml::from_str::<OtlpConfig>("endpoint = \"http://c\"\nprotocol = \"http\"").is_err()
        );
    }
}
