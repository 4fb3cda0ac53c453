use proptest::prelude::*;

use super::request::{Limits, check, parse};

fn limits() -> Limits {
    Limits {
        max_duration: std::time::Duration::from_secs(3600),
        max_records: 1_000_000,
        max_rate: 10_000.0,
    }
}

fn refusal(body: &str) -> (u16, Option<String>) {
    match parse(body.as_bytes()).and_then(|r| check(r, &limits())) {
        Ok(_) => panic!("accepted: {body}"),
        Err(refusal) => (refusal.status, refusal.field),
    }
}

#[test]
fn accepts_a_scenario_burst() {
    let body = r#"{"tenant":"acme","scenario":"db_slowdown","duration":"10m","seed":7}"#;
    let checked = check(parse(body.as_bytes()).expect("parses"), &limits()).expect("valid");
    assert_eq!(checked.duration_ns, 600_000_000_000);
    assert!(checked.volume_signals.is_empty());
}

#[test]
fn accepts_anomalies_with_volume() {
    let body = r#"{"tenant":"acme","anomalies":[{"kind":"L-MALFORMED","start":"1s","duration":"3s","params":{"share":0.1}}],
        "count":5000,"rate":{"shape":"ramp","from":100,"to":2000,"unit":"per_second"}}"#;
    let checked = check(parse(body.as_bytes()).expect("parses"), &limits()).expect("valid");
    assert_eq!(checked.anomalies.len(), 1);
    assert_eq!(checked.anomalies[0].1, 1_000_000_000);
    assert_eq!(checked.volume_signals, vec![crate::model::Signal::Logs]);
    // 5000 records at a mean of 1050/s.
    assert!((checked.duration_ns as f64 / 1e9 - 5000.0 / 1050.0).abs() < 0.1);
}

#[test]
fn refusals_name_the_field() {
    let cases = [
        (
            r#"{"tenant":"acme","scenario":"nope","duration":"1m"}"#,
            422,
            "scenario",
        ),
        (
            r#"{"tenant":"acme","anomalies":[{"kind":"X-NOPE"}],"duration":"1m"}"#,
            422,
            "anomalies[0].kind",
        ),
        (
            r#"{"tenant":"acme","scenario":"db_slowdown","duration":"1m","colour":"red"}"#,
            422,
            "colour",
        ),
        (
            r#"{"tenant":"acme","scenario":"db_slowdown","count":-5}"#,
            422,
            "count",
        ),
        (
            r#"{"tenant":"acme","scenario":"db_slowdown","duration":"100h"}"#,
            413,
            "duration",
        ),
        (r#"{"tenant":"acme","count":100000000}"#, 413, "count"),
        (
            r#"{"tenant":"acme","rate":{"from":1e9},"duration":"1m"}"#,
            413,
            "rate.from",
        ),
        (
            r#"{"tenant":"acme","rate":{"from":5000},"duration":"1h"}"#,
            413,
            "rate",
        ),
        (
            r#"{"tenant":"acme","scenario":"db_slowdown"}"#,
            422,
            "duration",
        ),
        (r#"{"tenant":"acme","duration":"1m"}"#, 422, "anomalies"),
        (
            r#"{"tenant":"acme","anomalies":[{"kind":"M-LEVEL","params":{"share":2}}],"duration":"1m"}"#,
            422,
            "anomalies[0].params.share",
        ),
        (
            r#"{"tenant":"acme","anomalies":[{"kind":"M-LEVEL","start":"2m"}],"duration":"1m"}"#,
            422,
            "anomalies[0].duration",
        ),
        (
            r#"{"tenant":"acme","count":10,"signals":["metrics"]}"#,
            422,
            "signals[0]",
        ),
    ];
    for (body, status, field) in cases {
        assert_eq!(refusal(body), (status, Some(field.to_string())), "{body}");
    }
}

#[test]
fn malformed_json_is_400() {
    for body in ["", "{", "[1,2]", "null", "{\"tenant\":", "\u{0}"] {
        let refusal = parse(body.as_bytes()).expect_err(body);
        assert_eq!(refusal.status, 400, "{body}: {refusal:?}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(request) = parse(&body) {
            let _ = check(request, &limits());
        }
    }

    #[test]
    fn arbitrary_json_values_get_a_status(
        tenant in "[a-z]{1,8}",
        count in proptest::option::of(any::<i64>()),
        duration in proptest::option::of("[0-9]{1,4}(ms|s|m|h|d|x)"),
        from in proptest::option::of(any::<f64>()),
        kind in proptest::option::of("[MLTW]-[A-Z+-]{2,10}"),
    ) {
        let mut body = serde_json::json!({ "tenant": tenant });
        if let Some(count) = count { body["count"] = count.into(); }
        if let Some(duration) = duration { body["duration"] = duration.into(); }
        if let Some(from) = from.filter(|f| f.is_finite()) { body["rate"] = serde_json::json!({ "from": from }); }
        if let Some(kind) = kind { body["anomalies"] = serde_json::json!([{ "kind": kind }]); }
        let text = body.to_string();
        match parse(text.as_bytes()).and_then(|r| check(r, &limits())) {
            Ok(checked) => {
                prop_assert!(checked.duration_ns > 0);
                prop_assert!(checked.duration_ns <= 3_600_000_000_000);
                if let Some(rate) = &checked.rate {
                    prop_assert!(rate.peak() <= 10_000.0);
                }
            }
            Err(refusal) => prop_assert!([400, 413, 422].contains(&refusal.status)),
        }
    }
}
