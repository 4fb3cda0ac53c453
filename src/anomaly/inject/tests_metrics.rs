//! Injection tests of the metric kinds, on 30 s of the `metrics` source sampled every second.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use super::metrics::diurnal;
use super::tests::{anomaly, check, context, generate, share};
use crate::anomaly::{Anomaly, Kind, Params, Target};
use crate::model::metrics::{MetricKind, Series, is_stale_marker};
use crate::model::{Batch, MetricBatch};
use crate::sources::metrics::MetricsSourceConfig;

const LENGTH_NS: i64 = 30_000_000_000;

/// Every metric kind and its test.
pub(super) const CASES: &[(Kind, fn())] = &[
    (Kind::MSpike, spike),
    (Kind::MDip, dip),
    (Kind::MContext, context_value),
    (Kind::MLevel, level),
    (Kind::MTrend, trend),
    (Kind::MVar, var),
    (Kind::MSeason, season),
    (Kind::MShape, shape),
    (Kind::MFlat, flat),
    (Kind::MGap, gap),
    (Kind::MReset, reset),
    (Kind::MCard, card),
    (Kind::MDup, dup),
    (Kind::MOoo, ooo),
    (Kind::MStale, stale),
    (Kind::MSkew, skew),
    (Kind::MUnit, unit),
];

#[test]
fn metric_cases_hold() {
    for (kind, case) in CASES {
        eprintln!("case {kind}");
        case();
    }
}

fn clean() -> &'static Batch {
    static CLEAN: OnceLock<Batch> = OnceLock::new();
    CLEAN.get_or_init(|| {
        let text = "presets = [\"http_red\", \"process\"]\nservices = [\"checkout\", \"cart\"]\n\
                    instances_per_service = 2\ninterval = \"1s\"";
        let config: MetricsSourceConfig = toml::from_str(text).expect("config parses");
        let mut source = config.build(&context()).expect("source builds");
        generate(&mut source, LENGTH_NS)
    })
}

fn metrics(batch: &Batch) -> &MetricBatch {
    match batch {
        Batch::Metrics(metrics) => metrics,
        _ => panic!("not metrics"),
    }
}

/// A series' identity: name and labels.
fn id(series: &Series) -> String {
    format!("{}{:?}", series.name, series.labels)
}

/// The in-window (timestamp ms, value) of every series, by identity.
fn in_window(batch: &Batch, anomaly: &Anomaly) -> BTreeMap<String, (Series, Vec<(i64, f64)>)> {
    let metrics = metrics(batch);
    let mut out: BTreeMap<String, (Series, Vec<(i64, f64)>)> = BTreeMap::new();
    for sample in &metrics.samples {
        if anomaly.contains(sample.timestamp_ms * 1_000_000) {
            let series = metrics.series_of(sample);
            out.entry(id(series))
                .or_insert_with(|| (series.clone(), Vec::new()))
                .1
                .push((sample.timestamp_ms, sample.value));
        }
    }
    out
}

/// (timestamp ms, clean value, injected value) of one series.
type Pairs = Vec<(i64, f64, f64)>;

/// Pairs of (clean, injected) in-window values per series with the same timestamps.
fn pairs(anomaly: &Anomaly, out: &Batch) -> Vec<(Series, Pairs)> {
    let before = in_window(clean(), anomaly);
    let after = in_window(out, anomaly);
    before
        .into_iter()
        .map(|(key, (series, values))| {
            let changed = &after[&key].1;
            assert_eq!(values.len(), changed.len(), "{key}");
            let zipped = values
                .iter()
                .zip(changed)
                .map(|(a, b)| {
                    assert_eq!(a.0, b.0);
                    (a.0, a.1, b.1)
                })
                .collect();
            (series, zipped)
        })
        .collect()
}

fn is_gauge(series: &Series) -> bool {
    series.family.kind == MetricKind::Gauge
}

fn factor(value: f64) -> Params {
    Params {
        factor: Some(value),
        ..Params::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Checks a gauge-only kind: counters untouched, `expected(t_ms, clean)` for every gauge value.
fn gauges_follow(kind: Kind, params: Params, expected: impl Fn(i64, f64) -> f64) {
    let anomaly = anomaly(kind, LENGTH_NS, Target::default(), params);
    let out = check(clean(), &anomaly);
    for (series, values) in pairs(&anomaly, &out) {
        for (t, before, after) in values {
            let want = if is_gauge(&series) {
                expected(t, before)
            } else {
                before
            };
            assert!(
                close(after, want),
                "{kind} {}: {before} → {after}",
                series.name
            );
        }
    }
}

fn spike_or_dip(kind: Kind) {
    let anomaly = anomaly(kind, LENGTH_NS, Target::default(), Params::default());
    let out = check(clean(), &anomaly);
    for (series, values) in pairs(&anomaly, &out) {
        let changed: Vec<_> = values.iter().filter(|(_, a, b)| a != b).collect();
        if !is_gauge(&series) {
            assert!(changed.is_empty(), "counter {} changed", series.name);
            continue;
        }
        assert!(
            (1..=3).contains(&changed.len())
                || values.iter().all(|v| v.1 == 0.0 && kind == Kind::MDip)
        );
        for (position, (_, before, after)) in values.iter().enumerate() {
            if before != after {
                assert!(position < 3, "a late spike");
                let sigma = if *before == 0.0 {
                    1.0
                } else {
                    0.1 * before.abs()
                };
                let want = if kind == Kind::MSpike {
                    before + 6.0 * sigma
                } else {
                    (before - 6.0 * sigma).max(0.0)
                };
                assert!(close(*after, want), "{before} → {after}");
            }
        }
    }
}

fn spike() {
    spike_or_dip(Kind::MSpike);
}

fn dip() {
    spike_or_dip(Kind::MDip);
}

fn context_value() {
    let hours = 3_600_000_000_000;
    gauges_follow(Kind::MContext, Params::default(), |t, v| {
        let t_ns = t * 1_000_000;
        v * diurnal(t_ns + 12 * hours) / diurnal(t_ns)
    });
}

fn level() {
    let anomaly = anomaly(Kind::MLevel, LENGTH_NS, Target::default(), factor(1.5));
    let out = check(clean(), &anomaly);
    let mut counters = 0;
    for (series, values) in pairs(&anomaly, &out) {
        let first = values[0].1;
        for (_, before, after) in &values {
            if is_gauge(&series) {
                assert!(close(*after, before * 1.5));
            } else if series.family.kind == MetricKind::Counter {
                assert!(close(*after, first + (before - first) * 1.5));
                counters += 1;
            }
        }
        let injected: Vec<f64> = values.iter().map(|v| v.2).collect();
        if !is_gauge(&series) {
            assert!(injected.windows(2).all(|w| w[0] <= w[1]), "not monotonic");
        }
    }
    assert!(counters > 0);
}

fn trend() {
    let anomaly = anomaly(Kind::MTrend, LENGTH_NS, Target::default(), factor(3.0));
    let (start, end) = (anomaly.start_ns, anomaly.end_ns());
    gauges_follow(Kind::MTrend, factor(3.0), |t, v| {
        let x = (t * 1_000_000 - start) as f64 / (end - start) as f64;
        v * (1.0 + 2.0 * x)
    });
}

fn var() {
    let anomaly = anomaly(Kind::MVar, LENGTH_NS, Target::default(), Params::default());
    let out = check(clean(), &anomaly);
    let (mut moved, mut gauges) = (0, 0);
    for (series, values) in pairs(&anomaly, &out) {
        for (_, before, after) in values {
            if is_gauge(&series) && before != 0.0 {
                gauges += 1;
                moved += usize::from(before != after);
                assert!(before < 0.0 || after >= 0.0);
            } else if !is_gauge(&series) {
                assert_eq!(before, after);
            }
        }
    }
    assert!(moved * 10 > gauges * 9, "{moved} of {gauges}");
}

fn season() {
    let shift = 6 * 3_600_000_000_000;
    gauges_follow(Kind::MSeason, Params::default(), |t, v| {
        let t_ns = t * 1_000_000;
        v * diurnal(t_ns + shift) / diurnal(t_ns)
    });
}

fn shape() {
    let anomaly = anomaly(
        Kind::MShape,
        LENGTH_NS,
        Target::default(),
        Params::default(),
    );
    let out = check(clean(), &anomaly);
    let mut levels = BTreeSet::new();
    for (series, values) in pairs(&anomaly, &out) {
        for (_, before, after) in values.iter().filter(|v| v.1 != 0.0) {
            if is_gauge(&series) {
                let ratio = after / before;
                assert!(close(ratio, 1.5) || close(ratio, 0.5), "ratio {ratio}");
                levels.insert(ratio > 1.0);
            }
        }
    }
    assert_eq!(levels.len(), 2, "both halves of the square wave");
}

fn flat() {
    let anomaly = anomaly(Kind::MFlat, LENGTH_NS, Target::default(), Params::default());
    let out = check(clean(), &anomaly);
    for (_, values) in pairs(&anomaly, &out) {
        assert!(values.iter().all(|v| v.2 == values[0].1));
    }
}

fn gap() {
    let anomaly = anomaly(Kind::MGap, LENGTH_NS, Target::default(), Params::default());
    let out = check(clean(), &anomaly);
    assert!(in_window(&out, &anomaly).is_empty());
}

fn reset() {
    let anomaly = anomaly(
        Kind::MReset,
        LENGTH_NS,
        Target::default(),
        Params::default(),
    );
    let out = check(clean(), &anomaly);
    let start_seconds = (anomaly.start_ns / 1_000_000_000) as f64;
    let mut restarted = 0;
    for (series, values) in pairs(&anomaly, &out) {
        if &*series.name == "process_start_time_seconds" {
            assert!(values.iter().all(|v| v.2 == start_seconds));
            restarted += 1;
        } else if series.family.kind == MetricKind::Counter {
            assert_eq!(values[0].2, 0.0);
            assert!(values.iter().all(|v| close(v.2, v.1 - values[0].1)));
        }
    }
    assert!(restarted > 0);
}

fn card() {
    let target = Target {
        metric: Some("process_resident_memory_bytes".into()),
        ..Target::default()
    };
    let params = Params {
        size: Some(10),
        ..Params::default()
    };
    let anomaly = anomaly(Kind::MCard, LENGTH_NS, target, params);
    let out = check(clean(), &anomaly);
    let after = in_window(&out, &anomaly);
    let originals = in_window(clean(), &anomaly)
        .values()
        .filter(|(s, _)| &*s.name == "process_resident_memory_bytes")
        .count();
    let new: Vec<_> = after
        .values()
        .filter(|(s, _)| {
            s.label("pod")
                .is_some_and(|p| p.starts_with("cardinality-"))
        })
        .collect();
    assert!(originals > 0);
    assert_eq!(new.len(), originals * 10);
    assert!(
        new.iter()
            .all(|(s, _)| &*s.name == "process_resident_memory_bytes")
    );
}

fn dup() {
    let anomaly = anomaly(Kind::MDup, LENGTH_NS, Target::default(), share(0.2));
    let out = check(clean(), &anomaly);
    let metrics = metrics(&out);
    let mut seen = BTreeMap::new();
    let (mut same, mut different) = (0, 0);
    for sample in &metrics.samples {
        let key = (id(metrics.series_of(sample)), sample.timestamp_ms);
        if let Some(value) = seen.insert(key, sample.value) {
            assert!(anomaly.contains(sample.timestamp_ms * 1_000_000));
            if value == sample.value {
                same += 1
            } else {
                different += 1
            }
        }
    }
    let total = in_window(clean(), &anomaly)
        .values()
        .map(|v| v.1.len())
        .sum::<usize>();
    let share = (same + different) as f64 / total as f64;
    assert!((0.15..0.25).contains(&share), "dup share {share}");
    assert!(same > 0 && different > 0);
}

fn ooo() {
    let anomaly = anomaly(Kind::MOoo, LENGTH_NS, Target::default(), share(0.2));
    let out = check(clean(), &anomaly);
    let (before, after) = (metrics(clean()), metrics(&out));
    let extra = &after.samples[before.samples.len()..];
    assert!(!extra.is_empty());
    let shifted = extra
        .iter()
        .all(|s| anomaly.contains((s.timestamp_ms + 300_000) * 1_000_000));
    assert!(shifted, "copies are 5 min behind");
    assert_eq!(&after.samples[..before.samples.len()], &before.samples[..]);
}

fn stale() {
    let anomaly = anomaly(
        Kind::MStale,
        LENGTH_NS,
        Target::default(),
        Params::default(),
    );
    let out = check(clean(), &anomaly);
    let before = in_window(clean(), &anomaly);
    for (key, (_, values)) in in_window(&out, &anomaly) {
        assert_eq!(values.len(), 1, "{key}");
        assert!(is_stale_marker(values[0].1));
        assert_eq!(
            values[0].0, before[&key].1[0].0,
            "marker at the first sample"
        );
    }
}

fn skew() {
    let instance = metrics(clean()).series[0]
        .label("instance")
        .expect("instance")
        .to_string();
    let target = Target {
        instance: Some(instance.clone()),
        ..Target::default()
    };
    let anomaly = anomaly(Kind::MSkew, LENGTH_NS, target, Params::default());
    let out = check(clean(), &anomaly);
    let theirs = |map: BTreeMap<String, (Series, Vec<(i64, f64)>)>| {
        map.into_values()
            .filter(|(s, _)| s.label("instance") == Some(instance.as_str()))
            .count()
    };
    assert!(theirs(in_window(clean(), &anomaly)) > 0);
    assert_eq!(
        theirs(in_window(&out, &anomaly)),
        0,
        "moved out of the window"
    );
    let metrics = metrics(&out);
    let moved = metrics.samples.iter().filter(|s| {
        let t = (s.timestamp_ms - 120_000) * 1_000_000;
        anomaly.contains(t) && metrics.series_of(s).label("instance") == Some(instance.as_str())
    });
    assert!(moved.count() > 0);
}

fn unit() {
    let anomaly = anomaly(Kind::MUnit, LENGTH_NS, Target::default(), Params::default());
    let out = check(clean(), &anomaly);
    let mut scaled = 0;
    for (series, values) in pairs(&anomaly, &out) {
        let seconds = series.family.name.ends_with("_seconds") || series.family.unit == "seconds";
        let scales = seconds && (is_gauge(&series) || series.name.ends_with("_sum"));
        for (_, before, after) in values {
            let want = if scales { before * 1000.0 } else { before };
            assert!(close(after, want), "{}", series.name);
            scaled += usize::from(scales);
        }
    }
    assert!(scaled > 0);
}
