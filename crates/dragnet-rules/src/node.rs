//! A spanned value tree shared by the TOML and the Kibana JSON readers, and the typed
//! accessors that turn it into the rule model while collecting diagnostics (wrong types,
//! missing keys, unknown keys), each with its byte span.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::source::SourceFile;

#[derive(Clone, Debug)]
pub(crate) enum Val<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Node<'a>>),
    Table(Table<'a>),
    /// JSON `null` (TOML has none).
    Null,
}

#[derive(Clone, Debug)]
pub(crate) struct Node<'a> {
    pub val: Val<'a>,
    pub span: Range<usize>,
}

#[derive(Clone, Debug)]
pub(crate) struct Key<'a> {
    pub name: Cow<'a, str>,
    pub span: Range<usize>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Table<'a> {
    pub entries: Vec<(Key<'a>, Node<'a>)>,
}

impl Val<'_> {
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Str(_) => "a string",
            Val::Int(_) => "an integer",
            Val::Float(_) => "a float",
            Val::Bool(_) => "a boolean",
            Val::Datetime(_) => "a datetime",
            Val::Array(_) => "an array",
            Val::Table(_) => "a table",
            Val::Null => "null",
        }
    }
}

/// Converts a parsed TOML value into the shared tree. Borrowed strings stay borrowed.
pub(crate) fn from_toml<'a>(value: &DeValue<'a>, span: Range<usize>) -> Node<'a> {
    let val = match value {
        DeValue::String(s) => Val::Str(s.clone()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Val::Int(n),
            // Out of i64 range: keep it as a float so range checks report it.
            Err(_) => Val::Float(i.as_str().parse().unwrap_or(f64::INFINITY)),
        },
        DeValue::Float(f) => Val::Float(parse_toml_float(f.as_str())),
        DeValue::Boolean(b) => Val::Bool(*b),
        DeValue::Datetime(d) => Val::Datetime(d.to_string()),
        DeValue::Array(items) => Val::Array(
            items
                .iter()
                .map(|item| from_toml(item.get_ref(), item.span()))
                .collect(),
        ),
        DeValue::Table(table) => Val::Table(table_from_toml(table)),
    };
    Node { val, span }
}

pub(crate) fn table_from_toml<'a>(table: &DeTable<'a>) -> Table<'a> {
    let mut entries: Vec<(Key<'a>, Node<'a>)> = table
        .iter()
        .map(|(key, value)| {
            (
                Key {
                    name: key.get_ref().clone(),
                    span: key.span(),
                },
                from_toml(value.get_ref(), value.span()),
            )
        })
        .collect();
    // Source order, so diagnostics come out in reading order.
    entries.sort_by_key(|(key, _)| key.span.start);
    Table { entries }
}

fn parse_toml_float(text: &str) -> f64 {
    match text.trim_start_matches(['+', '-']) {
        "inf" => {
            if text.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        "nan" => f64::NAN,
        _ => text.replace('_', "").parse().unwrap_or(f64::NAN),
    }
}

/// Converts a JSON value into the shared tree. JSON carries no spans, so every node gets
/// `span` (the span of the whole NDJSON line).
pub(crate) fn from_json(value: &serde_json::Value, span: &Range<usize>) -> Node<'static> {
    use serde_json::Value as J;
    let val = match value {
        J::Null => Val::Null,
        J::Bool(b) => Val::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Val::Int(i),
            None => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Val::Str(Cow::Owned(s.clone())),
        J::Array(items) => Val::Array(items.iter().map(|v| from_json(v, span)).collect()),
        J::Object(map) => Val::Table(Table {
            entries: map
                .iter()
                .map(|(k, v)| {
                    (
                        Key {
                            name: Cow::Owned(k.clone()),
                            span: span.clone(),
                        },
                        from_json(v, span),
                    )
                })
                .collect(),
        }),
    };
    Node {
        val,
        span: span.clone(),
    }
}

/// The tree back to JSON, for the parts of the format that are free-form by definition
/// (Elasticsearch query DSL inside filters, `meta`, connector `params`).
pub(crate) fn to_json(node: &Node<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.val {
        Val::Str(s) => J::String(s.to_string()),
        Val::Int(i) => J::from(*i),
        Val::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Val::Bool(b) => J::Bool(*b),
        Val::Datetime(d) => J::String(d.clone()),
        Val::Null => J::Null,
        Val::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Val::Table(t) => J::Object(
            t.entries
                .iter()
                .map(|(k, v)| (k.name.to_string(), to_json(v)))
                .collect(),
        ),
    }
}

/// Where diagnostics go while one rule is read.
pub(crate) struct Ctx<'f> {
    pub file: &'f Arc<SourceFile>,
    pub diags: Vec<Diagnostic>,
    /// Kibana JSON: `null` means absent, and Kibana-only keys are known.
    pub json: bool,
}

impl<'f> Ctx<'f> {
    pub fn new(file: &'f Arc<SourceFile>, json: bool) -> Self {
        Self {
            file,
            diags: Vec::new(),
            json,
        }
    }

    pub fn error(&mut self, kind: DiagnosticKind, span: Range<usize>, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(kind, self.file, span, message));
    }

    pub fn warning(
        &mut self,
        kind: DiagnosticKind,
        span: Range<usize>,
        message: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::warning(kind, self.file, span, message));
    }

    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    fn wrong_type(&mut self, path: &str, node: &Node<'_>, expected: &str) {
        self.error(
            DiagnosticKind::WrongType,
            node.span.clone(),
            format!(
                "`{path}` must be {expected}, found {}",
                node.val.type_name()
            ),
        );
    }

    pub fn string(&mut self, path: &str, node: &Node<'_>) -> Option<String> {
        match &node.val {
            Val::Str(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(path, node, "a string");
                None
            }
        }
    }

    pub fn boolean(&mut self, path: &str, node: &Node<'_>) -> Option<bool> {
        match &node.val {
            Val::Bool(b) => Some(*b),
            _ => {
                self.wrong_type(path, node, "a boolean (true or false)");
                None
            }
        }
    }

    /// An integer within `range` (inclusive).
    pub fn integer(
        &mut self,
        path: &str,
        node: &Node<'_>,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        match &node.val {
            Val::Int(i) if range.contains(i) => Some(*i),
            Val::Int(i) => {
                self.error(
                    DiagnosticKind::InvalidValue,
                    node.span.clone(),
                    format!(
                        "`{path}` is {i}, but must be between {} and {}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
            _ => {
                self.wrong_type(path, node, "an integer");
                None
            }
        }
    }

    /// An array of strings; wrong elements are reported one by one and skipped.
    pub fn string_list(&mut self, path: &str, node: &Node<'_>) -> Option<Vec<String>> {
        let Val::Array(items) = &node.val else {
            self.wrong_type(path, node, "an array of strings");
            return None;
        };
        Some(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.string(&format!("{path}[{i}]"), item))
                .collect(),
        )
    }

    /// A string or an array of strings (a few keys accept both).
    pub fn string_or_list(&mut self, path: &str, node: &Node<'_>) -> Option<Vec<String>> {
        match &node.val {
            Val::Str(s) => Some(vec![s.to_string()]),
            Val::Array(_) => self.string_list(path, node),
            _ => {
                self.wrong_type(path, node, "a string or an array of strings");
                None
            }
        }
    }

    pub fn table<'n, 'a>(&mut self, path: &str, node: &'n Node<'a>) -> Option<Reader<'n, 'a>> {
        match &node.val {
            Val::Table(t) => Some(Reader::new(path, t, node.span.clone())),
            _ => {
                self.wrong_type(path, node, "a table");
                None
            }
        }
    }

    /// An array of tables, each read by `read`.
    pub fn tables<'n, 'a, T>(
        &mut self,
        path: &str,
        node: &'n Node<'a>,
        mut read: impl FnMut(&mut Self, Reader<'n, 'a>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Val::Array(items) = &node.val else {
            self.wrong_type(path, node, "an array of tables");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            if let Some(reader) = self.table(&item_path, item)
                && let Some(value) = read(self, reader)
            {
                out.push(value);
            }
        }
        Some(out)
    }
}

/// Reads the keys of one table, remembering which were used so that the rest can be
/// reported as unknown.
pub(crate) struct Reader<'n, 'a> {
    pub path: String,
    pub table: &'n Table<'a>,
    pub span: Range<usize>,
    used: Vec<bool>,
}

impl<'n, 'a> Reader<'n, 'a> {
    pub fn new(path: &str, table: &'n Table<'a>, span: Range<usize>) -> Self {
        Self {
            path: path.to_string(),
            table,
            span,
            used: vec![false; table.entries.len()],
        }
    }

    /// The dotted path of `key` in this table, for messages.
    pub fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key` (JSON `null` counts as absent), marking it used.
    pub fn get(&mut self, key: &str) -> Option<&'n Node<'a>> {
        let index = self.table.entries.iter().position(|(k, _)| k.name == key)?;
        self.used[index] = true;
        let node = &self.table.entries[index].1;
        if matches!(node.val, Val::Null) {
            None
        } else {
            Some(node)
        }
    }

    /// Marks keys as known without reading them.
    pub fn ignore(&mut self, keys: &[&str]) {
        for (i, (k, _)) in self.table.entries.iter().enumerate() {
            if keys.contains(&k.name.as_ref()) {
                self.used[i] = true;
            }
        }
    }

    /// The value of a required key, or a missing-key error pointing at the table.
    pub fn require(&mut self, ctx: &mut Ctx<'_>, key: &str) -> Option<&'n Node<'a>> {
        let node = self.get(key);
        if node.is_none() {
            let where_ = if self.path.is_empty() {
                String::new()
            } else {
                format!(" in [{}]", self.path)
            };
            ctx.error(
                DiagnosticKind::MissingKey,
                self.span.clone(),
                format!("missing required key `{key}`{where_}"),
            );
        }
        node
    }

    pub fn opt_string(&mut self, ctx: &mut Ctx<'_>, key: &str) -> Option<String> {
        let node = self.get(key)?;
        ctx.string(&self.key_path(key), node)
    }

    pub fn req_string(&mut self, ctx: &mut Ctx<'_>, key: &str) -> Option<String> {
        let node = self.require(ctx, key)?;
        ctx.string(&self.key_path(key), node)
    }

    pub fn opt_bool(&mut self, ctx: &mut Ctx<'_>, key: &str) -> Option<bool> {
        let node = self.get(key)?;
        ctx.boolean(&self.key_path(key), node)
    }

    pub fn string_list(&mut self, ctx: &mut Ctx<'_>, key: &str) -> Option<Vec<String>> {
        let node = self.get(key)?;
        ctx.string_list(&self.key_path(key), node)
    }

    pub fn opt_int(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let node = self.get(key)?;
        ctx.integer(&self.key_path(key), node, range)
    }

    pub fn req_int(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let node = self.require(ctx, key)?;
        ctx.integer(&self.key_path(key), node, range)
    }

    /// A free-form JSON value (for keys the format leaves open).
    pub fn opt_json(&mut self, key: &str) -> Option<serde_json::Value> {
        self.get(key).map(to_json)
    }

    /// Reports every key not read as an unknown-key warning.
    pub fn finish(self, ctx: &mut Ctx<'_>) {
        for (used, (key, _)) in self.used.iter().zip(&self.table.entries) {
            if !used {
                let where_ = if self.path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in [{}]", self.path)
                };
                ctx.warning(
                    DiagnosticKind::UnknownKey,
                    key.span.clone(),
                    format!("unknown key `{}` {where_}", key.name),
                );
            }
        }
    }
}
