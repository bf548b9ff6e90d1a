//! Test support: the one way tests reach `../shared` (rule corpus, fixtures, vectors, datasets),
//! and a small deterministic generator for randomized tests ([`Xorshift`]).
//!
//! When `../shared` is absent a test is skipped with a printed notice, except under `CI=true`,
//! where its absence fails the test.

pub mod mmdb;

use std::path::{Path, PathBuf};

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/<name> is two levels below the root")
        .to_path_buf()
}

/// `../shared/<rel>` if present. Otherwise prints a skip notice and returns `None`, or panics
/// when `CI=true`, because CI must never skip these tests silently.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let base = std::env::var_os("DRAGNET_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("..").join("shared"));
    let path = base.join(rel);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} is missing: CI=true requires ../shared beside the repository root",
            path.display()
        );
    }
    eprintln!(
        "SKIPPED: {} not found (set DRAGNET_SHARED or place shared/ beside the repo)",
        path.display()
    );
    None
}

/// Like [`shared`], for use at the top of a test: returns early (skipping) when absent.
#[macro_export]
macro_rules! require_shared {
    ($rel:expr) => {
        match $crate::shared($rel) {
            Some(path) => path,
            None => return,
        }
    };
}

/// Every `.toml` file below `dir`, sorted, recursively.
fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

/// `(file, query)` of every rule of the detection-rules corpus at `root` (its `rules/` and
/// `rules_building_block/`) whose `rule.language` is `language` (`kuery`, `eql`, `esql`…).
pub fn corpus_rule_queries(root: &Path, language: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for sub in ["rules", "rules_building_block"] {
        toml_files(&root.join(sub), &mut files);
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable rule");
        if !text.contains(&format!("language = \"{language}\"")) {
            continue;
        }
        let doc: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let rule = doc["rule"].as_table().expect("[rule] table");
        if rule.get("language").and_then(|l| l.as_str()) != Some(language) {
            continue;
        }
        let query = rule
            .get("query")
            .and_then(|q| q.as_str())
            .unwrap_or_else(|| panic!("{}: {language} rule without query", f.display()));
        out.push((f, query.to_owned()));
    }
    out
}

/// A small deterministic generator (xorshift 13/7/17): randomized tests reproduce their cases
/// on every run and need no `rand`. The seed must not be 0.
#[derive(Debug, Clone)]
pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (not 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Shuffles `v` (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}
