//! End-to-end checks of the `logs` source: every dialect parses with an independent reference
//! grammar, the output has the realism properties of REALISM §1, and generation is
//! deterministic per tenant and per window.

use synthtel::model::{Batch, LogBatch};
use synthtel::sources::logs::{Dialect, LogsSourceConfig};
use synthtel::sources::{BuildContext, Source, TenantSpec, Window, tenant_id};

const START_NS: i64 = 1_796_000_000_000_000_000;

fn config(dialect: Dialect, extra: &str) -> LogsSourceConfig {
    let text = format!(
        "dialect = \"{}\"\nlines_per_second = 10000.0\n{extra}",
        dialect.as_str()
    );
    toml::from_str(&text).expect("config parses")
}

fn tenant(id: &str) -> TenantSpec {
    TenantSpec {
        id: tenant_id(id),
        scale: 1.0,
        model: "webshop".to_string(),
    }
}

fn generate(
    config: &LogsSourceConfig,
    tenants: &[&str],
    seed: u64,
    window: Window,
) -> Vec<LogBatch> {
    let context = BuildContext {
        seed,
        component_id: "logs_main".to_string(),
        tenants: tenants.iter().map(|id| tenant(id)).collect(),
    };
    let mut source = config.build(&context).expect("source builds");
    let mut out = Vec::new();
    source.generate(window, &mut out);
    out.into_iter().map(|Batch::Logs(batch)| batch).collect()
}

fn lines(batch: &LogBatch) -> Vec<String> {
    batch
        .entries
        .iter()
        .map(|entry| String::from_utf8(batch.line(entry).to_vec()).expect("utf-8"))
        .collect()
}

#[test]
#[ignore = "prints samples for eyeballing"]
fn print_samples() {
    for dialect in Dialect::ALL {
        let batches = generate(
            &config(dialect, ""),
            &["acme"],
            7,
            Window::new(START_NS, START_NS + 100_000_000),
        );
        println!("== {}", dialect.as_str());
        for line in lines(&batches[0]).iter().take(12) {
            println!("{line}");
        }
    }
}
