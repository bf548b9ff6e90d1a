//! `dragnet-printer`: writes a command's result set, columns and rows of cells plus one JSON
//! document per row, as a table (aligned, fitted to a width, optionally coloured), CSV
//! (RFC 4180), JSON (one document holding the results and any summary) or NDJSON (one object
//! per line). CSV and NDJSON rows are written as they come; tables and JSON are written by
//! [`Printer::finish`]. Format resolution (`--format`, the `--output` extension, terminal or
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
    Cell, Column, Cut, Row, Show, Style, TableOptions, TableReport, display_width, fit_widths,
    truncate, write_table,
};

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
    docs: Vec<Value>,
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
            docs: Vec::new(),
        }
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
                let keys: Vec<&str> = self.columns.iter().map(|c| c.key).collect();
                write_csv_record(self.out, &keys)?;
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
            Format::Table => self.table.push(row()),
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
            Format::Json => self.docs.push(match doc() {
                Doc::Value(v) => v,
                Doc::Raw(text) => serde_json::from_str(text).map_err(io::Error::other)?,
            }),
        }
        Ok(())
    }

    /// Completes the output without a summary.
    pub fn finish(self) -> io::Result<TableReport> {
        self.finish_with(Map::new(), None)
    }

    /// Completes the output: the table, or the JSON document (`{json_key: [rows], ..members}`,
    /// pretty-printed), or, for NDJSON, `ndjson_trailer` as a last line when given. CSV is
    /// complete already (a header alone when there were no rows).
    pub fn finish_with(
        mut self,
        members: Map<String, Value>,
        ndjson_trailer: Option<Value>,
    ) -> io::Result<TableReport> {
        self.start()?;
        let mut report = TableReport::default();
        match self.format {
            Format::Table => {
                report = write_table(self.out, &self.columns, &self.table, &self.options)?;
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
        Ok(report)
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
