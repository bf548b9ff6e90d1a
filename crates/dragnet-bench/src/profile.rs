//! Measures a CloudTrail corpus: eventName / eventSource / identity mix, record size
//! percentiles (raw bytes as delivered) and JSON escape frequency, so the generator can be
//! compared against real trails.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::BenchError;

/// The JSON escapes counted, in report order (the character after the backslash).
pub const ESCAPE_KINDS: [u8; 9] = [b'"', b'\\', b'/', b'b', b'f', b'n', b'r', b't', b'u'];
const SIZE_BUCKET: u64 = 8;
const SIZE_BUCKETS: usize = 16_384; // exact to 8 bytes up to 128 KiB; larger land in the last

/// What the profile needs to know about one record besides its bytes.
pub struct RecordFacts<'a> {
    pub event_name: &'a str,
    pub event_source: &'a str,
    pub identity_type: &'a str,
    pub read_only: bool,
    pub error: bool,
}

/// Running statistics over records; memory is bounded by the number of distinct names.
pub struct Profile {
    pub records: u64,
    pub bytes: u64,
    pub event_names: HashMap<String, u64>,
    pub event_sources: HashMap<String, u64>,
    pub identity_types: HashMap<String, u64>,
    pub read_only: u64,
    pub errors: u64,
    pub escapes: [u64; ESCAPE_KINDS.len()],
    pub records_with_escape: u64,
    size_hist: Vec<u64>,
    max_size: u64,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            records: 0,
            bytes: 0,
            event_names: HashMap::new(),
            event_sources: HashMap::new(),
            identity_types: HashMap::new(),
            read_only: 0,
            errors: 0,
            escapes: [0; ESCAPE_KINDS.len()],
            records_with_escape: 0,
            size_hist: vec![0; SIZE_BUCKETS],
            max_size: 0,
        }
    }
}

fn bump(map: &mut HashMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}

/// Counts escapes by kind in raw JSON bytes; returns the total.
pub fn count_escapes(raw: &[u8], counts: &mut [u64; ESCAPE_KINDS.len()]) -> u64 {
    let mut total = 0;
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'\\', &raw[i..]) {
        let at = i + off;
        let Some(&kind) = raw.get(at + 1) else { break };
        if let Some(k) = ESCAPE_KINDS.iter().position(|&e| e == kind) {
            counts[k] += 1;
            total += 1;
        }
        i = at + if kind == b'u' { 6 } else { 2 };
        if i >= raw.len() {
            break;
        }
    }
    total
}

impl Profile {
    pub fn observe(&mut self, facts: &RecordFacts<'_>, raw: &[u8]) {
        self.records += 1;
        let size = raw.len() as u64;
        self.bytes += size;
        self.max_size = self.max_size.max(size);
        let bucket = ((size / SIZE_BUCKET) as usize).min(SIZE_BUCKETS - 1);
        self.size_hist[bucket] += 1;
        bump(&mut self.event_names, facts.event_name);
        bump(&mut self.event_sources, facts.event_source);
        bump(&mut self.identity_types, facts.identity_type);
        self.read_only += facts.read_only as u64;
        self.errors += facts.error as u64;
        if count_escapes(raw, &mut self.escapes) > 0 {
            self.records_with_escape += 1;
        }
    }

    /// Size (bytes) at percentile `p` in 0..=100, to 8-byte resolution.
    pub fn size_percentile(&self, p: f64) -> u64 {
        if self.records == 0 {
            return 0;
        }
        let target = ((p / 100.0) * self.records as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.size_hist.iter().enumerate() {
            seen += n;
            if seen >= target {
                return ((i as u64 + 1) * SIZE_BUCKET - 1).min(self.max_size);
            }
        }
        self.max_size
    }

    pub fn mean_size(&self) -> f64 {
        self.bytes as f64 / self.records.max(1) as f64
    }

    fn pct(&self, n: u64) -> f64 {
        100.0 * n as f64 / self.records.max(1) as f64
    }
}

fn top(map: &HashMap<String, u64>, n: usize) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = map.iter().map(|(k, &c)| (k.as_str(), c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.truncate(n);
    v
}

/// Share of event names starting with Describe/List/Get (the read-heavy core of real trails).
fn read_prefix_share(p: &Profile) -> f64 {
    let n: u64 = p
        .event_names
        .iter()
        .filter(|(k, _)| {
            ["Describe", "List", "Get"]
                .iter()
                .any(|pre| k.starts_with(pre))
        })
        .map(|(_, c)| c)
        .sum();
    p.pct(n)
}

/// Renders one profile, or two side by side (`columns` = (label, profile) pairs).
pub fn render(columns: &[(&str, &Profile)]) -> String {
    let mut out = String::new();
    let w = 44;
    let line = |out: &mut String, label: &str, cells: Vec<String>| {
        let _ = write!(out, "{label:<26}");
        for c in cells {
            let _ = write!(out, "{c:<w$}");
        }
        out.push('\n');
    };
    line(
        &mut out,
        "",
        columns.iter().map(|(l, _)| format!("[{l}]")).collect(),
    );
    line(
        &mut out,
        "records / bytes",
        columns
            .iter()
            .map(|(_, p)| format!("{} / {}", p.records, p.bytes))
            .collect(),
    );
    line(
        &mut out,
        "size p10/p50/p90/p99/max",
        columns
            .iter()
            .map(|(_, p)| {
                format!(
                    "{}/{}/{}/{}/{}",
                    p.size_percentile(10.0),
                    p.size_percentile(50.0),
                    p.size_percentile(90.0),
                    p.size_percentile(99.0),
                    p.max_size
                )
            })
            .collect(),
    );
    line(
        &mut out,
        "size mean",
        columns
            .iter()
            .map(|(_, p)| format!("{:.0}", p.mean_size()))
            .collect(),
    );
    line(
        &mut out,
        "records with any escape",
        columns
            .iter()
            .map(|(_, p)| format!("{:.2}%", p.pct(p.records_with_escape)))
            .collect(),
    );
    for (k, kind) in ESCAPE_KINDS.iter().enumerate() {
        let label = format!("  \\{} per 1000 records", *kind as char);
        line(
            &mut out,
            &label,
            columns
                .iter()
                .map(|(_, p)| {
                    format!(
                        "{:.2}",
                        1000.0 * p.escapes[k] as f64 / p.records.max(1) as f64
                    )
                })
                .collect(),
        );
    }
    line(
        &mut out,
        "readOnly / errorCode",
        columns
            .iter()
            .map(|(_, p)| format!("{:.1}% / {:.1}%", p.pct(p.read_only), p.pct(p.errors)))
            .collect(),
    );
    line(
        &mut out,
        "Describe*/List*/Get*",
        columns
            .iter()
            .map(|(_, p)| format!("{:.1}%", read_prefix_share(p)))
            .collect(),
    );
    line(
        &mut out,
        "distinct eventNames",
        columns
            .iter()
            .map(|(_, p)| p.event_names.len().to_string())
            .collect(),
    );
    let ranked = |title: &str,
                  n: usize,
                  get: &dyn Fn(&Profile) -> &HashMap<String, u64>,
                  out: &mut String| {
        let lists: Vec<Vec<(&str, u64)>> = columns.iter().map(|(_, p)| top(get(p), n)).collect();
        for i in 0..n {
            let label = if i == 0 {
                title.to_string()
            } else {
                String::new()
            };
            let cells = lists
                .iter()
                .zip(columns)
                .map(|(l, (_, p))| match l.get(i) {
                    Some((name, c)) => format!("{:>2}. {name} {:.1}%", i + 1, p.pct(*c)),
                    None => String::new(),
                })
                .collect();
            line(out, &label, cells);
        }
    };
    ranked("userIdentity.type", 5, &|p| &p.identity_types, &mut out);
    ranked("eventSource (top 10)", 10, &|p| &p.event_sources, &mut out);
    ranked("eventName (top 20)", 20, &|p| &p.event_names, &mut out);
    out
}

#[derive(Deserialize)]
struct RecordsFile<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FactsJson {
    event_name: Option<String>,
    event_source: Option<String>,
    user_identity: Option<IdentityJson>,
    read_only: Option<serde_json::Value>,
    error_code: Option<serde_json::Value>,
    error_message: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct IdentityJson {
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn present(v: &Option<serde_json::Value>) -> bool {
    match v {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// `raw` without whitespace outside strings: pretty-printed exports are measured at the size
/// CloudTrail delivers them (compact), escapes untouched.
pub fn minify(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !raw
        .iter()
        .any(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
    {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in raw {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !b.is_ascii_whitespace() {
            in_string = b == b'"';
            out.push(b);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Parses one raw record and adds it; returns false when it is not a JSON object.
fn observe_raw(profile: &mut Profile, raw: &[u8]) -> bool {
    let raw = &*minify(raw);
    let Ok(f) = serde_json::from_slice::<FactsJson>(raw) else {
        return false;
    };
    let read_only = match &f.read_only {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s == "true",
        _ => false,
    };
    let identity = f.user_identity.and_then(|i| i.kind);
    profile.observe(
        &RecordFacts {
            event_name: f.event_name.as_deref().unwrap_or("(none)"),
            event_source: f.event_source.as_deref().unwrap_or("(none)"),
            identity_type: identity.as_deref().unwrap_or("(none)"),
            read_only,
            error: present(&f.error_code) || present(&f.error_message),
        },
        raw,
    );
    true
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), BenchError> {
    let io = |source| BenchError::Io {
        path: path.display().to_string(),
        source,
    };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        for e in entries {
            collect_files(&e, out)?;
        }
    } else {
        let name = path.to_string_lossy();
        if name.ends_with(".json") || name.ends_with(".gz") || name.ends_with(".jsonl") {
            out.push(path.to_path_buf());
        }
    }
    Ok(())
}

/// Profiles files and folders (searched recursively for `.json`, `.jsonl`, `.gz`). Each file is
/// `{"Records":[...]}`, a JSON array of records, or JSON lines, optionally gzipped. Returns the profile and the number of
/// records that were not JSON objects (skipped, counted).
pub fn profile_paths(paths: &[PathBuf]) -> Result<(Profile, u64), BenchError> {
    let mut files = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(BenchError::Io {
                path: p.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            });
        }
        collect_files(p, &mut files)?;
    }
    let mut profile = Profile::default();
    let mut skipped = 0;
    for file in &files {
        skipped += profile_file(file, &mut profile)?;
    }
    Ok((profile, skipped))
}

fn profile_file(path: &Path, profile: &mut Profile) -> Result<u64, BenchError> {
    let io = |source| BenchError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let gz = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn BufRead> = if gz {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    };
    let head = reader.fill_buf().map_err(io)?;
    let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let is_array = first == Some(b'[');
    let is_records = first == Some(b'{') && {
        let start = head.iter().position(|b| *b == b'{').unwrap_or(0);
        let rest = &head[start + 1..];
        let key = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
        rest[key..].starts_with(b"\"Records\"")
    };
    let mut skipped = 0;
    if is_array {
        let mut buf = Vec::new();
        reader.read_to_end(&mut buf).map_err(io)?;
        let parsed: Vec<&RawValue> =
            serde_json::from_slice(&buf).map_err(|e| BenchError::Format {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        for r in parsed {
            if !observe_raw(profile, r.get().as_bytes()) {
                skipped += 1;
            }
        }
    } else if is_records {
        let mut buf = Vec::new();
        reader.read_to_end(&mut buf).map_err(io)?;
        let parsed: RecordsFile<'_> =
            serde_json::from_slice(&buf).map_err(|e| BenchError::Format {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        for r in parsed.records {
            if !observe_raw(profile, r.get().as_bytes()) {
                skipped += 1;
            }
        }
    } else {
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(io)? == 0 {
                break;
            }
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            if !observe_raw(profile, trimmed) {
                skipped += 1;
            }
        }
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_by_kind() {
        let mut c = [0; ESCAPE_KINDS.len()];
        let n = count_escapes(br#"{"a":"x\"y\\z\/\u0026\n"}"#, &mut c);
        assert_eq!(n, 5);
        assert_eq!(c[0], 1); // \"
        assert_eq!(c[1], 1); // \\ (the z after it is not an escape)
        assert_eq!(c[2], 1); // \/
        assert_eq!(c[5], 1); // \n
        assert_eq!(c[8], 1); // \u
    }

    #[test]
    fn minify_keeps_strings() {
        let pretty = b"{\n  \"a b\": \"x \\\" y\",\n  \"c\": [1, 2]\n}";
        assert_eq!(&*minify(pretty), br#"{"a b":"x \" y","c":[1,2]}"#);
    }

    #[test]
    fn percentiles_from_histogram() {
        let mut p = Profile::default();
        let facts = RecordFacts {
            event_name: "GetUser",
            event_source: "iam.amazonaws.com",
            identity_type: "IAMUser",
            read_only: true,
            error: false,
        };
        for size in [100usize, 200, 300, 400, 1000] {
            p.observe(&facts, &vec![b'x'; size]);
        }
        assert_eq!(p.size_percentile(50.0), 303); // bucket 296..=303 holds 300
        assert_eq!(p.size_percentile(100.0), 1000);
        assert_eq!(p.records, 5);
        assert_eq!(p.event_names["GetUser"], 5);
    }
}
