//! Inputs (paths, `-`, `s3://…`) -> the sources to read, in a deterministic order, pruned by the
//! dates in CloudTrail delivery paths when a time range is given.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::path_date::path_may_overlap;
use crate::problem::{Problem, ProblemKind};
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
                    let mut visited = HashSet::new();
                    walk(&path, opts, &mut visited, &mut out);
                }
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

fn walk(dir: &Path, opts: &InputOptions, visited: &mut HashSet<PathBuf>, out: &mut Discovered) {
    // Symlinked folders are followed once; a loop back to a visited folder is not walked again.
    if let Ok(canonical) = dir.canonicalize()
        && !visited.insert(canonical)
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
        let rel = path.to_string_lossy();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                if path_may_overlap(&rel, opts.time_range) {
                    walk(&path, opts, visited, out);
                } else {
                    out.pruned_by_date += 1;
                }
            }
            Ok(_) => {
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
