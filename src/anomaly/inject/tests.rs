//! Shared helpers of the injection tests, the generic properties every case checks, and the
//! table that makes a new data kind without a test fail.
//!
//! Each case builds a realistic batch from one of synthtel's sources, applies one anomaly whose
//! window covers the middle third of the batch, and checks: the kind's effect inside the window,
//! records outside the window as in the clean batch, a run without anomalies returning the
//! input, and two runs giving identical output.

use std::sync::Arc;

use super::{apply, state};
use crate::anomaly::{Anomaly, Kind, Layer, Params, Shape, Target};
use crate::model::{Batch, hex};
use crate::sources::{BuildContext, Source, TenantSpec, Window};

/// Start of every generated batch (a whole second).
pub(super) const START_NS: i64 = 1_796_000_000_000_000_000;

/// One record in a comparable form: its timestamp and everything else as text.
pub(super) type Record = (i64, String);

/// Builds a source's context for tenant `acme`.
pub(super) fn context() -> BuildContext {
    BuildContext {
        seed: 42,
        component_id: "inject_test".into(),
        tenants: vec![TenantSpec {
            id: Arc::from("acme"),
            scale: 1.0,
            model: "webshop".into(),
        }],
        anomalies: crate::anomaly::Registry::new(),
    }
}

/// Generates `[START_NS, START_NS + length_ns)` from a source, as one batch.
pub(super) fn generate(source: &mut dyn Source, length_ns: i64) -> Batch {
    let mut out = Vec::new();
    source.generate(Window::new(START_NS, START_NS + length_ns), &mut out);
    assert_eq!(out.len(), 1, "one batch per tenant");
    out.remove(0)
}

/// An anomaly over the middle third of a batch of `length_ns`.
pub(super) fn anomaly(kind: Kind, length_ns: i64, target: Target, params: Params) -> Arc<Anomaly> {
    let third = length_ns / 3;
    Arc::new(Anomaly::new(
        format!("inject-test-{}", kind.code()),
        kind,
        Arc::from("acme"),
        target,
        START_NS + third,
        START_NS + 2 * third,
        Shape::Step,
        params,
        7,
    ))
}

/// A target of one service.
pub(super) fn service(name: &str) -> Target {
    Target {
        service: Some(name.into()),
        ..Target::default()
    }
}

/// Params with a share.
pub(super) fn share(value: f64) -> Params {
    Params {
        share: Some(value),
        ..Params::default()
    }
}

/// Applies `anomaly` to a copy of `batch`, from a fresh state.
pub(super) fn run(batch: &Batch, anomaly: &Arc<Anomaly>) -> Batch {
    state::forget(&anomaly.id);
    let mut out = Vec::new();
    apply(batch.clone(), std::slice::from_ref(anomaly), &mut out);
    assert_eq!(out.len(), 1);
    out.remove(0)
}

/// The records of a batch, in order.
pub(super) fn records(batch: &Batch) -> Vec<Record> {
    match batch {
        Batch::Logs(logs) => logs
            .entries
            .iter()
            .map(|entry| {
                let metadata: Vec<String> = logs
                    .metadata_of(entry)
                    .iter()
                    .map(|pair| {
                        let value = String::from_utf8_lossy(logs.text_of(pair.value));
                        format!("{}={value}", pair.name)
                    })
                    .collect();
                let text = format!(
                    "{} {:?} {:?} {:?} {:?} {:?}",
                    logs.stream(entry).selector(),
                    logs.line(entry),
                    entry.severity,
                    entry.trace_id.map(|id| hex(&id)),
                    entry.span_id.map(|id| hex(&id)),
                    metadata
                );
                (entry.timestamp_ns, text)
            })
            .collect(),
        Batch::Metrics(metrics) => metrics
            .samples
            .iter()
            .map(|sample| {
                let series = metrics.series_of(sample);
                let text = format!(
                    "{}{:?} {:x} {:?}",
                    series.name,
                    series.labels,
                    sample.value.to_bits(),
                    sample.exemplar
                );
                (sample.timestamp_ms * 1_000_000, text)
            })
            .collect(),
        Batch::Traces(spans) => spans
            .spans
            .iter()
            .map(|span| {
                let mut plain = span.clone();
                plain.resource = 0;
                let text = format!("{:?} {plain:?}", spans.resource_of(span));
                (span.start_ns, text)
            })
            .collect(),
    }
}

/// The records outside the anomaly's window.
pub(super) fn outside(records: &[Record], anomaly: &Anomaly) -> Vec<Record> {
    records
        .iter()
        .filter(|(t, _)| !anomaly.contains(*t))
        .cloned()
        .collect()
}

/// The records inside the anomaly's window.
pub(super) fn inside(records: &[Record], anomaly: &Anomaly) -> Vec<Record> {
    records
        .iter()
        .filter(|(t, _)| anomaly.contains(*t))
        .cloned()
        .collect()
}

/// Whether kinds move records across the window's edges or add records outside it.
fn moves_records(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::LTskew | Kind::MSkew | Kind::MOoo | Kind::TSkew | Kind::TLate
    )
}

/// Applies `anomaly` to `clean` and checks the generic properties; returns the output.
pub(super) fn check(clean: &Batch, anomaly: &Arc<Anomaly>) -> Batch {
    let kind = anomaly.kind;
    let mut untouched = Vec::new();
    apply(clean.clone(), &[], &mut untouched);
    assert_eq!(records(&untouched[0]), records(clean), "{kind}: clean run");

    let injected = run(clean, anomaly);
    let again = run(clean, anomaly);
    assert_eq!(
        records(&injected),
        records(&again),
        "{kind}: not deterministic"
    );
    assert_ne!(records(&injected), records(clean), "{kind}: no effect");

    let before = outside(&records(clean), anomaly);
    let after = outside(&records(&injected), anomaly);
    if moves_records(kind) {
        assert!(
            is_subsequence(&before, &after),
            "{kind}: outside records changed"
        );
    } else {
        assert_eq!(before, after, "{kind}: outside records changed");
    }
    assert!(anomaly.affected() > 0, "{kind}: nothing counted");
    injected
}

/// Whether `small` appears in order within `large`.
fn is_subsequence(small: &[Record], large: &[Record]) -> bool {
    let mut rest = large.iter();
    small.iter().all(|record| rest.any(|other| other == record))
}

#[test]
fn every_data_kind_has_a_case() {
    let cases: Vec<Kind> = [
        super::tests_logs::CASES,
        super::tests_metrics::CASES,
        super::tests_traces::CASES,
    ]
    .iter()
    .flat_map(|cases| cases.iter().map(|(kind, _)| *kind))
    .collect();
    for &kind in Kind::ALL {
        let has_case = cases.contains(&kind);
        match kind.layer() {
            Layer::Data => assert!(has_case, "{kind} has no injection test case"),
            Layer::World => assert!(!has_case, "{kind} is a world kind"),
        }
    }
}

#[test]
fn world_kinds_and_other_signals_pass_through() {
    let batch = super::tests_traces::clean();
    let length = 3_000_000_000;
    for kind in [Kind::TLat, Kind::MGap, Kind::LSilence] {
        let anomaly = anomaly(kind, length, Target::default(), Params::default());
        let out = run(&batch, &anomaly);
        assert_eq!(records(&out), records(&batch), "{kind} changed spans");
    }
}

/// The batch without the records inside the first half of the anomaly's window.
fn without_early_half(batch: &Batch, anomaly: &Anomaly) -> Batch {
    let middle = (anomaly.start_ns + anomaly.end_ns()) / 2;
    let early = |t: i64| t >= anomaly.start_ns && t < middle;
    let mut batch = batch.clone();
    match &mut batch {
        Batch::Logs(logs) => logs.entries.retain(|e| !early(e.timestamp_ns)),
        Batch::Metrics(metrics) => metrics
            .samples
            .retain(|s| !early(s.timestamp_ms * 1_000_000)),
        Batch::Traces(spans) => spans.spans.retain(|s| !early(s.start_ns)),
    }
    batch
}

#[test]
fn draws_do_not_depend_on_other_records() {
    let logs = super::tests_logs::clean_batch();
    let traces = super::tests_traces::clean();
    for (kind, clean) in [
        (Kind::LDup, &logs),
        (Kind::LAttr, &logs),
        (Kind::TSampling, &traces),
    ] {
        let anomaly = anomaly(kind, 3_000_000_000, Target::default(), share(0.3));
        let middle = (anomaly.start_ns + anomaly.end_ns()) / 2;
        let late = |records: Vec<Record>| -> Vec<Record> {
            records.into_iter().filter(|(t, _)| *t >= middle).collect()
        };
        let whole = late(records(&run(clean, &anomaly)));
        let part = late(records(&run(
            &without_early_half(clean, &anomaly),
            &anomaly,
        )));
        assert_eq!(
            whole, part,
            "{kind}: draws shifted with the records before them"
        );
    }
}

#[test]
fn targets_match_families_instances_and_labels() {
    use crate::model::metrics::{Family, MetricKind, Series};

    let family = Arc::new(Family {
        name: "http_server_request_duration_seconds".into(),
        help: String::new(),
        unit: "seconds".into(),
        kind: MetricKind::Histogram,
    });
    let labels = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(n, v)| (Arc::from(*n), Arc::from(*v)))
            .collect::<Vec<_>>()
    };
    let bucket = Series::new(
        "http_server_request_duration_seconds_bucket",
        labels(&[("job", "cart"), ("instance", "cart-0"), ("le", "0.1")]),
        Arc::clone(&family),
    );
    let target = |metric: &str, instance: &str, le: &str| Target {
        service: Some("cart".into()),
        instance: Some(instance.into()),
        metric: Some(metric.into()),
        labels: [("le".to_string(), le.to_string())].into(),
        ..Target::default()
    };
    let matches = |target: Target| {
        let anomaly = anomaly(Kind::MGap, 1, target, Params::default());
        super::metrics::series_matches(&anomaly, &bucket)
    };
    assert!(matches(target(
        "http_server_request_duration_seconds",
        "cart-0",
        "0.1"
    )));
    assert!(matches(target(
        "http_server_request_duration_seconds_bucket",
        "cart-0",
        "0.1"
    )));
    assert!(!matches(target(
        "http_server_request_duration_seconds",
        "cart-1",
        "0.1"
    )));
    assert!(!matches(target(
        "http_server_request_duration_seconds",
        "cart-0",
        "1"
    )));
    assert!(!matches(target("process_cpu_seconds", "cart-0", "0.1")));
    assert!(matches(Target::default()));
}
