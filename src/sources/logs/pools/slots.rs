//! Slots: the variable parts of a template and how each is rendered on the hot path.
//!
//! A [`Slot`] names what fills a `{slot}` in a template; [`render_slot`] appends its value to
//! the line, drawing from the tenant's [`Pools`] or straight from the random stream, and the
//! `push_*` helpers format numbers, ids and addresses into bytes without going through `fmt`.

use super::Pools;
use crate::model::push_hex;
use crate::random::{Rng, mix64};
use crate::sources::logs::{lists, timefmt};

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
        timefmt::push_padded(out, (scaled % scale) as u32, decimals as usize);
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

pub(super) fn push_ipv4(out: &mut Vec<u8>, address: u32) {
    for (index, octet) in address.to_be_bytes().into_iter().enumerate() {
        if index > 0 {
            out.push(b'.');
        }
        push_u64(out, u64::from(octet));
    }
}

pub(super) fn push_ipv6(out: &mut Vec<u8>, rng: &mut Rng) {
    const PREFIXES: [&str; 5] = ["2a02", "2001", "2600", "2a01", "2607"];
    push_str(out, PREFIXES[rng.index(PREFIXES.len())]);
    for _ in 0..7 {
        out.push(b':');
        let group = rng.below(0x1_0000) as u16;
        push_str(out, &format!("{group:x}"));
    }
}
