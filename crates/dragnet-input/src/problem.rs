//! What went wrong with a piece of input, and where.

use std::fmt;
use std::sync::Arc;

/// Where a record starts in its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordLocation {
    /// 1-based line of the record's first byte (in the decompressed text).
    pub line: u64,
    /// 0-based slot of the record in its source: every element of a `Records`/`Events` array,
    /// of a top-level array and every JSON-lines value counts, including ones reported as
    /// problems, so the index names the same record across runs.
    pub index: u64,
    /// Byte offset of the record's first byte in the decompressed text.
    pub offset: u64,
}

impl fmt::Display for RecordLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, record {}, byte {}",
            self.line, self.index, self.offset
        )
    }
}

/// A limit on hostile input; each is raised by the named command-line flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Decompressed bytes per file ([`crate::InputOptions::max_decompressed_bytes`]).
    DecompressedBytes,
    /// Decompressed/compressed ratio ([`crate::InputOptions::max_compression_ratio`]).
    CompressionRatio,
    /// Bytes of one record or line ([`crate::InputOptions::max_record_bytes`]).
    RecordBytes,
    /// JSON nesting depth ([`crate::InputOptions::max_depth`]).
    JsonDepth,
    /// Files one folder walk finds ([`crate::InputOptions::max_files`]).
    FilesPerWalk,
}

impl Limit {
    /// The limit's name as reported to users.
    pub fn name(self) -> &'static str {
        match self {
            Limit::DecompressedBytes => "max-decompressed-bytes",
            Limit::CompressionRatio => "max-compression-ratio",
            Limit::RecordBytes => "max-record-bytes",
            Limit::JsonDepth => "max-json-depth",
            Limit::FilesPerWalk => "max-files",
        }
    }

    /// The command-line flag that raises it.
    pub fn flag(self) -> &'static str {
        match self {
            Limit::DecompressedBytes => "--max-decompressed-bytes",
            Limit::CompressionRatio => "--max-compression-ratio",
            Limit::RecordBytes => "--max-record-bytes",
            Limit::JsonDepth => "--max-json-depth",
            Limit::FilesPerWalk => "--max-files",
        }
    }
}

/// The kinds of problem input can have. None stops the run: the rest is still processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// Not JSON where a record was expected (broken line, unbalanced brackets, garbage between
    /// records). The record (or line) is skipped; inside an array framing goes on with the next
    /// element when the broken one's end can be found, else at the next line that starts a
    /// JSON value (the message says how many bytes were given up).
    Malformed,
    /// The input ended inside a record (cut file) or the gzip stream is cut or corrupt. Records
    /// framed before that point were delivered.
    Truncated,
    /// The record contains bytes that are not UTF-8: a note, not a loss. Each such byte was
    /// replaced by U+FFFD (as Filebeat and Elastic Agent index it) and the record delivered.
    NotUtf8,
    /// A record slot holds a number, string, array, `null` or boolean instead of an object.
    NotAnObject,
    /// A limit on hostile input was hit. What is skipped depends on the limit (see message).
    LimitExceeded { limit: Limit },
    /// The file (or one value in it) is not in any shape that carries CloudTrail records
    /// (licence, README, YAML, zip, an unrelated JSON document). Skipped, not an error.
    NotCloudTrail,
    /// The source could not be opened, listed or read.
    Io,
}

impl ProblemKind {
    /// Whether the record the problem is about was still delivered (with a repair the message
    /// describes), so it is not counted as skipped.
    pub fn keeps_record(&self) -> bool {
        matches!(self, ProblemKind::NotUtf8)
    }

    /// A short stable name, for summaries and JSON output.
    pub fn name(&self) -> &'static str {
        match self {
            ProblemKind::Malformed => "malformed",
            ProblemKind::Truncated => "truncated",
            ProblemKind::NotUtf8 => "not-utf8",
            ProblemKind::NotAnObject => "not-an-object",
            ProblemKind::LimitExceeded { .. } => "limit-exceeded",
            ProblemKind::NotCloudTrail => "not-cloudtrail",
            ProblemKind::Io => "io",
        }
    }
}

/// One problem with the input: where, what, and a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The source's display name (path, `-` for stdin, `s3://bucket/key`).
    pub source: Arc<str>,
    /// The record the problem is about; `None` for problems with the whole source.
    pub at: Option<RecordLocation>,
    pub kind: ProblemKind,
    pub message: String,
}

impl Problem {
    pub fn new(
        source: Arc<str>,
        at: Option<RecordLocation>,
        kind: ProblemKind,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            source,
            at,
            kind,
            message: message.into(),
        }
    }

    /// The problem the engine should report when a framed record fails its full JSON parse.
    pub fn malformed_record(
        source: Arc<str>,
        at: RecordLocation,
        parse_error: impl fmt::Display,
    ) -> Self {
        Problem::new(
            source,
            Some(at),
            ProblemKind::Malformed,
            format!("record is not valid JSON ({parse_error}); skipped"),
        )
    }
}

impl Problem {
    /// The problem the engine should report when a framed record nests deeper than
    /// `--max-json-depth` (`max`) allows (the framer's fast paths leave some depths to the
    /// parse).
    pub fn too_deep(source: Arc<str>, at: RecordLocation, max: usize) -> Self {
        Problem::new(
            source,
            Some(at),
            ProblemKind::LimitExceeded {
                limit: Limit::JsonDepth,
            },
            format!(
                "JSON nests deeper than {max} levels; skipped (raise it with {})",
                Limit::JsonDepth.flag()
            ),
        )
    }
}

/// Why [`crate::parse_json_within`] failed.
#[derive(Debug)]
pub enum JsonError {
    Syntax(serde_json::Error),
    /// Containers nest deeper than this (`--max-json-depth`).
    TooDeep(usize),
}

impl JsonError {
    /// The problem to report for the record at `at` of `source`.
    pub fn at(self, source: Arc<str>, at: RecordLocation) -> Problem {
        match self {
            JsonError::Syntax(e) => Problem::malformed_record(source, at, e),
            JsonError::TooDeep(max) => Problem::too_deep(source, at, max),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{}: {}: {}", self.source, at, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}
