//! The simulation end to end: `synthtel run` with a `simulation` source sending traces, metrics
//! and logs over OTLP (HTTP and gRPC) to a real collector, rotel, which prints what it decoded.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::daemon::Daemon;
use support::rotel::Rotel;

fn config(port: u16, protocol: &str) -> String {
    format!(
        r#"
[tenants.acme]

[sources.shop]
type = "simulation"
requests_per_second = 4
metrics_interval = "2s"

[exporters.collector]
type = "otlp"
endpoint = "http://127.0.0.1:{port}"
protocol = "{protocol}"

[exporters.collector.batch]
max_age = "200ms"

[pipelines.traces]
sources = ["shop"]
exporters = ["collector"]

[pipelines.metrics]
sources = ["shop"]
exporters = ["collector"]

[pipelines.logs]
sources = ["shop"]
exporters = ["collector"]
"#
    )
}

/// 32-character lower-case hex words in rotel's output.
fn hex_ids(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|word| {
            word.len() == 32
                && word
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        })
        .map(str::to_string)
        .collect()
}

fn round_trip(protocol: &str) {
    let rotel = Rotel::start();
    let port = if protocol == "grpc" {
        rotel.grpc_port
    } else {
        rotel.http_port
    };
    let daemon = Daemon::start(&config(port, protocol));
    // Requests run 10 s behind the clock (a trace is sent when complete): wait for them.
    let output = rotel.wait_for(
        &[
            "GET /product/{id}",
            "request completed",
            "http_server_request_duration",
            "checkout",
        ],
        Duration::from_secs(40),
    );
    for needle in [
        "frontend",
        "postgresql",
        "db.query.text",
        "http.route",
        "service.instance.id",
    ] {
        assert!(
            output.contains(needle),
            "rotel never printed {needle}:\n{}",
            &output[..output.len().min(4000)]
        );
    }
    assert!(!hex_ids(&output).is_empty(), "trace ids in rotel's output");
    let totals = daemon.totals("collector");
    assert!(totals["accepted"].as_u64().unwrap_or(0) > 0, "{totals}");
    assert_eq!(totals["rejected"]["4xx"], 0, "{totals}");
    assert_eq!(totals["rejected"]["5xx"], 0, "{totals}");
}

#[test]
fn simulation_reaches_a_collector_over_http() {
    round_trip("http/protobuf");
}

#[test]
fn simulation_reaches_a_collector_over_grpc() {
    round_trip("grpc");
}
