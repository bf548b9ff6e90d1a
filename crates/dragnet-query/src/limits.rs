//! Limits every query language's parser and compiler applies to query text (rules' queries and
//! the queries of `dragnet kql/eql/esql`), each raised by one command-line flag. They are read
//! when a query is parsed or compiled; the command line sets them once, before any query is
//! read ([`set`]), so they are process-wide rather than threaded through every call.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Query text bytes above which parsing is refused before any work is spent on it.
pub const DEFAULT_MAX_QUERY_BYTES: usize = 4 << 20;
/// The most bytes one regular expression (EQL `regex`/`regex~`) may compile to: the `regex`
/// crate's linear-time engines refuse a larger program before any event is matched.
pub const DEFAULT_MAX_REGEX_BYTES: usize = 4 << 20;
/// The highest `--max-query-depth` accepted: parsing, compiling, matching and dropping a query
/// recurse once per level (at most about 4 KiB of stack a level, measured in release builds;
/// a 2 MiB thread holds 512 levels of every shape): the main thread (8 MiB) parses and
/// compiles rules, and the engine gives its workers stack for a raised depth.
pub const MAX_QUERY_DEPTH_CEILING: usize = 1024;

/// The flags, named in every message about their limit.
pub const QUERY_BYTES_FLAG: &str = "--max-query-bytes";
pub const QUERY_DEPTH_FLAG: &str = "--max-query-depth";
pub const REGEX_BYTES_FLAG: &str = "--max-regex-bytes";

static MAX_QUERY_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_QUERY_BYTES);
/// 0: each language's own default depth.
static MAX_QUERY_DEPTH: AtomicUsize = AtomicUsize::new(0);
static MAX_REGEX_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_REGEX_BYTES);

/// The limits a command line gives; `None` keeps the default.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueryLimits {
    pub max_query_bytes: Option<usize>,
    /// Nesting depth for every language (clamped to [`MAX_QUERY_DEPTH_CEILING`]).
    pub max_query_depth: Option<usize>,
    pub max_regex_bytes: Option<usize>,
}

/// Sets the process's limits (once, before queries are read).
pub fn set(limits: QueryLimits) {
    MAX_QUERY_BYTES.store(
        limits.max_query_bytes.unwrap_or(DEFAULT_MAX_QUERY_BYTES),
        Ordering::Relaxed,
    );
    MAX_QUERY_DEPTH.store(
        limits
            .max_query_depth
            .map_or(0, |d| d.clamp(1, MAX_QUERY_DEPTH_CEILING)),
        Ordering::Relaxed,
    );
    MAX_REGEX_BYTES.store(
        limits.max_regex_bytes.unwrap_or(DEFAULT_MAX_REGEX_BYTES),
        Ordering::Relaxed,
    );
}

/// Query text bytes allowed (`--max-query-bytes`).
pub fn max_query_bytes() -> usize {
    MAX_QUERY_BYTES.load(Ordering::Relaxed)
}

/// Nesting depth allowed (`--max-query-depth`), or the language's `default` when not given.
pub fn max_query_depth(default: usize) -> usize {
    match MAX_QUERY_DEPTH.load(Ordering::Relaxed) {
        0 => default,
        depth => depth,
    }
}

/// The depth `--max-query-depth` raised the limit to, if it was given.
pub fn raised_query_depth() -> Option<usize> {
    Some(MAX_QUERY_DEPTH.load(Ordering::Relaxed)).filter(|&d| d > 0)
}

/// Bytes one regular expression may compile to (`--max-regex-bytes`).
pub fn max_regex_bytes() -> usize {
    MAX_REGEX_BYTES.load(Ordering::Relaxed)
}

/// The message for a query over the size limit.
pub fn too_large_message(len: usize) -> String {
    let limit = max_query_bytes();
    format!(
        "query is {len} bytes, over the limit of {limit} bytes; split it into several rules or raise the limit with {QUERY_BYTES_FLAG}"
    )
}

/// The message for a query nested deeper than `limit` levels.
pub fn too_deep_message(limit: usize) -> String {
    format!(
        "query nests deeper than {limit} levels; simplify it or raise the limit with {QUERY_DEPTH_FLAG} (at most {MAX_QUERY_DEPTH_CEILING})"
    )
}

/// The message for a regular expression whose program is over the limit.
pub fn regex_too_large_message() -> String {
    format!(
        "regex compiles to a program over {} bytes; simplify the pattern or raise the limit with {REGEX_BYTES_FLAG}",
        max_regex_bytes()
    )
}
