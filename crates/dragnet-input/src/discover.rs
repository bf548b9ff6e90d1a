//! Inputs (paths, `-`, `s3://…`) -> the sources to read, in a deterministic order, pruned by the
//! dates in CloudTrail delivery paths when a time range is given.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::path_date::path_may_overlap;
use crate::problem::{Limit, Problem, ProblemKind};
use crate::{Discovered, InputOptions, Source};

/// Expands the inputs into sources. Files named explicitly are always read; files found by
/// walking a folder or listing a prefix are pruned by their CloudTrail path date.
pub fn discover(inputs: &[String], opts: &InputOptions) -> Discovered {
    let mut out = Discovered::default();
    for input in inputs {
        if input == "-" {
            out.sources.push(Source::Stdin);
        } else if input.starts_with("s3://") {
            crate::s3::discover(input, opts, &mut out);
        } else {
            let path = PathBuf::from(input);
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {
                    let mut walk_state = Walk {
                        visited: HashSet::new(),
                        files: 0,
                        stopped: false,
                    };
                    walk(&path, opts, &mut walk_state, &mut out);
                }
                // Opening a FIFO blocks until a writer comes, a device may never end: named
                // on the command line, such an input is an error (the CLI exits 2), not a hang.
                Ok(m) if !m.is_file() => out.problems.push(Problem::new(
                    input.as_str().into(),
                    None,
                    ProblemKind::Io,
                    format!("cannot read input: {}; not read", not_regular(&m)),
                )),
                Ok(_) => out.sources.push(Source::File(path)),
                Err(e) => out.problems.push(Problem::new(
                    input.as_str().into(),
                    None,
                    ProblemKind::Io,
                    format!("cannot read input: {e}"),
                )),
            }
        }
    }
    out
}

/// One folder input's walk: folders seen (symlink loops) and files found so far.
struct Walk {
    visited: HashSet<PathBuf>,
    files: usize,
    stopped: bool,
}

/// What kind of non-regular file `m` describes, for messages.
fn not_regular(m: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_fifo() {
        "a FIFO (named pipe), not a regular file"
    } else if t.is_socket() {
        "a socket, not a regular file"
    } else if t.is_block_device() || t.is_char_device() {
        "a device, not a regular file"
    } else {
        "not a regular file"
    }
}

fn walk(dir: &Path, opts: &InputOptions, state: &mut Walk, out: &mut Discovered) {
    if state.stopped {
        return;
    }
    // Symlinked folders are followed once; a loop back to a visited folder is not walked again.
    if let Ok(canonical) = dir.canonicalize()
        && !state.visited.insert(canonical)
    {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
            v.sort();
            v
        }
        Err(e) => {
            out.problems.push(Problem::new(
                dir.display().to_string().into(),
                None,
                ProblemKind::Io,
                format!("cannot list folder: {e}"),
            ));
            return;
        }
    };
    for path in entries {
        if state.stopped {
            return;
        }
        let rel = path.to_string_lossy();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                if path_may_overlap(&rel, opts.time_range) {
                    walk(&path, opts, state, out);
                } else {
                    out.pruned_by_date += 1;
                }
            }
            // FIFOs, sockets and devices are never opened (a FIFO would block the run).
            Ok(m) if !m.is_file() => out.problems.push(Problem::new(
                path.display().to_string().into(),
                None,
                ProblemKind::NotCloudTrail,
                format!("skipped: {}", not_regular(&m)),
            )),
            Ok(_) => {
                if state.files >= opts.max_files {
                    state.stopped = true;
                    out.problems.push(Problem::new(
                        dir.display().to_string().into(),
                        None,
                        ProblemKind::LimitExceeded {
                            limit: Limit::FilesPerWalk,
                        },
                        format!(
                            "folder walk stopped after {} files ({}); the rest of the folder is not read; raise it with {}",
                            opts.max_files,
                            Limit::FilesPerWalk.name(),
                            Limit::FilesPerWalk.flag()
                        ),
                    ));
                    return;
                }
                state.files += 1;
                if path_may_overlap(&rel, opts.time_range) {
                    out.sources.push(Source::File(path));
                } else {
                    out.pruned_by_date += 1;
                }
            }
            Err(e) => out.problems.push(Problem::new(
                path.display().to_string().into(),
                None,
                ProblemKind::Io,
                format!("cannot read: {e}"),
            )),
        }
    }
}
