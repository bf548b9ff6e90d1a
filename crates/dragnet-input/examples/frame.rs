//! Frames the inputs given on the command line and prints, per source, what was delivered and
//! every problem: `cargo run --release -p dragnet-input --example frame -- [--framing] INPUT...`
//! (`--framing`: [`Validation::Framing`], as `dragnet hunt` reads; default full validation).

use std::ops::ControlFlow;

use dragnet_input::{InputOptions, Validation, discover, read_batches};

fn main() {
    let (flags, inputs): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a == "--framing");
    let opts = InputOptions {
        validate: if flags.is_empty() {
            Validation::Full
        } else {
            Validation::Framing
        },
        ..InputOptions::default()
    };
    let found = discover(&inputs, &opts);
    for p in &found.problems {
        eprintln!("{p}");
    }
    let (mut records, mut bytes) = (0u64, 0u64);
    let started = std::time::Instant::now();
    for source in &found.sources {
        let stats = read_batches(
            source,
            &opts,
            &mut |_batch| ControlFlow::Continue(()),
            &mut |p| eprintln!("{p}"),
        );
        println!(
            "{}: {} records, {} skipped, {} problems, {} bytes{}",
            source.name(),
            stats.records,
            stats.skipped_records,
            stats.problems,
            stats.bytes,
            if stats.gzip { " (gzip)" } else { "" }
        );
        records += stats.records;
        bytes += stats.bytes;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "total: {} sources, {records} records, {bytes} bytes in {secs:.2}s ({:.0} MiB/s), {} pruned by date",
        found.sources.len(),
        bytes as f64 / secs / (1 << 20) as f64,
        found.pruned_by_date
    );
}
