//! Prefilter support: for "mapped `field` contains (or equals) `literal`", which bytes must the
//! raw record then contain?
//!
//! The answer rests on where each field's text comes from:
//! - copied from a raw JSON string (renames, substrings of ARNs, entity ids, related.*): the
//!   literal is inside that string, so its bytes are in the record, unless JSON escaped them
//!   (`"`, `\`, control characters, `/` as `\/`, anything as `\u…`: callers fully evaluate
//!   records containing `\u` or `\/`, and literals with the others get [`Needle::Unknown`]);
//! - a raw number or boolean can be respelled (`1e1` is indexed as `10`, `1.0E7` renders from
//!   `10000000.0`), so literals made only of number characters (`0-9 . e E + -`) are Unknown;
//! - the rendered `request_parameters`-style strings add punctuation (`{`, `}`, `=`, `, `, `[`,
//!   `]`): a literal free of those and of number-only spelling lies inside one key or value
//!   token, which is raw text;
//! - derived values (`event.outcome`, categories, timestamps, GeoIP, digest dates, error
//!   messages) are Unknown; constants answer [`Needle::Constant`], and so do fields the mapping
//!   never fills (`host.os.type`: `Constant(false)`, as no record holds any literal there).
//!
//! Case-insensitive literals are answered ASCII-case-insensitively, so only for ASCII literals.

use dragnet_prefilter::Needle;

use crate::mapping::{CATALOG, Group, Source};

/// Fields that are a top-level CloudTrail string copied verbatim, by their raw key. A record
/// whose field equals a literal holds `"key":"literal"` (with optional blanks around `:`).
const MEMBER_FIELDS: [(&str, &str); 2] = [
    ("event.action", "eventName"),
    ("event.provider", "eventSource"),
];

/// The flattened copies of raw objects: a value at `<prefix>.<path>` comes from a raw key path
/// ending in the path's last segment.
const FLATTENED_PREFIXES: [&str; 4] = [
    "aws.cloudtrail.flattened.request_parameters.",
    "aws.cloudtrail.flattened.response_elements.",
    "aws.cloudtrail.flattened.additional_eventdata.",
    "aws.cloudtrail.flattened.service_event_details.",
];

/// Bytes every raw record holds when `field` has any value: for a flattened sub-field
/// (`aws.cloudtrail.flattened.request_parameters.includeDeprecated`), its last key followed by
/// the closing quote (`includeDeprecated"`): the raw key is `"includeDeprecated"`, or a
/// dotted key ending in it (`"x.includeDeprecated"`), which Elasticsearch flattens alike.
/// `None` for other fields, or a key JSON may have escaped.
pub fn raw_key_needle(field: &str) -> Option<Vec<u8>> {
    let path = FLATTENED_PREFIXES
        .iter()
        .find_map(|p| field.strip_prefix(p))?;
    let key = path.rsplit('.').next()?;
    if key.is_empty() || has_json_escaped_char(key) {
        return None;
    }
    let mut needle = key.as_bytes().to_vec();
    needle.push(b'"');
    Some(needle)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Origin {
    /// Values are raw JSON scalars or substrings of raw strings.
    RawText,
    /// `toString()` renderings of raw objects.
    Rendered,
    /// Lowercased raw text (`tls.version_protocol`).
    Lowercased,
    Const(&'static str),
    /// The raw record itself (`event.original`).
    Original,
    Unknown,
}

fn origin(field: &str) -> Origin {
    if field == "event.original" {
        return Origin::Original;
    }
    let entry = CATALOG.iter().find(|(n, _)| *n == field).or_else(|| {
        CATALOG
            .iter()
            .filter(|(n, _)| {
                field.len() > n.len() && field.starts_with(n) && field.as_bytes()[n.len()] == b'.'
            })
            .max_by_key(|(n, _)| n.len())
    });
    let Some((name, source)) = entry else {
        return Origin::Unknown;
    };
    match source {
        Source::Const(c) if *name == field => Origin::Const(c),
        Source::Const(_) => Origin::Unknown,
        Source::Raw(_) | Source::RawString(_) | Source::RawText(_) | Source::RawFirst(_) => {
            Origin::RawText
        }
        Source::Group(g) => match g {
            Group::RequestParameters
            | Group::ResponseElements
            | Group::AdditionalEventdata
            | Group::ServiceEventDetails => Origin::Rendered,
            Group::Identity
            | Group::Flattened
            | Group::Resources
            | Group::Entity
            | Group::Related => Origin::RawText,
            Group::Tls if *name == "tls.version_protocol" => Origin::Lowercased,
            Group::Tls => Origin::RawText,
            Group::Source if *name == "source.ip" => Origin::RawText,
            Group::Digest if *name == "related.hash" => Origin::RawText,
            Group::ConsoleLogin
                if *name == "aws.cloudtrail.console_login.additional_eventdata.login_to" =>
            {
                Origin::RawText
            }
            Group::Time
            | Group::Digest
            | Group::Outcome
            | Group::Status
            | Group::Source
            | Group::ConsoleLogin
            // Names and versions come from rule replacements as often as from the raw text.
            | Group::UserAgent => Origin::Unknown,
        },
    }
}

/// True when JSON must have written one of the literal's characters as an escape (`"`, `\`,
/// control characters). A `/` may be written `\/` too, but the prefilter never skips a record
/// holding that escape (nor one holding `\u`), so a needle may contain `/`: the literal runs of
/// wildcard values are mostly paths (`*/.aws/credentials`).
fn has_json_escaped_char(literal: &str) -> bool {
    literal
        .chars()
        .any(|c| matches!(c, '"' | '\\') || (c as u32) < 0x20)
}

/// True when the literal could be (part of) a respelled number.
fn number_spelling(literal: &str) -> bool {
    literal
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
}

fn rendering_punctuation(literal: &str) -> bool {
    literal
        .chars()
        .any(|c| matches!(c, '{' | '}' | '=' | ',' | '[' | ']' | ' '))
}

/// See the module doc. `exact`: the field equals the literal (else: contains it).
pub fn raw_needle(field: &str, literal: &str, exact: bool, case_sensitive: bool) -> Needle {
    // A field the mapping never fills holds no literal in any record.
    if !crate::event::field_is_mapped(field) {
        return Needle::Constant(false);
    }
    let origin = origin(field);
    if let Origin::Const(value) = origin {
        let (v, l) = if case_sensitive {
            (value.to_string(), literal.to_string())
        } else {
            (value.to_lowercase(), literal.to_lowercase())
        };
        return Needle::Constant(if exact { v == l } else { v.contains(&l) });
    }
    // ASCII-case-insensitive bytes cannot stand for Unicode case folding.
    let folds = !case_sensitive || origin == Origin::Lowercased;
    if literal.is_empty() || (folds && !literal.is_ascii()) {
        return Needle::Unknown;
    }
    let bytes = literal.as_bytes().to_vec();
    if exact
        && !has_json_escaped_char(literal)
        && let Some(&(_, key)) = MEMBER_FIELDS.iter().find(|(f, _)| *f == field)
    {
        return if case_sensitive {
            Needle::Member { key, value: bytes }
        } else {
            Needle::MemberFolded {
                key,
                value: literal.to_ascii_lowercase().into_bytes(),
            }
        };
    }
    let verbatim = match origin {
        Origin::Original => true,
        Origin::RawText | Origin::Lowercased => {
            !has_json_escaped_char(literal) && !number_spelling(literal)
        }
        Origin::Rendered => {
            !has_json_escaped_char(literal)
                && !number_spelling(literal)
                && !rendering_punctuation(literal)
        }
        Origin::Const(_) | Origin::Unknown => false,
    };
    match (verbatim, origin, case_sensitive) {
        (false, _, _) => Needle::Unknown,
        (true, Origin::Lowercased, _) | (true, _, false) => Needle::CaseInsensitive(bytes),
        (true, _, true) => Needle::Bytes(bytes),
    }
}

/// For "mapped `field` starts with `literal`" (a keyword glob `literal*`): on a field that is
/// a verbatim top-level string ([`MEMBER_FIELDS`]), [`Needle::MemberPrefix`] (or
/// [`Needle::MemberFoldedPrefix`]); elsewhere what [`raw_needle`] says for "contains".
pub fn raw_prefix_needle(field: &str, literal: &str, case_sensitive: bool) -> Needle {
    if !literal.is_empty()
        && (case_sensitive || literal.is_ascii())
        && !has_json_escaped_char(literal)
        && let Some(&(_, key)) = MEMBER_FIELDS.iter().find(|(f, _)| *f == field)
    {
        return if case_sensitive {
            Needle::MemberPrefix {
                key,
                value: literal.as_bytes().to_vec(),
            }
        } else {
            Needle::MemberFoldedPrefix {
                key,
                value: literal.to_ascii_lowercase().into_bytes(),
            }
        };
    }
    raw_needle(field, literal, false, case_sensitive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(field: &str, literal: &str) -> Needle {
        raw_needle(field, literal, false, true)
    }

    #[test]
    fn renamed_fields_need_the_literal_verbatim() {
        assert_eq!(
            cs("event.action", "SendCommand"),
            Needle::Bytes(b"SendCommand".to_vec())
        );
        // Equality on a top-level string: the member itself.
        assert_eq!(
            raw_needle("event.action", "SendCommand", true, true),
            Needle::Member {
                key: "eventName",
                value: b"SendCommand".to_vec()
            }
        );
        assert_eq!(
            raw_needle("event.provider", "ssm.amazonaws.com", true, true),
            Needle::Member {
                key: "eventSource",
                value: b"ssm.amazonaws.com".to_vec()
            }
        );
        // Case-insensitive equality (EQL `:`): the lowercased member.
        assert_eq!(
            raw_needle("event.action", "SendCommand", true, false),
            Needle::MemberFolded {
                key: "eventName",
                value: b"sendcommand".to_vec()
            }
        );
        // Not for literals JSON could escape.
        assert_eq!(
            raw_needle("event.action", "a\"b", true, true),
            Needle::Unknown
        );
        assert_eq!(
            cs("event.provider", "ssm.amazonaws.com"),
            Needle::Bytes(b"ssm.amazonaws.com".to_vec())
        );
        assert_eq!(
            raw_needle("event.action", "sendcommand", false, false),
            Needle::CaseInsensitive(b"sendcommand".to_vec())
        );
        // Derived from raw strings: role names, session names, entity ids.
        assert_eq!(cs("user.name", "Admin"), Needle::Bytes(b"Admin".to_vec()));
        assert_eq!(
            cs(
                "aws.cloudtrail.flattened.request_parameters.instanceId",
                "i-0abc"
            ),
            Needle::Bytes(b"i-0abc".to_vec())
        );
    }

    #[test]
    fn globs_on_verbatim_members_give_prefix_needles() {
        assert_eq!(
            raw_prefix_needle("event.action", "DeleteFunction20", true),
            Needle::MemberPrefix {
                key: "eventName",
                value: b"DeleteFunction20".to_vec()
            }
        );
        assert_eq!(
            raw_prefix_needle("event.provider", "Lambda.", false),
            Needle::MemberFoldedPrefix {
                key: "eventSource",
                value: b"lambda.".to_vec()
            }
        );
        // Literals JSON must escape: no member test, and no bytes either.
        assert_eq!(
            raw_prefix_needle("event.action", "a\"b", true),
            Needle::Unknown
        );
        // `/` only may be escaped (`\/`): records holding that escape are always evaluated.
        assert_eq!(
            raw_prefix_needle("event.action", "a/b", true),
            Needle::MemberPrefix {
                key: "eventName",
                value: b"a/b".to_vec()
            }
        );
        // Non-ASCII, case-insensitively: Unicode folding cannot be answered with bytes.
        assert_eq!(
            raw_prefix_needle("event.action", "É", false),
            Needle::Unknown
        );
        // Other fields: the literal is contained.
        assert_eq!(
            raw_prefix_needle("user.name", "BedrockAPIKey-", true),
            Needle::Bytes(b"BedrockAPIKey-".to_vec())
        );
        assert_eq!(
            raw_prefix_needle("event.dataset", "aws.", true),
            Needle::Constant(true)
        );
        assert_eq!(raw_prefix_needle("event.action", "", true), Needle::Unknown);
    }

    #[test]
    fn flattened_fields_need_their_key() {
        assert_eq!(
            raw_key_needle("aws.cloudtrail.flattened.request_parameters.includeDeprecated"),
            Some(b"includeDeprecated\"".to_vec())
        );
        assert_eq!(
            raw_key_needle("aws.cloudtrail.flattened.response_elements.a.b.roleArn"),
            Some(b"roleArn\"".to_vec())
        );
        assert_eq!(
            raw_key_needle("aws.cloudtrail.flattened.request_parameters"),
            None
        );
        assert_eq!(raw_key_needle("event.action"), None);
        assert_eq!(
            raw_key_needle("aws.cloudtrail.flattened.request_parameters.a\"b"),
            None
        );
    }

    #[test]
    fn json_escapable_characters_give_unknown() {
        // `"` and `\` are always escaped, control characters escaped.
        assert_eq!(cs("event.action", "a\"b"), Needle::Unknown);
        assert_eq!(cs("event.action", "a\\b"), Needle::Unknown);
        // `/` may be written `\/`, but the prefilter evaluates every record holding that
        // escape (as it does `\u`): the literal runs of wildcard paths are needles.
        assert_eq!(
            cs("aws.cloudtrail.user_identity.arn", "role/Admin"),
            Needle::Bytes(b"role/Admin".to_vec())
        );
        assert_eq!(
            cs(
                "aws.cloudtrail.flattened.request_parameters.key",
                "/.aws/credentials"
            ),
            Needle::Bytes(b"/.aws/credentials".to_vec())
        );
        assert_eq!(cs("user_agent.original", "a\tb"), Needle::Unknown);
        // event.original is the raw text itself: anything in it is verbatim.
        assert_eq!(
            cs("event.original", "role/Admin"),
            Needle::Bytes(b"role/Admin".to_vec())
        );
    }

    #[test]
    fn number_spellings_give_unknown() {
        // A raw 1e1 is indexed as 10; 10000000.0 renders as 1.0E7.
        assert_eq!(
            cs("aws.cloudtrail.flattened.request_parameters.fromPort", "22"),
            Needle::Unknown
        );
        assert_eq!(
            cs("aws.cloudtrail.request_parameters", "1.0E7"),
            Needle::Unknown
        );
        assert_eq!(
            cs("aws.cloudtrail.request_parameters", "-1"),
            Needle::Unknown
        );
        assert_eq!(
            cs("aws.cloudtrail.read_only", "true"),
            Needle::Bytes(b"true".to_vec())
        );
    }

    #[test]
    fn rendered_strings_only_answer_single_token_literals() {
        assert_eq!(
            cs("aws.cloudtrail.request_parameters", "imageId"),
            Needle::Bytes(b"imageId".to_vec())
        );
        assert_eq!(
            cs("aws.cloudtrail.request_parameters", "launchPermission"),
            Needle::Bytes(b"launchPermission".to_vec())
        );
        for spanning in ["imageId=", "{add", "a, b", "items=[", "x]", "a b", "k=v"] {
            assert_eq!(
                cs("aws.cloudtrail.request_parameters", spanning),
                Needle::Unknown,
                "{spanning}"
            );
        }
        assert_eq!(
            cs("aws.cloudtrail.response_elements", "a\"b"),
            Needle::Unknown
        );
        // The flattened copy holds raw values, so punctuation there is fine.
        assert_eq!(
            cs("aws.cloudtrail.flattened.request_parameters.comment", "a=b"),
            Needle::Bytes(b"a=b".to_vec())
        );
    }

    #[test]
    fn constants_and_derived_fields() {
        assert_eq!(
            cs("event.dataset", "aws.cloudtrail"),
            Needle::Constant(true)
        );
        assert_eq!(
            raw_needle("event.dataset", "aws.cloudtrail", true, true),
            Needle::Constant(true)
        );
        assert_eq!(
            raw_needle("event.dataset", "aws", true, true),
            Needle::Constant(false)
        );
        assert_eq!(cs("event.dataset", "cloud"), Needle::Constant(true));
        assert_eq!(
            raw_needle("event.module", "AWS", true, false),
            Needle::Constant(true)
        );
        assert_eq!(cs("event.outcome", "success"), Needle::Unknown);
        assert_eq!(cs("event.category", "iam"), Needle::Unknown);
        assert_eq!(cs("@timestamp", "2024"), Needle::Unknown);
        assert_eq!(cs("source.geo.country_name", "France"), Needle::Unknown);
        assert_eq!(
            cs("aws.cloudtrail.flattened.digest.start_time", "T00"),
            Needle::Unknown
        );
        // Fields the mapping never fills: no record holds the literal.
        assert_eq!(cs("no.such.field", "x"), Needle::Constant(false));
        assert_eq!(
            raw_needle("host.os.type", "linux", true, true),
            Needle::Constant(false)
        );
        assert_eq!(
            raw_prefix_needle("destination.domain", "evil", true),
            Needle::Constant(false)
        );
        // A parent of mapped fields holds their values: unknown.
        assert_eq!(cs("user", "x"), Needle::Unknown);
        // Lowercased from "TLS": only a case-insensitive search is sound.
        assert_eq!(
            cs("tls.version_protocol", "tls"),
            Needle::CaseInsensitive(b"tls".to_vec())
        );
        assert_eq!(cs("tls.version_protocol", "é"), Needle::Unknown);
        assert_eq!(cs("event.action", ""), Needle::Unknown);
        assert_eq!(
            raw_needle("event.action", "É", false, false),
            Needle::Unknown
        );
    }
}
