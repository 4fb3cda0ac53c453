use std::collections::BTreeMap;

use super::*;
use crate::model::metrics::{CountingSink, Exemplar, Family, MetricKind, SampleSink, Target};
use crate::sources::TenantSpec;

/// Collects samples as `name{labels}` → value.
#[derive(Default)]
struct Collect {
    samples: BTreeMap<String, f64>,
    kinds: BTreeMap<String, MetricKind>,
    current: Option<MetricKind>,
    exemplars: usize,
    unsorted: Vec<String>,
}

impl SampleSink for Collect {
    fn family(&mut self, family: &Family) {
        self.current = Some(family.kind);
        self.kinds.insert(family.name.clone(), family.kind);
    }

    fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: f64,
        exemplar: Option<&Exemplar>,
    ) {
        if labels.windows(2).any(|w| w[0].0 >= w[1].0) {
            self.unsorted.push(name.to_string());
        }
        let text: Vec<String> = labels.iter().map(|(n, v)| format!("{n}=\"{v}\"")).collect();
        self.samples
            .insert(format!("{name}{{{}}}", text.join(",")), value);
        if let Some(exemplar) = exemplar {
            self.exemplars += 1;
            assert_ne!(exemplar.trace_id, [0; 16]);
            assert_ne!(exemplar.span_id, [0; 8]);
        }
    }
}

fn source(toml_text: &str, tenants: &[&str]) -> MetricsSource {
    let config: MetricsSourceConfig = toml::from_str(toml_text).expect("config");
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    let context = BuildContext {
        seed: 42,
        component_id: "m".into(),
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

fn collect(source: &MetricsSource, target: usize, t_ms: i64) -> Collect {
    let mut sink = Collect::default();
    source.model().visit(target, t_ms, &mut sink);
    sink
}

fn find(source: &MetricsSource, job: &str) -> usize {
    source
        .model()
        .targets()
        .iter()
        .position(|t| t.job == job)
        .expect("target")
}

const NOW_MS: i64 = 1_764_590_400_000; // a Monday, 12:00 UTC

#[test]
fn labels_are_sorted_and_counts_match_presets() {
    let all = source(
        "presets = [\"http_red\", \"process\", \"node\", \"kube\", \"custom\"]\n\
         [custom]\nfamilies = 4\nseries_per_family = 25\n",
        &["acme"],
    );
    for index in 0..all.model().targets().len() {
        let sink = collect(&all, index, NOW_MS);
        assert!(
            sink.unsorted.is_empty(),
            "unsorted labels in {:?}",
            sink.unsorted
        );
        assert!(!sink.samples.is_empty());
    }
    let custom = find(&all, "synthetic-load");
    assert_eq!(all.model().series_count(custom, NOW_MS), 100);
    let jobs: std::collections::BTreeSet<&str> = all
        .model()
        .targets()
        .iter()
        .map(|t| t.job.as_str())
        .collect();
    for job in [
        "frontend",
        "checkout",
        "node",
        "kube-state-metrics",
        "kubelet",
        "synthetic-load",
    ] {
        assert!(jobs.contains(job), "{job} missing from {jobs:?}");
    }
}

#[test]
fn histograms_are_cumulative_and_consistent() {
    let source = source("", &["acme"]);
    let target = find(&source, "checkout");
    for hour in 0..24 {
        let sink = collect(&source, target, NOW_MS + hour * 3_600_000);
        let mut by_series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for (key, value) in &sink.samples {
            if let Some(rest) = key.strip_prefix("http_server_request_duration_seconds_bucket{") {
                let (labels, le) = rest.rsplit_once(",le=\"").expect("le last");
                let le = le.trim_end_matches("\"}");
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().expect("le")
                };
                by_series
                    .entry(labels.to_string())
                    .or_default()
                    .push((bound, *value));
            }
        }
        assert!(!by_series.is_empty());
        for (labels, mut buckets) in by_series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert_eq!(buckets.len(), 15, "{labels}");
            for pair in buckets.windows(2) {
                assert!(pair[0].1 <= pair[1].1, "{labels}: {buckets:?}");
            }
            let count =
                sink.samples[&format!("http_server_request_duration_seconds_count{{{labels}}}")];
            assert_eq!(buckets[14].1, count, "+Inf equals _count for {labels}");
            let sum =
                sink.samples[&format!("http_server_request_duration_seconds_sum{{{labels}}}")];
            if count > 0.0 {
                let mean = sum / count;
                assert!(
                    (0.001..5.0).contains(&mean),
                    "mean latency {mean} for {labels}"
                );
            }
        }
    }
}

#[test]
fn counters_only_fall_at_a_restart_that_moves_the_start_time() {
    let source = source("presets = [\"http_red\", \"process\"]", &["acme"]);
    let target = find(&source, "cart");
    let mut previous = collect(&source, target, NOW_MS);
    let mut restarts = 0;
    for step in 1..(8 * 24 * 4) {
        let now = collect(&source, target, NOW_MS + step * 15 * 60_000);
        let restarted = now.samples["process_start_time_seconds{}"]
            != previous.samples["process_start_time_seconds{}"];
        restarts += usize::from(restarted);
        for (key, value) in &now.samples {
            let counter =
                key.contains("_total{") || key.contains("_bucket{") || key.contains("_count{");
            if counter && !restarted {
                let before = previous.samples[key];
                assert!(
                    *value >= before,
                    "{key} fell from {before} to {value} without a restart"
                );
            }
        }
        previous = now;
    }
    assert!(restarts >= 1, "a pod restarts every 3 to 7 days");
}

#[test]
fn node_cpu_modes_add_up_to_elapsed_time() {
    let source = source("presets = [\"node\"]", &["acme"]);
    let target = find(&source, "node");
    let a = collect(&source, target, NOW_MS);
    let b = collect(&source, target, NOW_MS + 60_000);
    let boot_a = a.samples["node_boot_time_seconds{}"];
    assert_eq!(
        boot_a, b.samples["node_boot_time_seconds{}"],
        "no reboot in this minute"
    );
    let per_cpu = |sink: &Collect, cpu: &str| -> f64 {
        sink.samples
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("node_cpu_seconds_total{{cpu=\"{cpu}\"")))
            .map(|(_, v)| v)
            .sum()
    };
    let rate = (per_cpu(&b, "0") - per_cpu(&a, "0")) / 60.0;
    assert!(
        (rate - 1.0).abs() < 0.01,
        "cpu 0 modes add up to {rate} per second"
    );
    let available = a.samples["node_memory_MemAvailable_bytes{}"];
    assert!(available > 0.0 && available < a.samples["node_memory_MemTotal_bytes{}"]);
}

#[test]
fn cpu_follows_request_rate_over_a_day() {
    let source = source("presets = [\"http_red\", \"process\"]", &["acme"]);
    let target = find(&source, "frontend");
    let mut requests = Vec::new();
    let mut cpu = Vec::new();
    let mut previous = collect(&source, target, NOW_MS);
    for minute in 1..(24 * 60) {
        let now = collect(&source, target, NOW_MS + minute * 60_000);
        if now.samples["process_start_time_seconds{}"]
            != previous.samples["process_start_time_seconds{}"]
        {
            previous = now;
            continue;
        }
        let total = |sink: &Collect| -> f64 {
            sink.samples
                .iter()
                .filter(|(k, _)| k.starts_with("http_requests_total{"))
                .map(|(_, v)| v)
                .sum()
        };
        requests.push(total(&now) - total(&previous));
        cpu.push(
            now.samples["process_cpu_seconds_total{}"]
                - previous.samples["process_cpu_seconds_total{}"],
        );
        previous = now;
    }
    let correlation = pearson(&requests, &cpu);
    assert!(correlation > 0.8, "Pearson r = {correlation}");
    let peak = requests.iter().copied().fold(f64::MIN, f64::max);
    let trough = requests.iter().copied().fold(f64::MAX, f64::min).max(1.0);
    assert!(peak / trough > 1.8, "peak/trough {peak}/{trough}");
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

#[test]
fn tail_latency_rises_with_load() {
    let source = source("presets = [\"http_red\"]", &["acme"]);
    let target = find(&source, "catalog");
    // Observed share of slow requests (over 250 ms) in an hour at the trough and at the peak.
    let slow_share = |from_ms: i64| {
        let a = collect(&source, target, from_ms);
        let b = collect(&source, target, from_ms + 3_600_000);
        let sum = |sink: &Collect, le: &str| -> f64 {
            sink.samples
                .iter()
                .filter(|(k, _)| {
                    k.starts_with("http_server_request_duration_seconds_bucket{")
                        && k.ends_with(&format!("le=\"{le}\"}}"))
                })
                .map(|(_, v)| v)
                .sum()
        };
        let total = sum(&b, "+Inf") - sum(&a, "+Inf");
        let fast = sum(&b, "0.25") - sum(&a, "0.25");
        (total - fast) / total
    };
    let day_start = NOW_MS - NOW_MS.rem_euclid(86_400_000);
    let shares: Vec<f64> = (0..24)
        .map(|h| slow_share(day_start + h * 3_600_000))
        .collect();
    let low = shares.iter().copied().fold(f64::MAX, f64::min);
    let high = shares.iter().copied().fold(f64::MIN, f64::max);
    assert!(high > low * 1.5, "slow share ranges {low}..{high}");
}

#[test]
fn values_are_deterministic_and_tenants_isolated() {
    let one = source("", &["acme"]);
    let two = source("", &["acme", "globex"]);
    let target = |s: &MetricsSource| {
        s.model()
            .targets()
            .iter()
            .position(|t: &Target| &*t.tenant == "acme" && t.job == "payment")
            .expect("t")
    };
    let a = collect(&one, target(&one), NOW_MS);
    let b = collect(&two, target(&two), NOW_MS);
    assert_eq!(a.samples, b.samples);
    assert!(a.exemplars > 0, "histogram buckets carry exemplars");
    let instances = |s: &MetricsSource| -> Vec<String> {
        s.model()
            .targets()
            .iter()
            .filter(|t| &*t.tenant == "acme")
            .map(|t| t.instance.clone())
            .collect()
    };
    assert_eq!(instances(&one), instances(&two));
}

#[test]
fn pushed_samples_follow_the_interval_and_slice_cleanly() {
    let mut whole = source("interval = \"15s\"", &["acme"]);
    let mut parts = source("interval = \"15s\"", &["acme"]);
    let start = NOW_MS * 1_000_000;
    let mut long = Vec::new();
    whole.generate(Window::new(start, start + 60 * 1_000_000_000), &mut long);
    let mut sliced = Vec::new();
    for second in 0..60 {
        let from = start + second * 1_000_000_000;
        parts.generate(Window::new(from, from + 1_000_000_000), &mut sliced);
    }
    let flatten = |batches: &[Batch]| -> Vec<(String, i64, u64)> {
        let mut out: Vec<(String, i64, u64)> = batches
            .iter()
            .flat_map(|b| match b {
                Batch::Metrics(m) => m
                    .samples
                    .iter()
                    .map(|s| {
                        let series = m.series_of(s);
                        let labels: Vec<String> = series
                            .labels
                            .iter()
                            .map(|(n, v)| format!("{n}={v}"))
                            .collect();
                        (
                            format!("{}{{{}}}", series.name, labels.join(",")),
                            s.timestamp_ms,
                            s.value.to_bits(),
                        )
                    })
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .collect();
        out.sort();
        out
    };
    let whole_samples = flatten(&long);
    assert_eq!(whole_samples, flatten(&sliced));
    let targets = whole.model().targets().len();
    let per_target = whole.model().series_count(0, NOW_MS);
    assert!(whole_samples.len() >= targets * per_target * 4 - targets * per_target);
    let series_with_job = long.iter().all(|b| match b {
        Batch::Metrics(m) => m
            .series
            .iter()
            .all(|s| s.label("job").is_some() && s.label("instance").is_some()),
        _ => false,
    });
    assert!(series_with_job, "pushed series carry job and instance");
    let mut counting = CountingSink::default();
    whole.model().visit(0, NOW_MS, &mut counting);
    assert_eq!(counting.0, per_target);
}

#[test]
fn validation_rejects_bad_settings() {
    let config: MetricsSourceConfig = toml::from_str(
        "presets = []\ninstances_per_service = 0\nrequests_per_second = -1.0\ninterval = \"10ms\"\n\
         services = [\"a b\"]\n",
    )
    .expect("parses");
    let keys: Vec<String> = config.validate().into_iter().map(|p| p.key).collect();
    for key in [
        "presets",
        "instances_per_service",
        "requests_per_second",
        "interval",
        "services",
    ] {
        assert!(
            keys.iter().any(|k| k == key),
            "{key} not reported: {keys:?}"
        );
    }
    assert!(toml::from_str::<MetricsSourceConfig>("presets = [\"bogus\"]").is_err());
}
