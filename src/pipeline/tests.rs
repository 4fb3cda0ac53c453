use std::sync::atomic::AtomicU64;

use super::*;
use crate::exporters::{ExporterConfig, ExporterTask};
use crate::pipeline::stats::DeliverySnapshot;

/// An exporter that takes `delay` per batch, to make queues fill.
struct SlowExporter {
    delay: Duration,
    seen: Arc<AtomicU64>,
}

impl Exporter for SlowExporter {
    fn run(self: Box<Self>, mut input: ExporterInput) -> ExporterTask {
        Box::pin(async move {
            while let Some(batch) = input.rx.recv().await {
                let delivery = input.stats.delivery(batch.tenant(), batch.signal());
                delivery.add_generated(batch.len() as u64);
                if input.stop.is_triggered() {
                    delivery.add_dropped(DropReason::Shutdown, batch.len() as u64);
                    continue;
                }
                tokio::time::sleep(self.delay).await;
                self.seen.fetch_add(batch.len() as u64, Ordering::Relaxed);
                delivery.add_accepted(batch.len() as u64);
            }
        })
    }
}

fn config(rate: u32, queue_capacity: usize) -> Config {
    let text = format!(
        r#"
[tenants.acme]
[tenants.globex]
scale = 0.5

[sources.noise]
type = "logs"
dialect = "logfmt"
lines_per_second = {rate}

[exporters.out]
type = "stdout"
queue_capacity = {queue_capacity}

[pipelines.logs]
sources = ["noise"]
exporters = ["out"]
"#
    );
    Config::from_str_with_env(&text, "test", |_| None).expect("config")
}

fn with_exporter(config: &Config, stats: &Arc<Stats>, exporter: SlowExporter) -> Topology {
    let mut topology =
        Topology::build(config, stats, &crate::anomaly::Registry::new()).expect("topology");
    assert!(matches!(config.exporters["out"], ExporterConfig::Stdout(_)));
    topology.exporters[0].exporter = Box::new(exporter);
    topology
}

fn component(stats: &Stats, kind: &str) -> DeliverySnapshot {
    stats
        .components()
        .iter()
        .find(|c| c.kind() == kind)
        .expect("component")
        .total()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paces_sources_to_their_rate_per_tenant() {
    let config = config(1000, 256);
    let stats = Stats::new();
    let seen = Arc::new(AtomicU64::new(0));
    let exporter = SlowExporter {
        delay: Duration::ZERO,
        seen: Arc::clone(&seen),
    };
    let running = with_exporter(&config, &stats, exporter).start(Clock::Live);
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.shutdown(Duration::from_secs(5)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let generated = component(&stats, "source").generated as f64;
    // acme at 1000/s and globex at 500/s; the last bucket may be cut by the stop.
    let expected = 1500.0 * elapsed;
    assert!(
        (generated - expected).abs() < expected * 0.15,
        "generated {generated} in {elapsed:.2}s, expected about {expected}"
    );
    let source = stats
        .components()
        .into_iter()
        .find(|c| c.kind() == "source")
        .expect("source");
    let per_tenant = source.snapshot();
    let acme = per_tenant
        .iter()
        .find(|(t, _, _)| &**t == "acme")
        .expect("acme")
        .2
        .generated;
    let globex = per_tenant
        .iter()
        .find(|(t, _, _)| &**t == "globex")
        .expect("globex")
        .2
        .generated;
    let ratio = globex as f64 / acme as f64;
    assert!((ratio - 0.5).abs() < 0.05, "globex/acme = {ratio}");
    assert_eq!(
        seen.load(Ordering::Relaxed),
        generated as u64,
        "every record delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_exporter_drops_and_counts_instead_of_growing_queues() {
    let config = config(20_000, 4);
    let stats = Stats::new();
    let seen = Arc::new(AtomicU64::new(0));
    let exporter = SlowExporter {
        delay: Duration::from_millis(200),
        seen: Arc::clone(&seen),
    };
    let running = with_exporter(&config, &stats, exporter).start(Clock::Live);
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.shutdown(Duration::from_millis(300)).await;

    let source = component(&stats, "source");
    let pipeline = component(&stats, "pipeline");
    let exporter = component(&stats, "exporter");
    assert!(
        exporter.dropped.get("queue_full").copied().unwrap_or(0) > 0,
        "{exporter:?}"
    );
    // Every generated record is accounted for: delivered, or dropped with a reason.
    let pipeline_dropped = pipeline.dropped_total();
    assert_eq!(source.generated, pipeline.generated + pipeline_dropped);
    assert_eq!(pipeline.sent, exporter.generated);
    assert_eq!(
        exporter.generated,
        exporter.accepted + exporter.dropped_total(),
        "{exporter:?}"
    );
    assert_eq!(seen.load(Ordering::Relaxed), exporter.accepted);
}
