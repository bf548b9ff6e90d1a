//! `dragnet normalize INPUT...`: raw CloudTrail records in, the ECS documents Elastic's AWS
//! integration pipeline (8.9.0) would index out, one JSON document per line.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::Context;
use dragnet_cloudtrail::{Mapper, MapperOptions};
use dragnet_event::FieldTable;
use dragnet_input::{Problem, RecordKind, discover, read_batches};

use crate::exit::Code;
use crate::output::{Format, GlobalArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files, folders, `-` for stdin or `s3://bucket/prefix`: `{"Records":[…]}` deliveries
    /// (`.json`/`.json.gz`), JSON arrays or JSON lines of records.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// MaxMind City database (GeoLite2-City.mmdb) for source.geo.*. Without it the GeoIP
    /// fields (source.geo.*) are absent from the output.
    #[arg(long, value_name = "MMDB")]
    pub geoip_db: Option<PathBuf>,
    /// MaxMind ASN database (GeoLite2-ASN.mmdb) for source.as.*. Without it the ASN fields
    /// (source.as.*) are absent from the output.
    #[arg(long, value_name = "MMDB")]
    pub asn_db: Option<PathBuf>,
    /// Keep each raw record in event.original, as the integration does by default.
    #[arg(long)]
    pub include_original: bool,
    /// Exit with 2 when any input or record had to be skipped.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub input: crate::output::InputArgs,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    // ECS documents, one per line, whatever the terminal: NDJSON is the only format.
    global.resolve_format("normalize", &[Format::Ndjson])?;
    let mapper = Mapper::bind(
        &FieldTable::new(),
        MapperOptions {
            geoip_db: args.geoip_db.clone(),
            asn_db: args.asn_db.clone(),
            include_original: args.include_original,
            ..MapperOptions::default()
        },
    )
    .context("cannot load the GeoIP databases")?;
    let input_options = args.input.options();
    let found = discover(&args.inputs, &input_options);
    let mut out = global.writer()?;
    let problems = std::cell::Cell::new(0u64);
    let report = |p: &dyn std::fmt::Display, quiet: bool| {
        if !quiet {
            eprintln!("warning: {p}");
        }
    };
    for p in &found.problems {
        problems.set(problems.get() + 1);
        report(p, global.quiet);
    }
    let (mut written, mut skipped) = (0u64, 0u64);
    let mut write_error: Option<std::io::Error> = None;
    for source in &found.sources {
        let stats = read_batches(
            source,
            &input_options,
            &mut |batch| {
                for (bytes, span) in batch.iter() {
                    let doc = match span.kind {
                        RecordKind::Ecs => serde_json::from_slice::<serde_json::Value>(bytes)
                            .map_err(|e| e.to_string()),
                        RecordKind::CloudTrail => mapper
                            .map(bytes)
                            .map(|ev| ev.to_ecs())
                            .map_err(|e| e.to_string()),
                    };
                    match doc {
                        Ok(doc) => {
                            let line = serde_json::to_string(&doc).expect("JSON values serialise");
                            if let Err(e) = writeln!(out, "{line}") {
                                write_error = Some(e);
                                return ControlFlow::Break(());
                            }
                            written += 1;
                        }
                        Err(reason) => {
                            skipped += 1;
                            problems.set(problems.get() + 1);
                            let p = Problem::malformed_record(
                                batch.source.clone(),
                                span.location,
                                reason,
                            );
                            report(&p, global.quiet);
                        }
                    }
                }
                ControlFlow::Continue(())
            },
            &mut |p| {
                problems.set(problems.get() + 1);
                report(&p, global.quiet);
            },
        );
        skipped += stats.skipped_records;
        if write_error.is_some() {
            break;
        }
    }
    if let Some(e) = write_error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(Code::Ok);
        }
        return Err(e).context("cannot write the output");
    }
    out.flush().context("cannot write the output")?;
    if !global.quiet {
        eprintln!(
            "normalize: {written} documents written, {skipped} records skipped, {} problems, from {} inputs",
            problems.get(),
            found.sources.len()
        );
    }
    Ok(if written == 0 || (args.strict && problems.get() > 0) {
        Code::Usage
    } else {
        Code::Ok
    })
}
