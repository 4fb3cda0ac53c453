//! Value pools, built once per tenant at start, and the slot renderer that draws from them.
//!
//! Names, hosts and words come from the `fake` crate driven by a seeded xoshiro256++, so a
//! tenant's vocabulary is stable across runs; numbers (durations, sizes, counts) are drawn per
//! line from the distributions REALISM §1.2 names. On the hot path a slot costs one or two
//! draws and a copy of prebuilt bytes.

mod slots;

use fake::Fake;
use fake::faker::internet::en::{DomainSuffix, SafeEmail, Username};
use fake::faker::lorem::en::Word;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

use super::lists;
use crate::random::{Key, Rng, WeightedIndex};
use slots::{push_ipv4, push_ipv6};

pub use slots::{Slot, SlotScope, push_decimal, push_u64, render_slot};

/// Strings with weights, sampled in constant time.
#[derive(Clone, Debug)]
pub struct WeightedList {
    values: Vec<Box<[u8]>>,
    table: WeightedIndex,
}

impl WeightedList {
    /// A list from `(value, weight)` pairs; `None` when the weights are unusable.
    pub fn new<S: AsRef<str>>(pairs: impl IntoIterator<Item = (S, f64)>) -> Option<Self> {
        let (values, weights): (Vec<Box<[u8]>>, Vec<f64>) = pairs
            .into_iter()
            .map(|(value, weight)| (value.as_ref().as_bytes().into(), weight))
            .unzip();
        Some(WeightedList {
            table: WeightedIndex::new(&weights)?,
            values,
        })
    }

    /// A list whose i-th value has Zipf weight `1 / (i + 1)^exponent`.
    pub fn zipf(values: Vec<String>, exponent: f64) -> Option<Self> {
        let table = WeightedIndex::zipf(values.len(), exponent)?;
        let values = values
            .into_iter()
            .map(|value| value.into_bytes().into())
            .collect();
        Some(WeightedList { values, table })
    }

    /// Draws a value.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> &[u8] {
        &self.values[self.table.sample(rng)]
    }

    /// The value at `index`.
    #[cfg(test)]
    pub fn get(&self, index: usize) -> &[u8] {
        &self.values[index]
    }

    /// Number of values.
    #[cfg(test)]
    #[allow(clippy::len_without_is_empty)] // Test helper; a built list is never empty.
    pub fn len(&self) -> usize {
        self.values.len()
    }
}

/// Number of sorted draws a [`LogNormalTable`] keeps.
const TABLE_SIZE: usize = 4_096;

/// A log-normal distribution sampled through a table of sorted draws, interpolating between
/// neighbours. Two table reads and a multiply replace `ln`, `cos`, `sqrt` and `exp` on the hot
/// path; the cost is a tail cut at about the 99.98th percentile, which log lines do not miss.
#[derive(Clone, Debug)]
pub struct LogNormalTable {
    values: Box<[f64]>,
}

impl LogNormalTable {
    /// A table of `exp(mu + sigma·N(0,1))` capped at `cap`.
    pub fn new(mu: f64, sigma: f64, cap: f64, rng: &mut Rng) -> Self {
        let mut values: Vec<f64> = (0..TABLE_SIZE)
            .map(|_| rng.log_normal(mu, sigma).min(cap))
            .collect();
        values.sort_by(f64::total_cmp);
        LogNormalTable {
            values: values.into(),
        }
    }

    /// Draws a value.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        let bits = rng.next_u64();
        let index = ((bits >> 52) as usize * (TABLE_SIZE - 1)) >> 12;
        let fraction = (bits & 0xf_ffff_ffff_ffff) as f64 * (1.0 / (1u64 << 52) as f64);
        let low = self.values[index];
        low + (self.values[index + 1] - low) * fraction
    }
}

/// The log-normal variables of log lines, as tables.
#[derive(Clone, Debug)]
pub struct Distributions {
    /// Request latency in milliseconds: median about 15 ms, heavy right tail.
    pub latency_ms: LogNormalTable,
    /// Job and clock durations in seconds.
    pub seconds: LogNormalTable,
    /// Payload sizes in bytes.
    pub bytes: LogNormalTable,
    /// Large counts.
    pub big: LogNormalTable,
    /// Money amounts.
    pub amount: LogNormalTable,
    /// Dynamic page sizes in access logs.
    pub page_bytes: LogNormalTable,
}

impl Distributions {
    fn new(rng: &mut Rng) -> Self {
        Distributions {
            latency_ms: LogNormalTable::new(2.7, 1.1, 120_000.0, rng),
            seconds: LogNormalTable::new(0.7, 1.0, 3_600.0, rng),
            bytes: LogNormalTable::new(7.6, 1.2, 10e6, rng),
            big: LogNormalTable::new(10.8, 1.3, 1e9, rng),
            amount: LogNormalTable::new(3.8, 0.9, 20_000.0, rng),
            page_bytes: LogNormalTable::new(9.2, 0.8, 16.0 * 1024.0 * 1024.0, rng),
        }
    }
}

/// One tenant's vocabulary.
#[derive(Clone, Debug)]
pub struct Pools {
    /// User names, Zipf-weighted.
    pub users: WeightedList,
    /// E-mail addresses, Zipf-weighted.
    pub emails: WeightedList,
    /// Client IP addresses, Zipf-weighted, about 5 % IPv6.
    pub client_ips: WeightedList,
    /// Lorem words.
    pub words: Vec<String>,
    /// Mail server host names.
    pub mail_hosts: Vec<String>,
    /// The tenant's other services, as `name:port` peers.
    pub peers: Vec<String>,
    /// Concrete URL paths of the API routes.
    pub api_paths: Vec<String>,
    /// The tenant's site domain (`shop.example.com`).
    pub site_domain: String,
    /// Log-normal variables.
    pub distributions: Distributions,
    user_id_ranks: WeightedIndex,
    sku_ranks: WeightedIndex,
    salt: u64,
    methods: WeightedList,
    statuses: WeightedList,
    currencies: WeightedList,
    countries: WeightedList,
    tls_versions: WeightedList,
}

/// A pool-building failure (only possible with an empty or broken list).
#[derive(Debug, thiserror::Error)]
#[error("could not build the {0} pool")]
pub struct PoolError(pub &'static str);

fn require<T>(value: Option<T>, name: &'static str) -> Result<T, PoolError> {
    value.ok_or(PoolError(name))
}

impl Pools {
    /// Builds the pools of a tenant from `key` (already naming seed, tenant and component).
    pub fn build(key: Key, service_names: &[String]) -> Result<Self, PoolError> {
        let mut faker = Xoshiro256PlusPlus::seed_from_u64(key.with("fake").value());
        let mut rng = key.with("pools").rng();
        let users = (0..2_000)
            .map(|_| clean_name(Username().fake_with_rng(&mut faker)))
            .collect();
        let emails = (0..2_000)
            .map(|_| clean_name(SafeEmail().fake_with_rng(&mut faker)))
            .collect();
        let words: Vec<String> = (0..300).map(|_| Word().fake_with_rng(&mut faker)).collect();
        let mail_hosts = (0..60).map(|_| mail_host(&mut faker)).collect();
        let site_domain = format!("shop.{}.com", Word().fake_with_rng::<String, _>(&mut faker));
        let client_ips = (0..5_000).map(|_| client_ip(&mut rng)).collect();
        let peers = service_names
            .iter()
            .map(|name| format!("{name}:8080"))
            .collect();
        let api_paths = (0..400).map(|_| api_path(&mut rng)).collect();
        Ok(Pools {
            users: require(WeightedList::zipf(users, 1.0), "users")?,
            emails: require(WeightedList::zipf(emails, 1.0), "emails")?,
            client_ips: require(WeightedList::zipf(client_ips, 1.0), "client_ips")?,
            words,
            mail_hosts,
            peers,
            api_paths,
            site_domain,
            distributions: Distributions::new(&mut rng),
            user_id_ranks: require(WeightedIndex::zipf(20_000, 1.0), "user_ids")?,
            sku_ranks: require(WeightedIndex::zipf(5_000, 1.1), "skus")?,
            salt: key.with("salt").value(),
            methods: require(WeightedList::new(lists::METHODS.iter().copied()), "methods")?,
            statuses: require(
                WeightedList::new(lists::API_STATUSES.iter().copied()),
                "statuses",
            )?,
            currencies: require(
                WeightedList::new(lists::CURRENCIES.iter().copied()),
                "currencies",
            )?,
            countries: require(
                WeightedList::new(lists::COUNTRIES.iter().copied()),
                "countries",
            )?,
            tls_versions: require(
                WeightedList::new(lists::TLS_VERSIONS.iter().copied()),
                "tls",
            )?,
        })
    }
}

/// Keeps names to `[A-Za-z0-9._@-]`, so pools never need escaping.
fn clean_name(name: String) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
        .collect();
    if cleaned.is_empty() {
        "user".to_string()
    } else {
        cleaned
    }
}

fn mail_host(faker: &mut Xoshiro256PlusPlus) -> String {
    let word: String = Word().fake_with_rng(faker);
    let suffix: String = DomainSuffix().fake_with_rng(faker);
    clean_name(format!("mx{}.{word}.{suffix}", 1 + faker_index(faker)))
}

fn faker_index(faker: &mut Xoshiro256PlusPlus) -> u32 {
    (0u32..3).fake_with_rng(faker)
}

/// A public-looking client address; about 5 % IPv6.
fn client_ip(rng: &mut Rng) -> String {
    let mut out = Vec::with_capacity(40);
    if rng.chance(0.05) {
        push_ipv6(&mut out, rng);
    } else {
        let mut address = rng.next_u64() as u32;
        // Keep clear of 0/8, 10/8, 127/8 and 224/3, which never reach a public front end.
        while matches!(address >> 24, 0 | 10 | 127 | 224..=255) {
            address = rng.next_u64() as u32;
        }
        push_ipv4(&mut out, address);
    }
    String::from_utf8(out).unwrap_or_default()
}

fn api_path(rng: &mut Rng) -> String {
    let route = lists::API_ROUTES[rng.index(lists::API_ROUTES.len())];
    let mut path = String::with_capacity(route.len() + 8);
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map_or(rest.len(), |close| open + close + 1);
        path.push_str(itoa::Buffer::new().format(1_000 + rng.below(900_000)));
        rest = &rest[close.min(rest.len())..];
    }
    path.push_str(rest);
    path
}

#[cfg(test)]
mod tests;
