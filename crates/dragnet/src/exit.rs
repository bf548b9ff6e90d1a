//! Exit codes, as `conventions.md` sets them, and the quiet end on a closed pipe.

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

/// Whether `err` comes from writing to a closed pipe (stdout or stderr): the reader went away,
/// which ends the command quietly with exit 0.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}

/// `print!`/`eprint!` panic when their stream is a closed pipe (Rust ignores SIGPIPE, so the
/// write fails with EPIPE instead of killing the process). Make that panic, on any thread, end
/// the process quietly with exit 0 instead of exit 101 and a panic message; every other panic
/// is reported as before.
pub fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let broken_pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe).to_string();
        if payload.starts_with("failed printing to std")
            && (payload.contains("os error 32") || payload.contains(&broken_pipe))
        {
            // Exiting skips destructors: a half-written --output must not stay behind.
            let _held = crate::output::remove_pending_output();
            std::process::exit(Code::Ok as i32);
        }
        default(info);
    }));
}
