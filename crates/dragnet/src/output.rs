//! Options every command shares (format, output file, verbosity, colour, table width), the
//! format and writer they select, and input limits. Writing results is `dragnet-printer`'s.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once};

use clap::{Args, ValueEnum};
pub use dragnet_printer::Format;
use dragnet_printer::{Newlines, escape_controls};

/// `eprintln!` for every diagnostic the CLI prints: the message is formatted, then every
/// control character and bidi control in it is shown escaped (`\x1b`, `\u{202e}`;
/// line feeds and tabs kept) by `dragnet_printer::escape_controls`, so a path, a rule name or
/// text from a record cannot act on the terminal. `tests/output_safety.rs` keeps raw
/// `eprintln!` out of the CLI.
macro_rules! diag {
    ($($arg:tt)*) => {
        $crate::output::print_diag(format_args!($($arg)*))
    };
}

/// Prints one diagnostic line on stderr, escaped (see [`diag!`]).
pub fn print_diag(message: fmt::Arguments<'_>) {
    let text = message.to_string();
    eprintln!("{}", escape_controls(&text, Newlines::Keep));
}

/// `path` for a message: control characters and bidi controls escaped, line feeds too.
pub fn show_path(path: &Path) -> String {
    escape_controls(&path.display().to_string(), Newlines::Escape).into_owned()
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Output format (default: from --output's extension, else table on a terminal and
    /// ndjson when piped).
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
    /// When to use colour on stderr and in tables (auto: on a terminal, unless NO_COLOR is set).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Fit tables to N columns (default: COLUMNS, else the terminal's width). For tests.
    #[arg(long, global = true, value_name = "N", hide = true)]
    pub width: Option<usize>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl GlobalArgs {
    /// The format to write results in, resolved in one place (`dragnet_printer::resolve`):
    /// `--format`, else `--output`'s extension, else a table on a terminal and NDJSON when
    /// piped. A format `command` cannot write (`supported`) is an error.
    pub fn resolve_format(&self, command: &str, supported: &[Format]) -> anyhow::Result<Format> {
        Ok(dragnet_printer::resolve(dragnet_printer::Request {
            command,
            format: self.format,
            output: self.output.as_deref(),
            terminal: self.output.is_none() && io::stdout().is_terminal(),
            supported,
        })?)
    }

    /// How wide tables may be: `--width`, else `COLUMNS`, else the terminal's width when
    /// results go to one; `None` (no limit) for files and pipes.
    pub fn table_width(&self) -> Option<usize> {
        if let Some(w) = self.width {
            return Some(w);
        }
        if let Some(w) = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&w| w > 0)
        {
            return Some(w);
        }
        if self.output.is_none() && io::stdout().is_terminal() {
            return terminal_size::terminal_size_of(io::stdout())
                .map(|(terminal_size::Width(w), _)| usize::from(w));
        }
        None
    }

    /// Table layout for results: fitted to [`Self::table_width`], coloured when stdout is.
    pub fn table_options(&self, wide: bool) -> dragnet_printer::TableOptions {
        dragnet_printer::TableOptions {
            width: self.table_width(),
            color: self.color_stdout(),
            wide,
        }
    }

    /// Where results go: `--output FILE` or stdout, buffered. A file is written whole or not
    /// at all: see [`Output`]; call [`Output::finish`] once everything is written.
    pub fn writer(&self) -> anyhow::Result<Output> {
        match &self.output {
            Some(path) => Output::file(path),
            None => Ok(Output(Some(Sink::Stdout(BufWriter::new(
                io::stdout().lock(),
            ))))),
        }
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

/// Where a command's results go: stdout, or the `--output` file written atomically. The file's
/// content goes to a temporary file in the same folder (so the final rename stays on one file
/// system) and replaces FILE only in [`Output::finish`], once everything is written, flushed
/// and synced: an error or an interrupt (Ctrl-C, SIGTERM, SIGHUP) leaves FILE as it was and no
/// temporary file behind. The new FILE keeps an existing FILE's permissions (else the usual
/// ones for a new file: 0666 less the umask). A FILE that is not a regular file (`/dev/null`,
/// a FIFO, `/dev/stdout`) is written directly, as is FILE when no temporary file can be
/// created beside it (a folder the user cannot write in).
pub struct Output(Option<Sink>);

enum Sink {
    Stdout(BufWriter<io::StdoutLock<'static>>),
    Direct(BufWriter<File>),
    Atomic {
        temp: BufWriter<tempfile::NamedTempFile>,
        target: PathBuf,
    },
}

/// The temporary output file being written, for the interrupt handler to remove. The lock is
/// held across the rename in [`Output::finish`], so an interrupt sees either the temporary
/// file (removes it; FILE untouched) or none (FILE complete).
static PENDING: Mutex<Option<PathBuf>> = Mutex::new(None);

fn pending() -> MutexGuard<'static, Option<PathBuf>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes the temporary output file, if one is being written (for ways out of the process
/// that skip destructors: an interrupt, the quiet exit on a closed pipe). The lock stays held
/// until the process exits, so no rename can follow.
pub fn remove_pending_output() -> MutexGuard<'static, Option<PathBuf>> {
    let mut guard = pending();
    if let Some(path) = guard.take() {
        let _ = std::fs::remove_file(path);
    }
    guard
}

/// On Ctrl-C (SIGINT) and, with `ctrlc`'s `termination` feature, SIGTERM and SIGHUP: remove the
/// temporary output file and exit 130 (128 + SIGINT, as shells report an interrupted command).
/// Installed only while an output file is written, so other runs keep the default handling.
///
/// `ctrlc` rather than `signal-hook`: all this needs is one handler, run on its own thread
/// (where removing a file and exiting are safe, unlike inside a signal handler), for Ctrl-C
/// on Unix and Windows alike; `ctrlc` is exactly that, and this workspace denies `unsafe`.
fn clean_up_on_interrupt() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let _held = remove_pending_output();
            std::process::exit(130);
        });
        if let Err(e) = installed {
            diag!("warning: cannot handle Ctrl-C ({e}); an interrupted run may leave a temporary file beside --output");
        }
    });
}

impl Output {
    fn file(path: &Path) -> anyhow::Result<Output> {
        let cannot =
            |e: io::Error| anyhow::anyhow!("cannot create output file {}: {e}", show_path(path));
        // Follow a symbolic link, so the file it points to is replaced, not the link.
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let existing = std::fs::metadata(&target).ok();
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            return Ok(Output(Some(Sink::Direct(BufWriter::new(
                File::create(&target).map_err(cannot)?,
            )))));
        }
        if existing.is_some() {
            // A file the user may not write (read-only) stays an error, as when it was
            // written in place: the rename alone would replace it. Opened, not truncated.
            std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(cannot)?;
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        clean_up_on_interrupt();
        let mut guard = pending();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = match builder.tempfile_in(&dir) {
            Ok(t) => t,
            Err(_) => {
                return Ok(Output(Some(Sink::Direct(BufWriter::new(
                    File::create(&target).map_err(cannot)?,
                )))));
            }
        };
        if let Some(m) = &existing {
            let _ = temp.as_file().set_permissions(m.permissions());
        }
        *guard = Some(temp.path().to_path_buf());
        Ok(Output(Some(Sink::Atomic {
            temp: BufWriter::new(temp),
            target,
        })))
    }

    /// Completes the output: flushes it and, for `--output FILE`, syncs the temporary file and
    /// renames it over FILE. Not calling it (an error on the way) leaves FILE as it was.
    pub fn finish(mut self) -> anyhow::Result<()> {
        match self.0.take() {
            None => {}
            Some(Sink::Stdout(mut w)) => w.flush()?,
            Some(Sink::Direct(mut w)) => w.flush()?,
            Some(Sink::Atomic { temp, target }) => {
                let cannot = |e: io::Error| {
                    // The temporary file is gone with its handle: forget it.
                    *pending() = None;
                    anyhow::anyhow!("cannot write output file {}: {e}", show_path(&target))
                };
                let temp = temp.into_inner().map_err(|e| cannot(e.into_error()))?;
                temp.as_file().sync_all().map_err(cannot)?;
                test_hook_hold_before_rename();
                let mut guard = pending();
                let result = temp.persist(&target);
                *guard = None;
                drop(guard);
                result.map_err(|e| cannot(e.error))?;
            }
        }
        Ok(())
    }
}

/// For the interrupt test only (`tests/output_safety.rs`): with `DRAGNET_TEST_HOLD_OUTPUT` set,
/// the complete output waits in its temporary file for that many milliseconds before the
/// rename, after saying so on stderr, so the test can interrupt the run at that point.
fn test_hook_hold_before_rename() {
    if let Some(ms) = std::env::var_os("DRAGNET_TEST_HOLD_OUTPUT")
        .and_then(|v| v.to_str().and_then(|v| v.parse::<u64>().ok()))
    {
        diag!("test hook: output written, holding before the rename");
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Not finished: the temporary file removes itself; forget it.
        if let Some(Sink::Atomic { temp, .. }) = &self.0 {
            let mut guard = pending();
            if guard.as_deref() == Some(temp.get_ref().path()) {
                *guard = None;
            }
        }
    }
}

impl Output {
    fn sink(&mut self) -> &mut dyn Write {
        match &mut self.0 {
            Some(Sink::Stdout(w)) => w,
            Some(Sink::Direct(w)) => w,
            Some(Sink::Atomic { temp, .. }) => temp,
            // Only `finish` empties it, and it takes the output.
            None => unreachable!("output written after finish"),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.sink().write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink().flush()
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
    /// Most files one folder walk may find; past it the walk stops, with a warning
    #[arg(long, value_name = "N", default_value_t = dragnet_input::MAX_FILES)]
    pub max_files: usize,
}

impl InputArgs {
    /// The input options these flags set (the rest default).
    pub fn options(&self) -> dragnet_input::InputOptions {
        dragnet_input::InputOptions {
            max_record_bytes: usize::try_from(self.max_record_bytes).unwrap_or(usize::MAX),
            max_depth: self.max_json_depth,
            max_decompressed_bytes: self.max_decompressed_bytes,
            max_compression_ratio: self.max_compression_ratio,
            max_files: self.max_files,
            ..Default::default()
        }
    }
}

/// Limits on query text (rules' queries and the query of `kql`/`eql`), for the commands that
/// parse queries; each message about one names its flag ([`dragnet_query::limits`]).
#[derive(Args, Debug, Clone)]
pub struct QueryLimitArgs {
    /// Largest query text, in bytes (suffixes K, M, G) [default: 4M]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_query_bytes: Option<u64>,
    /// Deepest nesting of a query (parentheses, `not`, function calls) [default: 256 for KQL,
    /// 64 for EQL]
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=dragnet_query::limits::MAX_QUERY_DEPTH_CEILING as u64))]
    pub max_query_depth: Option<u64>,
    /// Most bytes one regular expression may compile to (suffixes K, M, G) [default: 4M]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_regex_bytes: Option<u64>,
}

impl QueryLimitArgs {
    /// Sets the process's query limits; call before any query is parsed.
    pub fn apply(&self) {
        let size = |v: Option<u64>| v.map(|v| usize::try_from(v).unwrap_or(usize::MAX));
        dragnet_query::limits::set(dragnet_query::limits::QueryLimits {
            max_query_bytes: size(self.max_query_bytes),
            max_query_depth: size(self.max_query_depth),
            max_regex_bytes: size(self.max_regex_bytes),
        });
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
