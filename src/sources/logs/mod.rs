//! The `logs` source: realistic log lines in one of nine dialects, for every tenant.
//!
//! Each tenant runs a set of services (web front ends, microservices or Unix programs, by
//! dialect). A service writes templates drawn from a hand-written corpus with Zipf frequencies
//! and one level per template, fills their variables from value pools built at start, and
//! renders them straight into the batch's text arena. Output is a pure function of
//! (seed, tenant, component, 100 ms bucket): see [`tenant`] for the per-bucket loop.

mod access;
mod catalog;
pub mod escape;
mod lists;
mod pools;
mod render;
mod services;
mod stacktrace;
mod templates;
mod tenant;
mod timefmt;

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;

use super::{BUCKET_NS, BuildContext, Source, Window};
use crate::config::Problem;
use crate::model::{Batch, LogBatch, Signal};
use tenant::TenantState;

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

fn default_templates_per_service() -> usize {
    60
}

fn default_zipf_exponent() -> f64 {
    1.5
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
    /// How many distinct message templates each service writes (fewer when its domains hold
    /// fewer). Real services show 40–120; access-log dialects ignore it.
    #[serde(default = "default_templates_per_service")]
    pub templates_per_service: usize,
    /// Zipf exponent of template frequencies: higher means a few templates dominate. Real
    /// services measure 1 to 2; 1.5 is typical.
    #[serde(default = "default_zipf_exponent")]
    pub zipf_exponent: f64,
    /// Share of lines written at DEBUG level, from 0 to 0.9. Production services log none; a
    /// "debug tenant" typically shows 0.3–0.6.
    #[serde(default)]
    pub debug_share: f64,
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
        if !(1..=1_000).contains(&self.templates_per_service) {
            problems.push(Problem::new(
                "templates_per_service",
                format!(
                    "must be between 1 and 1000, got {}",
                    self.templates_per_service
                ),
            ));
        }
        if !self.zipf_exponent.is_finite() || !(0.0..=5.0).contains(&self.zipf_exponent) {
            problems.push(Problem::new(
                "zipf_exponent",
                format!("must be between 0 and 5, got {}", self.zipf_exponent),
            ));
        }
        if !self.debug_share.is_finite() || !(0.0..=0.9).contains(&self.debug_share) {
            problems.push(Problem::new(
                "debug_share",
                format!("must be between 0 and 0.9, got {}", self.debug_share),
            ));
        }
        problems.extend(self.service_problems());
        problems
    }

    fn service_problems(&self) -> Vec<Problem> {
        let Some(services) = &self.services else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        if services.is_empty() {
            problems.push(Problem::new("services", "must name at least one service"));
        }
        let mut seen = HashSet::new();
        for name in services {
            if name.trim().is_empty() {
                problems.push(Problem::new("services", "service names must not be empty"));
            } else if !seen.insert(name.as_str()) {
                problems.push(Problem::new(
                    "services",
                    format!("service {name:?} appears twice"),
                ));
            }
        }
        problems
    }

    /// The configured services, or the dialect's default set.
    pub fn service_names(&self) -> Vec<String> {
        match &self.services {
            Some(names) => names.clone(),
            None => services::default_services(self.dialect)
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// Builds the running source.
    pub fn build(&self, context: &BuildContext) -> Result<LogsSource, String> {
        if let Some(problem) = self.validate().into_iter().next() {
            return Err(problem.to_string());
        }
        let corpus = Arc::new(templates::corpus().map_err(|error| error.to_string())?);
        let tenants = context
            .tenants
            .iter()
            .map(|tenant| TenantState::build(self, context, tenant, &corpus))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(LogsSource { tenants })
    }
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
        for tenant in &mut self.tenants {
            let mut batch = LogBatch::new(Arc::clone(&tenant.id));
            tenant.begin_batch(&mut batch, window);
            for bucket in window.buckets() {
                tenant.generate_bucket(bucket, &mut batch);
            }
            tenant.end_batch(&batch);
            if !batch.entries.is_empty() {
                out.push(Batch::Logs(batch));
            }
        }
    }
}
