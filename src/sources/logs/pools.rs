//! Value pools, built once per tenant at start, and the slot renderer that draws from them.
//!
//! Names, hosts and words come from the `fake` crate driven by a seeded xoshiro256++, so a
//! tenant's vocabulary is stable across runs; numbers (durations, sizes, counts) are drawn per
//! line from the distributions REALISM §1.2 names. On the hot path a slot costs one or two
//! draws and a copy of prebuilt bytes.

use fake::Fake;
use fake::faker::internet::en::{DomainSuffix, SafeEmail, Username};
use fake::faker::lorem::en::Word;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

use super::lists;
use crate::model::push_hex;
use crate::random::{Key, Rng, WeightedIndex, mix64};

/// A variable part of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// HTTP method of an internal call.
    Method,
    /// API route pattern (`/api/v1/orders/{orderId}`).
    Route,
    /// Concrete URL path with id segments.
    Path,
    /// HTTP status of an internal call.
    Status,
    /// Whole milliseconds of a latency.
    Millis,
    /// Seconds with three decimals.
    Seconds,
    /// A duration with its unit (`12.3ms`, `1.204s`).
    Duration,
    /// A byte count.
    Bytes,
    /// A user name.
    User,
    /// A numeric user id.
    UserId,
    /// An e-mail address.
    Email,
    /// A client IP address.
    Ip,
    /// An order id.
    OrderId,
    /// A random UUID.
    Uuid,
    /// Sixteen random hex digits.
    Hex,
    /// A product SKU.
    Sku,
    /// A small count.
    Count,
    /// A large count.
    Big,
    /// A percentage with one decimal.
    Percent,
    /// A money amount.
    Amount,
    /// A currency code.
    Currency,
    /// A database table.
    Table,
    /// An SQL statement.
    Sql,
    /// A database, cache or search endpoint.
    DbHost,
    /// A cache key.
    CacheKey,
    /// Another service of the tenant.
    Peer,
    /// An external API host.
    ExternalHost,
    /// A Kafka topic.
    Topic,
    /// A Kafka partition.
    Partition,
    /// A Kafka offset.
    Offset,
    /// A Kafka consumer group.
    Group,
    /// A scheduled job name.
    Job,
    /// An error text.
    Error,
    /// A retry attempt number.
    Attempt,
    /// A TCP port.
    Port,
    /// A pod of the current service.
    Pod,
    /// Megabytes of memory.
    Megabytes,
    /// A TLS version.
    Tls,
    /// A TLS cipher suite.
    Cipher,
    /// A certificate common name.
    Certificate,
    /// A number of days.
    Days,
    /// A word.
    Word,
    /// A shipping carrier.
    Carrier,
    /// A tracking number.
    Tracking,
    /// A process id.
    Pid,
    /// A systemd unit.
    Unit,
    /// A network interface.
    Interface,
    /// A block device.
    Device,
    /// An SSH key fingerprint.
    Fingerprint,
    /// A terminal.
    Tty,
    /// A command line.
    Command,
    /// A Postfix queue id.
    QueueId,
    /// A mail server host name.
    MailHost,
    /// An NTP server address.
    NtpServer,
    /// A container id.
    Container,
    /// A container image.
    Image,
    /// A kernel address.
    Address,
    /// A country code.
    Country,
    /// A warehouse.
    Region,
    /// A release version.
    Version,
}

impl Slot {
    /// The slot named `name` in a template (`{order_id}`).
    pub fn from_name(name: &str) -> Option<Slot> {
        let slot = match name {
            "method" => Slot::Method,
            "route" => Slot::Route,
            "path" => Slot::Path,
            "status" => Slot::Status,
            "ms" => Slot::Millis,
            "secs" => Slot::Seconds,
            "dur" => Slot::Duration,
            "bytes" => Slot::Bytes,
            "user" => Slot::User,
            "user_id" => Slot::UserId,
            "email" => Slot::Email,
            "ip" => Slot::Ip,
            "order_id" => Slot::OrderId,
            "uuid" => Slot::Uuid,
            "hex" => Slot::Hex,
            "sku" => Slot::Sku,
            "n" => Slot::Count,
            "big" => Slot::Big,
            "pct" => Slot::Percent,
            "amount" => Slot::Amount,
            "currency" => Slot::Currency,
            "table" => Slot::Table,
            "sql" => Slot::Sql,
            "db_host" => Slot::DbHost,
            "cache_key" => Slot::CacheKey,
            "peer" => Slot::Peer,
            "ext_host" => Slot::ExternalHost,
            "topic" => Slot::Topic,
            "partition" => Slot::Partition,
            "offset" => Slot::Offset,
            "group" => Slot::Group,
            "job" => Slot::Job,
            "err" => Slot::Error,
            "attempt" => Slot::Attempt,
            "port" => Slot::Port,
            "pod" => Slot::Pod,
            "mb" => Slot::Megabytes,
            "tls" => Slot::Tls,
            "cipher" => Slot::Cipher,
            "cert" => Slot::Certificate,
            "days" => Slot::Days,
            "word" => Slot::Word,
            "carrier" => Slot::Carrier,
            "tracking" => Slot::Tracking,
            "pid" => Slot::Pid,
            "unit" => Slot::Unit,
            "iface" => Slot::Interface,
            "dev" => Slot::Device,
            "fp" => Slot::Fingerprint,
            "tty" => Slot::Tty,
            "cmd" => Slot::Command,
            "qid" => Slot::QueueId,
            "mail_host" => Slot::MailHost,
            "ntp" => Slot::NtpServer,
            "container" => Slot::Container,
            "image" => Slot::Image,
            "addr" => Slot::Address,
            "country" => Slot::Country,
            "region" => Slot::Region,
            "version" => Slot::Version,
            _ => return None,
        };
        Some(slot)
    }

    /// Whether the slot renders a bare number (written unquoted in JSON).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Slot::Status
                | Slot::Millis
                | Slot::Seconds
                | Slot::Bytes
                | Slot::UserId
                | Slot::Count
                | Slot::Big
                | Slot::Percent
                | Slot::Amount
                | Slot::Partition
                | Slot::Offset
                | Slot::Attempt
                | Slot::Port
                | Slot::Megabytes
                | Slot::Days
                | Slot::Pid
        )
    }
}

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

/// What a slot may read about the service writing the line.
#[derive(Clone, Copy, Debug)]
pub struct SlotScope<'a> {
    /// The tenant's pools.
    pub pools: &'a Pools,
    /// Pod names of the service.
    pub pods: &'a [String],
}

/// Appends a value for `slot`.
pub fn render_slot(slot: Slot, scope: SlotScope<'_>, rng: &mut Rng, out: &mut Vec<u8>) {
    let pools = scope.pools;
    match slot {
        Slot::Method => out.extend_from_slice(pools.methods.sample(rng)),
        Slot::Route => push_str(out, pick(rng, lists::API_ROUTES)),
        Slot::Path => push_str(out, pick(rng, &pools.api_paths)),
        Slot::Status => out.extend_from_slice(pools.statuses.sample(rng)),
        Slot::Millis => push_u64(out, pools.distributions.latency_ms.sample(rng) as u64),
        Slot::Seconds => push_decimal(out, pools.distributions.seconds.sample(rng), 3),
        Slot::Duration => push_duration(out, pools.distributions.latency_ms.sample(rng)),
        Slot::Bytes => push_u64(out, pools.distributions.bytes.sample(rng) as u64),
        Slot::User => out.extend_from_slice(pools.users.sample(rng)),
        Slot::UserId => push_u64(
            out,
            scramble(pools.user_id_ranks.sample(rng), pools.salt, 9),
        ),
        Slot::Email => out.extend_from_slice(pools.emails.sample(rng)),
        Slot::Ip => out.extend_from_slice(pools.client_ips.sample(rng)),
        Slot::OrderId => push_prefixed(out, "ORD-", rng.below(9_000_000_000) + 1_000_000_000),
        Slot::Uuid => push_uuid(out, rng),
        Slot::Hex => push_hex(out, &rng.next_u64().to_be_bytes()),
        Slot::Sku => push_prefixed(out, "SKU-", scramble(pools.sku_ranks.sample(rng), 7, 6)),
        Slot::Count => push_u64(out, 1 + rng.exponential(6.0).min(500.0) as u64),
        Slot::Big => push_u64(out, pools.distributions.big.sample(rng) as u64),
        Slot::Percent => push_decimal(out, rng.f64() * 100.0, 1),
        Slot::Amount => push_decimal(out, pools.distributions.amount.sample(rng), 2),
        Slot::Currency => out.extend_from_slice(pools.currencies.sample(rng)),
        Slot::Table => push_str(out, pick(rng, lists::TABLES)),
        Slot::Sql => push_str(out, pick(rng, lists::SQL)),
        Slot::DbHost => push_str(out, pick(rng, lists::DB_HOSTS)),
        Slot::CacheKey => push_cache_key(out, rng),
        Slot::Peer => push_str(out, pick(rng, &pools.peers)),
        Slot::ExternalHost => push_str(out, pick(rng, lists::EXTERNAL_HOSTS)),
        _ => render_rare_slot(slot, scope, rng, out),
    }
}

fn render_rare_slot(slot: Slot, scope: SlotScope<'_>, rng: &mut Rng, out: &mut Vec<u8>) {
    let pools = scope.pools;
    match slot {
        Slot::Topic => push_str(out, pick(rng, lists::TOPICS)),
        Slot::Partition => push_u64(out, rng.below(24)),
        Slot::Offset => push_u64(out, 1_000_000 + rng.below(900_000_000)),
        Slot::Group => push_str(out, pick(rng, lists::GROUPS)),
        Slot::Job => push_str(out, pick(rng, lists::JOBS)),
        Slot::Error => push_str(out, pick(rng, lists::ERRORS)),
        Slot::Attempt => push_u64(out, 1 + rng.below(3)),
        Slot::Port => push_u64(out, 32_768 + rng.below(28_232)),
        Slot::Pod => push_str(out, pick(rng, scope.pods)),
        Slot::Megabytes => push_u64(out, 64 + rng.below(1_900)),
        Slot::Tls => out.extend_from_slice(pools.tls_versions.sample(rng)),
        Slot::Cipher => push_str(out, pick(rng, lists::CIPHERS)),
        Slot::Certificate => push_str(out, &pools.site_domain),
        Slot::Days => push_u64(out, 1 + rng.below(89)),
        Slot::Word => push_str(out, pick(rng, &pools.words)),
        Slot::Carrier => push_str(out, pick(rng, lists::CARRIERS)),
        Slot::Tracking => push_tracking(out, rng),
        Slot::Pid => push_u64(out, 1_000 + rng.below(64_000)),
        Slot::Unit => push_str(out, pick(rng, lists::UNITS)),
        Slot::Interface => push_str(out, pick(rng, lists::INTERFACES)),
        Slot::Device => push_str(out, pick(rng, lists::DEVICES)),
        Slot::Fingerprint => push_alphabet(out, rng, BASE64, 43),
        Slot::Tty => push_str(out, pick(rng, lists::TTYS)),
        Slot::Command => push_str(out, pick(rng, lists::COMMANDS)),
        Slot::QueueId => push_alphabet(out, rng, b"0123456789ABCDEF", 10),
        Slot::MailHost => push_str(out, pick(rng, &pools.mail_hosts)),
        Slot::NtpServer => push_ipv4(out, rng.next_u64() as u32),
        Slot::Container => push_alphabet(out, rng, b"0123456789abcdef", 64),
        Slot::Image => push_str(out, pick(rng, lists::IMAGES)),
        Slot::Address => {
            out.extend_from_slice(b"00007f");
            push_alphabet(out, rng, b"0123456789abcdef", 10);
        }
        Slot::Country => out.extend_from_slice(pools.countries.sample(rng)),
        Slot::Region => push_str(out, pick(rng, lists::REGIONS)),
        Slot::Version => push_version(out, rng),
        _ => push_str(out, "-"),
    }
}

const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn pick<'a, S: AsRef<str>>(rng: &mut Rng, items: &'a [S]) -> &'a str {
    rng.pick(items).map_or("-", AsRef::as_ref)
}

#[inline]
fn push_str(out: &mut Vec<u8>, value: &str) {
    out.extend_from_slice(value.as_bytes());
}

/// Appends an unsigned integer.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn push_prefixed(out: &mut Vec<u8>, prefix: &str, value: u64) {
    push_str(out, prefix);
    push_u64(out, value);
}

/// Appends a non-negative number with `decimals` fraction digits (no float formatting).
pub fn push_decimal(out: &mut Vec<u8>, value: f64, decimals: u32) {
    let scale = 10u64.pow(decimals);
    let scaled = (value.max(0.0) * scale as f64).round() as u64;
    push_u64(out, scaled / scale);
    if decimals > 0 {
        out.push(b'.');
        super::timefmt::push_padded(out, (scaled % scale) as u32, decimals as usize);
    }
}

/// Appends a duration with its unit: `0.734ms`, `12.3ms`, `1.204s`.
pub fn push_duration(out: &mut Vec<u8>, millis: f64) {
    if millis < 1_000.0 {
        push_decimal(out, millis, if millis < 10.0 { 3 } else { 1 });
        out.extend_from_slice(b"ms");
    } else {
        push_decimal(out, millis / 1_000.0, 3);
        out.push(b's');
    }
}

fn push_uuid(out: &mut Vec<u8>, rng: &mut Rng) {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    for (index, range) in [0..4, 4..6, 6..8, 8..10, 10..16].into_iter().enumerate() {
        if index > 0 {
            out.push(b'-');
        }
        push_hex(out, &bytes[range]);
    }
}

fn push_cache_key(out: &mut Vec<u8>, rng: &mut Rng) {
    push_str(out, pick(rng, lists::CACHE_PREFIXES));
    out.push(b':');
    push_u64(out, 1_000 + rng.below(99_000));
}

fn push_tracking(out: &mut Vec<u8>, rng: &mut Rng) {
    out.extend_from_slice(b"1Z");
    push_alphabet(out, rng, b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ", 16);
}

fn push_version(out: &mut Vec<u8>, rng: &mut Rng) {
    push_u64(out, 1 + rng.below(3));
    out.push(b'.');
    push_u64(out, rng.below(40));
    out.push(b'.');
    push_u64(out, rng.below(12));
}

fn push_alphabet(out: &mut Vec<u8>, rng: &mut Rng, alphabet: &[u8], count: usize) {
    for _ in 0..count {
        out.push(alphabet[rng.index(alphabet.len())]);
    }
}

/// Maps a Zipf rank to a stable id of `digits` digits, so rank 0 is not id 1.
fn scramble(rank: usize, salt: u64, digits: u32) -> u64 {
    let low = 10u64.pow(digits - 1);
    low + mix64(rank as u64 ^ salt) % (low * 9)
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

fn push_ipv4(out: &mut Vec<u8>, address: u32) {
    for (index, octet) in address.to_be_bytes().into_iter().enumerate() {
        if index > 0 {
            out.push(b'.');
        }
        push_u64(out, u64::from(octet));
    }
}

fn push_ipv6(out: &mut Vec<u8>, rng: &mut Rng) {
    const PREFIXES: [&str; 5] = ["2a02", "2001", "2600", "2a01", "2607"];
    push_str(out, PREFIXES[rng.index(PREFIXES.len())]);
    for _ in 0..7 {
        out.push(b':');
        let group = rng.below(0x1_0000) as u16;
        push_str(out, &format!("{group:x}"));
    }
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
mod tests {
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
}
