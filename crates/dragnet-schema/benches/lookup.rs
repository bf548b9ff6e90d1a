//! Schema lookups against a `HashMap` baseline measured in the same run.
//!
//! `cargo bench -p dragnet-schema --bench lookup`. Lookups happen when rules are compiled, not per
//! event, so the point is only that they stay cheap: the ratio to a hash map is what to watch.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use dragnet_schema::Schema;

fn time<F: FnMut()>(rounds: u32, mut f: F) -> Duration {
    f(); // warm up
    let start = Instant::now();
    for _ in 0..rounds {
        f();
    }
    start.elapsed() / rounds
}

fn main() {
    let start = Instant::now();
    let schema = Schema::builtin();
    let build = start.elapsed();
    println!(
        "Schema::builtin() first call: {build:?} for {} entries",
        schema.field_count()
    );

    let names: Vec<String> = schema.fields().iter().map(|f| f.name.to_string()).collect();
    let map: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let leaves: Vec<String> = (0..names.len())
        .map(|i| format!("aws.cloudtrail.flattened.request_parameters.key{i}.sub"))
        .collect();
    let rounds = 200;

    let baseline = time(rounds, || {
        for n in &names {
            black_box(map.get(n.as_str()));
        }
    });
    let get = time(rounds, || {
        for n in &names {
            black_box(schema.get(n));
        }
    });
    let flattened = time(rounds, || {
        for n in &leaves {
            black_box(schema.get(n));
        }
    });
    let wildcard = time(20, || {
        black_box(schema.matching("*.name").count());
    });
    let per = |d: Duration| d / names.len() as u32;
    println!("HashMap::get (baseline): {:?}/lookup", per(baseline));
    println!(
        "Schema::get exact:        {:?}/lookup ({:.1}x baseline)",
        per(get),
        get.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "Schema::get flattened leaf: {:?}/lookup ({:.1}x baseline)",
        per(flattened),
        flattened.as_secs_f64() / baseline.as_secs_f64()
    );
    println!("Schema::matching(\"*.name\") over all entries: {wildcard:?}");
}
