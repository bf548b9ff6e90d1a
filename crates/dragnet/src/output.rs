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

    /// Whether stderr diagnostics should be coloured.
    pub fn color_stderr(&self) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}
