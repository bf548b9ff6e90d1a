//! A bounded sample of the input, read at run start so the prefilter can choose its gates by
//! how often their needles occur in this input ([`dragnet_prefilter::Prefilter::build_measured`]).
//!
//! The head of up to [`SAMPLE_FILES`] files spread over the input list, [`SAMPLE_BYTES`] in
//! all. Standard input and S3 objects are not sampled (reading them twice is not possible or
//! costs a download); with none of them sampled, the static gate choice stands. Problems met
//! while sampling are left to the run itself, which reports each once.

use std::ops::ControlFlow;

use dragnet_input::{InputOptions, RecordKind, Source};

/// CloudTrail bytes sampled at most, over all files: about 800 records of 1.3 KB, enough to
/// tell a call in 15% of the records from one in 0.5%, read and measured in a few
/// milliseconds.
pub const SAMPLE_BYTES: usize = 1 << 20;

/// Files sampled at most: the first of the input list and others evenly spread over it (a
/// trail's files differ by region and hour).
pub const SAMPLE_FILES: usize = 8;

/// Copies of up to [`SAMPLE_BYTES`] of CloudTrail records from the heads of the input files.
pub(crate) fn sample_records(sources: &[Source], input: &InputOptions) -> Vec<Vec<u8>> {
    let files: Vec<&Source> = sources
        .iter()
        .filter(|s| matches!(s, Source::File(_)))
        .collect();
    if files.is_empty() {
        return Vec::new();
    }
    let picked = files.len().min(SAMPLE_FILES);
    let per_file = SAMPLE_BYTES / picked;
    // Nothing to note while sampling: the measurement searches the records itself.
    let opts = InputOptions {
        probes: Default::default(),
        ..input.clone()
    };
    let mut out: Vec<Vec<u8>> = Vec::new();
    for k in 0..picked {
        let source = files[k * files.len() / picked];
        let mut taken = 0;
        dragnet_input::read_batches(
            source,
            &opts,
            &mut |batch| {
                for (bytes, span) in batch.iter() {
                    if span.kind != RecordKind::CloudTrail {
                        continue;
                    }
                    taken += bytes.len();
                    out.push(bytes.to_vec());
                    if taken >= per_file {
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            },
            &mut |_| {},
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_the_heads_of_files_within_the_budget() {
        let dir = std::env::temp_dir().join(format!("dragnet-sample-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let record = format!(
            r#"{{"eventName":"GetObject","pad":"{}"}}"#,
            "x".repeat(1000)
        );
        let mut paths = Vec::new();
        for f in 0..3 {
            let path = dir.join(format!("{f}.jsonl"));
            let lines: Vec<&str> = (0..2000).map(|_| record.as_str()).collect();
            std::fs::write(&path, lines.join("\n")).unwrap();
            paths.push(Source::File(path));
        }
        paths.push(Source::Stdin);
        let sample = sample_records(&paths, &InputOptions::default());
        let bytes: usize = sample.iter().map(Vec::len).sum();
        // Each of the 3 files gives a third of the budget, overshooting by one record at most.
        assert!(bytes >= SAMPLE_BYTES - 3 * record.len(), "{bytes}");
        assert!(bytes <= SAMPLE_BYTES + 3 * record.len(), "{bytes}");
        assert!(sample.iter().all(|r| r == record.as_bytes()));
        assert!(sample_records(&[Source::Stdin], &InputOptions::default()).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
