//! Test support: the one way tests reach `../shared` (rule corpus, fixtures, vectors, datasets).
//!
//! When `../shared` is absent a test is skipped with a printed notice, except under `CI=true`,
//! where its absence fails the test.

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
