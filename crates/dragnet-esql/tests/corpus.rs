//! Every `language = "esql"` rule of the detection-rules corpus parses and prints back to a
//! fixpoint; the rules that cannot run outside Elasticsearch are listed with their reason.

#[test]
fn every_corpus_esql_rule_parses_and_prints_back() {
    let root = dragnet_testdata::require_shared!("corpus/detection-rules");
    let rules = dragnet_testdata::corpus_rule_queries(&root, "esql");
    assert!(
        rules.len() >= 206,
        "expected the 206 esql rules, found {}",
        rules.len()
    );
    let mut failures = Vec::new();
    let mut unsupported = Vec::new();
    for (file, query) in &rules {
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        let parsed = match dragnet_esql::parse(query) {
            Ok(q) => q,
            Err(e) => {
                failures.push(format!("{rel}: parse error {e}"));
                continue;
            }
        };
        let printed = parsed.to_string();
        match dragnet_esql::parse(&printed) {
            Ok(again) if again == parsed && again.to_string() == printed => {}
            Ok(again) => failures.push(format!(
                "{rel}: canonical form is not a fixpoint:\n  {printed}\n  {again}"
            )),
            Err(e) => failures.push(format!(
                "{rel}: canonical form does not parse ({e}):\n  {printed}"
            )),
        }
        if let Some(u) = dragnet_esql::unsupported(&parsed) {
            unsupported.push(format!("{rel}: {}", u.reason));
        }
    }
    println!(
        "{} esql rules: {} parse and print back, {} failed; {} cannot run outside Elasticsearch:",
        rules.len(),
        rules.len() - failures.len(),
        failures.len(),
        unsupported.len()
    );
    for line in &unsupported {
        println!("  {line}");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
