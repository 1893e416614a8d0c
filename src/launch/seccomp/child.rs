//! Test harness: run one case in a fresh copy of the test binary, because installing a filter
//! or a Landlock ruleset is irreversible and must not leak into the other tests.
//!
//! The parent runs `<test binary> <dispatcher test> --exact --ignored` with
//! `SBOX_CASE=<case>`; the dispatcher test (ignored in a normal run, where it has nothing to
//! check) sees the variable, runs the case, prints `key=value` lines and exits.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

const VAR: &str = "SBOX_CASE";

/// The case this process was started for, if it is a child.
pub fn case() -> Option<String> {
    std::env::var(VAR).ok()
}

/// Run `case` through the dispatcher test `dispatcher` (its full path, e.g.
/// `launch::seccomp::tests::dispatch`); returns the `key=value` lines it printed.
pub fn run(dispatcher: &str, case: &str) -> BTreeMap<String, String> {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            dispatcher,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(VAR, case)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let map: BTreeMap<String, String> = stdout
        .lines()
        // The harness may print "test ... " before the first line: keep the last word.
        .filter_map(|l| l.rsplit(' ').next()?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert!(
        map.contains_key("done"),
        "case {case} did not finish: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    map
}

/// Print one `key=value` line (no spaces) for the parent.
pub fn report(key: &str, value: impl std::fmt::Display) {
    use std::io::Write;
    let line = format!("{key}={value}\n");
    let _ = std::io::stdout().write_all(line.as_bytes());
}

/// "ok" for a successful call, else the errno's name.
pub fn outcome(rc: i64) -> String {
    if rc >= 0 {
        "ok".to_string()
    } else {
        format!("{:?}", nix::errno::Errno::last())
    }
}

/// Finish the child: flush and leave without running the rest of the harness.
pub fn done() -> ! {
    report("done", 1);
    std::process::exit(0)
}
