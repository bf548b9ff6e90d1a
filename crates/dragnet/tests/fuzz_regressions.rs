//! Every input the fuzzers ever found crashing or hanging (`fuzz/regressions/<target>/`, kept
//! by `fuzz/run.sh`) replayed through the very function its AFL target calls
//! (`fuzz/src/lib.rs`, included here): each must return, without panicking, within a time
//! bound. Data driven: a new file in one of those folders is a new case, no code to write.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

#[path = "../../../fuzz/src/lib.rs"]
mod fuzz_targets;

/// AFL counts a run over 1 s as a hang (`run.sh`: `-t 1000`) in an instrumented release build;
/// an unoptimised test build is several times slower, and test machines are shared.
const TIME_BOUND: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(20)
} else {
    Duration::from_secs(2)
};

fn regressions_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions")
}

/// The kept inputs of one target, in name order (`.gitkeep` and other dotfiles left out).
fn kept_inputs(folder: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(folder).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; every fuzz target has a regressions folder (kept with a .gitkeep)",
            folder.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| {
            path.is_file()
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// Why `target` failed on `input`, if it did: a panic, or no return within [`TIME_BOUND`].
fn replay(target: fuzz_targets::Target, input: Vec<u8>) -> Option<String> {
    let (done, finished) = mpsc::channel();
    // The target runs on a thread of its own so a hang cannot hold the test; a panic drops
    // `done` unsent.
    std::thread::spawn(move || {
        target(&input);
        let _ = done.send(());
    });
    match finished.recv_timeout(TIME_BOUND) {
        Ok(()) => None,
        Err(mpsc::RecvTimeoutError::Disconnected) => Some("panicked (see the output above)".into()),
        Err(mpsc::RecvTimeoutError::Timeout) => Some(format!("still running after {TIME_BOUND:?}")),
    }
}

#[test]
fn every_input_the_fuzzers_kept_runs_without_panicking_or_hanging() {
    let root = regressions_root();
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, target) in fuzz_targets::TARGETS {
        for path in kept_inputs(&root.join(name)) {
            let input = std::fs::read(&path).expect("a readable regression input");
            replayed += 1;
            if let Some(why) = replay(*target, input) {
                failures.push(format!("fuzz target `{name}`, {}: {why}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} kept fuzz inputs fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
