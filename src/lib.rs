//! sbox: an unprivileged, rootless sandbox for Linux.
//!
//! Data flows one way: the command line (and profiles) produce a [`spec::Spec`]; [`launch`]
//! is the only code that calls the kernel to build the sandbox from it.
//!
//! Each module imports only those below it (tests/layers.rs checks it):
//! - front ends: [`cli`] (reads profiles through [`profile`]) and [`doctor`] (probes through
//!   [`launch::probe`] and [`cgroup`]);
//! - [`profile`]: profile files into a `Spec`;
//! - the kernel half: [`launch`] (entry point [`launch::run`]; uses [`cgroup`] for limits),
//!   [`mkroot`];
//! - leaves: [`spec`] (the data model and its value vocabulary, [`spec::values`]),
//!   [`error`], [`output`] (every message on stderr), [`nss`], [`sys`] (the raw calls
//!   outside launch, cgroup and mkroot).

pub mod cgroup;
pub mod cli;
pub mod clock;
pub mod doctor;
pub mod error;
pub mod launch;
pub mod mkroot;
pub mod nss;
pub mod oci;
pub mod output;
pub mod profile;
pub mod spec;
pub mod sys;

/// Unit tests: a missing prerequisite is said, and fails under CI (as tests/common does).
#[cfg(test)]
pub(crate) fn skip_or_fail(test: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why} (required under CI)");
    }
    // Straight to stderr: the test harness captures eprintln! of a passing test.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("SKIPPED: {test}: {why}\n").as_bytes(),
    );
}
