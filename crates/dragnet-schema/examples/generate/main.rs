//! Regenerates `src/generated.rs` (the compiled-in field table) from `../shared`.
//!
//! Usage: `cargo run -p dragnet-schema --example generate` (reads `../shared` or `$DRAGNET_SHARED`).

mod table;

fn main() {
    let Some(shared) = dragnet_testdata::shared("") else {
        eprintln!("error: ../shared not found; set DRAGNET_SHARED to the shared data directory");
        std::process::exit(2);
    };
    let rendered = match table::render(&shared) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/generated.rs");
    if let Err(e) = std::fs::write(&target, rendered) {
        eprintln!("error: cannot write {}: {e}", target.display());
        std::process::exit(1);
    }
    println!("wrote {}", target.display());
}
