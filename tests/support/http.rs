//! What the `http` subcommand's tests share: running it, and reading its answers.

use std::ffi::OsStr;
use std::process::Output;
use std::time::Duration;

use super::peers::{have, have_python_modules};
use super::{run_with_input, stderr_of, udskit};

/// How long one `udskit http` run of a test may take before it is killed.
pub const LIMIT: Duration = Duration::from_secs(60);

/// `udskit http ARGS...` with `input` on stdin.
pub fn http<S: AsRef<OsStr>>(args: &[S], input: &[u8]) -> Output {
    let mut c = udskit();
    c.arg("http").args(args);
    run_with_input(c, input, LIMIT)
}

/// stdout of a run that must have succeeded (its stderr in the message otherwise).
pub fn ok(out: &Output) -> &[u8] {
    assert!(
        out.status.success(),
        "exit {:?}, stderr:\n{}",
        out.status.code(),
        stderr_of(out)
    );
    &out.stdout
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(bytes)))
}

/// The test app (tests/fixtures/http_app.py) can run: python3 with uvicorn and starlette.
pub fn uvicorn_here() -> bool {
    have("python3") && have_python_modules(&["uvicorn", "starlette"])
}
