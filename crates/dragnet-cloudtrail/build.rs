//! Turns the uap-core `regexes.yaml` that the `ua-parser` crate ships in its package into Rust
//! statics (`$OUT_DIR/uap_rules.rs`), so the user-agent rules are compiled into the binary and
//! never read at run time. The file is found through `cargo metadata`, i.e. wherever cargo put
//! the resolved `ua-parser` package (registry cache or vendor directory).
//!
//! It also reads every rule's pattern for the matcher's prefilter, with the code the crate shares
//! (`src/user_agent/literals.rs`): per list a `*_PREFILTER` static holds each rule's pattern as it
//! is compiled and the ids of its necessary literals, and the list's literals by id, so that at
//! run time only the literal automaton is left to build.

use std::collections::HashMap;
use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use saphyr::{LoadableYamlNode, Yaml};

#[path = "src/user_agent/literals.rs"]
mod literals;

fn cargo_metadata(offline: bool) -> std::process::Output {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let mut command = Command::new(cargo);
    // `--filter-platform`: only this target's packages need to be on disk; `--locked`: never
    // rewrite Cargo.lock under the running build.
    command.args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--filter-platform",
    ]);
    command.arg(target).arg("--manifest-path");
    command.arg(Path::new(&manifest).join("Cargo.toml"));
    if offline {
        command.arg("--offline");
    }
    command
        .output()
        .expect("running `cargo metadata` to locate the ua-parser package")
}

fn ua_parser_package_dir() -> PathBuf {
    // Offline first (the build already has ua-parser); online only when some other package of
    // the workspace graph was never downloaded.
    let mut output = cargo_metadata(true);
    if !output.status.success() {
        output = cargo_metadata(false);
    }
    assert!(
        output.status.success(),
        "`cargo metadata` failed (needed to find ua-parser's regexes.yaml): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("`cargo metadata` prints JSON");
    let packages = metadata["packages"]
        .as_array()
        .expect("metadata lists packages");
    let package = packages
        .iter()
        .find(|p| p["name"] == "ua-parser")
        .expect("ua-parser is a dependency of dragnet-cloudtrail");
    let manifest_path = package["manifest_path"].as_str().expect("manifest_path");
    Path::new(manifest_path)
        .parent()
        .expect("a manifest lives in a directory")
        .to_path_buf()
}

/// A YAML scalar as the text the parsers expect (uap-core quotes every replacement, but an
/// unquoted number would otherwise be lost).
fn text(node: &Yaml, key: &str) -> Option<String> {
    let value = node.as_mapping_get(key)?;
    if value.is_null() {
        return None;
    }
    if let Some(s) = value.as_str() {
        return Some(s.to_string());
    }
    if let Some(i) = value.as_integer() {
        return Some(i.to_string());
    }
    panic!("regexes.yaml: `{key}` is neither a string nor an integer: {value:?}");
}

fn push_option(out: &mut String, value: Option<String>) {
    match value {
        Some(s) => write!(out, "Some({s:?}), ").unwrap(),
        None => out.push_str("None, "),
    }
}

fn emit(out: &mut String, doc: &Yaml, section: &str, fields: &[&str], kind: &str) {
    let rules = doc
        .as_mapping_get(section)
        .and_then(Yaml::as_sequence)
        .unwrap_or_else(|| panic!("regexes.yaml has no `{section}` list"));
    writeln!(
        out,
        "pub(crate) static {}: [{kind}; {}] = [",
        section.to_uppercase(),
        rules.len()
    )
    .unwrap();
    let mut patterns = Vec::with_capacity(rules.len());
    for rule in rules {
        let regex = text(rule, "regex").expect("every uap-core rule has a regex");
        write!(out, "    ({regex:?}, ").unwrap();
        for field in fields {
            push_option(out, text(rule, field));
        }
        out.push_str("),\n");
        patterns.push(literals::uap_rewrite(literals::java_classes(&regex)).into_owned());
    }
    out.push_str("];\n");
    emit_prefilter(out, section, &patterns);
}

/// `<LIST>_PREFILTER`: each rule's pattern (as compiled) with the ids of its necessary literals,
/// then the list's literals by id (numbered in order of first use).
fn emit_prefilter(out: &mut String, section: &str, patterns: &[String]) {
    let list = section
        .strip_suffix("_parsers")
        .expect("uap-core lists are `*_parsers`")
        .to_uppercase();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut by_id: Vec<String> = Vec::new();
    writeln!(
        out,
        "pub(crate) static {list}_PREFILTER: crate::user_agent::Prefilter = \
         crate::user_agent::Prefilter {{\n    patterns: &["
    )
    .unwrap();
    for pattern in patterns {
        write!(out, "        ({pattern:?}, ").unwrap();
        match literals::pattern_literals(pattern).required() {
            Some(set) => {
                out.push_str("Some(&[");
                for (n, literal) in set.into_iter().enumerate() {
                    let id = *ids.entry(literal).or_insert_with_key(|literal| {
                        by_id.push(literal.clone());
                        u32::try_from(by_id.len() - 1).expect("few literals")
                    });
                    let comma = if n == 0 { "" } else { ", " };
                    write!(out, "{comma}{id}").unwrap();
                }
                out.push_str("]))");
            }
            None => out.push_str("None)"),
        }
        out.push_str(",\n");
    }
    out.push_str("    ],\n    literals: &[\n");
    for literal in &by_id {
        writeln!(out, "        {literal:?},").unwrap();
    }
    out.push_str("    ],\n};\n");
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=Cargo.toml");
    println!("cargo::rerun-if-changed=src/user_agent/literals.rs");
    let path = ua_parser_package_dir().join("uap-core/regexes.yaml");
    let yaml = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let docs = Yaml::load_from_str(&yaml).expect("regexes.yaml is valid YAML");
    let doc = docs.first().expect("regexes.yaml has a document");

    let mut out =
        String::from("// Generated by build.rs from ua-parser's uap-core/regexes.yaml.\n");
    // (regex, family, v1, v2, v3, v4)
    emit(
        &mut out,
        doc,
        "user_agent_parsers",
        &[
            "family_replacement",
            "v1_replacement",
            "v2_replacement",
            "v3_replacement",
            "v4_replacement",
        ],
        "crate::user_agent::Rule",
    );
    // (regex, os, v1, v2, v3, v4)
    emit(
        &mut out,
        doc,
        "os_parsers",
        &[
            "os_replacement",
            "os_v1_replacement",
            "os_v2_replacement",
            "os_v3_replacement",
            "os_v4_replacement",
        ],
        "crate::user_agent::Rule",
    );
    // (regex, flag, device, brand, model)
    emit(
        &mut out,
        doc,
        "device_parsers",
        &[
            "regex_flag",
            "device_replacement",
            "brand_replacement",
            "model_replacement",
        ],
        "crate::user_agent::DeviceRule",
    );
    let dest = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("uap_rules.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
}
