//! `user_agent.{name,version,os.*,device.name}` as Elasticsearch's `user_agent` ingest processor
//! writes them (all properties, `extract_device_type` off, as the AWS pipeline configures it).
//!
//! Matching is the `ua-parser` crate (the ua-parser project's Rust port) over the uap-core
//! `regexes.yaml` that crate ships; `build.rs` turns that file into the statics included below.
//! The field assembly follows `UserAgentProcessor`: name `Other` when no agent rule matches;
//! versions are `major[.minor[.patch[.build]]]`, each part only after the previous one; the OS
//! object only when an OS rule matches, with `version`/`full` only when it has a major; device
//! name `Other` when no device rule matches.
//!
//! The parser (~1,200 regexes) is compiled once per process on the first record that needs one of
//! these fields; a rule set that never reads them never compiles it.
//!
//! Where this can differ from Elasticsearch (none of it shows in Elastic's pipeline fixtures):
//! - Rule data: uap-core 0.18.0 as `ua-parser` 0.2.2 ships it, while Elasticsearch bundles its own
//!   copy of `regexes.yaml` whose version follows the Elasticsearch release; an agent whose rule
//!   changed between the two gets another name, version or device.
//! - Replacements: `ua-parser` expands `$1`..`$9` in every replacement, trims the result and treats
//!   empty captures as absent; Elasticsearch substitutes only the first `$1` of the name/OS/device
//!   replacement, uses version replacements literally (three uap-core OS rules have
//!   `os_v1_replacement: '$1'`, which Elasticsearch emits as the text `$1`) and keeps empty
//!   captures as empty strings.
//! - A `userAgent` that is not a string makes the processor fail the document in Elasticsearch;
//!   here the detail fields are just absent.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;
use ua_parser::{Extractor, device, os, user_agent};

/// An agent or OS rule: regex, then name and four version replacements.
pub(crate) type Rule = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);
/// A device rule: regex, flag, then device, brand and model replacements.
pub(crate) type DeviceRule = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

mod rules {
    include!(concat!(env!("OUT_DIR"), "/uap_rules.rs"));
}

/// A uap-core regex with Java's meaning of the shorthand classes: Elasticsearch compiles these
/// patterns with `java.util.regex` and no flags, where `\d`, `\w`, `\s` (and `\D`, `\W`, `\S`)
/// are ASCII-only and `\b` is an ASCII word boundary, while the `regex` crate reads them as
/// Unicode classes. Spelling them out in ASCII matches Java, and compiles several times faster
/// (Unicode `\d`/`\w` expand to large UTF-8 automata): the parser's compilation is most of
/// the cost of a run's first alert.
fn java_classes(regex: &'static str) -> Cow<'static, str> {
    if !regex.contains('\\') {
        return Cow::Borrowed(regex);
    }
    let mut out = String::with_capacity(regex.len() + 16);
    let mut in_class = false;
    let mut chars = regex.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push(c);
                    break;
                };
                let ascii = match (e, in_class) {
                    ('d', false) => Some("[0-9]"),
                    ('d', true) => Some("0-9"),
                    ('D', false) => Some("[^0-9]"),
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('W', false) => Some("[^0-9A-Za-z_]"),
                    ('s', false) => Some("[\\t\\n\\x0B\\f\\r ]"),
                    ('s', true) => Some("\\t\\n\\x0B\\f\\r "),
                    ('S', false) => Some("[^\\t\\n\\x0B\\f\\r ]"),
                    ('b', false) => Some("(?-u:\\b)"),
                    _ => None,
                };
                match ascii {
                    Some(a) => out.push_str(a),
                    None => {
                        out.push(c);
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal, as in Java.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn borrowed(s: Option<&'static str>) -> Option<Cow<'static, str>> {
    s.map(Cow::Borrowed)
}

/// Compiling the ~1,200 patterns is most of a small run's start-up, so the three extractors
/// are built on three threads at once.
static PARSER: LazyLock<Extractor<'static>> = LazyLock::new(|| {
    // The rules are fixed at build time and covered by the unit tests, so a failure here is a
    // build defect, not bad input.
    const BUILDS: &str = "uap-core regexes.yaml compiles";
    let user_agents = || {
        rules::USER_AGENT_PARSERS
            .iter()
            .map(|&(regex, family, v1, v2, v3, v4)| user_agent::Parser {
                regex: java_classes(regex),
                family_replacement: borrowed(family),
                v1_replacement: borrowed(v1),
                v2_replacement: borrowed(v2),
                v3_replacement: borrowed(v3),
                v4_replacement: borrowed(v4),
            })
            .try_fold(user_agent::Builder::new(), |b, p| b.push(p))
            .expect(BUILDS)
            .build()
            .expect(BUILDS)
    };
    let systems = || {
        rules::OS_PARSERS
            .iter()
            .map(|&(regex, name, v1, v2, v3, v4)| os::Parser {
                regex: java_classes(regex),
                os_replacement: borrowed(name),
                os_v1_replacement: borrowed(v1),
                os_v2_replacement: borrowed(v2),
                os_v3_replacement: borrowed(v3),
                os_v4_replacement: borrowed(v4),
            })
            .try_fold(os::Builder::new(), |b, p| b.push(p))
            .expect(BUILDS)
            .build()
            .expect(BUILDS)
    };
    let devices = || {
        rules::DEVICE_PARSERS
            .iter()
            .map(|&(regex, flag, name, brand, model)| device::Parser {
                regex: java_classes(regex),
                regex_flag: (flag == Some("i")).then_some(device::Flag::IgnoreCase),
                device_replacement: borrowed(name),
                brand_replacement: borrowed(brand),
                model_replacement: borrowed(model),
            })
            .try_fold(device::Builder::new(), |b, p| b.push(p))
            .expect(BUILDS)
            .build()
            .expect(BUILDS)
    };
    std::thread::scope(|scope| {
        let os = scope.spawn(systems);
        let dev = scope.spawn(devices);
        let ua = user_agents();
        Extractor {
            ua,
            os: os.join().expect(BUILDS),
            dev: dev.join().expect(BUILDS),
        }
    })
});

/// `major[.minor[.patch[.build]]]`, or nothing without a major (the processor's joining).
fn joined(parts: [Option<&str>; 4]) -> Option<String> {
    let mut version = String::from(parts[0]?);
    for part in &parts[1..] {
        let Some(part) = part else { break };
        version.push('.');
        version.push_str(part);
    }
    Some(version)
}

/// Distinct agents remembered per thread; CloudTrail repeats a handful of agents endlessly
/// (Elasticsearch keeps a similar cache in front of its parser).
const CACHE_ENTRIES: usize = 1024;

thread_local! {
    static CACHE: RefCell<HashMap<Box<str>, Fields>> =
        RefCell::new(HashMap::new());
}

/// A parse result: (field name, value) pairs.
type Fields = Vec<(&'static str, Value)>;

/// The detail fields for one user-agent string, in the processor's field names.
pub fn details(agent: &str) -> Fields {
    if let Some(hit) = CACHE.with_borrow(|cache| cache.get(agent).cloned()) {
        return hit;
    }
    let fields = parse(agent);
    CACHE.with_borrow_mut(|cache| {
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(agent.into(), fields.clone());
    });
    fields
}

fn parse(agent: &str) -> Fields {
    let (ua, os, device) = PARSER.extract(agent);
    let mut out = Vec::with_capacity(6);
    let name = ua.as_ref().map_or("Other", |ua| &ua.family);
    out.push(("user_agent.name", Value::from(name)));
    if let Some(version) = ua
        .as_ref()
        .and_then(|ua| joined([ua.major, ua.minor, ua.patch, ua.patch_minor]))
    {
        out.push(("user_agent.version", Value::String(version)));
    }
    if let Some(os) = &os {
        out.push(("user_agent.os.name", Value::from(os.os.as_ref())));
        if let Some(version) = joined([
            os.major.as_deref(),
            os.minor.as_deref(),
            os.patch.as_deref(),
            os.patch_minor.as_deref(),
        ]) {
            out.push((
                "user_agent.os.full",
                Value::String(format!("{} {version}", os.os)),
            ));
            out.push(("user_agent.os.version", Value::String(version)));
        }
    }
    let device = device.as_ref().map_or("Other", |d| &d.device);
    out.push(("user_agent.device.name", Value::from(device)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(fields: &[(&'static str, Value)], name: &str) -> Option<String> {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str().unwrap().to_string())
    }

    fn check(agent: &str, want: &[(&str, Option<&str>)]) {
        let fields = details(agent);
        for (name, value) in want {
            assert_eq!(
                get(&fields, name).as_deref(),
                *value,
                "{name} of {agent:?} (all: {fields:?})"
            );
        }
    }

    #[test]
    fn shorthand_classes_are_spelled_as_java_reads_them() {
        assert_eq!(java_classes(r"(\d+)\.(\w)"), r"([0-9]+)\.([0-9A-Za-z_])");
        assert_eq!(java_classes(r"[\d.]+\b"), r"[0-9.]+(?-u:\b)");
        assert_eq!(
            java_classes(r"[^.\s]\S"),
            r"[^.\t\n\x0B\f\r ][^\t\n\x0B\f\r ]"
        );
        // Escaped backslashes and other escapes stay as they are.
        assert_eq!(java_classes(r"a\\d\/\p{L}"), r"a\\d\/\p{L}");
        assert!(matches!(java_classes("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn digits_are_ascii_as_in_java() {
        // Java's `\d` is [0-9]: an Arabic-Indic major version is not a version.
        let fields = parse("Firefox/\u{0663}\u{0664}.0");
        assert!(
            !fields.iter().any(|(k, _)| *k == "user_agent.version"),
            "{fields:?}"
        );
        let fields = parse("Firefox/34.0");
        assert!(
            fields.contains(&("user_agent.version", Value::from("34.0"))),
            "{fields:?}"
        );
    }

    #[test]
    fn aws_cli_v2_is_named_aws_cli_without_an_os() {
        check(
            "aws-cli/2.13.5 Python/3.11.4 Linux/5.10.184-175.749.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/s3.ls",
            &[
                ("user_agent.name", Some("aws-cli")),
                ("user_agent.version", Some("2.13.5")),
                ("user_agent.device.name", Some("Other")),
            ],
        );
    }

    #[test]
    fn aws_cli_v1_with_botocore_is_a_spider_device_on_linux() {
        // Elastic's own pipeline test expects exactly this (test-assume-role-email-session).
        check(
            "aws-cli/1.16.248 Python/3.4.7 Linux/4.9.184-0.1.ac.235.83.329.metal1.x86_64 botocore/1.12.239",
            &[
                ("user_agent.name", Some("aws-cli")),
                ("user_agent.version", Some("1.16.248")),
                ("user_agent.os.name", Some("Linux")),
                ("user_agent.os.version", Some("4.9.184")),
                ("user_agent.os.full", Some("Linux 4.9.184")),
                ("user_agent.device.name", Some("Spider")),
            ],
        );
    }

    #[test]
    fn boto3_is_named_boto3() {
        check(
            "Boto3/1.28.2 md/Botocore#1.31.2 ua/2.0 os/linux#5.10.0 md/arch#x86_64 lang/python#3.11.4 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.2",
            &[
                ("user_agent.name", Some("Boto3")),
                ("user_agent.version", Some("1.28.2")),
            ],
        );
    }

    #[test]
    fn chrome_console_keeps_four_version_parts() {
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36",
            &[
                ("user_agent.name", Some("Chrome")),
                ("user_agent.version", Some("134.0.0.0")),
                ("user_agent.os.name", Some("Windows")),
                ("user_agent.os.version", Some("10")),
                ("user_agent.os.full", Some("Windows 10")),
                ("user_agent.device.name", Some("Other")),
            ],
        );
    }

    #[test]
    fn firefox_has_a_two_part_version() {
        check(
            "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:24.0) Gecko/20100101 Firefox/24.0",
            &[
                ("user_agent.name", Some("Firefox")),
                ("user_agent.version", Some("24.0")),
                ("user_agent.os.full", Some("Windows 7")),
            ],
        );
    }

    #[test]
    fn aws_service_agents_are_other() {
        for agent in [
            "AWS Internal",
            "console.amazonaws.com",
            "ssm.amazonaws.com",
            "signin.amazonaws.com",
        ] {
            check(
                agent,
                &[
                    ("user_agent.name", Some("Other")),
                    ("user_agent.version", None),
                    ("user_agent.os.name", None),
                    ("user_agent.device.name", Some("Other")),
                ],
            );
        }
    }

    #[test]
    fn cached_answers_equal_fresh_ones() {
        let agent = "Boto3/1.28.2 md/Botocore#1.31.2 ua/2.0 os/linux#5.10.0 Botocore/1.31.2";
        let fresh = parse(agent);
        assert_eq!(details(agent), fresh);
        assert_eq!(details(agent), fresh);
    }

    #[test]
    fn version_parts_stop_at_the_first_missing_one() {
        assert_eq!(joined([None, Some("1"), None, None]), None);
        assert_eq!(
            joined([Some("1"), None, Some("3"), None]).as_deref(),
            Some("1")
        );
        assert_eq!(
            joined([Some("1"), Some("2"), Some("3"), Some("4")]).as_deref(),
            Some("1.2.3.4")
        );
    }
}
