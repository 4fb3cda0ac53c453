//! Line rewriting for log anomalies: injected messages in the dialect of the line they copy,
//! abnormal variables, malformed and garbage bytes, oversized lines and stack-trace explosions.

use crate::model::Severity;
use crate::model::logs::push_rfc3339_nanos;
use crate::random::Rng;

/// Largest line L-HUGE writes, whatever `size` says.
const MAX_HUGE_BYTES: u64 = 16 << 20;

/// Most frames L-MULTILINE writes, whatever `size` says.
const MAX_FRAMES: u64 = 100_000;

/// ERROR messages of L-ERRBURST; each anomaly uses one to three of them.
pub(super) const ERROR_MESSAGES: &[&str] = &[
    "connection pool exhausted: timeout acquiring connection after 30000ms",
    "upstream request failed: 503 Service Unavailable from inventory:8080",
    "database query failed: deadlock detected while waiting for ShareLock on transaction",
    "circuit breaker OPEN for payment-gateway after 20 consecutive failures",
    "java.net.SocketTimeoutException: Read timed out after 5000ms",
];

/// Templates no generator writes (L-NEWTPL); each anomaly uses one, `{}` is a variable.
pub(super) const NEW_TEMPLATES: &[&str] = &[
    "FATAL unexpected opcode 0x{} in frame decoder (build a1b2c3)",
    "FATAL ledger invariant violated: shard {} balance is negative",
    "FATAL segment file checksum mismatch at offset {}, refusing to start",
];

/// How a line is laid out, so injected lines look like their neighbours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    /// One JSON object.
    Json,
    /// `key=value` pairs.
    Logfmt,
    /// Anything else.
    Plain,
}

impl Layout {
    /// The layout of `line`.
    pub(super) fn of(line: &[u8]) -> Layout {
        if line.first() == Some(&b'{') {
            Layout::Json
        } else if find(line, b"level=").is_some() {
            Layout::Logfmt
        } else {
            Layout::Plain
        }
    }
}

/// A line saying `message` at `severity` and `t_ns`, laid out as `layout`.
pub(super) fn render(layout: Layout, t_ns: i64, severity: Severity, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    match layout {
        Layout::Json => {
            out.extend_from_slice(b"{\"timestamp\":\"");
            push_rfc3339_nanos(&mut out, t_ns);
            out.extend_from_slice(b"\",\"level\":\"");
            out.extend_from_slice(severity.as_str().as_bytes());
            out.extend_from_slice(b"\",\"message\":");
            let quoted = serde_json::to_string(message).unwrap_or_default();
            out.extend_from_slice(quoted.as_bytes());
            out.push(b'}');
        }
        Layout::Logfmt => {
            out.extend_from_slice(b"time=");
            push_rfc3339_nanos(&mut out, t_ns);
            out.extend_from_slice(b" level=");
            out.extend_from_slice(severity.as_str().as_bytes());
            out.extend_from_slice(b" msg=\"");
            out.extend_from_slice(message.replace('"', "'").as_bytes());
            out.push(b'"');
        }
        Layout::Plain => {
            push_rfc3339_nanos(&mut out, t_ns);
            out.push(b' ');
            out.extend_from_slice(severity.as_upper().as_bytes());
            out.push(b' ');
            out.extend_from_slice(message.as_bytes());
        }
    }
    out
}

/// Whether a line reads like the closing event of a request or job (L-SEQ).
pub(super) fn is_completion(line: &[u8]) -> bool {
    [&b"completed"[..], b"finished", b" 200 ", b"status=200"]
        .iter()
        .any(|needle| find(line, needle).is_some())
}

/// L-ATTR: the line with its duration set to 30 s and its HTTP status to `status`, or `None`
/// when it carries neither.
pub(super) fn abnormal_attributes(line: &[u8], status: u16) -> Option<Vec<u8>> {
    let status = status.to_string();
    let mut out = line.to_vec();
    let mut changed = false;
    for marker in [
        &b"duration="[..],
        b"\"duration\":",
        b"took ",
        b"duration_ms=",
    ] {
        changed |= replace_value(&mut out, marker, |old| {
            if old.ends_with(b"ms") {
                b"30000ms".to_vec()
            } else if old.ends_with(b"s") {
                b"30s".to_vec()
            } else {
                b"30000".to_vec()
            }
        });
    }
    for marker in [
        &b"status="[..],
        b"\"status\":",
        b"HTTP/1.1\" ",
        b"HTTP/2.0\" ",
    ] {
        changed |= replace_value(&mut out, marker, |_| status.as_bytes().to_vec());
    }
    changed.then_some(out)
}

/// Replaces the value after the first `marker` (up to a space, comma, quote, `}` or `|`),
/// keeping an opening quote; whether anything changed.
fn replace_value(line: &mut Vec<u8>, marker: &[u8], new: impl Fn(&[u8]) -> Vec<u8>) -> bool {
    let Some(at) = find(line, marker) else {
        return false;
    };
    let mut start = at + marker.len();
    if line.get(start) == Some(&b'"') {
        start += 1;
    }
    let end = line[start..]
        .iter()
        .position(|b| matches!(b, b' ' | b',' | b'"' | b'}' | b'|'))
        .map_or(line.len(), |n| start + n);
    if end == start || !line[start].is_ascii_digit() {
        return false;
    }
    let value = new(&line[start..end]);
    if value == line[start..end] {
        return false;
    }
    line.splice(start..end, value);
    true
}

/// L-MALFORMED: truncated, quote-unbalanced, or (JSON) missing its closing brace.
pub(super) fn malformed(line: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = line.to_vec();
    match rng.below(3) {
        0 if out.len() > 4 => {
            let keep = out.len() * (40 + rng.below(50) as usize) / 100;
            out.truncate(keep.max(1));
        }
        1 if Layout::of(line) == Layout::Json && out.ends_with(b"}") => {
            out.pop();
        }
        _ => {
            let at = rng.index(out.len() + 1);
            out.insert(at, b'"');
        }
    }
    out
}

/// L-GARBAGE: invalid UTF-8, a NUL, ANSI colour escapes, a stray CR or a BOM.
pub(super) fn garbage(line: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = line.to_vec();
    let at = rng.index(out.len() + 1);
    match rng.below(5) {
        0 => {
            out.splice(at..at, [0xc3, 0x28, 0xff, 0xfe]);
        }
        1 => out.insert(at, 0),
        2 => {
            out.splice(at..at, *b"\x1b[31m");
            out.extend_from_slice(b"\x1b[0m");
        }
        3 => out.insert(at, b'\r'),
        _ => {
            out.splice(0..0, [0xef, 0xbb, 0xbf]);
        }
    }
    out
}

/// L-HUGE: the line padded to `size` bytes (a `payload` field in JSON, `payload=` otherwise);
/// `None` when it is already that long.
pub(super) fn huge(line: &[u8], size: u64, rng: &mut Rng) -> Option<Vec<u8>> {
    let size = size.min(MAX_HUGE_BYTES) as usize;
    let json = Layout::of(line) == Layout::Json && line.ends_with(b"}");
    let (head, tail): (&[u8], &[u8]) = if json {
        (&b",\"payload\":\""[..], b"\"}")
    } else {
        (b" payload=", b"")
    };
    let body = if json { &line[..line.len() - 1] } else { line };
    let overhead = body.len() + head.len() + tail.len();
    if overhead >= size {
        return None;
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(body);
    out.extend_from_slice(head);
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    while out.len() < size - tail.len() {
        let word = rng.next_u64();
        for shift in (0..60).step_by(5) {
            if out.len() == size - tail.len() {
                break;
            }
            out.push(ALPHABET[((word >> shift) & 31) as usize]);
        }
    }
    out.extend_from_slice(tail);
    Some(out)
}

/// L-MULTILINE: the line followed by a Java stack trace of `frames` frames (50–500 at random
/// when `None`), with nested `Caused by:` sections, as raw newlines.
pub(super) fn multiline(line: &[u8], frames: Option<u64>, rng: &mut Rng) -> Vec<u8> {
    const CLASSES: &[&str] = &[
        "com.example.shop.order.OrderService",
        "com.example.shop.payment.PaymentClient",
        "org.springframework.web.servlet.FrameworkServlet",
        "org.hibernate.engine.jdbc.spi.SqlExceptionHelper",
        "io.netty.channel.AbstractChannelHandlerContext",
        "java.util.concurrent.ThreadPoolExecutor",
    ];
    const METHODS: &[&str] = &["invoke", "process", "handle", "execute", "run", "doFilter"];
    const CAUSES: &[&str] = &[
        "java.lang.IllegalStateException: connection is closed",
        "java.sql.SQLTransientConnectionException: pool timed out after 30000ms",
        "java.io.IOException: Broken pipe",
    ];
    let frames = frames
        .unwrap_or_else(|| rng.range_inclusive(50, 500))
        .min(MAX_FRAMES);
    let section = (frames / 3).max(1);
    let mut out = line.to_vec();
    for frame in 0..frames {
        if frame > 0 && frame % section == 0 {
            out.extend_from_slice(b"\nCaused by: ");
            out.extend_from_slice(CAUSES[rng.index(CAUSES.len())].as_bytes());
        }
        let class = CLASSES[rng.index(CLASSES.len())];
        let file = class.rsplit('.').next().unwrap_or(class);
        let method = METHODS[rng.index(METHODS.len())];
        let number = 20 + rng.below(900);
        out.extend_from_slice(format!("\n\tat {class}.{method}({file}.java:{number})").as_bytes());
    }
    out
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
