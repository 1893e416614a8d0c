//! Every message sbox prints on stderr goes through here: errors, warnings, the `-v` step
//! lines, the OOM report, planted-file warnings, --mkroot's failure. This module puts the
//! program's name first (`sbox`, or `bwrap` under that link, for errors and command-line
//! warnings) and, with `--level-prefix`, the syslog level that journald reads (`<3>` errors,
//! `<4>` warnings, `<6>` notices, `<7>` the `-v` lines). Every line is one line: control
//! characters of the paths and values it quotes are escaped. A leaf module.
//!
//! main sets the two facts once, before anything prints; the sandbox's processes inherit them
//! (they are copies of the supervisor).

use crate::error::one_line;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static BWRAP: AtomicBool = AtomicBool::new(false);
static LEVEL_PREFIX: AtomicBool = AtomicBool::new(false);

/// Invoked through the `bwrap` link: bubblewrap's name and message style.
pub fn set_bwrap(on: bool) {
    BWRAP.store(on, Ordering::Relaxed);
}

/// `--level-prefix` (`Spec.level_prefix`, or what the front end knew when it refused).
pub fn set_level_prefix(on: bool) {
    LEVEL_PREFIX.store(on, Ordering::Relaxed);
}

/// Whether messages take bubblewrap's wording.
pub fn bwrap() -> bool {
    BWRAP.load(Ordering::Relaxed)
}

/// The syslog level of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error = 3,
    Warning = 4,
    /// Said without being asked, but nothing failed (a profile's note on a skipped bind).
    Notice = 6,
    /// `-v`.
    Debug = 7,
}

/// Whose name a line starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Name {
    /// The program's: `bwrap` under that link (errors and command-line warnings, which
    /// programs that drive bwrap read).
    Program,
    /// Always `sbox`: its own reports (-v, OOM, planted files, --mkroot), which bubblewrap
    /// has no equivalent of.
    Sbox,
    /// `sbox-runc`: the OCI runtime's lines (oci/runtime).
    Runtime,
}

/// The line as printed (with its newline), for these settings.
pub fn line(level: Level, name: Name, text: &str, as_bwrap: bool, prefix: bool) -> String {
    let name = match (name, as_bwrap) {
        (Name::Runtime, _) => "sbox-runc",
        (Name::Program, true) => "bwrap",
        _ => "sbox",
    };
    let level = if prefix {
        match level {
            Level::Error => "<3>",
            Level::Warning => "<4>",
            Level::Notice => "<6>",
            Level::Debug => "<7>",
        }
    } else {
        ""
    };
    format!("{level}{name}: {}\n", one_line(text))
}

/// Writes one message in a single write: the supervisor and the sandbox report at the same
/// time under -v, and a line written in pieces would interleave.
pub fn say(level: Level, name: Name, text: &str) {
    let l = line(
        level,
        name,
        text,
        bwrap(),
        LEVEL_PREFIX.load(Ordering::Relaxed),
    );
    let _ = std::io::stderr().write_all(l.as_bytes());
}

/// An error, already rendered for the program's name (`render(output::bwrap())`).
pub fn error(text: &str) {
    say(Level::Error, Name::Program, text);
}

/// A warning from the command line: `sbox: warning: ...`, or bubblewrap's `bwrap: ...`.
pub fn warning(text: &str) {
    if bwrap() {
        say(Level::Warning, Name::Program, text);
    } else {
        say(Level::Warning, Name::Program, &format!("warning: {text}"));
    }
}

/// A warning of sbox's own reports (planted files): `sbox: warning: ...`.
pub fn sbox_warning(text: &str) {
    say(Level::Warning, Name::Sbox, &format!("warning: {text}"));
}

/// A `-v` line.
pub fn verbose(text: &str) {
    say(Level::Debug, Name::Sbox, text);
}

/// A note said without -v (nothing failed).
pub fn notice(text: &str) {
    say(Level::Notice, Name::Sbox, text);
}

/// A failure that sbox reports after the sandbox ran (the OOM kill).
pub fn failure(text: &str) {
    say(Level::Error, Name::Sbox, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_levels() {
        let e = |b, p| line(Level::Error, Name::Program, "--bind: /x: why", b, p);
        assert_eq!(e(false, false), "sbox: --bind: /x: why\n");
        assert_eq!(e(true, false), "bwrap: --bind: /x: why\n");
        assert_eq!(e(false, true), "<3>sbox: --bind: /x: why\n");
        assert_eq!(e(true, true), "<3>bwrap: --bind: /x: why\n");
        // sbox's own reports keep its name under the link.
        let oom = "--mem: the kernel killed the command: out of memory (limit 16M, peak 16M)";
        assert_eq!(
            line(Level::Error, Name::Sbox, oom, true, true),
            format!("<3>sbox: {oom}\n")
        );
        assert_eq!(
            line(Level::Warning, Name::Program, "warning: w", false, true),
            "<4>sbox: warning: w\n"
        );
        assert_eq!(
            line(Level::Notice, Name::Sbox, "n", false, true),
            "<6>sbox: n\n"
        );
        assert_eq!(
            line(Level::Debug, Name::Sbox, "seccomp: 1 ms", false, true),
            "<7>sbox: seccomp: 1 ms\n"
        );
        assert_eq!(
            line(Level::Debug, Name::Sbox, "seccomp: 1 ms", false, false),
            "sbox: seccomp: 1 ms\n"
        );
    }

    #[test]
    fn one_line_whatever_the_text() {
        // A planted file named with a newline makes no second line that reads as a message.
        let l = line(
            Level::Warning,
            Name::Sbox,
            "warning: /p/a\nsbox: all clear: planted",
            false,
            false,
        );
        assert_eq!(l, "sbox: warning: /p/a\\nsbox: all clear: planted\n");
        assert_eq!(l.matches('\n').count(), 1);
        assert!(
            line(Level::Error, Name::Program, "a\0b\u{1b}[2J", false, false)
                .starts_with("sbox: a\\0b\\u{1b}[2J")
        );
    }
}
