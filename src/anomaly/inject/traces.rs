//! Trace anomalies (REALISM.md §5.4): broken trees, late and skewed spans, bad ids, runaway
//! span names and partial sampling.
//!
//! A span is targeted when its resource matches the target (`service.name`,
//! `service.instance.id`, attribute equalities) and it starts inside the window. Kinds that
//! act on whole traces (T-ORPHAN, T-NOROOT, T-MULTIROOT, T-LATE, T-DEEP, T-WIDE, T-BADID) choose
//! a share of the traces whose spans in the batch all start inside the window and of which at
//! least one span is targeted; sources emit a trace in the batch of its root, so a trace is
//! whole here. The choice of a trace is keyed by its id, so it does not depend on the batch.
//!
//! Defaults: T-ORPHAN 2 % of traces, T-NOROOT, T-MULTIROOT, T-LATE, T-DEEP, T-WIDE and T-BADID
//! 1 %, T-SAMPLING half; T-DEEP 30 levels, T-WIDE 1000 children, T-SKEW +500 ms, T-LATE 1 min.
//!
//! Known shortcoming: T-LATE's held spans live in process memory keyed by anomaly id, so two
//! trace pipelines of one tenant would release each other's spans, and spans still held when
//! the process stops are lost. One trace pipeline per tenant is the common setup.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use super::{bytes_identity, matches_target, record_rng, share_at, state};
use crate::anomaly::{Anomaly, Kind};
use crate::model::traces::{KeyValue, Span, SpanKind, StatusCode};
use crate::model::{SpanBatch, SpanId, TraceId, push_hex};
use crate::random::Rng;

/// Most spans T-LATE holds back per anomaly; beyond it spans are dropped (and counted).
const MAX_HELD_SPANS: usize = 10_000;

/// Most spans T-DEEP or T-WIDE adds under one span.
const MAX_ADDED_SPANS: u64 = 100_000;

/// Applies one trace anomaly to `batch`.
pub(super) fn apply(batch: &mut SpanBatch, anomaly: &Anomaly) {
    let by_resource: Vec<bool> = batch
        .resources
        .iter()
        .map(|resource| {
            matches_target(
                anomaly,
                |key| resource.get(key),
                &["service.name"],
                &["service.instance.id"],
            )
        })
        .collect();
    let targeted: Vec<bool> = batch
        .spans
        .iter()
        .map(|span| by_resource[span.resource as usize] && anomaly.contains(span.start_ns))
        .collect();
    let affected = match anomaly.kind {
        Kind::TSkew | Kind::TNamecard => each_span(batch, anomaly, &targeted),
        Kind::TSampling => sampling(batch, anomaly, &targeted),
        Kind::TLate => late(batch, anomaly, &targeted),
        _ => each_trace(batch, anomaly, &targeted),
    };
    anomaly.add_affected(affected);
}

/// T-SKEW (targeted spans shifted by `offset`, 500 ms by default) and T-NAMECARD (a raw id in
/// the name of targeted spans).
fn each_span(batch: &mut SpanBatch, anomaly: &Anomaly, targeted: &[bool]) -> u64 {
    let offset = anomaly.params.offset_or(500_000_000);
    let mut affected = 0;
    for (span, _) in batch.spans.iter_mut().zip(targeted).filter(|(_, t)| **t) {
        if anomaly.kind == Kind::TSkew {
            span.start_ns += offset;
            span.end_ns += offset;
            span.events
                .iter_mut()
                .for_each(|event| event.time_ns += offset);
        } else {
            let mut rng = record_rng(anomaly, "name-id", span_identity(span));
            span.name = Cow::Owned(name_with_id(&span.name, &mut rng));
        }
        affected += 1;
    }
    affected
}

/// `name` with its first `{placeholder}` replaced by a raw hex id, or the id appended as a
/// path segment.
fn name_with_id(name: &str, rng: &mut Rng) -> String {
    let mut id = Vec::with_capacity(16);
    push_hex(&mut id, &rng.next_u64().to_be_bytes());
    let id = String::from_utf8_lossy(&id);
    match (name.find('{'), name.find('}')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}{id}{}", &name[..open], &name[close + 1..])
        }
        _ => format!("{name}/{id}"),
    }
}

/// T-SAMPLING: in a share of traces (half by default), the targeted service records nothing
/// below the root.
fn sampling(batch: &mut SpanBatch, anomaly: &Anomaly, targeted: &[bool]) -> u64 {
    let drop: Vec<bool> = batch
        .spans
        .iter()
        .zip(targeted)
        .map(|(span, targeted)| {
            *targeted
                && span.parent_span_id.is_some()
                && trace_chosen(anomaly, &span.trace_id, 0.5, span.start_ns)
        })
        .collect();
    remove_spans(batch, &drop)
}

/// Whether the trace is among the anomaly's chosen share.
fn trace_chosen(anomaly: &Anomaly, trace_id: &TraceId, default: f64, t_ns: i64) -> bool {
    let mut rng = record_rng(anomaly, "trace", bytes_identity(trace_id));
    rng.chance(share_at(anomaly, default, t_ns))
}

/// Removes the spans flagged in `drop`; how many.
fn remove_spans(batch: &mut SpanBatch, drop: &[bool]) -> u64 {
    let before = batch.spans.len();
    let mut index = 0;
    batch.spans.retain(|_| {
        index += 1;
        !drop[index - 1]
    });
    (before - batch.spans.len()) as u64
}

/// The spans of one trace in the batch, by index.
struct Trace {
    spans: Vec<usize>,
}

/// The traces whose spans all start inside the window and one of which is targeted, in order of
/// first appearance.
fn eligible_traces(batch: &SpanBatch, anomaly: &Anomaly, targeted: &[bool]) -> Vec<Trace> {
    let mut order: Vec<TraceId> = Vec::new();
    let mut groups: HashMap<TraceId, Vec<usize>> = HashMap::new();
    for (index, span) in batch.spans.iter().enumerate() {
        groups
            .entry(span.trace_id)
            .or_insert_with(|| {
                order.push(span.trace_id);
                Vec::new()
            })
            .push(index);
    }
    order
        .into_iter()
        .filter_map(|id| groups.remove(&id))
        .filter(|spans| {
            spans
                .iter()
                .all(|&i| anomaly.contains(batch.spans[i].start_ns))
                && spans.iter().any(|&i| targeted[i])
        })
        .map(|spans| Trace { spans })
        .collect()
}

impl Trace {
    /// The start of the trace's earliest span.
    fn start_ns(&self, batch: &SpanBatch) -> i64 {
        self.spans
            .iter()
            .map(|&i| batch.spans[i].start_ns)
            .min()
            .unwrap_or_default()
    }

    /// The root span, if the batch has it.
    fn root(&self, batch: &SpanBatch) -> Option<usize> {
        self.spans
            .iter()
            .copied()
            .find(|&i| batch.spans[i].parent_span_id.is_none())
    }

    /// A span picked at random among those satisfying `keep`, targeted ones first.
    fn pick(
        &self,
        batch: &SpanBatch,
        targeted: &[bool],
        rng: &mut Rng,
        keep: impl Fn(&Span) -> bool,
    ) -> Option<usize> {
        let fitting: Vec<usize> = self
            .spans
            .iter()
            .copied()
            .filter(|&i| keep(&batch.spans[i]))
            .collect();
        let preferred: Vec<usize> = fitting.iter().copied().filter(|&i| targeted[i]).collect();
        let pool = if preferred.is_empty() {
            fitting
        } else {
            preferred
        };
        rng.pick(&pool).copied()
    }

    /// Whether the span `id` has a child in the trace.
    fn has_children(&self, batch: &SpanBatch, id: SpanId) -> bool {
        self.spans
            .iter()
            .any(|&i| batch.spans[i].parent_span_id == Some(id))
    }

    /// The span at `index` and every span below it.
    fn subtree(&self, batch: &SpanBatch, index: usize) -> Vec<usize> {
        let mut found = vec![index];
        let mut next = 0;
        while next < found.len() {
            let id = batch.spans[found[next]].span_id;
            found.extend(
                self.spans
                    .iter()
                    .copied()
                    .filter(|&i| batch.spans[i].parent_span_id == Some(id)),
            );
            next += 1;
        }
        found
    }
}

/// T-ORPHAN, T-NOROOT, T-MULTIROOT, T-DEEP, T-WIDE and T-BADID on a share of the eligible traces.
fn each_trace(batch: &mut SpanBatch, anomaly: &Anomaly, targeted: &[bool]) -> u64 {
    let mut drop = vec![false; batch.spans.len()];
    let mut added = Vec::new();
    let mut affected = 0;
    for trace in eligible_traces(batch, anomaly, targeted) {
        let trace_id = batch.spans[trace.spans[0]].trace_id;
        let default = if anomaly.kind == Kind::TOrphan {
            0.02
        } else {
            0.01
        };
        if !trace_chosen(anomaly, &trace_id, default, trace.start_ns(batch)) {
            continue;
        }
        let mut rng = record_rng(anomaly, "trace-change", bytes_identity(&trace_id));
        affected += match anomaly.kind {
            Kind::TOrphan => {
                let chosen = trace.pick(batch, targeted, &mut rng, |span| {
                    span.parent_span_id.is_some() && trace.has_children(batch, span.span_id)
                });
                chosen.map_or(0, |i| u64::from(!std::mem::replace(&mut drop[i], true)))
            }
            Kind::TNoroot => trace
                .root(batch)
                .map_or(0, |i| u64::from(!std::mem::replace(&mut drop[i], true))),
            Kind::TMultiroot => {
                let chosen = trace.pick(batch, targeted, &mut rng, |s| s.parent_span_id.is_some());
                chosen.map_or(0, |i| {
                    batch.spans[i].parent_span_id = None;
                    1
                })
            }
            Kind::TDeep | Kind::TWide => {
                let chosen = trace.pick(batch, targeted, &mut rng, |_| true);
                chosen.map_or(0, |i| grow(anomaly, &batch.spans[i], &mut rng, &mut added))
            }
            Kind::TBadid => bad_ids(batch, &trace, targeted, &mut rng),
            _ => 0,
        };
    }
    remove_spans(batch, &drop);
    batch.spans.extend(added);
    affected
}

/// T-DEEP (a chain of `size` spans, 30 by default, each inside its parent) or T-WIDE (`size`
/// sequential database children, 1000 by default: N+1 queries) under `parent`; how many.
fn grow(anomaly: &Anomaly, parent: &Span, rng: &mut Rng, added: &mut Vec<Span>) -> u64 {
    let deep = anomaly.kind == Kind::TDeep;
    let size = anomaly
        .params
        .size_or(if deep { 30 } else { 1000 })
        .min(MAX_ADDED_SPANS);
    let duration = (parent.end_ns - parent.start_ns).max(0);
    let mut above = parent.clone();
    for n in 0..size as i64 {
        let mut span = child_of(&above, rng);
        if deep {
            let step = duration / (2 * (size as i64 + 1));
            span.start_ns = above.start_ns + step;
            span.end_ns = (above.end_ns - step).max(span.start_ns);
            span.name = Cow::Borrowed("resolve dependency");
            span.attributes = vec![KeyValue::new("synthtel.depth", n + 1)];
            above = span.clone();
        } else {
            let slot = duration / size as i64;
            span.start_ns = parent.start_ns + n * slot;
            span.end_ns = span.start_ns + slot;
            span.kind = SpanKind::Client;
            span.name = Cow::Borrowed("SELECT shop.order_items");
            span.attributes = vec![
                KeyValue::new("db.system", "postgresql"),
                KeyValue::new(
                    "db.statement",
                    "SELECT * FROM order_items WHERE order_id = $1",
                ),
            ];
        }
        added.push(span);
    }
    size
}

/// A new child span of `parent`: same trace, resource and flags, a fresh id.
fn child_of(parent: &Span, rng: &mut Rng) -> Span {
    Span {
        span_id: (rng.next_u64() | 1).to_be_bytes(),
        parent_span_id: Some(parent.span_id),
        kind: SpanKind::Internal,
        status: StatusCode::Unset,
        status_message: None,
        attributes: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
        ..parent.clone()
    }
}

/// T-BADID: the trace id of every span of the trace all zero, or one span's id all zero.
fn bad_ids(batch: &mut SpanBatch, trace: &Trace, targeted: &[bool], rng: &mut Rng) -> u64 {
    if rng.chance(0.5) {
        for &i in &trace.spans {
            batch.spans[i].trace_id = [0; 16];
        }
        trace.spans.len() as u64
    } else {
        let chosen = trace.pick(batch, targeted, rng, |_| true);
        chosen.map_or(0, |i| {
            batch.spans[i].span_id = [0; 8];
            1
        })
    }
}

/// T-LATE: in a share of traces, a subtree below the root is held back and emitted with a
/// later batch, once that batch reaches the held spans' end plus `offset` (1 min by default).
/// Only spans that can come back before the window ends are held, since no batch reaches this
/// anomaly afterwards; beyond [`MAX_HELD_SPANS`] they are dropped.
fn late(batch: &mut SpanBatch, anomaly: &Anomaly, targeted: &[bool]) -> u64 {
    let offset = anomaly.params.offset_or(60_000_000_000).max(0);
    let now_ns = batch
        .spans
        .iter()
        .map(|s| s.end_ns)
        .max()
        .unwrap_or(anomaly.start_ns);
    let mut drop = vec![false; batch.spans.len()];
    for trace in eligible_traces(batch, anomaly, targeted) {
        let trace_id = batch.spans[trace.spans[0]].trace_id;
        if !trace_chosen(anomaly, &trace_id, 0.01, trace.start_ns(batch)) {
            continue;
        }
        let mut rng = record_rng(anomaly, "late", bytes_identity(&trace_id));
        let in_time = |span: &Span| span.end_ns + offset < anomaly.end_ns();
        let chosen = trace.pick(batch, targeted, &mut rng, |span| {
            span.parent_span_id.is_some() && in_time(span)
        });
        if let Some(top) = chosen {
            for i in trace.subtree(batch, top) {
                drop[i] = in_time(&batch.spans[i]);
            }
        }
    }
    let held: Vec<(Span, _)> = batch
        .spans
        .iter()
        .zip(&drop)
        .filter(|(_, drop)| **drop)
        .map(|(span, _)| {
            (
                span.clone(),
                Arc::clone(&batch.resources[span.resource as usize]),
            )
        })
        .collect();
    let affected = remove_spans(batch, &drop);
    let released = state::with(anomaly, now_ns, |state| {
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut state.held)
            .into_iter()
            .partition(|(span, _)| span.end_ns + offset <= now_ns);
        state.held = waiting;
        let room = MAX_HELD_SPANS.saturating_sub(state.held.len());
        state.held.extend(held.into_iter().take(room));
        ready
    });
    for (mut span, resource) in released {
        span.resource = batch.resource_index(&resource);
        batch.spans.push(span);
    }
    affected
}

/// The identity of a span for keyed draws.
fn span_identity(span: &Span) -> u64 {
    bytes_identity(&span.trace_id) ^ u64::from_le_bytes(span.span_id)
}
