//! Elasticsearch's ES|QL csv-spec conformance suite, run on dragnet's ES|QL engine.
//!
//! The fixtures (`../shared/conformance/esql/`, described in its `SOURCE.md`) are the
//! `x-pack/plugin/esql/qa/testFixtures` files of elastic/elasticsearch: every test is a
//! query over the CSV datasets with its expected columns, rows and warnings. This runner
//! follows upstream's `CsvSpecReader` (spec format), `CsvTestsDataLoader` (datasets) and
//! `CsvAssert` (comparison). It prints a pass table per file and fails when a test in scope
//! fails, unless `csv_spec_exclusions.txt` names it with the reason, or when an excluded test
//! passes (the list must shrink as dragnet catches up).
//!
//! In scope: every test not flagged in `test-counts.json` as needing a feature or dataset the
//! fixtures leave out, not `-Ignore`d upstream and not disabled (`skip:-9.99.99`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dragnet_esql::IndexPattern;
use dragnet_esql_exec::{
    CellTable, EsqlType, Executor, Mv, Options, Val, Warnings, compile, dates, functions,
    wildcard_match,
};

/// Elasticsearch's implicit `LIMIT` for a query without one.
const IMPLICIT_LIMIT: usize = 1000;
/// `NOW()` for every test: the suite's expected values never depend on it.
const NOW_MS: i64 = 1_700_000_000_000;

// ---------------------------------------------------------------- spec files

#[derive(Debug, Default)]
struct SpecTest {
    name: String,
    disabled: bool,
    query: String,
    warnings: Vec<String>,
    warning_regexes: Vec<String>,
    ignore_order: bool,
    header: Vec<(String, String)>,
    rows: Vec<Vec<String>>,
}

const DIRECTIVES: &[&str] = &[
    "required_capability",
    "required_feature",
    "skip_flattened_rewrite",
    "request_stored",
    "approximate",
];

fn is_directive(line: &str) -> bool {
    line.starts_with("schema::")
        || DIRECTIVES.iter().any(|d| {
            line.strip_prefix(d)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
}

/// `CsvSpecReader`: trimmed lines, `//` and `#` lines and blank lines skipped everywhere.
fn parse_spec(text: &str) -> Result<Vec<SpecTest>, String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with('#'))
        .collect();
    let mut tests = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut test = SpecTest::default();
        let (name, skip) = lines[i].split_once('#').unwrap_or((lines[i], ""));
        test.name = name.trim().to_string();
        test.disabled = test.name.ends_with("-Ignore") || skip.contains("skip:-9.99.99");
        i += 1;
        while i < lines.len() && is_directive(lines[i]) {
            i += 1;
        }
        let mut query = Vec::new();
        loop {
            let Some(line) = lines.get(i) else {
                return Err(format!("{}: the query does not end in `;`", test.name));
            };
            i += 1;
            if line.ends_with(';') && !line.ends_with("\\;") {
                query.push(&line[..line.len() - 1]);
                break;
            }
            query.push(line);
        }
        test.query = query.join("\n");
        let mut header = None;
        while let Some(line) = lines.get(i) {
            i += 1;
            if let Some(w) = line.strip_prefix("warning:") {
                test.warnings.push(w.trim().to_string());
            } else if let Some(w) = line.strip_prefix("warningRegex:") {
                test.warning_regexes.push(w.trim().to_string());
            } else if let Some(v) = line.strip_prefix("ignoreOrder:") {
                test.ignore_order = v.trim() == "true";
            } else if line.starts_with(';') {
                break;
            } else if header.is_none() {
                header = Some(*line);
            } else {
                test.rows.push(split_cells(line));
            }
        }
        let header = header.ok_or_else(|| format!("{}: no expected table", test.name))?;
        for cell in header.split('|') {
            let cell = cell.trim();
            let (name, ty) = cell
                .rsplit_once(':')
                .ok_or_else(|| format!("{}: bad header cell `{cell}`", test.name))?;
            test.header
                .push((name.trim().to_string(), ty.trim().to_string()));
        }
        tests.push(test);
    }
    Ok(tests)
}

/// A result row: cells split on `|` outside `[...]` and outside double quotes.
fn split_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let (mut quoted, mut depth) = (false, 0u32);
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth = depth.saturating_sub(1),
            '|' if !quoted && depth == 0 => {
                cells.push(cell.trim().to_string());
                cell.clear();
                continue;
            }
            _ => {}
        }
        cell.push(ch);
    }
    cells.push(cell.trim().to_string());
    cells
}

// ---------------------------------------------------------------- datasets

/// The mapping type of a CSV column as Elasticsearch stores it, which decides how values
/// read back (precision of `float`s, order and uniqueness of multi-values).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stored {
    Keyword,
    Text,
    Ip,
    Version,
    Long,
    Integer,
    UnsignedLong,
    Double,
    Float,
    HalfFloat,
    ScaledFloat(f64),
    Boolean,
    Date,
}

impl Stored {
    fn parse(ty: &str, scaling: Option<f64>) -> Result<Stored, String> {
        Ok(match ty {
            "keyword" | "constant_keyword" | "wildcard" => Stored::Keyword,
            "text" | "match_only_text" => Stored::Text,
            "ip" => Stored::Ip,
            "version" => Stored::Version,
            "long" => Stored::Long,
            "integer" | "short" | "byte" => Stored::Integer,
            "unsigned_long" => Stored::UnsignedLong,
            "double" => Stored::Double,
            "float" => Stored::Float,
            "half_float" => Stored::HalfFloat,
            "scaled_float" => Stored::ScaledFloat(scaling.unwrap_or(100.0)),
            "boolean" => Stored::Boolean,
            "date" | "datetime" => Stored::Date,
            other => return Err(format!("unsupported data type `{other}`")),
        })
    }

    fn esql(self) -> EsqlType {
        match self {
            Stored::Keyword => EsqlType::Keyword,
            Stored::Text => EsqlType::Text,
            Stored::Ip => EsqlType::Ip,
            Stored::Version => EsqlType::Version,
            Stored::Long => EsqlType::Long,
            Stored::Integer => EsqlType::Integer,
            Stored::UnsignedLong => EsqlType::UnsignedLong,
            Stored::Double | Stored::Float | Stored::HalfFloat | Stored::ScaledFloat(_) => {
                EsqlType::Double
            }
            Stored::Boolean => EsqlType::Boolean,
            Stored::Date => EsqlType::Date,
        }
    }

    /// One CSV value as the field's doc values return it.
    fn value(self, text: &str) -> Result<Val, String> {
        let bad = || format!("`{text}` is not a valid {self:?}");
        Ok(match self {
            Stored::Keyword | Stored::Text | Stored::Version => Val::Str(text.to_string()),
            Stored::Ip => Val::Str(functions::ip_text(text).ok_or_else(bad)?),
            Stored::Long => Val::Long(text.parse().map_err(|_| bad())?),
            Stored::Integer => Val::Int(text.parse().map_err(|_| bad())?),
            Stored::UnsignedLong => Val::ULong(text.parse().map_err(|_| bad())?),
            Stored::Double => Val::Double(text.parse().map_err(|_| bad())?),
            Stored::Float => Val::Double(f64::from(text.parse::<f32>().map_err(|_| bad())?)),
            Stored::HalfFloat => Val::Double(half_float(text.parse().map_err(|_| bad())?)),
            // `ScaledFloatFieldMapper`: stored as `Math.round(value * factor)`, read back as
            // `stored / factor` (the newest keep.csv-spec and rename.csv-spec read 1.63 back
            // as 1.63).
            Stored::ScaledFloat(factor) => {
                let v: f64 = text.parse().map_err(|_| bad())?;
                Val::Double((v * factor).round() / factor)
            }
            Stored::Boolean => Val::Bool(match text {
                "true" => true,
                "false" => false,
                _ => return Err(bad()),
            }),
            Stored::Date => Val::Date(parse_instant(text).ok_or_else(bad)?),
        })
    }
}

/// The value a `half_float` field reads back: rounded to the nearest IEEE binary16 value
/// (round half to even), as Lucene's `HalfFloatPoint` stores it.
fn half_float(v: f32) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return f64::from(v);
    }
    let exp = v.abs().log2().floor() as i32;
    // binary16: 10 fraction bits; subnormals below 2^-14 share the 2^-24 step.
    let step = 2f64.powi(exp.max(-14) - 10);
    let scaled = f64::from(v) / step;
    let rounded = scaled.round();
    let rounded = if (scaled - scaled.trunc()).abs() == 0.5 {
        2.0 * (scaled / 2.0).round()
    } else {
        rounded
    };
    f64::from((rounded * step) as f32)
}

fn parse_instant(text: &str) -> Option<i64> {
    dates::parse_iso(text)
}

struct Dataset {
    /// Columns sorted by name, as Elasticsearch's field caps list a mapping's fields.
    columns: Vec<(String, Stored)>,
    rows: Vec<Vec<Mv>>,
}

/// `CsvTestsDataLoader.loadCsvData`, with the dataset's type overrides (`null` removes a field).
fn load_dataset(
    path: &Path,
    overrides: &serde_json::Map<String, serde_json::Value>,
    scaling: &HashMap<String, f64>,
) -> Result<Dataset, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"));
    let header = lines.next().ok_or("empty data file")?;
    let mut columns: Vec<Option<(String, Stored)>> = Vec::new();
    for cell in header.split(',') {
        let (name, ty) = cell
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("bad header cell `{cell}`"))?;
        let (name, ty) = (name.trim().to_string(), ty.trim());
        let column = match overrides.get(&name) {
            Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(t)) => {
                Some((name.clone(), Stored::parse(t, scaling.get(&name).copied())?))
            }
            _ => Some((
                name.clone(),
                Stored::parse(ty, scaling.get(&name).copied())?,
            )),
        };
        columns.push(column);
    }
    let mut rows = Vec::new();
    for line in lines {
        let cells = split_data_line(line);
        if cells.len() != columns.len() {
            return Err(format!(
                "row has {} cells, header {}: {line}",
                cells.len(),
                columns.len()
            ));
        }
        let mut row = Vec::new();
        for (cell, column) in cells.iter().zip(&columns) {
            let Some((_, stored)) = column else { continue };
            row.push(cell_values(cell, *stored)?);
        }
        rows.push(row);
    }
    let kept: Vec<(String, Stored)> = columns.into_iter().flatten().collect();
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by(|&a, &b| kept[a].0.cmp(&kept[b].0));
    Ok(Dataset {
        columns: order.iter().map(|&i| kept[i].clone()).collect(),
        rows: rows
            .into_iter()
            .map(|r| order.iter().map(|&i| r[i].clone()).collect())
            .collect(),
    })
}

/// A data line split on commas outside `[...]` (a `\,` inside a multi-value is a comma).
fn split_data_line(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut depth = 0u32;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if chars.peek() == Some(&',') => {
                cell.push('\\');
                cell.push(',');
                chars.next();
                continue;
            }
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                cells.push(std::mem::take(&mut cell));
                continue;
            }
            _ => {}
        }
        cell.push(ch);
    }
    cells.push(cell);
    cells
}

/// One data cell: empty is null, `[a,b]` a multi-value, in the order doc values return it
/// (keywords and ips sorted and de-duplicated, numbers, dates and booleans sorted).
fn cell_values(cell: &str, stored: Stored) -> Result<Mv, String> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<String> = match cell.strip_prefix('[').and_then(|c| c.strip_suffix(']')) {
        // `[]`: a field with no values, as `CsvTestsDataLoader` indexes it.
        Some(inner) if inner.trim().is_empty() => return Ok(Vec::new()),
        Some(inner) => split_escaped(inner),
        None => vec![cell.replace("\\,", ",")],
    };
    let mut values = parts
        .iter()
        .map(|p| stored.value(p.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    match stored {
        // `text` is read from `_source`: as written.
        Stored::Text => {}
        Stored::Keyword | Stored::Version => {
            values.sort_by(|a, b| a.compare(b).unwrap_or(std::cmp::Ordering::Equal));
            values.dedup();
        }
        Stored::Ip => {
            values.sort_by_key(|v| ip_sort_key(v.as_str().unwrap_or_default()));
            values.dedup();
        }
        _ => values.sort_by(|a, b| a.compare(b).unwrap_or(std::cmp::Ordering::Equal)),
    }
    Ok(values)
}

/// An ip's doc-value order: its 16-byte IPv6 form (IPv4 mapped into `::ffff:0:0/96`).
fn ip_sort_key(ip: &str) -> [u8; 16] {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.to_ipv6_mapped().octets(),
        Ok(std::net::IpAddr::V6(v6)) => v6.octets(),
        Err(_) => [0; 16],
    }
}

fn split_escaped(inner: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '\\' && chars.peek() == Some(&',') {
            part.push(',');
            chars.next();
        } else if ch == ',' {
            parts.push(std::mem::take(&mut part));
        } else {
            part.push(ch);
        }
    }
    parts.push(part);
    parts
}

// ---------------------------------------------------------------- catalog

struct SpecCatalog {
    /// Index name -> dataset, for every dataset whose data file is present.
    datasets: BTreeMap<String, Arc<Dataset>>,
    aliases: HashMap<String, String>,
}

const METADATA_FIELDS: &[(&str, EsqlType)] = &[
    ("_id", EsqlType::Keyword),
    ("_index", EsqlType::Keyword),
    ("_version", EsqlType::Long),
    ("_score", EsqlType::Double),
    ("_ignored", EsqlType::Keyword),
    ("_source", EsqlType::Unsupported),
    ("_index_mode", EsqlType::Keyword),
];

impl SpecCatalog {
    fn load(root: &Path) -> Result<SpecCatalog, String> {
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("index-to-data.json")).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let mut datasets = BTreeMap::new();
        let empty = serde_json::Map::new();
        for d in json["datasets"]
            .as_array()
            .ok_or("index-to-data.json has no datasets")?
        {
            let index = d["index"].as_str().ok_or("dataset without index")?;
            let mapping = d["mapping"]
                .as_str()
                .filter(|_| d["mapping_present_here"] == serde_json::Value::Bool(true))
                .and_then(|m| {
                    let text = std::fs::read_to_string(root.join("mappings").join(m)).ok()?;
                    serde_json::from_str::<serde_json::Value>(&text).ok()
                });
            let mut set = match d["data"].as_str() {
                Some(data) if d["data_present_here"] == serde_json::Value::Bool(true) => {
                    let overrides = d["typeMapping"].as_object().unwrap_or(&empty);
                    let scaling = mapping.as_ref().map(scaling_factors).unwrap_or_default();
                    load_dataset(&root.join("data").join(data), overrides, &scaling)
                        .map_err(|e| format!("dataset {index} ({data}): {e}"))?
                }
                // `.noData()`: the index exists with its mapping and no documents.
                None => match &mapping {
                    Some(m) => Dataset {
                        columns: mapped_fields(m),
                        rows: Vec::new(),
                    },
                    None => continue,
                },
                _ => continue,
            };
            if let Some(mapping) = &mapping {
                add_constant_keywords(&mut set, mapping);
            }
            datasets.insert(index.to_string(), Arc::new(set));
        }
        let aliases = json["aliases"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(SpecCatalog { datasets, aliases })
    }

    /// The indices a `FROM` list names: names, aliases, wildcard patterns, `-exclusions`.
    fn resolve(&self, indices: &[IndexPattern]) -> Result<Vec<String>, String> {
        let mut chosen: Vec<String> = Vec::new();
        for pattern in indices {
            if pattern.cluster.is_some() || pattern.selector.is_some() {
                return Err(format!(
                    "remote clusters and selectors are not available: {}",
                    pattern.index
                ));
            }
            for part in pattern.index.split(',').map(str::trim) {
                if let Some(excluded) = part.strip_prefix('-') {
                    chosen.retain(|i| !wildcard_match(excluded, i));
                    continue;
                }
                let name = self.aliases.get(part).map(String::as_str).unwrap_or(part);
                let matched: Vec<&String> = self
                    .datasets
                    .keys()
                    .filter(|i| wildcard_match(name, i))
                    .collect();
                if matched.is_empty() && !part.contains('*') {
                    return Err(format!("Unknown index [{part}]"));
                }
                for m in matched {
                    if !chosen.contains(m) {
                        chosen.push(m.clone());
                    }
                }
            }
        }
        if chosen.is_empty() {
            return Err("Unknown index: the pattern matches no dataset".into());
        }
        Ok(chosen)
    }
}

/// The top-level fields of a mapping, sorted by name (an index without documents).
fn mapped_fields(mapping: &serde_json::Value) -> Vec<(String, Stored)> {
    let mut out: Vec<(String, Stored)> = mapping["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, f)| f["type"] != "constant_keyword")
        .filter_map(|(name, f)| {
            Some((name.clone(), Stored::parse(f["type"].as_str()?, None).ok()?))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The mapping's `constant_keyword` fields: not in the CSV, every document has the mapped
/// `value` (none when the mapping sets no value), as `stats_count_distinct.csv-spec` relies on.
fn add_constant_keywords(set: &mut Dataset, mapping: &serde_json::Value) {
    let Some(properties) = mapping["properties"].as_object() else {
        return;
    };
    for (name, field) in properties {
        if field["type"] != "constant_keyword" || set.columns.iter().any(|(c, _)| c == name) {
            continue;
        }
        let cell: Mv = field["value"]
            .as_str()
            .map(|v| vec![Val::Str(v.to_string())])
            .unwrap_or_default();
        let at = set.columns.partition_point(|(c, _)| c < name);
        set.columns.insert(at, (name.clone(), Stored::Keyword));
        for row in &mut set.rows {
            row.insert(at, cell.clone());
        }
    }
}

fn scaling_factors(json: &serde_json::Value) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    fn walk(prefix: &str, props: &serde_json::Value, out: &mut HashMap<String, f64>) {
        let Some(map) = props.as_object() else { return };
        for (name, field) in map {
            let full = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            if let Some(f) = field["scaling_factor"].as_f64() {
                out.insert(full.clone(), f);
            }
            walk(&full, &field["properties"], out);
            walk(&full, &field["fields"], out);
        }
    }
    walk("", &json["properties"], &mut out);
    out
}

impl dragnet_esql_exec::Catalog for SpecCatalog {
    fn table(
        &self,
        indices: &[IndexPattern],
        metadata: &[String],
    ) -> Result<Arc<CellTable>, String> {
        let names = self.resolve(indices)?;
        // The union of the indices' fields; one name mapped to two types is `unsupported`.
        let mut fields: BTreeMap<String, EsqlType> = BTreeMap::new();
        for name in &names {
            for (field, stored) in &self.datasets[name].columns {
                let ty = stored.esql();
                fields
                    .entry(field.clone())
                    .and_modify(|t| {
                        if *t != ty {
                            *t = EsqlType::Unsupported
                        }
                    })
                    .or_insert(ty);
            }
        }
        let mut columns: Vec<(String, EsqlType)> = fields.into_iter().collect();
        for m in metadata {
            let (_, ty) = METADATA_FIELDS
                .iter()
                .find(|(n, _)| n == m)
                .ok_or_else(|| format!("unsupported metadata field [{m}]"))?;
            columns.push((m.clone(), *ty));
        }
        let table = CellTable::new(columns.clone());
        let mut batches = Vec::new();
        for name in &names {
            let set = &self.datasets[name];
            // Conflicting (unsupported) fields read as null.
            let mut targets = Vec::new();
            let mut data_columns = Vec::new();
            for (j, (field, _)) in set.columns.iter().enumerate() {
                let i = table.index_of(field).expect("a field of the union");
                if columns[i].1 != EsqlType::Unsupported {
                    targets.push(i);
                    data_columns.push(j);
                }
            }
            targets.extend(
                metadata
                    .iter()
                    .map(|m| table.index_of(m).expect("a metadata column")),
            );
            let rows: Vec<Vec<Mv>> = set
                .rows
                .iter()
                .enumerate()
                .map(|(r, row)| {
                    let mut cells: Vec<Mv> = data_columns.iter().map(|&j| row[j].clone()).collect();
                    for m in metadata {
                        cells.push(match m.as_str() {
                            "_index" => vec![Val::Str(name.clone())],
                            "_id" => vec![Val::Str(format!("{name}-{r}"))],
                            "_version" => vec![Val::Long(1)],
                            "_score" => vec![Val::Double(0.0)],
                            _ => Vec::new(),
                        });
                    }
                    cells
                })
                .collect();
            batches.push(table.batch(&targets, &rows).map_err(|e| e.to_string())?);
        }
        table.set_batches(batches);
        Ok(Arc::new(table))
    }
}

// ---------------------------------------------------------------- comparison

/// A value in a form that compares as `CsvAssert` does: dates as instants, numbers by value.
fn canonical_actual(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Long(n) => n.to_string(),
        Val::Int(n) => n.to_string(),
        Val::ULong(n) => n.to_string(),
        Val::Double(d) => canonical_double(*d),
        Val::Bool(b) => b.to_string(),
        Val::Date(ms) => format!("instant {ms}"),
    }
}

fn canonical_double(d: f64) -> String {
    if d == 0.0 {
        "0.0".into()
    } else {
        format!("{d:?}")
    }
}

/// An expected cell's value in the canonical form of its column's type.
fn canonical_expected(text: &str, ty: &str) -> String {
    let t = text.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(t);
    match ty {
        "d" | "double" | "float" | "half_float" | "scaled_float" => match t {
            "NaN" => canonical_double(f64::NAN),
            "Infinity" => canonical_double(f64::INFINITY),
            "-Infinity" => canonical_double(f64::NEG_INFINITY),
            _ => t
                .parse::<f64>()
                .map(canonical_double)
                .unwrap_or_else(|_| t.to_string()),
        },
        "date" | "datetime" => parse_instant(t)
            .map(|ms| format!("instant {ms}"))
            .unwrap_or_else(|| t.to_string()),
        "i" | "integer" | "l" | "long" | "ul" | "unsigned_long" => t
            .parse::<i128>()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| t.to_string()),
        _ => t.to_string(),
    }
}

fn expected_cell(text: &str, ty: &str) -> Vec<String> {
    let t = text.trim();
    if t == "null" {
        return Vec::new();
    }
    match t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        Some(inner) => split_list(inner)
            .iter()
            .map(|e| canonical_expected(e, ty))
            .collect(),
        None => vec![canonical_expected(t, ty)],
    }
}

/// Multi-value elements split on commas outside double quotes.
fn split_list(inner: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut quoted = false;
    for ch in inner.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(std::mem::take(&mut part));
                continue;
            }
            _ => {}
        }
        part.push(ch);
    }
    parts.push(part);
    parts
}

/// The csv-spec type name of an ES|QL type (the header's abbreviations expanded).
fn expected_type(ty: &str) -> String {
    match ty {
        "i" | "int" => "integer",
        "l" => "long",
        "d" => "double",
        "s" | "k" | "string" => "keyword",
        "bool" | "b" => "boolean",
        "ul" => "unsigned_long",
        "date" | "datetime" | "dt" => "date",
        "v" => "version",
        other => other,
    }
    .to_string()
}

/// A warning as Elasticsearch's `HeaderWarning` encodes it in the response header.
fn header_encoded(warning: &str) -> String {
    warning.replace('\\', "\\\\").replace('"', "\\\"")
}

fn run_test(test: &SpecTest, catalog: &SpecCatalog, executor: &Executor) -> Result<(), String> {
    let parsed = dragnet_esql::parse(&test.query).map_err(|e| format!("parse error: {e}"))?;
    let warnings = Warnings::default();
    let options = Options {
        catalog,
        now_ms: NOW_MS,
        now_clock: None,
        default_limit: Some(IMPLICIT_LIMIT),
        warnings: warnings.clone(),
    };
    let compiled =
        compile(&parsed, &test.query, &options).map_err(|e| format!("compile error: {e}"))?;
    let result = executor
        .run(&compiled)
        .map_err(|e| format!("execution error: {e}"))?;

    let expected_columns: Vec<(String, String)> = test
        .header
        .iter()
        .map(|(n, t)| (n.clone(), expected_type(t)))
        .collect();
    let actual_columns: Vec<(String, String)> = result
        .columns
        .iter()
        .map(|(n, t)| (n.clone(), t.name().to_string()))
        .collect();
    if expected_columns != actual_columns {
        return Err(format!(
            "columns differ:\n  expected {expected_columns:?}\n  actual   {actual_columns:?}"
        ));
    }
    let mut expected_rows: Vec<Vec<Vec<String>>> = Vec::new();
    for row in &test.rows {
        if row.len() != test.header.len() {
            return Err(format!(
                "expected row has {} cells for {} columns: {row:?}",
                row.len(),
                test.header.len()
            ));
        }
        expected_rows.push(
            row.iter()
                .zip(&test.header)
                .map(|(c, (_, t))| expected_cell(c, t))
                .collect(),
        );
    }
    let mut actual_rows: Vec<Vec<Vec<String>>> = result
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| cell.iter().map(canonical_actual).collect())
                .collect()
        })
        .collect();
    if test.ignore_order {
        expected_rows.sort();
        actual_rows.sort();
    }
    if expected_rows != actual_rows {
        let first = expected_rows
            .iter()
            .zip(&actual_rows)
            .position(|(e, a)| e != a);
        let detail = match first {
            Some(i) => format!(
                "row {i}: expected {:?}, actual {:?}",
                expected_rows[i], actual_rows[i]
            ),
            None => String::new(),
        };
        return Err(format!(
            "rows differ ({} expected, {} actual) {detail}",
            expected_rows.len(),
            actual_rows.len()
        ));
    }

    let (lines, _) = warnings.lines();
    let mut actual: Vec<String> = lines.iter().map(|w| header_encoded(w)).collect();
    actual.sort();
    if test.warning_regexes.is_empty() {
        let mut expected = test.warnings.clone();
        expected.sort();
        if expected != actual {
            return Err(format!(
                "warnings differ:\n  expected {expected:?}\n  actual   {actual:?}"
            ));
        }
    } else {
        let regexes = test
            .warning_regexes
            .iter()
            .map(|r| {
                regex::Regex::new(&format!("^(?s:.*{r}.*)$"))
                    .map_err(|e| format!("bad warningRegex: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for w in &actual {
            if !regexes.iter().any(|r| r.is_match(w)) {
                return Err(format!("warning {w:?} matches no warningRegex"));
            }
        }
        for r in &regexes {
            if !actual.iter().any(|w| r.is_match(w)) {
                return Err(format!("no warning matches {r}"));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- the suite

/// Tests `test-counts.json` flags as needing a feature or dataset these fixtures leave out.
fn out_of_scope(root: &Path) -> HashMap<String, HashSet<String>> {
    let text = std::fs::read_to_string(root.join("test-counts.json")).expect("test-counts.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("test-counts.json is JSON");
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for (file, counts) in json.as_object().expect("an object per file") {
        let entry = out.entry(file.clone()).or_default();
        for t in counts["needs_out_of_scope_or_missing_data"]
            .as_array()
            .into_iter()
            .flatten()
        {
            entry.insert(t["test"].as_str().expect("test name").to_string());
        }
    }
    out
}

/// `file:test  reason` lines; `#` comments and blank lines skipped.
fn exclusions() -> BTreeMap<(String, String), String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/csv_spec_exclusions.txt");
    let text = std::fs::read_to_string(&path).expect("tests/csv_spec_exclusions.txt");
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (key, reason) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("no reason (two spaces, then why): {line}"));
        let (file, test) = key
            .split_once(':')
            .unwrap_or_else(|| panic!("not file:test: {line}"));
        let reason = reason.trim();
        assert!(!reason.is_empty(), "an exclusion needs a reason: {line}");
        let previous = out.insert((file.to_string(), test.to_string()), reason.to_string());
        assert!(previous.is_none(), "excluded twice: {key}");
    }
    out
}

#[test]
fn csv_spec_conformance() {
    let Some(root) = dragnet_testdata::shared("conformance/esql") else {
        return;
    };
    let catalog = SpecCatalog::load(&root).expect("datasets load");
    let executor = Executor::new(dragnet_esql_exec::DEFAULT_MEMORY_LIMIT).expect("executor");
    let scope = out_of_scope(&root);
    let excluded = exclusions();
    let only = std::env::var("CSV_SPEC_ONLY").ok();

    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("spec"))
        .expect("spec directory")
        .map(|e| e.expect("spec entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv-spec"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no csv-spec files");

    let mut failures = Vec::new();
    let mut stale = Vec::new();
    let mut seen_exclusions = HashSet::new();
    let mut table = String::from("file                            passed  in scope  total\n");
    let (mut all_passed, mut all_scope, mut all_total) = (0, 0, 0);
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).expect("spec file");
        let tests = parse_spec(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let flagged = scope.get(&file).cloned().unwrap_or_default();
        let (mut passed, mut in_scope) = (0, 0);
        for test in &tests {
            if test.disabled || flagged.contains(&test.name) {
                continue;
            }
            in_scope += 1;
            if only
                .as_ref()
                .is_some_and(|o| !format!("{file}:{}", test.name).contains(o.as_str()))
            {
                continue;
            }
            let key = (file.clone(), test.name.clone());
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_test(test, &catalog, &executor)
            }))
            .unwrap_or_else(|_| Err("panicked".to_string()));
            match (outcome, excluded.contains_key(&key)) {
                (Ok(()), false) => passed += 1,
                (Ok(()), true) => {
                    passed += 1;
                    stale.push(format!("{file}:{}", test.name));
                }
                (Err(e), is_excluded) => {
                    if is_excluded {
                        seen_exclusions.insert(key);
                    } else {
                        failures.push(format!(
                            "{file}:{}\n  query: {}\n  {e}",
                            test.name,
                            test.query.replace('\n', " ")
                        ));
                    }
                }
            }
        }
        table.push_str(&format!(
            "{file:<32}{passed:>6}  {in_scope:>8}  {:>5}\n",
            tests.len()
        ));
        all_passed += passed;
        all_scope += in_scope;
        all_total += tests.len();
    }
    table.push_str(&format!(
        "{:<32}{all_passed:>6}  {all_scope:>8}  {all_total:>5}\n",
        "total"
    ));
    println!("{table}");
    if only.is_none() {
        for key in excluded.keys() {
            if !seen_exclusions.contains(key) && !stale.contains(&format!("{}:{}", key.0, key.1)) {
                stale.push(format!("{}:{} (no such in-scope test)", key.0, key.1));
            }
        }
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(
        failures.is_empty() && stale.is_empty(),
        "{} in-scope csv-spec tests fail (see FAIL lines), {} exclusions are stale (remove them from tests/csv_spec_exclusions.txt): {stale:?}",
        failures.len(),
        stale.len()
    );
}
