//! `dragnet version`: the short form, and `-v` naming the Elastic versions reproduced. (A
//! command-level `--verbose` once clashed with the global `-v` and made clap panic.)

use assert_cmd::Command;

fn version(args: &[&str]) -> String {
    let out = Command::cargo_bin("dragnet")
        .expect("dragnet binary")
        .args(args)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn short_and_verbose_forms() {
    let short = version(&["version"]);
    assert_eq!(
        short.trim(),
        format!("dragnet {}", env!("CARGO_PKG_VERSION"))
    );
    for args in [
        &["version", "-v"][..],
        &["-v", "version"],
        &["version", "--verbose"],
    ] {
        let long = version(args);
        assert!(
            long.contains("elastic/detection-rules @"),
            "{args:?}: {long}"
        );
        assert!(long.contains("AWS integration 8.9.0"), "{args:?}: {long}");
    }
}
