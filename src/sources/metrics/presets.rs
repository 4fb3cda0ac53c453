//! Evaluation of every preset's families for one target at one instant.
//!
//! Counters are integrals of the load curve since the last simulated restart (so they reset
//! exactly when `process_start_time_seconds` moves), histograms mix a low-load and a high-load
//! latency distribution in the proportion the load curve gives, and gauges follow load. Labels
//! are written sorted by name, without the target's identity labels.

use super::latency::OTEL_BUCKETS;
use super::model::{MetricsModel, PodModel, ServiceModel, TargetKind, TenantModel, last_event};
use super::signal::{DAY, EPOCH_SECS};
use crate::model::metrics::{Exemplar, SampleSink};
use crate::random::mix64;

/// Slot of exemplars: one exemplar per bucket per slot.
const EXEMPLAR_SLOT_SECS: f64 = 15.0;

/// Restarts counted by `kube_pod_container_status_restarts_total` start here (2026-01-01).
const DEPLOYED_AT: f64 = 1_767_225_600.0;

/// Writes target `kind`'s samples at `timestamp_ms`.
pub fn visit(model: &MetricsModel, kind: TargetKind, timestamp_ms: i64, sink: &mut dyn SampleSink) {
    let t = timestamp_ms as f64 / 1000.0;
    match kind {
        TargetKind::Service { tenant, pod } => {
            let tenant = &model.tenants[tenant];
            let state = PodState::at(tenant, pod, t);
            if model.presets.contains(&super::Preset::HttpRed) {
                http_red(model, tenant, &state, t, sink);
            }
            if model.presets.contains(&super::Preset::Process) {
                process(model, tenant, &state, t, sink);
            }
        }
        TargetKind::Node { tenant, node } => {
            node_exporter(model, &model.tenants[tenant], node, t, sink)
        }
        TargetKind::KubeState { tenant } => kube_state(model, &model.tenants[tenant], t, sink),
        TargetKind::Kubelet { tenant, node } => {
            kubelet(model, &model.tenants[tenant], node, t, sink)
        }
        TargetKind::Custom { tenant, index } => custom(model, tenant, index, t, sink),
    }
}

/// A pod's counters at one instant.
struct PodState<'a> {
    pod: &'a PodModel,
    service: &'a ServiceModel,
    /// When the pod last (re)started.
    started: f64,
    /// Requests since the start.
    requests: f64,
    /// Load-weighted requests since the start (see `LoadCurve::loaded_requests`).
    loaded: f64,
    /// Current request rate of the pod.
    rate: f64,
    /// Current load level in `[0, 1]`.
    load: f64,
}

impl<'a> PodState<'a> {
    fn at(tenant: &'a TenantModel, index: usize, t: f64) -> Self {
        let pod = &tenant.pods[index];
        let service = &tenant.services[pod.service];
        let curve = &service.curve;
        let started = last_event(t, pod.restart_period, pod.restart_offset).min(t);
        let requests = (curve.requests(t) - curve.requests(started)).max(0.0) * pod.share;
        let loaded =
            (curve.loaded_requests(t) - curve.loaded_requests(started)).max(0.0) * pod.share;
        let (low, high) = curve.diurnal_range();
        let load = ((curve.diurnal(t) - low) / (high - low)).clamp(0.0, 1.0);
        PodState {
            pod,
            service,
            started,
            requests,
            loaded,
            rate: curve.mean_rate(t) * pod.share,
            load,
        }
    }

    /// CPU seconds used since the start.
    fn cpu_seconds(&self, t: f64) -> f64 {
        self.pod.idle_cpu * (t - self.started) + self.pod.cpu_per_request * self.requests
    }

    /// Resident memory now: base, load, and a garbage-collection sawtooth.
    fn resident_bytes(&self, t: f64) -> f64 {
        let sawtooth = ((t - self.started) / self.pod.gc_period).fract();
        self.pod.base_memory * (1.0 + 0.25 * self.load + 0.15 * sawtooth)
    }
}

/// The status codes of a route and their shares.
fn statuses(route: &super::model::RouteModel) -> [(&'static str, &'static str, f64); 3] {
    let ok = 1.0 - route.client_errors - route.server_errors;
    [
        ("200", "2xx", ok),
        (route.client_code, "4xx", route.client_errors),
        ("500", "5xx", route.server_errors),
    ]
}

fn http_red(
    model: &MetricsModel,
    tenant: &TenantModel,
    state: &PodState,
    t: f64,
    sink: &mut dyn SampleSink,
) {
    let families = &model.families;
    let slot = (t / EXEMPLAR_SLOT_SECS).floor();
    let mut le_text = [(); OTEL_BUCKETS.len()].map(|_| String::new());
    for (i, bound) in OTEL_BUCKETS.iter().enumerate() {
        le_text[i] = format_bound(*bound);
    }

    sink.family(&families.http_duration);
    for (r, route) in state.service.routes.iter().enumerate() {
        for (code, _, share) in statuses(route) {
            let fraction = route.share * share;
            let count = (fraction * state.requests).floor();
            let labels_base = [
                ("http_request_method", route.method),
                ("http_response_status_code", code),
                ("http_route", route.route.as_str()),
            ];
            let mut previous_bound = 0.0;
            for (b, bound) in OTEL_BUCKETS.iter().enumerate() {
                let low = route.low.cdf(*bound);
                let high = route.high.cdf(*bound);
                let value = (fraction * (low * state.requests + (high - low) * state.loaded))
                    .floor()
                    .min(count);
                let labels = [
                    labels_base[0],
                    labels_base[1],
                    labels_base[2],
                    ("le", le_text[b].as_str()),
                ];
                let expected = state.rate
                    * fraction
                    * EXEMPLAR_SLOT_SECS
                    * (route.low.cdf(*bound) - route.low.cdf(previous_bound));
                let exemplar = (model.exemplars && expected >= 1.0)
                    .then(|| exemplar(model, tenant, state, r, b, slot, previous_bound, *bound));
                sink.sample(
                    "http_server_request_duration_seconds_bucket",
                    &labels,
                    value,
                    exemplar.as_ref(),
                );
                previous_bound = *bound;
            }
            let labels = [
                labels_base[0],
                labels_base[1],
                labels_base[2],
                ("le", "+Inf"),
            ];
            sink.sample(
                "http_server_request_duration_seconds_bucket",
                &labels,
                count,
                None,
            );
            let sum = fraction
                * (route.low.mean() * state.requests
                    + (route.high.mean() - route.low.mean()) * state.loaded);
            sink.sample(
                "http_server_request_duration_seconds_sum",
                &labels_base,
                sum,
                None,
            );
            sink.sample(
                "http_server_request_duration_seconds_count",
                &labels_base,
                count,
                None,
            );
        }
    }

    sink.family(&families.http_requests);
    for route in &state.service.routes {
        for (_, class, share) in statuses(route) {
            let count = (route.share * share * state.requests).floor();
            let labels = [
                ("http_request_method", route.method),
                ("http_route", route.route.as_str()),
                ("status_class", class),
            ];
            sink.sample("http_requests_total", &labels, count, None);
        }
    }

    sink.family(&families.http_active);
    for method in ["DELETE", "GET", "POST", "PUT"] {
        // Little's law: requests in flight = arrival rate × mean time in the system.
        let in_flight: f64 = state
            .service
            .routes
            .iter()
            .filter(|route| route.method == method)
            .map(|route| {
                let latency =
                    route.low.mean() + (route.high.mean() - route.low.mean()) * state.load;
                state.rate * route.share * latency
            })
            .sum();
        if state
            .service
            .routes
            .iter()
            .any(|route| route.method == method)
        {
            sink.sample(
                "http_server_active_requests",
                &[("http_request_method", method)],
                in_flight.round(),
                None,
            );
        }
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "an exemplar is keyed by every one of these"
)]
fn exemplar(
    model: &MetricsModel,
    tenant: &TenantModel,
    state: &PodState,
    route: usize,
    bucket: usize,
    slot: f64,
    low: f64,
    high: f64,
) -> Exemplar {
    let seed = model
        .key
        .with(&tenant.id)
        .with(&state.pod.name)
        .with_u64(route as u64)
        .with_u64(bucket as u64)
        .with_u64(slot as u64)
        .value();
    let a = mix64(seed);
    let b = mix64(a ^ 0x5bd1_e995);
    let c = mix64(b ^ 0x1b87_3593) | 1;
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&a.to_be_bytes());
    trace_id[8..].copy_from_slice(&(b | 1).to_be_bytes());
    let fraction = (c >> 11) as f64 / (1u64 << 53) as f64;
    let value = low + (high - low) * (0.05 + 0.9 * fraction);
    Exemplar {
        trace_id,
        span_id: c.to_be_bytes(),
        value,
        timestamp_ms: (slot * EXEMPLAR_SLOT_SECS * 1000.0) as i64,
    }
}

fn process(
    model: &MetricsModel,
    tenant: &TenantModel,
    state: &PodState,
    t: f64,
    sink: &mut dyn SampleSink,
) {
    let families = &model.families;
    let resident = state.resident_bytes(t);
    sink.family(&families.process_cpu);
    sink.sample(
        "process_cpu_seconds_total",
        &[],
        round3(state.cpu_seconds(t)),
        None,
    );
    sink.family(&families.process_resident);
    sink.sample("process_resident_memory_bytes", &[], resident.round(), None);
    sink.family(&families.process_virtual);
    sink.sample(
        "process_virtual_memory_bytes",
        &[],
        (resident * 3.2 + 6.0e8).round(),
        None,
    );
    sink.family(&families.process_open_fds);
    let fds = (24.0 + 12.0 * state.load + state.rate.sqrt())
        .round()
        .min(1_048_576.0);
    sink.sample("process_open_fds", &[], fds, None);
    sink.family(&families.process_max_fds);
    sink.sample("process_max_fds", &[], 1_048_576.0, None);
    sink.family(&families.process_start);
    sink.sample(
        "process_start_time_seconds",
        &[],
        state.started.floor(),
        None,
    );
    sink.family(&families.build_info);
    let labels = [
        ("language", state.service.language),
        ("namespace", tenant.namespace.as_str()),
        ("version", state.service.version.as_str()),
    ];
    sink.sample("service_build_info", &labels, 1.0, None);
}

/// CPU modes of node_exporter and their share of busy time; `idle` takes the rest.
const BUSY_MODES: [(&str, f64); 7] = [
    ("iowait", 0.05),
    ("irq", 0.01),
    ("nice", 0.05),
    ("softirq", 0.04),
    ("steal", 0.01),
    ("system", 0.22),
    ("user", 0.62),
];

/// Requests and busy CPU seconds of the pods of a node since `since`.
fn node_activity(tenant: &TenantModel, node: usize, since: f64, t: f64) -> (f64, f64, f64) {
    let mut requests = 0.0;
    let mut cpu = 0.0;
    let mut rate = 0.0;
    for pod_index in &tenant.nodes[node].pods {
        let pod = &tenant.pods[*pod_index];
        let curve = &tenant.services[pod.service].curve;
        let served = (curve.requests(t) - curve.requests(since)).max(0.0) * pod.share;
        requests += served;
        cpu += pod.idle_cpu * (t - since) + pod.cpu_per_request * served;
        rate += curve.mean_rate(t) * pod.share * pod.cpu_per_request + pod.idle_cpu;
    }
    (requests, cpu, rate)
}

fn node_exporter(
    model: &MetricsModel,
    tenant: &TenantModel,
    index: usize,
    t: f64,
    sink: &mut dyn SampleSink,
) {
    let families = &model.families;
    let node = &tenant.nodes[index];
    let booted = last_event(t, node.boot_period, node.boot_offset).min(t);
    let uptime = t - booted;
    let (requests, pod_cpu, cpu_rate) = node_activity(tenant, index, booted, t);
    let cores = f64::from(node.cores);
    // System overhead of 3 % per core, and never more than 90 % busy.
    let busy = (0.03 * cores * uptime + pod_cpu).min(0.9 * cores * uptime);

    sink.family(&families.node_cpu);
    let mut cpu_text = itoa::Buffer::new();
    for (c, weight) in node.core_weights.iter().enumerate() {
        let core_busy = busy / cores * weight;
        let cpu = cpu_text.format(c).to_string();
        let idle = (uptime - core_busy).max(0.0);
        sink.sample(
            "node_cpu_seconds_total",
            &[("cpu", &cpu), ("mode", "idle")],
            round3(idle),
            None,
        );
        for (mode, share) in BUSY_MODES {
            let value = round3(core_busy * share);
            sink.sample(
                "node_cpu_seconds_total",
                &[("cpu", &cpu), ("mode", mode)],
                value,
                None,
            );
        }
    }

    let used_by_pods: f64 = node
        .pods
        .iter()
        .map(|p| PodState::at(tenant, *p, t).resident_bytes(t) * 1.1)
        .sum();
    sink.family(&families.node_mem_total);
    sink.sample("node_memory_MemTotal_bytes", &[], node.memory, None);
    sink.family(&families.node_mem_available);
    let available = (node.memory * 0.72 - used_by_pods).max(node.memory * 0.05);
    sink.sample(
        "node_memory_MemAvailable_bytes",
        &[],
        available.round(),
        None,
    );

    let fs = [
        ("device", "/dev/nvme0n1p1"),
        ("fstype", "ext4"),
        ("mountpoint", "/"),
    ];
    sink.family(&families.node_fs_size);
    sink.sample("node_filesystem_size_bytes", &fs, node.disk, None);
    sink.family(&families.node_fs_avail);
    // Logs fill the disk through the day and are rotated at midnight.
    let day_fraction = ((t - EPOCH_SECS) / DAY).fract();
    sink.sample(
        "node_filesystem_avail_bytes",
        &fs,
        (node.disk * (0.62 - 0.08 * day_fraction)).round(),
        None,
    );

    let nic = [("device", "eth0")];
    sink.family(&families.node_net_rx);
    sink.sample(
        "node_network_receive_bytes_total",
        &nic,
        (requests * 1_800.0 + uptime * 900.0).floor(),
        None,
    );
    sink.family(&families.node_net_tx);
    sink.sample(
        "node_network_transmit_bytes_total",
        &nic,
        (requests * 14_500.0 + uptime * 700.0).floor(),
        None,
    );
    let disk = [("device", "nvme0n1")];
    sink.family(&families.node_disk_read);
    sink.sample(
        "node_disk_read_bytes_total",
        &disk,
        (requests * 2_048.0 + uptime * 4_096.0).floor(),
        None,
    );
    sink.family(&families.node_disk_written);
    sink.sample(
        "node_disk_written_bytes_total",
        &disk,
        (requests * 6_144.0 + uptime * 16_384.0).floor(),
        None,
    );

    let load = (0.03 * cores + cpu_rate).min(0.9 * cores);
    for (family, name, wobble) in [
        (&families.node_load1, "node_load1", 0.15),
        (&families.node_load5, "node_load5", 0.07),
        (&families.node_load15, "node_load15", 0.03),
    ] {
        sink.family(family);
        let noise = tenant.services[0].curve.value_noise(t * 3.0 + cores);
        sink.sample(name, &[], round3(load * (1.0 + wobble * noise)), None);
    }
    sink.family(&families.node_boot);
    sink.sample("node_boot_time_seconds", &[], booted.floor(), None);
}

fn kube_state(model: &MetricsModel, tenant: &TenantModel, t: f64, sink: &mut dyn SampleSink) {
    let families = &model.families;
    let namespace = tenant.namespace.as_str();
    sink.family(&families.kube_phase);
    for pod in &tenant.pods {
        for phase in ["Failed", "Pending", "Running", "Succeeded", "Unknown"] {
            let value = if phase == "Running" { 1.0 } else { 0.0 };
            let labels = [
                ("namespace", namespace),
                ("phase", phase),
                ("pod", pod.name.as_str()),
            ];
            sink.sample("kube_pod_status_phase", &labels, value, None);
        }
    }
    sink.family(&families.kube_restarts);
    for pod in &tenant.pods {
        let restarts = ((t - pod.restart_offset) / pod.restart_period).floor()
            - ((DEPLOYED_AT - pod.restart_offset) / pod.restart_period).floor();
        let container = tenant.services[pod.service].name.as_str();
        let labels = [
            ("container", container),
            ("namespace", namespace),
            ("pod", pod.name.as_str()),
        ];
        sink.sample(
            "kube_pod_container_status_restarts_total",
            &labels,
            restarts.max(0.0),
            None,
        );
    }
    sink.family(&families.kube_limits);
    for pod in &tenant.pods {
        let container = tenant.services[pod.service].name.as_str();
        let labels = [
            ("container", container),
            ("namespace", namespace),
            ("pod", pod.name.as_str()),
            ("resource", "memory"),
            ("unit", "byte"),
        ];
        sink.sample(
            "kube_pod_container_resource_limits",
            &labels,
            pod.memory_limit,
            None,
        );
    }
}

fn kubelet(
    model: &MetricsModel,
    tenant: &TenantModel,
    node: usize,
    t: f64,
    sink: &mut dyn SampleSink,
) {
    let families = &model.families;
    let namespace = tenant.namespace.as_str();
    let states: Vec<(usize, PodState)> = tenant.nodes[node]
        .pods
        .iter()
        .map(|p| (*p, PodState::at(tenant, *p, t)))
        .collect();
    sink.family(&families.container_cpu);
    for (_, state) in &states {
        let labels = [
            ("container", state.service.name.as_str()),
            ("namespace", namespace),
            ("pod", state.pod.name.as_str()),
        ];
        sink.sample(
            "container_cpu_usage_seconds_total",
            &labels,
            round3(state.cpu_seconds(t)),
            None,
        );
    }
    sink.family(&families.container_memory);
    for (_, state) in &states {
        let labels = [
            ("container", state.service.name.as_str()),
            ("namespace", namespace),
            ("pod", state.pod.name.as_str()),
        ];
        let working_set = (state.resident_bytes(t) * 1.1).min(state.pod.memory_limit * 0.95);
        sink.sample(
            "container_memory_working_set_bytes",
            &labels,
            working_set.round(),
            None,
        );
    }
    sink.family(&families.container_throttled);
    for (_, state) in &states {
        let labels = [
            ("container", state.service.name.as_str()),
            ("namespace", namespace),
            ("pod", state.pod.name.as_str()),
        ];
        // Throttling grows with load-weighted work: quiet at night, visible at the peak.
        let throttled = 0.05 * state.pod.cpu_per_request * state.loaded;
        sink.sample(
            "container_cpu_cfs_throttled_seconds_total",
            &labels,
            round3(throttled),
            None,
        );
    }
}

fn custom(model: &MetricsModel, tenant: usize, index: usize, t: f64, sink: &mut dyn SampleSink) {
    let config = &model.custom;
    let (cycle, cycle_start) = match config.churn_interval {
        Some(interval) => {
            let seconds = interval.as_secs_f64();
            let cycle = (t / seconds).floor();
            (cycle as u64, cycle * seconds)
        }
        None => (0, EPOCH_SECS),
    };
    let cycle_text = cycle.to_string();
    let names: Vec<String> = (0..config.labels_per_series)
        .map(|k| format!("label_{k:02}"))
        .collect();
    let tenant_key = model
        .key
        .with(&model.tenants[tenant].id)
        .with_u64(index as u64);
    for family in 0..config.families {
        let counter = family % 2 == 1;
        let meta = crate::model::metrics::Family {
            name: format!("synthetic_metric_{family:02}"),
            help: format!("Synthetic load metric {family}."),
            unit: String::new(),
            kind: if counter {
                crate::model::metrics::MetricKind::Counter
            } else {
                crate::model::metrics::MetricKind::Gauge
            },
        };
        sink.family(&meta);
        let name = if counter {
            format!("{}_total", meta.name)
        } else {
            meta.name.clone()
        };
        let family_key = tenant_key.with_u64(family as u64).value();
        for series in 0..config.series_per_family {
            let hash =
                mix64(family_key ^ (series as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ cycle);
            let mut series_text = itoa::Buffer::new();
            let series_id = series_text.format(series);
            let mut labels: Vec<(&str, &str)> = Vec::with_capacity(config.labels_per_series + 2);
            labels.push(("cycle_id", &cycle_text));
            for (k, label) in names.iter().enumerate() {
                let value =
                    (series / config.label_values.pow(k as u32).max(1) + k) % config.label_values;
                labels.push((label.as_str(), model.custom_values[value].as_str()));
            }
            labels.push(("series_id", series_id));
            let value = if counter {
                let rate = 1.0 + (hash % 50) as f64 / 10.0;
                (rate * (t - cycle_start)).floor()
            } else {
                let phase = (hash % 3600) as f64;
                let wave = (std::f64::consts::TAU * (t + phase) / 600.0).sin();
                round3(50.0 + 30.0 * wave + (hash % 20) as f64)
            };
            sink.sample(&name, &labels, value, None);
        }
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// A bucket bound as Prometheus writes it (`0.005`, `1`, `2.5`).
fn format_bound(bound: f64) -> String {
    let mut out = Vec::new();
    crate::model::metrics::push_float(&mut out, bound);
    String::from_utf8(out).unwrap_or_default()
}
