//! End-to-end checks of the `logs` source: every dialect parses with an independent reference
//! grammar, the output has the realism properties of REALISM §1, and generation is
//! deterministic per tenant and per window.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use regex::Regex;
use synthtel::model::{Batch, LogBatch, Severity, hex};
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
        anomalies: synthtel::anomaly::Registry::new(),
    };
    let mut source = config.build(&context).expect("source builds");
    let mut out = Vec::new();
    source.generate(window, &mut out);
    out.into_iter()
        .filter_map(|batch| match batch {
            Batch::Logs(batch) => Some(batch),
            _ => None,
        })
        .collect()
}

fn lines(batch: &LogBatch) -> Vec<String> {
    batch
        .entries
        .iter()
        .map(|entry| String::from_utf8(batch.line(entry).to_vec()).expect("utf-8"))
        .collect()
}

/// One second of 100,000 lines of one tenant.
fn sample(dialect: Dialect) -> LogBatch {
    let mut config = config(dialect, "");
    config.lines_per_second = 100_000.0;
    let window = Window::new(START_NS, START_NS + 1_000_000_000);
    let mut batches = generate(&config, &["acme"], 11, window);
    assert_eq!(batches.len(), 1);
    batches.remove(0)
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("pattern compiles")
}

const MONTHS: &str = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";

fn assert_all_match(dialect: Dialect, pattern: &Regex) {
    let batch = sample(dialect);
    for line in lines(&batch) {
        assert!(
            pattern.is_match(&line),
            "{} line does not parse: {line}",
            dialect.as_str()
        );
    }
}

fn access_pattern(tail: &str) -> Regex {
    regex(&format!(
        r#"^(\S+) (\S+) (\S+) \[\d{{2}}/{MONTHS}/\d{{4}}:\d{{2}}:\d{{2}}:\d{{2}} [+-]\d{{4}}\] "(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) (/\S*) HTTP/(1\.0|1\.1|2\.0)" ([1-5]\d\d) (\d+|-){tail}$"#
    ))
}

#[test]
fn apache_common_lines_parse() {
    assert_all_match(Dialect::ApacheCommon, &access_pattern(""));
}

#[test]
fn apache_combined_lines_parse() {
    assert_all_match(
        Dialect::ApacheCombined,
        &access_pattern(r#" "([^"]*)" "([^"]*)""#),
    );
}

#[test]
fn nginx_lines_parse() {
    assert_all_match(
        Dialect::Nginx,
        &access_pattern(r#" "([^"]*)" "([^"]*)" \d+\.\d{3}"#),
    );
}

#[test]
fn access_logs_write_dash_for_zero_bytes_and_have_realistic_statuses() {
    let batch = sample(Dialect::ApacheCombined);
    let pattern = access_pattern(r#" "([^"]*)" "([^"]*)""#);
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for line in lines(&batch) {
        let captures = pattern.captures(&line).expect("parses");
        assert_ne!(&captures[9], "0", "{line}");
        if &captures[8] == "304" {
            assert_eq!(&captures[9], "-", "{line}");
        }
        *statuses
            .entry(captures[8].parse().expect("status"))
            .or_default() += 1;
    }
    let total = batch.entries.len() as f64;
    let share = |range: std::ops::RangeInclusive<u16>| -> f64 {
        let hits: usize = statuses
            .iter()
            .filter(|(s, _)| range.contains(s))
            .map(|(_, n)| n)
            .sum();
        hits as f64 / total
    };
    assert!(
        (0.84..0.92).contains(&share(200..=299)),
        "2xx {}",
        share(200..=299)
    );
    assert!(
        (0.06..0.10).contains(&share(304..=304)),
        "304 {}",
        share(304..=304)
    );
    assert!(
        (0.005..0.05).contains(&share(400..=499)),
        "4xx {}",
        share(400..=499)
    );
    assert!(share(500..=599) < 0.01, "5xx {}", share(500..=599));
}

fn is_rfc3339(text: &str) -> bool {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN
        .get_or_init(|| {
            regex(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
        })
        .is_match(text)
}

#[test]
fn json_lines_are_objects_with_required_keys_and_ids() {
    let batch = sample(Dialect::Json);
    for entry in &batch.entries {
        let line = batch.line(entry);
        let value: serde_json::Value = serde_json::from_slice(line).expect("valid JSON");
        let object = value.as_object().expect("an object");
        for key in ["ts", "level", "msg", "logger"] {
            assert!(
                object.get(key).is_some_and(|v| v.is_string()),
                "{key} missing: {value}"
            );
        }
        assert!(is_rfc3339(object["ts"].as_str().expect("ts")));
        assert_eq!(object["level"].as_str(), Some(entry.severity.as_str()));
        match (entry.trace_id, entry.span_id) {
            (Some(trace), Some(span)) => {
                assert_eq!(object["trace_id"].as_str(), Some(hex(&trace).as_str()));
                assert_eq!(object["span_id"].as_str(), Some(hex(&span).as_str()));
                assert!(trace != [0; 16] && span != [0; 8]);
            }
            _ => assert!(object.get("trace_id").is_none()),
        }
    }
}

/// A logfmt reader written from the format's description, independent of the renderer.
fn parse_logfmt(line: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let equals = rest.find('=')?;
        let key = &rest[..equals];
        if key.is_empty() || key.contains([' ', '"']) {
            return None;
        }
        rest = &rest[equals + 1..];
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                let (index, c) = chars.next()?;
                match c {
                    '\\' => value.push(chars.next()?.1),
                    '"' => break index,
                    other => value.push(other),
                }
            };
            rest = &quoted[end + 1..];
            value
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            let value = rest[..end].to_string();
            if value.contains(['"', '=']) {
                return None;
            }
            rest = &rest[end..];
            value
        };
        pairs.push((key.to_string(), value));
        rest = match rest.strip_prefix(' ') {
            Some(next) => next,
            None if rest.is_empty() => rest,
            None => return None,
        };
    }
    Some(pairs)
}

#[test]
fn logfmt_lines_parse_with_reference_reader() {
    let batch = sample(Dialect::Logfmt);
    for entry in &batch.entries {
        let line = std::str::from_utf8(batch.line(entry)).expect("utf-8");
        let pairs = parse_logfmt(line).unwrap_or_else(|| panic!("does not parse: {line}"));
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert!(get("ts").is_some_and(is_rfc3339), "{line}");
        assert_eq!(get("level"), Some(entry.severity.as_str()));
        assert!(get("msg").is_some_and(|msg| !msg.is_empty()));
        if let Some(trace) = entry.trace_id {
            assert_eq!(get("trace_id"), Some(hex(&trace).as_str()));
        }
        let keys: BTreeSet<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.len(), pairs.len(), "repeated key: {line}");
    }
}

#[test]
fn logfmt_reader_rejects_broken_lines() {
    assert!(parse_logfmt(r#"a=1 b="x y" c=z"#).is_some());
    assert!(parse_logfmt(r#"a=1 b="x y c=z"#).is_none());
    assert!(parse_logfmt(r#"a=x y"#).is_none());
}

#[test]
fn rfc3164_lines_match_the_grammar() {
    let pattern = regex(&format!(
        r"^<(\d{{1,3}})>{MONTHS} ( \d|[12]\d|3[01]) \d{{2}}:\d{{2}}:\d{{2}} ([!-~]+) ([^\s\[:]{{1,48}})(\[\d+\])?: (.+)$"
    ));
    let batch = sample(Dialect::SyslogRfc3164);
    for line in lines(&batch) {
        let captures = pattern
            .captures(&line)
            .unwrap_or_else(|| panic!("no match: {line}"));
        let priority: u32 = captures[1].parse().expect("pri");
        assert!(priority <= 191, "{line}");
    }
}

#[test]
fn rfc5424_lines_match_the_grammar() {
    // RFC 5424 section 6: HEADER SP STRUCTURED-DATA [SP MSG], with the field length caps.
    let name = r#"[!#-<>-\\^-~]{1,32}"#; // PRINTUSASCII except '=', SP, ']', '"'
    let param = format!(r#"{name}="(?:[^"\\\]]|\\["\\\]])*""#);
    let element = format!(r"\[{name}(?: {param})*\]");
    let pattern = regex(&format!(
        r"^<(\d{{1,3}})>1 (\S+) ([!-~]{{1,255}}|-) ([!-~]{{1,48}}|-) ([!-~]{{1,128}}|-) ([!-~]{{1,32}}|-) (-|(?:{element})+)(?: (.*))?$"
    ));
    let batch = sample(Dialect::SyslogRfc5424);
    for entry in &batch.entries {
        let line = std::str::from_utf8(batch.line(entry)).expect("utf-8");
        let captures = pattern
            .captures(line)
            .unwrap_or_else(|| panic!("no match: {line}"));
        let priority: u32 = captures[1].parse().expect("pri");
        assert!(priority <= 191);
        assert_eq!(
            priority % 8,
            u32::from(severity_code(entry.severity)),
            "{line}"
        );
        assert!(is_rfc3339(&captures[2]), "{line}");
    }
}

fn severity_code(severity: Severity) -> u8 {
    match severity {
        Severity::Trace | Severity::Debug => 7,
        Severity::Info => 6,
        Severity::Warn => 4,
        Severity::Error => 3,
        Severity::Fatal => 2,
    }
}

#[test]
fn cri_lines_match_the_grammar_and_carry_application_lines() {
    let pattern =
        regex(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z) (stdout|stderr) (P|F) (.+)$");
    let klog = regex(r"^[IWE]\d{4} \d{2}:\d{2}:\d{2}\.\d{6} +\d+ [\w.]+:\d+\] ");
    let batch = sample(Dialect::Cri);
    for line in lines(&batch) {
        let captures = pattern
            .captures(&line)
            .unwrap_or_else(|| panic!("no match: {line}"));
        assert_eq!(&captures[3], "F", "no line is long enough to split: {line}");
        let content = &captures[4];
        if content.starts_with('{') {
            serde_json::from_str::<serde_json::Value>(content).expect("JSON content");
        } else if content.starts_with("ts=") {
            assert!(parse_logfmt(content).is_some(), "{content}");
        } else {
            assert!(klog.is_match(content), "{content}");
        }
    }
}

#[test]
fn java_lines_are_events_or_stack_frames() {
    let head = regex(
        r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} (INFO |WARN |ERROR|DEBUG) \[[^\]]+\] [\w.$]+ - .+$",
    );
    let frame = regex(r"^\tat [\w.$/<>]+\([\w$]+\.java:\d+\)$");
    let cause = regex(r"^(Caused by: )?[a-z][\w.]*\.[A-Z][\w$]*(Exception|Error): .+$");
    let more = regex(r"^\t\.\.\. \d+ more$");
    let batch = sample(Dialect::JavaStacktrace);
    let mut previous: Option<(i64, u32, Severity)> = None;
    let mut traces = 0;
    for entry in &batch.entries {
        let line = std::str::from_utf8(batch.line(entry)).expect("utf-8");
        if head.is_match(line) {
            previous = Some((entry.timestamp_ns, entry.stream, entry.severity));
            continue;
        }
        assert!(
            frame.is_match(line) || cause.is_match(line) || more.is_match(line),
            "{line:?}"
        );
        let (timestamp, stream, severity) = previous.expect("a trace follows an event");
        assert_eq!(severity, Severity::Error);
        assert_eq!(entry.stream, stream);
        assert_eq!(
            entry.timestamp_ns,
            timestamp + 1,
            "trace lines are 1 ns apart"
        );
        previous = Some((entry.timestamp_ns, stream, severity));
        traces += 1;
    }
    assert!(traces > 0, "no stack traces in 100k lines");
}

/// Severity of each event, counting a Java stack trace once (with its event line).
fn event_levels(dialect: Dialect, batch: &LogBatch) -> Vec<Severity> {
    let continuation = |line: &[u8]| line.starts_with(b"\t") || !line[0].is_ascii_digit();
    batch
        .entries
        .iter()
        .filter(|e| dialect != Dialect::JavaStacktrace || !continuation(batch.line(e)))
        .map(|entry| entry.severity)
        .collect()
}

#[test]
fn level_mix_is_in_normal_ranges() {
    for dialect in [
        Dialect::Json,
        Dialect::Logfmt,
        Dialect::Cri,
        Dialect::JavaStacktrace,
        Dialect::SyslogRfc3164,
        Dialect::SyslogRfc5424,
    ] {
        let levels = event_levels(dialect, &sample(dialect));
        let share =
            |level| levels.iter().filter(|l| **l == level).count() as f64 / levels.len() as f64;
        let name = dialect.as_str();
        let (info, warn, error) = (
            share(Severity::Info),
            share(Severity::Warn),
            share(Severity::Error),
        );
        assert!((0.85..=0.95).contains(&info), "{name} info {info}");
        assert!((0.03..=0.10).contains(&warn), "{name} warn {warn}");
        assert!((0.003..=0.03).contains(&error), "{name} error {error}");
        assert_eq!(share(Severity::Debug), 0.0, "{name}");
    }
}

#[test]
fn debug_tenant_writes_debug_lines() {
    let mut config = config(Dialect::Json, "debug_share = 0.4");
    config.lines_per_second = 20_000.0;
    let window = Window::new(START_NS, START_NS + 1_000_000_000);
    let batch = &generate(&config, &["dbg"], 3, window)[0];
    let debug = batch
        .entries
        .iter()
        .filter(|e| e.severity == Severity::Debug)
        .count();
    let share = debug as f64 / batch.entries.len() as f64;
    assert!((0.3..=0.5).contains(&share), "{share}");
}

#[test]
fn top_ten_templates_hold_most_json_lines() {
    let batch = sample(Dialect::Json);
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for entry in &batch.entries {
        let value: serde_json::Value = serde_json::from_slice(batch.line(entry)).expect("json");
        let object = value.as_object().expect("object");
        // A template is a logger, caller, level and key set: variables only change values.
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let service = object["service"].as_str().unwrap_or_default().to_string();
        let signature = format!(
            "{}|{:?}|{}|{}",
            object["logger"],
            object.get("caller"),
            object["level"],
            keys.join(",")
        );
        *counts.entry((service, signature)).or_default() += 1;
    }
    let mut per_service: HashMap<String, Vec<usize>> = HashMap::new();
    for ((service, _), count) in counts {
        per_service.entry(service).or_default().push(count);
    }
    for (service, mut counts) in per_service {
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let total: usize = counts.iter().sum();
        if total < 2_000 {
            continue;
        }
        let top: usize = counts.iter().take(10).sum();
        let share = top as f64 / total as f64;
        assert!(
            (0.6..=0.95).contains(&share),
            "{service}: top-10 share {share}"
        );
        assert!(
            counts.len() >= 20,
            "{service}: only {} templates",
            counts.len()
        );
    }
}

fn percentile(lengths: &mut [usize], fraction: f64) -> usize {
    lengths.sort_unstable();
    lengths[((lengths.len() - 1) as f64 * fraction) as usize]
}

#[test]
fn line_lengths_are_realistic() {
    for dialect in Dialect::ALL {
        let batch = sample(dialect);
        let mut lengths: Vec<usize> = batch.entries.iter().map(|e| e.line.len as usize).collect();
        let median = percentile(&mut lengths, 0.5);
        let p99 = percentile(&mut lengths, 0.99);
        let (low, high) = match dialect {
            Dialect::Json => (250, 600),
            Dialect::ApacheCombined | Dialect::Nginx => (150, 320),
            Dialect::ApacheCommon => (60, 130),
            Dialect::Cri => (150, 450),
            // Structured key=value lines run a little longer than free text.
            Dialect::Logfmt => (100, 190),
            _ => (90, 170),
        };
        let name = dialect.as_str();
        println!("{name}: median {median} p99 {p99}");
        assert!((low..=high).contains(&median), "{name}: median {median}");
        assert!(p99 < 2_048, "{name}: p99 {p99}");
    }
}

#[test]
fn same_seed_gives_identical_bytes() {
    for dialect in Dialect::ALL {
        let window = Window::new(START_NS, START_NS + 300_000_000);
        let a = generate(&config(dialect, ""), &["acme"], 5, window);
        let b = generate(&config(dialect, ""), &["acme"], 5, window);
        assert_eq!(a[0].text, b[0].text, "{}", dialect.as_str());
        assert_eq!(a[0].entries, b[0].entries);
        let c = generate(&config(dialect, ""), &["acme"], 6, window);
        assert_ne!(a[0].text, c[0].text);
    }
}

fn rendered(batch: &LogBatch) -> Vec<(i64, String, String, Severity)> {
    batch
        .entries
        .iter()
        .map(|entry| {
            let line = String::from_utf8(batch.line(entry).to_vec()).expect("utf-8");
            let selector = batch.stream(entry).selector().to_string();
            (entry.timestamp_ns, selector, line, entry.severity)
        })
        .collect()
}

#[test]
fn a_window_alone_equals_its_slice_of_a_longer_run() {
    for dialect in Dialect::ALL {
        let middle = START_NS + 500_000_000;
        let end = START_NS + 1_000_000_000;
        let long = generate(
            &config(dialect, ""),
            &["acme"],
            9,
            Window::new(START_NS, end),
        );
        let short = generate(&config(dialect, ""), &["acme"], 9, Window::new(middle, end));
        let slice: Vec<_> = rendered(&long[0])
            .into_iter()
            .filter(|(ts, ..)| *ts >= middle)
            .collect();
        assert_eq!(rendered(&short[0]), slice, "{}", dialect.as_str());
    }
}

#[test]
fn adding_a_tenant_leaves_others_unchanged() {
    for dialect in Dialect::ALL {
        let window = Window::new(START_NS, START_NS + 200_000_000);
        let alone = generate(&config(dialect, ""), &["acme"], 4, window);
        let together = generate(&config(dialect, ""), &["globex", "acme"], 4, window);
        let acme = together
            .iter()
            .find(|b| &*b.tenant == "acme")
            .expect("acme batch");
        assert_eq!(rendered(&alone[0]), rendered(acme), "{}", dialect.as_str());
        let globex = together
            .iter()
            .find(|b| &*b.tenant == "globex")
            .expect("globex batch");
        assert_ne!(rendered(globex), rendered(acme));
    }
}

#[test]
fn timestamps_ascend_within_a_tenant() {
    for dialect in Dialect::ALL {
        let batch = sample(dialect);
        for pair in batch.entries.windows(2) {
            assert!(
                pair[0].timestamp_ns < pair[1].timestamp_ns,
                "{}",
                dialect.as_str()
            );
        }
        let first = batch.entries.first().expect("lines").timestamp_ns;
        let last = batch.entries.last().expect("lines").timestamp_ns;
        assert!(first >= START_NS && last < START_NS + 1_000_000_000);
    }
}

#[test]
fn labels_are_few_and_never_hold_ids() {
    let id_like = regex(r"^[0-9a-f]{16,}$|^[0-9a-f-]{36}$|\d{5,}");
    let expected: BTreeSet<&str> = ["cluster", "env", "level", "namespace", "service_name"].into();
    for dialect in Dialect::ALL {
        let config = config(dialect, "level_label = true");
        let window = Window::new(START_NS, START_NS + 500_000_000);
        let batches = generate(&config, &["acme"], 1, window);
        let batch = &batches[0];
        assert!(batch.streams.len() <= 60, "{} streams", batch.streams.len());
        for labels in &batch.streams {
            assert!(labels.len() <= 15);
            let names: BTreeSet<&str> = labels.pairs().iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, expected);
            for (_, value) in labels.pairs() {
                assert!(!id_like.is_match(value), "id-like label value {value}");
            }
        }
        for entry in &batch.entries {
            assert_eq!(
                batch.stream(entry).get("level"),
                Some(entry.severity.as_str())
            );
        }
    }
}

#[test]
fn request_ids_travel_as_structured_metadata() {
    let batch = sample(Dialect::Json);
    let mut with_ids = 0;
    for entry in &batch.entries {
        let pairs = batch.metadata_of(entry);
        if entry.trace_id.is_some() {
            with_ids += 1;
            assert_eq!(pairs.len(), 1);
            assert_eq!(pairs[0].name, "request_id");
            assert_eq!(batch.text_of(pairs[0].value).len(), 16);
        } else {
            assert!(pairs.is_empty());
        }
    }
    assert!(with_ids > batch.entries.len() / 5);
}

#[test]
fn line_counts_follow_the_rate() {
    for dialect in Dialect::ALL {
        let batch = sample(dialect);
        let count = batch.entries.len();
        assert!(
            (100_000..=100_100).contains(&count),
            "{}: {count}",
            dialect.as_str()
        );
    }
}

#[test]
fn configured_services_become_streams() {
    let config = config(Dialect::Logfmt, r#"services = ["billing-api", "worker"]"#);
    let window = Window::new(START_NS, START_NS + 100_000_000);
    let batches = generate(&config, &["acme"], 1, window);
    let names: BTreeSet<&str> = batches[0]
        .streams
        .iter()
        .filter_map(|labels| labels.get("service_name"))
        .collect();
    assert_eq!(names, ["billing-api", "worker"].into());
}

#[test]
fn bad_settings_are_reported() {
    let extra = "templates_per_service = 0\nzipf_exponent = -1.0\ndebug_share = 2.0\n\
                 services = [\"a\", \"a\"]";
    let keys: BTreeSet<String> = config(Dialect::Json, extra)
        .validate()
        .into_iter()
        .map(|p| p.key)
        .collect();
    let expected: BTreeSet<String> = [
        "templates_per_service",
        "zipf_exponent",
        "debug_share",
        "services",
    ]
    .map(String::from)
    .into();
    assert_eq!(keys, expected);
}
