//! Message templates: parsing the corpus, and each service's Zipf-ranked template set.
//!
//! A service draws its templates from the corpus domains it works in. Ranks follow Zipf with
//! exponent `s` (REALISM §1.2), and levels belong to templates (§1.3): the top ranks hold INFO
//! templates, while WARN and ERROR templates are placed on tail ranks whose Zipf weights add up to
//! the target shares, so the expected mix is about INFO 92 / WARN 6.5 / ERROR 1.5 %.

use super::catalog;
use super::pools::Slot;
use crate::model::Severity;
use crate::random::{Rng, WeightedIndex, zipf_weights};

/// Expected share of WARN lines among non-debug lines.
pub const WARN_SHARE: f64 = 0.065;
/// Expected share of ERROR lines among non-debug lines.
pub const ERROR_SHARE: f64 = 0.015;

/// What a template talks about; services pick templates by domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The names are the documentation: one per corpus section.
pub enum Domain {
    Http,
    Db,
    Cache,
    Auth,
    Payment,
    Order,
    Cart,
    Catalog,
    Inventory,
    Shipping,
    Search,
    Notify,
    Kafka,
    Scheduler,
    Jvm,
    Probe,
    Lifecycle,
    Tls,
    Retry,
    Sshd,
    Cron,
    Systemd,
    Kernel,
    Sudo,
    Postfix,
    Kubelet,
    Chrony,
}

/// A piece of a message: fixed text or a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text copied as it is.
    Text(&'static str),
    /// A value drawn from the pools.
    Slot(Slot),
}

/// A structured field of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The key (`duration`).
    pub key: &'static str,
    /// The value's parts.
    pub value: Vec<Part>,
    /// Whether the value is a single numeric slot (unquoted in JSON).
    pub numeric: bool,
    /// `,"key":` plus the opening quote for string values, ready to copy into JSON lines.
    pub json_prefix: Box<[u8]>,
    /// ` key=`, ready to copy into logfmt and plain lines.
    pub plain_prefix: Box<[u8]>,
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The template's one level.
    pub level: Severity,
    /// Whether the line is written inside a request (and carries trace and span ids).
    pub request_scoped: bool,
    /// The corpus section the template comes from.
    pub domain: Domain,
    /// The message parts.
    pub message: Vec<Part>,
    /// The structured fields.
    pub fields: Vec<Field>,
    /// The source text, for error messages and tests.
    pub source: &'static str,
    /// Whether no fixed text of the message or fields needs JSON escaping (slot values never
    /// do), so JSON renderers may write it without a second pass.
    pub json_clean: bool,
}

/// Why a corpus entry does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The level/scope header is not one of `I W E D` followed by `r` or `b`.
    #[error("template {0:?} does not start with a level (I, W, E, D) and scope (r, b)")]
    BadHeader(&'static str),
    /// A `{name}` names no known slot.
    #[error("template {template:?} uses the unknown slot {{{name}}}")]
    UnknownSlot {
        /// The template text.
        template: &'static str,
        /// The unknown name.
        name: &'static str,
    },
    /// A `{` has no matching `}`.
    #[error("template {0:?} has an unclosed {{")]
    Unclosed(&'static str),
    /// A field is not `key=value`.
    #[error("template {template:?} has a field without '=': {field:?}")]
    BadField {
        /// The template text.
        template: &'static str,
        /// The field text.
        field: &'static str,
    },
}

/// Parses one corpus entry (`Ir message | key={slot}`).
pub fn parse_template(domain: Domain, source: &'static str) -> Result<Template, TemplateError> {
    let bytes = source.as_bytes();
    let level = match bytes.first() {
        Some(b'I') => Severity::Info,
        Some(b'W') => Severity::Warn,
        Some(b'E') => Severity::Error,
        Some(b'D') => Severity::Debug,
        _ => return Err(TemplateError::BadHeader(source)),
    };
    let request_scoped = match bytes.get(1..3) {
        Some(b"r ") => true,
        Some(b"b ") => false,
        _ => return Err(TemplateError::BadHeader(source)),
    };
    let body = &source[3..];
    let (message, fields) = body.split_once(" | ").unwrap_or((body, ""));
    let message = parse_parts(source, message)?;
    let fields = parse_fields(source, fields)?;
    let json_clean = message
        .iter()
        .chain(fields.iter().flat_map(|field| &field.value))
        .all(|part| match part {
            Part::Text(text) => text.bytes().all(|b| b >= b' ' && b != b'"' && b != b'\\'),
            Part::Slot(_) => true,
        });
    Ok(Template {
        level,
        request_scoped,
        domain,
        message,
        fields,
        source,
        json_clean,
    })
}

fn parse_parts(template: &'static str, text: &'static str) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        let close = rest[open..]
            .find('}')
            .ok_or(TemplateError::Unclosed(template))?
            + open;
        let name = &rest[open + 1..close];
        let slot = Slot::from_name(name).ok_or(TemplateError::UnknownSlot { template, name })?;
        parts.push(Part::Slot(slot));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

fn parse_fields(template: &'static str, text: &'static str) -> Result<Vec<Field>, TemplateError> {
    let mut fields = Vec::new();
    for token in split_outside_quotes(text) {
        let (key, value) = token.split_once('=').ok_or(TemplateError::BadField {
            template,
            field: token,
        })?;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        let value = parse_parts(template, value)?;
        let numeric = matches!(value.as_slice(), [Part::Slot(slot)] if slot.is_numeric());
        let quote = if numeric { "" } else { "\"" };
        let json_prefix = format!(",\"{key}\":{quote}").into_bytes().into();
        let plain_prefix = format!(" {key}=").into_bytes().into();
        fields.push(Field {
            key,
            value,
            numeric,
            json_prefix,
            plain_prefix,
        });
    }
    Ok(fields)
}

fn split_outside_quotes(text: &'static str) -> Vec<&'static str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (index, byte) in text.bytes().enumerate() {
        match byte {
            b'"' => quoted = !quoted,
            b' ' if !quoted => {
                if index > start {
                    tokens.push(&text[start..index]);
                }
                start = index + 1;
            }
            _ => {}
        }
    }
    if start < text.len() {
        tokens.push(&text[start..]);
    }
    tokens
}

/// The whole corpus, parsed: application templates then system ones.
pub fn corpus() -> Result<Vec<Template>, TemplateError> {
    catalog::APP
        .iter()
        .chain(catalog::SYSTEM)
        .map(|(domain, source)| parse_template(*domain, source))
        .collect()
}

/// A service's templates in rank order, with the tables to draw them.
#[derive(Clone, Debug)]
pub struct TemplateSet {
    /// Corpus indices: ranked non-debug templates first, then the debug templates.
    pub entries: Vec<usize>,
    ranked: usize,
    table: WeightedIndex,
    debug_table: Option<WeightedIndex>,
    debug_share: f64,
}

/// How a service's template set is shaped.
#[derive(Clone, Copy, Debug)]
pub struct SetShape {
    /// Number of non-debug templates wanted.
    pub count: usize,
    /// Zipf exponent of the rank frequencies.
    pub exponent: f64,
    /// Share of lines drawn from debug templates.
    pub debug_share: f64,
}

impl TemplateSet {
    /// Chooses and ranks templates of `domains`; `None` when the domains hold no template.
    pub fn build(
        corpus: &[Template],
        domains: &[Domain],
        shape: SetShape,
        rng: &mut Rng,
    ) -> Option<Self> {
        let mut by_level = |level: Severity| -> Vec<usize> {
            let mut chosen: Vec<usize> = (0..corpus.len())
                .filter(|&i| corpus[i].level == level && domains.contains(&corpus[i].domain))
                .collect();
            shuffle(&mut chosen, rng);
            chosen
        };
        let (mut info, mut warn, mut error) = (
            by_level(Severity::Info),
            by_level(Severity::Warn),
            by_level(Severity::Error),
        );
        let debug = by_level(Severity::Debug);
        let count = shape
            .count
            .min(info.len() + warn.len() + error.len())
            .max(1);
        warn.truncate(((count as f64 * 0.15).round() as usize).max(1));
        error.truncate(((count as f64 * 0.10).round() as usize).max(1));
        info.truncate(count.saturating_sub(warn.len() + error.len()).max(1));
        let ranked = rank_by_level(&info, &warn, &error, shape.exponent)?;
        let table = WeightedIndex::zipf(ranked.len(), shape.exponent)?;
        let debug_table = if shape.debug_share > 0.0 && !debug.is_empty() {
            WeightedIndex::zipf(debug.len(), shape.exponent)
        } else {
            None
        };
        let ranked_len = ranked.len();
        let mut entries = ranked;
        entries.extend(debug);
        Some(TemplateSet {
            entries,
            ranked: ranked_len,
            table,
            debug_table,
            debug_share: shape.debug_share,
        })
    }

    /// Draws the position (in [`TemplateSet::entries`]) of the next line's template.
    #[inline]
    pub fn choose(&self, rng: &mut Rng) -> usize {
        if let Some(debug) = &self.debug_table
            && rng.chance(self.debug_share)
        {
            return self.ranked + debug.sample(rng);
        }
        self.table.sample(rng)
    }

    /// Number of ranked (non-debug) templates.
    #[cfg(test)]
    pub fn ranked_len(&self) -> usize {
        self.ranked
    }

    /// The probability of drawing each ranked template, in rank order.
    #[cfg(test)]
    pub fn rank_weights(&self, exponent: f64) -> Vec<f64> {
        zipf_weights(self.ranked, exponent)
    }
}

/// Places ERROR and WARN templates on tail ranks that sum to their target shares and fills the
/// remaining ranks (the top ones among them) with INFO templates.
fn rank_by_level(
    info: &[usize],
    warn: &[usize],
    error: &[usize],
    exponent: f64,
) -> Option<Vec<usize>> {
    let total = info.len() + warn.len() + error.len();
    let weights = zipf_weights(total, exponent);
    let mut slots: Vec<Option<usize>> = vec![None; total];
    // The top ranks stay INFO: the most frequent lines of a healthy service are routine.
    let protected = info.len().min(3);
    place_on_tail(&mut slots, &weights, error, ERROR_SHARE, protected);
    place_on_tail(&mut slots, &weights, warn, WARN_SHARE, protected);
    let mut info = info.iter();
    for slot in slots.iter_mut().filter(|slot| slot.is_none()) {
        *slot = info.next().copied();
    }
    slots.into_iter().collect()
}

fn place_on_tail(
    slots: &mut [Option<usize>],
    weights: &[f64],
    templates: &[usize],
    target: f64,
    protected: usize,
) {
    let mut remaining = target;
    for (placed, &template) in templates.iter().enumerate() {
        let want = remaining / (templates.len() - placed) as f64;
        let best = (protected..slots.len())
            .filter(|&rank| slots[rank].is_none())
            .min_by(|&a, &b| {
                (weights[a] - want)
                    .abs()
                    .total_cmp(&(weights[b] - want).abs())
            });
        let Some(rank) = best else { return };
        slots[rank] = Some(template);
        remaining = (remaining - weights[rank]).max(0.0);
    }
}

/// Fisher–Yates shuffle driven by the portable generator.
pub fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for index in (1..items.len()).rev() {
        let other = rng.index(index + 1);
        items.swap(index, other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_DOMAINS: &[Domain] = &[
        Domain::Http,
        Domain::Db,
        Domain::Cache,
        Domain::Order,
        Domain::Payment,
        Domain::Retry,
        Domain::Probe,
        Domain::Lifecycle,
        Domain::Jvm,
    ];

    #[test]
    fn whole_corpus_parses() {
        let corpus = corpus().expect("corpus parses");
        assert!(corpus.len() >= 250, "{}", corpus.len());
    }

    #[test]
    fn parses_message_and_fields() {
        let template = parse_template(
            Domain::Http,
            "Wr slow {route} | took={ms} error=\"{err} x\"",
        )
        .expect("parses");
        assert_eq!(template.level, Severity::Warn);
        assert!(template.request_scoped);
        assert_eq!(
            template.message,
            vec![Part::Text("slow "), Part::Slot(Slot::Route)]
        );
        assert_eq!(template.fields.len(), 2);
        assert!(template.fields[0].numeric);
        assert!(!template.fields[1].numeric);
        assert_eq!(template.fields[1].value.len(), 2);
    }

    #[test]
    fn rejects_unknown_slots_and_headers() {
        assert!(matches!(
            parse_template(Domain::Http, "Ib {nope}"),
            Err(TemplateError::UnknownSlot { .. })
        ));
        assert!(matches!(
            parse_template(Domain::Http, "X text"),
            Err(TemplateError::BadHeader(_))
        ));
        assert!(matches!(
            parse_template(Domain::Http, "Ib {ms"),
            Err(TemplateError::Unclosed(_))
        ));
    }

    #[test]
    fn expected_level_mix_matches_targets() {
        let corpus = corpus().expect("corpus");
        let shape = SetShape {
            count: 60,
            exponent: 1.5,
            debug_share: 0.0,
        };
        let set =
            TemplateSet::build(&corpus, APP_DOMAINS, shape, &mut Rng::from_seed(8)).expect("set");
        let weights = set.rank_weights(1.5);
        let share = |level| -> f64 {
            (0..set.ranked_len())
                .filter(|&rank| corpus[set.entries[rank]].level == level)
                .map(|rank| weights[rank])
                .sum()
        };
        assert!(
            (share(Severity::Warn) - WARN_SHARE).abs() < 0.01,
            "{}",
            share(Severity::Warn)
        );
        assert!((share(Severity::Error) - ERROR_SHARE).abs() < 0.004);
        assert_eq!(corpus[set.entries[0]].level, Severity::Info);
        assert!(
            (50..=60).contains(&set.ranked_len()),
            "{}",
            set.ranked_len()
        );
    }

    #[test]
    fn debug_share_draws_debug_templates() {
        let corpus = corpus().expect("corpus");
        let shape = SetShape {
            count: 40,
            exponent: 1.5,
            debug_share: 0.4,
        };
        let mut rng = Rng::from_seed(2);
        let set = TemplateSet::build(&corpus, APP_DOMAINS, shape, &mut rng).expect("set");
        let debug = (0..20_000)
            .filter(|_| corpus[set.entries[set.choose(&mut rng)]].level == Severity::Debug)
            .count();
        let share = debug as f64 / 20_000.0;
        assert!((share - 0.4).abs() < 0.02, "{share}");
    }
}
