//! A compiled world: a [`ModelDef`] turned into indices, resources and samplers for one tenant.

use std::borrow::Cow;
use std::sync::Arc;

use super::model::{ModelDef, ServiceKind};
use crate::model::TenantId;
use crate::model::traces::{KeyValue, Resource};
use crate::random::{Key, WeightedIndex};
use crate::sources::metrics::signal::{LoadCurve, LoadShape};

/// What kind of span an operation's callers write, and its attributes.
#[derive(Clone, Debug)]
pub enum Protocol {
    /// HTTP: method and route.
    Http {
        /// `GET`, `POST`, …
        method: String,
        /// Route template.
        route: String,
    },
    /// A database or cache call.
    Db {
        /// `postgresql`, `redis`, …
        system: String,
        /// `SELECT`, `GET`, …
        operation: String,
        /// Table or collection.
        collection: Option<String>,
        /// Parameterised query.
        query: Option<String>,
    },
    /// Publishing a message.
    Messaging {
        /// `kafka`, …
        system: String,
        /// `publish`, …
        operation: String,
        /// Topic.
        destination: String,
    },
}

/// One call, compiled.
#[derive(Clone, Debug)]
pub struct Call {
    /// Called service index.
    pub service: usize,
    /// Called operation index within that service.
    pub operation: usize,
    /// Probability that the call happens.
    pub probability: f64,
    /// Repetitions (the least, when `max_count` is set).
    pub count: u32,
    /// Largest number of repetitions of a heavy-tailed draw.
    pub max_count: Option<u32>,
    /// Runs alongside the previous call.
    pub parallel: bool,
    /// Client deadline, nanoseconds.
    pub timeout_ns: i64,
    /// Retries after a failure.
    pub retries: u32,
}

/// One operation, compiled.
#[derive(Clone, Debug)]
pub struct Operation {
    /// Span name.
    pub name: Cow<'static, str>,
    /// Protocol and attributes.
    pub protocol: Protocol,
    /// Natural log of the median self time in seconds (log-normal μ).
    pub mu: f64,
    /// Log-normal σ.
    pub sigma: f64,
    /// Probability that the operation itself fails.
    pub error_rate: f64,
    /// Calls, in order.
    pub calls: Vec<Call>,
}

/// An instance (pod) of a service.
#[derive(Clone, Debug)]
pub struct Instance {
    /// Pod name, also `service.instance.id`.
    pub id: String,
    /// The OpenTelemetry resource shared by everything the instance emits.
    pub resource: Arc<Resource>,
}

/// One service, compiled.
#[derive(Clone, Debug)]
pub struct Service {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ServiceKind,
    /// Deployed version.
    pub version: String,
    /// Instances.
    pub instances: Vec<Instance>,
    /// Operations.
    pub operations: Vec<Operation>,
    /// Network peer name used by callers (`server.address`).
    pub address: String,
    /// Port used by callers.
    pub port: i64,
}

/// A tenant's compiled world.
#[derive(Debug)]
pub struct World {
    /// Tenant id.
    pub tenant: TenantId,
    /// Services.
    pub services: Vec<Service>,
    /// Entry points: (service, operation), with their request-mix table.
    pub entries: Vec<(usize, usize)>,
    /// Weighted choice over `entries`.
    pub entry_mix: WeightedIndex,
    /// The weights of `entries` in the request mix.
    pub entry_weights: Vec<f64>,
    /// Total request rate of the tenant over time.
    pub load: LoadCurve,
}

impl World {
    /// Compiles `model` for `tenant` at `requests_per_second` (before the tenant's scale).
    pub fn compile(
        model: &ModelDef,
        tenant: &TenantId,
        requests_per_second: f64,
        namespace: &str,
        environment: &str,
        key: Key,
    ) -> Result<World, String> {
        let mut rng = key.with("world").rng();
        let find = |service: &str, operation: &str| -> Option<(usize, usize)> {
            let s = model.services.iter().position(|x| x.name == service)?;
            let o = model.services[s]
                .operations
                .iter()
                .position(|x| x.name == operation)?;
            Some((s, o))
        };
        let mut services = Vec::with_capacity(model.services.len());
        let mut entries = Vec::new();
        let mut weights = Vec::new();
        for (s, def) in model.services.iter().enumerate() {
            let version = format!("{}.{}.{}", 1 + rng.below(3), rng.below(30), rng.below(10));
            let template: String = (0..9).map(|_| hex_digit(rng.below(16))).collect();
            let instances = (0..def.instances)
                .map(|i| {
                    let suffix: String = (0..5)
                        .map(|_| (b'a' + rng.below(26) as u8) as char)
                        .collect();
                    let id = format!("{}-{template}-{suffix}", def.name);
                    let node = format!("ip-10-0-{}-{}", 16 + rng.below(4), 10 + rng.below(200));
                    let resource = resource(def, &version, &id, &node, namespace, environment, i);
                    Instance {
                        id,
                        resource: Arc::new(resource),
                    }
                })
                .collect();
            let mut operations = Vec::with_capacity(def.operations.len());
            for (o, op) in def.operations.iter().enumerate() {
                if op.weight > 0.0 {
                    entries.push((s, o));
                    weights.push(op.weight);
                }
                let protocol = protocol_of(def, op);
                let calls = op
                    .calls
                    .iter()
                    .filter_map(|call| {
                        let (service, operation) = find(&call.service, &call.operation)?;
                        Some(Call {
                            service,
                            operation,
                            probability: call.probability,
                            count: call.count,
                            max_count: call.max_count,
                            parallel: call.parallel,
                            timeout_ns: (call.timeout_ms * 1e6) as i64,
                            retries: call.retries,
                        })
                    })
                    .collect();
                operations.push(Operation {
                    name: Cow::Owned(op.name.clone()),
                    protocol,
                    mu: (op.latency_ms.max(0.01) / 1000.0).ln(),
                    sigma: op.sigma,
                    error_rate: op.error_rate,
                    calls,
                });
            }
            services.push(Service {
                name: def.name.clone(),
                kind: def.kind,
                version,
                instances,
                operations,
                address: def.name.clone(),
                port: match def.kind {
                    ServiceKind::Database => 5432,
                    ServiceKind::Cache => 6379,
                    ServiceKind::Queue => 9092,
                    ServiceKind::External => 443,
                    _ => 8080,
                },
            });
        }
        let entry_mix = WeightedIndex::new(&weights).ok_or("the model has no entry operation")?;
        let load = LoadCurve::new(
            LoadShape {
                base_rate: requests_per_second,
                a1: 0.4 + 0.2 * rng.f64(),
                a2: 0.05 + 0.1 * rng.f64(),
                peak_hour: 13.0 + 5.0 * rng.f64(),
                weekend_factor: 0.6 + 0.2 * rng.f64(),
                growth_per_week: 0.005 * rng.f64(),
            },
            key.with("load"),
        );
        Ok(World {
            tenant: Arc::clone(tenant),
            services,
            entries,
            entry_mix,
            entry_weights: weights,
            load,
        })
    }
}

fn hex_digit(value: u64) -> char {
    char::from(b"0123456789abcdef"[value as usize % 16])
}

fn protocol_of(service: &super::model::ServiceDef, op: &super::model::OperationDef) -> Protocol {
    let system = service
        .system
        .clone()
        .unwrap_or_else(|| service.name.clone());
    if let Some(operation) = &op.messaging_operation {
        return Protocol::Messaging {
            system,
            operation: operation.clone(),
            destination: op.destination.clone().unwrap_or_else(|| "events".into()),
        };
    }
    if let Some(operation) = &op.db_operation {
        return Protocol::Db {
            system,
            operation: operation.clone(),
            collection: op.collection.clone(),
            query: op.query.clone(),
        };
    }
    Protocol::Http {
        method: op.method.clone().unwrap_or_else(|| "GET".into()),
        route: op.route.clone().unwrap_or_else(|| "/".into()),
    }
}

fn resource(
    service: &super::model::ServiceDef,
    version: &str,
    instance: &str,
    node: &str,
    namespace: &str,
    environment: &str,
    ordinal: u32,
) -> Resource {
    let mut attributes = vec![
        KeyValue::new("service.name", service.name.clone()),
        KeyValue::new("service.namespace", namespace.to_string()),
        KeyValue::new("service.version", version.to_string()),
        KeyValue::new("service.instance.id", instance.to_string()),
        KeyValue::new("deployment.environment.name", environment.to_string()),
        KeyValue::new("k8s.namespace.name", namespace.to_string()),
        KeyValue::new("k8s.pod.name", instance.to_string()),
        KeyValue::new("k8s.deployment.name", service.name.clone()),
        KeyValue::new("k8s.node.name", node.to_string()),
        KeyValue::new("host.name", node.to_string()),
        KeyValue::new("telemetry.sdk.name", "opentelemetry"),
    ];
    if let Some(language) = &service.language {
        attributes.push(KeyValue::new("telemetry.sdk.language", language.clone()));
    }
    let _ = ordinal;
    Resource { attributes }
}
