//! Aligned text tables fitted to a width: columns shrink (lowest priority first) down to their
//! minimum, then the lowest-priority columns are left out; cells are cut with `…`.

use std::borrow::Cow;
use std::io::{self, Write};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::escape::{Newlines, escape_controls};

/// Whether a table shows a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// Always.
    Always,
    /// Only in wide mode (`--wide`).
    Wide,
    /// Never: the column is for CSV and JSON only.
    Never,
}

/// Which end of a cell too long for its column is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Keep the start (names, messages).
    End,
    /// Keep the end (ARNs and paths, whose last part names the thing).
    Start,
}

/// One column of a result set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The CSV header (snake_case, stable).
    pub key: Cow<'static, str>,
    /// The table header.
    pub title: Cow<'static, str>,
    /// Narrowest the table may make it (it never widens a column past its longest cell).
    pub min: usize,
    /// Widest it may be in a table.
    pub max: usize,
    /// Higher stays wider and visible longer when the table must fit a width; at
    /// [`OPTIONAL`] or lower, shown only when every column fits at its natural width.
    pub priority: u8,
    pub show: Show,
    pub cut: Cut,
}

impl Column {
    /// A column shown in every table, cut at the end, `min` 8, `max` 60, priority 5.
    pub const fn new(key: &'static str, title: &'static str) -> Self {
        Column {
            key: Cow::Borrowed(key),
            title: Cow::Borrowed(title),
            min: 8,
            max: 60,
            priority: 5,
            show: Show::Always,
            cut: Cut::End,
        }
    }

    /// A column named at run time (the columns of a query's result).
    pub fn named(key: String, title: String) -> Self {
        Column {
            key: Cow::Owned(key),
            title: Cow::Owned(title),
            ..Column::new("", "")
        }
    }

    pub const fn width(mut self, min: usize, max: usize) -> Self {
        self.min = min;
        self.max = max;
        self
    }

    pub const fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    pub const fn show(mut self, show: Show) -> Self {
        self.show = show;
        self
    }

    pub const fn cut(mut self, cut: Cut) -> Self {
        self.cut = cut;
        self
    }

    fn shown(&self, wide: bool) -> bool {
        match self.show {
            Show::Always => true,
            Show::Wide => wide,
            Show::Never => false,
        }
    }
}

/// How a cell is coloured on a terminal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    #[default]
    Plain,
    Bold,
    BoldRed,
    Red,
    Yellow,
    Blue,
    Green,
    Dim,
}

impl Style {
    /// The SGR escape that starts the style (`None` for plain).
    fn sgr(self) -> Option<&'static str> {
        Some(match self {
            Style::Plain => return None,
            Style::Bold => "\x1b[1m",
            Style::BoldRed => "\x1b[1;31m",
            Style::Red => "\x1b[31m",
            Style::Yellow => "\x1b[33m",
            Style::Blue => "\x1b[34m",
            Style::Green => "\x1b[32m",
            Style::Dim => "\x1b[2m",
        })
    }

    /// `text` in this style when `color`, as is otherwise.
    pub fn paint(self, text: &str, color: bool) -> String {
        match self.sgr() {
            Some(on) if color && !text.is_empty() => format!("{on}{text}\x1b[0m"),
            _ => text.to_string(),
        }
    }
}

/// One cell: its text (what CSV writes), how a table colours it, and optionally a shorter
/// form a table shows instead (`2024-01-01 10:00:00` for `2024-01-01T10:00:00.000Z`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub style: Style,
    pub short: Option<String>,
}

impl Cell {
    pub fn styled(text: impl Into<String>, style: Style) -> Self {
        Cell {
            text: text.into(),
            style,
            short: None,
        }
    }

    /// The same cell, shown as `short` in tables.
    pub fn with_short(mut self, short: impl Into<String>) -> Self {
        self.short = Some(short.into());
        self
    }

    /// What a table shows.
    fn shown(&self) -> &str {
        self.short.as_deref().unwrap_or(&self.text)
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell {
            text,
            style: Style::Plain,
            short: None,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::from(text.to_string())
    }
}

/// One result row: a cell per column, and lines a table prints under the row (indented), such
/// as an explanation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub detail: Vec<String>,
}

impl Row {
    pub fn new(cells: Vec<Cell>) -> Self {
        Row {
            cells,
            detail: Vec::new(),
        }
    }
}

/// How a table is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// Fit lines to this many terminal cells; `None`: no limit beyond each column's `max`.
    pub width: Option<usize>,
    /// Colour cells by their style.
    pub color: bool,
    /// Show [`Show::Wide`] columns.
    pub wide: bool,
}

/// What a table left out to fit its width.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableReport {
    /// Titles of the columns not shown for lack of width (not those hidden by design).
    pub dropped: Vec<Cow<'static, str>>,
}

/// Terminal cells `text` occupies.
pub fn display_width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// One line: line breaks and tabs become spaces; every other control character (ESC, BEL,
/// C1) and bidi control is shown escaped ([`escape_controls`]), so a cell cannot act on the
/// terminal.
fn flatten(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| {
            if matches!(c, '\n' | '\r' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect();
    escape_controls(&flat, Newlines::Escape).into_owned()
}

/// `text` in at most `width` terminal cells, with `…` where something was cut (at the end,
/// or at the start for [`Cut::Start`]). Newlines and tabs become spaces, other control
/// characters are escaped (`\x1b`).
pub fn truncate(text: &str, width: usize, cut: Cut) -> String {
    let flat = flatten(text);
    if display_width(&flat) <= width {
        return flat;
    }
    if width == 0 {
        return String::new();
    }
    let budget = width - 1; // room for `…`
    let mut kept = Vec::new();
    let mut used = 0;
    let chars: Box<dyn Iterator<Item = char>> = match cut {
        Cut::End => Box::new(flat.chars()),
        Cut::Start => Box::new(flat.chars().rev()),
    };
    for c in chars {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > budget {
            break;
        }
        used += w;
        kept.push(c);
    }
    match cut {
        Cut::End => {
            let mut s: String = kept.into_iter().collect();
            s.push('…');
            s
        }
        Cut::Start => {
            let mut s = String::from('…');
            s.extend(kept.into_iter().rev());
            s
        }
    }
}

const GAP: usize = 2;

/// Columns of this priority or lower are shown only when the table fits without shrinking.
pub const OPTIONAL: u8 = 1;

/// The width of each column (`None`: left out) so that the lines fit `width`: every column
/// starts as wide as its widest cell (header included) up to its `max`; if that is too wide,
/// optional columns (priority [`OPTIONAL`] or less) are left out, then the lowest-priority
/// columns are left out until the columns' minimums fit, then columns
/// shrink, a cell at a time, where the room above the minimum divided by the priority is
/// largest.
pub fn fit_widths(
    columns: &[&Column],
    natural: &[usize],
    width: Option<usize>,
) -> Vec<Option<usize>> {
    let mut widths: Vec<Option<usize>> = columns
        .iter()
        .zip(natural)
        .map(|(c, &n)| Some(n.min(c.max).max(1)))
        .collect();
    let Some(limit) = width else {
        return widths;
    };
    let total = |widths: &[Option<usize>]| {
        let shown: Vec<usize> = widths.iter().flatten().copied().collect();
        shown.iter().sum::<usize>() + GAP * shown.len().saturating_sub(1)
    };
    // Lowest priority first; among equals, the rightmost first.
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|&i| (columns[i].priority, std::cmp::Reverse(i)));
    let floor = |i: usize, w: usize| columns[i].min.min(w).max(1);
    let minimums = |widths: &[Option<usize>]| -> usize {
        let shown: Vec<usize> = widths
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.map(|w| floor(i, w)))
            .collect();
        shown.iter().sum::<usize>() + GAP * shown.len().saturating_sub(1)
    };
    // Optional columns (priority 1 or less) show only when everything fits untouched.
    if total(&widths) > limit {
        for (i, c) in columns.iter().enumerate() {
            if c.priority <= OPTIONAL && widths.iter().flatten().count() > 1 {
                widths[i] = None;
            }
        }
    }
    for &i in &order {
        if minimums(&widths) <= limit || widths.iter().flatten().count() <= 1 {
            break;
        }
        widths[i] = None;
    }
    // Then take one cell at a time from the column with the most room above its minimum for
    // its priority, so low-priority columns give most, but no column is squeezed to its
    // minimum while another still has plenty.
    let mut excess = total(&widths).saturating_sub(limit);
    while excess > 0 {
        let pick = (0..columns.len())
            .filter_map(|i| {
                let w = widths[i]?;
                let room = w - floor(i, w);
                (room > 0).then(|| (room as f64 / f64::from(columns[i].priority.max(1)), i))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((_, i)) = pick else { break };
        widths[i] = widths[i].map(|w| w - 1);
        excess -= 1;
    }
    widths
}

/// Writes a table: a header, a dashed rule, one line per row (plus its detail lines). Lines
/// carry no trailing spaces; the last column is not padded.
pub fn write_table(
    w: &mut dyn Write,
    columns: &[Column],
    rows: &[Row],
    options: &TableOptions,
) -> io::Result<TableReport> {
    let layout = TableLayout::fit(columns, rows, options);
    layout.write_header(w)?;
    for row in rows {
        layout.write_row(w, row)?;
    }
    Ok(layout.report())
}

/// Column widths fitted once (to the rows a table was fitted to), then used for every row: a
/// table can be written row by row, rows after the fitted ones cut to the same widths.
#[derive(Clone, Debug)]
pub struct TableLayout {
    columns: Vec<Column>,
    options: TableOptions,
    /// (column index, width) of each column shown.
    layout: Vec<(usize, usize)>,
    report: TableReport,
}

impl TableLayout {
    /// Fits the columns' widths to `rows` (and the titles) within the options' width.
    pub fn fit(columns: &[Column], rows: &[Row], options: &TableOptions) -> TableLayout {
        let shown: Vec<usize> = (0..columns.len())
            .filter(|&i| columns[i].shown(options.wide))
            .collect();
        let cols: Vec<&Column> = shown.iter().map(|&i| &columns[i]).collect();
        let natural: Vec<usize> = shown
            .iter()
            .map(|&i| {
                rows.iter()
                    .filter_map(|r| r.cells.get(i))
                    .map(|c| display_width(&flatten(c.shown())))
                    .chain([display_width(&columns[i].title)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let widths = fit_widths(&cols, &natural, options.width);
        let report = TableReport {
            dropped: cols
                .iter()
                .zip(&widths)
                .filter(|(_, w)| w.is_none())
                .map(|(c, _)| c.title.clone())
                .collect(),
        };
        let layout = shown
            .iter()
            .zip(&widths)
            .filter_map(|(&i, w)| w.map(|w| (i, w)))
            .collect();
        TableLayout {
            columns: columns.to_vec(),
            options: *options,
            layout,
            report,
        }
    }

    /// The columns left out to fit the width.
    pub fn report(&self) -> TableReport {
        self.report.clone()
    }

    fn line(&self, cells: &mut dyn Iterator<Item = (usize, usize, Cell)>) -> String {
        let mut out = String::new();
        let mut pending_pad = 0;
        for (n, (col, width, cell)) in cells.enumerate() {
            if n > 0 {
                out.extend(std::iter::repeat_n(' ', pending_pad + GAP));
            }
            let text = truncate(cell.shown(), width, self.columns[col].cut);
            pending_pad = width.saturating_sub(display_width(&text));
            out.push_str(&cell.style.paint(&text, self.options.color));
        }
        out.truncate(out.trim_end_matches(' ').len());
        out
    }

    /// The titles and the rule under them.
    pub fn write_header(&self, w: &mut dyn Write) -> io::Result<()> {
        let header = self.line(&mut self.layout.iter().map(|&(i, width)| {
            let style = if self.options.color {
                Style::Bold
            } else {
                Style::Plain
            };
            (
                i,
                width,
                Cell::styled(self.columns[i].title.as_ref(), style),
            )
        }));
        writeln!(w, "{header}")?;
        let rule = self.line(
            &mut self
                .layout
                .iter()
                .map(|&(i, width)| (i, width, Cell::from("-".repeat(width)))),
        );
        writeln!(w, "{rule}")
    }

    /// One row (and its detail lines).
    pub fn write_row(&self, w: &mut dyn Write, row: &Row) -> io::Result<()> {
        let text = self.line(
            &mut self
                .layout
                .iter()
                .map(|&(i, width)| (i, width, row.cells.get(i).cloned().unwrap_or_default())),
        );
        writeln!(w, "{text}")?;
        let detail_width = self.options.width.map(|w| w.saturating_sub(4).max(20));
        for d in &row.detail {
            let d = match detail_width {
                Some(dw) => truncate(d, dw, Cut::End),
                None => flatten(d),
            };
            writeln!(w, "    {}", d.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[&[&str]]) -> Vec<Row> {
        cells
            .iter()
            .map(|r| Row::new(r.iter().map(|c| Cell::from(*c)).collect()))
            .collect()
    }

    fn render(columns: &[Column], rows: &[Row], options: TableOptions) -> (String, TableReport) {
        let mut out = Vec::new();
        let report = write_table(&mut out, columns, rows, &options).unwrap();
        (String::from_utf8(out).unwrap(), report)
    }

    #[test]
    fn aligns_and_caps_cells_at_their_column_max() {
        let cols = [
            Column::new("name", "name").width(4, 10),
            Column::new("v", "v"),
        ];
        let (text, _) = render(
            &cols,
            &rows(&[&["short", "x"], &["a much longer cell", "y"]]),
            TableOptions::default(),
        );
        assert_eq!(
            text,
            "name        v\n----------  -\nshort       x\na much lo…  y\n"
        );
    }

    #[test]
    fn pads_short_rows_flattens_newlines_and_keeps_no_trailing_space() {
        let cols = [Column::new("one", "one"), Column::new("two", "two")];
        let (text, _) = render(&cols, &rows(&[&["a\nb"]]), TableOptions::default());
        assert_eq!(text, "one  two\n---  ---\na b\n");
    }

    #[test]
    fn fits_a_width_shrinking_then_dropping_the_lowest_priority() {
        let cols = [
            Column::new("time", "time").width(10, 10).priority(9),
            Column::new("rule", "rule").width(6, 40).priority(8),
            Column::new("target", "target")
                .width(6, 40)
                .priority(3)
                .cut(Cut::Start),
            Column::new("id", "id").width(8, 36).priority(2),
        ];
        let data = rows(&[&[
            "2024-01-01",
            "A rule with a long name",
            "arn:aws:iam::1:role/admin",
            "0123456789abcdef",
        ]]);
        // Unlimited: natural widths.
        let (text, _) = render(&cols, &data, TableOptions::default());
        assert_eq!(
            text.lines().nth(2).unwrap().len(),
            10 + 2 + 23 + 2 + 25 + 2 + 16
        );
        // 60 cells: every column above its minimum gives, the lowest priorities most;
        // columns are left out only when their minimums do not fit.
        let (text, report) = render(
            &cols,
            &data,
            TableOptions {
                width: Some(60),
                ..Default::default()
            },
        );
        assert!(report.dropped.is_empty());
        for line in text.lines() {
            assert!(display_width(line) <= 60, "{line:?}");
        }
        let row = text.lines().nth(2).unwrap();
        assert_eq!(
            row,
            "2024-01-01  A rule with a long n…  …role/admin  0123456789a…"
        );
        let (text, report) = render(
            &cols,
            &data,
            TableOptions {
                width: Some(30),
                ..Default::default()
            },
        );
        assert_eq!(report.dropped, vec!["id"]);
        assert_eq!(
            text,
            "time        rule       target\n----------  ---------  -------\n2024-01-01  A rule w…  …/admin\n"
        );
    }

    #[test]
    fn optional_columns_show_only_when_everything_fits() {
        let cols = [
            Column::new("a", "a").width(4, 20),
            Column::new("id", "id").width(10, 10).priority(OPTIONAL),
        ];
        let data = rows(&[&["abcdefgh", "0123456789"]]);
        let fits = |width| {
            render(
                &cols,
                &data,
                TableOptions {
                    width: Some(width),
                    ..Default::default()
                },
            )
        };
        assert_eq!(fits(20).0.lines().nth(2), Some("abcdefgh  0123456789"));
        let (text, report) = fits(19);
        assert_eq!(text, "a\n--------\nabcdefgh\n");
        assert_eq!(report.dropped, vec!["id"]);
    }

    #[test]
    fn wide_and_never_columns() {
        let cols = [
            Column::new("a", "a"),
            Column::new("ua", "user agent").show(Show::Wide),
            Column::new("csv_only", "csv").show(Show::Never),
        ];
        let data = rows(&[&["1", "curl", "x"]]);
        let (narrow, _) = render(&cols, &data, TableOptions::default());
        assert_eq!(narrow, "a\n-\n1\n");
        let (wide, _) = render(
            &cols,
            &data,
            TableOptions {
                wide: true,
                ..Default::default()
            },
        );
        assert_eq!(wide, "a  user agent\n-  ----------\n1  curl\n");
    }

    #[test]
    fn colour_wraps_the_text_not_the_padding() {
        let cols = [Column::new("sev", "sev"), Column::new("x", "x")];
        let data = vec![Row::new(vec![
            Cell::styled("low", Style::Blue),
            Cell::from("y"),
        ])];
        let (text, _) = render(
            &cols,
            &data,
            TableOptions {
                color: true,
                ..Default::default()
            },
        );
        assert_eq!(text.lines().nth(2).unwrap(), "\x1b[34mlow\x1b[0m  y");
    }

    #[test]
    fn tables_show_the_short_form() {
        let cols = [Column::new("time", "time").width(4, 30)];
        let data = vec![Row::new(vec![
            Cell::from("2024-01-01T10:00:00.000Z").with_short("2024-01-01 10:00:00"),
        ])];
        let (text, _) = render(&cols, &data, TableOptions::default());
        assert_eq!(text, "time\n-------------------\n2024-01-01 10:00:00\n");
    }

    #[test]
    fn control_characters_are_shown_escaped_and_count_in_the_width() {
        let cols = [Column::new("ua", "ua").width(4, 60), Column::new("x", "x")];
        let data = rows(&[&["curl\x1b[31m\x07\u{9b}\u{202e}", "y"]]);
        let (text, _) = render(&cols, &data, TableOptions::default());
        let row = "curl\\x1b[31m\\x07\\u{9b}\\u{202e}  y";
        assert_eq!(text.lines().nth(2), Some(row));
        assert!(!text.contains('\x1b'));
        // Cut like any text, within the width.
        assert_eq!(truncate("a\x1bb", 4, Cut::End), "a\\x…");
        assert_eq!(truncate("\r\n", 5, Cut::End), "  ");
    }

    #[test]
    fn widths_count_terminal_cells() {
        assert_eq!(display_width("日本"), 4);
        assert_eq!(truncate("日本語テキスト", 5, Cut::End), "日本…");
        assert_eq!(truncate("abcdef", 4, Cut::Start), "…def");
        assert_eq!(truncate("abc", 0, Cut::End), "");
    }

    #[test]
    fn detail_lines_follow_their_row() {
        let cols = [Column::new("loc", "location"), Column::new("m", "match")];
        let mut row = Row::new(vec![Cell::from("f:1 #0"), Cell::from("match")]);
        row.detail = vec!["a == 1: true".into()];
        let (text, _) = render(&cols, &[row], TableOptions::default());
        assert_eq!(
            text,
            "location  match\n--------  -----\nf:1 #0    match\n    a == 1: true\n"
        );
    }
}
