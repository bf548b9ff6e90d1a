//! The input side every command that reads CloudTrail shares (`hunt`, `kql`, `eql`,
//! `normalize`): the flags that say how to read (S3 endpoint, limits on hostile input, GeoIP and
//! ASN databases) and one way to report what could not be read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dragnet_input::{Problem, ProblemKind};
use serde_json::{Value, json};

use crate::output::GlobalArgs;

/// How inputs are read: `s3://` endpoint and the limits on hostile input.
#[derive(clap::Args, Debug, Clone)]
pub struct ReadArgs {
    /// S3 endpoint for s3:// inputs (S3-compatible stores, LocalStack).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    #[command(flatten)]
    pub limits: crate::output::InputArgs,
}

impl ReadArgs {
    /// The input options these flags set (the rest default).
    pub fn options(&self) -> dragnet_input::InputOptions {
        dragnet_input::InputOptions {
            endpoint_url: self.endpoint_url.clone(),
            ..self.limits.options()
        }
    }
}

/// Enrichment databases, as Elastic's AWS integration applies them to `source.ip`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EnrichArgs {
    /// MaxMind City database (GeoLite2-City.mmdb) for source.geo.*. Without it the GeoIP
    /// fields (source.geo.*) are absent, and rules that read them are accounted as unsupported.
    #[arg(long, value_name = "MMDB")]
    pub geoip_db: Option<PathBuf>,
    /// MaxMind ASN database (GeoLite2-ASN.mmdb) for source.as.*. Without it the ASN fields
    /// (source.as.*) are absent, and rules that read them are accounted as unsupported.
    #[arg(long, value_name = "MMDB")]
    pub asn_db: Option<PathBuf>,
}

impl EnrichArgs {
    /// The CloudTrail mapper's options with these databases.
    pub fn mapper_options(&self) -> dragnet_cloudtrail::MapperOptions {
        dragnet_cloudtrail::MapperOptions {
            geoip_db: self.geoip_db.clone(),
            asn_db: self.asn_db.clone(),
            ..Default::default()
        }
    }
}

/// `file:line: record N: message` (or `file: message` for a whole source).
pub fn describe_problem(p: &Problem) -> String {
    match &p.at {
        Some(at) => format!(
            "{}:{}: record {}: {}",
            p.source, at.line, at.index, p.message
        ),
        None => format!("{}: {}", p.source, p.message),
    }
}

/// A problem as `--format json` lists it.
pub fn problem_json(p: &Problem) -> Value {
    json!({
        "source": &*p.source,
        "line": p.at.map(|a| a.line),
        "record": p.at.map(|a| a.index),
        "kind": p.kind.name(),
        "message": p.message,
    })
}

/// Whether `p` is about an input named on the command line that could not be opened or read
/// at all (not about a file found inside a folder, nor about one record).
pub fn is_named_input_error(p: &Problem, inputs: &[String]) -> bool {
    p.kind == ProblemKind::Io && p.at.is_none() && inputs.iter().any(|i| *i == *p.source)
}

/// The problems about inputs named on the command line that could not be read: an error
/// whatever `-q` says, reported after everything else ([`report_named_errors`]), exit 2.
pub fn named_input_errors<'p>(problems: &'p [Problem], inputs: &[String]) -> Vec<&'p Problem> {
    problems
        .iter()
        .filter(|p| is_named_input_error(p, inputs))
        .collect()
}

/// Reports the named inputs that could not be read (even under `--quiet`).
pub fn report_named_errors(errors: &[&Problem]) {
    for p in errors {
        diag!("error: {}", describe_problem(p));
    }
}

/// Whether any problem is input that had to be skipped (files that are not CloudTrail at all,
/// like a README in a folder, are not: they are noted, not broken).
pub fn any_skipped(problems: &[Problem]) -> bool {
    problems.iter().any(dragnet_engine::is_skipped_input)
}

/// Reports input problems on stderr, in input order: each broken record or unreadable file
/// as a warning with its place; files (and values) that are not CloudTrail as one note per
/// kind with their count, each one listed under `-v`. Nothing under `--quiet`. Inputs named
/// on the command line that cannot be read are left to [`report_named_errors`].
pub fn report_problems(global: &GlobalArgs, problems: &[Problem], named: &[String]) {
    if global.quiet {
        return;
    }
    // Kinds of "not CloudTrail", in order of first appearance: (whole file?, message).
    let mut kinds: BTreeMap<(bool, String), (usize, Vec<&Problem>)> = BTreeMap::new();
    let mut first_seen = 0usize;
    for p in problems.iter().filter(|p| !is_named_input_error(p, named)) {
        if p.kind == ProblemKind::NotCloudTrail && global.verbose == 0 {
            let key = (p.at.is_none(), not_cloudtrail_kind(&p.message));
            let entry = kinds.entry(key).or_insert_with(|| {
                first_seen += 1;
                (first_seen, Vec::new())
            });
            entry.1.push(p);
            continue;
        }
        let level = if p.kind == ProblemKind::NotCloudTrail {
            "note"
        } else {
            "warning"
        };
        diag!("{level}: {}", describe_problem(p));
    }
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort_by_key(|(_, (order, _))| *order);
    for ((whole_file, kind), (_, found)) in kinds {
        if let [one] = found.as_slice() {
            diag!("note: {}", describe_problem(one));
            continue;
        }
        let what = if whole_file { "files" } else { "records" };
        let examples: Vec<&str> = found.iter().take(3).map(|p| &*p.source).collect();
        let more = if found.len() > examples.len() {
            ", …"
        } else {
            ""
        };
        diag!(
            "note: {} {what} skipped, not CloudTrail: {kind} ({}{more}; -v lists each)",
            group_digits(found.len() as u64),
            examples.join(", ")
        );
    }
}

/// The kind of a "not CloudTrail" message: the message without the file-specific part.
fn not_cloudtrail_kind(message: &str) -> String {
    let m = message.strip_prefix("skipped: ").unwrap_or(message);
    let m = m.strip_suffix("; skipped").unwrap_or(m);
    // EventBridge events name their detail-type: one kind whatever the type.
    match m.find(" (detail-type ") {
        Some(i) => format!("{}{}", &m[..i], m[i..].split_once(')').map_or("", |x| x.1)),
        None => m.to_string(),
    }
}

/// `1526` -> `1,526`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `-j/--threads N` as the run will use it: above [`dragnet_engine::max_threads`] (four per
/// core, at most 256) it is clamped, with a warning naming the flag (issue 16: `-j 100000`
/// spent minutes starting threads for a 2-record input).
pub fn worker_threads(requested: Option<usize>, quiet: bool) -> Option<usize> {
    let max = dragnet_engine::max_threads();
    match requested {
        Some(n) if n > max => {
            if !quiet {
                diag!(
                    "warning: -j/--threads {n} clamped to {max} (at most 4 per core, {} at most)",
                    dragnet_engine::MAX_THREADS
                );
            }
            Some(max)
        }
        other => other,
    }
}

/// What an ad-hoc query's one-rule run over the command's inputs gave (`kql`, `eql`, `esql`).
pub struct AdHocRun {
    pub output: dragnet_engine::RunOutput,
    /// Inputs that could not be found, read or framed, then the run's own problems.
    pub problems: Vec<Problem>,
}

/// Runs `rule` (the ad-hoc query as a rule) over `inputs`: the query cannot run → its reason
/// on stderr and `Err(Code::Usage)`. Every record's structure is checked (`Validation::Full`:
/// a search is for testing queries, so a broken record is reported even when the query could
/// not match it); the run's warnings and the problems are reported on stderr.
pub fn run_ad_hoc(
    global: &GlobalArgs,
    rule: &dragnet_rules::Rule,
    schema: &dragnet_schema::Schema,
    enrich: &EnrichArgs,
    read: &ReadArgs,
    inputs: &[String],
    options: &dragnet_engine::RunOptions,
) -> anyhow::Result<Result<AdHocRun, crate::exit::Code>> {
    use anyhow::Context as _;
    let engine = dragnet_engine::Engine::compile_with_schema(
        std::slice::from_ref(rule),
        &dragnet_engine::Selection::default(),
        enrich.mapper_options(),
        &dragnet_engine::Extras::default(),
        schema,
    )
    .context("cannot load the --geoip-db/--asn-db database; give a MaxMind .mmdb file")?;
    if let Some(reason) = engine.reports()[0].status.reason() {
        diag!("error: the query cannot run: {reason}");
        return Ok(Err(crate::exit::Code::Usage));
    }
    let input_options = dragnet_input::InputOptions {
        validate: dragnet_input::Validation::Full,
        ..read.options()
    };
    let discovered = dragnet_input::discover(inputs, &input_options);
    let output = engine.run(
        discovered.sources,
        &input_options,
        options,
        &dragnet_engine::Progress::default(),
    );
    if !global.quiet {
        for w in &output.warnings {
            diag!("warning: {w}");
        }
    }
    let mut problems = discovered.problems;
    problems.extend(output.problems.iter().cloned());
    report_problems(global, &problems, inputs);
    Ok(Ok(AdHocRun { output, problems }))
}

/// The exit code of an ad-hoc query command once its results are written: unreadable named
/// inputs (each reported here, after the results), nothing read, or `--strict` with a skipped
/// record → 2.
pub fn ad_hoc_exit(run: &AdHocRun, inputs: &[String], strict: bool) -> crate::exit::Code {
    let named_unreadable = named_input_errors(&run.problems, inputs);
    report_named_errors(&named_unreadable);
    let stats = &run.output.stats;
    if !named_unreadable.is_empty()
        || (stats.records_read == 0 && !run.problems.is_empty())
        || stats.files == 0
    {
        return crate::exit::Code::Usage;
    }
    if strict && any_skipped(&run.problems) {
        diag!("error: --strict: some input was skipped (see warnings above)");
        return crate::exit::Code::Usage;
    }
    crate::exit::Code::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped_by_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_526), "1,526");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }

    #[test]
    fn not_cloudtrail_kinds_drop_what_is_specific() {
        assert_eq!(
            not_cloudtrail_kind("skipped: not JSON: does not start with '{' or '['"),
            "not JSON: does not start with '{' or '['"
        );
        assert_eq!(
            not_cloudtrail_kind(
                "EventBridge event (detail-type \"Scheduled Event\") carries no CloudTrail record; skipped"
            ),
            "EventBridge event carries no CloudTrail record"
        );
    }
}
