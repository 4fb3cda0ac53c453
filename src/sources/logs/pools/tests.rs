//! Tests of the value pools and of the slot renderer.

use super::slots::push_duration;
use super::*;

fn pools() -> Pools {
    Pools::build(Key::new(1).with("acme"), &["cart".to_string()]).expect("pools")
}

#[test]
fn pools_are_deterministic() {
    let a = pools();
    let b = pools();
    assert_eq!(a.users.get(0), b.users.get(0));
    assert_eq!(a.client_ips.get(17), b.client_ips.get(17));
    assert_eq!(a.site_domain, b.site_domain);
}

#[test]
fn about_five_percent_of_client_ips_are_ipv6() {
    let pools = pools();
    let v6 = (0..pools.client_ips.len()).filter(|&i| pools.client_ips.get(i).contains(&b':'));
    let share = v6.count() as f64 / pools.client_ips.len() as f64;
    assert!((0.03..0.07).contains(&share), "{share}");
}

#[test]
fn api_paths_fill_id_segments() {
    let pools = pools();
    assert!(
        pools
            .api_paths
            .iter()
            .all(|path| !path.contains('{') && path.starts_with('/'))
    );
}

#[test]
fn every_slot_renders_clean_text() {
    let pools = pools();
    let pods = vec!["cart-7d9f8b6c4-x2kqp".to_string()];
    let scope = SlotScope {
        pools: &pools,
        pods: &pods,
    };
    let mut rng = Rng::from_seed(4);
    for slot in (0..200).filter_map(|i| SLOT_NAMES.get(i).and_then(|n| Slot::from_name(n))) {
        for _ in 0..50 {
            let mut out = Vec::new();
            render_slot(slot, scope, &mut rng, &mut out);
            assert!(!out.is_empty(), "{slot:?}");
            assert!(
                out.iter().all(|b| *b >= b' ' && *b != b'"' && *b != b'\\'),
                "{slot:?}"
            );
            if slot.is_numeric() {
                let text = std::str::from_utf8(&out).expect("utf-8");
                assert!(text.parse::<f64>().is_ok(), "{slot:?} {text}");
            }
        }
    }
}

const SLOT_NAMES: &[&str] = &[
    "method",
    "route",
    "path",
    "status",
    "ms",
    "secs",
    "dur",
    "bytes",
    "user",
    "user_id",
    "email",
    "ip",
    "order_id",
    "uuid",
    "hex",
    "sku",
    "n",
    "big",
    "pct",
    "amount",
    "currency",
    "table",
    "sql",
    "db_host",
    "cache_key",
    "peer",
    "ext_host",
    "topic",
    "partition",
    "offset",
    "group",
    "job",
    "err",
    "attempt",
    "port",
    "pod",
    "mb",
    "tls",
    "cipher",
    "cert",
    "days",
    "word",
    "carrier",
    "tracking",
    "pid",
    "unit",
    "iface",
    "dev",
    "fp",
    "tty",
    "cmd",
    "qid",
    "mail_host",
    "ntp",
    "container",
    "image",
    "addr",
    "country",
    "region",
    "version",
];

#[test]
fn log_normal_table_keeps_median_and_spread() {
    let mut rng = Rng::from_seed(12);
    let table = LogNormalTable::new(2.7, 1.1, 120_000.0, &mut rng);
    let mut draws: Vec<f64> = (0..50_000).map(|_| table.sample(&mut rng)).collect();
    draws.sort_by(f64::total_cmp);
    let median = draws[25_000];
    let p90 = draws[45_000];
    // exp(2.7) ≈ 14.9 ms; exp(2.7 + 1.2816·1.1) ≈ 61 ms.
    assert!((13.5..16.5).contains(&median), "{median}");
    assert!((52.0..70.0).contains(&p90), "{p90}");
}

#[test]
fn durations_carry_units() {
    let mut out = Vec::new();
    push_duration(&mut out, 12.34);
    out.push(b' ');
    push_duration(&mut out, 1_204.0);
    out.push(b' ');
    push_duration(&mut out, 0.5);
    assert_eq!(out, b"12.3ms 1.204s 0.500ms");
}
