//! Mapping throughput over the Stratus Red Team detonation logs (`../shared`): the lazy path
//! (only the seed rules' fields) and full materialisation, against a plain `serde_json::Value`
//! parse of the same bytes (the baseline: ratios are what to read).

use std::hint::black_box;
use std::ops::ControlFlow;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dragnet_cloudtrail::{Mapper, MapperOptions};
use dragnet_event::{Event, FieldTable};

fn records() -> Option<Vec<Vec<u8>>> {
    let dir =
        dragnet_testdata::shared("datasets/cloudtrail/datadog-stratus-red-team/detonation-logs")?;
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).ok()?).ok()?;
        for r in v.as_array()? {
            out.push(serde_json::to_vec(r).ok()?);
        }
    }
    Some(out)
}

const SEED_FIELDS: [&str; 5] = [
    "event.dataset",
    "event.provider",
    "event.action",
    "event.outcome",
    "aws.cloudtrail.request_parameters",
];

fn bench(c: &mut Criterion) {
    let Some(records) = records() else { return };
    let bytes: usize = records.iter().map(Vec::len).sum();
    eprintln!(
        "{} records, {} bytes (mean {} B/record)",
        records.len(),
        bytes,
        bytes / records.len()
    );
    let mut table = FieldTable::new();
    let ids: Vec<_> = SEED_FIELDS.iter().map(|f| table.intern(f)).collect();
    let mapper = Mapper::bind(&table, MapperOptions::default()).unwrap();
    // `user_agent.name` alone: the uap-core parser, compiled on the first record that needs it.
    let mut ua_table = FieldTable::new();
    let ua_name = ua_table.intern("user_agent.name");
    let ua_mapper = Mapper::bind(&ua_table, MapperOptions::default()).unwrap();
    let first = ua_mapper.map(&records[0]).unwrap();
    let started = std::time::Instant::now();
    let _ = first.visit(ua_name, &mut |_| ControlFlow::Continue(()));
    eprintln!(
        "user_agent parser: compiled and first record parsed in {:?}",
        started.elapsed()
    );

    for (unit, throughput) in [
        ("records", Throughput::Elements(records.len() as u64)),
        ("bytes", Throughput::Bytes(bytes as u64)),
    ] {
        let mut g = c.benchmark_group(format!("mapping/{unit}"));
        g.throughput(throughput);
        g.sample_size(20);
        g.bench_function("baseline serde_json::Value parse", |b| {
            b.iter(|| {
                for r in &records {
                    black_box(serde_json::from_slice::<serde_json::Value>(r).unwrap());
                }
            })
        });
        g.bench_function(
            "parse only: Mapper::map (order-keeping borrowed tree)",
            |b| {
                b.iter(|| {
                    for r in &records {
                        black_box(mapper.map(r).unwrap());
                    }
                })
            },
        );
        g.bench_function("lazy: seed rule fields", |b| {
            b.iter(|| {
                let mut n = 0usize;
                for r in &records {
                    let ev = mapper.map(r).unwrap();
                    for &id in &ids {
                        let _ = ev.visit(id, &mut |v| {
                            n += black_box(&v).to_keyword().len();
                            ControlFlow::Continue(())
                        });
                    }
                }
                black_box(n)
            })
        });
        g.bench_function("lazy: user_agent.name (uap-core parse)", |b| {
            b.iter(|| {
                let mut n = 0usize;
                for r in &records {
                    let ev = ua_mapper.map(r).unwrap();
                    let _ = ev.visit(ua_name, &mut |v| {
                        n += black_box(&v).to_keyword().len();
                        ControlFlow::Continue(())
                    });
                }
                black_box(n)
            })
        });
        g.bench_function("full: to_ecs", |b| {
            b.iter(|| {
                for r in &records {
                    black_box(mapper.map(r).unwrap().to_ecs());
                }
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
