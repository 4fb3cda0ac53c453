//! Turning a plan (a scenario's, or a list of anomalies) into registered anomalies and their
//! manifest entries, written before any data they change is generated.

use std::sync::Arc;

use super::manifest::Entry;
use super::scenario::Planned;
use super::{Anomaly, Registry};
use crate::model::TenantId;

/// Where and when a plan runs.
pub struct Placement<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// Window start, unix ns of virtual time.
    pub start_ns: i64,
    /// Window end.
    pub end_ns: i64,
    /// Prefix of the anomaly ids (a burst id or a schedule occurrence).
    pub id_prefix: &'a str,
    /// Seed of the injections.
    pub seed: u64,
    /// Hash of the running configuration.
    pub config_hash: &'a str,
}

/// Registers the injected anomalies of `plan` and returns them with every manifest entry
/// (symptoms included), in plan order.
pub fn place(
    plan: &[Planned],
    placement: &Placement<'_>,
    registry: &Registry,
) -> (Vec<Arc<Anomaly>>, Vec<Entry>) {
    let span = (placement.end_ns - placement.start_ns).max(0) as f64;
    let mut anomalies = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut root_id: Option<String> = None;
    for (n, planned) in plan.iter().enumerate() {
        let anomaly = Anomaly::new(
            format!("{}-{n}", placement.id_prefix),
            planned.kind,
            Arc::clone(placement.tenant),
            planned.target.clone(),
            placement.start_ns + (planned.from * span) as i64,
            placement.start_ns + (planned.to * span) as i64,
            planned.shape,
            planned.params.clone(),
            placement.seed,
        );
        let mut entry = Entry::of(&anomaly, placement.id_prefix, placement.config_hash);
        entry.root_cause = planned.root_cause;
        entry.expected = planned.expected;
        entry.injected = planned.injected;
        if !planned.observables.is_empty() {
            entry.expected_observables = planned.observables.clone();
        }
        if planned.root_cause {
            root_id = Some(anomaly.id.clone());
        } else {
            entry.caused_by = root_id.clone();
        }
        entries.push(entry);
        if planned.injected {
            anomalies.push(registry.add(anomaly));
        }
    }
    (anomalies, entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::Target;
    use crate::anomaly::scenario::expand;
    use crate::model::Signal;

    #[test]
    fn db_slowdown_places_a_root_and_linked_symptoms() {
        let registry = Registry::new();
        let plan = expand("db_slowdown", &Target::default()).expect("scenario");
        let tenant: TenantId = "acme".into();
        let (anomalies, entries) = place(
            &plan,
            &Placement {
                tenant: &tenant,
                start_ns: 1_000,
                end_ns: 2_000,
                id_prefix: "b-1",
                seed: 3,
                config_hash: "h",
            },
            &registry,
        );
        assert_eq!(anomalies.len(), 1);
        assert!(entries[0].root_cause && entries[0].injected);
        assert!(
            entries[1..]
                .iter()
                .all(|e| e.caused_by.as_deref() == Some("b-1-0"))
        );
        assert!(entries[1..].iter().all(|e| !e.injected));
        assert_eq!(
            registry
                .matching(
                    "acme",
                    Signal::Logs,
                    crate::anomaly::Layer::World,
                    1_500,
                    1_600
                )
                .len(),
            1
        );
    }
}
