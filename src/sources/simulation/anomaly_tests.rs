//! World anomalies in the simulation: each kind changes the requests inside its window, and
//! nothing outside it.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::*;
use crate::anomaly::{Anomaly, Kind, Params, Shape, Target};
use crate::model::traces::{AttributeValue, Span, SpanKind, StatusCode};
use crate::model::{LogBatch, Severity};
use crate::sources::TenantSpec;

/// A Monday at 14:00 UTC, near the daily peak.
const START_NS: i64 = 1_764_597_600_000_000_000;
const SECOND: i64 = 1_000_000_000;

/// The anomaly window used throughout: 20 s of simulated time in the middle of a 60 s run
/// (simulated time runs `LAG_NS` behind the windows generated).
const WINDOW: (i64, i64) = (START_NS + 10 * SECOND, START_NS + 30 * SECOND);
const SECONDS: i64 = 60;

fn source(rate: f64, registry: Arc<Registry>) -> SimulationSource {
    let config: SimulationConfig = toml::from_str(&format!(
        "requests_per_second = {rate}\nmetrics_interval = \"5s\""
    ))
    .expect("config");
    let context = BuildContext {
        seed: 42,
        component_id: "sim".into(),
        tenants: vec![TenantSpec {
            id: Arc::from("acme"),
            scale: 1.0,
            model: "webshop".into(),
        }],
        anomalies: registry,
    };
    config.build(&context).expect("build")
}

fn anomaly(kind: Kind, target: Target, params: Params) -> Arc<Registry> {
    let registry = Registry::new();
    registry.add(Anomaly::new(
        "test-0".into(),
        kind,
        "acme".into(),
        target,
        WINDOW.0,
        WINDOW.1,
        Shape::Step,
        params,
        7,
    ));
    registry
}

fn service(name: &str) -> Target {
    Target {
        service: Some(name.into()),
        ..Target::default()
    }
}

/// The batches of each one-second step of a run.
fn run(source: &mut SimulationSource) -> Vec<Vec<Batch>> {
    (0..SECONDS)
        .map(|step| {
            let from = START_NS + step * SECOND;
            let mut out = Vec::new();
            source.generate(Window::new(from, from + SECOND), &mut out);
            out
        })
        .collect()
}

/// Simulated start of a step's requests.
fn simulated(step: usize) -> i64 {
    START_NS + step as i64 * SECOND - LAG_NS
}

/// Every span of a run with its `service.name`.
fn spans(steps: &[Vec<Batch>]) -> Vec<(String, Span)> {
    let mut all = Vec::new();
    for batch in steps.iter().flatten() {
        if let Batch::Traces(traces) = batch {
            for span in &traces.spans {
                let name = traces.resource_of(span).get("service.name").unwrap_or("");
                all.push((name.to_string(), span.clone()));
            }
        }
    }
    all
}

fn logs(steps: &[Vec<Batch>]) -> Vec<&LogBatch> {
    steps
        .iter()
        .flatten()
        .filter_map(|batch| match batch {
            Batch::Logs(logs) => Some(logs),
            _ => None,
        })
        .collect()
}

fn inside(span: &Span) -> bool {
    (WINDOW.0..WINDOW.1).contains(&span.start_ns)
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a AttributeValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| &kv.value)
}

fn is_peer(span: &Span, peer: &str) -> bool {
    matches!(attribute(span, "peer.service"), Some(AttributeValue::String(p)) if p == peer)
}

fn status_code(span: &Span) -> Option<i64> {
    match attribute(span, "http.response.status_code") {
        Some(AttributeValue::Int(code)) => Some(*code),
        _ => None,
    }
}

fn quantile(mut values: Vec<i64>, q: f64) -> i64 {
    assert!(!values.is_empty());
    values.sort_unstable();
    values[((values.len() - 1) as f64 * q) as usize]
}

fn durations(spans: &[(String, Span)], keep: impl Fn(&str, &Span) -> bool) -> Vec<i64> {
    spans
        .iter()
        .filter(|(service, span)| keep(service, span))
        .map(|(_, span)| span.end_ns - span.start_ns)
        .collect()
}

/// Asserts that span ids are unique within their trace and that each trace has one root.
fn assert_well_formed(spans: &[(String, Span)]) {
    let ids: HashSet<([u8; 16], [u8; 8])> =
        spans.iter().map(|(_, s)| (s.trace_id, s.span_id)).collect();
    assert_eq!(ids.len(), spans.len(), "span ids unique within each trace");
    let mut roots: HashMap<[u8; 16], usize> = HashMap::new();
    for (_, span) in spans {
        *roots.entry(span.trace_id).or_default() += usize::from(span.parent_span_id.is_none());
        if let Some(parent) = span.parent_span_id {
            assert!(ids.contains(&(span.trace_id, parent)), "parent emitted");
        }
    }
    assert!(roots.values().all(|n| *n == 1), "one root per trace");
}

/// Asserts that steps whose requests cannot reach the window are identical to the clean run.
fn assert_identical_outside(clean: &[Vec<Batch>], changed: &[Vec<Batch>]) {
    let mut compared = 0;
    for (step, (a, b)) in clean.iter().zip(changed).enumerate() {
        let from = simulated(step);
        let before = from + SECOND + LAG_NS <= WINDOW.0;
        let after = from >= WINDOW.1;
        if !(before || after) {
            continue;
        }
        for (x, y) in a.iter().zip(b) {
            let metrics = matches!(x, Batch::Metrics(_));
            // Counters are cumulative: after the window they keep what it added.
            if !metrics || before {
                assert_eq!(format!("{x:?}"), format!("{y:?}"), "step {step}");
                compared += 1;
            }
        }
        assert_eq!(a.len(), b.len(), "batches of step {step}");
    }
    assert!(compared > 40, "{compared} batches compared");
}

/// Traces of the clean run that never reach the window are emitted unchanged in `changed`.
fn assert_untouched_traces_identical(clean: &[(String, Span)], changed: &[(String, Span)]) {
    let group = |spans: &[(String, Span)]| {
        let mut traces: HashMap<[u8; 16], Vec<Span>> = HashMap::new();
        for (_, span) in spans {
            let mut span = span.clone();
            span.resource = 0;
            traces.entry(span.trace_id).or_default().push(span);
        }
        traces
    };
    let (clean, changed) = (group(clean), group(changed));
    let mut compared = 0;
    for (trace_id, spans) in &clean {
        let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
        let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
        if end < WINDOW.0 || start >= WINDOW.1 {
            assert_eq!(Some(spans), changed.get(trace_id));
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared} traces compared");
}

#[test]
fn anomalies_that_reach_no_request_change_nothing() {
    let clean = format!("{:?}", run(&mut source(20.0, Registry::new())));
    assert_eq!(
        clean,
        format!("{:?}", run(&mut source(20.0, Registry::new())))
    );
    let elsewhere = |tenant: &str, target: Target, start_ns: i64| {
        let registry = Registry::new();
        registry.add(Anomaly::new(
            "other-0".into(),
            Kind::TLat,
            tenant.into(),
            target,
            start_ns,
            start_ns + 20 * SECOND,
            Shape::Step,
            Params::default(),
            7,
        ));
        registry
    };
    // Another tenant's anomaly, one long after the run, and one whose target is not in the
    // world (every request is simulated under it, and none is changed).
    for registry in [
        elsewhere("globex", Target::default(), WINDOW.0),
        elsewhere("acme", Target::default(), WINDOW.0 + 3_600 * SECOND),
        elsewhere("acme", service("nowhere"), WINDOW.0),
    ] {
        assert_eq!(clean, format!("{:?}", run(&mut source(20.0, registry))));
    }
}

#[test]
fn database_latency_slows_database_calls_and_their_callers() {
    let clean_steps = run(&mut source(30.0, Registry::new()));
    let target = Target {
        service_kind: Some("database".into()),
        ..Target::default()
    };
    let registry = anomaly(Kind::TLat, target, Params::default());
    let slow_steps = run(&mut source(30.0, Arc::clone(&registry)));
    let (clean, slow) = (spans(&clean_steps), spans(&slow_steps));
    assert_well_formed(&slow);

    let database = |_: &str, span: &Span| is_peer(span, "postgres") && inside(span);
    let before = quantile(durations(&clean, database), 0.5);
    let during = quantile(durations(&slow, database), 0.5);
    assert!(
        during as f64 > 5.0 * before as f64,
        "median {during} vs {before}"
    );

    let frontend = |service: &str, span: &Span| {
        service == "frontend" && span.kind == SpanKind::Server && inside(span)
    };
    let before = quantile(durations(&clean, frontend), 0.99);
    let during = quantile(durations(&slow, frontend), 0.99);
    assert!(during > before, "frontend p99 {during} vs {before}");

    assert_identical_outside(&clean_steps, &slow_steps);
    assert_untouched_traces_identical(&clean, &slow);
    assert!(registry.matching("acme", Signal::Traces, Layer::World, 0, i64::MAX)[0].affected() > 0);

    // Every ERROR request line in the window belongs to a failed span of an emitted trace.
    let failed: HashSet<([u8; 16], [u8; 8])> = slow
        .iter()
        .filter(|(_, span)| span.status == StatusCode::Error)
        .map(|(_, span)| (span.trace_id, span.span_id))
        .collect();
    for batch in logs(&slow_steps) {
        for entry in &batch.entries {
            let in_window = (WINDOW.0..WINDOW.1).contains(&entry.timestamp_ns);
            if entry.severity != Severity::Error || !in_window {
                continue;
            }
            let ids = entry.trace_id.zip(entry.span_id).expect("trace context");
            assert!(failed.contains(&ids), "error line of an error span");
        }
    }
}

/// Counts per (service, HTTP status).
type Counts = BTreeMap<(String, i64), u64>;

/// Server spans per (service, status) in the steps up to the last metrics batch, and the
/// histogram `_count` of that batch per (job, status).
fn served_and_counted(steps: &[Vec<Batch>]) -> (Counts, Counts) {
    let last = steps
        .iter()
        .rposition(|batches| batches.iter().any(|b| matches!(b, Batch::Metrics(_))))
        .expect("metrics");
    let mut served = BTreeMap::new();
    for (service, span) in spans(&steps[..=last]) {
        if span.kind == SpanKind::Server {
            *served
                .entry((service, status_code(&span).unwrap_or(0)))
                .or_default() += 1;
        }
    }
    let mut counted = BTreeMap::new();
    for batch in &steps[last] {
        let Batch::Metrics(metrics) = batch else {
            continue;
        };
        for sample in &metrics.samples {
            let series = metrics.series_of(sample);
            if &*series.name == "http_server_request_duration_seconds_count" {
                let job = series.label("job").unwrap_or("").to_string();
                let code = series.label("http_response_status_code").unwrap_or("0");
                let key = (job, code.parse().unwrap_or(0));
                *counted.entry(key).or_default() += sample.value as u64;
            }
        }
    }
    (served, counted)
}

#[test]
fn failing_backend_answers_503_and_metrics_count_it() {
    let params = Params {
        share: Some(1.0),
        ..Params::default()
    };
    let registry = anomaly(Kind::TErr, service("cart"), params);
    let steps = run(&mut source(30.0, registry));
    let all = spans(&steps);
    assert_well_formed(&all);
    let cart: Vec<&Span> = all
        .iter()
        .filter(|(service, span)| service == "cart" && span.kind == SpanKind::Server)
        .map(|(_, span)| span)
        .collect();
    let failing: Vec<&&Span> = cart.iter().filter(|span| inside(span)).collect();
    assert!(
        failing.len() > 50,
        "{} cart spans in the window",
        failing.len()
    );
    for span in &failing {
        assert_eq!(span.status, StatusCode::Error);
        assert_eq!(status_code(span), Some(503));
        assert!(span.events.iter().any(|event| event.name == "exception"));
    }
    let outside = cart.iter().filter(|span| !inside(span)).count();
    let failed_outside = cart
        .iter()
        .filter(|span| !inside(span) && span.status == StatusCode::Error)
        .count();
    assert!(
        failed_outside * 20 < outside,
        "{failed_outside} of {outside}"
    );

    // Calls whose server side starts in the window (after the network hop) all fail.
    let callers_failed = all
        .iter()
        .filter(|(_, span)| is_peer(span, "cart") && inside(span))
        .filter(|(_, span)| span.start_ns < WINDOW.1 - 1_000_000)
        .all(|(_, span)| span.status == StatusCode::Error);
    assert!(callers_failed, "client spans of cart fail");

    let (served, counted) = served_and_counted(&steps);
    assert_eq!(served, counted);
    assert!(counted.get(&("cart".into(), 503)).copied().unwrap_or(0) > 50);
}

#[test]
fn overrunning_calls_end_at_the_client_deadline() {
    let params = Params {
        share: Some(1.0),
        ..Params::default()
    };
    let steps = run(&mut source(
        20.0,
        anomaly(Kind::TTimeout, service("catalog"), params),
    ));
    let all = spans(&steps);
    assert_well_formed(&all);
    let by_id: HashMap<[u8; 8], &Span> = all.iter().map(|(_, s)| (s.span_id, s)).collect();
    let (mut timed_out, mut continued) = (0, 0);
    for (_, client) in all
        .iter()
        .filter(|(_, s)| is_peer(s, "catalog") && inside(s))
    {
        assert_eq!(client.status, StatusCode::Error);
        let message = client.status_message.as_deref().unwrap_or("");
        if !message.starts_with("deadline of") {
            continue;
        }
        timed_out += 1;
        // The server span runs on past the client's end, up to the request's own deadline.
        let server = all
            .iter()
            .map(|(_, s)| s)
            .find(|s| s.trace_id == client.trace_id && s.parent_span_id == Some(client.span_id));
        if let Some(server) = server {
            assert!(
                server.end_ns >= client.end_ns,
                "{server:?} ends before {client:?}"
            );
            assert!(by_id.contains_key(&server.span_id));
            continued += usize::from(server.end_ns > client.end_ns);
        }
    }
    assert!(
        continued * 10 > timed_out * 9,
        "{continued} of {timed_out} continue"
    );
    assert!(timed_out > 50, "{timed_out} timed-out calls");
    let warnings = logs(&steps)
        .iter()
        .flat_map(|batch| batch.entries.iter().map(move |e| (batch, e)))
        .filter(|(batch, entry)| {
            entry.severity == Severity::Warn
                && String::from_utf8_lossy(batch.line(entry)).contains("timeout calling catalog")
        })
        .count();
    assert!(warnings > 10, "{warnings} timeout warnings");
}

#[test]
fn retry_storm_multiplies_attempts_in_the_window() {
    let failing = Params {
        share: Some(1.0),
        ..Params::default()
    };
    let registry = anomaly(Kind::TErr, service("payment"), failing.clone());
    registry.add(Anomaly::new(
        "test-1".into(),
        Kind::TRetry,
        "acme".into(),
        service("payment"),
        WINDOW.0,
        WINDOW.1,
        Shape::Step,
        Params::default(),
        7,
    ));
    let storm = spans(&run(&mut source(40.0, registry)));
    let plain = spans(&run(&mut source(
        40.0,
        anomaly(Kind::TErr, service("payment"), failing),
    )));
    assert_well_formed(&storm);
    // Calls to payment per checkout request, in the window.
    let per_checkout = |spans: &[(String, Span)]| {
        let checkouts: HashSet<[u8; 16]> = spans
            .iter()
            .filter(|(service, s)| service == "checkout" && s.kind == SpanKind::Server)
            .filter(|(_, s)| inside(s))
            .map(|(_, s)| s.trace_id)
            .collect();
        let calls = spans
            .iter()
            .filter(|(_, s)| is_peer(s, "payment") && checkouts.contains(&s.trace_id))
            .count();
        assert!(!checkouts.is_empty());
        calls as f64 / checkouts.len() as f64
    };
    let (with_storm, without) = (per_checkout(&storm), per_checkout(&plain));
    assert!(with_storm > 1.3 * without, "{with_storm} vs {without}");
    let resends = storm
        .iter()
        .filter_map(|(_, s)| match attribute(s, "http.request.resend_count") {
            Some(AttributeValue::Int(n)) => Some(*n),
            _ => None,
        })
        .max();
    assert_eq!(resends, Some(3));

    // Client spans per checkout request.
    let clients_per_trace = |keep: &dyn Fn(&Span) -> bool| {
        let mut traces: HashMap<[u8; 16], (bool, usize)> = HashMap::new();
        for (_, span) in &storm {
            let entry = traces.entry(span.trace_id).or_default();
            if span.parent_span_id.is_none() {
                entry.0 = span.name == "POST /checkout" && keep(span);
            }
            entry.1 += usize::from(span.kind == SpanKind::Client);
        }
        let kept: Vec<usize> = traces.values().filter(|t| t.0).map(|t| t.1).collect();
        kept.iter().sum::<usize>() as f64 / kept.len() as f64
    };
    let during = clients_per_trace(&|root| inside(root));
    let outside = clients_per_trace(&|root| !inside(root));
    assert!(
        during > outside,
        "{during} vs {outside} client spans per trace"
    );
}

#[test]
fn surge_multiplies_requests_in_the_window() {
    let clean = spans(&run(&mut source(20.0, Registry::new())));
    let registry = anomaly(Kind::WLoad, Target::default(), Params::default());
    let surged = spans(&run(&mut source(20.0, Arc::clone(&registry))));
    assert_well_formed(&surged);
    let roots = |spans: &[(String, Span)]| {
        spans
            .iter()
            .filter(|(_, s)| s.parent_span_id.is_none() && inside(s))
            .count() as f64
    };
    let ratio = roots(&surged) / roots(&clean);
    assert!((3.4..4.6).contains(&ratio), "request ratio {ratio}");
    let affected =
        registry.matching("acme", Signal::Traces, Layer::World, 0, i64::MAX)[0].affected();
    assert!(
        affected as f64 > 2.5 * roots(&clean),
        "{affected} extra requests"
    );
    assert_untouched_traces_identical(&clean, &surged);
}

#[test]
fn failing_database_fails_its_client_spans_with_an_exception() {
    let params = Params {
        share: Some(1.0),
        ..Params::default()
    };
    let steps = run(&mut source(
        20.0,
        anomaly(Kind::TErr, service("postgres"), params),
    ));
    let all = spans(&steps);
    assert_well_formed(&all);
    let calls: Vec<&Span> = all
        .iter()
        .filter(|(_, span)| is_peer(span, "postgres") && inside(span))
        .map(|(_, span)| span)
        .collect();
    assert!(calls.len() > 50, "{} database calls", calls.len());
    for span in calls {
        assert_eq!(span.status, StatusCode::Error);
        assert!(span.events.iter().any(|event| event.name == "exception"));
    }
}

#[test]
fn surge_on_a_route_adds_only_its_requests() {
    let clean = spans(&run(&mut source(20.0, Registry::new())));
    let target = Target {
        route: Some("/checkout".into()),
        ..Target::default()
    };
    let params = Params {
        factor: Some(5.0),
        ..Params::default()
    };
    let surged = spans(&run(&mut source(
        20.0,
        anomaly(Kind::WLoad, target, params),
    )));
    let roots = |spans: &[(String, Span)], name: &str| {
        spans
            .iter()
            .filter(|(_, s)| s.parent_span_id.is_none() && inside(s) && s.name == name)
            .count() as f64
    };
    let checkout = roots(&surged, "POST /checkout") / roots(&clean, "POST /checkout");
    assert!((3.5..6.5).contains(&checkout), "checkout ratio {checkout}");
    let home = roots(&surged, "GET /") / roots(&clean, "GET /");
    assert!((0.9..1.1).contains(&home), "home ratio {home}");
}
