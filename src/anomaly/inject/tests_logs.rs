//! Injection tests of the log kinds, on three seconds of the `logs` source.

use std::sync::OnceLock;

use super::log_lines::{ERROR_MESSAGES, NEW_TEMPLATES};
use super::tests::{Record, anomaly, check, context, generate, inside, records, service, share};
use crate::anomaly::{Anomaly, Kind, Params, Target};
use crate::model::{Batch, LogBatch, Severity};
use crate::sources::logs::{Dialect, LogsSourceConfig};

const LENGTH_NS: i64 = 3_000_000_000;

/// Every log kind and its test.
pub(super) const CASES: &[(Kind, fn())] = &[
    (Kind::LErrburst, errburst),
    (Kind::LNewtpl, newtpl),
    (Kind::LAttr, attr),
    (Kind::LSeq, seq),
    (Kind::LRateUp, rate_up),
    (Kind::LRateDown, rate_down),
    (Kind::LSilence, silence),
    (Kind::LMalformed, malformed),
    (Kind::LGarbage, garbage),
    (Kind::LHuge, huge),
    (Kind::LMultiline, multiline),
    (Kind::LTskew, tskew),
    (Kind::LDup, dup),
    (Kind::LLabelcard, labelcard),
];

#[test]
fn log_cases_hold() {
    for (kind, case) in CASES {
        eprintln!("case {kind}");
        case();
    }
}

fn build(dialect: Dialect) -> Batch {
    let text = format!(
        "dialect = \"{}\"\nlines_per_second = 3000.0\nlevel_label = true",
        dialect.as_str()
    );
    let config: LogsSourceConfig = toml::from_str(&text).expect("config parses");
    let mut source = config.build(&context()).expect("source builds");
    generate(&mut source, LENGTH_NS)
}

fn clean() -> &'static Batch {
    static CLEAN: OnceLock<Batch> = OnceLock::new();
    CLEAN.get_or_init(|| build(Dialect::Logfmt))
}

/// The clean logfmt batch, for tests elsewhere.
pub(super) fn clean_batch() -> Batch {
    clean().clone()
}

fn clean_json() -> &'static Batch {
    static CLEAN: OnceLock<Batch> = OnceLock::new();
    CLEAN.get_or_init(|| build(Dialect::Json))
}

fn logs(batch: &Batch) -> &LogBatch {
    match batch {
        Batch::Logs(logs) => logs,
        _ => panic!("not logs"),
    }
}

/// The in-window lines of a batch, with their severity and stream selector.
fn lines_in(batch: &Batch, anomaly: &Anomaly) -> Vec<(Vec<u8>, Severity, String)> {
    let logs = logs(batch);
    logs.entries
        .iter()
        .filter(|entry| anomaly.contains(entry.timestamp_ns))
        .map(|entry| {
            let selector = logs.stream(entry).selector().to_string();
            (logs.line(entry).to_vec(), entry.severity, selector)
        })
        .collect()
}

fn contains(line: &[u8], needle: &str) -> bool {
    line.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A service that writes lines in the window, for targeted cases.
fn busy_service() -> String {
    let logs = logs(clean());
    let entry = &logs.entries[logs.entries.len() / 2];
    logs.stream(entry)
        .get("service_name")
        .expect("service_name")
        .to_string()
}

fn with_factor(factor: f64) -> Params {
    Params {
        factor: Some(factor),
        ..Params::default()
    }
}

fn ratio(after: usize, before: usize) -> f64 {
    after as f64 / before as f64
}

fn errburst() {
    let anomaly = anomaly(
        Kind::LErrburst,
        LENGTH_NS,
        Target::default(),
        Params::default(),
    );
    let out = check(clean(), &anomaly);
    let before = lines_in(clean(), &anomaly);
    let after = lines_in(&out, &anomaly);
    let burst: Vec<_> = after
        .iter()
        .filter(|(line, _, _)| ERROR_MESSAGES.iter().any(|m| contains(line, m)))
        .collect();
    // 30 × a 2 % baseline: about 0.6 error lines per line.
    let share = ratio(burst.len(), before.len());
    assert!((0.4..0.8).contains(&share), "burst share {share}");
    for (_, severity, selector) in &burst {
        assert_eq!(*severity, Severity::Error);
        assert!(selector.contains("level=\"error\""), "{selector}");
    }
    let logs = logs(&out);
    let traced = logs
        .entries
        .iter()
        .filter(|e| e.severity == Severity::Error && e.trace_id.is_some())
        .count();
    assert!(traced > 0, "copied trace ids");
}

fn newtpl() {
    let anomaly = anomaly(Kind::LNewtpl, LENGTH_NS, Target::default(), share(0.05));
    let out = check(clean(), &anomaly);
    let is_new = |line: &[u8]| {
        contains(line, "FATAL") && {
            NEW_TEMPLATES
                .iter()
                .any(|t| contains(line, t.split("{}").next().unwrap_or_default()))
        }
    };
    let added = lines_in(&out, &anomaly)
        .iter()
        .filter(|(line, _, _)| is_new(line))
        .count();
    let before = lines_in(clean(), &anomaly).len();
    let share = ratio(added, before);
    assert!((0.03..0.07).contains(&share), "new template share {share}");
    assert!(!records(clean()).iter().any(|(_, r)| r.contains("FATAL")));
}

fn attr() {
    let anomaly = anomaly(Kind::LAttr, LENGTH_NS, Target::default(), share(1.0));
    let out = check(clean(), &anomaly);
    let before = lines_in(clean(), &anomaly);
    let after = lines_in(&out, &anomaly);
    assert_eq!(before.len(), after.len());
    let mut rewritten = 0;
    for ((old, _, _), (new, _, _)) in before.iter().zip(&after) {
        if contains(old, "duration=") {
            assert!(contains(new, "duration=30000") || contains(new, "duration=30s"));
        }
        if contains(old, "status=") {
            assert!(
                contains(new, "status=503"),
                "{}",
                String::from_utf8_lossy(new)
            );
        }
        rewritten += usize::from(old != new);
    }
    assert!(rewritten > 0);
}

fn seq() {
    let anomaly = anomaly(Kind::LSeq, LENGTH_NS, Target::default(), share(1.0));
    let out = check(clean(), &anomaly);
    let completion = |line: &[u8]| super::log_lines::is_completion(line);
    let after = lines_in(&out, &anomaly);
    assert!(!after.iter().any(|(line, _, _)| completion(line)));
    let others = |lines: &[(Vec<u8>, Severity, String)]| {
        lines
            .iter()
            .filter(|(line, _, _)| !completion(line))
            .count()
    };
    let before = lines_in(clean(), &anomaly);
    assert!(others(&before) < before.len(), "clean has completions");
    assert_eq!(others(&before), others(&after));
}

fn rate_up() {
    let anomaly = anomaly(
        Kind::LRateUp,
        LENGTH_NS,
        Target::default(),
        Params::default(),
    );
    let out = check(clean(), &anomaly);
    let factor = ratio(
        lines_in(&out, &anomaly).len(),
        lines_in(clean(), &anomaly).len(),
    );
    assert!((4.5..5.5).contains(&factor), "rate × {factor}");
}

fn rate_down() {
    let anomaly = anomaly(
        Kind::LRateDown,
        LENGTH_NS,
        Target::default(),
        with_factor(4.0),
    );
    let out = check(clean(), &anomaly);
    let factor = ratio(
        lines_in(&out, &anomaly).len(),
        lines_in(clean(), &anomaly).len(),
    );
    assert!((0.2..0.3).contains(&factor), "rate × {factor}");
}

fn silence() {
    let target = busy_service();
    let anomaly = anomaly(
        Kind::LSilence,
        LENGTH_NS,
        service(&target),
        Params::default(),
    );
    let out = check(clean(), &anomaly);
    let label = format!("service_name=\"{target}\"");
    let of = |lines: &[(Vec<u8>, Severity, String)], theirs: bool| {
        lines
            .iter()
            .filter(|l| l.2.contains(&label) == theirs)
            .count()
    };
    let (before, after) = (lines_in(clean(), &anomaly), lines_in(&out, &anomaly));
    assert!(of(&before, true) > 0);
    assert_eq!(of(&after, true), 0);
    assert_eq!(of(&before, false), of(&after, false));
}

fn malformed() {
    let anomaly = anomaly(Kind::LMalformed, LENGTH_NS, Target::default(), share(1.0));
    let out = check(clean_json(), &anomaly);
    let parses = |line: &[u8]| serde_json::from_slice::<serde_json::Value>(line).is_ok();
    assert!(
        lines_in(clean_json(), &anomaly)
            .iter()
            .all(|l| parses(&l.0))
    );
    let after = lines_in(&out, &anomaly);
    let broken = after.iter().filter(|l| !parses(&l.0)).count();
    assert!(broken * 10 > after.len() * 9, "{broken} of {}", after.len());
}

fn garbage() {
    let anomaly = anomaly(Kind::LGarbage, LENGTH_NS, Target::default(), share(1.0));
    let out = check(clean(), &anomaly);
    let odd = |line: &[u8]| {
        std::str::from_utf8(line).is_err()
            || line.iter().any(|b| matches!(b, 0 | 0x1b | b'\r'))
            || line.starts_with(&[0xef, 0xbb, 0xbf])
    };
    let after = lines_in(&out, &anomaly);
    assert!(!after.is_empty() && after.iter().all(|l| odd(&l.0)));
    assert!(!lines_in(clean(), &anomaly).iter().any(|l| odd(&l.0)));
}

fn huge() {
    let anomaly = anomaly(Kind::LHuge, LENGTH_NS, Target::default(), Params::default());
    let out = check(clean(), &anomaly);
    let huge = lines_in(&out, &anomaly)
        .iter()
        .filter(|l| l.0.len() == 65_537)
        .count();
    assert!(huge >= 1);
    // At least one per batch, plus 0.1 % of the lines.
    assert!(
        huge <= 1 + lines_in(clean(), &anomaly).len() / 200,
        "{huge} huge lines"
    );
}

fn multiline() {
    let params = Params {
        size: Some(60),
        ..Params::default()
    };
    let anomaly = anomaly(Kind::LMultiline, LENGTH_NS, Target::default(), params);
    let out = check(clean(), &anomaly);
    let after = lines_in(&out, &anomaly);
    let exploded: Vec<_> = after.iter().filter(|l| contains(&l.0, "\n\tat ")).collect();
    assert!(!exploded.is_empty());
    for (line, severity, _) in exploded {
        let frames = line.windows(5).filter(|w| w == b"\n\tat ").count();
        assert_eq!(frames, 60);
        assert!(contains(line, "\nCaused by: "));
        assert!(*severity >= Severity::Error);
    }
}

fn tskew() {
    let anomaly = anomaly(
        Kind::LTskew,
        LENGTH_NS,
        Target::default(),
        Params::default(),
    );
    let out = check(clean(), &anomaly);
    assert!(lines_in(&out, &anomaly).is_empty());
    let shift = 600_000_000_000;
    let moved: Vec<Record> = records(&out)
        .into_iter()
        .filter(|(t, _)| anomaly.contains(t - shift))
        .map(|(t, text)| (t - shift, text))
        .collect();
    assert_eq!(moved, inside(&records(clean()), &anomaly));
}

fn dup() {
    let anomaly = anomaly(Kind::LDup, LENGTH_NS, Target::default(), share(0.5));
    let out = check(clean(), &anomaly);
    let after = inside(&records(&out), &anomaly);
    let doubled = after.windows(2).filter(|w| w[0] == w[1]).count();
    let before = inside(&records(clean()), &anomaly).len();
    assert_eq!(after.len(), before + doubled);
    let share = ratio(doubled, before);
    assert!((0.4..0.6).contains(&share), "dup share {share}");
}

fn labelcard() {
    let anomaly = anomaly(
        Kind::LLabelcard,
        LENGTH_NS,
        Target::default(),
        Params::default(),
    );
    let out = check(clean(), &anomaly);
    let after = lines_in(&out, &anomaly);
    assert!(after.iter().all(|l| l.2.contains("request_id=\"")));
    let streams: std::collections::BTreeSet<&String> = after.iter().map(|l| &l.2).collect();
    assert_eq!(streams.len(), after.len(), "one stream per entry");
}
