//! `dragnet normalize INPUT...`: raw CloudTrail records in, the ECS documents Elastic's AWS
//! integration pipeline (8.9.0) would index out, one JSON document per line.

use std::io::Write;
use std::ops::ControlFlow;

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
    #[command(flatten)]
    pub enrich: crate::cmd::inputs::EnrichArgs,
    /// Keep each raw record in event.original, as the integration does by default.
    #[arg(long)]
    pub include_original: bool,
    /// Exit with 2 when any input or record had to be skipped.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub read: crate::cmd::inputs::ReadArgs,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    // Records are mapped on this thread, recursively: past what the main thread's stack holds,
    // a thread with a stack to match `--max-json-depth` does the work (as hunt's workers).
    match dragnet_engine::stack_for_depth(args.read.options().max_depth) {
        None => normalize(global, args),
        Some(stack) => std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .stack_size(stack)
                .spawn_scoped(scope, || normalize(global, args))
                .context("cannot start a thread with the stack --max-json-depth needs")?;
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
    }
}

fn normalize(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    // ECS documents, one per line, whatever the terminal: NDJSON is the only format.
    global.resolve_format("normalize", &[Format::Ndjson])?;
    let mapper = Mapper::bind(
        &FieldTable::new(),
        MapperOptions {
            include_original: args.include_original,
            ..args.enrich.mapper_options()
        },
    )
    .context("cannot load the --geoip-db/--asn-db database; give a MaxMind .mmdb file")?;
    let input_options = args.read.options();
    let found = discover(&args.inputs, &input_options);
    let mut out = global.writer()?;
    // Every problem, in input order, reported once the inputs are read (as hunt reports them).
    let problems: std::cell::RefCell<Vec<Problem>> = std::cell::RefCell::new(found.problems);
    let (mut written, mut skipped) = (0u64, 0u64);
    let mut write_error: Option<std::io::Error> = None;
    for source in &found.sources {
        let stats = read_batches(
            source,
            &input_options,
            &mut |batch| {
                for (bytes, span) in batch.iter() {
                    let doc = match span.kind {
                        // The one nesting limit, `--max-json-depth`, as hunt applies it.
                        RecordKind::Ecs => {
                            dragnet_input::parse_json_within(bytes, input_options.max_depth)
                                .map_err(|e| e.at(batch.source.clone(), span.location))
                        }
                        RecordKind::CloudTrail => mapper
                            .map_within(bytes, input_options.max_depth)
                            .map(|ev| ev.to_ecs())
                            .map_err(|e| match e {
                                dragnet_cloudtrail::RecordError::TooDeep(max) => {
                                    Problem::too_deep(batch.source.clone(), span.location, max)
                                }
                                e => Problem::malformed_record(
                                    batch.source.clone(),
                                    span.location,
                                    e,
                                ),
                            }),
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
                        Err(problem) => {
                            skipped += 1;
                            problems.borrow_mut().push(problem);
                        }
                    }
                }
                ControlFlow::Continue(())
            },
            &mut |p| problems.borrow_mut().push(p),
        );
        skipped += stats.skipped_records;
        if write_error.is_some() {
            break;
        }
    }
    let problems = problems.into_inner();
    // Inputs named on the command line that cannot be read: errors after the rest, exit 2.
    let named_unreadable = crate::cmd::inputs::named_input_errors(&problems, &args.inputs);
    crate::cmd::inputs::report_problems(global, &problems, &args.inputs);
    if let Some(e) = write_error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(Code::Ok);
        }
        return Err(e).context("cannot write the output");
    }
    out.finish().context("cannot write the output")?;
    if !global.quiet {
        diag!(
            "normalize: {written} documents written, {skipped} records skipped, {} problems, from {} inputs",
            problems.len(),
            found.sources.len()
        );
    }
    crate::cmd::inputs::report_named_errors(&named_unreadable);
    let skipped_input = crate::cmd::inputs::any_skipped(&problems);
    Ok(
        if written == 0 || !named_unreadable.is_empty() || (args.strict && skipped_input) {
            Code::Usage
        } else {
            Code::Ok
        },
    )
}
