//! One module per subcommand: each defines its clap `Args` and a `run` returning an exit code.

pub mod eql;
pub mod hunt;
pub mod hunt_extras;
pub mod hunt_output;
pub mod kql;
pub mod normalize;
pub mod query_check;
pub mod rules;
pub mod validate;
pub mod version;
