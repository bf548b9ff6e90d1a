//! Which format a command writes: `--format`, else the `--output` file's extension, else a
//! table on a terminal and NDJSON when piped. The one place that decides it.

use std::fmt;
use std::path::{Path, PathBuf};

/// A result format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON document: the results and, where the command has one, a summary.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// RFC 4180 CSV with a header record.
    Csv,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Table, Format::Json, Format::Ndjson, Format::Csv];

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an output file's extension asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extension {
    /// A format this crate writes.
    Format(Format),
    /// `.html` / `.md`: a document some commands may produce, none of the result formats.
    Document(&'static str),
}

/// The format an output file's name asks for (`.csv`, `.json`, `.jsonl`/`.ndjson`; `.html`
/// and `.md` are documents), case-insensitively; `None` for any other name.
pub fn format_of_extension(path: &Path) -> Option<Extension> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "csv" => Extension::Format(Format::Csv),
        "json" => Extension::Format(Format::Json),
        "jsonl" | "ndjson" => Extension::Format(Format::Ndjson),
        "html" => Extension::Document("html"),
        "md" => Extension::Document("md"),
        _ => return None,
    })
}

/// Why no format could be chosen. Every message says what to do instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// `--output` names a file whose extension maps to no format, and `--format` is absent.
    UnknownExtension { path: PathBuf },
    /// The command cannot write the format asked for (by `--format` or by the extension).
    Unsupported {
        command: String,
        format: String,
        /// Where the request came from: `--format` or the output file name.
        asked_by: String,
        supported: Vec<Format>,
    },
}

fn list(formats: &[Format]) -> String {
    let names: Vec<&str> = formats.iter().map(|f| f.name()).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn extensions(formats: &[Format]) -> String {
    let mut exts = Vec::new();
    for f in formats {
        match f {
            Format::Csv => exts.push(".csv"),
            Format::Json => exts.push(".json"),
            Format::Ndjson => exts.extend([".ndjson", ".jsonl"]),
            Format::Table => {}
        }
    }
    exts.join(", ")
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::UnknownExtension { path } => write!(
                f,
                "cannot tell the output format from the name {}: end it in .csv, .json, .ndjson or .jsonl, or give --format",
                path.display()
            ),
            FormatError::Unsupported {
                command,
                format,
                asked_by,
                supported,
            } => {
                write!(
                    f,
                    "`{command}` cannot write {format} (asked for by {asked_by}); use --format {}",
                    list(supported)
                )?;
                let exts = extensions(supported);
                if asked_by != "--format" && !exts.is_empty() {
                    write!(f, ", or name the output file {exts}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for FormatError {}

/// What one command asks of [`resolve`].
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The command's name, for messages (`hunt`, `rules show`).
    pub command: &'a str,
    /// `--format`, when given.
    pub format: Option<Format>,
    /// `--output`, when given.
    pub output: Option<&'a Path>,
    /// Whether results go to a terminal (stdout is one and there is no `--output`).
    pub terminal: bool,
    /// The formats the command writes; the first is its choice when neither a table nor
    /// NDJSON is, and nothing was asked for.
    pub supported: &'a [Format],
}

/// The format to write: `--format`, else the `--output` file's extension (another extension
/// is an error), else a table on a terminal and NDJSON when piped (or the command's first
/// format when it writes neither). A format the command cannot write is an error, never
/// silently replaced.
pub fn resolve(req: Request<'_>) -> Result<Format, FormatError> {
    let unsupported = |format: &str, asked_by: String| FormatError::Unsupported {
        command: req.command.to_string(),
        format: format.to_string(),
        asked_by,
        supported: req.supported.to_vec(),
    };
    if let Some(f) = req.format {
        return if req.supported.contains(&f) {
            Ok(f)
        } else {
            Err(unsupported(f.name(), "--format".into()))
        };
    }
    if let Some(path) = req.output {
        let asked_by = format!("the output file name {}", path.display());
        return match format_of_extension(path) {
            Some(Extension::Format(f)) if req.supported.contains(&f) => Ok(f),
            Some(Extension::Format(f)) => Err(unsupported(f.name(), asked_by)),
            Some(Extension::Document(d)) => Err(unsupported(d, asked_by)),
            None => Err(FormatError::UnknownExtension {
                path: path.to_path_buf(),
            }),
        };
    }
    let preferred = if req.terminal {
        Format::Table
    } else {
        Format::Ndjson
    };
    if req.supported.contains(&preferred) {
        Ok(preferred)
    } else if let Some(&first) = req.supported.first() {
        Ok(first)
    } else {
        Err(unsupported(preferred.name(), "default".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(format: Option<Format>, output: Option<&'a Path>, terminal: bool) -> Request<'a> {
        Request {
            command: "hunt",
            format,
            output,
            terminal,
            supported: &Format::ALL,
        }
    }

    #[test]
    fn flag_then_extension_then_terminal() {
        let csv = Path::new("out/alerts.CSV");
        assert_eq!(resolve(req(None, Some(csv), false)), Ok(Format::Csv));
        assert_eq!(
            resolve(req(Some(Format::Json), Some(csv), false)),
            Ok(Format::Json)
        );
        for (name, f) in [
            ("a.json", Format::Json),
            ("a.jsonl", Format::Ndjson),
            ("a.ndjson", Format::Ndjson),
        ] {
            assert_eq!(resolve(req(None, Some(Path::new(name)), true)), Ok(f));
        }
        assert_eq!(resolve(req(None, None, true)), Ok(Format::Table));
        assert_eq!(resolve(req(None, None, false)), Ok(Format::Ndjson));
        // --format wins over any name, even one that maps to nothing.
        assert_eq!(
            resolve(req(Some(Format::Table), Some(Path::new("x.txt")), false)),
            Ok(Format::Table)
        );
    }

    #[test]
    fn unknown_and_unsupported_are_errors_that_say_what_to_do() {
        let err = resolve(req(None, Some(Path::new("x.txt")), false)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot tell the output format from the name x.txt: end it in .csv, .json, .ndjson or .jsonl, or give --format"
        );
        let no_ext = resolve(req(None, Some(Path::new("alerts")), false)).unwrap_err();
        assert!(matches!(no_ext, FormatError::UnknownExtension { .. }));

        let show = Request {
            command: "rules show",
            format: Some(Format::Csv),
            output: None,
            terminal: true,
            supported: &[Format::Table, Format::Json, Format::Ndjson],
        };
        assert_eq!(
            resolve(show).unwrap_err().to_string(),
            "`rules show` cannot write csv (asked for by --format); use --format table, json or ndjson"
        );
        let by_name = Request {
            format: None,
            output: Some(Path::new("r.csv")),
            ..show
        };
        assert_eq!(
            resolve(by_name).unwrap_err().to_string(),
            "`rules show` cannot write csv (asked for by the output file name r.csv); use --format table, json or ndjson, or name the output file .json, .ndjson, .jsonl"
        );
        let html = Request {
            output: Some(Path::new("r.html")),
            ..by_name
        };
        assert!(
            resolve(html)
                .unwrap_err()
                .to_string()
                .starts_with("`rules show` cannot write html")
        );
    }

    #[test]
    fn a_command_without_tables_falls_back_to_its_own_format_by_default() {
        let normalize = Request {
            command: "normalize",
            format: None,
            output: None,
            terminal: true,
            supported: &[Format::Ndjson],
        };
        assert_eq!(resolve(normalize), Ok(Format::Ndjson));
        assert!(
            resolve(Request {
                format: Some(Format::Table),
                ..normalize
            })
            .is_err()
        );
    }
}
