//! World anomalies as the simulation applies them: which services, operations and calls each
//! active anomaly of a bucket touches, and by how much at a given virtual time.
//!
//! An [`Effects`] is built per 100 ms bucket from the tenant's world anomalies whose window can
//! meet a request started in that bucket. Every query answers "no effect" without drawing a
//! random number unless an anomaly's window contains the time asked about and its target
//! matches; randomness an effect needs comes from the anomaly's own stream
//! ([`Anomaly::key`]), so the world's request streams draw exactly as in a clean run.
//!
//! - T-LAT multiplies the self time of the targeted operations by `1 + (factor − 1) · intensity`
//!   at the moment the operation starts; callers slow along the critical path on their own.
//! - T-ERR fails a share of the targeted operations with `status` (503): the service answers at
//!   once without calling its dependencies, and callers see the failure as any other.
//! - T-TIMEOUT makes a share of the calls to the target hang past the caller's deadline; the
//!   client span ends there with an error and the server span runs on.
//! - T-RETRY raises the retries of every call on a path to the target to `factor`.
//! - W-LOAD adds requests to the targeted entry points and raises utilisation, hence latency.
//!
//! Known simplifications: T-TIMEOUT needs a caller, so it never applies to entry operations;
//! W-LOAD's intensity is read once per bucket; an `instance` in the target is ignored by T-RETRY
//! and for uninstrumented services, whose calls pick no instance.

use std::sync::Arc;

use super::model::ServiceKind;
use super::world::{Call, Protocol, World};
use crate::anomaly::manifest::default_factor;
use crate::anomaly::{Anomaly, Kind};
use crate::random::{Rng, WeightedIndex};

/// Default multiplier of the request rate of a W-LOAD surge.
const DEFAULT_SURGE: f64 = 4.0;

/// Default share of calls that fail (T-ERR) or overrun their deadline (T-TIMEOUT).
const DEFAULT_SHARE: f64 = 0.5;

/// Default HTTP status of an injected failure.
const DEFAULT_STATUS: u16 = 503;

/// One active anomaly, resolved against the world.
struct Active {
    anomaly: Arc<Anomaly>,
    /// Per service, per operation: whether the target selects it.
    targeted: Vec<Vec<bool>>,
    /// T-RETRY: per service, per operation: whether it is the target or calls it, directly or
    /// through other services, so that its callers sit on a retrying layer.
    reaches: Vec<Vec<bool>>,
    /// Randomness of this anomaly in this bucket.
    rng: Rng,
    /// Spans or requests it changed in this bucket.
    affected: u64,
}

impl Active {
    /// Intensity at `t_ns` when the operation is targeted, else 0.
    fn at(&self, service: usize, operation: usize, instance: Option<&str>, t_ns: i64) -> f64 {
        if !self.targeted[service][operation] {
            return 0.0;
        }
        if let (Some(wanted), Some(instance)) = (&self.anomaly.target.instance, instance)
            && wanted != instance
        {
            return 0.0;
        }
        self.anomaly.intensity(t_ns)
    }
}

/// A W-LOAD anomaly's entry points.
struct Surge {
    /// Index of the anomaly in `Effects::active`.
    index: usize,
    /// The entry points it adds requests to.
    entries: Vec<(usize, usize)>,
    /// Their request mix.
    mix: WeightedIndex,
    /// Their share of the tenant's requests.
    share: f64,
}

/// Requests a surge adds to a bucket.
pub struct ExtraRequests {
    /// The randomness to simulate them with.
    pub rng: Rng,
    /// Start times and entry points, in time order.
    pub requests: Vec<(i64, (usize, usize))>,
}

/// The world anomalies of one tenant in one bucket.
pub struct Effects {
    active: Vec<Active>,
    surges: Vec<Surge>,
}

impl Effects {
    /// Resolves `anomalies` against `world` for bucket `bucket`.
    pub fn new(world: &World, anomalies: Vec<Arc<Anomaly>>, bucket: i64) -> Effects {
        let mut active = Vec::with_capacity(anomalies.len());
        let mut surges = Vec::new();
        for anomaly in anomalies {
            let targeted = targeted(world, &anomaly);
            let reaches = if anomaly.kind == Kind::TRetry {
                reaches(world, &targeted)
            } else {
                Vec::new()
            };
            if anomaly.kind == Kind::WLoad
                && let Some(surge) = surge(world, &targeted, active.len())
            {
                surges.push(surge);
            }
            let rng = anomaly.key("world").with_u64(bucket as u64).rng();
            active.push(Active {
                anomaly,
                targeted,
                reaches,
                rng,
                affected: 0,
            });
        }
        Effects { active, surges }
    }

    /// The state of the anomalies' randomness and counts, to [`Effects::restore`] after a
    /// request simulated only to find out whether an anomaly reaches it.
    pub fn checkpoint(&self) -> Vec<(Rng, u64)> {
        self.active
            .iter()
            .map(|active| (active.rng.clone(), active.affected))
            .collect()
    }

    /// Goes back to a [`Effects::checkpoint`].
    pub fn restore(&mut self, checkpoint: Vec<(Rng, u64)>) {
        for (active, (rng, affected)) in self.active.iter_mut().zip(checkpoint) {
            active.rng = rng;
            active.affected = affected;
        }
    }

    /// Adds the spans and requests changed in this bucket to each anomaly's count.
    pub fn flush(&mut self) {
        for active in &mut self.active {
            if active.affected > 0 {
                active.anomaly.add_affected(active.affected);
                active.affected = 0;
            }
        }
    }

    /// T-LAT: the multiplier of an operation's self time started at `t_ns` (1 when none).
    pub fn latency(
        &mut self,
        service: usize,
        operation: usize,
        instance: Option<&str>,
        t_ns: i64,
    ) -> f64 {
        let mut factor = 1.0;
        for active in self
            .active
            .iter_mut()
            .filter(|a| a.anomaly.kind == Kind::TLat)
        {
            let intensity = active.at(service, operation, instance, t_ns);
            if intensity > 0.0 {
                let full = default_factor(Kind::TLat, &active.anomaly.params).max(0.0);
                factor *= 1.0 + (full - 1.0) * intensity;
                active.affected += 1;
            }
        }
        factor
    }

    /// T-ERR: the HTTP status of an injected failure of an operation started at `t_ns`.
    pub fn failure(
        &mut self,
        service: usize,
        operation: usize,
        instance: Option<&str>,
        t_ns: i64,
    ) -> Option<u16> {
        for active in self
            .active
            .iter_mut()
            .filter(|a| a.anomaly.kind == Kind::TErr)
        {
            let intensity = active.at(service, operation, instance, t_ns);
            if intensity > 0.0 {
                let share = active.anomaly.params.share_or(DEFAULT_SHARE) * intensity;
                if active.rng.chance(share) {
                    active.affected += 1;
                    return Some(active.anomaly.params.status.unwrap_or(DEFAULT_STATUS));
                }
            }
        }
        None
    }

    /// T-TIMEOUT: how far past its caller's deadline `budget_ns` away an operation started at
    /// `t_ns` runs, when it is made to overrun.
    pub fn overrun(
        &mut self,
        service: usize,
        operation: usize,
        instance: Option<&str>,
        t_ns: i64,
        budget_ns: i64,
    ) -> Option<i64> {
        for active in self
            .active
            .iter_mut()
            .filter(|a| a.anomaly.kind == Kind::TTimeout)
        {
            let intensity = active.at(service, operation, instance, t_ns);
            if intensity > 0.0 {
                let share = active.anomaly.params.share_or(DEFAULT_SHARE) * intensity;
                if active.rng.chance(share) {
                    active.affected += 1;
                    // Hangs for the whole budget and then some: 10–100 % more.
                    let extra = budget_ns.max(1_000_000) as f64 * (0.1 + 0.9 * active.rng.f64());
                    return Some(budget_ns.max(0) + extra as i64);
                }
            }
        }
        None
    }

    /// T-RETRY: the retries of `call` made at `t_ns`, and the anomaly that raised them.
    pub fn retries(&self, call: &Call, t_ns: i64) -> (u32, Option<usize>) {
        let mut best = (call.retries, None);
        for (index, active) in self.active.iter().enumerate() {
            if active.anomaly.kind != Kind::TRetry || !active.reaches[call.service][call.operation]
            {
                continue;
            }
            let intensity = active.anomaly.intensity(t_ns);
            let full = default_factor(Kind::TRetry, &active.anomaly.params).max(0.0);
            let retries = (full * intensity).round() as u32;
            if retries > best.0 {
                best = (retries, Some(index));
            }
        }
        best
    }

    /// Counts one retry attempt that only the anomaly at `index` made.
    pub fn count_retry(&mut self, index: usize) {
        if let Some(active) = self.active.get_mut(index) {
            active.affected += 1;
        }
    }

    /// W-LOAD: the multiplier of the tenant's whole request rate at `t_ns` (1 when none).
    pub fn load(&self, t_ns: i64) -> f64 {
        let mut load = 1.0;
        for surge in &self.surges {
            let anomaly = &self.active[surge.index].anomaly;
            let intensity = anomaly.intensity(t_ns);
            let factor = anomaly.params.factor_or(DEFAULT_SURGE);
            load += (factor - 1.0).max(0.0) * intensity * surge.share;
        }
        load
    }

    /// W-LOAD: the requests surges add to a bucket starting at `start_ns` of `bucket_ns` over
    /// a tenant `rate` per second.
    pub fn extra_requests(
        &mut self,
        rate: f64,
        start_ns: i64,
        bucket_ns: i64,
    ) -> Vec<ExtraRequests> {
        let mut extra = Vec::new();
        for surge in &self.surges {
            let active = &mut self.active[surge.index];
            let intensity = active.anomaly.intensity(start_ns);
            if intensity <= 0.0 {
                continue;
            }
            let factor = active.anomaly.params.factor_or(DEFAULT_SURGE);
            let mean =
                rate * surge.share * (factor - 1.0).max(0.0) * intensity * bucket_ns as f64 / 1e9;
            let count = active.rng.poisson(mean);
            let mut requests: Vec<(i64, (usize, usize))> = (0..count)
                .map(|_| {
                    let at = start_ns + active.rng.below(bucket_ns.max(1) as u64) as i64;
                    (at, surge.entries[surge.mix.sample(&mut active.rng)])
                })
                .collect();
            requests.sort_by_key(|(at, _)| *at);
            active.affected += count;
            let bucket = start_ns.div_euclid(bucket_ns.max(1));
            let rng = active.anomaly.key("surge").with_u64(bucket as u64).rng();
            extra.push(ExtraRequests { rng, requests });
        }
        extra
    }
}

/// Per service and operation, whether `anomaly`'s target selects it.
fn targeted(world: &World, anomaly: &Anomaly) -> Vec<Vec<bool>> {
    let target = &anomaly.target;
    world
        .services
        .iter()
        .map(|service| {
            let service_matches = anomaly.matches_service(&service.name)
                && target
                    .service_kind
                    .as_deref()
                    .is_none_or(|kind| kind == kind_name(service.kind));
            service
                .operations
                .iter()
                .map(|operation| {
                    service_matches
                        && target.route.as_deref().is_none_or(|route| {
                            route == operation.name
                                || matches!(&operation.protocol,
                                    Protocol::Http { route: own, .. } if own == route)
                        })
                })
                .collect()
        })
        .collect()
}

/// The `service_kind` spelling of a kind.
fn kind_name(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Frontend => "frontend",
        ServiceKind::Backend => "backend",
        ServiceKind::Database => "database",
        ServiceKind::Cache => "cache",
        ServiceKind::Queue => "queue",
        ServiceKind::External => "external",
    }
}

/// Operations that are targeted or call a targeted one through any number of layers.
fn reaches(world: &World, targeted: &[Vec<bool>]) -> Vec<Vec<bool>> {
    let mut reaches = targeted.to_vec();
    let mut changed = true;
    while changed {
        changed = false;
        for (s, service) in world.services.iter().enumerate() {
            for (o, operation) in service.operations.iter().enumerate() {
                if reaches[s][o] {
                    continue;
                }
                if operation
                    .calls
                    .iter()
                    .any(|call| reaches[call.service][call.operation])
                {
                    reaches[s][o] = true;
                    changed = true;
                }
            }
        }
    }
    reaches
}

/// The entry points a W-LOAD target selects, as the surge of the anomaly at `index`.
fn surge(world: &World, targeted: &[Vec<bool>], index: usize) -> Option<Surge> {
    let total: f64 = world.entry_weights.iter().sum();
    let weights: Vec<f64> = world.entry_weights.iter().map(|w| w / total).collect();
    let chosen: Vec<usize> = (0..world.entries.len())
        .filter(|i| {
            let (s, o) = world.entries[*i];
            targeted[s][o]
        })
        .collect();
    let share: f64 = chosen.iter().map(|i| weights[*i]).sum();
    let mix = WeightedIndex::new(&chosen.iter().map(|i| weights[*i]).collect::<Vec<_>>())?;
    let entries = chosen.iter().map(|i| world.entries[*i]).collect();
    (share > 0.0).then_some(Surge {
        index,
        entries,
        mix,
        share,
    })
}
