//! Simulating one request through the world: spans, the log lines written while serving it, and
//! the observations RED metrics are built from — all from the same draws.
//!
//! Deadlines travel down the call tree: a call's callee must finish before the caller's client
//! timeout (and the caller's own deadline), and work past a deadline is cut there with an error.
//! So every child span lies within its parent, timeouts look as they do with propagated
//! cancellation, and retries make one client span per attempt.

use std::borrow::Cow;

use super::effects::Effects;
use super::model::ServiceKind;
use super::world::{Call, Protocol, Service, World};
use crate::model::traces::{KeyValue, Span, SpanEvent, SpanKind, StatusCode};
use crate::model::{SpanId, TraceId};
use crate::random::Rng;

/// One request served by an instrumented service: what RED metrics and request logs need.
#[derive(Clone, Debug)]
pub struct Served {
    /// Service index.
    pub service: usize,
    /// Instance index.
    pub instance: usize,
    /// Operation index.
    pub operation: usize,
    /// HTTP status answered.
    pub status: u16,
    /// Start, Unix nanoseconds.
    pub start_ns: i64,
    /// Duration in seconds.
    pub duration: f64,
    /// The trace.
    pub trace_id: TraceId,
    /// The server span.
    pub span_id: SpanId,
    /// Error type when it failed (`timeout`, `500`, an exception class).
    pub error: Option<&'static str>,
    /// A downstream call that timed out, if any (callee service name, timeout in ms).
    pub upstream_timeout: Option<(usize, i64)>,
}

/// A span and the service and instance that emitted it.
#[derive(Clone, Debug)]
pub struct EmittedSpan {
    /// Service index.
    pub service: usize,
    /// Instance index.
    pub instance: usize,
    /// The span.
    pub span: Span,
}

/// Everything one request produced.
#[derive(Debug, Default)]
pub struct Trace {
    /// Spans, in the order they were created (parents before children).
    pub spans: Vec<EmittedSpan>,
    /// Requests served by instrumented services.
    pub served: Vec<Served>,
    /// Whether a world anomaly changed the request.
    pub touched: bool,
}

/// Latency multiplier and hiccup settings of the moment.
#[derive(Clone, Copy, Debug)]
pub struct Conditions {
    /// Multiplies every self time (queueing under load).
    pub inflation: f64,
}

/// Exceptions thrown by failing operations, by language-agnostic type.
const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "java.lang.IllegalStateException",
        "order is not in a payable state",
    ),
    ("java.net.SocketTimeoutException", "Read timed out"),
    (
        "org.postgresql.util.PSQLException",
        "ERROR: deadlock detected",
    ),
    (
        "java.lang.NullPointerException",
        "Cannot invoke \"Cart.items()\" because \"cart\" is null",
    ),
    (
        "io.grpc.StatusRuntimeException",
        "UNAVAILABLE: upstream connect error",
    ),
];

/// The exception an injected failure (T-ERR) throws, by the failing service's kind and status.
fn injected_exception(kind: ServiceKind, status: u16) -> (&'static str, &'static str) {
    match (kind, status) {
        (ServiceKind::Database, _) => (
            "org.postgresql.util.PSQLException",
            "FATAL: the database system is in recovery mode",
        ),
        (ServiceKind::Cache, _) => (
            "redis.clients.jedis.exceptions.JedisConnectionException",
            "Could not get a resource from the pool",
        ),
        (_, 429) => (
            "io.github.resilience4j.ratelimiter.RequestNotPermitted",
            "RateLimiter does not permit further calls",
        ),
        (_, 503) => (
            "io.grpc.StatusRuntimeException",
            "UNAVAILABLE: no healthy upstream",
        ),
        _ => (
            "org.springframework.web.server.ResponseStatusException",
            "request could not be processed",
        ),
    }
}

fn exception_event(time_ns: i64, service: &str, kind: &str, message: &str) -> SpanEvent {
    SpanEvent {
        time_ns,
        name: Cow::Borrowed("exception"),
        attributes: vec![
            KeyValue::new("exception.type", kind.to_string()),
            KeyValue::new("exception.message", message.to_string()),
            KeyValue::new(
                "exception.stacktrace",
                format!("{kind}: {message}\n\tat {service}.handle(Handler.java:88)"),
            ),
        ],
    }
}

/// Where an anomaly may apply: service, operation and, for instrumented services, instance.
type Site = (usize, usize, Option<usize>);

struct Outcome {
    end_ns: i64,
    error: Option<&'static str>,
    status: u16,
    /// An injected failure of an uninstrumented callee: the client span records its exception.
    injected: bool,
}

/// Simulates one request of entry `(service, operation)` starting at `start_ns`, under the world
/// anomalies of `effects` when given.
pub fn simulate(
    world: &World,
    entry: (usize, usize),
    start_ns: i64,
    conditions: Conditions,
    rng: &mut Rng,
    effects: Option<&mut Effects>,
) -> Trace {
    let mut trace_id = [0u8; 16];
    rng.fill_bytes(&mut trace_id);
    trace_id[0] |= 1;
    let deadline = start_ns + 10_000_000_000;
    let mut simulation = Simulation {
        world,
        rng,
        trace_id,
        conditions,
        trace: Trace::default(),
        effects,
        request_deadline: deadline,
    };
    let instance = simulation
        .rng
        .index(world.services[entry.0].instances.len());
    simulation.serve(entry.0, entry.1, instance, start_ns, None, deadline);
    simulation.trace
}

struct Simulation<'a> {
    world: &'a World,
    rng: &'a mut Rng,
    trace_id: TraceId,
    conditions: Conditions,
    trace: Trace,
    effects: Option<&'a mut Effects>,
    /// The deadline of the whole request: work that overruns a caller's deadline stops here.
    request_deadline: i64,
}

impl Simulation<'_> {
    fn span_id(&mut self) -> SpanId {
        let mut id = [0u8; 8];
        self.rng.fill_bytes(&mut id);
        id[7] |= 1;
        id
    }

    /// A self time in nanoseconds: log-normal, inflated by load and by `slowdown` (T-LAT), with a
    /// 0.5 % hiccup mixture.
    fn self_time(&mut self, mu: f64, sigma: f64, slowdown: f64) -> i64 {
        let mut seconds = self.rng.log_normal(mu, sigma) * self.conditions.inflation * slowdown;
        if self.rng.chance(0.005) {
            seconds *= 5.0 + 10.0 * self.rng.f64();
        }
        (seconds * 1e9) as i64
    }

    fn serve(
        &mut self,
        service_index: usize,
        operation_index: usize,
        instance: usize,
        start: i64,
        parent: Option<SpanId>,
        deadline: i64,
    ) -> Outcome {
        let world = self.world;
        let service = &world.services[service_index];
        let operation = &service.operations[operation_index];
        let span_id = self.span_id();
        let span_position = self.trace.spans.len();
        // Reserve the server span's place so that parents precede children.
        self.trace.spans.push(EmittedSpan {
            service: service_index,
            instance,
            span: placeholder_span(),
        });

        let at = (service_index, operation_index, Some(instance));
        let failure = self.failure(at, start);
        // A call made to overrun hangs past its caller's deadline and runs on after the caller
        // gave up, until the request's own deadline.
        let overrun = match (parent, failure) {
            (Some(_), None) => self.overrun(at, start, deadline - start),
            _ => None,
        };
        let deadline = if overrun.is_some() {
            self.request_deadline
        } else {
            deadline
        };
        let slowdown = self.slowdown(at, start);
        let self_time = self.self_time(operation.mu, operation.sigma, slowdown);
        let mut cursor = start + self_time * 3 / 10 + overrun.unwrap_or(0);
        let mut previous_start = cursor;
        let mut child_error = None;
        let mut upstream_timeout = None;
        // A failing service (T-ERR) answers at once, without calling its dependencies.
        let calls = if failure.is_some() {
            &[][..]
        } else {
            &operation.calls[..]
        };
        for call in calls {
            if !self.rng.chance(call.probability) {
                continue;
            }
            let repetitions = match call.max_count {
                Some(max) => (self.rng.pareto(f64::from(call.count), 1.1) as u32).min(max),
                None => call.count,
            };
            for _ in 0..repetitions {
                let call_start = if call.parallel {
                    previous_start
                } else {
                    cursor
                };
                if call_start >= deadline {
                    break;
                }
                previous_start = call_start;
                let result =
                    self.call(service_index, instance, span_id, call, call_start, deadline);
                cursor = cursor.max(result.end_ns);
                if let Some(error) = result.error {
                    child_error = Some(error);
                    if error == "timeout" {
                        upstream_timeout = Some((call.service, call.timeout_ns / 1_000_000));
                    }
                }
            }
        }
        let natural_end = cursor + self_time * 7 / 10;
        let (end, mut error) = if natural_end > deadline {
            (deadline, Some("timeout"))
        } else {
            (natural_end, None)
        };
        if error.is_none() && failure.is_some() {
            error = Some("injected");
        }
        let own_failure = self.rng.chance(operation.error_rate);
        if error.is_none() && own_failure {
            error = Some("exception");
        }
        if error.is_none() && child_error.is_some() && self.rng.chance(0.85) {
            error = child_error.map(|_| "upstream");
        }
        let status = match error {
            Some("timeout") => 504,
            Some("upstream") if child_error == Some("timeout") => 504,
            Some("injected") => failure.unwrap_or(500),
            Some(_) => 500,
            None => 200,
        };

        let mut span = self.server_span(
            service,
            operation_index,
            span_id,
            parent,
            start,
            end,
            status,
        );
        if own_failure && error == Some("exception") {
            let (kind, message) = EXCEPTIONS[self.rng.index(EXCEPTIONS.len())];
            let time_ns = end - (end - start) / 10;
            span.events
                .push(exception_event(time_ns, &service.name, kind, message));
            span.status_message = Some(format!("{kind}: {message}"));
        }
        if error == Some("injected") {
            let (kind, message) = injected_exception(service.kind, status);
            let time_ns = end - (end - start) / 10;
            span.events
                .push(exception_event(time_ns, &service.name, kind, message));
            if status >= 500 {
                span.status_message = Some(format!("{kind}: {message}"));
            }
        }
        self.trace.spans[span_position].span = span;
        if service.kind.is_instrumented() {
            self.trace.served.push(Served {
                service: service_index,
                instance,
                operation: operation_index,
                status,
                start_ns: start,
                duration: (end - start) as f64 / 1e9,
                trace_id: self.trace_id,
                span_id,
                error: match error {
                    Some("exception") => Some(EXCEPTIONS[0].0),
                    Some("injected") => Some(injected_exception(service.kind, status).0),
                    other => other,
                },
                upstream_timeout,
            });
        }
        Outcome {
            end_ns: end,
            error,
            status,
            injected: false,
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the span is built from the whole request state"
    )]
    fn server_span(
        &self,
        service: &Service,
        operation_index: usize,
        span_id: SpanId,
        parent: Option<SpanId>,
        start: i64,
        end: i64,
        status: u16,
    ) -> Span {
        let operation = &service.operations[operation_index];
        let mut attributes = Vec::with_capacity(8);
        if let Protocol::Http { method, route } = &operation.protocol {
            attributes.push(KeyValue::new("http.request.method", method.clone()));
            attributes.push(KeyValue::new("http.route", route.clone()));
            attributes.push(KeyValue::new("url.path", fill_route(route, span_id)));
            attributes.push(KeyValue::new("url.scheme", "http"));
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
            attributes.push(KeyValue::new("server.address", service.address.clone()));
            attributes.push(KeyValue::new("server.port", service.port));
            attributes.push(KeyValue::new("network.protocol.version", "1.1"));
        }
        if status >= 500 {
            attributes.push(KeyValue::new("error.type", status.to_string()));
        }
        Span {
            resource: 0,
            trace_id: self.trace_id,
            span_id,
            parent_span_id: parent,
            name: operation.name.clone(),
            kind: SpanKind::Server,
            start_ns: start,
            end_ns: end.max(start),
            // Server spans: 5xx is an error, 4xx is left unset (HTTP semantic conventions).
            status: if status >= 500 {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
            status_message: None,
            attributes,
            events: Vec::new(),
            links: Vec::new(),
            flags: 0x01,
        }
    }

    fn call(
        &mut self,
        caller: usize,
        caller_instance: usize,
        parent: SpanId,
        call: &Call,
        start: i64,
        deadline: i64,
    ) -> Outcome {
        let world = self.world;
        let callee = &world.services[call.service];
        let mut attempt_start = start;
        let mut last = Outcome {
            end_ns: start,
            error: None,
            status: 0,
            injected: false,
        };
        let (retries, raised_by) = self.retries(call, start);
        for attempt in 0..=retries {
            if attempt_start >= deadline {
                break;
            }
            if attempt > call.retries {
                self.count_retry(raised_by);
            }
            let limit = (attempt_start + call.timeout_ns).min(deadline);
            let client_id = self.span_id();
            let position = self.trace.spans.len();
            self.trace.spans.push(EmittedSpan {
                service: caller,
                instance: caller_instance,
                span: placeholder_span(),
            });
            let network = 100_000 + self.rng.below(400_000) as i64;
            let outcome = if callee.kind.is_instrumented() {
                let instance = self.rng.index(callee.instances.len());
                let inner = self.serve(
                    call.service,
                    call.operation,
                    instance,
                    attempt_start + network,
                    Some(client_id),
                    limit - network,
                );
                let end = (inner.end_ns + network).min(limit);
                // Only a callee made to overrun (T-TIMEOUT) ends past the limit.
                let overran = inner.end_ns + network > limit;
                let cut = inner.error == Some("timeout") && inner.end_ns + network >= limit;
                let error = if overran || cut {
                    Some("timeout")
                } else {
                    inner.error.map(|_| "upstream")
                };
                Outcome {
                    end_ns: end,
                    error,
                    status: inner.status,
                    injected: false,
                }
            } else {
                self.leaf_call(call, attempt_start, network, limit)
            };
            let mut span = self.client_span(
                callee,
                call,
                client_id,
                parent,
                attempt_start,
                &outcome,
                attempt,
            );
            if outcome.injected {
                let (kind, message) = injected_exception(callee.kind, outcome.status);
                let caller_name = &world.services[caller].name;
                span.events
                    .push(exception_event(outcome.end_ns, caller_name, kind, message));
            }
            self.trace.spans[position].span = span;
            let failed = outcome.error.is_some();
            last = outcome;
            if !failed {
                break;
            }
            // Exponential backoff with jitter before the next attempt.
            let backoff = 100_000_000i64 << attempt;
            attempt_start = last.end_ns + backoff / 2 + self.rng.below(backoff as u64 / 2) as i64;
        }
        last
    }

    /// One attempt at an uninstrumented callee (database, cache, queue, external API).
    fn leaf_call(&mut self, call: &Call, start: i64, network: i64, limit: i64) -> Outcome {
        let operation = &self.world.services[call.service].operations[call.operation];
        let at = (call.service, call.operation, None);
        let slowdown = self.slowdown(at, start);
        let mut duration = self.self_time(operation.mu, operation.sigma, slowdown);
        if let Some(overrun) = self.overrun(at, start, limit - start - network) {
            duration = duration.max(overrun);
        }
        let natural = start + network + duration;
        if natural > limit {
            return Outcome {
                end_ns: limit,
                error: Some("timeout"),
                status: 504,
                injected: false,
            };
        }
        if let Some(status) = self.failure(at, start) {
            return Outcome {
                end_ns: natural,
                error: Some("error"),
                status,
                injected: true,
            };
        }
        if self.rng.chance(operation.error_rate) {
            Outcome {
                end_ns: natural,
                error: Some("error"),
                status: 500,
                injected: false,
            }
        } else {
            Outcome {
                end_ns: natural,
                error: None,
                status: 200,
                injected: false,
            }
        }
    }

    /// T-LAT's multiplier of the self time of `at` (service, operation, instance) at `t_ns`.
    fn slowdown(&mut self, at: Site, t_ns: i64) -> f64 {
        let world = self.world;
        let Some(effects) = self.effects.as_deref_mut() else {
            return 1.0;
        };
        let factor = effects.latency(at.0, at.1, instance_id(world, at), t_ns);
        if factor != 1.0 {
            self.trace.touched = true;
        }
        factor
    }

    /// T-ERR's injected failure status of `at` at `t_ns`.
    fn failure(&mut self, at: Site, t_ns: i64) -> Option<u16> {
        let world = self.world;
        let status =
            self.effects
                .as_deref_mut()?
                .failure(at.0, at.1, instance_id(world, at), t_ns)?;
        self.trace.touched = true;
        Some(status)
    }

    /// T-TIMEOUT's overrun of `at` at `t_ns`, given `budget_ns` before its caller's deadline.
    fn overrun(&mut self, at: Site, t_ns: i64, budget_ns: i64) -> Option<i64> {
        let world = self.world;
        let overrun = self.effects.as_deref_mut()?.overrun(
            at.0,
            at.1,
            instance_id(world, at),
            t_ns,
            budget_ns,
        )?;
        self.trace.touched = true;
        Some(overrun)
    }

    /// T-RETRY's retries of `call` made at `t_ns`, and the anomaly that raised them.
    fn retries(&self, call: &Call, t_ns: i64) -> (u32, Option<usize>) {
        match self.effects.as_deref() {
            Some(effects) => effects.retries(call, t_ns),
            None => (call.retries, None),
        }
    }

    /// Counts a retry only an anomaly made.
    fn count_retry(&mut self, raised_by: Option<usize>) {
        if let (Some(effects), Some(index)) = (self.effects.as_deref_mut(), raised_by) {
            effects.count_retry(index);
            self.trace.touched = true;
        }
    }

    #[allow(clippy::too_many_arguments, reason = "one attempt's whole context")]
    fn client_span(
        &self,
        callee: &Service,
        call: &Call,
        span_id: SpanId,
        parent: SpanId,
        start: i64,
        outcome: &Outcome,
        attempt: u32,
    ) -> Span {
        let operation = &callee.operations[call.operation];
        let mut attributes = Vec::with_capacity(10);
        let kind = match &operation.protocol {
            Protocol::Http { method, route } => {
                attributes.push(KeyValue::new("http.request.method", method.clone()));
                attributes.push(KeyValue::new("server.address", callee.address.clone()));
                attributes.push(KeyValue::new("server.port", callee.port));
                attributes.push(KeyValue::new(
                    "url.full",
                    format!(
                        "http://{}:{}{}",
                        callee.address,
                        callee.port,
                        fill_route(route, span_id)
                    ),
                ));
                if outcome.status > 0 && outcome.error != Some("timeout") {
                    attributes.push(KeyValue::new(
                        "http.response.status_code",
                        i64::from(outcome.status),
                    ));
                }
                if attempt > 0 {
                    attributes.push(KeyValue::new(
                        "http.request.resend_count",
                        i64::from(attempt),
                    ));
                }
                attributes.push(KeyValue::new("peer.service", callee.name.clone()));
                SpanKind::Client
            }
            Protocol::Db {
                system,
                operation: db_operation,
                collection,
                query,
            } => {
                attributes.push(KeyValue::new("db.system.name", system.clone()));
                attributes.push(KeyValue::new("db.system", system.clone()));
                attributes.push(KeyValue::new("db.operation.name", db_operation.clone()));
                if let Some(collection) = collection {
                    attributes.push(KeyValue::new("db.collection.name", collection.clone()));
                    attributes.push(KeyValue::new("db.namespace", "shop"));
                    attributes.push(KeyValue::new("db.name", "shop"));
                }
                attributes.push(KeyValue::new("db.query.summary", operation.name.clone()));
                if let Some(query) = query {
                    attributes.push(KeyValue::new("db.query.text", query.clone()));
                }
                attributes.push(KeyValue::new("server.address", callee.address.clone()));
                attributes.push(KeyValue::new("server.port", callee.port));
                attributes.push(KeyValue::new("peer.service", callee.name.clone()));
                SpanKind::Client
            }
            Protocol::Messaging {
                system,
                operation: messaging,
                destination,
            } => {
                attributes.push(KeyValue::new("messaging.system", system.clone()));
                attributes.push(KeyValue::new("messaging.operation.type", messaging.clone()));
                attributes.push(KeyValue::new(
                    "messaging.destination.name",
                    destination.clone(),
                ));
                attributes.push(KeyValue::new("server.address", callee.address.clone()));
                attributes.push(KeyValue::new("peer.service", callee.name.clone()));
                SpanKind::Producer
            }
        };
        if let Some(error) = outcome.error {
            attributes.push(KeyValue::new("error.type", error));
        }
        Span {
            resource: 0,
            trace_id: self.trace_id,
            span_id,
            parent_span_id: Some(parent),
            name: operation.name.clone(),
            kind,
            start_ns: start,
            end_ns: outcome.end_ns.max(start),
            status: if outcome.error.is_some() {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
            status_message: outcome.error.map(|error| match error {
                "timeout" => format!("deadline of {} ms exceeded", call.timeout_ns / 1_000_000),
                other => format!("call to {} failed: {other}", callee.name),
            }),
            attributes,
            events: Vec::new(),
            links: Vec::new(),
            flags: 0x01,
        }
    }
}

/// The instance id of `at`, when it names an instance.
fn instance_id(world: &World, at: Site) -> Option<&str> {
    at.2.map(|i| world.services[at.0].instances[i].id.as_str())
}

fn placeholder_span() -> Span {
    Span {
        resource: 0,
        trace_id: [0; 16],
        span_id: [0; 8],
        parent_span_id: None,
        name: Cow::Borrowed(""),
        kind: SpanKind::Internal,
        start_ns: 0,
        end_ns: 0,
        status: StatusCode::Unset,
        status_message: None,
        attributes: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
        flags: 0,
    }
}

/// A concrete path for a route template: `{id}` becomes a number drawn from the span id.
pub fn fill_route(route: &str, span_id: SpanId) -> String {
    if !route.contains('{') {
        return route.to_string();
    }
    let id = u64::from_le_bytes(span_id) % 90_000 + 10_000;
    let mut out = String::with_capacity(route.len() + 8);
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        match rest[open..].find('}') {
            Some(close) => {
                out.push_str(&id.to_string());
                rest = &rest[open + close + 1..];
            }
            None => {
                rest = &rest[open..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}
