//! The `logs` source: a volume stream of log lines in one dialect.

use std::sync::Arc;

use serde::Deserialize;

use super::{BUCKET_NS, BuildContext, Source, Window};
use crate::config::Problem;
use crate::model::{Batch, Labels, LogBatch, Severity, Signal, TenantId};
use crate::random::Key;

/// Line formats of the `logs` source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// Apache common log format.
    ApacheCommon,
    /// Apache combined log format (common plus referer and user agent).
    ApacheCombined,
    /// nginx's combined format plus request time.
    Nginx,
    /// One JSON object per line.
    Json,
    /// `key=value` pairs.
    Logfmt,
    /// BSD syslog.
    SyslogRfc3164,
    /// IETF syslog.
    SyslogRfc5424,
    /// Kubernetes container runtime log lines.
    Cri,
    /// Java application log with multi-line stack traces.
    JavaStacktrace,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 9] = [
        Dialect::ApacheCommon,
        Dialect::ApacheCombined,
        Dialect::Nginx,
        Dialect::Json,
        Dialect::Logfmt,
        Dialect::SyslogRfc3164,
        Dialect::SyslogRfc5424,
        Dialect::Cri,
        Dialect::JavaStacktrace,
    ];

    /// The configuration name (`apache_combined`).
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::ApacheCommon => "apache_common",
            Dialect::ApacheCombined => "apache_combined",
            Dialect::Nginx => "nginx",
            Dialect::Json => "json",
            Dialect::Logfmt => "logfmt",
            Dialect::SyslogRfc3164 => "syslog_rfc3164",
            Dialect::SyslogRfc5424 => "syslog_rfc5424",
            Dialect::Cri => "cri",
            Dialect::JavaStacktrace => "java_stacktrace",
        }
    }

    /// Parses the configuration name.
    pub fn parse(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

fn default_lines_per_second() -> f64 {
    100.0
}

fn default_namespace() -> String {
    "default".to_string()
}

fn default_cluster() -> String {
    "synthtel".to_string()
}

fn default_env() -> String {
    "prod".to_string()
}

/// `[sources.<id>]` with `type = "logs"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsSourceConfig {
    /// The line format.
    pub dialect: Dialect,
    /// Lines per second for each tenant, before the tenant's `scale`.
    #[serde(default = "default_lines_per_second")]
    pub lines_per_second: f64,
    /// Tenants to generate for; every configured tenant when absent.
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    /// Service names, one stream each; a dialect-specific set when absent.
    #[serde(default)]
    pub services: Option<Vec<String>>,
    /// Value of the `namespace` stream label.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Value of the `cluster` stream label.
    #[serde(default = "default_cluster")]
    pub cluster: String,
    /// Value of the `env` stream label.
    #[serde(default = "default_env")]
    pub env: String,
    /// Adds a `level` stream label (about four times as many streams).
    #[serde(default)]
    pub level_label: bool,
}

impl LogsSourceConfig {
    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !self.lines_per_second.is_finite() || self.lines_per_second < 0.0 {
            problems.push(Problem::new(
                "lines_per_second",
                format!(
                    "must be a non-negative number, got {}",
                    self.lines_per_second
                ),
            ));
        }
        problems
    }

    /// Builds the running source.
    pub fn build(&self, context: &BuildContext) -> Result<LogsSource, String> {
        let services = self
            .services
            .clone()
            .unwrap_or_else(|| vec!["app".to_string()]);
        let tenants = context
            .tenants
            .iter()
            .map(|tenant| {
                let streams = services
                    .iter()
                    .map(|service| {
                        Labels::new([
                            ("service_name", service.as_str()),
                            ("namespace", self.namespace.as_str()),
                            ("cluster", self.cluster.as_str()),
                            ("env", self.env.as_str()),
                        ])
                        .map(Arc::new)
                        .map_err(|error| error.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(TenantState {
                    id: Arc::clone(&tenant.id),
                    rate: self.lines_per_second * tenant.scale,
                    key: Key::new(context.seed)
                        .with(&tenant.id)
                        .with("logs")
                        .with(&context.component_id),
                    streams,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(LogsSource { tenants })
    }
}

struct TenantState {
    id: TenantId,
    rate: f64,
    key: Key,
    streams: Vec<Arc<Labels>>,
}

/// The running `logs` source.
pub struct LogsSource {
    tenants: Vec<TenantState>,
}

/// Lines in bucket `bucket` at `rate` per second: the difference of cumulative floors, so that
/// any run of buckets holds exactly `rate × duration` lines (to within one).
pub fn lines_in_bucket(rate: f64, bucket: i64) -> u64 {
    let per_bucket = rate * BUCKET_NS as f64 / 1e9;
    let before = (per_bucket * bucket as f64).floor();
    let after = (per_bucket * (bucket + 1) as f64).floor();
    (after - before).max(0.0) as u64
}

impl Source for LogsSource {
    fn signals(&self) -> &[Signal] {
        &[Signal::Logs]
    }

    fn generate(&mut self, window: Window, out: &mut Vec<Batch>) {
        for tenant in &self.tenants {
            let mut batch = LogBatch::new(Arc::clone(&tenant.id));
            for bucket in window.buckets() {
                let n = lines_in_bucket(tenant.rate, bucket);
                let mut rng = tenant.key.with_u64(bucket as u64).rng();
                for i in 0..n {
                    let ts = bucket * BUCKET_NS + (i as i64 * BUCKET_NS) / n as i64;
                    let labels = &tenant.streams[rng.index(tenant.streams.len())];
                    let stream = batch.stream_index(labels);
                    let line = format!("request handled id={}", rng.next_u64());
                    batch.push_line(stream, ts, Severity::Info, line.as_bytes());
                }
            }
            if !batch.entries.is_empty() {
                out.push(Batch::Logs(batch));
            }
        }
    }
}
