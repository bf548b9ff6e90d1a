//! Prints every diagnostic for the given paths (development aid).
fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let set = dragnet_rules::load_paths(&paths);
    for d in &set.diagnostics {
        println!("{d}");
    }
    println!("{} rules, {} valid", set.total(), set.rules.len());
}
