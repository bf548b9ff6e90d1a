//! `dragnet-bench`: generate deterministic CloudTrail (`gen`), profile real trails (`profile`),
//! and time a serde_json parse-only baseline (`parse-only`) for `benches/hunt-bench.sh`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use dragnet_bench::generator::{Format, TrailProfile, generate_with};
use dragnet_bench::profile::{self, Profile};
use dragnet_bench::size::parse_size;

#[derive(Parser)]
#[command(
    name = "dragnet-bench",
    about = "Benchmark tooling for dragnet",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write deterministic synthetic CloudTrail (same arguments -> same bytes).
    Gen {
        /// Uncompressed output size, e.g. 2MB, 1GB, 10GB.
        #[arg(long, default_value = "1GB")]
        size: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// The kind of trail: its event mix and principals (see BENCHMARKS.md).
        #[arg(long, value_enum, default_value_t = TrailProfile::Default)]
        profile: TrailProfile,
        /// Also inject hits and near misses of the CloudTrail ES|QL rules (BENCHMARKS.md);
        /// their counts and expected alerts are printed as an `esql_cases {...}` line.
        #[arg(long)]
        esql_cases: bool,
        /// Output file (`-` for stdout).
        #[arg(long)]
        out: PathBuf,
        /// Real trail to print side by side with the generated mix (default: the invictus-ir
        /// dataset under ../shared, when present).
        #[arg(long)]
        compare: Option<PathBuf>,
    },
    /// Print eventName distribution, record sizes and JSON escape frequency of real trails.
    Profile {
        /// Files or folders (`.json`, `.jsonl`, `.gz`; `{"Records":[...]}`, a JSON array, or JSON lines).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Parse every line of a JSON-lines file into serde_json::Value and drop it (baseline).
    ParseOnly {
        file: PathBuf,
        #[arg(long, short = 'j', default_value_t = 2)]
        threads: usize,
    },
}

fn default_compare() -> Option<PathBuf> {
    let shared = std::env::var_os("DRAGNET_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let p = shared.join("datasets/cloudtrail/invictus-ir-aws_dataset/CloudTrail");
    p.exists().then_some(p)
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Gen {
            size,
            seed,
            format,
            profile: trail,
            esql_cases,
            out,
            compare,
        } => {
            let size = parse_size(&size).map_err(|e| e.to_string())?;
            let started = Instant::now();
            let open_err = |e: std::io::Error| format!("{}: {e}", out.display());
            let file: Box<dyn Write> = if out.as_os_str() == "-" {
                Box::new(std::io::stdout().lock())
            } else {
                Box::new(File::create(&out).map_err(open_err)?)
            };
            let mut sink: Box<dyn Write> = match format {
                Format::RecordsGz => Box::new(flate2::write::GzEncoder::new(
                    BufWriter::with_capacity(1 << 20, file),
                    flate2::Compression::default(),
                )),
                _ => Box::new(BufWriter::with_capacity(1 << 20, file)),
            };
            let summary = generate_with(seed, size, format, trail, esql_cases, &mut sink)
                .map_err(open_err)?;
            drop(sink);
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "generated {} records, {} bytes (uncompressed) in {:.2}s ({:.0} MB/s), seed {seed}, format {format:?}, profile {}",
                summary.records,
                summary.bytes_written,
                secs,
                summary.bytes_written as f64 / 1e6 / secs,
                trail.name()
            );
            let reference = compare.or_else(default_compare);
            let reference_profile: Option<Profile> = match &reference {
                Some(p) => match profile::profile_paths(std::slice::from_ref(p)) {
                    Ok((prof, _)) => Some(prof),
                    Err(e) => {
                        eprintln!("warning: cannot profile comparison trail: {e}");
                        None
                    }
                },
                None => {
                    eprintln!(
                        "note: invictus-ir dataset not found; pass --compare PATH to compare"
                    );
                    None
                }
            };
            let mut columns = vec![("generated", &summary.profile)];
            if let Some(r) = &reference_profile {
                columns.push(("invictus-ir", r));
            }
            eprint!("{}", profile::render(&columns));
            eprintln!("{}", summary.injected_line());
            if esql_cases {
                eprintln!("{}", summary.esql_line());
            }
            Ok(())
        }
        Command::Profile { paths } => {
            let (prof, skipped) = profile::profile_paths(&paths).map_err(|e| e.to_string())?;
            print!("{}", profile::render(&[("profile", &prof)]));
            if skipped > 0 {
                eprintln!("skipped {skipped} records that were not JSON objects");
            }
            if prof.records == 0 {
                return Err(
                    "no records found: give .json/.jsonl/.gz CloudTrail files or folders".into(),
                );
            }
            Ok(())
        }
        Command::ParseOnly { file, threads } => {
            let started = Instant::now();
            let f = File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let stats = dragnet_bench::parse_only::parse_lines(f, threads)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "parsed {} lines ({} invalid), {} bytes in {:.2}s ({:.0} MB/s, {threads} threads)",
                stats.lines,
                stats.invalid,
                stats.bytes,
                secs,
                stats.bytes as f64 / 1e6 / secs
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
