//! Options every command shares (format, output file, verbosity, colour) and the writers they
//! select.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Output format: table on a terminal, ndjson when piped.
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
    /// Write results to FILE instead of stdout.
    #[arg(long, short = 'o', global = true, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print only results and errors (no progress, no warnings).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// More detail on stderr (repeat for more).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to use colour on stderr and in tables.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Ndjson,
    Csv,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl GlobalArgs {
    /// The format asked for, or the default: table on a terminal, ndjson when piped.
    pub fn format(&self) -> Format {
        self.format.unwrap_or_else(|| {
            if self.output.is_none() && io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Ndjson
            }
        })
    }

    /// Where results go: `--output FILE` or stdout, buffered.
    pub fn writer(&self) -> anyhow::Result<Box<dyn Write>> {
        Ok(match &self.output {
            Some(path) => Box::new(BufWriter::new(File::create(path).map_err(|e| {
                anyhow::anyhow!("cannot create output file {}: {e}", path.display())
            })?)),
            None => Box::new(BufWriter::new(io::stdout().lock())),
        })
    }

    /// Whether stdout (tables, validation reports) should be coloured.
    pub fn color_stdout(&self) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                self.output.is_none()
                    && io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }

    /// Whether stderr diagnostics should be coloured.
    pub fn color_stderr(&self) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// Longest cell a table prints before truncating it with `…` (CSV/JSON never truncate).
pub const DEFAULT_MAX_CELL_WIDTH: usize = 60;

/// Characters a cell occupies on a terminal. Counts `char`s: close enough for the ASCII and
/// Latin text rules and CloudTrail carry, and keeps the CLI free of a width-table dependency.
fn display_width(cell: &str) -> usize {
    cell.chars().count()
}

/// `cell` cut to `width` characters, ending in `…` when something was cut. Newlines and tabs
/// become spaces so one row stays one line.
pub fn truncate_cell(cell: &str, width: usize) -> String {
    let flat: String = cell
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if display_width(&flat) <= width {
        return flat;
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = flat.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// Writes an aligned text table: a header row, a dashed rule, then one line per row. Each
/// column is as wide as its widest cell, capped at `max_cell_width` (longer cells end in `…`).
/// The last column is not padded, so lines carry no trailing spaces. Rows shorter than the
/// header are padded with empty cells.
pub fn write_table<W: Write + ?Sized, S: AsRef<str>>(
    w: &mut W,
    headers: &[&str],
    rows: &[Vec<S>],
    max_cell_width: usize,
) -> io::Result<()> {
    let columns = headers.len();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            (0..columns)
                .map(|i| {
                    let cell = row.get(i).map(AsRef::as_ref).unwrap_or("");
                    truncate_cell(cell, max_cell_width)
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(display_width(cell));
        }
    }
    let write_row = |w: &mut W, row: &[&str]| -> io::Result<()> {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(display_width(cell));
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(w, "{}", line.trim_end())
    };
    write_row(w, headers)?;
    let dashes: Vec<String> = widths.iter().map(|n| "-".repeat(*n)).collect();
    let dash_refs: Vec<&str> = dashes.iter().map(String::as_str).collect();
    write_row(w, &dash_refs)?;
    for row in &cells {
        let refs: Vec<&str> = row.iter().map(String::as_str).collect();
        write_row(w, &refs)?;
    }
    Ok(())
}

/// One CSV field as RFC 4180 wants it: quoted (with `"` doubled) when it holds a comma, a
/// quote, CR or LF, or leading/trailing spaces; verbatim otherwise.
pub fn csv_field(field: &str) -> std::borrow::Cow<'_, str> {
    let needs_quotes =
        field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ');
    if needs_quotes {
        std::borrow::Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

/// Writes one CSV record (fields joined by `,`, CRLF-free: lines end in `\n`).
pub fn write_csv_record<W: Write + ?Sized, S: AsRef<str>>(
    w: &mut W,
    fields: &[S],
) -> io::Result<()> {
    let mut line = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&csv_field(field.as_ref()));
    }
    line.push('\n');
    w.write_all(line.as_bytes())
}

/// Writes a CSV document: the header record, then every row (streaming callers can use
/// [`write_csv_record`] directly).
pub fn write_csv<W: Write + ?Sized, S: AsRef<str>>(
    w: &mut W,
    headers: &[&str],
    rows: &[Vec<S>],
) -> io::Result<()> {
    write_csv_record(w, headers)?;
    for row in rows {
        write_csv_record(w, row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_truncates() {
        let rows = vec![
            vec!["short".to_string(), "x".to_string()],
            vec!["a much longer cell".to_string(), "y".to_string()],
        ];
        let mut out = Vec::new();
        write_table(&mut out, &["name", "v"], &rows, 10).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "name        v\n----------  -\nshort       x\na much lo…  y\n"
        );
    }

    #[test]
    fn table_pads_short_rows_and_flattens_newlines() {
        let rows = vec![vec!["a\nb"]];
        let mut out = Vec::new();
        write_table(&mut out, &["one", "two"], &rows, 60).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "one  two\n---  ---\na b\n");
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        let mut out = Vec::new();
        write_csv(
            &mut out,
            &["a", "b"],
            &[vec!["plain", "has,comma \"q\"\nline"]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,b\nplain,\"has,comma \"\"q\"\"\nline\"\n"
        );
        assert_eq!(csv_field(" lead"), "\" lead\"");
    }
}

/// Limits on hostile input, for the commands that read CloudTrail through `dragnet-input`
/// (the problem reported when one is hit names its flag).
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Largest record or JSON line, in bytes (suffixes K, M, G: powers of 1024)
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    pub max_record_bytes: u64,
    /// Deepest JSON nesting of one record
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_json_depth: usize,
    /// Most bytes one gzip file may expand to (suffixes K, M, G)
    #[arg(long, value_name = "SIZE", default_value = "4G", value_parser = parse_size)]
    pub max_decompressed_bytes: u64,
    /// Highest decompressed/compressed ratio of a gzip file past its first 16 MiB
    #[arg(long, value_name = "N", default_value_t = 250)]
    pub max_compression_ratio: u64,
}

impl InputArgs {
    /// The input options these flags set (the rest default).
    pub fn options(&self) -> dragnet_input::InputOptions {
        dragnet_input::InputOptions {
            max_record_bytes: usize::try_from(self.max_record_bytes).unwrap_or(usize::MAX),
            max_depth: self.max_json_depth,
            max_decompressed_bytes: self.max_decompressed_bytes,
            max_compression_ratio: self.max_compression_ratio,
            ..Default::default()
        }
    }
}

/// `64M`, `4G`, `1048576`: bytes, with K/M/G suffixes as powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write bytes, or a number with K, M or G"))?;
    n.checked_mul(1u64 << shift)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("`{text}`: the size must be above 0 and below 16 EiB"))
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("4g"), Ok(4 << 30));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("2K"), Ok(2048));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
