//! Serde helpers for configuration values: durations and byte sizes written for people.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Deserializes a duration from a humantime string (`"500ms"`, `"10s"`, `"1h 30m"`).
pub fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(|error| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?}: {error} (examples: \"500ms\", \"10s\", \"5m\")"
        ))
    })
}

/// Like [`duration`], for an optional value.
pub fn option_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    duration(deserializer).map(Some)
}

/// Deserializes a byte size: an integer, or a string with a unit (`"1MiB"`, `"512KB"`, `"4mb"`).
pub fn byte_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(text) => parse_byte_size(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid byte size {text:?} (examples: 1048576, \"1MiB\", \"512KB\")"
            ))
        }),
    }
}

/// Parses `"1MiB"`, `"512 KB"`, `"4mb"` or a plain number of bytes.
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "kib" | "k" => 1024.0,
        "mb" => 1e6,
        "mib" | "m" => 1024.0 * 1024.0,
        "gb" => 1e9,
        "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * factor;
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_byte_sizes() {
        assert_eq!(parse_byte_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_byte_size("512 KB"), Some(512_000));
        assert_eq!(parse_byte_size("42"), Some(42));
        assert_eq!(parse_byte_size("1.5kib"), Some(1536));
        assert_eq!(parse_byte_size("lots"), None);
        assert_eq!(parse_byte_size("3 parsecs"), None);
    }
}
