//! Problems found while loading rules: severity, kind, message and where (file:line:col).

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::source::{Position, SourceFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// What went wrong, as a stable machine-readable code (`kind.as_str()`), for counting and
/// for `--format json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiagnosticKind {
    /// The file could not be read.
    Io,
    /// The TOML (or JSON line) does not parse.
    Syntax,
    /// A key the format requires is absent.
    MissingKey,
    /// A key holds a value of the wrong TOML/JSON type.
    WrongType,
    /// A value has the right type but is not allowed (enum, range, date, date-math, …).
    InvalidValue,
    /// A key the format does not define (a typo, or a newer format version).
    UnknownKey,
    /// Two rules in one loaded set share a `rule_id`.
    DuplicateRuleId,
    /// Two rules in one loaded set share a `name`.
    DuplicateName,
    /// Something allowed but suspicious (e.g. a `rule_id` that is not a UUID).
    Suspicious,
    /// A line of a Kibana export that is not a rule (exception list, connector, summary).
    SkippedEntry,
    /// A problem reported by a query-language checker (KQL, EQL, ES|QL).
    Query,
}

impl DiagnosticKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosticKind::Io => "io",
            DiagnosticKind::Syntax => "syntax",
            DiagnosticKind::MissingKey => "missing-key",
            DiagnosticKind::WrongType => "wrong-type",
            DiagnosticKind::InvalidValue => "invalid-value",
            DiagnosticKind::UnknownKey => "unknown-key",
            DiagnosticKind::DuplicateRuleId => "duplicate-rule-id",
            DiagnosticKind::DuplicateName => "duplicate-name",
            DiagnosticKind::Suspicious => "suspicious",
            DiagnosticKind::SkippedEntry => "skipped-entry",
            DiagnosticKind::Query => "query",
        }
    }
}

/// One problem. `span` is a byte range in `file`'s text when the problem has a place.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub kind: DiagnosticKind,
    pub message: String,
    pub file: Option<Arc<SourceFile>>,
    /// Path for problems without a loaded text (unreadable files).
    pub path: Option<std::path::PathBuf>,
    pub span: Option<Range<usize>>,
}

impl Diagnostic {
    pub fn new(
        severity: Severity,
        kind: DiagnosticKind,
        file: &Arc<SourceFile>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            kind,
            message: message.into(),
            file: Some(Arc::clone(file)),
            path: None,
            span: Some(span),
        }
    }

    pub fn error(
        kind: DiagnosticKind,
        file: &Arc<SourceFile>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, kind, file, span, message)
    }

    pub fn warning(
        kind: DiagnosticKind,
        file: &Arc<SourceFile>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, kind, file, span, message)
    }

    /// A problem with a path but no text (e.g. unreadable file).
    pub fn for_path(
        severity: Severity,
        kind: DiagnosticKind,
        path: &Path,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            kind,
            message: message.into(),
            file: None,
            path: Some(path.to_path_buf()),
            span: None,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The file path this problem is about.
    pub fn path(&self) -> Option<&Path> {
        self.file
            .as_ref()
            .map(|f| f.path())
            .or(self.path.as_deref())
    }

    /// Where the problem starts.
    pub fn position(&self) -> Option<Position> {
        let file = self.file.as_ref()?;
        Some(file.position(self.span.as_ref()?.start))
    }
}

/// `file:line:col: severity: message` (no snippet; see the CLI for rendering).
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = self.path() {
            write!(f, "{}", path.display())?;
            if let Some(pos) = self.position() {
                write!(f, ":{}:{}", pos.line, pos.column)?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}: {}", self.severity.as_str(), self.message)
    }
}
