//! Injection tests of the trace kinds, on three seconds of the `traces` source.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use super::tests::{anomaly, check, context, generate, records, run, service, share};
use crate::anomaly::{Anomaly, Kind, Params, Target};
use crate::model::traces::Span;
use crate::model::{Batch, SpanBatch, TraceId};
use crate::sources::traces::TracesSourceConfig;

const LENGTH_NS: i64 = 3_000_000_000;

/// Every trace kind and its test.
pub(super) const CASES: &[(Kind, fn())] = &[
    (Kind::TOrphan, orphan),
    (Kind::TNoroot, noroot),
    (Kind::TMultiroot, multiroot),
    (Kind::TLate, late),
    (Kind::TDeep, deep),
    (Kind::TWide, wide),
    (Kind::TSkew, skew),
    (Kind::TBadid, badid),
    (Kind::TNamecard, namecard),
    (Kind::TSampling, sampling),
];

#[test]
fn trace_cases_hold() {
    for (kind, case) in CASES {
        eprintln!("case {kind}");
        case();
    }
}

/// Three seconds of 100 traces per second.
pub(super) fn clean() -> Batch {
    static CLEAN: OnceLock<Batch> = OnceLock::new();
    CLEAN
        .get_or_init(|| {
            let text = "traces_per_second = 100.0\nservices = 4\nmax_depth = 4\nfan_out = 2.0";
            let config: TracesSourceConfig = toml::from_str(text).expect("config parses");
            let mut source = config.build(&context()).expect("source builds");
            generate(&mut source, LENGTH_NS)
        })
        .clone()
}

fn spans(batch: &Batch) -> &SpanBatch {
    match batch {
        Batch::Traces(spans) => spans,
        _ => panic!("not traces"),
    }
}

fn service_of(batch: &SpanBatch, span: &Span) -> String {
    batch
        .resource_of(span)
        .get("service.name")
        .unwrap_or_default()
        .to_string()
}

/// The in-window traces of a batch: their spans, by trace id.
fn traces_in(batch: &Batch, anomaly: &Anomaly) -> HashMap<TraceId, Vec<Span>> {
    let mut traces: HashMap<TraceId, Vec<Span>> = HashMap::new();
    for span in &spans(batch).spans {
        if anomaly.contains(span.start_ns) {
            traces.entry(span.trace_id).or_default().push(span.clone());
        }
    }
    traces
}

fn roots(spans: &[Span]) -> usize {
    spans.iter().filter(|s| s.parent_span_id.is_none()).count()
}

fn orphans(spans: &[Span]) -> usize {
    let ids: HashSet<_> = spans.iter().map(|s| s.span_id).collect();
    spans
        .iter()
        .filter(|s| s.parent_span_id.is_some_and(|p| !ids.contains(&p)))
        .count()
}

fn everywhere(kind: Kind, params: Params) -> Arc<Anomaly> {
    anomaly(kind, LENGTH_NS, Target::default(), params)
}

fn orphan() {
    let anomaly = everywhere(Kind::TOrphan, share(1.0));
    let out = check(&clean(), &anomaly);
    let count = |batch: &Batch| {
        traces_in(batch, &anomaly)
            .values()
            .map(|t| orphans(t))
            .sum::<usize>()
    };
    let broken = traces_in(&out, &anomaly)
        .values()
        .filter(|t| orphans(t) > 0)
        .count();
    assert!(broken > 10, "{broken} traces with orphans");
    assert!(count(&out) > count(&clean()));
}

fn noroot() {
    let anomaly = everywhere(Kind::TNoroot, share(0.5));
    let out = check(&clean(), &anomaly);
    let roots_of = |batch: &Batch| {
        traces_in(batch, &anomaly)
            .values()
            .map(|t| roots(t))
            .sum::<usize>()
    };
    let kept = roots_of(&out) as f64 / roots_of(&clean()) as f64;
    assert!((0.4..0.6).contains(&kept), "roots kept {kept}");
    let rootless = traces_in(&out, &anomaly)
        .values()
        .filter(|t| roots(t) == 0)
        .count();
    assert!(rootless > 10, "{rootless} traces without root");
}

fn multiroot() {
    let anomaly = everywhere(Kind::TMultiroot, share(1.0));
    let out = check(&clean(), &anomaly);
    let multi = traces_in(&out, &anomaly)
        .values()
        .filter(|t| roots(t) >= 2)
        .count();
    assert!(multi > 10);
    let clean_multi = traces_in(&clean(), &anomaly)
        .values()
        .filter(|t| roots(t) >= 2)
        .count();
    assert_eq!(clean_multi, 0);
}

fn late() {
    let params = Params {
        share: Some(1.0),
        offset: Some(10_000_000),
        ..Params::default()
    };
    let anomaly = everywhere(Kind::TLate, params);
    check(&clean(), &anomaly);

    // Split the clean batch by trace start in the middle of the window and send both halves.
    let middle = (anomaly.start_ns + anomaly.end_ns()) / 2;
    let clean = clean();
    let all = spans(&clean);
    let mut first_start: HashMap<TraceId, i64> = HashMap::new();
    for span in &all.spans {
        let start = first_start.entry(span.trace_id).or_insert(span.start_ns);
        *start = (*start).min(span.start_ns);
    }
    let half = |early: bool| {
        let mut batch = all.clone();
        batch
            .spans
            .retain(|s| (first_start[&s.trace_id] < middle) == early);
        Batch::Traces(batch)
    };
    let first = run(&half(true), &anomaly);
    let mut out = Vec::new();
    super::apply(half(false), std::slice::from_ref(&anomaly), &mut out);
    let second = out.remove(0);

    let emitted: HashSet<String> = records(&first).into_iter().map(|r| r.1).collect();
    let held: HashSet<String> = records(&half(true))
        .into_iter()
        .map(|r| r.1)
        .filter(|r| !emitted.contains(r))
        .collect();
    assert!(held.len() > 10, "{} spans held", held.len());
    let second_records: HashSet<String> = records(&second).into_iter().map(|r| r.1).collect();
    assert!(
        held.is_subset(&second_records),
        "held spans come back later"
    );
}

fn depth(spans: &[Span]) -> usize {
    let parents: HashMap<_, _> = spans
        .iter()
        .map(|s| (s.span_id, s.parent_span_id))
        .collect();
    spans
        .iter()
        .map(|span| {
            let mut depth = 1;
            let mut parent = span.parent_span_id;
            while let Some(Some(next)) = parent.map(|p| parents.get(&p).copied()) {
                depth += 1;
                parent = next;
            }
            depth
        })
        .max()
        .unwrap_or_default()
}

fn within_parents(spans: &[Span]) -> bool {
    let by_id: HashMap<_, _> = spans.iter().map(|s| (s.span_id, s)).collect();
    spans.iter().all(|span| {
        span.parent_span_id
            .and_then(|p| by_id.get(&p))
            .is_none_or(|parent| parent.start_ns <= span.start_ns && span.end_ns <= parent.end_ns)
    })
}

fn deep() {
    let anomaly = everywhere(Kind::TDeep, share(0.1));
    let out = check(&clean(), &anomaly);
    let traces = traces_in(&out, &anomaly);
    let deep: Vec<_> = traces.values().filter(|t| depth(t) >= 31).collect();
    assert!(!deep.is_empty());
    assert!(deep.iter().all(|t| within_parents(t)));
    assert!(
        traces_in(&clean(), &anomaly)
            .values()
            .all(|t| depth(t) <= 4)
    );
}

fn wide() {
    let params = Params {
        share: Some(0.05),
        size: Some(200),
        ..Params::default()
    };
    let anomaly = everywhere(Kind::TWide, params);
    let out = check(&clean(), &anomaly);
    let mut wide = 0;
    for trace in traces_in(&out, &anomaly).values() {
        let mut children: HashMap<_, usize> = HashMap::new();
        for span in trace.iter().filter(|s| s.name.starts_with("SELECT")) {
            *children.entry(span.parent_span_id).or_default() += 1;
        }
        if children.values().any(|n| *n == 200) {
            wide += 1;
            assert!(within_parents(trace));
        }
    }
    assert!(wide > 0);
}

fn skew() {
    let target = service("load-service-1");
    let anomaly = anomaly(Kind::TSkew, LENGTH_NS, target, Params::default());
    let out = check(&clean(), &anomaly);
    let theirs = |batch: &Batch| -> Vec<Span> {
        let spans = spans(batch);
        spans
            .spans
            .iter()
            .filter(|s| service_of(spans, s) == "load-service-1")
            .cloned()
            .collect()
    };
    let before: Vec<_> = theirs(&clean())
        .into_iter()
        .filter(|s| anomaly.contains(s.start_ns))
        .collect();
    let after = theirs(&out);
    assert!(!before.is_empty());
    for span in &before {
        let moved = after
            .iter()
            .find(|s| s.span_id == span.span_id)
            .expect("still there");
        assert_eq!(moved.start_ns, span.start_ns + 500_000_000);
        assert_eq!(moved.end_ns, span.end_ns + 500_000_000);
    }
    let outside = traces_in(&out, &anomaly)
        .values()
        .filter(|t| !within_parents(t))
        .count();
    assert!(outside > 0, "children outside their parents");
}

fn badid() {
    let anomaly = everywhere(Kind::TBadid, share(1.0));
    let out = check(&clean(), &anomaly);
    let spans = spans(&out);
    let zero_trace = spans.spans.iter().filter(|s| s.trace_id == [0; 16]).count();
    let zero_span = spans.spans.iter().filter(|s| s.span_id == [0; 8]).count();
    assert!(zero_trace > 0 && zero_span > 0);
    let bad = |s: &Span| s.trace_id == [0; 16] || s.span_id == [0; 8];
    assert!(
        spans
            .spans
            .iter()
            .filter(|s| bad(s))
            .all(|s| anomaly.contains(s.start_ns))
    );
}

fn namecard() {
    let anomaly = anomaly(
        Kind::TNamecard,
        LENGTH_NS,
        service("load-service-2"),
        Params::default(),
    );
    let out = check(&clean(), &anomaly);
    let (before, after) = (clean(), out);
    let (before, after) = (spans(&before), spans(&after));
    let mut names = HashSet::new();
    for (old, new) in before.spans.iter().zip(&after.spans) {
        let targeted =
            anomaly.contains(old.start_ns) && service_of(before, old) == "load-service-2";
        if targeted {
            let id = new.name.rsplit('/').next().unwrap_or_default();
            assert!(new.name.starts_with(old.name.as_ref()) || id.len() == 16);
            assert!(
                id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}",
                new.name
            );
            names.insert(new.name.to_string());
        } else {
            assert_eq!(old.name, new.name);
        }
    }
    assert!(names.len() > 10, "names explode: {}", names.len());
}

fn sampling() {
    let anomaly = anomaly(
        Kind::TSampling,
        LENGTH_NS,
        service("load-service-2"),
        Params::default(),
    );
    let out = check(&clean(), &anomaly);
    let count = |batch: &Batch| {
        let spans = spans(batch);
        spans
            .spans
            .iter()
            .filter(|s| anomaly.contains(s.start_ns) && s.parent_span_id.is_some())
            .filter(|s| service_of(spans, s) == "load-service-2")
            .count()
    };
    let kept = count(&out) as f64 / count(&clean()) as f64;
    assert!((0.35..0.65).contains(&kept), "kept {kept}");
}
