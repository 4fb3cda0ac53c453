//! Escaping helpers shared by the structured dialects: JSON strings, logfmt values and RFC 5424
//! structured-data parameter values.
//!
//! Each helper appends to an output buffer and scans for the rare bytes that need work, so the
//! common case is one bulk copy.

/// Appends `value` as the inside of a JSON string (without the surrounding quotes).
///
/// Escapes `"`, `\` and every control byte below 0x20; other bytes, including UTF-8 sequences,
/// are copied as they are.
pub fn push_json_escaped(out: &mut Vec<u8>, value: &[u8]) {
    let mut start = 0;
    for (index, &byte) in value.iter().enumerate() {
        if byte >= 0x20 && byte != b'"' && byte != b'\\' {
            continue;
        }
        out.extend_from_slice(&value[start..index]);
        push_escaped_byte(out, byte);
        start = index + 1;
    }
    out.extend_from_slice(&value[start..]);
}

/// Appends `value` as a complete JSON string, quotes included.
pub fn push_json_string(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    push_json_escaped(out, value);
    out.push(b'"');
}

/// Whether a logfmt value must be quoted: empty, or holding a space, `=`, `"` or a control byte.
pub fn logfmt_needs_quotes(value: &[u8]) -> bool {
    value.is_empty()
        || value
            .iter()
            .any(|&byte| byte <= b' ' || byte == b'=' || byte == b'"')
}

/// Appends a logfmt value, quoted and escaped only when [`logfmt_needs_quotes`] says so.
pub fn push_logfmt_value(out: &mut Vec<u8>, value: &[u8]) {
    if logfmt_needs_quotes(value) {
        out.push(b'"');
        push_json_escaped(out, value);
        out.push(b'"');
    } else {
        out.extend_from_slice(value);
    }
}

/// Appends an RFC 5424 PARAM-VALUE body: `"`, `\` and `]` get a backslash (section 6.3.3).
pub fn push_sd_param_value(out: &mut Vec<u8>, value: &[u8]) {
    for &byte in value {
        if matches!(byte, b'"' | b'\\' | b']') {
            out.push(b'\\');
        }
        out.push(byte);
    }
}

fn push_escaped_byte(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match byte {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        other => {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(other >> 4)]);
            out.push(HEX[usize::from(other & 0x0f)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// An independent logfmt value reader: bare up to a space, or quoted with escapes.
    fn read_logfmt_value(text: &str) -> Option<String> {
        let Some(body) = text.strip_prefix('"') else {
            return (!text.contains([' ', '"', '='])).then(|| text.to_string());
        };
        let body = body.strip_suffix('"')?;
        serde_json::from_str(&format!("\"{body}\"")).ok()
    }

    #[test]
    fn json_escapes_quotes_backslashes_and_controls() {
        let mut out = Vec::new();
        push_json_string(&mut out, b"a\"b\\c\nd\x01");
        assert_eq!(out, br#""a\"b\\c\nd\u0001""#);
    }

    #[test]
    fn logfmt_leaves_plain_values_bare() {
        let mut out = Vec::new();
        push_logfmt_value(&mut out, b"12ms");
        assert_eq!(out, b"12ms");
        out.clear();
        push_logfmt_value(&mut out, b"a b=\"c\"");
        assert_eq!(out, br#""a b=\"c\"""#);
    }

    #[test]
    fn sd_values_escape_closing_bracket() {
        let mut out = Vec::new();
        push_sd_param_value(&mut out, b"a]b\"c\\");
        assert_eq!(out, br#"a\]b\"c\\"#);
    }

    proptest! {
        #[test]
        fn json_string_round_trips(value in any::<String>()) {
            let mut out = Vec::new();
            push_json_string(&mut out, value.as_bytes());
            let parsed: String = serde_json::from_slice(&out).expect("valid JSON string");
            prop_assert_eq!(parsed, value);
        }

        #[test]
        fn logfmt_value_round_trips(value in any::<String>()) {
            let mut out = Vec::new();
            push_logfmt_value(&mut out, value.as_bytes());
            let text = String::from_utf8(out).expect("utf-8");
            let quoted = text.starts_with('"');
            prop_assert_eq!(quoted, logfmt_needs_quotes(value.as_bytes()));
            prop_assert!(!text.contains(['\n', '\r']));
            prop_assert_eq!(read_logfmt_value(&text), Some(value));
        }

        #[test]
        fn sd_value_has_no_bare_terminators(value in "[ -~]{0,40}") {
            let mut out = Vec::new();
            push_sd_param_value(&mut out, value.as_bytes());
            let mut escaped = false;
            for &byte in &out {
                if !escaped {
                    prop_assert!(byte != b'"' && byte != b']');
                }
                escaped = !escaped && byte == b'\\';
            }
            prop_assert!(!escaped);
        }
    }
}
