//! Exit codes, as `conventions.md` sets them.

use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// The command ran; warnings do not change this.
    Ok = 0,
    /// Findings the user asked to fail on (alerts with `--fail-on-alert`, invalid rules, …).
    Findings = 1,
    /// Usage error, unreadable configuration, or nothing at all could be processed.
    Usage = 2,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code as u8)
    }
}
