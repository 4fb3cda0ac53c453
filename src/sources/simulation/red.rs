//! RED metrics counted from the simulated requests themselves: every server span observed adds
//! one to its histogram, so `_count` equals the number of server spans, and each bucket's
//! exemplar points at the latest emitted trace that fell into it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::TenantSimulation;
use super::request::Served;
use super::world::Protocol;
use crate::model::metrics::{Exemplar, SampleSink, Target, TargetSet};
use crate::sources::metrics::families::Families;
use crate::sources::metrics::latency::OTEL_BUCKETS;

/// One histogram series: a (service, instance, operation, status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    service: usize,
    instance: usize,
    operation: usize,
    status: u16,
}

#[derive(Clone, Debug, Default)]
struct Histogram {
    /// Per-bucket (not cumulative) counts; the last is the `+Inf` overflow.
    buckets: [u64; OTEL_BUCKETS.len() + 1],
    sum: f64,
    exemplars: [Option<Exemplar>; OTEL_BUCKETS.len() + 1],
}

#[derive(Clone, Debug, Default)]
struct TenantRed {
    series: BTreeMap<SeriesKey, Histogram>,
    /// Requests served per (service, instance).
    served: BTreeMap<(usize, usize), u64>,
    /// First simulated instant, Unix ms: the processes' start.
    started_ms: Option<i64>,
}

/// Counters of every tenant, updated by the source and read by scrapes.
#[derive(Debug, Default)]
pub struct RedState {
    tenants: Vec<TenantRed>,
}

impl RedState {
    /// Empty counters for `tenants` worlds.
    pub fn new(tenants: usize) -> Self {
        RedState {
            tenants: vec![TenantRed::default(); tenants],
        }
    }

    /// Counts served requests of `tenant`.
    pub fn observe(&mut self, tenant: usize, served: &[Served]) {
        let Some(state) = self.tenants.get_mut(tenant) else {
            return;
        };
        for request in served {
            let start_ms = request.start_ns.div_euclid(1_000_000);
            state.started_ms = Some(state.started_ms.map_or(start_ms, |s| s.min(start_ms)));
            *state
                .served
                .entry((request.service, request.instance))
                .or_default() += 1;
            let key = SeriesKey {
                service: request.service,
                instance: request.instance,
                operation: request.operation,
                status: request.status,
            };
            let histogram = state.series.entry(key).or_default();
            let bucket = OTEL_BUCKETS
                .iter()
                .position(|bound| request.duration <= *bound)
                .unwrap_or(OTEL_BUCKETS.len());
            histogram.buckets[bucket] += 1;
            histogram.sum += request.duration;
            histogram.exemplars[bucket] = Some(Exemplar {
                trace_id: request.trace_id,
                span_id: request.span_id,
                value: request.duration,
                timestamp_ms: start_ms,
            });
        }
    }
}

/// What a scrape target of the simulation is.
#[derive(Clone, Debug)]
struct TargetInfo {
    tenant: usize,
    service: usize,
    instance: usize,
}

/// Per tenant, per service, per operation: the method and route of HTTP operations.
type Routes = Vec<Vec<Vec<Option<(String, String)>>>>;

/// The simulation's instrumented instances as scrape targets, read from the live counters.
pub struct RedTargets {
    state: Arc<Mutex<RedState>>,
    targets: Vec<Target>,
    info: Vec<TargetInfo>,
    routes: Routes,
    families: Families,
    le: Vec<String>,
}

impl RedTargets {
    /// Targets for every instrumented instance of every tenant.
    pub(super) fn new(
        state: Arc<Mutex<RedState>>,
        tenants: &[TenantSimulation],
        namespace: &str,
    ) -> Self {
        let mut targets = Vec::new();
        let mut info = Vec::new();
        let mut routes = Vec::new();
        for (t, tenant) in tenants.iter().enumerate() {
            let world = &tenant.world;
            let mut tenant_routes = Vec::new();
            for (s, service) in world.services.iter().enumerate() {
                tenant_routes.push(
                    service
                        .operations
                        .iter()
                        .map(|op| match &op.protocol {
                            Protocol::Http { method, route } => {
                                Some((method.clone(), route.clone()))
                            }
                            _ => None,
                        })
                        .collect(),
                );
                if !service.kind.is_instrumented() {
                    continue;
                }
                for (i, instance) in service.instances.iter().enumerate() {
                    targets.push(Target {
                        tenant: Arc::clone(&world.tenant),
                        job: service.name.clone(),
                        instance: instance.id.clone(),
                        labels: vec![
                            ("namespace".to_string(), namespace.to_string()),
                            ("service".to_string(), service.name.clone()),
                        ],
                    });
                    info.push(TargetInfo {
                        tenant: t,
                        service: s,
                        instance: i,
                    });
                }
            }
            routes.push(tenant_routes);
        }
        let le = OTEL_BUCKETS
            .iter()
            .map(|bound| {
                let mut out = Vec::new();
                crate::model::metrics::push_float(&mut out, *bound);
                String::from_utf8(out).unwrap_or_default()
            })
            .collect();
        RedTargets {
            state,
            targets,
            info,
            routes,
            families: Families::new(),
            le,
        }
    }

    /// Indices of the targets of `tenant`.
    pub fn targets_of(&self, tenant: usize) -> impl Iterator<Item = usize> + '_ {
        self.info
            .iter()
            .enumerate()
            .filter(move |(_, i)| i.tenant == tenant)
            .map(|(index, _)| index)
    }
}

impl TargetSet for RedTargets {
    fn targets(&self) -> &[Target] {
        &self.targets
    }

    fn visit(&self, index: usize, timestamp_ms: i64, sink: &mut dyn SampleSink) {
        let Some(info) = self.info.get(index) else {
            return;
        };
        let Ok(state) = self.state.lock() else { return };
        let Some(tenant) = state.tenants.get(info.tenant) else {
            return;
        };
        let routes = &self.routes[info.tenant][info.service];
        let low = SeriesKey {
            service: info.service,
            instance: info.instance,
            operation: 0,
            status: 0,
        };
        let high = SeriesKey {
            service: info.service,
            instance: info.instance,
            operation: usize::MAX,
            status: u16::MAX,
        };

        sink.family(&self.families.http_duration);
        for (key, histogram) in tenant.series.range(low..=high) {
            let Some((method, route)) = routes.get(key.operation).and_then(Option::as_ref) else {
                continue;
            };
            let code = itoa::Buffer::new().format(key.status).to_string();
            let base = [
                ("http_request_method", method.as_str()),
                ("http_response_status_code", code.as_str()),
                ("http_route", route.as_str()),
            ];
            let mut cumulative = 0u64;
            for (b, le) in self.le.iter().enumerate() {
                cumulative += histogram.buckets[b];
                let labels = [base[0], base[1], base[2], ("le", le.as_str())];
                sink.sample(
                    "http_server_request_duration_seconds_bucket",
                    &labels,
                    cumulative as f64,
                    histogram.exemplars[b].as_ref(),
                );
            }
            cumulative += histogram.buckets[OTEL_BUCKETS.len()];
            let labels = [base[0], base[1], base[2], ("le", "+Inf")];
            sink.sample(
                "http_server_request_duration_seconds_bucket",
                &labels,
                cumulative as f64,
                histogram.exemplars[OTEL_BUCKETS.len()].as_ref(),
            );
            sink.sample(
                "http_server_request_duration_seconds_sum",
                &base,
                histogram.sum,
                None,
            );
            sink.sample(
                "http_server_request_duration_seconds_count",
                &base,
                cumulative as f64,
                None,
            );
        }

        let started_ms = tenant.started_ms.unwrap_or(timestamp_ms);
        let served = tenant
            .served
            .get(&(info.service, info.instance))
            .copied()
            .unwrap_or(0);
        let uptime = (timestamp_ms - started_ms).max(0) as f64 / 1000.0;
        sink.family(&self.families.process_cpu);
        let cpu = 0.02 * uptime + 0.003 * served as f64;
        sink.sample(
            "process_cpu_seconds_total",
            &[],
            (cpu * 1000.0).round() / 1000.0,
            None,
        );
        sink.family(&self.families.process_start);
        sink.sample(
            "process_start_time_seconds",
            &[],
            (started_ms / 1000) as f64,
            None,
        );
    }
}
