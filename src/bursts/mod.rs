//! Bursts: temporary, scoped runs added to the live daemon by `POST /api/v1/bursts`.
//!
//! A burst registers its anomalies (a scenario's, or those it lists) in the shared registry and
//! records their manifest entries before anything they change is generated: world anomalies then
//! act on the tenant's simulation, data anomalies on every pipeline's batches of the tenant. A
//! burst with volume (`count` or `rate`) also generates its own logs or traces for the tenant on
//! a thread of its own, applies its data anomalies to them and delivers them through its own
//! instances of the exporters, so its delivery counts are exactly its own.

pub mod request;
mod run;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;

use crate::anomaly::manifest::{Entry, rfc3339};
use crate::anomaly::plan::{Placement, place};
use crate::anomaly::scenario::{self, Planned};
use crate::anomaly::{Anomaly, Layer, Registry};
use crate::config::Config;
use crate::model::{Signal, TenantId};
use crate::pipeline::clock::Clock;
use crate::pipeline::stats::{ComponentStats, DeliverySnapshot};
use crate::sources::SourceConfig;
use request::{Checked, Limits, Refusal};

/// Bursts kept for `GET` after they end, at most.
const KEEP_FINISHED: usize = 100;

/// Lifecycle of a burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Its window has not started.
    Pending,
    /// Generating or injecting.
    Running,
    /// Done; everything was delivered or counted.
    Completed,
    /// Stopped by `DELETE`.
    Cancelled,
    /// Could not run (an exporter or source failed to build).
    Failed,
}

/// The own volume of a burst and its delivery.
#[derive(Debug)]
pub struct Volume {
    /// Signals generated.
    pub signals: Vec<Signal>,
    /// Records to generate at most (from `count`).
    pub target: Option<u64>,
    /// Records generated so far.
    pub generated: AtomicU64,
    /// The burst's exporter instances and their counters.
    pub exporters: Vec<Arc<ComponentStats>>,
    /// Set when generation ended and every exporter finished.
    pub done: AtomicBool,
    /// Milliseconds from acceptance to the first batch offered to an exporter.
    pub first_batch_ms: OnceLock<f64>,
    /// Why it failed, if it did.
    pub failure: OnceLock<String>,
}

/// One burst.
#[derive(Debug)]
pub struct Burst {
    /// `b-…`, sortable by creation time.
    pub id: String,
    /// Tenant.
    pub tenant: TenantId,
    /// Scenario, if any.
    pub scenario: Option<String>,
    /// Creation time, unix ns.
    pub created_ns: i64,
    /// Window start, unix ns.
    pub start_ns: i64,
    /// Window end, unix ns.
    pub end_ns: i64,
    /// The injected anomalies.
    pub anomalies: Vec<Arc<Anomaly>>,
    /// Manifest entries, symptoms included.
    manifest: Mutex<Vec<Entry>>,
    /// Own volume, if any.
    pub volume: Option<Arc<Volume>>,
    cancelled: AtomicBool,
    cancelled_at: OnceLock<i64>,
}

impl Burst {
    /// The state at `now_ns`.
    pub fn state(&self, now_ns: i64) -> State {
        if self.cancelled.load(Ordering::Relaxed) {
            return State::Cancelled;
        }
        if let Some(volume) = &self.volume {
            if volume.failure.get().is_some() {
                return State::Failed;
            }
            if volume.done.load(Ordering::Relaxed) {
                return if now_ns < self.end_ns && volume.target.is_none() {
                    State::Running
                } else {
                    State::Completed
                };
            }
            return State::Running;
        }
        // A simulation runs behind the clock: world anomalies keep showing in emitted data
        // until it has simulated past the window's end.
        let lag = if self
            .anomalies
            .iter()
            .any(|a| a.kind.layer() == Layer::World)
        {
            crate::sources::simulation::LAG_NS
        } else {
            0
        };
        if now_ns < self.start_ns {
            State::Pending
        } else if now_ns < self.end_ns + lag {
            State::Running
        } else {
            State::Completed
        }
    }

    /// Whether it still runs (pending or running).
    pub fn is_active(&self, now_ns: i64) -> bool {
        matches!(self.state(now_ns), State::Pending | State::Running)
    }

    /// The manifest, one entry per anomaly.
    pub fn manifest(&self) -> Vec<Entry> {
        let mut entries = self
            .manifest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (entry, anomaly) in entries
            .iter_mut()
            .filter(|e| e.injected)
            .zip(&self.anomalies)
        {
            entry.refresh(anomaly);
        }
        entries
    }

    /// Whether `DELETE` was asked.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The status document.
    pub fn status(&self, now_ns: i64) -> BurstStatus {
        let state = self.state(now_ns);
        let span = (self.end_ns - self.start_ns).max(1) as f64;
        let progress = match (&self.volume, state) {
            (_, State::Completed) => 1.0,
            (Some(volume), _) if volume.target.is_some() => {
                volume.generated.load(Ordering::Relaxed) as f64
                    / volume.target.unwrap_or(1).max(1) as f64
            }
            _ => ((now_ns - self.start_ns) as f64 / span).clamp(0.0, 1.0),
        };
        let mut delivery = Vec::new();
        if let Some(volume) = &self.volume {
            for exporter in &volume.exporters {
                for (_, signal, counts) in exporter.snapshot() {
                    delivery.push(ExporterDelivery {
                        exporter: exporter.id().to_string(),
                        signal: signal.as_str(),
                        counts,
                    });
                }
            }
        }
        BurstStatus {
            id: self.id.clone(),
            tenant: self.tenant.to_string(),
            state,
            scenario: self.scenario.clone(),
            created: rfc3339(self.created_ns),
            start: rfc3339(self.start_ns),
            end: rfc3339(self.cancelled_at.get().copied().unwrap_or(self.end_ns)),
            progress: progress.clamp(0.0, 1.0),
            anomalies: self
                .anomalies
                .iter()
                .map(|a| AnomalyProgress {
                    id: a.id.clone(),
                    kind: a.kind.code(),
                    affected: a.affected(),
                })
                .collect(),
            generated: self
                .volume
                .as_ref()
                .map(|v| v.generated.load(Ordering::Relaxed)),
            target_count: self.volume.as_ref().and_then(|v| v.target),
            delivery,
            first_batch_ms: self
                .volume
                .as_ref()
                .and_then(|v| v.first_batch_ms.get().copied()),
            error: self.volume.as_ref().and_then(|v| v.failure.get().cloned()),
            manifest: format!("/api/v1/bursts/{}/manifest", self.id),
        }
    }
}

/// Records changed by one anomaly.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AnomalyProgress {
    /// Anomaly id.
    pub id: String,
    /// Taxonomy code.
    pub kind: &'static str,
    /// Records changed, added or removed so far.
    pub affected: u64,
}

/// Delivery of the burst's own volume through one exporter, for one signal.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ExporterDelivery {
    /// Exporter id.
    pub exporter: String,
    /// Signal.
    pub signal: &'static str,
    /// Counters.
    #[serde(flatten)]
    pub counts: DeliverySnapshot,
}

/// `GET /api/v1/bursts/{id}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BurstStatus {
    /// Burst id.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Lifecycle state.
    pub state: State,
    /// Scenario, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// When it was accepted.
    pub created: String,
    /// Window start.
    pub start: String,
    /// Window end (the cancellation time once cancelled).
    pub end: String,
    /// Share done, 0 to 1.
    pub progress: f64,
    /// Per injected anomaly, the records it changed.
    pub anomalies: Vec<AnomalyProgress>,
    /// Records of own volume generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<u64>,
    /// Records of own volume asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_count: Option<u64>,
    /// Delivery of the own volume, per exporter and signal.
    pub delivery: Vec<ExporterDelivery>,
    /// Milliseconds from acceptance to the first batch reaching an exporter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_batch_ms: Option<f64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where the ground truth is.
    pub manifest: String,
}

/// Every burst of a daemon.
pub struct Bursts {
    config: Arc<Config>,
    registry: Arc<Registry>,
    clock: Clock,
    runtime: tokio::runtime::Handle,
    config_hash: String,
    bursts: Mutex<BTreeMap<String, Arc<Burst>>>,
    counter: AtomicU64,
}

impl Bursts {
    /// The burst manager of a daemon running `config`.
    pub fn new(
        config: Arc<Config>,
        registry: Arc<Registry>,
        clock: Clock,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Bursts> {
        Arc::new(Bursts {
            config_hash: config.hash(),
            config,
            registry,
            clock,
            runtime,
            bursts: Mutex::new(BTreeMap::new()),
            counter: AtomicU64::new(0),
        })
    }

    /// Virtual now.
    pub fn now_ns(&self) -> i64 {
        self.clock.now_ns()
    }

    fn limits(&self) -> Limits {
        Limits {
            max_duration: self.config.admin.max_burst_duration,
            max_records: self.config.admin.max_burst_records,
            max_rate: self.config.admin.max_burst_rate,
        }
    }

    /// Whether a running `simulation` source serves `tenant`.
    fn simulated(&self, tenant: &str) -> bool {
        self.config.sources.iter().any(|(id, source)| {
            matches!(source, SourceConfig::Simulation(_))
                && source
                    .tenants()
                    .is_none_or(|tenants| tenants.iter().any(|t| t == tenant))
                && self
                    .config
                    .pipelines
                    .values()
                    .any(|p| p.sources.contains(id))
        })
    }

    /// Push exporters of the pipelines of `signal`.
    fn default_exporters(&self, signal: Signal) -> Vec<String> {
        let mut ids = Vec::new();
        for (id, pipeline) in &self.config.pipelines {
            if Config::pipeline_signal(id) != Some(signal) {
                continue;
            }
            for exporter in &pipeline.exporters {
                let push = self
                    .config
                    .exporters
                    .get(exporter)
                    .is_some_and(|e| !e.is_pull());
                if push && !ids.contains(exporter) {
                    ids.push(exporter.clone());
                }
            }
        }
        ids
    }

    /// Validates and starts a burst from a request body.
    pub fn start(&self, body: &[u8]) -> Result<Arc<Burst>, Refusal> {
        let parsed = request::parse(body)?;
        if !self.config.tenants.contains_key(&parsed.tenant) {
            return Err(Refusal {
                status: 404,
                code: "unknown_tenant",
                message: format!(
                    "no tenant {:?}; GET /api/v1/tenants lists them",
                    parsed.tenant
                ),
                field: Some("tenant".into()),
            });
        }
        let checked = request::check(parsed, &self.limits())?;
        let plan = self.plan(&checked)?;
        if plan
            .iter()
            .any(|p| p.injected && p.kind.layer() == Layer::World)
            && !self.simulated(&checked.request.tenant)
        {
            let field = if checked.request.scenario.is_some() {
                "scenario"
            } else {
                "anomalies"
            };
            return Err(Refusal::invalid(
                field,
                format!(
                    "tenant {:?} has no running simulation source; world anomalies (latency, errors, retries, load) act on its simulation",
                    checked.request.tenant
                ),
            ));
        }
        let exporters = self.exporters_for(&checked)?;
        let accepted = std::time::Instant::now();
        let now = self.now_ns();
        let id = self.next_id(now);
        let seed = checked.request.seed.unwrap_or(self.config.seed);
        let prepared = run::prepare(
            &checked,
            &exporters,
            seed,
            &id,
            &self.config,
            &self.registry,
        )?;
        let mut bursts = self.bursts.lock().unwrap_or_else(|p| p.into_inner());
        let active = bursts.values().filter(|b| b.is_active(now)).count();
        if active >= self.config.admin.max_concurrent_bursts {
            return Err(Refusal {
                status: 429,
                code: "too_many_bursts",
                message: format!(
                    "{active} bursts are running, the limit is {} (admin.max_concurrent_bursts); DELETE one or wait",
                    self.config.admin.max_concurrent_bursts
                ),
                field: None,
            });
        }
        let tenant: TenantId = Arc::from(checked.request.tenant.as_str());
        let (anomalies, entries) = place(
            &plan,
            &Placement {
                tenant: &tenant,
                start_ns: now,
                end_ns: now + checked.duration_ns,
                id_prefix: &id,
                seed,
                config_hash: &self.config_hash,
            },
            &self.registry,
        );
        let volume = (!checked.volume_signals.is_empty()).then(|| {
            Arc::new(Volume {
                signals: checked.volume_signals.clone(),
                target: checked.request.count,
                generated: AtomicU64::new(0),
                exporters: exporters
                    .iter()
                    .map(|(id, type_name)| {
                        crate::pipeline::stats::Stats::detached("burst_exporter", id, type_name)
                    })
                    .collect(),
                done: AtomicBool::new(false),
                first_batch_ms: OnceLock::new(),
                failure: OnceLock::new(),
            })
        });
        let burst = Arc::new(Burst {
            id: id.clone(),
            tenant,
            scenario: checked.request.scenario.clone(),
            created_ns: now,
            start_ns: now,
            end_ns: now + checked.duration_ns,
            anomalies,
            manifest: Mutex::new(entries),
            volume,
            cancelled: AtomicBool::new(false),
            cancelled_at: OnceLock::new(),
        });
        tracing::info!(
            burst = %id,
            tenant = %burst.tenant,
            scenario = ?burst.scenario,
            anomalies = burst.anomalies.len(),
            duration_secs = checked.duration_ns as f64 / 1e9,
            "Burst accepted."
        );
        if burst.volume.is_some() {
            run::spawn(
                &self.runtime,
                Arc::clone(&burst),
                prepared,
                &checked,
                Arc::clone(&self.registry),
                self.clock.clone(),
                accepted,
            );
        }
        bursts.insert(id, Arc::clone(&burst));
        self.forget_old(&mut bursts, now);
        Ok(burst)
    }

    fn plan(&self, checked: &Checked) -> Result<Vec<Planned>, Refusal> {
        if let Some(name) = &checked.request.scenario {
            let target = checked.request.target.clone().unwrap_or_default();
            return scenario::expand(name, &target)
                .ok_or_else(|| Refusal::invalid("scenario", format!("unknown scenario {name:?}")));
        }
        let span = checked.duration_ns.max(1) as f64;
        Ok(checked
            .anomalies
            .iter()
            .map(|(spec, start, length)| Planned {
                kind: spec.kind,
                target: spec.target.clone(),
                from: *start as f64 / span,
                to: (*start + *length) as f64 / span,
                shape: spec.shape,
                params: spec.params.clone(),
                injected: true,
                root_cause: true,
                expected: false,
                observables: Vec::new(),
            })
            .collect())
    }

    /// The exporters of the own volume, with their types, validated.
    fn exporters_for(&self, checked: &Checked) -> Result<Vec<(String, &'static str)>, Refusal> {
        if checked.volume_signals.is_empty() {
            if checked.request.exporters.is_some() {
                return Err(Refusal::invalid(
                    "exporters",
                    "exporters choose where the burst's own volume goes; give count or rate",
                ));
            }
            return Ok(Vec::new());
        }
        let ids = match &checked.request.exporters {
            Some(ids) => ids.clone(),
            None => {
                let mut ids = Vec::new();
                for signal in &checked.volume_signals {
                    for id in self.default_exporters(*signal) {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                }
                ids
            }
        };
        if ids.is_empty() {
            return Err(Refusal::invalid(
                "exporters",
                "no push exporter serves these signals; name one in exporters",
            ));
        }
        let mut out = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let field = format!("exporters[{i}]");
            match self.config.exporters.get(id) {
                None => {
                    let known: Vec<&String> = self.config.exporters.keys().collect();
                    return Err(Refusal::invalid(
                        &field,
                        format!("no exporter {id:?}; configured: {known:?}"),
                    ));
                }
                Some(exporter) if exporter.is_pull() => {
                    return Err(Refusal::invalid(
                        &field,
                        format!("{id:?} is scraped, not pushed; bursts push their volume"),
                    ));
                }
                Some(exporter) => out.push((id.clone(), exporter.type_name())),
            }
        }
        Ok(out)
    }

    fn next_id(&self, now_ns: i64) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut value = ((now_ns / 1_000_000) as u64) << 16 | (n & 0xffff);
        let mut text = [b'0'; 13];
        for slot in text.iter_mut().rev() {
            *slot = ALPHABET[(value & 31) as usize];
            value >>= 5;
        }
        format!("b-{}", String::from_utf8_lossy(&text))
    }

    fn forget_old(&self, bursts: &mut BTreeMap<String, Arc<Burst>>, now: i64) {
        let finished: Vec<String> = bursts
            .iter()
            .filter(|(_, b)| !b.is_active(now))
            .map(|(id, _)| id.clone())
            .collect();
        if finished.len() > KEEP_FINISHED {
            for id in &finished[..finished.len() - KEEP_FINISHED] {
                bursts.remove(id);
            }
        }
    }

    /// Every known burst, oldest first.
    pub fn list(&self) -> Vec<Arc<Burst>> {
        let bursts = self.bursts.lock().unwrap_or_else(|p| p.into_inner());
        bursts.values().cloned().collect()
    }

    /// The burst `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Burst>> {
        let bursts = self.bursts.lock().unwrap_or_else(|p| p.into_inner());
        bursts.get(id).cloned()
    }

    /// Cancels the burst `id`: its anomalies end now, its volume stops within one batch
    /// interval, what was generated is still delivered and counted.
    pub fn cancel(&self, id: &str) -> Option<Arc<Burst>> {
        let burst = self.get(id)?;
        let now = self.now_ns();
        if burst.is_active(now) {
            burst.cancelled.store(true, Ordering::Relaxed);
            let _ = burst.cancelled_at.set(now);
            self.registry.cut(&format!("{id}-"), now);
            tracing::info!(burst = %id, "Burst cancelled.");
        }
        Some(burst)
    }

    /// Stops every burst (daemon shutdown).
    pub fn cancel_all(&self) {
        for burst in self.list() {
            self.cancel(&burst.id);
        }
    }
}

/// Waits until `burst`'s own volume is done, at most `timeout`.
pub async fn wait_done(burst: &Burst, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let done = burst
            .volume
            .as_ref()
            .is_none_or(|v| v.done.load(Ordering::Relaxed));
        if done {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests;
