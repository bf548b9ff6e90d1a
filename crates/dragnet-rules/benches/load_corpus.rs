//! Loading the detection-rules corpus (2,192 TOML files) against baselines measured in the
//! same run: reading the bytes, and parsing to the generic `toml::de::DeTable` only.
//!
//! `cargo bench -p dragnet-rules --bench load_corpus` (needs `../shared`; skips otherwise).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};

fn corpus_files() -> Option<Vec<PathBuf>> {
    let dir = dragnet_testdata::shared("corpus/detection-rules")?;
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for sub in ["rules", "rules_building_block"] {
        dragnet_rules::discover(&dir.join(sub), &mut files, &mut diags);
    }
    Some(files)
}

fn bench(c: &mut Criterion) {
    let Some(files) = corpus_files() else {
        return;
    };
    let dir = dragnet_testdata::shared("corpus/detection-rules").expect("checked above");
    let roots = [dir.join("rules"), dir.join("rules_building_block")];
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let mut group = c.benchmark_group("corpus");
    group.sample_size(10);
    group.bench_function("baseline_read_bytes", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|f| std::fs::read(f).unwrap().len())
                .sum::<usize>()
        })
    });
    group.bench_function("baseline_toml_parse_only", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| toml::de::DeTable::parse(t).unwrap().get_ref().len())
                .sum::<usize>()
        })
    });
    group.bench_function("load_sequential", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|f| dragnet_rules::load_file(f).rules.len())
                .sum::<usize>()
        })
    });
    group.bench_function("load_paths_parallel", |b| {
        b.iter(|| {
            let set = dragnet_rules::load_paths(&roots);
            assert_eq!(set.rules.len(), 2192);
            set.rules.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
