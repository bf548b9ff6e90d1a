//! Options every command shares (format, output file, verbosity, colour, table width), the
//! format and writer they select, and input limits. Writing results is `dragnet-printer`'s.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
pub use dragnet_printer::Format;

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
