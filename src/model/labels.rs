//! Label sets: Loki stream labels, and later metric series.
//!
//! A [`Labels`] value is sorted by name, free of repeats and empty values, and carries its Loki
//! selector text (`{a="b", c="d"}`) and a hash computed once, so that encoders and shard
//! assignment never recompute them.

use std::fmt::Write as _;

use crate::random::mix64;

/// A sorted, validated set of label pairs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Labels {
    pairs: Vec<(String, String)>,
    selector: String,
    hash: u64,
}

/// Why a label set is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// A name does not match `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("label name {0:?} is not of the form [a-zA-Z_][a-zA-Z0-9_]*")]
    BadName(String),
    /// A name starts with the reserved `__`.
    #[error("label name {0:?} starts with the reserved \"__\"")]
    Reserved(String),
    /// A name occurs twice.
    #[error("label name {0:?} occurs twice")]
    Repeated(String),
}

impl Labels {
    /// Builds a label set: sorts by name, drops pairs with an empty value, rejects bad names.
    pub fn new<I, K, V>(pairs: I) -> Result<Self, LabelError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !is_valid_label_name(name) {
                return Err(LabelError::BadName(name.clone()));
            }
            if name.starts_with("__") {
                return Err(LabelError::Reserved(name.clone()));
            }
            if i > 0 && pairs[i - 1].0 == *name {
                return Err(LabelError::Repeated(name.clone()));
            }
        }
        let selector = loki_selector(&pairs);
        let hash = hash_pairs(&pairs);
        Ok(Labels {
            pairs,
            selector,
            hash,
        })
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The value of a label, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Loki's selector text, e.g. `{env="prod", service_name="cart"}`.
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// A stable 64-bit hash of the pairs.
    pub fn hash_value(&self) -> u64 {
        self.hash
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// A copy with one label added or replaced.
    pub fn with(&self, name: &str, value: &str) -> Result<Self, LabelError> {
        let pairs = self
            .pairs
            .iter()
            .filter(|(n, _)| n != name)
            .cloned()
            .chain(std::iter::once((name.to_string(), value.to_string())));
        Labels::new(pairs)
    }
}

/// Whether `name` matches `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(first) if first.is_ascii_alphabetic() || first == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn loki_selector(pairs: &[(String, String)]) -> String {
    let mut out = String::with_capacity(2 + pairs.len() * 24);
    out.push('{');
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{name}=\"");
        escape_label_value(&mut out, value);
        out.push('"');
    }
    out.push('}');
    out
}

/// Escapes a label value Go-style: backslash, double quote and newline.
pub fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
}

fn hash_pairs(pairs: &[(String, String)]) -> u64 {
    let mut hash: u64 = 0x6c61_6265_6c73;
    for (name, value) in pairs {
        for byte in name
            .bytes()
            .chain([0xff])
            .chain(value.bytes())
            .chain([0xfe])
        {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    mix64(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_renders_selector() {
        let labels = Labels::new([("service_name", "cart"), ("env", "prod")]).expect("labels");
        assert_eq!(labels.selector(), r#"{env="prod", service_name="cart"}"#);
        assert_eq!(labels.get("env"), Some("prod"));
    }

    #[test]
    fn escapes_values() {
        let labels = Labels::new([("a", "x\"y\\z\nw")]).expect("labels");
        assert_eq!(labels.selector(), r#"{a="x\"y\\z\nw"}"#);
    }

    #[test]
    fn rejects_bad_names_and_repeats() {
        assert!(matches!(
            Labels::new([("1a", "x")]),
            Err(LabelError::BadName(_))
        ));
        assert!(matches!(
            Labels::new([("__name", "x")]),
            Err(LabelError::Reserved(_))
        ));
        assert!(matches!(
            Labels::new([("a", "x"), ("a", "y")]),
            Err(LabelError::Repeated(_))
        ));
    }

    #[test]
    fn drops_empty_values() {
        let labels = Labels::new([("a", ""), ("b", "1")]).expect("labels");
        assert_eq!(labels.len(), 1);
    }
}
