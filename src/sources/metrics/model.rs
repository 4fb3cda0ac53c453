//! The world a `metrics` source describes: per tenant, services with routes and pods, and the
//! nodes that host the pods; and the scrape targets built from them.

use std::sync::Arc;

use super::families::Families;
use super::latency::LogNormal;
use super::signal::{DAY, LoadCurve, LoadShape};
use super::{CustomConfig, MetricsSourceConfig, Preset};
use crate::model::TenantId;
use crate::model::metrics::{SampleSink, Target, TargetSet};
use crate::random::{Key, Rng};
use crate::sources::BuildContext;

/// Services of the built-in web shop, with a language each.
const WEBSHOP: &[(&str, &str)] = &[
    ("frontend", "node"),
    ("checkout", "go"),
    ("cart", "dotnet"),
    ("catalog", "go"),
    ("payment", "java"),
    ("shipping", "go"),
    ("recommendation", "python"),
    ("user", "java"),
];

/// Route templates of a service: method, path below `/api/<service>`, weight.
const ROUTES: &[(&str, &str, f64)] = &[
    ("GET", "", 30.0),
    ("GET", "/{id}", 40.0),
    ("POST", "", 10.0),
    ("PUT", "/{id}", 6.0),
    ("DELETE", "/{id}", 2.0),
    ("GET", "/search", 8.0),
    ("GET", "/{id}/history", 4.0),
];

/// What a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// A service pod: HTTP and process families.
    Service {
        /// Tenant index.
        tenant: usize,
        /// Pod index in the tenant.
        pod: usize,
    },
    /// A node_exporter on a node.
    Node {
        /// Tenant index.
        tenant: usize,
        /// Node index in the tenant.
        node: usize,
    },
    /// kube-state-metrics of a tenant's cluster.
    KubeState {
        /// Tenant index.
        tenant: usize,
    },
    /// The kubelet (cAdvisor) of a node.
    Kubelet {
        /// Tenant index.
        tenant: usize,
        /// Node index in the tenant.
        node: usize,
    },
    /// A cardinality-load target.
    Custom {
        /// Tenant index.
        tenant: usize,
        /// Target number within the tenant.
        index: usize,
    },
}

impl TargetKind {
    fn tenant(self) -> usize {
        match self {
            TargetKind::Service { tenant, .. }
            | TargetKind::Node { tenant, .. }
            | TargetKind::KubeState { tenant }
            | TargetKind::Kubelet { tenant, .. }
            | TargetKind::Custom { tenant, .. } => tenant,
        }
    }
}

/// One HTTP route of a service.
#[derive(Clone, Debug)]
pub struct RouteModel {
    /// HTTP method.
    pub method: &'static str,
    /// Route template (`/api/cart/{id}`).
    pub route: String,
    /// Share of the service's requests.
    pub share: f64,
    /// Latency at low load.
    pub low: LogNormal,
    /// Latency at peak load (slower: queueing).
    pub high: LogNormal,
    /// Share of requests answered 4xx.
    pub client_errors: f64,
    /// Status code used for 4xx answers.
    pub client_code: &'static str,
    /// Share of requests answered 5xx.
    pub server_errors: f64,
}

/// A service of a tenant.
#[derive(Debug)]
pub struct ServiceModel {
    /// Name (`checkout`).
    pub name: String,
    /// Language of its runtime.
    pub language: &'static str,
    /// Deployed version.
    pub version: String,
    /// Its load curve.
    pub curve: LoadCurve,
    /// Its routes.
    pub routes: Vec<RouteModel>,
}

/// A pod (service instance).
#[derive(Debug)]
pub struct PodModel {
    /// Index of its service.
    pub service: usize,
    /// Pod name, also the `instance` label.
    pub name: String,
    /// Index of its node.
    pub node: usize,
    /// Share of its service's load.
    pub share: f64,
    /// Seconds between simulated restarts.
    pub restart_period: f64,
    /// Offset of the restart schedule.
    pub restart_offset: f64,
    /// CPU seconds per request.
    pub cpu_per_request: f64,
    /// CPU seconds per second when idle.
    pub idle_cpu: f64,
    /// Resident memory at rest, bytes.
    pub base_memory: f64,
    /// Memory limit, bytes.
    pub memory_limit: f64,
    /// Garbage-collection sawtooth period, seconds.
    pub gc_period: f64,
}

/// A node hosting pods.
#[derive(Debug)]
pub struct NodeModel {
    /// Host name, also the `instance` label.
    pub name: String,
    /// CPU cores.
    pub cores: u32,
    /// Relative share of each core in the node's CPU time (sums to `cores`).
    pub core_weights: Vec<f64>,
    /// Memory, bytes.
    pub memory: f64,
    /// Root filesystem size, bytes.
    pub disk: f64,
    /// Pods on the node.
    pub pods: Vec<usize>,
    /// Seconds between reboots.
    pub boot_period: f64,
    /// Offset of the reboot schedule.
    pub boot_offset: f64,
}

/// One tenant's world.
#[derive(Debug)]
pub struct TenantModel {
    /// Tenant id.
    pub id: TenantId,
    /// Kubernetes namespace of its services.
    pub namespace: String,
    /// Services.
    pub services: Vec<ServiceModel>,
    /// Pods.
    pub pods: Vec<PodModel>,
    /// Nodes.
    pub nodes: Vec<NodeModel>,
}

/// Every target of a `metrics` source and the world behind them.
#[derive(Debug)]
pub struct MetricsModel {
    pub(super) targets: Vec<Target>,
    pub(super) kinds: Vec<TargetKind>,
    pub(super) tenants: Vec<TenantModel>,
    pub(super) families: Families,
    pub(super) presets: Vec<Preset>,
    pub(super) exemplars: bool,
    pub(super) custom: CustomConfig,
    pub(super) custom_values: Vec<String>,
    pub(super) key: Key,
}

impl MetricsModel {
    /// Builds the world of every tenant of `context`.
    pub fn new(config: &MetricsSourceConfig, context: &BuildContext) -> Result<Self, String> {
        let key = Key::new(context.seed)
            .with("metrics")
            .with(&context.component_id);
        let services: Vec<(String, &'static str)> = match &config.services {
            Some(names) => names
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), WEBSHOP[i % WEBSHOP.len()].1))
                .collect(),
            None => WEBSHOP
                .iter()
                .map(|(name, lang)| (name.to_string(), *lang))
                .collect(),
        };
        let tenants: Vec<TenantModel> = context
            .tenants
            .iter()
            .map(|tenant| {
                let tenant_key = key.with(&tenant.id);
                build_tenant(
                    config,
                    tenant.id.clone(),
                    tenant.scale,
                    &services,
                    tenant_key,
                )
            })
            .collect();
        let mut model = MetricsModel {
            targets: Vec::new(),
            kinds: Vec::new(),
            tenants,
            families: Families::new(),
            presets: config.presets.clone(),
            exemplars: config.exemplars,
            custom: config.custom.clone(),
            custom_values: (0..config.custom.label_values)
                .map(|v| format!("value_{v}"))
                .collect(),
            key,
        };
        model.build_targets();
        Ok(model)
    }

    fn build_targets(&mut self) {
        let has = |preset| self.presets.contains(&preset);
        let service_targets = has(Preset::HttpRed) || has(Preset::Process);
        let mut targets = Vec::new();
        for (t, tenant) in self.tenants.iter().enumerate() {
            if service_targets {
                for (p, pod) in tenant.pods.iter().enumerate() {
                    let service = &tenant.services[pod.service].name;
                    let labels = vec![
                        ("namespace".to_string(), tenant.namespace.clone()),
                        ("service".to_string(), service.clone()),
                    ];
                    targets.push((
                        TargetKind::Service { tenant: t, pod: p },
                        service.clone(),
                        pod.name.clone(),
                        labels,
                    ));
                }
            }
            if has(Preset::Node) {
                for (n, node) in tenant.nodes.iter().enumerate() {
                    let kind = TargetKind::Node { tenant: t, node: n };
                    targets.push((kind, "node".into(), node.name.clone(), Vec::new()));
                }
            }
            if has(Preset::Kube) {
                let kind = TargetKind::KubeState { tenant: t };
                let labels = vec![("namespace".to_string(), "kube-system".to_string())];
                targets.push((
                    kind,
                    "kube-state-metrics".into(),
                    "kube-state-metrics-0".into(),
                    labels,
                ));
                for (n, node) in tenant.nodes.iter().enumerate() {
                    let kind = TargetKind::Kubelet { tenant: t, node: n };
                    targets.push((kind, "kubelet".into(), node.name.clone(), Vec::new()));
                }
            }
            if has(Preset::Custom) {
                for index in 0..self.custom.targets {
                    let kind = TargetKind::Custom { tenant: t, index };
                    targets.push((
                        kind,
                        "synthetic-load".into(),
                        format!("load-{index}"),
                        Vec::new(),
                    ));
                }
            }
        }
        for (kind, job, instance, labels) in targets {
            let tenant = Arc::clone(&self.tenants[kind.tenant()].id);
            self.targets.push(Target {
                tenant,
                job,
                instance,
                labels,
            });
            self.kinds.push(kind);
        }
    }

    /// Index of the tenant of target `index`.
    pub fn tenant_index(&self, index: usize) -> usize {
        self.kinds[index].tenant()
    }

    /// The kind of target `index`.
    pub fn kind(&self, index: usize) -> TargetKind {
        self.kinds[index]
    }

    /// The tenants' worlds.
    pub fn tenants(&self) -> &[TenantModel] {
        &self.tenants
    }

    /// The offset of target `index` within a sampling interval, spreading targets as scrapers do.
    pub fn phase_ms(&self, index: usize, interval_ms: i64) -> i64 {
        let target = &self.targets[index];
        let hash = self
            .key
            .with(&target.tenant)
            .with(&target.job)
            .with(&target.instance)
            .value();
        // Aligned to 100 ms buckets so that a phase never falls between two windows.
        let buckets = (interval_ms / 100).max(1);
        (hash % buckets as u64) as i64 * 100
    }
}

impl TargetSet for MetricsModel {
    fn targets(&self) -> &[Target] {
        &self.targets
    }

    fn visit(&self, index: usize, timestamp_ms: i64, sink: &mut dyn SampleSink) {
        let Some(kind) = self.kinds.get(index).copied() else {
            return;
        };
        super::presets::visit(self, kind, timestamp_ms, sink);
    }
}

fn build_tenant(
    config: &MetricsSourceConfig,
    id: TenantId,
    scale: f64,
    services: &[(String, &'static str)],
    key: Key,
) -> TenantModel {
    let mut rng = key.with("world").rng();
    let instances = config.instances_per_service.max(1);
    let total_pods = services.len() * instances;
    let node_count = total_pods.div_ceil(4).max(1);
    let mut nodes: Vec<NodeModel> = (0..node_count).map(|n| build_node(n, &mut rng)).collect();
    let mut service_models = Vec::new();
    let mut pods = Vec::new();
    for (s, (name, language)) in services.iter().enumerate() {
        let popularity = 1.0 / (1.0 + s as f64 * 0.35);
        let shape = LoadShape {
            base_rate: config.requests_per_second * scale * popularity * 1.6,
            a1: 0.4 + 0.2 * rng.f64(),
            a2: 0.05 + 0.1 * rng.f64(),
            peak_hour: 13.0 + 5.0 * rng.f64(),
            weekend_factor: 0.6 + 0.2 * rng.f64(),
            growth_per_week: 0.005 * rng.f64(),
        };
        let curve = LoadCurve::new(shape, key.with("load").with(name));
        let routes = build_routes(name, &mut rng);
        let version = format!("1.{}.{}", rng.below(20), rng.below(10));
        service_models.push(ServiceModel {
            name: name.clone(),
            language,
            version,
            curve,
            routes,
        });
        let skew: Vec<f64> = (0..instances).map(|_| 0.9 + 0.2 * rng.f64()).collect();
        let total: f64 = skew.iter().sum();
        let template = pod_template(&mut rng);
        for (i, weight) in skew.iter().enumerate() {
            let node = pods.len() % node_count;
            let suffix: String = (0..5)
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect();
            let restart_period = (3.0 + 4.0 * rng.f64()) * DAY;
            let base_memory = (120.0 + 200.0 * rng.f64()) * 1024.0 * 1024.0;
            pods.push(PodModel {
                service: s,
                name: format!("{name}-{template}-{suffix}"),
                node,
                share: weight / total,
                restart_period,
                restart_offset: rng.f64() * restart_period,
                cpu_per_request: 0.002 + 0.004 * rng.f64(),
                idle_cpu: 0.01 + 0.02 * rng.f64(),
                base_memory,
                memory_limit: (base_memory * 3.0 / (256.0 * 1024.0 * 1024.0)).ceil()
                    * 256.0
                    * 1024.0
                    * 1024.0,
                gc_period: 10.0 + 290.0 * rng.f64(),
            });
            nodes[node].pods.push(pods.len() - 1);
            let _ = i;
        }
    }
    TenantModel {
        id,
        namespace: config.namespace.clone(),
        services: service_models,
        pods,
        nodes,
    }
}

fn pod_template(rng: &mut Rng) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..9).map(|_| HEX[rng.index(HEX.len())] as char).collect()
}

fn build_node(index: usize, rng: &mut Rng) -> NodeModel {
    let cores = if rng.chance(0.5) { 4 } else { 8 };
    let raw: Vec<f64> = (0..cores).map(|_| 0.9 + 0.2 * rng.f64()).collect();
    let total: f64 = raw.iter().sum();
    let boot_period = (30.0 + 30.0 * rng.f64()) * DAY;
    NodeModel {
        name: format!("ip-10-0-{}-{}", 16 + index / 200, 10 + (index % 200)),
        cores,
        core_weights: raw.iter().map(|w| w * f64::from(cores) / total).collect(),
        memory: f64::from(cores) * 4.0 * 1024.0 * 1024.0 * 1024.0,
        disk: 100.0 * 1024.0 * 1024.0 * 1024.0,
        pods: Vec::new(),
        boot_period,
        boot_offset: rng.f64() * boot_period,
    }
}

fn build_routes(service: &str, rng: &mut Rng) -> Vec<RouteModel> {
    let count = 4 + rng.index(ROUTES.len() - 3);
    let chosen = &ROUTES[..count];
    let total: f64 = chosen.iter().map(|(_, _, w)| w).sum();
    chosen
        .iter()
        .map(|(method, path, weight)| {
            let writes = *method != "GET";
            let median = (0.008 + 0.04 * rng.f64()) * if writes { 2.0 } else { 1.0 };
            let sigma = 0.45 + 0.25 * rng.f64();
            RouteModel {
                method,
                route: format!("/api/{service}{path}"),
                share: weight / total,
                low: LogNormal { median, sigma },
                high: LogNormal {
                    median: median * (2.5 + 1.5 * rng.f64()),
                    sigma: sigma + 0.15,
                },
                client_errors: 0.005 + 0.01 * rng.f64(),
                client_code: if path.contains("{id}") { "404" } else { "400" },
                server_errors: 0.001 + 0.003 * rng.f64(),
            }
        })
        .collect()
}

/// The most recent time at or before `t` on the schedule `offset + k · period`.
pub fn last_event(t: f64, period: f64, offset: f64) -> f64 {
    ((t - offset) / period).floor() * period + offset
}
