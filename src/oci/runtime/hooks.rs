//! OCI hooks, run by the runtime in its own namespaces with the container's state JSON on
//! stdin. When each kind runs (runtime-spec's lifecycle, as far as sbox can follow it):
//! - `prestart` and `createRuntime`: in `create`, once the container's namespaces exist and
//!   its process waits at the start gate (after its pivot_root, where runc runs them just
//!   before: the container's mount namespace is already complete, the hook sees it through
//!   /proc/PID/root and /proc/PID/ns);
//! - `poststart`: in `start`, once the process was released;
//! - `poststop`: in `delete`, once the container is gone.
//!
//! `createContainer` and `startContainer` (to be run inside the container's namespaces) are
//! refused by `check`, with one line, rather than run in the wrong place.
//!
//! A failing prestart/createRuntime hook fails `create`; poststart and poststop failures are
//! warnings, as the runtime spec says.

use crate::error::SetupError;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The kinds sbox cannot run where the spec says.
pub fn check(hooks: &serde_json::Value) -> Result<(), SetupError> {
    for kind in ["createContainer", "startContainer"] {
        if hooks
            .get(kind)
            .and_then(|h| h.as_array())
            .is_some_and(|a| !a.is_empty())
        {
            return Err(SetupError::new(
                format!("hooks.{kind}"),
                "",
                "not supported by sbox-runc (it would run inside the container's namespaces): use createRuntime or poststart",
            ));
        }
    }
    Ok(())
}

/// Run every hook of `kind`, in order; the first failure is the error.
pub fn run(
    hooks: &serde_json::Value,
    kind: &str,
    state: &serde_json::Value,
) -> Result<(), SetupError> {
    let Some(list) = hooks.get(kind).and_then(|h| h.as_array()) else {
        return Ok(());
    };
    for (i, h) in list.iter().enumerate() {
        run_one(h, &format!("hooks.{kind}[{i}]"), state)?;
    }
    Ok(())
}

fn run_one(h: &serde_json::Value, what: &str, state: &serde_json::Value) -> Result<(), SetupError> {
    let path = h.get("path").and_then(|p| p.as_str()).unwrap_or_default();
    let fail = |why: String| SetupError::new(what, path, why);
    if !path.starts_with('/') {
        return Err(fail("path must be absolute".into()));
    }
    let strings = |key: &str| -> Vec<String> {
        (h.get(key).and_then(|a| a.as_array()).into_iter().flatten())
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let args = strings("args");
    let mut cmd = Command::new(path);
    if let Some((first, rest)) = args.split_first() {
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear();
    for kv in strings("env") {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::null());
    let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is no failure.
        let _ = stdin.write_all(state.to_string().as_bytes());
    }
    let timeout = h.get("timeout").and_then(|t| t.as_u64());
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs(t));
    loop {
        match child.try_wait().map_err(|e| fail(e.to_string()))? {
            Some(st) if st.success() => return Ok(()),
            Some(st) => return Err(fail(format!("failed ({st})"))),
            None if deadline.is_some_and(|d| Instant::now() >= d) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "timed out after {} s (its timeout)",
                    timeout.unwrap_or(0)
                )));
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}
