//! One module per subcommand: each defines its clap `Args` and a `run` returning an exit code.
//! Shared by several: `inputs` (how CloudTrail is read and its problems reported),
//! `rule_filter` (which rules), `accounting` (what happened to each rule).

pub mod accounting;
pub mod eql;
pub mod esql;
pub mod hunt;
pub mod hunt_costs;
pub mod hunt_extras;
pub mod hunt_output;
pub mod inputs;
pub mod kql;
pub mod normalize;
pub mod query_check;
pub mod rule_filter;
pub mod rules;
pub mod search;
pub mod validate;
pub mod version;
