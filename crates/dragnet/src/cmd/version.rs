//! `dragnet version`: the version and the Elastic versions whose behaviour dragnet reproduces.

use std::io::Write;

use crate::exit::Code;
use crate::output::{Format, GlobalArgs};

pub const SHORT: &str = env!("CARGO_PKG_VERSION");

/// What dragnet targets, as the README states it.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nrule semantics: Elastic Security detection engine, elastic/detection-rules @ 14cf530f (2026-08-21)",
    "\ncloudtrail mapping: Elastic AWS integration 8.9.0 ingest pipeline (elastic/integrations @ 8149d6c9)",
    "\nfield types: ECS flat schema + AWS integration field definitions (compiled in)"
);

/// `dragnet version` takes no options of its own: the global `-v/--verbose` adds the Elastic
/// versions dragnet reproduces (a command-level `--verbose` would clash with the global one).
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(global: &GlobalArgs, _args: Args) -> anyhow::Result<Code> {
    // Plain text only: `--format json` is an error, not silently ignored.
    global.resolve_format("version", &[Format::Table])?;
    let mut out = global.writer()?;
    if global.verbose > 0 {
        writeln!(out, "dragnet {LONG}")?;
    } else {
        writeln!(out, "dragnet {SHORT}")?;
    }
    out.finish()?;
    Ok(Code::Ok)
}
