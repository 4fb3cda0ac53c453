//! The `loki` exporter: log batches to Loki's push API (`POST /loki/api/v1/push`), as snappy
//! protobuf `logproto.PushRequest` (default) or JSON, one request per tenant with the tenant in
//! `X-Scope-OrgID`.
//!
//! [`encode`] turns a batch into a push body; [`delivery`] batches per tenant by size and age,
//! sends with bounded per-tenant queues and retries, and counts every record's outcome.

pub mod delivery;
pub mod encode;

use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderName;
use serde::Deserialize;

pub use delivery::{LokiExporter, Verdict, classify_status};
pub use encode::{PushEncoder, encode_json, encode_protobuf};

use super::http::HttpClientConfig;
use super::retry::RetryConfig;
use crate::config::Problem;
use crate::config::de;

/// Path of the push API, appended to an `endpoint` given without a path.
pub const PUSH_PATH: &str = "/loki/api/v1/push";

/// Largest `batch.max_bytes`: far above what Loki accepts in one push (its gateways often stop
/// at 4 MB), and well inside the 32-bit offsets of a batch's text arena.
pub const MAX_BATCH_BYTES: u64 = 256 << 20;

/// How push bodies are encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// `logproto.PushRequest`, snappy block compressed, `application/x-protobuf`.
    #[default]
    Protobuf,
    /// The JSON push document, `application/json`.
    Json,
}

impl Encoding {
    /// The `Content-Type` of a body in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// `[exporters.<id>]` with `type = "loki"`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiConfig {
    /// Loki's base URL (`http://loki:3100`); `/loki/api/v1/push` is appended unless the URL
    /// already has a path.
    pub endpoint: String,
    /// `protobuf` (default: snappy-compressed `PushRequest`) or `json`.
    #[serde(default)]
    pub encoding: Encoding,
    /// Header that carries the tenant of each request.
    #[serde(default = "default_tenant_header")]
    pub tenant_header: String,
    /// Capacity of the exporter's input queue, in batches.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// Tenants whose requests may be in flight at the same time (one request per tenant).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// When a tenant's pending entries are sealed into a request.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Backoff and time budget of retries (429, 5xx, connection errors).
    #[serde(default)]
    pub retry: RetryConfig,
    /// Timeout, auth, extra headers and TLS.
    #[serde(default)]
    pub http: HttpClientConfig,
}

/// The `batch` table of the `loki` exporter.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// A tenant's request is sealed once its pending line bytes (uncompressed) reach this.
    #[serde(default = "default_max_bytes", deserialize_with = "de::byte_size")]
    pub max_bytes: u64,
    /// A tenant's request is sealed once its oldest pending entry has waited this long.
    #[serde(default = "default_max_age", deserialize_with = "de::duration")]
    pub max_age: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_bytes: default_max_bytes(),
            max_age: default_max_age(),
        }
    }
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

fn default_max_bytes() -> u64 {
    1 << 20
}

fn default_max_age() -> Duration {
    Duration::from_secs(1)
}

impl LokiConfig {
    /// Problems found without building, all at once.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Err(message) = push_url(&self.endpoint) {
            problems.push(Problem::new("endpoint", message));
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
        if self.batch.max_bytes == 0 || self.batch.max_bytes > MAX_BATCH_BYTES {
            let message = format!("must be between 1 and {MAX_BATCH_BYTES} bytes");
            problems.push(Problem::new("batch.max_bytes", message));
        }
        if self.batch.max_age.is_zero() {
            problems.push(Problem::new("batch.max_age", "must be positive"));
        }
        problems.extend(self.retry.validate("retry"));
        problems.extend(self.http.validate("http", &self.reserved_headers()));
        problems
    }

    /// Builds the exporter; the message names every problem.
    pub fn build(&self) -> Result<LokiExporter, String> {
        let problems = self.validate();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(list.join("; "));
        }
        let url = push_url(&self.endpoint)?;
        let tenant_header = HeaderName::from_bytes(self.tenant_header.as_bytes())
            .map_err(|error| format!("tenant_header: {error}"))?;
        let http = self
            .http
            .build("http", &self.reserved_headers())
            .map_err(|error| error.to_string())?;
        Ok(LokiExporter::new(delivery::Settings {
            url,
            tenant_header,
            encoding: self.encoding,
            concurrency: self.concurrency,
            max_bytes: self.batch.max_bytes,
            max_age: self.batch.max_age,
            retry: self.retry.clone(),
            http,
        }))
    }

    fn reserved_headers(&self) -> [&str; 3] {
        [
            "content-type",
            "content-encoding",
            self.tenant_header.as_str(),
        ]
    }
}

/// The push URL for `endpoint`: `/loki/api/v1/push` appended when it has no path.
pub fn push_url(endpoint: &str) -> Result<Url, String> {
    let mut url = Url::parse(endpoint).map_err(|error| format!("{endpoint:?}: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{endpoint:?} must be an http or https URL"));
    }
    if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{endpoint:?} has no host"));
    }
    if url.path().is_empty() || url.path() == "/" {
        url.set_path(PUSH_PATH);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_loki() {
        let config: LokiConfig = toml::from_str(r#"endpoint = "http://loki:3100""#).expect("toml");
        assert_eq!(config.encoding, Encoding::Protobuf);
        assert_eq!(config.tenant_header, "X-Scope-OrgID");
        assert_eq!((config.queue_capacity, config.concurrency), (64, 4));
        assert_eq!(config.batch.max_bytes, 1 << 20);
        assert_eq!(config.batch.max_age, Duration::from_secs(1));
        assert_eq!(config.retry, RetryConfig::default());
        assert!(config.validate().is_empty());
    }

    #[test]
    fn appends_the_push_path_only_without_a_path() {
        let url = |e: &str| push_url(e).map(|u| u.to_string());
        assert_eq!(
            url("http://loki:3100"),
            Ok("http://loki:3100/loki/api/v1/push".into())
        );
        assert_eq!(
            url("https://loki/"),
            Ok("https://loki/loki/api/v1/push".into())
        );
        assert_eq!(
            url("http://gw/tenant/push"),
            Ok("http://gw/tenant/push".into())
        );
        assert!(url("ftp://loki").is_err());
        assert!(url("loki:3100").is_err());
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let config: LokiConfig = toml::from_str(
            r#"
            endpoint = "nowhere"
            tenant_header = "bad header"
            concurrency = 0
            batch = { max_bytes = 0, max_age = "0s" }
            http = { headers = { "X-Scope-OrgID" = "x" } }
            "#,
        )
        .expect("toml");
        let keys: Vec<String> = config.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "endpoint",
                "tenant_header",
                "concurrency",
                "batch.max_bytes",
                "batch.max_age"
            ]
        );
        let config = LokiConfig {
            tenant_header: "X-Scope-OrgID".into(),
            ..config
        };
        let keys: Vec<String> = config.validate().into_iter().map(|p| p.key).collect();
        assert!(
            keys.contains(&"http.headers.X-Scope-OrgID".to_string()),
            "{keys:?}"
        );
        assert!(config.build().is_err());
    }

    #[test]
    fn refuses_unknown_keys() {
        let parsed = toml::from_str::<LokiConfig>("endpoint = \"http://l\"\nbatch_size = 3");
        assert!(parsed.is_err());
    }
}
