//! Timestamp formats of the dialects, cached per second.
//!
//! Lines of a tenant come out in time order, so consecutive lines almost always share their
//! second. A [`TimeCache`] formats the whole-second part once and then writes only the fraction,
//! which keeps calendar arithmetic off the per-line path.

use crate::model::logs::civil_from_unix;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The timestamp layouts synthtel writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// Apache/nginx `[10/Oct/2000:13:55:36 -0700]`, local time at the offset.
    Apache,
    /// RFC 3339 in UTC with `digits` fraction digits (3, 6 or 9): `2026-12-03T19:26:44.123Z`.
    Rfc3339 {
        /// Number of fraction digits.
        digits: u8,
    },
    /// BSD syslog `Dec  3 19:26:44`, local time, day padded with a space.
    Bsd,
    /// Logback's default `2026-12-03 19:26:44.123`, local time.
    Logback,
    /// klog's `1203 19:26:44.123456` (the level letter is written by the caller).
    Klog,
}

/// A formatter that reuses the text of the last whole second it wrote.
#[derive(Clone, Debug)]
pub struct TimeCache {
    format: TimeFormat,
    offset_minutes: i32,
    second: i64,
    prefix: [u8; 40],
    prefix_len: usize,
}

impl TimeCache {
    /// A cache for `format`; local formats shift UTC by `offset_minutes`.
    pub fn new(format: TimeFormat, offset_minutes: i32) -> Self {
        TimeCache {
            format,
            offset_minutes,
            second: i64::MIN,
            prefix: [0; 40],
            prefix_len: 0,
        }
    }

    /// Appends the time `timestamp_ns` (Unix nanoseconds) in the cache's format.
    #[inline]
    pub fn push(&mut self, out: &mut Vec<u8>, timestamp_ns: i64) {
        let second = timestamp_ns.div_euclid(1_000_000_000);
        if second != self.second {
            self.refill(second);
        }
        out.extend_from_slice(&self.prefix[..self.prefix_len]);
        let nanos = timestamp_ns.rem_euclid(1_000_000_000) as u32;
        match self.format {
            TimeFormat::Apache | TimeFormat::Bsd => {}
            TimeFormat::Rfc3339 { digits } => {
                push_fraction(out, nanos, digits);
                out.push(b'Z');
            }
            TimeFormat::Logback => push_fraction(out, nanos, 3),
            TimeFormat::Klog => push_fraction(out, nanos, 6),
        }
    }

    fn refill(&mut self, second: i64) {
        let mut text = Vec::with_capacity(40);
        let local = second + i64::from(self.offset_minutes) * 60;
        let (year, month, day, hour, minute, sec) = civil_from_unix(local);
        let month_name = MONTHS[(month - 1) as usize];
        match self.format {
            TimeFormat::Apache => {
                text.push(b'[');
                push_padded(&mut text, day, 2);
                text.push(b'/');
                text.extend_from_slice(month_name);
                text.push(b'/');
                push_padded(&mut text, year as u32, 4);
                text.push(b':');
                push_clock(&mut text, hour, minute, sec);
                text.push(b' ');
                push_offset(&mut text, self.offset_minutes);
                text.push(b']');
            }
            TimeFormat::Rfc3339 { .. } => {
                let (year, month, day, hour, minute, sec) = civil_from_unix(second);
                push_date(&mut text, year, month, day, b'-');
                text.push(b'T');
                push_clock(&mut text, hour, minute, sec);
                text.push(b'.');
            }
            TimeFormat::Bsd => {
                text.extend_from_slice(month_name);
                text.push(b' ');
                if day < 10 {
                    text.push(b' ');
                }
                push_padded(&mut text, day, 1);
                text.push(b' ');
                push_clock(&mut text, hour, minute, sec);
            }
            TimeFormat::Logback => {
                push_date(&mut text, year, month, day, b'-');
                text.push(b' ');
                push_clock(&mut text, hour, minute, sec);
                text.push(b'.');
            }
            TimeFormat::Klog => {
                push_padded(&mut text, month, 2);
                push_padded(&mut text, day, 2);
                text.push(b' ');
                push_clock(&mut text, hour, minute, sec);
                text.push(b'.');
            }
        }
        self.prefix[..text.len()].copy_from_slice(&text);
        self.prefix_len = text.len();
        self.second = second;
    }
}

/// Appends `value` zero-padded to at least `width` digits.
#[inline]
pub fn push_padded(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut rest = value;
    let mut used = 0;
    while rest > 0 || used == 0 {
        digits[9 - used] = b'0' + (rest % 10) as u8;
        rest /= 10;
        used += 1;
    }
    let used = used.max(width.min(10));
    out.extend_from_slice(&digits[10 - used..]);
}

fn push_fraction(out: &mut Vec<u8>, nanos: u32, digits: u8) {
    let scaled = nanos / 10u32.pow(9 - u32::from(digits));
    push_padded(out, scaled, usize::from(digits));
}

fn push_date(out: &mut Vec<u8>, year: i64, month: u32, day: u32, separator: u8) {
    push_padded(out, year as u32, 4);
    out.push(separator);
    push_padded(out, month, 2);
    out.push(separator);
    push_padded(out, day, 2);
}

fn push_clock(out: &mut Vec<u8>, hour: u32, minute: u32, second: u32) {
    push_padded(out, hour, 2);
    out.push(b':');
    push_padded(out, minute, 2);
    out.push(b':');
    push_padded(out, second, 2);
}

fn push_offset(out: &mut Vec<u8>, offset_minutes: i32) {
    out.push(if offset_minutes < 0 { b'-' } else { b'+' });
    let magnitude = offset_minutes.unsigned_abs();
    push_padded(out, magnitude / 60, 2);
    push_padded(out, magnitude % 60, 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2000-10-10T20:55:36.123456789Z
    const TIME: i64 = 971_211_336_123_456_789;

    fn render(format: TimeFormat, offset_minutes: i32, timestamp_ns: i64) -> String {
        let mut cache = TimeCache::new(format, offset_minutes);
        let mut out = Vec::new();
        cache.push(&mut out, timestamp_ns);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn apache_time_is_local_with_offset() {
        assert_eq!(
            render(TimeFormat::Apache, -420, TIME),
            "[10/Oct/2000:13:55:36 -0700]"
        );
        assert_eq!(
            render(TimeFormat::Apache, 330, TIME),
            "[11/Oct/2000:02:25:36 +0530]"
        );
    }

    #[test]
    fn rfc3339_has_requested_fraction() {
        assert_eq!(
            render(TimeFormat::Rfc3339 { digits: 9 }, 0, TIME),
            "2000-10-10T20:55:36.123456789Z"
        );
        assert_eq!(
            render(TimeFormat::Rfc3339 { digits: 3 }, 60, TIME),
            "2000-10-10T20:55:36.123Z"
        );
    }

    #[test]
    fn bsd_pads_day_with_space() {
        // 2001-01-05T03:04:05Z
        let time = 978_663_845_000_000_000;
        assert_eq!(render(TimeFormat::Bsd, 0, time), "Jan  5 03:04:05");
        assert_eq!(render(TimeFormat::Bsd, 0, TIME), "Oct 10 20:55:36");
    }

    #[test]
    fn logback_and_klog_layouts() {
        assert_eq!(
            render(TimeFormat::Logback, 0, TIME),
            "2000-10-10 20:55:36.123"
        );
        assert_eq!(render(TimeFormat::Klog, 0, TIME), "1010 20:55:36.123456");
    }

    #[test]
    fn cache_follows_second_changes() {
        let mut cache = TimeCache::new(TimeFormat::Rfc3339 { digits: 3 }, 0);
        let mut out = Vec::new();
        cache.push(&mut out, TIME);
        out.push(b' ');
        cache.push(&mut out, TIME + 1_000_000_000);
        assert_eq!(out, b"2000-10-10T20:55:36.123Z 2000-10-10T20:55:37.123Z");
    }
}
