//! Errors, typed where they arise and rendered in one place.
//!
//! Each area has its own error enum, in its own file, whose variants carry data (the option,
//! the path, the errno) and whose `Display` is the wording of *why* (cgroup::CgroupError,
//! mkroot::MkrootError, and one per launch step: caps, signals, tty, seccomp, landlock, exec,
//! ...). Through [`StepError`] each converts into [`SetupError`], the one line
//! `<step or option>: <path>: <why>` that main prints (through crate::output) with `sbox: `
//! or `bwrap: ` first. Errors raised inside the sandbox travel to the supervisor as a
//! `SetupError` over a pipe (launch/channel.rs, serde). Where bubblewrap has a fixed phrase
//! for the same failure (programs that drive bwrap match it), the error carries it too, for
//! the `bwrap` link (`render`). A leaf module: it imports nothing of sbox.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SetupError {
    /// The option (`--ro-bind`) or step (`uid map`) that failed.
    pub step: String,
    /// The path concerned, empty when there is none.
    pub path: String,
    /// Why, and the fix when there is one.
    pub why: String,
    /// bubblewrap's wording of the same failure, empty when it has none.
    pub bwrap: String,
}

impl SetupError {
    pub fn new(step: impl Into<String>, path: impl Into<String>, why: impl Into<String>) -> Self {
        SetupError {
            step: step.into(),
            path: path.into(),
            why: why.into(),
            bwrap: String::new(),
        }
    }

    /// With bubblewrap's wording of this failure, e.g. `Can't find source path /x: why`.
    pub fn bwrap(mut self, phrase: impl Into<String>) -> Self {
        self.bwrap = phrase.into();
        self
    }

    /// The message: sbox's, or as `bwrap` bubblewrap's phrase where it has one; one line.
    pub fn render(&self, as_bwrap: bool) -> String {
        let m = if as_bwrap && !self.bwrap.is_empty() {
            self.bwrap.clone()
        } else {
            self.to_string()
        };
        one_line(&m).into_owned()
    }
}

/// An area's error: which option or step failed, on which path; its `Display` says why.
pub trait StepError: fmt::Display {
    /// The option (`--mem`) or step (`terminal`) that failed.
    fn step(&self) -> Cow<'_, str>;
    /// The path concerned, empty when there is none.
    fn path(&self) -> Cow<'_, str> {
        "".into()
    }
    /// bubblewrap's wording of the same failure, when it has one (the `bwrap` link).
    fn bwrap(&self) -> Option<String> {
        None
    }
}

impl<E: StepError> From<E> for SetupError {
    fn from(e: E) -> SetupError {
        SetupError {
            step: e.step().into_owned(),
            path: e.path().into_owned(),
            why: e.to_string(),
            bwrap: e.bwrap().unwrap_or_default(),
        }
    }
}

/// The description of a failed system call's errno, as every error line words it.
pub fn errno_why(e: nix::errno::Errno) -> &'static str {
    e.desc()
}

/// An I/O error worded as an errno where it has one (`No such file or directory`, without
/// Rust's `(os error 2)`).
pub fn io_why(e: &std::io::Error) -> Cow<'static, str> {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().into(),
        None => e.to_string().into(),
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.step, self.why)
        } else {
            write!(f, "{}: {}: {}", self.step, self.path, self.why)
        }
    }
}

impl std::error::Error for SetupError {}

/// An error message as one line: `m` with its control characters escaped (`\n`, `\0`,
/// `\u{1b}`), so that a value or path given with a newline can't make a second line that
/// reads as another message.
pub fn one_line(m: &str) -> Cow<'_, str> {
    if !m.contains(char::is_control) {
        return m.into();
    }
    m.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let e = SetupError::new("--ro-bind", "/nope", "No such file or directory");
        assert_eq!(e.to_string(), "--ro-bind: /nope: No such file or directory");
        assert_eq!(SetupError::new("exec", "", "x").to_string(), "exec: x");
        let e = e.bwrap("Can't find source path /nope: No such file or directory");
        assert_eq!(
            e.render(false),
            "--ro-bind: /nope: No such file or directory"
        );
        assert_eq!(
            e.render(true),
            "Can't find source path /nope: No such file or directory"
        );
        // A path with a newline makes no second line.
        let e = SetupError::new("--ro-bind", "/a\nsbox: b", "No such file or directory");
        assert_eq!(
            e.render(false),
            "--ro-bind: /a\\nsbox: b: No such file or directory"
        );
    }
}
