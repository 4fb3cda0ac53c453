//! Log anomalies (REALISM.md §5.3).
//!
//! Entries of targeted streams (`service_name`, `instance` or `pod`, label equalities) inside
//! the window are rewritten, dropped or joined by new entries; new entries follow the entry
//! they come from, and keep its trace and span ids and structured metadata. Rewritten lines are
//! appended to the batch's text arena and the entry points at the new bytes, so the lines of
//! every other entry keep theirs. Exporters group entries per stream and sort them by time
//! (`exporters::loki::encode`), so moved timestamps (L-TSKEW) need no reordering here.
//!
//! Per kind (defaults in brackets; shares are scaled by the shape's intensity):
//! - L-ERRBURST: after each line, Poisson(factor [30] × 2 %) ERROR lines from 1–3 fixed
//!   messages, in the line's layout and its `level="error"` stream when streams carry a level.
//! - L-NEWTPL: a share [0.02] of lines followed by a FATAL line of a template no generator has.
//! - L-ATTR: a share [0.05] of lines with `duration` set to 30 s and the status to `status`
//!   [503]; lines with neither stay as they are.
//! - L-SEQ: a share [0.05] of completion lines (`completed`, `finished`, status 200) dropped.
//! - L-RATE+ / L-RATE−: lines copied (within 50 ms) or thinned: volume × or ÷ factor [5].
//! - L-SILENCE: every line dropped. L-DUP: a share [0.05] replayed exactly.
//! - L-MALFORMED [0.02], L-GARBAGE [0.005]: lines truncated or quote-unbalanced; invalid UTF-8,
//!   NUL, ANSI escapes, CR or BOM.
//! - L-HUGE, L-MULTILINE: the first line of each batch and a share [0.001, 0.01] padded to
//!   `size` [65,537] bytes, or followed by `size` [50–500] stack frames as raw newlines.
//! - L-TSKEW: a share [1: the whole stream, as a host with a wrong clock] moved by `offset`
//!   [+10 min]; the line text keeps its own timestamp.
//! - L-LABELCARD: every line moved to a copy of its stream with a `request_id` label (one value
//!   per line, or one of `size`).

use std::collections::HashMap;
use std::sync::Arc;

use super::log_lines::{self, ERROR_MESSAGES, Layout, NEW_TEMPLATES};
use super::{bytes_identity, matches_target, record_rng, share_at};
use crate::anomaly::manifest::default_factor;
use crate::anomaly::{Anomaly, Kind};
use crate::model::{LogBatch, LogEntry, Severity, TextSpan};
use crate::random::{Rng, mix64};

/// Share of ERROR lines in a healthy stream; L-ERRBURST adds `factor` times as many.
const BASE_ERROR_SHARE: f64 = 0.02;

/// Largest time shift of a copied line (L-RATE+, L-ERRBURST).
const COPY_SPREAD_NS: u64 = 50_000_000;

/// Applies one log anomaly to `batch`.
pub(super) fn apply(batch: &mut LogBatch, anomaly: &Anomaly) {
    let targeted: Vec<bool> = batch
        .streams
        .iter()
        .map(|labels| {
            matches_target(
                anomaly,
                |name| labels.get(name),
                &["service_name"],
                &["instance", "pod"],
            )
        })
        .collect();
    let entries = std::mem::take(&mut batch.entries);
    let mut injector = Injector {
        anomaly,
        batch,
        out: Vec::with_capacity(entries.len()),
        affected: 0,
        first: true,
        streams: HashMap::new(),
    };
    for entry in entries {
        let stream = entry.stream as usize;
        if targeted.get(stream) == Some(&true) && anomaly.contains(entry.timestamp_ns) {
            injector.inject(entry);
            injector.first = false;
        } else {
            injector.out.push(entry);
        }
    }
    let (out, affected) = (injector.out, injector.affected);
    batch.entries = out;
    anomaly.add_affected(affected);
}

/// The state of one anomaly's pass over a batch.
struct Injector<'a> {
    anomaly: &'a Anomaly,
    batch: &'a mut LogBatch,
    out: Vec<LogEntry>,
    affected: u64,
    /// Whether no in-window entry was seen yet (L-HUGE and L-MULTILINE change at least one).
    first: bool,
    /// Streams added for (original stream, variant).
    streams: HashMap<(u32, u64), u32>,
}

impl Injector<'_> {
    fn inject(&mut self, entry: LogEntry) {
        let anomaly = self.anomaly;
        let t_ns = entry.timestamp_ns;
        let mut rng = record_rng(anomaly, anomaly.kind.code(), self.identity(&entry));
        let factor = default_factor(anomaly.kind, &anomaly.params);
        let intensity = anomaly.intensity(t_ns);
        match anomaly.kind {
            Kind::LErrburst => {
                let count = rng.poisson(factor * BASE_ERROR_SHARE * intensity);
                self.out.push(entry.clone());
                for _ in 0..count {
                    self.error_line(&entry, &mut rng);
                }
            }
            Kind::LNewtpl => {
                self.out.push(entry.clone());
                if rng.chance(share_at(anomaly, 0.02, t_ns)) {
                    self.new_template(&entry, &mut rng);
                }
            }
            Kind::LAttr => {
                let status = anomaly.params.status.unwrap_or(503);
                let line = self.batch.line(&entry).to_vec();
                let rewritten = rng
                    .chance(share_at(anomaly, 0.05, t_ns))
                    .then(|| log_lines::abnormal_attributes(&line, status))
                    .flatten();
                self.push_rewritten(entry, rewritten);
            }
            Kind::LSeq => {
                let completion = log_lines::is_completion(self.batch.line(&entry));
                if completion && rng.chance(share_at(anomaly, 0.05, t_ns)) {
                    self.affected += 1;
                } else {
                    self.out.push(entry);
                }
            }
            Kind::LRateUp => {
                let copies = whole_draw((factor - 1.0).max(0.0) * intensity, &mut rng);
                self.out.push(entry.clone());
                for _ in 0..copies {
                    let mut copy = entry.clone();
                    copy.timestamp_ns = self.nearby(t_ns, &mut rng);
                    self.push_added(copy);
                }
            }
            Kind::LRateDown => {
                if rng.chance(1.0 / (1.0 + (factor - 1.0).max(0.0) * intensity)) {
                    self.out.push(entry);
                } else {
                    self.affected += 1;
                }
            }
            Kind::LSilence => self.affected += 1,
            Kind::LDup => {
                self.out.push(entry.clone());
                if rng.chance(share_at(anomaly, 0.05, t_ns)) {
                    self.push_added(entry);
                }
            }
            Kind::LTskew => {
                let mut entry = entry;
                if rng.chance(share_at(anomaly, 1.0, t_ns)) {
                    entry.timestamp_ns += anomaly.params.offset_or(600_000_000_000);
                    self.affected += 1;
                }
                self.out.push(entry);
            }
            Kind::LLabelcard => self.promote_request_id(entry, &mut rng),
            _ => self.rewrite(entry, &mut rng),
        }
    }

    /// The kinds that only rewrite a line: L-MALFORMED, L-GARBAGE, L-HUGE, L-MULTILINE.
    fn rewrite(&mut self, entry: LogEntry, rng: &mut Rng) {
        let anomaly = self.anomaly;
        let t_ns = entry.timestamp_ns;
        let line = self.batch.line(&entry).to_vec();
        let rewritten = match anomaly.kind {
            Kind::LMalformed if rng.chance(share_at(anomaly, 0.02, t_ns)) => {
                Some(log_lines::malformed(&line, rng))
            }
            Kind::LGarbage if rng.chance(share_at(anomaly, 0.005, t_ns)) => {
                Some(log_lines::garbage(&line, rng))
            }
            Kind::LHuge if self.first || rng.chance(share_at(anomaly, 0.001, t_ns)) => {
                log_lines::huge(&line, anomaly.params.size_or(65_537), rng)
            }
            Kind::LMultiline if self.first || rng.chance(share_at(anomaly, 0.01, t_ns)) => {
                Some(log_lines::multiline(&line, anomaly.params.size, rng))
            }
            _ => None,
        };
        let error = matches!(anomaly.kind, Kind::LMultiline) && rewritten.is_some();
        let mut entry = entry;
        if error {
            entry.severity = entry.severity.max(Severity::Error);
        }
        self.push_rewritten(entry, rewritten);
    }

    /// Pushes `entry`, with its line replaced by `line` when given (counted).
    fn push_rewritten(&mut self, mut entry: LogEntry, line: Option<Vec<u8>>) {
        if let Some(line) = line {
            entry.line = self.push_text(&line);
            self.affected += 1;
        }
        self.out.push(entry);
    }

    /// Pushes a new entry (counted).
    fn push_added(&mut self, entry: LogEntry) {
        self.out.push(entry);
        self.affected += 1;
    }

    /// L-ERRBURST: an ERROR line from one of the anomaly's templates, in the copied entry's
    /// stream (its `level=error` twin when the stream carries a level label).
    fn error_line(&mut self, entry: &LogEntry, rng: &mut Rng) {
        let templates = self.error_templates();
        let message = templates[rng.index(templates.len())];
        let t_ns = self.nearby(entry.timestamp_ns, rng);
        let layout = Layout::of(self.batch.line(entry));
        let line = log_lines::render(layout, t_ns, Severity::Error, message);
        let mut copy = entry.clone();
        copy.timestamp_ns = t_ns;
        copy.severity = Severity::Error;
        copy.line = self.push_text(&line);
        copy.stream = self.level_stream(entry.stream, Severity::Error);
        self.push_added(copy);
    }

    /// The one to three ERROR messages this anomaly uses.
    fn error_templates(&self) -> Vec<&'static str> {
        let mut rng = self.anomaly.key("error-templates").rng();
        let count = 1 + rng.index(3);
        let first = rng.index(ERROR_MESSAGES.len());
        (0..count)
            .map(|n| ERROR_MESSAGES[(first + n) % ERROR_MESSAGES.len()])
            .collect()
    }

    /// L-NEWTPL: a FATAL line of the anomaly's new template after `entry`.
    fn new_template(&mut self, entry: &LogEntry, rng: &mut Rng) {
        let mut choice = self.anomaly.key("new-template").rng();
        let template = NEW_TEMPLATES[choice.index(NEW_TEMPLATES.len())];
        let message = template.replace("{}", &format!("{:x}", rng.below(256)));
        let layout = Layout::of(self.batch.line(entry));
        let line = log_lines::render(layout, entry.timestamp_ns, Severity::Fatal, &message);
        let mut copy = entry.clone();
        copy.severity = Severity::Fatal;
        copy.line = self.push_text(&line);
        copy.stream = self.level_stream(entry.stream, Severity::Fatal);
        self.push_added(copy);
    }

    /// L-LABELCARD: the entry moves to a copy of its stream with a `request_id` label, one value
    /// per entry (or one of `size` values).
    fn promote_request_id(&mut self, mut entry: LogEntry, rng: &mut Rng) {
        let value = match self.anomaly.params.size {
            Some(size) => rng.below(size.max(1)),
            None => rng.next_u64(),
        };
        let key = (entry.stream, value);
        let stream = match self.streams.get(&key) {
            Some(stream) => Some(*stream),
            None => {
                let labels = &self.batch.streams[entry.stream as usize];
                labels
                    .with("request_id", &format!("{value:016x}"))
                    .ok()
                    .map(|labels| {
                        self.batch.streams.push(Arc::new(labels));
                        let index = (self.batch.streams.len() - 1) as u32;
                        self.streams.insert(key, index);
                        index
                    })
            }
        };
        if let Some(stream) = stream {
            entry.stream = stream;
            self.affected += 1;
        }
        self.out.push(entry);
    }

    /// The stream like `stream` but with `level` set to `severity`, when it has a level label.
    fn level_stream(&mut self, stream: u32, severity: Severity) -> u32 {
        let labels = Arc::clone(&self.batch.streams[stream as usize]);
        if labels
            .get("level")
            .is_none_or(|level| level == severity.as_str())
        {
            return stream;
        }
        match labels.with("level", severity.as_str()) {
            Ok(twin) => self.batch.stream_index(&Arc::new(twin)),
            Err(_) => stream,
        }
    }

    /// A time shortly after `t_ns`, still inside the window.
    fn nearby(&self, t_ns: i64, rng: &mut Rng) -> i64 {
        let shifted = t_ns + rng.below(COPY_SPREAD_NS) as i64;
        shifted.min(self.anomaly.end_ns() - 1).max(t_ns)
    }

    /// Appends bytes to the arena.
    fn push_text(&mut self, bytes: &[u8]) -> TextSpan {
        let start = self.batch.text.len();
        self.batch.text.extend_from_slice(bytes);
        TextSpan::between(start, self.batch.text.len())
    }

    /// The identity of an entry for keyed draws: time, stream labels and line.
    fn identity(&self, entry: &LogEntry) -> u64 {
        let labels = self.batch.stream(entry).hash_value();
        let line = bytes_identity(self.batch.line(entry));
        mix64(entry.timestamp_ns as u64 ^ labels.rotate_left(21) ^ line.rotate_left(42))
    }
}

/// A whole number of events with mean `mean`: its integer part plus one with the chance of its
/// fraction.
fn whole_draw(mean: f64, rng: &mut Rng) -> u64 {
    let whole = mean.floor();
    whole as u64 + u64::from(rng.chance(mean - whole))
}
