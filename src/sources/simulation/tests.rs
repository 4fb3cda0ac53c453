use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::*;
use crate::model::traces::{Span, SpanKind, StatusCode};
use crate::sources::TenantSpec;

fn source(extra: &str, tenants: &[&str]) -> SimulationSource {
    let config: SimulationConfig = toml::from_str(extra).expect("config");
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    let context = BuildContext {
        seed: 42,
        component_id: "sim".into(),
        tenants: tenants
            .iter()
            .map(|t| TenantSpec {
                id: Arc::from(*t),
                scale: 1.0,
                model: "webshop".into(),
            })
            .collect(),
        anomalies: crate::anomaly::Registry::new(),
    };
    config.build(&context).expect("build")
}

/// A Monday at 14:00 UTC, near the daily peak.
const START_NS: i64 = 1_764_597_600_000_000_000;

fn run(source: &mut SimulationSource, seconds: i64) -> Vec<Batch> {
    let mut out = Vec::new();
    for step in 0..seconds {
        let from = START_NS + step * 1_000_000_000;
        source.generate(Window::new(from, from + 1_000_000_000), &mut out);
    }
    out
}

fn spans(batches: &[Batch]) -> Vec<(&SpanBatch, &Span)> {
    batches
        .iter()
        .filter_map(|b| match b {
            Batch::Traces(t) => Some(t),
            _ => None,
        })
        .flat_map(|t| t.spans.iter().map(move |s| (t, s)))
        .collect()
}

#[test]
fn every_trace_is_valid() {
    let mut source = source("requests_per_second = 30", &["acme"]);
    let batches = run(&mut source, 20);
    let all = spans(&batches);
    assert!(all.len() > 1000, "{} spans", all.len());
    let mut traces: HashMap<[u8; 16], Vec<&Span>> = HashMap::new();
    for (_, span) in &all {
        assert_ne!(span.trace_id, [0; 16]);
        assert_ne!(span.span_id, [0; 8]);
        assert!(span.end_ns >= span.start_ns);
        assert!(!span.name.is_empty());
        traces.entry(span.trace_id).or_default().push(span);
    }
    for (trace_id, spans) in &traces {
        let roots: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_span_id.is_none())
            .collect();
        assert_eq!(
            roots.len(),
            1,
            "trace {trace_id:?} has {} roots",
            roots.len()
        );
        let by_id: HashMap<[u8; 8], &&Span> = spans.iter().map(|s| (s.span_id, s)).collect();
        assert_eq!(by_id.len(), spans.len(), "span ids unique within a trace");
        for span in spans {
            if let Some(parent) = span.parent_span_id {
                let parent = by_id.get(&parent).expect("parent emitted");
                assert!(
                    span.start_ns >= parent.start_ns && span.end_ns <= parent.end_ns,
                    "{} not within {}",
                    span.name,
                    parent.name
                );
                if span.kind == SpanKind::Server {
                    assert_eq!(
                        parent.kind,
                        SpanKind::Client,
                        "server spans are children of client spans"
                    );
                }
            }
            let status = span
                .attributes
                .iter()
                .find(|kv| kv.key == "http.response.status_code");
            if let (SpanKind::Server, Some(kv)) = (span.kind, status) {
                let code = match kv.value {
                    crate::model::traces::AttributeValue::Int(c) => c,
                    _ => 0,
                };
                assert_eq!(
                    span.status == StatusCode::Error,
                    code >= 500,
                    "{}: {code}",
                    span.name
                );
            }
        }
    }
}

fn depth(spans: &[&Span]) -> usize {
    let parents: HashMap<[u8; 8], Option<[u8; 8]>> = spans
        .iter()
        .map(|s| (s.span_id, s.parent_span_id))
        .collect();
    // Depth in service hops: count server spans on the longest chain.
    let kinds: HashMap<[u8; 8], SpanKind> = spans.iter().map(|s| (s.span_id, s.kind)).collect();
    spans
        .iter()
        .map(|s| {
            let mut hops = 0;
            let mut at = Some(s.span_id);
            while let Some(id) = at {
                if kinds.get(&id) == Some(&SpanKind::Server) {
                    hops += 1;
                }
                at = parents.get(&id).copied().flatten();
            }
            hops
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn webshop_trace_shapes_fall_in_realistic_ranges() {
    let mut source = source("requests_per_second = 30", &["acme"]);
    let batches = run(&mut source, 30);
    let mut traces: HashMap<[u8; 16], Vec<&Span>> = HashMap::new();
    for (_, span) in spans(&batches) {
        traces.entry(span.trace_id).or_default().push(span);
    }
    let mut depths: Vec<usize> = traces.values().map(|s| depth(s)).collect();
    let mut sizes: Vec<usize> = traces.values().map(Vec::len).collect();
    depths.sort_unstable();
    sizes.sort_unstable();
    let n = depths.len();
    let median_depth = depths[n / 2];
    assert!(
        (2..=4).contains(&median_depth),
        "median depth {median_depth}"
    );
    let shallow = depths.iter().filter(|d| **d <= 5).count() as f64 / n as f64;
    assert!(shallow >= 0.85, "{shallow} of traces have depth ≤ 5");
    let share =
        |keep: &dyn Fn(usize) -> bool| sizes.iter().filter(|s| keep(**s)).count() as f64 / n as f64;
    let single = share(&|s| s == 1);
    assert!((0.03..0.3).contains(&single), "single-span share {single}");
    // REALISM.md's endpoint profiles: about 70 % light (1–20 spans), 25 % medium (20–300),
    // 5 % heavy (300–5,000).
    let light = share(&|s| s < 20);
    let medium = share(&|s| (20..300).contains(&s));
    let heavy = share(&|s| s >= 300);
    assert!((0.6..0.85).contains(&light), "light share {light}");
    assert!((0.1..0.35).contains(&medium), "medium share {medium}");
    assert!((0.02..0.1).contains(&heavy), "heavy share {heavy}");
    assert!(
        sizes[n * 99 / 100] >= 20 * sizes[n / 2],
        "heavy tail: p99 {} vs p50 {}",
        sizes[n * 99 / 100],
        sizes[n / 2]
    );
}

#[test]
fn random_topologies_give_valid_shaped_traces() {
    for model in ["random-small", "random-medium", "random-large"] {
        let mut source = source(
            &format!("model = \"{model}\"\nrequests_per_second = 10"),
            &["acme"],
        );
        let batches = run(&mut source, 10);
        let mut traces: HashMap<[u8; 16], Vec<&Span>> = HashMap::new();
        for (_, span) in spans(&batches) {
            traces.entry(span.trace_id).or_default().push(span);
        }
        assert!(!traces.is_empty(), "{model} produced traces");
        let mut depths: Vec<usize> = traces.values().map(|s| depth(s)).collect();
        depths.sort_unstable();
        let median = depths[depths.len() / 2];
        assert!((1..=6).contains(&median), "{model}: median depth {median}");
    }
}

#[test]
fn logs_and_metrics_describe_the_emitted_traces() {
    let mut source = source(
        "requests_per_second = 20\nmetrics_interval = \"5s\"",
        &["acme"],
    );
    let batches = run(&mut source, 30);
    let mut trace_ids = BTreeSet::new();
    let mut server_spans: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for (batch, span) in spans(&batches) {
        trace_ids.insert(span.trace_id);
        if span.kind == SpanKind::Server {
            let service = batch
                .resource_of(span)
                .get("service.name")
                .unwrap_or("")
                .to_string();
            let instance = batch
                .resource_of(span)
                .get("service.instance.id")
                .unwrap_or("")
                .to_string();
            let code = span
                .attributes
                .iter()
                .find(|kv| kv.key == "http.response.status_code")
                .map(|kv| format!("{:?}", kv.value))
                .unwrap_or_default();
            let code = code
                .trim_start_matches("Int(")
                .trim_end_matches(')')
                .to_string();
            *server_spans.entry((service, instance, code)).or_default() += 1;
        }
    }
    let mut log_lines = 0;
    for batch in &batches {
        if let Batch::Logs(logs) = batch {
            for entry in &logs.entries {
                if let Some(trace_id) = entry.trace_id {
                    log_lines += 1;
                    assert!(
                        trace_ids.contains(&trace_id),
                        "log line of an emitted trace"
                    );
                    let line = String::from_utf8_lossy(logs.line(entry)).to_string();
                    assert!(line.contains(&crate::model::hex(&trace_id)), "{line}");
                }
            }
        }
    }
    assert!(log_lines > 100);

    // The last metrics batch: histogram _count per (service, instance, status) equals the server
    // spans counted so far (metrics lag the simulated time by less than one interval).
    let last_metrics = batches
        .iter()
        .rev()
        .find_map(|b| match b {
            Batch::Metrics(m) => Some(m),
            _ => None,
        })
        .expect("metrics");
    let mut counted: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for sample in &last_metrics.samples {
        let series = last_metrics.series_of(sample);
        if &*series.name == "http_server_request_duration_seconds_count" {
            let key = (
                series.label("job").unwrap_or("").to_string(),
                series.label("instance").unwrap_or("").to_string(),
                series
                    .label("http_response_status_code")
                    .unwrap_or("")
                    .to_string(),
            );
            *counted.entry(key).or_default() += sample.value as u64;
        }
        if let Some(exemplar) = sample.exemplar {
            assert!(
                trace_ids.contains(&exemplar.trace_id),
                "exemplar of an emitted trace"
            );
        }
    }
    let total_counted: u64 = counted.values().sum();
    let total_spans: u64 = server_spans.values().sum();
    assert!(total_counted > 0 && total_counted <= total_spans);
    assert!(
        total_spans - total_counted < total_spans / 4,
        "{total_counted} vs {total_spans}"
    );
}

#[test]
fn same_seed_same_traces_and_tenants_are_isolated() {
    let mut a = source("requests_per_second = 10", &["acme"]);
    let mut b = source("requests_per_second = 10", &["acme", "globex"]);
    let spans_of = |batches: &[Batch], tenant: &str| -> Vec<Span> {
        batches
            .iter()
            .filter_map(|x| match x {
                Batch::Traces(t) if &*t.tenant == tenant => Some(t.spans.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    };
    let first = run(&mut a, 5);
    let second = run(&mut b, 5);
    assert_eq!(spans_of(&first, "acme"), spans_of(&second, "acme"));
    assert!(!spans_of(&second, "globex").is_empty());
}
