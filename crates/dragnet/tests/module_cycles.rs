//! No module-level import cycle inside any crate of the workspace.
//!
//! Cargo already refuses cycles between crates; inside a crate nothing stops module `a` from
//! using `b` while `b` uses `a`, and such knots are what made the engine hard to split. This
//! test reads every crate's `src/` and builds the graph of `crate::…` and `super::…` paths
//! between its modules (one module per file; non-test code only: a file's trailing
//! `#[cfg(test)] mod …` is left out, and comments are ignored), then fails naming every
//! cycle. A path through the crate root (`crate::Name` where the root re-exports `Name`) is an
//! edge to the root, so re-exports cannot hide a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`crate`, `crate::engine`, `crate::cmd::hunt`) -> the file that defines it.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
                parts.clear();
            } else if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let name = std::iter::once("crate".to_string())
                .chain(parts)
                .collect::<Vec<_>>()
                .join("::");
            out.insert(name, path);
        }
    }
    out
}

/// The file's code without comments and without a trailing `#[cfg(test)]` module.
fn production_code(text: &str) -> String {
    let text = match text.find("\n#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path `prefix…` in `code` (`crate::a::b`, `crate::{a::X, b}`), as segment lists after
/// the prefix.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = code[from..].find(prefix) {
        let at = from + found;
        from = at + prefix.len();
        if code[..at].chars().next_back().is_some_and(is_ident) || code[..at].ends_with("::") {
            continue;
        }
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            // A use group: its top-level items.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(segments(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push(segments(&item));
        } else {
            out.push(segments(rest));
        }
    }
    out
}

fn segments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    loop {
        let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        out.push(rest[..end].to_string());
        match rest[end..].strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    out
}

/// The module a path names: its longest prefix that is a module.
fn target(known: &BTreeMap<String, PathBuf>, base: &str, segs: &[String]) -> String {
    let mut best = base.to_string();
    let mut name = base.to_string();
    for s in segs {
        name = format!("{name}::{s}");
        if known.contains_key(&name) {
            best = name.clone();
        }
    }
    best
}

fn parent(module: &str) -> String {
    module
        .rsplit_once("::")
        .map_or("crate".to_string(), |(p, _)| p.to_string())
}

/// The import graph of one crate.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let known = modules(src);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &known {
        let code = production_code(&std::fs::read_to_string(file).unwrap());
        let entry = edges.entry(module.clone()).or_default();
        for segs in paths_after(&code, "crate::") {
            entry.insert(target(&known, "crate", &segs));
        }
        for segs in paths_after(&code, "super::") {
            let mut base = parent(module);
            let mut segs = &segs[..];
            while segs.first().is_some_and(|s| s == "super") {
                base = parent(&base);
                segs = &segs[1..];
            }
            entry.insert(target(&known, &base, segs));
        }
        entry.remove(module);
    }
    edges
}

/// Strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn workspace_crates() -> Vec<PathBuf> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut out: Vec<PathBuf> = std::fs::read_dir(crates)
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

#[test]
fn no_crate_has_a_module_import_cycle() {
    let crates = workspace_crates();
    assert!(crates.len() >= 10, "found only {crates:?}");
    let mut problems = Vec::new();
    for src in &crates {
        for cycle in cycles(&graph(src)) {
            problems.push(format!("{}: {}", src.display(), cycle.join(" <-> ")));
        }
    }
    assert!(
        problems.is_empty(),
        "module import cycles (make one module stop using the other: move what both need into \
         a module of its own):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_finds_a_cycle_through_a_use_group_and_super() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::{c::X, b::y::Z};\n").unwrap();
    std::fs::write(src.join("b/mod.rs"), "mod y;\n").unwrap();
    std::fs::write(
        src.join("b/y.rs"),
        "// crate::c in a comment is no edge\nuse super::super::a::W;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("c.rs"),
        "pub struct X;\n#[cfg(test)]\nmod tests {\n    use crate::a::W;\n}\n",
    )
    .unwrap();
    let edges = graph(src);
    assert_eq!(
        edges["crate::a"],
        BTreeSet::from(["crate::c".to_string(), "crate::b::y".to_string()])
    );
    assert_eq!(
        edges["crate::b::y"],
        BTreeSet::from(["crate::a".to_string()])
    );
    assert!(edges["crate::c"].is_empty(), "test code is no edge");
    assert_eq!(
        cycles(&edges),
        vec![vec!["crate::a".to_string(), "crate::b::y".to_string()]]
    );
}
