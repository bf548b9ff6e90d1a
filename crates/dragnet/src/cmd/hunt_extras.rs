//! `dragnet hunt` inputs from outside the rules: exception list exports (`--exceptions`) and
//! the report of what they suppressed, threat indicators (`--indicators`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use dragnet_engine::{ExceptionSet, Indicators};
use serde_json::{Value, json};

/// Reads every `--exceptions` file; bad lines are warnings (file:line: reason), an unreadable
/// file is an error.
pub fn load_exceptions(
    paths: &[PathBuf],
    value_lists: &[String],
    quiet: bool,
) -> anyhow::Result<Option<Arc<ExceptionSet>>> {
    if paths.is_empty() {
        if !value_lists.is_empty() {
            anyhow::bail!(
                "--value-list needs --exceptions: value lists are used by exception items"
            );
        }
        return Ok(None);
    }
    let mut set = ExceptionSet::new();
    for spec in value_lists {
        let Some((id, file)) = spec.split_once('=') else {
            anyhow::bail!("--value-list {spec:?}: expected LIST_ID=FILE");
        };
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read --value-list {id}={file}"))?;
        set.add_value_list(id, &text);
    }
    for path in paths {
        set.add_file(path).with_context(|| {
            format!(
                "cannot read --exceptions {}: give a Kibana exception list export (.ndjson)",
                path.display()
            )
        })?;
    }
    if !quiet {
        for p in set.problems() {
            diag!("warning: {p}");
        }
    }
    Ok(Some(Arc::new(set)))
}

/// `{"items": n, "problems": [...], "suppressed": [{rule_id, item_id, events}], "events": [...]}`.
pub fn exceptions_json(set: Option<&ExceptionSet>) -> Value {
    let Some(set) = set else {
        return Value::Null;
    };
    json!({
        "items": set.items().len(),
        "problems": set
            .problems()
            .iter()
            .map(|p| json!({"source": p.source, "line": p.line, "message": p.message}))
            .collect::<Vec<_>>(),
        "suppressed": set
            .suppression_counts()
            .into_iter()
            .map(|(rule_id, item_id, events)| json!({"rule_id": rule_id, "item_id": item_id, "events": events}))
            .collect::<Vec<_>>(),
        "events": set.suppressed(),
    })
}

/// One summary line per (rule, item); with `--explain`, one line per suppressed event.
pub fn print_exceptions(set: Option<&ExceptionSet>, explain: bool) {
    let Some(set) = set else {
        return;
    };
    let counts = set.suppression_counts();
    let total: u64 = counts.iter().map(|c| c.2).sum();
    diag!(
        "exceptions: {} item(s) loaded; {total} event(s) suppressed",
        set.items().len()
    );
    for (rule_id, item_id, n) in &counts {
        diag!("  item {item_id} suppressed {n} event(s) of rule {rule_id}");
    }
    if explain {
        for s in set.suppressed() {
            diag!(
                "  explain: item {} ({}) of list {} suppressed event {} at {} for rule {} ({})",
                s.item_id,
                s.item,
                s.list_id,
                s.event_id.as_deref().unwrap_or("-"),
                s.timestamp.as_deref().unwrap_or("-"),
                s.rule,
                s.rule_id
            );
        }
    }
}

/// Reads every `--indicators` file; bad lines are warnings, an unreadable file is an error.
pub fn load_indicators(paths: &[PathBuf], quiet: bool) -> anyhow::Result<Option<Arc<Indicators>>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut set = Indicators::new();
    for path in paths {
        set.add_file(path).with_context(|| {
            format!(
                "cannot read --indicators {}: give ECS NDJSON indicator documents",
                path.display()
            )
        })?;
    }
    if !quiet {
        for p in set.problems() {
            diag!("warning: {p}");
        }
    }
    Ok(Some(Arc::new(set)))
}
