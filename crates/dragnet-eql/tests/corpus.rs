//! Every `language = "eql"` rule of the detection-rules corpus parses, prints back to a
//! fixpoint, and compiles against the built-in schema.

use dragnet_event::FieldTable;
use dragnet_schema::Schema;

#[test]
fn every_corpus_eql_rule_parses_and_compiles() {
    let root = dragnet_testdata::require_shared!("corpus/detection-rules");
    let rules = dragnet_testdata::corpus_rule_queries(&root, "eql");
    assert!(
        rules.len() > 1000,
        "expected the ~1081 eql rules, found {}",
        rules.len()
    );
    let schema = Schema::builtin();
    let mut table = FieldTable::new();
    let mut failures = Vec::new();
    let (mut sequences, mut samples) = (0, 0);
    for (file, query) in &rules {
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        let parsed = match dragnet_eql::parse(query) {
            Ok(q) => q,
            Err(e) => {
                failures.push(format!("{rel}: parse error {e}"));
                continue;
            }
        };
        match parsed.body {
            dragnet_eql::QueryBody::Sequence(_) => sequences += 1,
            dragnet_eql::QueryBody::Sample(_) => samples += 1,
            dragnet_eql::QueryBody::Event(_) => {}
        }
        if let Err(e) = dragnet_eql::compile(&parsed, schema, &mut table) {
            let (line, col) = dragnet_eql::line_col(query, e.span.start);
            failures.push(format!("{rel}: compile error at {line}:{col}: {e}"));
        }
        let printed = parsed.to_string();
        match dragnet_eql::parse(&printed) {
            Ok(again) if again.to_string() == printed => {}
            Ok(again) => failures.push(format!(
                "{rel}: canonical form is not a fixpoint:\n  {printed}\n  {again}"
            )),
            Err(e) => failures.push(format!(
                "{rel}: canonical form does not parse ({e}):\n  {printed}"
            )),
        }
    }
    println!(
        "{} eql rules ({sequences} sequences, {samples} samples): {} ok, {} failed; {} distinct fields interned",
        rules.len(),
        rules.len() - failures.len(),
        failures.len(),
        table.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
