//! Whether a rule's `index` patterns (or ES|QL `FROM` sources) can cover CloudTrail data.
//!
//! In Elastic, a rule reads only the indices its patterns name. dragnet's data is what Elastic's
//! AWS integration would write to the `logs-aws.cloudtrail-default` data stream (or what the
//! Filebeat AWS module would write to `filebeat-8.*`), so a rule applies when one of its patterns,
//! read as an Elasticsearch index-pattern glob, matches one of those names.

/// Index names CloudTrail data lands in under Elastic's integrations: the Fleet data stream and a
/// Filebeat 8 index. A rule whose patterns match none of them never sees CloudTrail in Elastic.
pub const CLOUDTRAIL_INDICES: &[&str] = &["logs-aws.cloudtrail-default", "filebeat-8.17.0"];

/// The verdict for one rule's data sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// A pattern matches CloudTrail; carries the first pattern that does.
    Covered(String),
    /// No pattern matches CloudTrail; carries the patterns, for the report.
    NotCovered(Vec<String>),
}

/// Matches `patterns` (each may itself be a comma-separated list, may start with `-` to exclude,
/// may carry a `cluster:` prefix) against [`CLOUDTRAIL_INDICES`], as Elasticsearch resolves an
/// index expression: a name is selected when a positive pattern matches it and no exclusion
/// pattern listed after it does.
pub fn index_patterns_cover_cloudtrail<S: AsRef<str>>(patterns: &[S]) -> Coverage {
    let parts: Vec<&str> = patterns
        .iter()
        .flat_map(|p| p.as_ref().split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    for name in CLOUDTRAIL_INDICES {
        let mut selected_by: Option<&str> = None;
        for part in &parts {
            if let Some(excluded) = part.strip_prefix('-') {
                if selected_by.is_some() && glob_match(strip_cluster(excluded), name) {
                    selected_by = None;
                }
            } else if glob_match(strip_cluster(part), name) {
                selected_by = Some(part);
            }
        }
        if let Some(pattern) = selected_by {
            return Coverage::Covered(pattern.to_string());
        }
    }
    Coverage::NotCovered(parts.iter().map(|s| s.to_string()).collect())
}

/// The source patterns of an ES|QL query: the comma-separated list after `FROM`, up to the first
/// `|` or `METADATA`. `None` when the query does not start with `FROM` (e.g. `ROW`, `SHOW`).
pub fn esql_from_patterns(query: &str) -> Option<Vec<String>> {
    let trimmed = skip_esql_comments(query);
    let (keyword, rest) = trimmed.split_at(trimmed.find(char::is_whitespace)?);
    if !keyword.eq_ignore_ascii_case("from") {
        return None;
    }
    let end = rest.find('|').unwrap_or(rest.len());
    let sources = &rest[..end];
    let mut out = Vec::new();
    for token in sources.split(',') {
        // `FROM a, b METADATA _id` — the last source may be followed by METADATA.
        let token = token.split_whitespace().next().unwrap_or("");
        let token = token.trim_matches('"');
        if !token.is_empty() && !token.eq_ignore_ascii_case("metadata") {
            out.push(token.to_string());
        }
        if sources_has_metadata_after(token, sources) {
            break;
        }
    }
    Some(out)
}

fn sources_has_metadata_after(token: &str, sources: &str) -> bool {
    let Some(pos) = sources.find(token) else {
        return false;
    };
    let after = sources[pos + token.len()..].trim_start();
    after.len() >= 8 && after[..8].eq_ignore_ascii_case("metadata")
}

/// Drops leading whitespace, `//` line comments and `/* */` block comments.
fn skip_esql_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("//") {
            s = rest.find('\n').map_or("", |i| &rest[i + 1..]);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.find("*/").map_or("", |i| &rest[i + 2..]);
        } else {
            return s;
        }
    }
}

fn strip_cluster(pattern: &str) -> &str {
    // `remote:logs-*` names indices on a remote cluster; dragnet's input stands for any cluster.
    pattern.rsplit_once(':').map_or(pattern, |(_, index)| index)
}

/// Elasticsearch index-pattern matching: `*` matches any run of characters (including none);
/// every other character matches itself. (`?` is not a wildcard in index expressions.)
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_index_patterns() {
        assert!(glob_match(
            "logs-aws.cloudtrail-*",
            "logs-aws.cloudtrail-default"
        ));
        assert!(glob_match(
            "logs-aws.cloudtrail*",
            "logs-aws.cloudtrail-default"
        ));
        assert!(glob_match("logs-*", "logs-aws.cloudtrail-default"));
        assert!(glob_match("*", "filebeat-8.17.0"));
        assert!(glob_match("filebeat-*", "filebeat-8.17.0"));
        assert!(glob_match("*cloud*trail*", "logs-aws.cloudtrail-default"));
        assert!(!glob_match(
            "logs-aws.bedrock-*",
            "logs-aws.cloudtrail-default"
        ));
        assert!(!glob_match(
            "logs-aws.cloudtrail",
            "logs-aws.cloudtrail-default"
        ));
        assert!(!glob_match("winlogbeat-*", "filebeat-8.17.0"));
    }

    #[test]
    fn coverage_of_rule_index_lists() {
        assert_eq!(
            index_patterns_cover_cloudtrail(&["filebeat-*", "logs-aws.cloudtrail-*"]),
            Coverage::Covered("logs-aws.cloudtrail-*".into())
        );
        assert!(matches!(
            index_patterns_cover_cloudtrail(&["logs-aws_bedrock.invocation-*"]),
            Coverage::NotCovered(_)
        ));
        assert!(matches!(
            index_patterns_cover_cloudtrail(&["logs-*", "-logs-aws.*"]),
            Coverage::NotCovered(_)
        ));
        assert!(matches!(
            index_patterns_cover_cloudtrail(&["remote:logs-aws.cloudtrail-*"]),
            Coverage::Covered(_)
        ));
        assert!(matches!(
            index_patterns_cover_cloudtrail::<&str>(&[]),
            Coverage::NotCovered(_)
        ));
    }

    #[test]
    fn esql_from_sources() {
        assert_eq!(
            esql_from_patterns("from logs-aws.cloudtrail-* metadata _id, _version\n| where x"),
            Some(vec!["logs-aws.cloudtrail-*".to_string()])
        );
        assert_eq!(
            esql_from_patterns("FROM logs-aws_bedrock.invocation-*, logs-x | stats c = count()"),
            Some(vec![
                "logs-aws_bedrock.invocation-*".to_string(),
                "logs-x".to_string()
            ])
        );
        assert_eq!(
            esql_from_patterns("// note\nfrom logs-* | limit 1"),
            Some(vec!["logs-*".to_string()])
        );
        assert_eq!(esql_from_patterns("row a = 1"), None);
    }
}
