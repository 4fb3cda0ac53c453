//! The `sample` processor: keeps a share of whole traces, decided by a hash of the trace id.
//!
//! Every span of a trace gets the same decision, and so does every log line that carries the
//! trace's id, so sampled logs and traces still join. Records without a trace id (metrics,
//! background logs) are kept unless `drop_untraced` says otherwise. Dropped records are counted
//! by the pipeline as `filtered`.

use serde::Deserialize;

use super::Processor;
use crate::config::Problem;
use crate::model::{Batch, TraceId};
use crate::random::mix64;

fn default_salt() -> u64 {
    0
}

/// `[processors.<id>]` with `type = "sample"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleConfig {
    /// Share of traces kept, from 0 to 1 (`0.1` keeps one trace in ten).
    pub ratio: f64,
    /// Changes which traces are kept for the same ratio (different samplers disagree).
    #[serde(default = "default_salt")]
    pub salt: u64,
    /// Also drop log lines that carry no trace id, at the same ratio (by line).
    #[serde(default)]
    pub drop_untraced: bool,
}

impl SampleConfig {
    /// Problems found without building.
    pub fn validate(&self) -> Vec<Problem> {
        if !(self.ratio.is_finite() && (0.0..=1.0).contains(&self.ratio)) {
            return vec![Problem::new(
                "ratio",
                format!("must be between 0 and 1, got {}", self.ratio),
            )];
        }
        Vec::new()
    }

    /// Builds the running processor.
    pub fn build(&self) -> Result<Sample, String> {
        let threshold = if self.ratio >= 1.0 {
            u64::MAX
        } else {
            (self.ratio * u64::MAX as f64) as u64
        };
        Ok(Sample {
            threshold,
            salt: self.salt,
            drop_untraced: self.drop_untraced,
            counter: 0,
        })
    }
}

/// The running `sample` processor.
#[derive(Debug)]
pub struct Sample {
    threshold: u64,
    salt: u64,
    drop_untraced: bool,
    counter: u64,
}

impl Sample {
    /// Whether the trace is kept.
    pub fn keeps(&self, trace_id: &TraceId) -> bool {
        let high = u64::from_be_bytes(trace_id[..8].try_into().unwrap_or([0; 8]));
        let low = u64::from_be_bytes(trace_id[8..].try_into().unwrap_or([0; 8]));
        self.threshold == u64::MAX || mix64(high ^ mix64(low ^ self.salt)) < self.threshold
    }

    fn keeps_untraced(&mut self) -> bool {
        if !self.drop_untraced {
            return true;
        }
        self.counter = self.counter.wrapping_add(1);
        mix64(self.counter ^ self.salt) < self.threshold
    }
}

impl Processor for Sample {
    fn process(&mut self, batch: Batch, out: &mut Vec<Batch>) {
        match batch {
            Batch::Traces(mut traces) => {
                traces.spans.retain(|span| self.keeps(&span.trace_id));
                if !traces.spans.is_empty() {
                    out.push(Batch::Traces(traces));
                }
            }
            Batch::Logs(mut logs) => {
                let mut entries = std::mem::take(&mut logs.entries);
                entries.retain(|entry| match entry.trace_id {
                    Some(trace_id) => self.keeps(&trace_id),
                    None => self.keeps_untraced(),
                });
                logs.entries = entries;
                if !logs.entries.is_empty() {
                    out.push(Batch::Logs(logs));
                }
            }
            metrics @ Batch::Metrics(_) => out.push(metrics),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace_id(i: u64) -> TraceId {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&mix64(i).to_be_bytes());
        id[8..].copy_from_slice(&mix64(i + 1).to_be_bytes());
        id
    }

    #[test]
    fn keeps_the_configured_share_of_traces() {
        let sample: SampleConfig = toml::from_str("ratio = 0.1").expect("config");
        let sample = sample.build().expect("build");
        let kept = (0..100_000).filter(|i| sample.keeps(&trace_id(*i))).count();
        assert!((9_000..11_000).contains(&kept), "{kept}");
    }

    #[test]
    fn decisions_are_per_trace_and_salted() {
        let a = SampleConfig {
            ratio: 0.5,
            salt: 1,
            drop_untraced: false,
        }
        .build()
        .expect("a");
        let b = SampleConfig {
            ratio: 0.5,
            salt: 2,
            drop_untraced: false,
        }
        .build()
        .expect("b");
        let id = trace_id(7);
        assert_eq!(a.keeps(&id), a.keeps(&id));
        let disagree = (0..1000)
            .filter(|i| a.keeps(&trace_id(*i)) != b.keeps(&trace_id(*i)))
            .count();
        assert!(disagree > 300, "{disagree}");
        let all = SampleConfig {
            ratio: 1.0,
            salt: 0,
            drop_untraced: true,
        }
        .build()
        .expect("all");
        assert!((0..1000).all(|i| all.keeps(&trace_id(i))));
    }

    #[test]
    fn rejects_ratios_outside_zero_to_one() {
        let bad: SampleConfig = toml::from_str("ratio = 1.5").expect("parses");
        assert_eq!(bad.validate().len(), 1);
    }
}
