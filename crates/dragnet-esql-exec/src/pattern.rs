//! `DISSECT` and `GROK`: the text-extraction commands, as Elasticsearch's dissect and grok
//! processors define them (`libs/dissect`, `libs/grok`).
//!
//! Both yield one value per output key for each input value (a multi-valued input gives
//! multi-valued outputs); a value that does not match gives no value for any key.

use std::collections::HashMap;

use regex::Regex;

use crate::types::EsqlType;
use crate::value::Val;

/// A parsed `DISSECT` pattern.
#[derive(Clone, Debug)]
pub struct Dissect {
    prefix: String,
    parts: Vec<DissectKey>,
    /// Output keys in order of first appearance (skipped keys left out).
    pub keys: Vec<String>,
    separator: String,
}

#[derive(Clone, Debug)]
struct DissectKey {
    name: String,
    skip: bool,
    append: bool,
    order: Option<u32>,
    right_pad: bool,
    delimiter: String,
}

impl Dissect {
    pub fn parse(pattern: &str, append_separator: &str) -> Result<Dissect, String> {
        let err = |m: &str| format!("Invalid DISSECT pattern [{pattern}]: {m}");
        let mut rest = pattern;
        let prefix_end = rest.find("%{").ok_or_else(|| err("no key"))?;
        let prefix = rest[..prefix_end].to_string();
        rest = &rest[prefix_end..];
        let mut parts: Vec<DissectKey> = Vec::new();
        while let Some(stripped) = rest.strip_prefix("%{") {
            let close = stripped.find('}').ok_or_else(|| err("unclosed key"))?;
            let mut key = &stripped[..close];
            rest = &stripped[close + 1..];
            let delim_end = rest.find("%{").unwrap_or(rest.len());
            let delimiter = rest[..delim_end].to_string();
            rest = &rest[delim_end..];
            if parts.last().is_some_and(|p| p.delimiter.is_empty()) {
                return Err(err("two keys without a delimiter between them"));
            }
            let mut right_pad = false;
            if let Some(k) = key.strip_suffix("->") {
                right_pad = true;
                key = k;
            }
            let (mut skip, mut append) = (key.is_empty(), false);
            if let Some(k) = key.strip_prefix('?') {
                skip = true;
                key = k;
            } else if let Some(k) = key.strip_prefix('+') {
                append = true;
                key = k;
            } else if key.starts_with('*') || key.starts_with('&') {
                return Err(err("reference keys are not supported in DISSECT"));
            }
            let mut order = None;
            if append && let Some((k, o)) = key.split_once('/') {
                order = o.parse().ok();
                key = k;
            }
            parts.push(DissectKey {
                name: key.to_string(),
                skip,
                append,
                order,
                right_pad,
                delimiter,
            });
        }
        let mut keys: Vec<String> = Vec::new();
        for p in &parts {
            if !p.skip && !keys.contains(&p.name) {
                keys.push(p.name.clone());
            }
        }
        if keys.is_empty() {
            return Err(err("no output key"));
        }
        Ok(Dissect {
            prefix,
            parts,
            keys,
            separator: append_separator.to_string(),
        })
    }

    /// The value of each of [`Dissect::keys`] for `text`, or `None` when it does not match.
    pub fn apply(&self, text: &str) -> Option<Vec<String>> {
        let mut pos = text
            .strip_prefix(self.prefix.as_str())
            .map(|_| self.prefix.len())?;
        let mut found: Vec<(&DissectKey, &str, usize)> = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            let value;
            if part.delimiter.is_empty() {
                value = &text[pos..];
                pos = text.len();
            } else {
                let at = text[pos..].find(part.delimiter.as_str())? + pos;
                value = &text[pos..at];
                pos = at + part.delimiter.len();
                if part.right_pad {
                    while text[pos..].starts_with(part.delimiter.as_str()) {
                        pos += part.delimiter.len();
                    }
                }
            }
            found.push((part, value, i));
        }
        let mut out = Vec::with_capacity(self.keys.len());
        for key in &self.keys {
            let mut pieces: Vec<(u32, usize, &str)> = found
                .iter()
                .filter(|(p, _, _)| !p.skip && &p.name == key)
                .map(|(p, v, i)| (p.order.unwrap_or(0), *i, *v))
                .collect();
            let appended = found.iter().any(|(p, _, _)| p.append && &p.name == key);
            if appended {
                pieces.sort();
                out.push(
                    pieces
                        .iter()
                        .map(|(_, _, v)| *v)
                        .collect::<Vec<_>>()
                        .join(&self.separator),
                );
            } else {
                // A key written twice keeps its last value.
                out.push(
                    pieces
                        .last()
                        .map(|(_, _, v)| v.to_string())
                        .unwrap_or_default(),
                );
            }
        }
        Some(out)
    }
}

/// A compiled `GROK` pattern.
#[derive(Clone, Debug)]
pub struct Grok {
    regex: Regex,
    /// Output columns in order of first appearance, with their types.
    pub keys: Vec<(String, EsqlType)>,
    /// Which output key each capture group `g<i>` fills.
    groups: Vec<(String, usize)>,
}

/// The grok pattern library dragnet knows (Elasticsearch's `legacy` set, the patterns rules
/// and tests use). Written here as regular expressions over other library names.
fn library() -> &'static HashMap<&'static str, &'static str> {
    static LIB: std::sync::OnceLock<HashMap<&'static str, &'static str>> =
        std::sync::OnceLock::new();
    LIB.get_or_init(|| {
        HashMap::from([
            ("USERNAME", r"[a-zA-Z0-9._-]+"),
            ("USER", r"%{USERNAME}"),
            ("EMAILLOCALPART", r"[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,64}(?:\.[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,62}){0,63}"),
            ("EMAILADDRESS", r"%{EMAILLOCALPART}@%{HOSTNAME}"),
            ("INT", r"(?:[+-]?(?:[0-9]+))"),
            ("BASE10NUM", r"(?:[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))"),
            ("NUMBER", r"(?:%{BASE10NUM})"),
            ("BASE16NUM", r"(?:0[xX]?[0-9a-fA-F]+)"),
            ("POSINT", r"\b(?:[1-9][0-9]*)\b"),
            ("NONNEGINT", r"\b(?:[0-9]+)\b"),
            ("WORD", r"\b\w+\b"),
            ("NOTSPACE", r"\S+"),
            ("SPACE", r"\s*"),
            ("DATA", r".*?"),
            ("GREEDYDATA", r".*"),
            ("QUOTEDSTRING", r#"(?:"(?:\\.|[^\\"])*"|'(?:\\.|[^\\'])*'|`(?:\\.|[^\\`])*`)"#),
            ("UUID", r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}"),
            ("IPV4", r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"),
            ("IPV6", r"(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}|(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}|(?:[0-9A-Fa-f]{1,4}:){1,3}(?::[0-9A-Fa-f]{1,4}){1,4}|(?:[0-9A-Fa-f]{1,4}:){1,2}(?::[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(?::[0-9A-Fa-f]{1,4}){1,6}|:(?::[0-9A-Fa-f]{1,4}){1,7}|::)"),
            ("IP", r"(?:%{IPV6}|%{IPV4})"),
            ("HOSTNAME", r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*(?:\.?|\b)"),
            ("HOST", r"%{HOSTNAME}"),
            ("IPORHOST", r"(?:%{IP}|%{HOSTNAME})"),
            ("HOSTPORT", r"%{IPORHOST}:%{POSINT}"),
            ("UNIXPATH", r"(?:/[\w_%!$@:.,+~-]*)+"),
            ("PATH", r"(?:%{UNIXPATH})"),
            ("URIPROTO", r"[A-Za-z](?:[A-Za-z0-9+\-.]+)+"),
            ("URIHOST", r"%{IPORHOST}(?::%{POSINT})?"),
            ("MONTH", r"\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|[Aa]pr(?:il)?|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b"),
            ("MONTHNUM", r"(?:0?[1-9]|1[0-2])"),
            ("MONTHDAY", r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])"),
            ("DAY", r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)"),
            ("YEAR", r"(?:\d\d){1,2}"),
            ("HOUR", r"(?:2[0123]|[01]?[0-9])"),
            ("MINUTE", r"(?:[0-5][0-9])"),
            ("SECOND", r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)"),
            ("TIME", r"%{HOUR}:%{MINUTE}(?::%{SECOND})?"),
            ("ISO8601_TIMEZONE", r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))"),
            ("TIMESTAMP_ISO8601", r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?"),
            ("LOGLEVEL", r"(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo?(?:rmation)?|INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)"),
        ])
    })
}

/// Grok patterns may nest this deep through the library before dragnet refuses them.
const MAX_GROK_EXPANSION_DEPTH: usize = 32;

impl Grok {
    pub fn compile(pattern: &str) -> Result<Grok, String> {
        let mut groups: Vec<(String, usize)> = Vec::new();
        let mut keys: Vec<(String, EsqlType)> = Vec::new();
        let expanded = expand(pattern, &mut groups, &mut keys, 0)?;
        let regex = regex::RegexBuilder::new(&expanded)
            .size_limit(dragnet_query::limits::max_regex_bytes())
            .build()
            .map_err(|e| format!("Invalid GROK pattern [{pattern}]: {e}"))?;
        Ok(Grok {
            regex,
            keys,
            groups,
        })
    }

    /// The values of each of [`Grok::keys`] for `text` (several when a name is captured more
    /// than once), or `None` when it does not match.
    pub fn apply(&self, text: &str) -> Option<Vec<Vec<Val>>> {
        let caps = self.regex.captures(text)?;
        let mut out: Vec<Vec<Val>> = vec![Vec::new(); self.keys.len()];
        for (i, (_, key)) in self.groups.iter().enumerate() {
            if let Some(m) = caps.name(&format!("g{i}")) {
                let ty = self.keys[*key].1;
                if let Some(v) = typed(m.as_str(), ty) {
                    out[*key].push(v);
                }
            }
        }
        Some(out)
    }
}

fn typed(text: &str, ty: EsqlType) -> Option<Val> {
    Some(match ty {
        EsqlType::Integer => Val::Int(text.parse().ok()?),
        EsqlType::Long => Val::Long(text.parse().ok()?),
        EsqlType::Double => Val::Double(text.parse().ok()?),
        EsqlType::Boolean => Val::Bool(text.eq_ignore_ascii_case("true")),
        _ => Val::Str(text.to_string()),
    })
}

fn add_key(
    name: &str,
    ty: EsqlType,
    groups: &mut Vec<(String, usize)>,
    keys: &mut Vec<(String, EsqlType)>,
) -> Result<usize, String> {
    let key = match keys.iter().position(|(k, _)| k == name) {
        Some(i) => {
            if keys[i].1 != ty {
                return Err(format!(
                    "Invalid GROK pattern: the attribute [{name}] is defined multiple times with different types"
                ));
            }
            i
        }
        None => {
            keys.push((name.to_string(), ty));
            keys.len() - 1
        }
    };
    groups.push((name.to_string(), key));
    Ok(groups.len() - 1)
}

fn expand(
    pattern: &str,
    groups: &mut Vec<(String, usize)>,
    keys: &mut Vec<(String, EsqlType)>,
    depth: usize,
) -> Result<String, String> {
    if depth > MAX_GROK_EXPANSION_DEPTH {
        return Err("GROK pattern references nest too deep".into());
    }
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("%{") {
            let close = after
                .find('}')
                .ok_or_else(|| format!("Invalid GROK pattern: unclosed %{{ in [{pattern}]"))?;
            let spec = &after[..close];
            rest = &after[close + 1..];
            let mut parts = spec.splitn(3, ':');
            let name = parts.next().unwrap_or_default();
            let field = parts.next();
            let ty = match parts.next() {
                None => EsqlType::Keyword,
                Some("int") => EsqlType::Integer,
                Some("long") => EsqlType::Long,
                Some("float" | "double") => EsqlType::Double,
                Some("boolean") => EsqlType::Boolean,
                Some(other) => {
                    return Err(format!("Invalid GROK pattern: unsupported type [{other}]"));
                }
            };
            let definition = library().get(name).ok_or_else(|| {
                format!("Unable to find pattern [{name}] in Grok's pattern dictionary")
            })?;
            // Names inside library patterns are not outputs: only the top level's are.
            let mut inner_groups = Vec::new();
            let mut inner_keys = Vec::new();
            let inner = expand(definition, &mut inner_groups, &mut inner_keys, depth + 1)?;
            let inner = strip_group_names(&inner);
            match field {
                Some(field) if !field.is_empty() => {
                    let g = add_key(field, ty, groups, keys)?;
                    out.push_str(&format!("(?<g{g}>{inner})"));
                }
                _ => out.push_str(&format!("(?:{inner})")),
            }
        } else if let Some(after) = rest.strip_prefix("(?<")
            && !after.starts_with('=')
            && !after.starts_with('!')
        {
            let close = after
                .find('>')
                .ok_or("Invalid GROK pattern: unclosed group name")?;
            let name = &after[..close];
            let g = add_key(name, EsqlType::Keyword, groups, keys)?;
            out.push_str(&format!("(?<g{g}>"));
            rest = &after[close + 1..];
        } else if let Some(after) = rest.strip_prefix('\\') {
            out.push('\\');
            if let Some(c) = after.chars().next() {
                out.push(c);
                rest = &after[c.len_utf8()..];
            } else {
                rest = after;
            }
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Ok(out)
}

fn strip_group_names(regex: &str) -> String {
    let re = Regex::new(r"\(\?<g[0-9]+>").expect("static regex");
    re.replace_all(regex, "(?:").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dissect_keys_skips_and_appends() {
        let d = Dissect::parse("%{a} %{?skip} %{+a} %{c}", " ").unwrap();
        assert_eq!(d.keys, vec!["a", "c"]);
        assert_eq!(d.apply("x y z w"), Some(vec!["x z".into(), "w".into()]));
        assert_eq!(d.apply("nope"), None);
        let d = Dissect::parse("%{a->} %{b}", "").unwrap();
        assert_eq!(d.apply("x    y"), Some(vec!["x".into(), "y".into()]));
    }

    #[test]
    fn grok_named_and_library_captures() {
        let g = Grok::compile("%{WORD:a} (?<Esql.b>[0-9]+) %{NUMBER:c:int}").unwrap();
        assert_eq!(
            g.keys.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
            ["a", "Esql.b", "c"]
        );
        let v = g.apply("x hello 42 7 tail").unwrap();
        assert_eq!(
            v,
            vec![
                vec![Val::Str("hello".into())],
                vec![Val::Str("42".into())],
                vec![Val::Int(7)]
            ]
        );
        assert!(g.apply("nothing").is_none());
        let twice = Grok::compile("%{WORD:a} %{WORD:a}").unwrap();
        assert_eq!(
            twice.apply("p q").unwrap(),
            vec![vec![Val::Str("p".into()), Val::Str("q".into())]]
        );
    }
}
