//! Built-in incident scenarios: one root cause and the symptoms it causes in every signal.
//!
//! A scenario expands into anomalies over one window. World anomalies (latency, errors,
//! retries, load) act on the tenant's simulation, so the symptoms the simulation derives from
//! them (slower parents, timeouts, 5xx, error logs with trace ids, shifted histograms) follow by
//! themselves and are listed as symptom entries that are not injected. Data anomalies (new
//! templates, gaps, resets) are injected alongside.

use super::manifest::Observable;
use super::{Kind, Params, Shape, Target};

/// One planned anomaly of a scenario, relative to the scenario's window.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The code.
    pub kind: Kind,
    /// What it targets.
    pub target: Target,
    /// Start as a share of the window, in `[0, 1)`.
    pub from: f64,
    /// End as a share of the window, in `(0, 1]`.
    pub to: f64,
    /// Shape.
    pub shape: Shape,
    /// Parameters.
    pub params: Params,
    /// Whether synthtel injects it (false: it follows from the root cause).
    pub injected: bool,
    /// Whether it is the root cause.
    pub root_cause: bool,
    /// Whether it is expected behaviour that should not alert.
    pub expected: bool,
    /// What a backend should show, when the default of the kind does not say enough.
    pub observables: Vec<Observable>,
}

/// A built-in scenario.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Its name in requests.
    pub name: &'static str,
    /// What it simulates.
    pub summary: &'static str,
}

/// Every built-in scenario.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "db_slowdown",
        summary: "Database latency x10: slower upstream histograms (p99 first), timeouts, 5xx, error logs with the slow trace ids.",
    },
    Scenario {
        name: "bad_deploy",
        summary: "A new version fails part of its calls with a new exception template and stack traces; the restart resets counters.",
    },
    Scenario {
        name: "memory_leak_oom",
        summary: "Resident memory ramps to the limit, then an OOM kill: gap, counter reset, connection errors for callers.",
    },
    Scenario {
        name: "dependency_outage",
        summary: "A backend returns 503; callers retry 3x (retry storm), then a circuit breaker opens and failures turn fast.",
    },
    Scenario {
        name: "legitimate_surge",
        summary: "User load x4 (a marketing event): CPU and latency rise, no new templates, few errors; expected, should not alert.",
    },
    Scenario {
        name: "cpu_throttling",
        summary: "CPU throttling at a flat request rate: backend self time x3, latency up.",
    },
    Scenario {
        name: "telemetry_pipeline_outage",
        summary: "The tenant's collector stops: logs, metrics and traces gap together.",
    },
];

/// The scenario named `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

fn target_or(given: &Target, default_kind: &str) -> Target {
    if given == &Target::default() {
        Target {
            service_kind: Some(default_kind.to_string()),
            ..Target::default()
        }
    } else {
        given.clone()
    }
}

fn planned(kind: Kind, target: Target, from: f64, to: f64, params: Params) -> Planned {
    Planned {
        kind,
        target,
        from,
        to,
        shape: Shape::Step,
        params,
        injected: true,
        root_cause: false,
        expected: false,
        observables: Vec::new(),
    }
}

fn symptom(kind: Kind, signal: &'static str, selector: &str, direction: &'static str) -> Planned {
    let mut p = planned(kind, Target::default(), 0.0, 1.0, Params::default());
    p.injected = false;
    p.observables = vec![Observable {
        signal,
        selector: selector.to_string(),
        direction,
        min_effect: 1.5,
        lag_seconds: 60.0,
    }];
    p
}

fn factor(f: f64) -> Params {
    Params {
        factor: Some(f),
        ..Params::default()
    }
}

fn share(s: f64) -> Params {
    Params {
        share: Some(s),
        ..Params::default()
    }
}

/// Expands scenario `name` for a target (the scenario's default target when empty).
pub fn expand(name: &str, target: &Target) -> Option<Vec<Planned>> {
    let mut plan = match name {
        "db_slowdown" => {
            let root = planned(
                Kind::TLat,
                target_or(target, "database"),
                0.0,
                1.0,
                factor(10.0),
            );
            vec![
                root,
                symptom(
                    Kind::MLevel,
                    "metrics",
                    "histogram_quantile(0.99, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket[1m])))",
                    "up",
                ),
                symptom(Kind::TTimeout, "traces", "{ status = error }", "up"),
                symptom(
                    Kind::LErrburst,
                    "logs",
                    "{service_name=~\".+\"} | level=\"ERROR\"",
                    "up",
                ),
            ]
        }
        "bad_deploy" => {
            let backend = target_or(target, "backend");
            vec![
                planned(Kind::TErr, backend.clone(), 0.0, 1.0, share(0.3)),
                planned(Kind::LNewtpl, backend.clone(), 0.0, 1.0, Params::default()),
                planned(Kind::LMultiline, backend.clone(), 0.0, 1.0, share(0.01)),
                planned(Kind::MReset, backend, 0.0, 0.05, Params::default()),
            ]
        }
        "memory_leak_oom" => {
            let backend = target_or(target, "backend");
            let memory = Target {
                metric: Some("process_resident_memory_bytes".into()),
                ..backend.clone()
            };
            let mut leak = planned(Kind::MTrend, memory, 0.0, 0.9, factor(3.0));
            leak.shape = Shape::Ramp;
            vec![
                leak,
                planned(Kind::MGap, backend.clone(), 0.9, 0.95, Params::default()),
                planned(Kind::MReset, backend.clone(), 0.95, 1.0, Params::default()),
                planned(
                    Kind::TErr,
                    backend,
                    0.9,
                    1.0,
                    Params {
                        share: Some(1.0),
                        status: Some(503),
                        ..Params::default()
                    },
                ),
            ]
        }
        "dependency_outage" => {
            let backend = target_or(target, "backend");
            let failing = Params {
                share: Some(1.0),
                status: Some(503),
                ..Params::default()
            };
            vec![
                planned(Kind::TErr, backend.clone(), 0.0, 1.0, failing),
                planned(Kind::TRetry, backend.clone(), 0.0, 0.5, factor(3.0)),
                planned(Kind::LErrburst, backend, 0.0, 0.5, factor(20.0)),
                symptom(
                    Kind::LRateUp,
                    "traces",
                    "{ span.http.response.status_code = 503 }",
                    "up",
                ),
            ]
        }
        "legitimate_surge" => {
            let mut surge = planned(Kind::WLoad, target.clone(), 0.0, 1.0, factor(4.0));
            surge.expected = true;
            surge.shape = Shape::Pulse;
            vec![surge]
        }
        "cpu_throttling" => vec![planned(
            Kind::TLat,
            target_or(target, "backend"),
            0.0,
            1.0,
            factor(3.0),
        )],
        "telemetry_pipeline_outage" => vec![
            planned(Kind::MGap, target.clone(), 0.0, 1.0, Params::default()),
            planned(Kind::LSilence, target.clone(), 0.0, 1.0, Params::default()),
            planned(Kind::TSampling, target.clone(), 0.0, 1.0, share(1.0)),
        ],
        _ => return None,
    };
    if let Some(first) = plan.first_mut() {
        first.root_cause = true;
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_expands_with_one_injected_root_cause() {
        for scenario in SCENARIOS {
            let plan = expand(scenario.name, &Target::default()).expect(scenario.name);
            assert_eq!(
                plan.iter().filter(|p| p.root_cause).count(),
                1,
                "{}",
                scenario.name
            );
            assert!(plan[0].injected, "{}", scenario.name);
            for p in &plan {
                assert!(
                    0.0 <= p.from && p.from < p.to && p.to <= 1.0,
                    "{}",
                    scenario.name
                );
            }
        }
        assert!(expand("nope", &Target::default()).is_none());
    }
}
