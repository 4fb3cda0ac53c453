//! Access-log lines (Apache common and combined, nginx): the per-service URL pools and the
//! renderer.
//!
//! Every service gets a few hundred concrete URLs built from route templates of its kind of site
//! (storefront, API, static assets, admin). Hits follow Zipf(1.2) over the URLs, so about 10 %
//! of URLs take 80–95 % of hits (Arlitt & Williamson). Static files keep one size; pages and
//! API responses vary around theirs. Sizes are Pareto(α 0.55) above 1 KiB, capped.

use super::lists;
use super::pools::{Pools, WeightedList, push_decimal, push_u64};
use super::templates::shuffle;
use super::timefmt::TimeCache;
use crate::model::Severity;
use crate::random::{Rng, WeightedIndex};

/// Largest response size written, in bytes.
const MAX_BYTES: f64 = 16.0 * 1024.0 * 1024.0;

/// What kind of site a service serves, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// HTML pages plus their assets and API calls.
    Storefront,
    /// JSON API.
    Api,
    /// Images, scripts, fonts.
    Static,
    /// Back-office pages.
    Admin,
}

impl SiteKind {
    /// The kind a service name suggests.
    pub fn for_service(name: &str) -> SiteKind {
        let name = name.to_ascii_lowercase();
        if name.contains("api") || name.contains("gateway") {
            SiteKind::Api
        } else if ["static", "cdn", "asset", "media"]
            .iter()
            .any(|word| name.contains(word))
        {
            SiteKind::Static
        } else if name.contains("admin") || name.contains("backoffice") {
            SiteKind::Admin
        } else {
            SiteKind::Storefront
        }
    }

    fn routes(self) -> &'static [(&'static str, &'static str, Body)] {
        match self {
            SiteKind::Storefront => STOREFRONT_ROUTES,
            SiteKind::Api => API_ROUTES,
            SiteKind::Static => STATIC_ROUTES,
            SiteKind::Admin => ADMIN_ROUTES,
        }
    }
}

/// How a route's response size behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// A file: one size per URL.
    File,
    /// A rendered page or JSON document: varies per hit.
    Dynamic,
    /// A tiny response (redirects, beacons).
    Tiny,
}

// `#` becomes a number, `@` a hash, `%` a word.
const STOREFRONT_ROUTES: &[(&str, &str, Body)] = &[
    ("GET", "/", Body::Dynamic),
    ("GET", "/products/%-#", Body::Dynamic),
    ("GET", "/category/%", Body::Dynamic),
    ("GET", "/category/%?page=#", Body::Dynamic),
    ("GET", "/search?q=%", Body::Dynamic),
    ("GET", "/cart", Body::Dynamic),
    ("GET", "/checkout", Body::Dynamic),
    ("GET", "/account/orders", Body::Dynamic),
    ("POST", "/cart/add", Body::Tiny),
    ("POST", "/checkout/submit", Body::Tiny),
    ("GET", "/static/js/main.@.js", Body::File),
    ("GET", "/static/js/vendor.@.js", Body::File),
    ("GET", "/static/css/app.@.css", Body::File),
    ("GET", "/images/products/#-800x800.jpg", Body::File),
    ("GET", "/images/products/#-320x320.webp", Body::File),
    ("GET", "/favicon.ico", Body::File),
    ("GET", "/robots.txt", Body::File),
    ("GET", "/sitemap.xml", Body::File),
    ("GET", "/api/v1/cart", Body::Dynamic),
    ("POST", "/api/v1/events", Body::Tiny),
];

const API_ROUTES: &[(&str, &str, Body)] = &[
    ("GET", "/api/v1/products/#", Body::Dynamic),
    ("GET", "/api/v1/products?category=%&page=#", Body::Dynamic),
    ("GET", "/api/v1/cart", Body::Dynamic),
    ("POST", "/api/v1/cart/items", Body::Dynamic),
    ("DELETE", "/api/v1/cart/items/#", Body::Tiny),
    ("POST", "/api/v1/orders", Body::Dynamic),
    ("GET", "/api/v1/orders/#", Body::Dynamic),
    ("POST", "/api/v1/payments/#/capture", Body::Dynamic),
    ("GET", "/api/v1/users/me", Body::Dynamic),
    ("PUT", "/api/v1/users/#/address", Body::Dynamic),
    ("GET", "/api/v1/search?q=%", Body::Dynamic),
    ("POST", "/api/v1/auth/token", Body::Dynamic),
    ("GET", "/api/v2/recommendations?user=#", Body::Dynamic),
    ("GET", "/healthz", Body::Tiny),
    ("OPTIONS", "/api/v1/cart", Body::Tiny),
];

const STATIC_ROUTES: &[(&str, &str, Body)] = &[
    ("GET", "/images/products/#-800x800.jpg", Body::File),
    ("GET", "/images/products/#-320x320.webp", Body::File),
    ("GET", "/images/banners/%-@.jpg", Body::File),
    ("GET", "/static/js/chunk-@.js", Body::File),
    ("GET", "/static/css/%.@.css", Body::File),
    ("GET", "/fonts/inter-@.woff2", Body::File),
    ("GET", "/videos/%-@.mp4", Body::File),
    ("GET", "/downloads/catalog-#.pdf", Body::File),
];

const ADMIN_ROUTES: &[(&str, &str, Body)] = &[
    ("GET", "/admin/", Body::Dynamic),
    ("GET", "/admin/orders?page=#", Body::Dynamic),
    ("GET", "/admin/orders/#", Body::Dynamic),
    ("POST", "/admin/orders/#/refund", Body::Dynamic),
    ("GET", "/admin/products/#/edit", Body::Dynamic),
    ("POST", "/admin/login", Body::Tiny),
    ("GET", "/admin/reports/sales.csv", Body::Dynamic),
    ("GET", "/admin/static/admin.@.js", Body::File),
];

#[derive(Clone, Debug)]
struct Url {
    method: &'static str,
    path: Box<[u8]>,
    body: Body,
    size: u64,
}

/// The URL, status, agent and referrer pools of one access-log service.
#[derive(Clone, Debug)]
pub struct AccessPools {
    urls: Vec<Url>,
    url_table: WeightedIndex,
    statuses: Vec<u16>,
    status_table: WeightedIndex,
    agents: WeightedList,
    referrers: WeightedList,
}

/// An access-pool failure (only with broken weight lists).
#[derive(Debug, thiserror::Error)]
#[error("could not build the access-log pools")]
pub struct AccessPoolError;

impl AccessPools {
    /// Builds the pools of a service of `kind`.
    pub fn build(kind: SiteKind, pools: &Pools, rng: &mut Rng) -> Result<Self, AccessPoolError> {
        let mut urls: Vec<Url> = (0..600).map(|_| url(kind, pools, rng)).collect();
        urls.sort_by(|a, b| a.path.cmp(&b.path));
        urls.dedup_by(|a, b| a.path == b.path);
        shuffle(&mut urls, rng);
        let url_table = WeightedIndex::zipf(urls.len(), 1.2).ok_or(AccessPoolError)?;
        let (statuses, weights): (Vec<u16>, Vec<f64>) =
            lists::ACCESS_STATUSES.iter().copied().unzip();
        let status_table = WeightedIndex::new(&weights).ok_or(AccessPoolError)?;
        let agents =
            WeightedList::new(lists::USER_AGENTS.iter().copied()).ok_or(AccessPoolError)?;
        let referrers = referrers(&urls, &pools.site_domain).ok_or(AccessPoolError)?;
        Ok(AccessPools {
            urls,
            url_table,
            statuses,
            status_table,
            agents,
            referrers,
        })
    }
}

fn url(kind: SiteKind, pools: &Pools, rng: &mut Rng) -> Url {
    let routes = kind.routes();
    let (method, pattern, body) = routes[rng.index(routes.len())];
    let mut path = Vec::with_capacity(pattern.len() + 16);
    for byte in pattern.bytes() {
        match byte {
            b'#' => push_u64(&mut path, 100 + rng.below(99_900)),
            b'@' => crate::model::push_hex(&mut path, &rng.next_u64().to_be_bytes()[..4]),
            b'%' => path.extend_from_slice(word(pools, rng).as_bytes()),
            other => path.push(other),
        }
    }
    let size = match body {
        Body::File => rng.pareto(1024.0, 0.55).min(MAX_BYTES) as u64,
        Body::Dynamic => pools.distributions.page_bytes.sample(rng) as u64,
        Body::Tiny => 20 + rng.below(200),
    };
    Url {
        method,
        path: path.into(),
        body,
        size,
    }
}

fn word<'a>(pools: &'a Pools, rng: &mut Rng) -> &'a str {
    let words = &pools.words;
    let word = rng.pick(words).map_or("home", String::as_str);
    if word.bytes().all(|b| b.is_ascii_alphanumeric()) {
        word
    } else {
        "sale"
    }
}

/// `-` for 40 % of hits, the site's own pages for 45 %, search engines and social for 15 %.
fn referrers(urls: &[Url], site: &str) -> Option<WeightedList> {
    let own: Vec<(String, f64)> = urls
        .iter()
        .filter(|url| url.method == "GET" && url.body == Body::Dynamic)
        .take(40)
        .enumerate()
        .map(|(rank, url)| {
            let path = String::from_utf8_lossy(&url.path);
            (format!("https://{site}{path}"), 1.0 / (rank as f64 + 1.0))
        })
        .collect();
    let own_total: f64 = own.iter().map(|(_, weight)| weight).sum::<f64>().max(1e-9);
    let external_total: f64 = lists::REFERRERS.iter().map(|(_, weight)| weight).sum();
    let pairs = std::iter::once(("-".to_string(), 40.0))
        .chain(
            own.into_iter()
                .map(|(text, weight)| (text, weight / own_total * 45.0)),
        )
        .chain(
            lists::REFERRERS
                .iter()
                .map(|(text, weight)| (text.to_string(), weight / external_total * 15.0)),
        );
    WeightedList::new(pairs)
}

/// The access-log layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessLayout {
    /// `host ident user [time] "request" status bytes`.
    Common,
    /// Common plus `"referer" "agent"`.
    Combined,
    /// Combined plus the request time in seconds.
    Nginx,
}

/// Per-line inputs of the access renderer.
pub struct AccessLine<'a> {
    /// The service's pools.
    pub access: &'a AccessPools,
    /// The tenant's pools.
    pub pools: &'a Pools,
    /// The tenant's clock.
    pub clock: &'a mut TimeCache,
    /// The line's time.
    pub timestamp_ns: i64,
}

/// Renders one access-log line onto `out`; returns its severity (from the status class).
pub fn render(
    layout: AccessLayout,
    line: AccessLine<'_>,
    rng: &mut Rng,
    out: &mut Vec<u8>,
) -> Severity {
    let AccessLine {
        access,
        pools,
        clock,
        timestamp_ns,
    } = line;
    let url = &access.urls[access.url_table.sample(rng)];
    let status = access.statuses[access.status_table.sample(rng)];
    out.extend_from_slice(pools.client_ips.sample(rng));
    out.extend_from_slice(b" - ");
    if rng.chance(0.03) {
        out.extend_from_slice(pools.users.sample(rng));
    } else {
        out.push(b'-');
    }
    out.push(b' ');
    clock.push(out, timestamp_ns);
    out.extend_from_slice(b" \"");
    out.extend_from_slice(url.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(&url.path);
    out.extend_from_slice(if rng.chance(0.3) {
        b" HTTP/2.0\" "
    } else {
        b" HTTP/1.1\" "
    });
    out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
    out.push(b' ');
    push_bytes(out, response_bytes(url, status, rng));
    if layout != AccessLayout::Common {
        out.extend_from_slice(b" \"");
        out.extend_from_slice(access.referrers.sample(rng));
        out.extend_from_slice(b"\" \"");
        out.extend_from_slice(access.agents.sample(rng));
        out.push(b'"');
    }
    if layout == AccessLayout::Nginx {
        out.push(b' ');
        let millis = if url.body == Body::File {
            rng.exponential(1.5)
        } else {
            pools.distributions.latency_ms.sample(rng)
        };
        push_decimal(out, millis / 1_000.0, 3);
    }
    severity_of(status)
}

fn response_bytes(url: &Url, status: u16, rng: &mut Rng) -> u64 {
    match status {
        304 | 204 => 0,
        206 => url.size / (2 + rng.below(8)),
        200 | 201 => match url.body {
            Body::File => url.size,
            Body::Dynamic | Body::Tiny => url.size / 2 + rng.below(url.size.max(1)),
        },
        _ => 150 + rng.below(450),
    }
}

/// `-` for zero bytes, as Apache's `%b` writes it.
fn push_bytes(out: &mut Vec<u8>, bytes: u64) {
    if bytes == 0 {
        out.push(b'-');
    } else {
        push_u64(out, bytes);
    }
}

fn severity_of(status: u16) -> Severity {
    match status {
        500.. => Severity::Error,
        400..=499 => Severity::Warn,
        _ => Severity::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Key;

    #[test]
    fn ten_percent_of_urls_take_most_hits() {
        let pools = Pools::build(Key::new(3).with("t"), &[]).expect("pools");
        let access = AccessPools::build(SiteKind::Storefront, &pools, &mut Rng::from_seed(1))
            .expect("access");
        let mut counts = vec![0usize; access.urls.len()];
        let mut rng = Rng::from_seed(2);
        for _ in 0..100_000 {
            counts[access.url_table.sample(&mut rng)] += 1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: usize = counts[..counts.len() / 10].iter().sum();
        let share = top as f64 / 100_000.0;
        assert!((0.75..0.96).contains(&share), "{share}");
    }

    #[test]
    fn service_names_pick_site_kinds() {
        assert_eq!(SiteKind::for_service("api-gateway"), SiteKind::Api);
        assert_eq!(SiteKind::for_service("static-assets"), SiteKind::Static);
        assert_eq!(
            SiteKind::for_service("storefront-web"),
            SiteKind::Storefront
        );
    }
}
