//! `dragnet`: the command-line front end. Argument parsing, output formatting and exit codes
//! only; every capability lives in a library crate (see ARCHITECTURE.md).

// First, so its `diag!` macro is in scope in the modules below.
#[macro_use]
mod output;
mod cmd;
mod exit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run Elastic detection rules (KQL, EQL, …) over AWS CloudTrail logs, outside Elasticsearch.
#[derive(Parser, Debug)]
#[command(name = "dragnet", version = cmd::version::SHORT, long_version = cmd::version::LONG)]
struct Cli {
    #[command(flatten)]
    global: output::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the version and the Elastic versions dragnet reproduces.
    Version(cmd::version::Args),
    /// Run detection rules over CloudTrail logs and report alerts.
    Hunt(Box<cmd::hunt::Args>),
    /// Check rule files (TOML, Kibana NDJSON): every problem with file:line:col.
    Validate(cmd::validate::Args),
    /// List rules or show one (metadata, triage guide, Kibana JSON).
    Rules(cmd::rules::Args),
    /// Map raw CloudTrail records to the ECS documents Elastic's AWS integration would index.
    Normalize(cmd::normalize::Args),
    /// Evaluate a KQL query over ECS documents or CloudTrail records (--explain, --to-dsl).
    Kql(cmd::kql::Args),
    /// Evaluate an EQL query (event or sequence) over ECS documents or CloudTrail records.
    Eql(cmd::eql::Args),
    /// Run an ES|QL query over CloudTrail records or ECS documents (on Apache DataFusion).
    Esql(cmd::esql::Args),
}

fn main() -> ExitCode {
    exit::quiet_on_closed_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version(args) => cmd::version::run(&cli.global, args),
        Command::Hunt(args) => cmd::hunt::run(&cli.global, *args),
        Command::Validate(args) => cmd::validate::run(&cli.global, args),
        Command::Rules(args) => cmd::rules::run(&cli.global, args),
        Command::Normalize(args) => cmd::normalize::run(&cli.global, args),
        Command::Kql(args) => cmd::kql::run(&cli.global, args),
        Command::Eql(args) => cmd::eql::run(&cli.global, args),
        Command::Esql(args) => cmd::esql::run(&cli.global, args),
    };
    match result {
        Ok(code) => code.into(),
        // A closed pipe (`dragnet hunt … | head -1`) ends the command quietly, successfully.
        Err(err) if exit::is_closed_pipe(&err) => exit::Code::Ok.into(),
        Err(err) => {
            diag!("error: {err:#}");
            exit::Code::Usage.into()
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks (clashing argument names, like a command-level `--verbose`
    /// beside the global `-v`), which otherwise only run in debug builds on first use.
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
