//! Every `language = "kuery"` rule of the detection-rules corpus parses, prints back to a
//! fixpoint, and compiles against the built-in schema.

use dragnet_event::FieldTable;
use dragnet_schema::Schema;

#[test]
fn every_corpus_kql_rule_parses_and_compiles() {
    let root = dragnet_testdata::require_shared!("corpus/detection-rules");
    let rules = dragnet_testdata::corpus_rule_queries(&root, "kuery");
    assert!(
        rules.len() > 700,
        "expected the ~792 kuery rules, found {}",
        rules.len()
    );
    let schema = Schema::builtin();
    let mut table = FieldTable::new();
    let mut failures = Vec::new();
    let mut unknown_total = 0;
    let mut free_text = Vec::new();
    let mut below_leaf = Vec::new();
    for (file, query) in &rules {
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        let parsed = match dragnet_kql::parse(query) {
            Ok(q) => q,
            Err(e) => {
                failures.push(format!("{rel}: parse error {e}"));
                continue;
            }
        };
        let printed = parsed.to_string();
        match dragnet_kql::parse(&printed) {
            Ok(again) if again.to_string() == printed => {}
            Ok(again) => failures.push(format!(
                "{rel}: canonical form is not a fixpoint:\n  {printed}\n  {again}"
            )),
            Err(e) => failures.push(format!(
                "{rel}: canonical form does not parse ({e}):\n  {printed}"
            )),
        }
        match dragnet_kql::compile(&parsed, schema, &mut table) {
            Ok(c) => {
                unknown_total += c.unknown_fields().len();
                if c.has_free_text() {
                    free_text.push(rel.clone());
                }
                for name in c.below_leaf_fields() {
                    below_leaf.push(format!("{rel}: {name}"));
                }
            }
            Err(e) => {
                let (line, col) = dragnet_kql::line_col(query, e.span.start);
                failures.push(format!("{rel}: compile error at {line}:{col}: {e}"));
            }
        }
    }
    println!(
        "{} kuery rules: {} ok, {} failed; {} unknown-field references; {} distinct fields interned",
        rules.len(),
        rules.len() - failures.len(),
        failures.len(),
        unknown_total,
        table.len()
    );
    println!(
        "{} rules use free text or field patterns (they need Event::visit_fields): {free_text:?}",
        free_text.len()
    );
    // A path below a leaf matches nothing in Elasticsearch; in a shipped rule it is a bug of
    // the rule (or of our schema), worth seeing.
    println!(
        "{} references to paths below a leaf field: {below_leaf:?}",
        below_leaf.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
