//! The records that flow through synthtel's pipelines.
//!
//! Sources produce [`Batch`]es, processors transform them and exporters encode them. A batch holds
//! records of one signal and one tenant, so exporters can send one request per tenant without
//! regrouping.

pub mod labels;
pub mod logs;
pub mod metrics;
pub mod traces;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use labels::Labels;
pub use logs::{LogBatch, LogEntry, MetadataPair, Severity, TextSpan};
pub use metrics::MetricBatch;
pub use traces::SpanBatch;

/// A tenant identifier, shared cheaply between records.
pub type TenantId = Arc<str>;

/// The three kinds of telemetry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Log records.
    Logs,
    /// Metric samples.
    Metrics,
    /// Spans.
    Traces,
}

impl Signal {
    /// Every signal, in a stable order.
    pub const ALL: [Signal; 3] = [Signal::Logs, Signal::Metrics, Signal::Traces];

    /// The lower-case name used in configuration and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(name: &str) -> Option<Signal> {
        Signal::ALL
            .into_iter()
            .find(|signal| signal.as_str() == name)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A batch of records of one signal for one tenant.
#[derive(Clone, Debug)]
pub enum Batch {
    /// Log records.
    Logs(LogBatch),
    /// Metric samples.
    Metrics(MetricBatch),
    /// Spans.
    Traces(SpanBatch),
}

impl Batch {
    /// The batch's signal.
    pub fn signal(&self) -> Signal {
        match self {
            Batch::Logs(_) => Signal::Logs,
            Batch::Metrics(_) => Signal::Metrics,
            Batch::Traces(_) => Signal::Traces,
        }
    }

    /// The tenant every record of the batch belongs to.
    pub fn tenant(&self) -> &TenantId {
        match self {
            Batch::Logs(batch) => &batch.tenant,
            Batch::Metrics(batch) => &batch.tenant,
            Batch::Traces(batch) => &batch.tenant,
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        match self {
            Batch::Logs(batch) => batch.entries.len(),
            Batch::Metrics(batch) => batch.samples.len(),
            Batch::Traces(batch) => batch.spans.len(),
        }
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A trace id: 16 bytes, never all zero.
pub type TraceId = [u8; 16];

/// A span id: 8 bytes, never all zero.
pub type SpanId = [u8; 8];

/// Writes `bytes` as lower-case hex onto `out`.
pub fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 0x0f)]);
    }
}

/// Lower-case hex of `bytes` as a new string.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    String::from_utf8(out).unwrap_or_default()
}
