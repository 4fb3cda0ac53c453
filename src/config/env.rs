//! `${VAR}` and `${VAR:-default}` expansion, applied to the file's text before parsing.
//!
//! Expansion keeps secrets out of configuration files. `$$` writes a literal `$`. A variable
//! that is unset and has no default is an error that names it and its position.

/// A variable that could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvError {
    /// Byte offset of the `$` in the original text.
    pub offset: usize,
    /// What went wrong.
    pub message: String,
}

/// Expands variables in `text` using `lookup`; returns every problem found.
pub fn expand(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<EnvError>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            offset += dollar + 2;
            rest = stripped;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            offset += dollar + 1;
            rest = after;
            continue;
        };
        let Some(close) = body.find('}') else {
            errors.push(EnvError {
                offset: offset + dollar,
                message: "unterminated \"${\": expected a closing \"}\"".to_string(),
            });
            out.push_str(&rest[dollar..]);
            rest = "";
            break;
        };
        let expression = &body[..close];
        let (name, default) = match expression.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (expression, None),
        };
        if !is_valid_name(name) {
            errors.push(EnvError {
                offset: offset + dollar,
                message: format!("invalid environment variable name {name:?}"),
            });
        } else {
            match (lookup(name), default) {
                (Some(value), _) if !(value.is_empty() && default.is_some()) => {
                    push_value(&mut out, &mut errors, offset + dollar, name, &value)
                }
                (_, Some(default)) => out.push_str(default),
                (_, None) => errors.push(EnvError {
                    offset: offset + dollar,
                    message: format!(
                        "environment variable {name} is not set (write ${{{name}:-default}} \
                         to give a default)"
                    ),
                }),
            }
        }
        let consumed = dollar + 2 + close + 1;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn push_value(
    out: &mut String,
    errors: &mut Vec<EnvError>,
    offset: usize,
    name: &str,
    value: &str,
) {
    if value.contains('\n') {
        errors.push(EnvError {
            offset,
            message: format!("environment variable {name} holds a newline, which is not allowed"),
        });
    } else {
        out.push_str(value);
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_and_default_values() {
        let text = "a = \"${TOKEN}\"\nb = \"${MISSING:-fallback}\"\nc = \"${EMPTY:-x}\"";
        assert_eq!(
            expand(text, env).expect("expands"),
            "a = \"s3cret\"\nb = \"fallback\"\nc = \"x\""
        );
    }

    #[test]
    fn keeps_plain_dollars_and_escapes() {
        assert_eq!(
            expand("price = \"$5 $$ ${TOKEN}\"", env).expect("ok"),
            "price = \"$5 $ s3cret\""
        );
    }

    #[test]
    fn reports_every_missing_variable_with_offset() {
        let errors = expand("a = \"${ONE}\"\nb = \"${TWO}\"", env).expect_err("fails");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].offset, 5);
        assert!(errors[1].message.contains("TWO"));
    }

    #[test]
    fn reports_unterminated_and_bad_names() {
        assert!(expand("x = \"${OPEN\"", env).is_err());
        assert!(expand("x = \"${1BAD}\"", env).is_err());
    }
}
