//! One module per subcommand: each defines its clap `Args` and a `run` returning an exit code.

pub mod version;
