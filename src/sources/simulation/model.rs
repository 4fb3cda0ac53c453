//! World-model definitions: services, operations and the calls between them.
//!
//! The built-in `webshop` model is a TOML file embedded in the binary; custom models use the
//! same format (TOML or JSON); random topologies of a given size are generated in this format
//! too, so one compiler ([`super::world`]) serves all three.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::random::{Key, WeightedIndex};

/// The embedded `webshop` model.
pub const WEBSHOP: &str = include_str!("../../../config/models/webshop.toml");

/// What a service is; decides its spans and attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// Serves users over HTTP; its weighted operations are entry points.
    Frontend,
    /// An internal HTTP service.
    Backend,
    /// A database; called with client spans only.
    Database,
    /// A cache; called with client spans only.
    Cache,
    /// A message broker; called with producer spans.
    Queue,
    /// A third-party API; called with client spans only.
    External,
}

impl ServiceKind {
    /// Whether the service emits its own (server) spans, logs and metrics.
    pub fn is_instrumented(self) -> bool {
        matches!(self, ServiceKind::Frontend | ServiceKind::Backend)
    }
}

/// One call an operation makes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallDef {
    /// Called service.
    pub service: String,
    /// Called operation of that service.
    pub operation: String,
    /// Probability that the call happens at all.
    #[serde(default = "one")]
    pub probability: f64,
    /// Times the call is repeated (N+1 queries, per-item lookups).
    #[serde(default = "one_count")]
    pub count: u32,
    /// When set, the repetitions are drawn per request from a heavy-tailed (Pareto) law between
    /// `count` and `max_count`: carts of many items, reports over many rows.
    #[serde(default)]
    pub max_count: Option<u32>,
    /// Runs alongside the previous call instead of after it.
    #[serde(default)]
    pub parallel: bool,
    /// Client deadline; the client span ends there with an error when the callee is slower.
    #[serde(default = "default_timeout")]
    pub timeout_ms: f64,
    /// Retries after a failed attempt (a client span per attempt).
    #[serde(default)]
    pub retries: u32,
}

fn one() -> f64 {
    1.0
}
fn one_count() -> u32 {
    1
}
fn default_timeout() -> f64 {
    1000.0
}
fn default_sigma() -> f64 {
    0.5
}
fn default_error_rate() -> f64 {
    0.001
}
fn default_instances() -> u32 {
    2
}

/// One operation of a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationDef {
    /// Span name: low cardinality (`GET /product/{id}`, `SELECT shop.orders`, `publish orders`).
    pub name: String,
    /// HTTP method, for HTTP operations.
    #[serde(default)]
    pub method: Option<String>,
    /// HTTP route template, for HTTP operations.
    #[serde(default)]
    pub route: Option<String>,
    /// Database or cache operation (`SELECT`, `GET`).
    #[serde(default)]
    pub db_operation: Option<String>,
    /// Database table or collection.
    #[serde(default)]
    pub collection: Option<String>,
    /// Parameterised query text.
    #[serde(default)]
    pub query: Option<String>,
    /// Messaging operation (`publish`).
    #[serde(default)]
    pub messaging_operation: Option<String>,
    /// Messaging destination (topic).
    #[serde(default)]
    pub destination: Option<String>,
    /// Entry weight: operations with a weight receive user traffic.
    #[serde(default)]
    pub weight: f64,
    /// Median self time in milliseconds.
    pub latency_ms: f64,
    /// Shape of the self-time log-normal.
    #[serde(default = "default_sigma")]
    pub sigma: f64,
    /// Probability that the operation itself fails.
    #[serde(default = "default_error_rate")]
    pub error_rate: f64,
    /// Calls made, in order.
    #[serde(default)]
    pub calls: Vec<CallDef>,
}

/// One service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDef {
    /// Service name (`service.name`).
    pub name: String,
    /// What it is.
    pub kind: ServiceKind,
    /// Runtime language (`telemetry.sdk.language`).
    #[serde(default)]
    pub language: Option<String>,
    /// Database, cache or broker system (`postgresql`, `redis`, `kafka`).
    #[serde(default)]
    pub system: Option<String>,
    /// Instances (pods).
    #[serde(default = "default_instances")]
    pub instances: u32,
    /// Operations.
    pub operations: Vec<OperationDef>,
}

/// A whole world model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDef {
    /// Model name.
    pub name: String,
    /// Services.
    pub services: Vec<ServiceDef>,
}

/// Longest call chain a model may have.
pub const MAX_DEPTH: usize = 24;

impl ModelDef {
    /// Parses TOML (or JSON when the text starts with `{`).
    pub fn parse(text: &str) -> Result<ModelDef, String> {
        let model: ModelDef = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|error| format!("invalid model JSON: {error}"))?
        } else {
            toml::from_str(text).map_err(|error| format!("invalid model TOML: {error}"))?
        };
        model.validate()?;
        Ok(model)
    }

    /// A built-in model by name, or a random topology (`random-small`, `random-medium`,
    /// `random-large`, seeded by `key`).
    pub fn builtin(name: &str, key: Key) -> Result<ModelDef, String> {
        match name {
            "webshop" => ModelDef::parse(WEBSHOP),
            "random-small" => Ok(random_topology(key, 8 + key.value() as usize % 8)),
            "random-medium" => Ok(random_topology(key, 30 + key.value() as usize % 16)),
            "random-large" => Ok(random_topology(key, 100 + key.value() as usize % 100)),
            other => Err(format!(
                "unknown model {other:?}: use webshop, random-small, random-medium, random-large \
                 or a model_file"
            )),
        }
    }

    /// Checks references, acyclicity, depth and numbers.
    pub fn validate(&self) -> Result<(), String> {
        let mut operations = BTreeMap::new();
        for service in &self.services {
            if service.instances == 0 || service.instances > 1000 {
                return Err(format!(
                    "service {:?}: instances must be 1 to 1000",
                    service.name
                ));
            }
            for operation in &service.operations {
                let key = (service.name.as_str(), operation.name.as_str());
                if operations.insert(key, operation).is_some() {
                    return Err(format!(
                        "service {:?}: operation {:?} is defined twice",
                        key.0, key.1
                    ));
                }
                let numbers_ok = operation.latency_ms.is_finite()
                    && operation.latency_ms >= 0.0
                    && operation.sigma.is_finite()
                    && (0.0..=3.0).contains(&operation.sigma)
                    && (0.0..=1.0).contains(&operation.error_rate)
                    && operation.weight.is_finite()
                    && operation.weight >= 0.0;
                if !numbers_ok {
                    return Err(format!(
                        "{}/{}: latency_ms ≥ 0, sigma 0..3, error_rate 0..1 and weight ≥ 0 required",
                        key.0, key.1
                    ));
                }
            }
        }
        if !self
            .services
            .iter()
            .flat_map(|s| &s.operations)
            .any(|o| o.weight > 0.0)
        {
            return Err("no operation has a weight: give entry operations a weight".to_string());
        }
        for service in &self.services {
            for operation in &service.operations {
                for call in &operation.calls {
                    if !operations.contains_key(&(call.service.as_str(), call.operation.as_str())) {
                        return Err(format!(
                            "{}/{} calls unknown {}/{}",
                            service.name, operation.name, call.service, call.operation
                        ));
                    }
                    let max_ok = call
                        .max_count
                        .is_none_or(|max| max >= call.count && max <= 10_000);
                    if !(0.0..=1.0).contains(&call.probability)
                        || call.count == 0
                        || call.count > 1000
                        || !max_ok
                    {
                        return Err(format!(
                            "{}/{}: call probability 0..1 and count 1..1000 required",
                            service.name, operation.name
                        ));
                    }
                }
            }
        }
        for service in &self.services {
            for operation in &service.operations {
                let depth = depth_of(
                    &operations,
                    (&service.name, &operation.name),
                    &mut BTreeSet::new(),
                )?;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "{}/{}: call depth {depth} exceeds {MAX_DEPTH}",
                        service.name, operation.name
                    ));
                }
            }
        }
        Ok(())
    }
}

type OperationIndex<'a> = BTreeMap<(&'a str, &'a str), &'a OperationDef>;

fn depth_of<'a>(
    operations: &OperationIndex<'a>,
    at: (&'a str, &'a str),
    path: &mut BTreeSet<(&'a str, &'a str)>,
) -> Result<usize, String> {
    if !path.insert(at) {
        return Err(format!("call cycle through {}/{}", at.0, at.1));
    }
    let mut deepest = 0;
    if let Some(operation) = operations.get(&at) {
        for call in &operation.calls {
            let next = operations
                .get_key_value(&(call.service.as_str(), call.operation.as_str()))
                .map(|(key, _)| *key);
            if let Some(next) = next {
                deepest = deepest.max(depth_of(operations, next, path)?);
            }
        }
    }
    path.remove(&at);
    Ok(deepest + 1)
}

/// A layered random topology of `size` services (REALISM.md §3.1): about 10 % entry, 50 %
/// middle and 40 % leaves (databases, caches, queues, external APIs), out-degree 1 + truncated
/// Zipf(1.2), hot shared leaves.
pub fn random_topology(key: Key, size: usize) -> ModelDef {
    let mut rng = key.with("topology").rng();
    let size = size.max(4);
    let entries = (size / 10).max(1);
    let leaves = (size * 2 / 5).max(2);
    let middles = size - entries - leaves;
    let words = [
        "orders",
        "billing",
        "search",
        "profile",
        "inventory",
        "pricing",
        "auth",
        "reviews",
        "media",
        "notify",
        "ledger",
        "fraud",
        "tax",
        "coupon",
        "wishlist",
        "geo",
        "rating",
        "session",
        "audit",
        "report",
    ];
    let name = |kind: &str, i: usize| format!("{kind}-{}-{i}", words[i % words.len()]);
    let mut services: Vec<ServiceDef> = Vec::with_capacity(size);
    let leaf_kinds = [
        (ServiceKind::Database, "postgresql"),
        (ServiceKind::Cache, "redis"),
        (ServiceKind::Database, "mysql"),
        (ServiceKind::Queue, "kafka"),
        (ServiceKind::External, ""),
    ];
    for i in 0..leaves {
        let (kind, system) = leaf_kinds[i % leaf_kinds.len()];
        let operations = match kind {
            ServiceKind::Cache => vec![
                leaf_op("GET", Some("GET"), None, 0.3),
                leaf_op("SET", Some("SET"), None, 0.4),
            ],
            ServiceKind::Queue => vec![OperationDef {
                messaging_operation: Some("publish".into()),
                destination: Some(words[i % words.len()].into()),
                ..leaf_op(
                    &format!("publish {}", words[i % words.len()]),
                    None,
                    None,
                    2.0,
                )
            }],
            ServiceKind::External => vec![OperationDef {
                method: Some("POST".into()),
                route: Some("/v1/call".into()),
                ..leaf_op("POST /v1/call", None, None, 80.0)
            }],
            _ => {
                let table = words[(i * 7) % words.len()];
                vec![
                    leaf_op(
                        &format!("SELECT app.{table}"),
                        Some("SELECT"),
                        Some(table),
                        1.5,
                    ),
                    leaf_op(
                        &format!("INSERT app.{table}"),
                        Some("INSERT"),
                        Some(table),
                        3.0,
                    ),
                ]
            }
        };
        services.push(ServiceDef {
            name: name(
                if kind == ServiceKind::External {
                    "ext"
                } else {
                    system
                },
                i,
            ),
            kind,
            language: None,
            system: (!system.is_empty()).then(|| system.to_string()),
            instances: 1,
            operations,
        });
    }
    let languages = ["go", "java", "python", "nodejs", "dotnet", "rust"];
    let zipf = WeightedIndex::zipf(10, 1.2).unwrap_or_else(unreachable_zipf);
    // Middle services are created bottom-up so that each calls only services created before it.
    for i in 0..middles + entries {
        let is_entry = i >= middles;
        let operation_count = 1 + rng.index(3);
        let mut operations = Vec::new();
        for o in 0..operation_count {
            let out_degree = if is_entry {
                2 + zipf.sample(&mut rng)
            } else {
                zipf.sample(&mut rng)
            };
            let mut calls = Vec::new();
            for c in 0..out_degree.min(services.len()) {
                // Hot shared leaves: the first leaves (a cache and a database) get half the calls.
                let callee = if rng.chance(0.5) {
                    rng.index(2.min(leaves))
                } else {
                    rng.index(services.len())
                };
                let target = &services[callee];
                let target_op = &target.operations[rng.index(target.operations.len())];
                calls.push(CallDef {
                    service: target.name.clone(),
                    operation: target_op.name.clone(),
                    probability: if c == 0 { 1.0 } else { 0.5 + 0.5 * rng.f64() },
                    count: 1,
                    max_count: rng.chance(0.05).then(|| 2 + rng.below(30) as u32),
                    parallel: rng.chance(0.3),
                    timeout_ms: if target.kind == ServiceKind::External {
                        5000.0
                    } else {
                        1000.0
                    },
                    retries: u32::from(rng.chance(0.2)) * 2,
                });
            }
            let route = format!(
                "/api/{}/{}",
                words[(i + o) % words.len()],
                ["", "{id}", "search"][o % 3]
            );
            let route = route.trim_end_matches('/').to_string();
            let method = ["GET", "POST", "GET"][o % 3];
            operations.push(OperationDef {
                name: format!("{method} {route}"),
                method: Some(method.into()),
                route: Some(route),
                weight: if is_entry {
                    1.0 + rng.below(20) as f64
                } else {
                    0.0
                },
                latency_ms: 1.0 + 15.0 * rng.f64(),
                sigma: 0.4 + 0.4 * rng.f64(),
                calls,
                ..leaf_op("", None, None, 0.0)
            });
        }
        services.push(ServiceDef {
            name: name(if is_entry { "edge" } else { "svc" }, i),
            kind: if is_entry {
                ServiceKind::Frontend
            } else {
                ServiceKind::Backend
            },
            language: Some(languages[i % languages.len()].into()),
            system: None,
            instances: 1 + rng.below(4) as u32,
            operations,
        });
    }
    ModelDef {
        name: format!("random-{size}"),
        services,
    }
}

fn unreachable_zipf() -> WeightedIndex {
    // Zipf weights over ten ranks are always valid; keep a uniform table as a fallback.
    WeightedIndex::new(&[1.0; 10]).unwrap_or_else(|| panic!("uniform weights are valid"))
}

fn leaf_op(
    name: &str,
    db: Option<&str>,
    collection: Option<&str>,
    latency_ms: f64,
) -> OperationDef {
    OperationDef {
        name: name.to_string(),
        method: None,
        route: None,
        db_operation: db.map(str::to_string),
        collection: collection.map(str::to_string),
        query: collection.map(|table| match db {
            Some("INSERT") => format!("INSERT INTO {table} (id, payload) VALUES ($1, $2)"),
            _ => format!("SELECT id, payload FROM {table} WHERE id = $1"),
        }),
        messaging_operation: None,
        destination: None,
        weight: 0.0,
        latency_ms,
        sigma: 0.5,
        error_rate: 0.001,
        calls: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webshop_is_valid() {
        let model = ModelDef::parse(WEBSHOP).expect("webshop");
        assert!(model.services.len() >= 10);
        assert!(
            model
                .services
                .iter()
                .any(|s| s.name == "postgres" && s.kind == ServiceKind::Database)
        );
    }

    #[test]
    fn random_topologies_are_valid_and_deterministic() {
        for size in [8, 40, 150] {
            let model = random_topology(Key::new(7), size);
            model.validate().expect("valid");
            assert_eq!(model.services.len(), size);
            assert_eq!(model, random_topology(Key::new(7), size));
        }
    }

    #[test]
    fn invalid_models_are_refused_with_a_reason() {
        let cyclic = WEBSHOP.replace(
            "calls = [{ service = \"redis\", operation = \"HGETALL\" }]",
            "calls = [{ service = \"cart\", operation = \"GetCart\" }]",
        );
        assert!(
            ModelDef::parse(&cyclic)
                .expect_err("cycle")
                .contains("cycle")
        );
        let dangling = WEBSHOP.replace("operation = \"ListProducts\" }", "operation = \"Nope\" }");
        assert!(
            ModelDef::parse(&dangling)
                .expect_err("dangling")
                .contains("unknown")
        );
        assert!(ModelDef::parse("name = \"x\"\nservices = []").is_err());
    }
}
