//! Threat indicators read from `--indicators` files (ECS NDJSON: bare documents or search
//! hits with `_source`), for indicator match rules and the run's extras.

use dragnet_alert::{field_strings, sha256_hex};
use serde_json::Value;

/// Indicator documents read from `--indicators` files.
#[derive(Default)]
pub struct Indicators {
    pub(crate) docs: Vec<IndicatorDoc>,
    problems: Vec<String>,
}

pub(crate) struct IndicatorDoc {
    pub(crate) id: String,
    pub(crate) index: String,
    pub(crate) source: Value,
}

/// The index indicators are attributed to when the file does not say (`_index`).
const DEFAULT_INDICATOR_INDEX: &str = "logs-ti_custom.indicator-default";

impl Indicators {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads ECS NDJSON indicator documents; bad lines are recorded (`source:line: reason`).
    pub fn add_ndjson(&mut self, source: &str, text: &str) {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let value: Value = match serde_json::from_str(line) {
                Ok(v @ Value::Object(_)) => v,
                Ok(_) => {
                    self.problems
                        .push(format!("{source}:{}: not a JSON object; skipped", i + 1));
                    continue;
                }
                Err(e) => {
                    self.problems
                        .push(format!("{source}:{}: not valid JSON: {e}; skipped", i + 1));
                    continue;
                }
            };
            let (doc, id, index) = match value.get("_source") {
                Some(src @ Value::Object(_)) => (
                    src.clone(),
                    value.get("_id").and_then(Value::as_str).map(str::to_string),
                    value
                        .get("_index")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                ),
                _ => (value, None, None),
            };
            let id = id
                .or_else(|| field_strings(&doc, "event.id").into_iter().next())
                .unwrap_or_else(|| sha256_hex(line.as_bytes()));
            self.docs.push(IndicatorDoc {
                id,
                index: index.unwrap_or_else(|| DEFAULT_INDICATOR_INDEX.to_string()),
                source: doc,
            });
        }
    }

    pub fn add_file(&mut self, path: &std::path::Path) -> std::io::Result<()> {
        let text = std::fs::read_to_string(path)?;
        self.add_ndjson(&path.display().to_string(), &text);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}
