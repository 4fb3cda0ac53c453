//! `generate --anomaly SPEC --manifest PATH`: anomalies injected into a one-shot generation,
//! with their manifest written before any record.
//!
//! A spec is `KIND[@START[+DURATION]][,key=value…]`: `START` is an offset from `--from` (default
//! 0), `DURATION` the window's length (default 10m), keys are the anomaly's parameters
//! (`factor`, `share`, `offset`, `size`, `status`) and target (`service`, `service_kind`,
//! `route`, `instance`, `metric`). Example: `L-MALFORMED@30s+2m,share=0.1`.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};

use crate::anomaly::manifest::Entry;
use crate::anomaly::plan::{Placement, place};
use crate::anomaly::scenario::Planned;
use crate::anomaly::{Kind, Params, Registry, Shape, Target, parse_signed_duration};
use crate::model::{Batch, Signal, TenantId};
use crate::processors::Processor as _;
use crate::processors::inject_anomaly::InjectAnomaly;

/// Default window length of a spec without `+DURATION`.
const DEFAULT_WINDOW_NS: i64 = 600_000_000_000;

/// One parsed `--anomaly` spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// The code.
    pub kind: Kind,
    /// Offset from `--from`, ns.
    pub start_ns: i64,
    /// Window length, ns.
    pub duration_ns: i64,
    /// Target.
    pub target: Target,
    /// Parameters.
    pub params: Params,
}

/// Parses `KIND[@START[+DURATION]][,key=value…]`.
pub fn parse_spec(text: &str) -> anyhow::Result<Spec> {
    let mut parts = text.split(',');
    let head = parts.next().unwrap_or_default().trim();
    let (code, window) = match head.split_once('@') {
        Some((code, window)) => (code, Some(window)),
        None => (head, None),
    };
    let kind = Kind::parse(code).ok_or_else(|| anyhow!("unknown anomaly kind {code:?}"))?;
    let (start_ns, duration_ns) = match window {
        None => (0, DEFAULT_WINDOW_NS),
        Some(window) => {
            let (start, length) = match window.split_once('+') {
                Some((start, length)) => (start, Some(length)),
                None => (window, None),
            };
            let start = parse_signed_duration(start).map_err(|e| anyhow!(e))?;
            let length = match length {
                Some(length) => parse_signed_duration(length).map_err(|e| anyhow!(e))?,
                None => DEFAULT_WINDOW_NS,
            };
            (start, length)
        }
    };
    if start_ns < 0 || duration_ns <= 0 {
        bail!("{text:?}: the window must start at or after --from and last more than 0");
    }
    let mut target = Target::default();
    let mut params = Params::default();
    for pair in parts {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("{text:?}: expected key=value, got {pair:?}"))?;
        let number = || -> anyhow::Result<f64> {
            value
                .parse::<f64>()
                .with_context(|| format!("{key}={value:?} is not a number"))
        };
        match key.trim() {
            "factor" => params.factor = Some(number()?),
            "share" => params.share = Some(number()?.clamp(0.0, 1.0)),
            "size" => params.size = Some(number()? as u64),
            "status" => params.status = Some(number()? as u16),
            "offset" => params.offset = Some(parse_signed_duration(value).map_err(|e| anyhow!(e))?),
            "service" => target.service = Some(value.to_string()),
            "service_kind" => target.service_kind = Some(value.to_string()),
            "route" => target.route = Some(value.to_string()),
            "instance" => target.instance = Some(value.to_string()),
            "metric" => target.metric = Some(value.to_string()),
            other => bail!(
                "{text:?}: unknown key {other:?} (factor, share, offset, size, status, service, service_kind, route, instance, metric)"
            ),
        }
    }
    Ok(Spec {
        kind,
        start_ns,
        duration_ns,
        target,
        params,
    })
}

/// The anomalies of one generation.
pub struct Injection {
    /// Holds them (sources read the world anomalies from here).
    pub registry: Arc<Registry>,
    stage: Option<InjectAnomaly>,
}

impl Injection {
    /// Registers `specs` for `tenant` from `from_ns` in `registry` and writes their manifest to
    /// `manifest`.
    pub fn prepare(
        registry: Arc<Registry>,
        specs: &[String],
        signal: Signal,
        tenant: &str,
        from_ns: i64,
        seed: u64,
        manifest: Option<&Path>,
    ) -> anyhow::Result<Injection> {
        let tenant: TenantId = Arc::from(tenant);
        let mut entries: Vec<Entry> = Vec::new();
        for (n, text) in specs.iter().enumerate() {
            let spec = parse_spec(text).with_context(|| format!("--anomaly {text:?}"))?;
            if spec.kind.signal() != signal && spec.kind.layer() == crate::anomaly::Layer::Data {
                bail!(
                    "--anomaly {text:?}: {} shows in {}, this run generates {}",
                    spec.kind,
                    spec.kind.signal().as_str(),
                    signal.as_str()
                );
            }
            let plan = [Planned {
                kind: spec.kind,
                target: spec.target,
                from: 0.0,
                to: 1.0,
                shape: Shape::Step,
                params: spec.params,
                injected: true,
                root_cause: true,
                expected: false,
                observables: Vec::new(),
            }];
            let start = from_ns + spec.start_ns;
            let (_, placed) = place(
                &plan,
                &Placement {
                    tenant: &tenant,
                    start_ns: start,
                    end_ns: start + spec.duration_ns,
                    id_prefix: &format!("generate-{n}"),
                    seed,
                    config_hash: "generate",
                },
                &registry,
            );
            entries.extend(placed);
        }
        if let Some(path) = manifest {
            let mut file = std::fs::File::create(path)
                .with_context(|| format!("cannot create the manifest {}", path.display()))?;
            for entry in &entries {
                let line = serde_json::to_string(entry).context("cannot encode the manifest")?;
                writeln!(file, "{line}").context("cannot write the manifest")?;
            }
            file.sync_all().context("cannot write the manifest")?;
        }
        let stage = (!registry.is_empty()).then(|| InjectAnomaly::stage(Arc::clone(&registry)));
        Ok(Injection { registry, stage })
    }

    /// Applies the data anomalies to `batch`.
    pub fn apply(&mut self, batch: Batch, out: &mut Vec<Batch>) {
        match &mut self.stage {
            Some(stage) => stage.process(batch, out),
            None => out.push(batch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let spec = parse_spec("L-MALFORMED@30s+2m,share=0.1,service=checkout").expect("spec");
        assert_eq!(spec.kind, Kind::LMalformed);
        assert_eq!(spec.start_ns, 30_000_000_000);
        assert_eq!(spec.duration_ns, 120_000_000_000);
        assert_eq!(spec.params.share, Some(0.1));
        assert_eq!(spec.target.service.as_deref(), Some("checkout"));
        assert_eq!(
            parse_spec("m-level").expect("bare").duration_ns,
            DEFAULT_WINDOW_NS
        );
        for bad in [
            "NOPE",
            "M-LEVEL@-5s",
            "M-LEVEL,factor",
            "M-LEVEL,colour=red",
            "M-LEVEL,factor=x",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
    }
}
