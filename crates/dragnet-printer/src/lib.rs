//! `dragnet-printer`: writes a command's result set, columns and rows of cells plus one JSON
//! document per row, as a table (aligned, fitted to a width, optionally coloured), CSV
//! (RFC 4180), JSON (one document holding the results and any summary) or NDJSON (one object
//! per line). CSV and NDJSON rows are written as they come; so is JSON with
//! [`Printer::stream_json`], and tables past their first [`TABLE_WINDOW_ROWS`] rows (widths are
//! fitted to those); otherwise tables and JSON are written by [`Printer::finish`]. Format resolution (`--format`, the `--output` extension, terminal or
//! pipe) lives in [`resolve`]. Untrusted text is made safe in one place ([`escape_controls`]):
//! tables and CSV cells go through it, and so does every message the CLI prints.
//!
//! Knows nothing of rules or alerts: commands build the rows.

mod csv;
mod escape;
mod format;
mod table;

use std::io::{self, Write};

use serde_json::{Map, Value};

pub use csv::{csv_field, write_csv_record};
pub use escape::{Newlines, escape_controls, is_unsafe_char};
pub use format::{Extension, Format, FormatError, Request, format_of_extension, resolve};
pub use table::{
    Cell, Column, Cut, Row, Show, Style, TableLayout, TableOptions, TableReport, display_width,
    fit_widths, truncate, write_table,
};

/// Rows a table holds before it is written: column widths are fitted to them, and later rows
/// are written as they come, cut to those widths, so a table of any length takes bounded
/// memory.
pub const TABLE_WINDOW_ROWS: usize = 1000;

/// A row's JSON document: a value, or JSON text already serialized (written as is in NDJSON,
/// parsed into the document in JSON).
pub enum Doc<'a> {
    Value(Value),
    Raw(&'a str),
}

/// Writes one result set in one format. Rows go in with [`Printer::row`]; [`Printer::finish`]
/// completes the output (the table, the JSON document, a trailing NDJSON summary).
pub struct Printer<'w> {
    out: &'w mut dyn Write,
    format: Format,
    columns: Vec<Column>,
    options: TableOptions,
    /// The member of the JSON document that holds the rows.
    json_key: &'static str,
    started: bool,
    rows: usize,
    table: Vec<Row>,
    /// Set once the table's widths are fitted: rows are then written as they come.
    layout: Option<TableLayout>,
    docs: Vec<Value>,
    /// JSON rows are written as they come ([`Printer::stream_json`]).
    stream_json: bool,
}

impl<'w> Printer<'w> {
    /// `json_key` names the array of rows in the JSON document (`"alerts"`, `"rules"`).
    pub fn new(
        out: &'w mut dyn Write,
        format: Format,
        columns: Vec<Column>,
        json_key: &'static str,
        options: TableOptions,
    ) -> Self {
        Printer {
            out,
            format,
            columns,
            options,
            json_key,
            started: false,
            rows: 0,
            table: Vec::new(),
            layout: None,
            docs: Vec::new(),
            stream_json: false,
        }
    }

    /// Writes JSON rows as they come instead of holding them until [`Printer::finish_with`]:
    /// the same bytes, in bounded memory. The document's members are then written after the
    /// rows, so every member given to [`Printer::finish_with`] must sort after `json_key` (the
    /// document's members are written in key order); `finish_with` fails otherwise.
    pub fn stream_json(mut self) -> Self {
        self.stream_json = true;
        self
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            if self.format == Format::Csv {
                let keys: Vec<&str> = self.columns.iter().map(|c| c.key.as_ref()).collect();
                write_csv_record(self.out, &keys)?;
            }
            if self.format == Format::Json && self.stream_json {
                write!(self.out, "{{\n  ")?;
                serde_json::to_writer(&mut *self.out, self.json_key)?;
                self.out.write_all(b": [")?;
            }
        }
        Ok(())
    }

    /// One result. Only what the format needs is built: `row` for table and CSV (a cell per
    /// column; CSV takes the cells' text, every column), `doc` for JSON and NDJSON.
    pub fn row<'d>(
        &mut self,
        row: impl FnOnce() -> Row,
        doc: impl FnOnce() -> Doc<'d>,
    ) -> io::Result<()> {
        self.start()?;
        self.rows += 1;
        match self.format {
            Format::Table => match &self.layout {
                Some(layout) => layout.write_row(self.out, &row())?,
                None => {
                    self.table.push(row());
                    if self.table.len() >= TABLE_WINDOW_ROWS {
                        let layout = TableLayout::fit(&self.columns, &self.table, &self.options);
                        layout.write_header(self.out)?;
                        for row in self.table.drain(..) {
                            layout.write_row(self.out, &row)?;
                        }
                        self.layout = Some(layout);
                    }
                }
            },
            Format::Csv => {
                let row = row();
                let fields: Vec<&str> = (0..self.columns.len())
                    .map(|i| row.cells.get(i).map_or("", |c| c.text.as_str()))
                    .collect();
                write_csv_record(self.out, &fields)?;
            }
            Format::Ndjson => {
                match doc() {
                    Doc::Raw(text) => self.out.write_all(text.as_bytes())?,
                    Doc::Value(v) => serde_json::to_writer(&mut *self.out, &v)?,
                }
                self.out.write_all(b"\n")?;
            }
            Format::Json => {
                let value = match doc() {
                    Doc::Value(v) => v,
                    Doc::Raw(text) => serde_json::from_str(text).map_err(io::Error::other)?,
                };
                if self.stream_json {
                    // As `to_writer_pretty` writes an element of the document's array: its
                    // own pretty form, indented two levels (JSON strings hold no raw newline).
                    let text = serde_json::to_string_pretty(&value)?;
                    let separator = if self.rows == 1 { "\n    " } else { ",\n    " };
                    self.out.write_all(separator.as_bytes())?;
                    self.out
                        .write_all(text.replace('\n', "\n    ").as_bytes())?;
                } else {
                    self.docs.push(value);
                }
            }
        }
        Ok(())
    }

    /// Hands what was written so far to the output (a reader on a pipe sees it now). Table
    /// rows held to fit the column widths stay held.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Completes the output without a summary.
    pub fn finish(self) -> io::Result<TableReport> {
        self.finish_with(Map::new(), None)
    }

    /// Completes the output: the table, or the JSON document (`{json_key: [rows], ..members}`,
    /// pretty-printed), or, for NDJSON, `ndjson_trailer` as a last line when given. CSV is
    /// complete already (a header alone when there were no rows).
    pub fn finish_with(
        self,
        members: Map<String, Value>,
        ndjson_trailer: Option<Value>,
    ) -> io::Result<TableReport> {
        self.finish_returning(members, ndjson_trailer)
            .map(|(report, _)| report)
    }

    /// [`Printer::finish_with`], giving the output back (to write after the result set).
    pub fn finish_returning(
        mut self,
        members: Map<String, Value>,
        ndjson_trailer: Option<Value>,
    ) -> io::Result<(TableReport, &'w mut dyn Write)> {
        self.start()?;
        let mut report = TableReport::default();
        match self.format {
            Format::Table => match &self.layout {
                Some(layout) => report = layout.report(),
                None => {
                    report = write_table(self.out, &self.columns, &self.table, &self.options)?;
                }
            },
            Format::Json if self.stream_json => {
                if let Some(key) = members.keys().find(|k| k.as_str() <= self.json_key) {
                    return Err(io::Error::other(format!(
                        "a streamed JSON document cannot hold the member {key:?} before {:?}",
                        self.json_key
                    )));
                }
                self.out
                    .write_all(if self.rows == 0 { b"]" } else { b"\n  ]" })?;
                // The members, as the whole document would write them after the rows.
                let mut doc = members;
                doc.insert(self.json_key.to_string(), Value::Array(Vec::new()));
                let whole = serde_json::to_string_pretty(&Value::Object(doc))?;
                let head = format!(
                    "{{\n  {}: []",
                    serde_json::to_string(self.json_key).map_err(io::Error::other)?
                );
                let rest = whole.strip_prefix(&head).ok_or_else(|| {
                    io::Error::other("the rows' member does not open the JSON document")
                })?;
                self.out.write_all(rest.as_bytes())?;
                self.out.write_all(b"\n")?;
            }
            Format::Json => {
                let mut doc = members;
                doc.insert(
                    self.json_key.to_string(),
                    Value::Array(std::mem::take(&mut self.docs)),
                );
                serde_json::to_writer_pretty(&mut *self.out, &Value::Object(doc))?;
                self.out.write_all(b"\n")?;
            }
            Format::Ndjson => {
                if let Some(t) = ndjson_trailer {
                    serde_json::to_writer(&mut *self.out, &t)?;
                    self.out.write_all(b"\n")?;
                }
            }
            Format::Csv => {}
        }
        self.out.flush()?;
        Ok((report, self.out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn columns() -> Vec<Column> {
        vec![
            Column::new("name", "name"),
            Column::new("note", "note").show(Show::Never),
        ]
    }

    fn print(format: Format) -> String {
        let mut out = Vec::new();
        let mut p = Printer::new(
            &mut out,
            format,
            columns(),
            "items",
            TableOptions::default(),
        );
        for (name, note) in [("a", "x, y"), ("b", "")] {
            p.row(
                || Row::new(vec![Cell::from(name), Cell::from(note)]),
                || Doc::Value(json!({"name": name})),
            )
            .unwrap();
        }
        p.row(
            || Row::new(vec![Cell::from("c")]),
            || Doc::Raw("{\"name\":\"c\"}"),
        )
        .unwrap();
        let mut summary = Map::new();
        summary.insert("summary".into(), json!({"items": 3}));
        p.finish_with(summary, Some(json!({"summary": {"items": 3}})))
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_format() {
        assert_eq!(print(Format::Table), "name\n----\na\nb\nc\n");
        assert_eq!(print(Format::Csv), "name,note\na,\"x, y\"\nb,\nc,\n");
        assert_eq!(
            print(Format::Ndjson),
            "{\"name\":\"a\"}\n{\"name\":\"b\"}\n{\"name\":\"c\"}\n{\"summary\":{\"items\":3}}\n"
        );
        let doc: Value = serde_json::from_str(&print(Format::Json)).unwrap();
        assert_eq!(
            doc,
            json!({"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "summary": {"items": 3}})
        );
    }

    /// Writes `n` rows (and a summary) in `format`, JSON streamed or not.
    fn print_rows(format: Format, n: usize, stream: bool) -> String {
        let mut out = Vec::new();
        let mut p = Printer::new(
            &mut out,
            format,
            columns(),
            "items",
            TableOptions::default(),
        );
        if stream {
            p = p.stream_json();
        }
        for i in 0..n {
            let name = "n".repeat(1 + i % 7);
            p.row(
                || Row::new(vec![Cell::from(name.clone()), Cell::from("x")]),
                || {
                    Doc::Value(
                        json!({"name": name, "i": i, "nested": {"a": [1, {"b": []}], "e": {}}}),
                    )
                },
            )
            .unwrap();
        }
        let mut members = Map::new();
        members.insert("summary".into(), json!({"items": n, "list": [1, 2]}));
        members.insert("problems".into(), json!([]));
        p.finish_with(members, None).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn streamed_json_is_byte_for_byte_the_whole_document() {
        for n in [0, 1, 2, 5] {
            assert_eq!(
                print_rows(Format::Json, n, true),
                print_rows(Format::Json, n, false),
                "{n} rows"
            );
        }
        // A member sorting before the rows' key cannot follow them: an error, not bad JSON.
        let mut out = Vec::new();
        let p = Printer::new(
            &mut out,
            Format::Json,
            columns(),
            "items",
            TableOptions::default(),
        )
        .stream_json();
        let mut members = Map::new();
        members.insert("aaa".into(), json!(1));
        assert!(p.finish_with(members, None).is_err());
    }

    #[test]
    fn long_tables_are_written_past_their_window_with_its_widths() {
        // Within the window: the whole table fitted at once, as before.
        let short = print_rows(Format::Table, 10, false);
        assert_eq!(short.lines().nth(1), Some("-------"));
        let long = print_rows(Format::Table, TABLE_WINDOW_ROWS + 10, false);
        let lines: Vec<&str> = long.lines().collect();
        assert_eq!(lines.len(), 2 + TABLE_WINDOW_ROWS + 10);
        assert_eq!(lines[0], "name");
        assert_eq!(lines[2], "n");
        assert_eq!(
            lines[2 + TABLE_WINDOW_ROWS + 9],
            "nnnnnnn".get(..1 + (TABLE_WINDOW_ROWS + 9) % 7).unwrap()
        );
    }

    #[test]
    fn no_rows_still_makes_a_complete_document() {
        for (format, expected) in [
            (Format::Csv, "name,note\n"),
            (Format::Json, "{\n  \"items\": []\n}\n"),
            (Format::Ndjson, ""),
            (Format::Table, "name\n----\n"),
        ] {
            let mut out = Vec::new();
            Printer::new(
                &mut out,
                format,
                columns(),
                "items",
                TableOptions::default(),
            )
            .finish()
            .unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{format}");
        }
    }
}
