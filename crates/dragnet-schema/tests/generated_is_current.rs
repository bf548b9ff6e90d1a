//! The committed `src/generated.rs` must be exactly what the generator makes from `../shared`.

#[path = "../examples/generate/table.rs"]
mod table;

#[test]
fn generated_table_is_up_to_date() {
    let shared = dragnet_testdata::require_shared!("schemas/ecs");
    let shared = shared
        .parent()
        .and_then(|p| p.parent())
        .expect("shared/schemas/ecs");
    let fresh = table::render(shared).expect("generator runs on ../shared");
    let committed = include_str!("../src/generated.rs");
    assert!(
        fresh == committed,
        "src/generated.rs is stale: run `cargo run -p dragnet-schema --example generate` and commit it"
    );
}
