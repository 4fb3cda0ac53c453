//! The `prometheus_remote_write` exporter: metric batches to a Prometheus remote-write 1.0
//! receiver (Prometheus `/api/v1/write`, Mimir `/api/v1/push`, VictoriaMetrics), as snappy
//! protobuf `prometheus.WriteRequest`, one request per tenant and shard.
//!
//! [`encode`] turns a batch into a request body; [`delivery`] batches per tenant and shard by
//! sample count and age, pins each series to one sequential shard so that its samples never
//! overtake each other, retries by WIRE.md §3.1 and counts every sample's outcome. The tenant
//! goes into a header (`X-Scope-OrgID` for Mimir), into the URL (`{tenant}`, for
//! VictoriaMetrics cluster), into a label (single-tenant receivers), or any mix of these.

pub mod delivery;
pub mod encode;

use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderName;
use serde::Deserialize;

pub use delivery::{RemoteWriteExporter, Verdict, classify_status};
pub use encode::{EncodeOptions, WriteEncoder, encode_write_request};

use super::http::HttpClientConfig;
use super::retry::RetryConfig;
use crate::config::Problem;
use crate::config::de;

/// Path appended to an `endpoint` given without a path (Prometheus and VictoriaMetrics).
pub const WRITE_PATH: &str = "/api/v1/write";

/// Placeholder in `endpoint` replaced by each request's tenant.
pub const TENANT_PLACEHOLDER: &str = "{tenant}";

/// Largest `batch.max_samples`.
pub const MAX_BATCH_SAMPLES: usize = 1_000_000;

/// Largest `shards`.
pub const MAX_SHARDS: usize = 256;

/// The remote-write protocol version header value.
pub const PROTOCOL_VERSION: &str = "0.1.0";

/// `[exporters.<id>]` with `type = "prometheus_remote_write"`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// Receiver URL (`http://prometheus:9090/api/v1/write`, `http://mimir:8080/api/v1/push`);
    /// `/api/v1/write` is appended when it has no path. `{tenant}` is replaced by each
    /// request's tenant (`http://vminsert:8480/insert/{tenant}/prometheus/api/v1/write`).
    pub endpoint: String,
    /// Header that carries the tenant of each request (Mimir's `X-Scope-OrgID` by default);
    /// an empty string sends none, for receivers without tenancy.
    #[serde(default = "default_tenant_header")]
    pub tenant_header: String,
    /// Label name under which the tenant is added to every series, for receivers that hold
    /// every tenant in one store (a plain Prometheus). Unset by default.
    #[serde(default)]
    pub tenant_label: Option<String>,
    /// Send each family's type, help and unit as `MetricMetadata`.
    #[serde(default = "default_true")]
    pub send_metadata: bool,
    /// Send exemplars (trace and span ids of observations). Default Mimir drops them.
    #[serde(default = "default_true")]
    pub send_exemplars: bool,
    /// Capacity of the exporter's input queue, in batches.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// Parallel senders per tenant. Each series is pinned to one shard by its hash, and a shard
    /// has one request in flight at a time, so a series' samples arrive in order.
    #[serde(default = "default_shards")]
    pub shards: usize,
    /// When a shard's pending samples are sealed into a request.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Backoff and time budget of retries (5xx, 429, connection errors).
    #[serde(default)]
    pub retry: RetryConfig,
    /// Timeout, auth, extra headers and TLS.
    #[serde(default)]
    pub http: HttpClientConfig,
}

/// The `batch` table of the `prometheus_remote_write` exporter.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Samples per request at most (Prometheus's own sender uses 2000).
    #[serde(default = "default_max_samples")]
    pub max_samples: usize,
    /// A shard's request is sealed once its oldest pending sample has waited this long.
    #[serde(default = "default_max_age", deserialize_with = "de::duration")]
    pub max_age: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_samples: default_max_samples(),
            max_age: default_max_age(),
        }
    }
}

fn default_tenant_header() -> String {
    "X-Scope-OrgID".to_string()
}

fn default_true() -> bool {
    true
}

fn default_queue_capacity() -> usize {
    64
}

fn default_shards() -> usize {
    4
}

fn default_max_samples() -> usize {
    2000
}

fn default_max_age() -> Duration {
    Duration::from_secs(1)
}

impl RemoteWriteConfig {
    /// Problems found without building, all at once.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Err(message) = write_url(&self.endpoint, "0") {
            problems.push(Problem::new("endpoint", message));
        }
        if !self.tenant_header.is_empty()
            && HeaderName::from_bytes(self.tenant_header.as_bytes()).is_err()
        {
            let message = format!("{:?} is not a valid header name", self.tenant_header);
            problems.push(Problem::new("tenant_header", message));
        }
        if let Some(label) = &self.tenant_label
            && !is_label_name(label)
        {
            let message = format!(
                "{label:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
            );
            problems.push(Problem::new("tenant_label", message));
        }
        if self.queue_capacity == 0 {
            problems.push(Problem::new("queue_capacity", "must be at least 1"));
        }
        if self.shards == 0 || self.shards > MAX_SHARDS {
            let message = format!("must be between 1 and {MAX_SHARDS}");
            problems.push(Problem::new("shards", message));
        }
        if self.batch.max_samples == 0 || self.batch.max_samples > MAX_BATCH_SAMPLES {
            let message = format!("must be between 1 and {MAX_BATCH_SAMPLES}");
            problems.push(Problem::new("batch.max_samples", message));
        }
        if self.batch.max_age.is_zero() {
            problems.push(Problem::new("batch.max_age", "must be positive"));
        }
        problems.extend(self.retry.validate("retry"));
        problems.extend(self.http.validate("http", &self.reserved_headers()));
        problems
    }

    /// Builds the exporter; the message names every problem.
    pub fn build(&self) -> Result<RemoteWriteExporter, String> {
        let problems = self.validate();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(list.join("; "));
        }
        let tenant_header = if self.tenant_header.is_empty() {
            None
        } else {
            let name = HeaderName::from_bytes(self.tenant_header.as_bytes())
                .map_err(|error| format!("tenant_header: {error}"))?;
            Some(name)
        };
        let http = self
            .http
            .build("http", &self.reserved_headers())
            .map_err(|error| error.to_string())?;
        Ok(RemoteWriteExporter::new(delivery::Settings {
            endpoint: self.endpoint.clone(),
            tenant_header,
            options: EncodeOptions {
                tenant_label: self.tenant_label.clone(),
                metadata: self.send_metadata,
                exemplars: self.send_exemplars,
            },
            shards: self.shards,
            max_samples: self.batch.max_samples,
            max_age: self.batch.max_age,
            retry: self.retry.clone(),
            http,
        }))
    }

    /// Headers the protocol sets itself (WIRE.md §3.1), which `http.headers` may not override.
    fn reserved_headers(&self) -> Vec<&str> {
        let mut reserved = vec![
            "content-type",
            "content-encoding",
            "user-agent",
            "x-prometheus-remote-write-version",
        ];
        if !self.tenant_header.is_empty() {
            reserved.push(self.tenant_header.as_str());
        }
        reserved
    }
}

/// The write URL for `endpoint` and `tenant`: `{tenant}` replaced, then `/api/v1/write`
/// appended when the URL has no path.
pub fn write_url(endpoint: &str, tenant: &str) -> Result<Url, String> {
    let text = endpoint.replace(TENANT_PLACEHOLDER, tenant);
    let mut url = Url::parse(&text).map_err(|error| format!("{text:?}: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{endpoint:?} must be an http or https URL"));
    }
    if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{endpoint:?} has no host"));
    }
    if url.path().is_empty() || url.path() == "/" {
        url.set_path(WRITE_PATH);
    }
    Ok(url)
}

/// Whether `name` is a label name remote write accepts for a user label.
fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_prometheus() {
        let config: RemoteWriteConfig =
            toml::from_str(r#"endpoint = "http://prometheus:9090""#).expect("toml");
        assert_eq!(config.tenant_header, "X-Scope-OrgID");
        assert_eq!(config.tenant_label, None);
        assert!(config.send_metadata && config.send_exemplars);
        assert_eq!((config.queue_capacity, config.shards), (64, 4));
        assert_eq!(config.batch.max_samples, 2000);
        assert_eq!(config.batch.max_age, Duration::from_secs(1));
        assert_eq!(config.retry, RetryConfig::default());
        assert!(config.validate().is_empty());
        assert!(config.build().is_ok());
    }

    #[test]
    fn templates_the_tenant_and_appends_the_path_only_without_one() {
        let url = |e: &str, t: &str| write_url(e, t).map(|u| u.to_string());
        assert_eq!(
            url("http://prom:9090", "x"),
            Ok("http://prom:9090/api/v1/write".into())
        );
        assert_eq!(
            url("http://mimir:8080/api/v1/push", "x"),
            Ok("http://mimir:8080/api/v1/push".into())
        );
        assert_eq!(
            url(
                "http://vm:8480/insert/{tenant}/prometheus/api/v1/write",
                "7:3"
            ),
            Ok("http://vm:8480/insert/7:3/prometheus/api/v1/write".into())
        );
        assert!(url("ftp://prom", "x").is_err());
        assert!(url("prom:9090", "x").is_err());
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let config: RemoteWriteConfig = toml::from_str(
            r#"
            endpoint = "nowhere"
            tenant_header = "bad header"
            tenant_label = "__tenant"
            shards = 0
            batch = { max_samples = 0, max_age = "0s" }
            http = { headers = { "User-Agent" = "x", "X-Prometheus-Remote-Write-Version" = "2" } }
            "#,
        )
        .expect("toml");
        let keys: Vec<String> = config.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "endpoint",
                "tenant_header",
                "tenant_label",
                "shards",
                "batch.max_samples",
                "batch.max_age",
                "http.headers.User-Agent",
                "http.headers.X-Prometheus-Remote-Write-Version",
            ]
        );
        assert!(config.build().is_err());
    }

    #[test]
    fn an_empty_tenant_header_disables_it_and_frees_the_name() {
        let config: RemoteWriteConfig = toml::from_str(
            r#"
            endpoint = "http://prom:9090"
            tenant_header = ""
            tenant_label = "tenant"
            http = { headers = { "X-Scope-OrgID" = "fixed" } }
            "#,
        )
        .expect("toml");
        assert!(config.validate().is_empty(), "{:?}", config.validate());
    }

    #[test]
    fn refuses_unknown_keys() {
        let parsed = toml::from_str::<RemoteWriteConfig>("endpoint = \"http://p\"\nbatch_size = 3");
        assert!(parsed.is_err());
    }

    #[test]
    fn label_names_follow_prometheus() {
        assert!(is_label_name("tenant"));
        assert!(is_label_name("_t1"));
        assert!(!is_label_name("1t"));
        assert!(!is_label_name("__t"));
        assert!(!is_label_name(""));
        assert!(!is_label_name("a-b"));
    }
}
