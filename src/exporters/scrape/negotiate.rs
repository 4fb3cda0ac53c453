//! Content negotiation of scrapes: which exposition format and whether to gzip.
//!
//! Prometheus's `Accept` ranks OpenMetrics 1.0.0 first, then OpenMetrics 0.0.1, text 1.0.0,
//! text 0.0.4 and `*/*`. The exporter answers OpenMetrics 1.0.0 whenever it is accepted with
//! q > 0 (only it carries exemplars) and text 0.0.4 otherwise, the format every scraper reads.

/// An exposition format the exporter serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

impl Format {
    /// The exact `Content-Type`, with version and charset.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// One media range or coding of an `Accept` or `Accept-Encoding` header.
struct Range<'a> {
    /// As sent; callers compare it case-insensitively.
    value: &'a str,
    params: &'a str,
    q: f64,
}

impl Range<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.split(';').find_map(|param| {
            let (key, value) = param.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().trim_matches('"'))
        })
    }
}

/// The comma-separated entries of a header, with their `q` (1 when absent or malformed).
fn ranges(header: &str) -> impl Iterator<Item = Range<'_>> {
    header.split(',').filter_map(|entry| {
        let (value, params) = entry.split_once(';').unwrap_or((entry, ""));
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        let mut range = Range {
            value,
            params,
            q: 1.0,
        };
        if let Some(q) = range.param("q") {
            range.q = q
                .parse()
                .ok()
                .filter(|q: &f64| q.is_finite())
                .unwrap_or(1.0);
        }
        Some(range)
    })
}

/// The format to answer a scrape with, given its `Accept` header.
pub fn choose_format(accept: Option<&str>, openmetrics: bool) -> Format {
    let Some(accept) = accept.filter(|_| openmetrics) else {
        return Format::Text;
    };
    let accepts_openmetrics = ranges(accept).any(|range| {
        range
            .value
            .eq_ignore_ascii_case("application/openmetrics-text")
            && range.q > 0.0
            && range
                .param("version")
                .is_none_or(|version| version == "1.0.0")
    });
    if accepts_openmetrics {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// Whether an `Accept-Encoding` header allows gzip (`gzip` or `*` with q > 0, and gzip not
/// refused by name).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(header) = accept_encoding else {
        return false;
    };
    let mut gzip = None;
    let mut any = None;
    for range in ranges(header) {
        if range.value.eq_ignore_ascii_case("gzip") || range.value.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(range.q > 0.0);
        } else if range.value == "*" {
            any = Some(range.q > 0.0);
        }
    }
    gzip.or(any).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Accept` header Prometheus 2.42 sends on every scrape.
    const PROMETHEUS_2_42: &str = "application/openmetrics-text;version=1.0.0,\
        application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn prometheus_gets_openmetrics_when_enabled() {
        assert_eq!(
            choose_format(Some(PROMETHEUS_2_42), true),
            Format::OpenMetrics
        );
        assert_eq!(choose_format(Some(PROMETHEUS_2_42), false), Format::Text);
    }

    #[test]
    fn plain_wildcard_and_missing_headers_get_text() {
        for accept in [
            Some("text/plain"),
            Some("*/*"),
            None,
            Some(""),
            Some("application/json"),
        ] {
            assert_eq!(choose_format(accept, true), Format::Text, "{accept:?}");
        }
    }

    #[test]
    fn openmetrics_needs_a_positive_q_and_version_1() {
        let refused = "application/openmetrics-text;version=1.0.0;q=0,text/plain;q=0.5";
        assert_eq!(choose_format(Some(refused), true), Format::Text);
        let old_only = "application/openmetrics-text; version=0.0.1, text/plain;version=0.0.4";
        assert_eq!(choose_format(Some(old_only), true), Format::Text);
        let unversioned = "Application/OpenMetrics-Text; q=0.2";
        assert_eq!(choose_format(Some(unversioned), true), Format::OpenMetrics);
        let quoted = "application/openmetrics-text; version=\"1.0.0\"";
        assert_eq!(choose_format(Some(quoted), true), Format::OpenMetrics);
    }

    #[test]
    fn content_types_carry_version_and_charset() {
        assert_eq!(
            Format::Text.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(
            Format::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
    }

    #[test]
    fn gzip_follows_accept_encoding() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, GZIP;q=0.5")));
        assert!(accepts_gzip(Some("*")));
        assert!(!accepts_gzip(Some("gzip;q=0, *")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(Some("br, *;q=0")));
        assert!(!accepts_gzip(None));
    }
}
