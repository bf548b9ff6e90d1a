//! Kibana exception lists as exported (`POST /api/exception_lists/_export`: NDJSON of list
//! headers, items and an export summary) and value lists (one value per line), read into
//! typed items. Applying them to rules is `dragnet-detect`'s `exceptions`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

/// A problem in an exception file: where and why. The rest of the file is still used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExceptionProblem {
    pub source: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ExceptionProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.message)
    }
}

/// One exception list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Match {
        field: String,
        value: String,
        excluded: bool,
    },
    MatchAny {
        field: String,
        values: Vec<String>,
        excluded: bool,
    },
    Exists {
        field: String,
        excluded: bool,
    },
    Wildcard {
        field: String,
        value: String,
        excluded: bool,
    },
    List {
        field: String,
        list_id: String,
        excluded: bool,
    },
    Nested {
        field: String,
        entries: Vec<Entry>,
    },
}

/// One exception item: its entries must all hold.
#[derive(Clone, Debug)]
pub struct ExceptionItem {
    pub list_id: String,
    pub item_id: String,
    pub name: String,
    pub namespace_type: String,
    pub os_types: Vec<String>,
    pub expire_time: Option<jiff::Timestamp>,
    pub entries: Vec<Entry>,
    /// `file:line` the item was read from.
    pub origin: String,
}

/// The exception lists, items and value lists read so far. Bad lines are recorded as
/// [`ExceptionProblem`]s and skipped; the rest is kept.
#[derive(Clone, Debug, Default)]
pub struct ExceptionLists {
    /// `list_id` -> name of every list header read.
    lists: BTreeMap<String, String>,
    items: Vec<ExceptionItem>,
    problems: Vec<ExceptionProblem>,
    /// Value lists (`list` entries) by list id.
    value_lists: BTreeMap<String, Arc<Vec<String>>>,
}

impl ExceptionLists {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a Kibana exception list export (NDJSON: list headers, items, an export summary).
    /// Bad lines are recorded as [`ExceptionProblem`]s and skipped.
    pub fn add_ndjson(&mut self, source: &str, text: &str) {
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            let mut problem = |message: String| {
                self.problems.push(ExceptionProblem {
                    source: source.to_string(),
                    line: line_no,
                    message,
                })
            };
            let value: Value = match serde_json::from_str(trimmed) {
                Ok(v) => v,
                Err(e) => {
                    problem(format!("not valid JSON: {e}; line skipped"));
                    continue;
                }
            };
            let Some(obj) = value.as_object() else {
                problem("not a JSON object; line skipped".into());
                continue;
            };
            if obj.keys().any(|k| k.starts_with("exported_")) {
                continue; // the export summary
            }
            let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
            let Some(list_id) = text("list_id") else {
                problem(
                    "neither an exception list nor an item (no `list_id`); line skipped".into(),
                );
                continue;
            };
            if !obj.contains_key("entries") {
                // A list header.
                let name = text("name").unwrap_or_else(|| list_id.clone());
                self.lists.insert(list_id, name);
                continue;
            }
            let origin = format!("{source}:{line_no}");
            match parse_item(obj, list_id, origin) {
                Ok(item) => self.items.push(item),
                Err(e) => problem(format!("{e}; item skipped")),
            }
        }
    }

    /// Adds a value list (the text of Kibana's value list export: one value per line) for the
    /// `list` entries naming `list_id`.
    pub fn add_value_list(&mut self, list_id: &str, text: &str) {
        let values = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        self.value_lists
            .insert(list_id.to_string(), Arc::new(values));
    }

    /// Reads an export file.
    pub fn add_file(&mut self, path: &Path) -> std::io::Result<()> {
        let text = std::fs::read_to_string(path)?;
        self.add_ndjson(&path.display().to_string(), &text);
        Ok(())
    }

    pub fn items(&self) -> &[ExceptionItem] {
        &self.items
    }

    pub fn problems(&self) -> &[ExceptionProblem] {
        &self.problems
    }

    /// The value lists by list id.
    pub fn value_lists(&self) -> &BTreeMap<String, Arc<Vec<String>>> {
        &self.value_lists
    }
}

fn parse_item(
    obj: &serde_json::Map<String, Value>,
    list_id: String,
    origin: String,
) -> Result<ExceptionItem, String> {
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let item_id = text("item_id").ok_or("item without `item_id`")?;
    let entries = obj
        .get("entries")
        .and_then(Value::as_array)
        .ok_or("`entries` is not an array")?;
    if entries.is_empty() {
        return Err(format!("item {item_id} has no entries"));
    }
    let entries = entries
        .iter()
        .map(|e| parse_entry(e, false))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("item {item_id}: {e}"))?;
    let expire_time = match text("expire_time") {
        Some(t) => Some(
            t.parse::<jiff::Timestamp>()
                .map_err(|e| format!("item {item_id}: expire_time {t:?}: {e}"))?,
        ),
        None => None,
    };
    Ok(ExceptionItem {
        list_id,
        name: text("name").unwrap_or_else(|| item_id.clone()),
        item_id,
        namespace_type: text("namespace_type").unwrap_or_else(|| "single".into()),
        os_types: obj
            .get("os_types")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        expire_time,
        entries,
        origin,
    })
}

pub fn parse_entry(entry: &Value, in_nested: bool) -> Result<Entry, String> {
    let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_string);
    let field = text("field").ok_or("entry without `field`")?;
    let kind = text("type").ok_or_else(|| format!("entry on {field} without `type`"))?;
    let excluded = match text("operator").as_deref() {
        Some("included") | None if kind == "nested" => false,
        Some("included") => false,
        Some("excluded") => true,
        Some(other) => return Err(format!("entry on {field}: unknown operator {other:?}")),
        None => return Err(format!("entry on {field} without `operator`")),
    };
    let value_text =
        || text("value").ok_or_else(|| format!("{kind} entry on {field} without a string `value`"));
    Ok(match kind.as_str() {
        "match" => Entry::Match {
            value: value_text()?,
            field,
            excluded,
        },
        "match_any" => {
            let values: Vec<String> = entry
                .get("value")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("match_any entry on {field}: `value` is not an array"))?
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| format!("match_any entry on {field}: values must be strings"))?;
            if values.is_empty() {
                return Err(format!("match_any entry on {field} has no values"));
            }
            Entry::MatchAny {
                field,
                values,
                excluded,
            }
        }
        "exists" => Entry::Exists { field, excluded },
        "wildcard" => Entry::Wildcard {
            value: value_text()?,
            field,
            excluded,
        },
        "list" => Entry::List {
            list_id: entry
                .get("list")
                .and_then(|l| l.get("id"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            field,
            excluded,
        },
        "nested" if !in_nested => {
            let entries = entry
                .get("entries")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("nested entry on {field}: `entries` is not an array"))?
                .iter()
                .map(|e| parse_entry(e, true))
                .collect::<Result<Vec<_>, _>>()?;
            Entry::Nested { field, entries }
        }
        "nested" => return Err(format!("nested entry on {field} inside a nested entry")),
        other => return Err(format!("entry on {field}: unknown type {other:?}")),
    })
}
