//! The synthtel command line: parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use synthtel::config::Config;
use synthtel::generate::GenerateOptions;
use synthtel::model::Signal;
use synthtel::telemetry::{self, LogFormat};

/// Realistic, multi-tenant synthetic logs, metrics and traces for observability stacks.
#[derive(Parser)]
#[command(name = "synthtel", version, about)]
struct Cli {
    /// Format of synthtel's own log lines (on stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (the embedded default configuration without --config).
    Run {
        /// Configuration file.
        #[arg(long, env = "SYNTHTEL_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check a configuration file: exit 0, or 1 with every problem listed.
    Validate {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Generate data once, without network, to a file or stdout.
    Generate(Box<GenerateArgs>),
}

#[derive(Args)]
struct GenerateArgs {
    /// Signal to generate.
    #[arg(long, value_parser = ["logs", "metrics", "traces"])]
    signal: String,
    /// Log dialect of the default logs source (json, apache_combined, …).
    #[arg(long)]
    dialect: Option<String>,
    /// Output format: logs lines (default), ndjson, loki-json, loki-protobuf.
    #[arg(long)]
    format: Option<String>,
    /// Number of records.
    #[arg(long, conflicts_with = "to")]
    count: Option<u64>,
    /// Start of the time range: RFC 3339, `now`, or `now-1h` (default 2025-01-01T00:00:00Z).
    #[arg(long)]
    from: Option<String>,
    /// End of the time range (exclusive): RFC 3339, `now`, or `now-10m`.
    #[arg(long)]
    to: Option<String>,
    /// Master seed (default: the configuration's, else 42).
    #[arg(long)]
    seed: Option<u64>,
    /// Tenant to generate for.
    #[arg(long)]
    tenant: Option<String>,
    /// Records per second of virtual time for the default source.
    #[arg(long)]
    rate: Option<f64>,
    /// Configuration file holding the source to draw from.
    #[arg(long, requires = "source")]
    config: Option<PathBuf>,
    /// Source id in --config.
    #[arg(long, requires = "config")]
    source: Option<String>,
    /// Output file, or `-` for stdout.
    #[arg(long, default_value = "-")]
    output: PathBuf,
    /// Inject an anomaly (repeatable): `KIND[@START[+DURATION]][,key=value…]`, START from
    /// --from, for example `L-MALFORMED@30s+2m,share=0.1`.
    #[arg(long = "anomaly", value_name = "SPEC")]
    anomalies: Vec<String>,
    /// Write the injected anomalies' manifest (JSON lines) here, before any record.
    #[arg(long, value_name = "PATH")]
    manifest: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => {
            telemetry::init(cli.log_format, "info");
            run(config)
        }
        Command::Validate { config } => validate(&config),
        Command::Generate(args) => {
            telemetry::init(cli.log_format, "warn");
            generate(args)
        }
    }
}

fn run(path: Option<PathBuf>) -> ExitCode {
    let config = match path {
        Some(path) => Config::from_file(&path),
        None => Config::default_config(),
    };
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(synthtel::daemon::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn validate(path: &std::path::Path) -> ExitCode {
    match Config::from_file(path) {
        Ok(config) => {
            println!(
                "{}: valid ({} tenants, {} sources, {} processors, {} exporters, {} pipelines)",
                path.display(),
                config.tenants.len(),
                config.sources.len(),
                config.processors.len(),
                config.exporters.len(),
                config.pipelines.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

fn generate(args: Box<GenerateArgs>) -> ExitCode {
    let signal = Signal::parse(&args.signal).unwrap_or(Signal::Logs);
    let options = GenerateOptions {
        signal,
        dialect: args.dialect,
        format: args.format,
        count: args.count,
        from: args.from,
        to: args.to,
        seed: args.seed,
        tenant: args.tenant,
        rate: args.rate,
        config: args.config,
        source: args.source,
        output: args.output,
        anomalies: args.anomalies,
        manifest: args.manifest,
    };
    match synthtel::generate::run(options) {
        Ok(summary) => {
            tracing::info!(
                records = summary.records,
                bytes = summary.bytes,
                "Generated."
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
