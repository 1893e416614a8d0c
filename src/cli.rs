//! The bubblewrap-style command line: options first, then the command. Filesystem operations,
//! capability edits and environment edits keep the order in which they were given.

use crate::error::one_line;
use crate::profile::{self, Profiles};
use crate::spec::options::{self, Apply, OPTIONS, Op, Opt, Upper, Value};
use crate::spec::values::{ValueError, parse_octal, parse_size};
use crate::spec::{self, EnvOp, FsOp, OverlayUpper, SeccompProfile, Spec};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use std::borrow::Cow;
use std::ffi::OsString;
use std::fmt;
use std::os::fd::RawFd;
use std::path::PathBuf;

/// A command-line error, already worded as `<option>: <why>`.
#[derive(Debug, PartialEq, Eq)]
pub enum CliError {
    Invalid(String),
    /// An error that bubblewrap words with a fixed phrase (programs that drive bwrap match
    /// it): sbox's wording, and bubblewrap's for the `bwrap` link.
    Phrased {
        sbox: String,
        bwrap: String,
    },
}

/// A profile's error is the `--profile` option's.
impl From<profile::ProfileError> for CliError {
    fn from(e: profile::ProfileError) -> CliError {
        CliError::Invalid(format!("--profile: {e}"))
    }
}

impl CliError {
    fn phrased(sbox: impl Into<String>, bwrap: impl Into<String>) -> CliError {
        CliError::Phrased {
            sbox: sbox.into(),
            bwrap: bwrap.into(),
        }
    }

    /// Add bubblewrap's phrase to an error worded by sbox.
    fn or_bwrap(self, phrase: impl Into<String>) -> CliError {
        match self {
            CliError::Invalid(sbox) | CliError::Phrased { sbox, .. } => {
                CliError::phrased(sbox, phrase)
            }
        }
    }

    /// The message of an error: sbox's, or as `bwrap` bubblewrap's phrase where it has one.
    /// An error stays one line: control characters of the values it quotes are escaped.
    pub fn render(&self, as_bwrap: bool) -> Cow<'_, str> {
        match self {
            CliError::Invalid(m) => one_line(m),
            CliError::Phrased { bwrap, .. } if as_bwrap => one_line(bwrap),
            CliError::Phrased { sbox, .. } => one_line(sbox),
        }
    }
}

/// What the command line itself refuses (values are `spec::values`' errors, cross-option rules
/// `spec::validate`'s, profiles the loader's): sbox's wording is its `Display`, bubblewrap's
/// phrase `bwrap`. Rendered into a `CliError` where it is raised.
#[derive(Debug)]
enum Refusal {
    /// Not a descriptor number.
    NotAnFd {
        opt: String,
        value: String,
    },
    /// A `--size` beyond what a tmpfs takes.
    SizeTooLarge {
        value: String,
        max: u64,
    },
    /// A value (of `opt`) that is not UTF-8; `opt` unknown when it can't be told.
    NotUtf8 {
        opt: String,
        value: String,
    },
    Utf8Somewhere,
    ArgsMissing,
    ArgsNotOpen(RawFd),
    ArgsNested,
    ArgsRead {
        fd: RawFd,
        err: std::io::Error,
    },
    /// --busybox without --mkroot.
    BusyboxAlone,
    ModesCombined {
        mode: String,
        other: String,
    },
    /// A mode given a command.
    ModeArgs {
        mode: String,
        got: String,
    },
    /// A mode given a sandbox option.
    ModeWith {
        mode: String,
        extra: String,
    },
    BusyboxProgram,
    MkrootNothing,
    ProjectAlone,
    /// No command; `name`: as invoked, for bubblewrap's usage line.
    NoCommand {
        name: String,
    },
    PermsTwice,
    SizeTwice,
    /// `what` (--perms, --size) before an operation it does not modify.
    NotModified {
        what: &'static str,
        option: &'static str,
    },
    /// --overlay-src before another operation than an overlay.
    OverlaySrcBefore {
        option: &'static str,
    },
    /// `what` last on the command line.
    Dangling {
        what: &'static str,
    },
    OverlaySrcLast,
    /// --seccomp with --add-seccomp-fd; `seccomp_first`: which one came first.
    SeccompAndAdd {
        seccomp_first: bool,
    },
    UsernsBlockWithoutUser,
    UsernsWithUnshare,
    Argv0Twice,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Refusal::*;
        match self {
            NotAnFd { opt, value } => write!(f, "{opt}: '{value}': not a file descriptor number"),
            SizeTooLarge { value, max } => write!(
                f,
                "--size: '{value}': too large (a tmpfs takes at most {max} bytes, half the \
                 address space)"
            ),
            NotUtf8 { opt, value } => write!(f, "{opt}: '{value}': not valid UTF-8"),
            Utf8Somewhere => f.write_str("--: an option's value is not valid UTF-8"),
            ArgsMissing => f.write_str("--args: missing argument"),
            ArgsNotOpen(fd) => write!(
                f,
                "--args: {fd}: not an open file descriptor (open it for sbox, e.g. '{fd}<FILE' \
                 in the shell)"
            ),
            ArgsNested => f.write_str("--args: nested too deeply"),
            ArgsRead { fd, err } => write!(f, "--args: {fd}: {err}"),
            BusyboxAlone => f.write_str("--busybox: only with --mkroot DIR"),
            ModesCombined { mode, other } => {
                write!(f, "--{mode}: cannot be combined with --{other}")
            }
            ModeArgs { mode, got } => {
                write!(f, "--{mode}: takes no further arguments (got '{got}')")
            }
            ModeWith { mode, extra } => write!(
                f,
                "--{mode}: cannot be combined with --{extra} (it starts no sandbox)"
            ),
            BusyboxProgram => {
                f.write_str("--busybox: takes no PROGRAM (its applets are the programs)")
            }
            MkrootNothing => {
                f.write_str("--mkroot: name the programs to install after DIR (or add --busybox)")
            }
            ProjectAlone => f.write_str("--project: only profiles use it: add --profile NAME"),
            NoCommand { .. } => {
                f.write_str("no command given (usage: sbox [OPTIONS] [--] COMMAND [ARGS...])")
            }
            PermsTwice => f.write_str("--perms: given twice before one operation"),
            SizeTwice => f.write_str("--size: given twice before one operation"),
            NotModified { what, option } => {
                write!(f, "{what}: does not apply to the following {option}")
            }
            OverlaySrcBefore { option } => write!(
                f,
                "--overlay-src: must be followed by --overlay, --tmp-overlay or --ro-overlay, \
                 not {option}"
            ),
            Dangling { what } => write!(f, "{what}: must be followed by the operation it modifies"),
            OverlaySrcLast => f.write_str(
                "--overlay-src: must be followed by --overlay, --tmp-overlay or --ro-overlay",
            ),
            SeccompAndAdd { .. } => {
                f.write_str("--seccomp: cannot be combined with --add-seccomp-fd")
            }
            UsernsBlockWithoutUser => f.write_str("--userns-block-fd: needs --unshare-user"),
            UsernsWithUnshare => f.write_str(
                "--userns: conflicts with --unshare-user, --unshare-user-try and --unshare-all \
                 (it joins a user namespace instead of creating one)",
            ),
            Argv0Twice => f.write_str("--argv0: used multiple times"),
        }
    }
}

impl Refusal {
    /// bubblewrap's phrase, where it has one.
    fn bwrap(&self) -> Option<String> {
        use Refusal::*;
        Some(match self {
            NotAnFd { value, .. } => format!("Invalid fd: {value}"),
            SizeTooLarge { max, .. } => format!("--size (for tmpfs) is limited to {max}"),
            ArgsMissing => "--args takes an argument".into(),
            ArgsNotOpen(_) => "Can't read --args data: Bad file descriptor".into(),
            NoCommand { name } => {
                format!("no command given (usage: {name} [OPTIONS...] [--] COMMAND [ARGS...])")
            }
            PermsTwice => "--perms given twice for the same action".into(),
            SizeTwice => "--size given twice for the same action".into(),
            NotModified { what, .. } | Dangling { what } => modifier_phrase(what).into(),
            OverlaySrcBefore { .. } | OverlaySrcLast => OVERLAY_SRC_PHRASE.into(),
            SeccompAndAdd {
                seccomp_first: true,
            } => "--add-seccomp-fd cannot be combined with --seccomp".into(),
            SeccompAndAdd { .. } => "--seccomp cannot be combined with --add-seccomp-fd".into(),
            UsernsBlockWithoutUser => "--userns-block-fd requires --unshare-user".into(),
            Argv0Twice => "--argv0 used multiple times".into(),
            _ => return None,
        })
    }
}

impl From<Refusal> for CliError {
    fn from(r: Refusal) -> CliError {
        match r.bwrap() {
            Some(phrase) => CliError::phrased(r.to_string(), phrase),
            None => CliError::Invalid(r.to_string()),
        }
    }
}

impl From<ValueError> for CliError {
    fn from(e: ValueError) -> CliError {
        CliError::Invalid(e.to_string())
    }
}

/// Parse a file descriptor number.
pub fn parse_fd(opt: &str, s: &str) -> Result<RawFd, CliError> {
    match s.parse::<RawFd>() {
        Ok(fd) if fd >= 0 => Ok(fd),
        _ => Err(Refusal::NotAnFd {
            opt: opt.into(),
            value: s.into(),
        }
        .into()),
    }
}

/// One option of the table as clap's argument.
fn arg(o: &'static Opt) -> Arg {
    let mut a = Arg::new(o.long()).long(o.long()).help(o.help);
    if let Some(c) = o.short {
        a = a.short(c);
    }
    if let Some(h) = o.heading {
        a = a.help_heading(h);
    }
    if o.name == "--version" {
        return a.action(ArgAction::Version);
    }
    if o.value == Value::Flag {
        return a.action(ArgAction::Set).num_args(0);
    }
    a = a.value_names(o.values).action(if o.many {
        ArgAction::Append
    } else {
        ArgAction::Set
    });
    if o.values.len() != 1 {
        a = a.num_args(o.values.len());
    }
    match o.value {
        Value::Flag | Value::Str => a.value_parser(value_parser!(String)),
        Value::Path => a.value_parser(value_parser!(PathBuf)),
        Value::OsStr => a.value_parser(value_parser!(OsString)),
        Value::Id => a
            .allow_negative_numbers(true)
            .value_parser(value_parser!(u32)),
        Value::Port => a.value_parser(value_parser!(u16)),
        Value::Shell => a.value_parser(value_parser!(clap_complete::Shell)),
        Value::Optional(default) => a
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value(default)
            .value_parser(value_parser!(OsString)),
    }
}

/// The clap definition; also the source of the man page and completions.
pub fn command() -> Command {
    Command::new("sbox")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Run a command in an unprivileged, rootless sandbox")
        .long_about(
            "Run COMMAND in new namespaces, on a root assembled from the filesystem options in \
             the order given, with every capability dropped, no_new_privs set and a seccomp \
             policy installed; Landlock and cgroup v2 resource limits on request. sbox needs no \
             setuid bit and no daemon; its command line is a superset of bubblewrap's.",
        )
        .override_usage("sbox [OPTIONS] [--] COMMAND [ARGS...]")
        .help_template(help_template("sbox"))
        .disable_version_flag(true)
        .args_override_self(true)
        .args(OPTIONS.iter().map(arg))
        .arg(
            Arg::new("command")
                .value_name("COMMAND")
                .help("The command to run and its arguments (with --mkroot: the programs)")
                .value_hint(clap::ValueHint::CommandWithArguments)
                .num_args(1..)
                .trailing_var_arg(true)
                .value_parser(value_parser!(OsString)),
        )
        // As in bubblewrap, an option's values are the next arguments whatever they look like:
        // `--setenv LESS -R` sets LESS to `-R`.
        .mut_args(|a| {
            let takes = a.get_long().is_some()
                && a.get_action().takes_values()
                && a.get_num_args().is_none_or(|n| n.max_values() > 0);
            if takes {
                a.allow_hyphen_values(true)
            } else {
                a
            }
        })
}

/// `--help` starts with bubblewrap's first line, naming sbox as it was invoked (`parse_named`).
fn help_template(name: &str) -> String {
    format!(
        "usage: {name} [OPTIONS...] [--] COMMAND [ARGS...]\n\n{{about-with-newline}}\n{{all-args}}{{after-help}}"
    )
}

/// `(position on the command line, value)` for every occurrence of a repeatable option.
fn indexed<'a, T: Clone + Send + Sync + 'static>(
    m: &'a ArgMatches,
    id: &str,
) -> Vec<(usize, Vec<&'a T>)> {
    let (Some(idx), Some(occ)) = (m.indices_of(id), m.get_occurrences::<T>(id)) else {
        return Vec::new();
    };
    let idx: Vec<usize> = idx.collect();
    let mut out = Vec::new();
    let mut i = 0;
    for vals in occ {
        let vals: Vec<&T> = vals.collect();
        out.push((idx[i], vals.clone()));
        i += vals.len();
    }
    out
}

/// The last value of an option that takes one; bubblewrap warns when such an option is repeated.
fn last<T: Clone + Send + Sync + 'static>(
    m: &ArgMatches,
    id: &str,
    warnings: &mut Vec<String>,
) -> Option<T> {
    let vals: Vec<&T> = m.get_many::<T>(id)?.collect();
    if vals.len() > 1 {
        warnings.push(format!("Only the last --{id} option will take effect"));
    }
    vals.last().map(|v| (*v).clone())
}

/// How an environment option's values make its edit (options::Apply::Env).
type EnvEdit = fn(&[OsString]) -> EnvOp;

/// `--NAME VALUE` that takes one value: the last one given replaces `field`.
fn set_last<T: Clone + Send + Sync + 'static>(
    m: &ArgMatches,
    id: &str,
    warnings: &mut Vec<String>,
    field: &mut Option<T>,
) {
    if let Some(v) = last(m, id, warnings) {
        *field = Some(v);
    }
}

/// The size of a tmpfs, `--size`: at most half the address space, as bubblewrap allows.
fn parse_tmpfs_size(s: &str) -> Result<u64, CliError> {
    let max = isize::MAX as u64;
    match parse_size("--size", s) {
        Ok(v) if v > max => Err(Refusal::SizeTooLarge {
            value: s.into(),
            max,
        }
        .into()),
        r => r.map_err(|e| CliError::from(e).or_bwrap("--size takes a non-zero number of bytes")),
    }
}

/// What clap makes of a command line that is not an error.
enum Matched {
    Args(ArgMatches),
    /// --help, --version.
    Print(String),
}

/// clap's matches for `args` (after argv[0] `name`), or its error as one line naming the option.
fn matches(cmd: Command, name: &str, args: Vec<OsString>) -> Result<Matched, CliError> {
    let answer = |r: Result<ArgMatches, clap::Error>| match r {
        Ok(m) => Ok(Matched::Args(m)),
        Err(e) if printed(&e) => Ok(Matched::Print(e.to_string())),
        Err(e) => Err(clap_error(e)),
    };
    let argv0 = std::iter::once(OsString::from(name));
    if args.iter().all(|a| a.to_str().is_some()) {
        return answer(cmd.try_get_matches_from(argv0.chain(args)));
    }
    // Not UTF-8: clap's error for an option that takes text names no option. The option is
    // the one before the first argument refused by itself (every other one made UTF-8).
    let run = |a: Vec<OsString>| cmd.clone().try_get_matches_from(argv0.clone().chain(a));
    let refused = |a| matches!(run(a), Err(e) if e.kind() == ErrorKind::InvalidUtf8);
    match run(args.clone()) {
        Err(e) if e.kind() == ErrorKind::InvalidUtf8 => {}
        r => return answer(r),
    }
    let lossy = |a: &OsString| OsString::from(a.to_string_lossy().into_owned());
    let culprit = (0..args.len()).find(|&i| {
        args[i].to_str().is_none()
            && refused(
                args.iter()
                    .enumerate()
                    .map(|(j, a)| if j == i { a.clone() } else { lossy(a) })
                    .collect(),
            )
    });
    let Some(i) = culprit else {
        return Err(Refusal::Utf8Somewhere.into());
    };
    let value = args[i].to_string_lossy();
    let opt = match value.split_once('=') {
        Some((opt, v)) if opt.starts_with("--") => return Err(utf8(opt, v)),
        _ => args[..i]
            .iter()
            .rev()
            .filter_map(|a| a.to_str())
            .find(|a| a.starts_with('-'))
            .unwrap_or("--"),
    };
    Err(utf8(opt.split('=').next().unwrap_or(opt), &value))
}

fn utf8(opt: &str, value: &str) -> CliError {
    Refusal::NotUtf8 {
        opt: opt.into(),
        value: value.into(),
    }
    .into()
}

/// Turn a clap error into one line naming the option.
fn clap_error(e: clap::Error) -> CliError {
    let kind = e.kind();
    // The option, without the value names clap adds (`--bind <SRC> <DEST>`); an unknown one
    // whole, as given (it may hold a space or a newline).
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) if kind == ErrorKind::UnknownArgument => s.clone(),
        Some(ContextValue::String(s)) => s.split_whitespace().next().unwrap_or("").to_string(),
        _ => String::new(),
    };
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let msg = match kind {
        ErrorKind::UnknownArgument => {
            format!("{arg}: unknown option (see 'sbox --help')")
        }
        ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues | ErrorKind::InvalidValue
            if value.is_empty() =>
        {
            format!("{arg}: missing argument (see 'sbox --help')")
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let why = e
                .source_string()
                // Integer parsing: say what was expected.
                .map(|s| {
                    if s == "invalid digit found in string" {
                        "not a whole number".into()
                    } else {
                        s
                    }
                })
                .unwrap_or_else(|| match e.get(ContextKind::ValidValue) {
                    Some(ContextValue::Strings(v)) => {
                        format!("not one of {}", v.join(", "))
                    }
                    _ => "invalid value".to_string(),
                });
            format!("{arg}: '{value}': {why}")
        }
        ErrorKind::ArgumentConflict => {
            format!("{arg}: given more than once; it takes one value")
        }
        _ => {
            let first = e.to_string();
            let line = first
                .lines()
                .next()
                .unwrap_or("invalid command line")
                .trim_start_matches("error: ")
                .to_string();
            if arg.is_empty() {
                line
            } else {
                format!("{arg}: {line}")
            }
        }
    };
    // bubblewrap's phrases for the same errors.
    let phrase = match kind {
        ErrorKind::UnknownArgument => format!("Unknown option {arg}"),
        ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues | ErrorKind::InvalidValue
            if value.is_empty() =>
        {
            // The context names the option with its values: `--bind <SRC> <DEST>`.
            let n = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.matches('<').count(),
                _ => 1,
            };
            takes(&arg, n)
        }
        ErrorKind::ValueValidation if arg == "--uid" || arg == "--gid" => {
            format!("Invalid {}: {value}", &arg[2..])
        }
        _ => return CliError::Invalid(msg),
    };
    CliError::phrased(msg, phrase)
}

/// bubblewrap's phrase for the rule on `--overlay-src`.
const OVERLAY_SRC_PHRASE: &str = "--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay";

/// bubblewrap's phrase for a `--perms` or `--size` that modifies nothing.
fn modifier_phrase(what: &str) -> &'static str {
    if what == "--size" {
        "--size must be followed by --tmpfs"
    } else {
        "--perms must be followed by an option that creates a file"
    }
}

/// bubblewrap's phrase for an option given without its values.
fn takes(opt: &str, n: usize) -> String {
    match n {
        _ if ["--chdir", "--remount-ro", "--argv0"].contains(&opt) => {
            format!("{opt} takes one argument")
        }
        0 | 1 => format!("{opt} takes an argument"),
        2 => format!("{opt} takes two arguments"),
        _ => format!("{opt} takes three arguments"),
    }
}

trait SourceString {
    fn source_string(&self) -> Option<String>;
}

impl SourceString for clap::Error {
    fn source_string(&self) -> Option<String> {
        std::error::Error::source(self).map(|s| s.to_string())
    }
}

/// `--args FD` splices NUL-separated arguments read from FD in place of itself, as bubblewrap
/// does for command lines too long or too private for argv. This is the parser's only I/O, and
/// it is skipped unless `--args` is present.
pub fn expand_args(args: Vec<OsString>) -> Result<Vec<OsString>, CliError> {
    if !args.iter().any(|a| a == "--args") {
        return Ok(args);
    }
    let arity = |long: &str| options::find(long).map_or(0, Opt::arity);
    let mut rest: std::collections::VecDeque<OsString> = args.into();
    let mut out = Vec::new();
    let mut reads = 0;
    while let Some(a) = rest.pop_front() {
        let s = a.to_string_lossy().into_owned();
        if s == "--args" {
            let v = rest.pop_front().ok_or(Refusal::ArgsMissing)?;
            let fd = parse_fd("--args", &v.to_string_lossy())?;
            if !crate::sys::fd_is_open(fd) {
                return Err(Refusal::ArgsNotOpen(fd).into());
            }
            reads += 1;
            if reads > 64 {
                return Err(Refusal::ArgsNested.into());
            }
            let mut data = Vec::new();
            let mut f = crate::sys::take_fd(fd);
            std::io::Read::read_to_end(&mut f, &mut data)
                .map_err(|err| Refusal::ArgsRead { fd, err })?;
            let mut words: Vec<&[u8]> = data.split(|b| *b == 0).collect();
            if data.last() == Some(&0) || data.is_empty() {
                words.pop();
            }
            for w in words.into_iter().rev() {
                rest.push_front(
                    <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(w).to_os_string(),
                );
            }
            continue;
        }
        let is_option = s.starts_with('-') && s != "-" && s != "--";
        if !is_option {
            out.push(a);
            out.extend(rest);
            break;
        }
        let n = match s.strip_prefix("--") {
            Some(long) if !long.contains('=') => arity(long),
            _ => 0,
        };
        out.push(a);
        out.extend((0..n).filter_map(|_| rest.pop_front()));
    }
    Ok(out)
}

/// What sbox was asked to do instead of starting a sandbox.
#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    Doctor,
    Completions(clap_complete::Shell),
    Mkroot {
        dir: PathBuf,
        /// `--busybox[=PATH]`: a path, or a name looked up in $PATH.
        busybox: Option<OsString>,
        programs: Vec<OsString>,
    },
}

const MODES: [&str; 3] = ["doctor", "completions", "mkroot"];

/// `Some` when the command line asks for a mode (--doctor, --completions, --mkroot) rather
/// than a sandbox.
pub fn mode(args: &[OsString]) -> Result<Option<Mode>, CliError> {
    // A plain sandbox command line is recognised without a second full parse.
    let maybe = |a: &OsString| {
        let a = a.as_encoded_bytes();
        (MODES.iter().chain(&["busybox"])).any(|m| {
            a.strip_prefix(b"--")
                .is_some_and(|r| r.starts_with(m.as_bytes()))
        })
    };
    if !args.iter().any(maybe) {
        return Ok(None);
    }
    let m = match matches(command(), "sbox", args.to_vec())? {
        Matched::Args(m) => m,
        // --help with a mode: the help, as for any command line.
        Matched::Print(_) => return Ok(None),
    };
    let given: Vec<&str> = m
        .ids()
        .map(|id| id.as_str())
        .filter(|id| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .collect();
    let invalid = |r: Refusal| Err(r.into());
    let modes: Vec<&&str> = given.iter().filter(|id| MODES.contains(id)).collect();
    let Some(&&mode) = modes.first() else {
        if given.contains(&"busybox") {
            return invalid(Refusal::BusyboxAlone);
        }
        return Ok(None);
    };
    if let Some(other) = modes.get(1) {
        return invalid(Refusal::ModesCombined {
            mode: mode.into(),
            other: other.to_string(),
        });
    }
    // Sandbox options mean nothing here: refuse them rather than ignore them.
    let own: &[&str] = match mode {
        "mkroot" => &["mkroot", "busybox", "command", "level-prefix"],
        _ => &[mode, "level-prefix"],
    };
    if let Some(extra) = given.iter().find(|id| !own.contains(id)) {
        return invalid(match *extra {
            "command" => Refusal::ModeArgs {
                mode: mode.into(),
                got: m
                    .get_many::<OsString>("command")
                    .into_iter()
                    .flatten()
                    .next()
                    .map(|c| c.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            },
            "busybox" => Refusal::BusyboxAlone,
            extra => Refusal::ModeWith {
                mode: mode.into(),
                extra: extra.into(),
            },
        });
    }
    let programs: Vec<OsString> = m
        .get_many::<OsString>("command")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    Ok(Some(match mode {
        "doctor" => Mode::Doctor,
        "completions" => Mode::Completions(*m.get_one("completions").expect("given")),
        _ => {
            let busybox = m.get_one::<OsString>("busybox").cloned();
            match (&busybox, programs.is_empty()) {
                (Some(_), false) => {
                    return invalid(Refusal::BusyboxProgram);
                }
                (None, true) => {
                    return invalid(Refusal::MkrootNothing);
                }
                _ => {}
            }
            Mode::Mkroot {
                dir: m.get_one::<PathBuf>("mkroot").expect("given").clone(),
                busybox,
                programs,
            }
        }
    }))
}

/// What a command line asks for, when it is not an error.
#[derive(Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // made once, moved once
pub enum Parsed {
    /// Start this sandbox.
    Run(Spec),
    /// Print this on stdout and exit 0: --help, --version, --explain, --list-profiles.
    Print(String),
}

impl Parsed {
    /// The sandbox to start, if that is what was asked.
    pub fn spec(self) -> Option<Spec> {
        match self {
            Parsed::Run(s) => Some(s),
            Parsed::Print(_) => None,
        }
    }
}

/// Output that clap produces instead of matches.
fn printed(e: &clap::Error) -> bool {
    matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
}

/// What the command line asks for, as main acts on it.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // made once, moved once
pub enum Front {
    /// Start this sandbox.
    Run(Spec),
    /// Print this on stdout and exit 0.
    Print(String),
    /// Do something else than start a sandbox; `level_prefix` is its `--level-prefix`.
    Mode { mode: Mode, level_prefix: bool },
}

/// A refused command line, with what the front end knew of the output wanted when it refused:
/// whether `--level-prefix` was among the options before the command.
#[derive(Debug)]
pub struct Refused {
    pub error: CliError,
    pub level_prefix: bool,
}

/// The whole front end for main: `--args` expansion, modes, then the sandbox's `Spec`.
pub fn front(
    argv0: &str,
    bwrap: bool,
    args: Vec<OsString>,
    profiles: &dyn Profiles,
) -> Result<Front, Refused> {
    // Known before the parse, for a refusal or a mode; a sandbox reads `Spec.level_prefix`.
    // (The walk by arities only when the flag is there at all: most starts don't pay it.)
    let level_prefix =
        args.iter().any(|a| a == "--level-prefix") && leading_option(&args, "--level-prefix");
    let refused = |error| Refused {
        error,
        level_prefix,
    };
    let args = expand_args(args).map_err(refused)?;
    if let Some(mode) = mode(&args).map_err(refused)? {
        return Ok(Front::Mode { mode, level_prefix });
    }
    match parse_named(argv0, bwrap, args, profiles).map_err(refused)? {
        Parsed::Run(s) => Ok(Front::Run(s)),
        Parsed::Print(text) => Ok(Front::Print(text)),
    }
}

/// Whether the flag `name` is among the options before the command (each option's values
/// skipped by its arity, as clap reads them).
fn leading_option(args: &[OsString], name: &str) -> bool {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.as_encoded_bytes();
        if a == name.as_bytes() {
            return true;
        }
        if a == b"--" || !a.starts_with(b"-") || a == b"-" {
            return false;
        }
        let n = match std::str::from_utf8(a)
            .ok()
            .and_then(|a| a.strip_prefix("--"))
        {
            Some(long) if !long.contains('=') => options::find(long).map_or(0, Opt::arity),
            _ => 0,
        };
        for _ in 0..n {
            it.next();
        }
    }
    false
}

/// Parse the arguments after argv[0], with the host's profiles.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, CliError> {
    parse_as(false, args, &profile::Host)
}

/// Parse as `sbox`, or with `bwrap` true as bubblewrap: its defaults exactly where sbox's are
/// stricter (no seccomp policy unless one is named, no user-namespace limit, non-recursive
/// --remount-ro). `profiles` loads what --profile names (the parser does no file I/O).
pub fn parse_as(
    bwrap: bool,
    args: impl IntoIterator<Item = OsString>,
    profiles: &dyn Profiles,
) -> Result<Parsed, CliError> {
    parse_named(if bwrap { "bwrap" } else { "sbox" }, bwrap, args, profiles)
}

/// `parse_as`, with the name sbox was invoked by (argv[0]), for the first line of `--help`.
pub fn parse_named(
    name: &str,
    bwrap: bool,
    args: impl IntoIterator<Item = OsString>,
    profiles: &dyn Profiles,
) -> Result<Parsed, CliError> {
    let cmd = command().help_template(help_template(name));
    let m = match matches(cmd, name, args.into_iter().collect())? {
        Matched::Args(m) => m,
        Matched::Print(text) => return Ok(Parsed::Print(text)),
    };
    let mut defaults = Spec {
        proc_host_writable: bwrap,
        remount_ro_shallow: bwrap,
        caller_terminal: bwrap,
        caller_process_group: bwrap,
        dies_of_signals: bwrap,
        no_host_hint: bwrap,
        landlock_domain_needs_pidns: bwrap,
        userns_unlimited: bwrap,
        shared_sync_fds: bwrap,
        ..Spec::default()
    };
    if bwrap {
        defaults.seccomp.profile = SeccompProfile::None;
        // Every descriptor the caller left open reaches the command.
        defaults.fds.keep_inherited = true;
    }
    defaults.origins.wanted = m.contains_id("explain");

    // Layers: built-in defaults < each profile (after what it extends) < this command line.
    if m.contains_id("list-profiles") {
        return Ok(Parsed::Print(profiles.list()));
    }
    let names: Vec<String> = m
        .get_many::<String>("profile")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let project = m.get_one::<PathBuf>("project");
    if project.is_some() && names.is_empty() {
        return Err(Refusal::ProjectAlone.into());
    }
    let base = if names.is_empty() {
        defaults
    } else {
        let mut s = profiles.load(&names, project.map(PathBuf::as_path), defaults)?;
        s.same_cwd = true;
        s
    };
    // What the profiles set, to tell it apart from what the command line adds (--explain).
    let explain = m.contains_id("explain");
    let before = if explain {
        profile::entries(&base)
    } else {
        Vec::new()
    };
    let mut spec = apply_options(&m, base)?;
    profile::settle_offer(
        &mut spec,
        m.contains_id("share-net") || m.contains_id("unshare-net"),
    );
    spec::validate(&spec).map_err(|e| match e.bwrap {
        Some(phrase) => CliError::phrased(e.message, phrase),
        None => CliError::Invalid(e.message),
    })?;
    if explain {
        profile::attribute(&before, &mut spec, "command line");
        return Ok(Parsed::Print(profile::explain(&spec)));
    }
    if spec.command.is_empty() {
        return Err(Refusal::NoCommand { name: name.into() }.into());
    }
    // Only now is it known what the sandbox can write: the command line adds mounts too.
    profile::check_writable(&spec)?;
    // Programs run on the host: only once nothing the sandbox can write could steer them.
    profiles.registries(&mut spec)?;
    Ok(Parsed::Run(spec))
}

/// Filesystem operations, with --perms/--size modifiers applying to the next one and
/// --overlay-src layers collected for the next overlay.
enum Item {
    Op(FsOp),
    Perms(String),
    Size(String),
    OverlaySrc(PathBuf),
}

/// One occurrence of an option that adds (or modifies) a filesystem operation.
fn item(opt: &str, op: Op, v: Vec<OsString>) -> Result<Item, CliError> {
    let mut v = v.into_iter();
    let mut next = || v.next().unwrap_or_default();
    let fd = |s: OsString| parse_fd(opt, &s.to_string_lossy());
    let dst = PathBuf::from;
    Ok(Item::Op(match op {
        Op::Bind(kind, optional) => FsOp::Bind {
            kind,
            src: next().into(),
            dst: dst(next()),
            optional,
        },
        Op::Tmpfs => FsOp::Tmpfs {
            dst: dst(next()),
            perms: None,
            size: None,
        },
        Op::Proc => FsOp::Proc { dst: dst(next()) },
        Op::Dev => FsOp::Dev { dst: dst(next()) },
        Op::Dir => FsOp::Dir {
            dst: dst(next()),
            perms: None,
        },
        Op::RemountRo => FsOp::RemountRo { dst: dst(next()) },
        Op::Mqueue => FsOp::Mqueue { dst: dst(next()) },
        Op::Symlink => FsOp::Symlink {
            target: next().into(),
            dst: dst(next()),
        },
        Op::Chmod => FsOp::Chmod {
            mode: parse_octal(opt, &next().to_string_lossy()).map_err(|e| {
                CliError::from(e).or_bwrap("--chmod takes an octal argument <= 07777")
            })?,
            path: dst(next()),
        },
        Op::Data(how) => FsOp::Data {
            fd: fd(next())?,
            dst: dst(next()),
            perms: None,
            how,
        },
        Op::BindFd(ro) => FsOp::BindFd {
            fd: fd(next())?,
            dst: dst(next()),
            ro,
        },
        Op::Overlay(upper) => FsOp::Overlay {
            lower: Vec::new(),
            upper: match upper {
                Upper::Dir => OverlayUpper::Dir {
                    upper: next().into(),
                    work: next().into(),
                },
                Upper::Tmp => OverlayUpper::Tmp,
                Upper::ReadOnly => OverlayUpper::ReadOnly,
            },
            dst: dst(next()),
        },
        Op::OverlaySrc => return Ok(Item::OverlaySrc(next().into())),
        Op::Perms => return Ok(Item::Perms(next().to_string_lossy().into_owned())),
        Op::Size => return Ok(Item::Size(next().to_string_lossy().into_owned())),
    }))
}

/// The filesystem operations, in command-line order, after the profile's: --perms/--size
/// apply to the next operation, --overlay-src layers to the next overlay.
fn add_ops(m: &ArgMatches, spec: &mut Spec) -> Result<(), CliError> {
    let mut items: Vec<(usize, Item)> = Vec::new();
    for o in OPTIONS {
        let Some(op) = o.op else { continue };
        let occurrences: Vec<(usize, Vec<OsString>)> = match o.value {
            Value::Path => indexed::<PathBuf>(m, o.long())
                .into_iter()
                .map(|(i, v)| (i, v.into_iter().map(|p| p.clone().into()).collect()))
                .collect(),
            Value::Str => indexed::<String>(m, o.long())
                .into_iter()
                .map(|(i, v)| (i, v.into_iter().map(OsString::from).collect()))
                .collect(),
            _ => indexed::<OsString>(m, o.long())
                .into_iter()
                .map(|(i, v)| (i, v.into_iter().cloned().collect()))
                .collect(),
        };
        for (i, v) in occurrences {
            items.push((i, item(o.name, op, v)?));
        }
    }
    items.sort_by_key(|(i, _)| *i);

    let mut perms: Option<u32> = None;
    let mut size: Option<u64> = None;
    let mut layers: Vec<PathBuf> = Vec::new();
    for (_, item) in items {
        match item {
            Item::Perms(s) => {
                if perms.is_some() {
                    return Err(Refusal::PermsTwice.into());
                }
                perms = Some(parse_octal("--perms", &s).map_err(|e| {
                    CliError::from(e).or_bwrap("--perms takes an octal argument <= 07777")
                })?);
            }
            Item::Size(s) => {
                if size.is_some() {
                    return Err(Refusal::SizeTwice.into());
                }
                size = Some(parse_tmpfs_size(&s)?);
            }
            Item::OverlaySrc(src) => layers.push(src),
            Item::Op(mut op) => {
                match &mut op {
                    FsOp::Tmpfs {
                        perms: p, size: s, ..
                    } => {
                        *p = perms.take();
                        *s = size.take();
                    }
                    FsOp::Dir { perms: p, .. } | FsOp::Data { perms: p, .. } => *p = perms.take(),
                    // (How many layers it needs: spec::validate.)
                    FsOp::Overlay { lower, .. } => *lower = std::mem::take(&mut layers),
                    _ => {}
                }
                if let Some(what) = perms.map(|_| "--perms").or(size.map(|_| "--size")) {
                    return Err(Refusal::NotModified {
                        what,
                        option: op.option(),
                    }
                    .into());
                }
                if !layers.is_empty() {
                    return Err(Refusal::OverlaySrcBefore {
                        option: op.option(),
                    }
                    .into());
                }
                spec.ops.push(op);
            }
        }
    }
    if let Some(what) = perms.map(|_| "--perms").or(size.map(|_| "--size")) {
        return Err(Refusal::Dangling { what }.into());
    }
    if !layers.is_empty() {
        return Err(Refusal::OverlaySrcLast.into());
    }
    Ok(())
}

/// The command line's options on top of `spec` (the defaults, or the merged profiles): its
/// filesystem operations come after the profile's, lists append, given values win.
fn apply_options(m: &ArgMatches, mut spec: Spec) -> Result<Spec, CliError> {
    add_ops(m, &mut spec)?;
    let on = |id: &str| m.contains_id(id);
    let mut warnings = Vec::new();
    // What the table's options set, by the type of their values; environment edits and
    // capabilities afterwards, in command-line order.
    let mut env: Vec<(usize, EnvEdit, Vec<OsString>)> = Vec::new();
    let mut capops: Vec<(usize, &str, bool, &String)> = Vec::new();
    for o in OPTIONS {
        let Some(apply) = o.apply else { continue };
        let id = o.long();
        let strings = || m.get_many::<String>(id).into_iter().flatten();
        let paths = || m.get_many::<PathBuf>(id).into_iter().flatten().cloned();
        match apply {
            Apply::Flag(field) => {
                if on(id) {
                    *field(&mut spec) = true;
                }
            }
            Apply::Fd(field) => {
                if let Some(v) = last::<String>(m, id, &mut warnings) {
                    *field(&mut spec) = Some(parse_fd(o.name, &v)?);
                }
            }
            Apply::Fds(field) => {
                for v in strings() {
                    let fd = parse_fd(o.name, v)?;
                    field(&mut spec).push(fd);
                }
            }
            Apply::Str(field) => set_last(m, id, &mut warnings, field(&mut spec)),
            Apply::Path(field) => set_last(m, id, &mut warnings, field(&mut spec)),
            Apply::OsStr(field) => set_last(m, id, &mut warnings, field(&mut spec)),
            Apply::Id(field) => set_last(m, id, &mut warnings, field(&mut spec)),
            Apply::Paths(field) => field(&mut spec).extend(paths()),
            Apply::PathSet(field) => {
                let list = field(&mut spec);
                for p in paths() {
                    if !list.contains(&p) {
                        list.push(p);
                    }
                }
            }
            Apply::Ports(field) => {
                let ports = m.get_many::<u16>(id).into_iter().flatten().copied();
                field(&mut spec).extend(ports);
            }
            Apply::Parse(set) => {
                for v in strings() {
                    set(&mut spec, o.name, v)?;
                }
            }
            Apply::Env(edit) => {
                for (i, v) in indexed::<OsString>(m, id) {
                    env.push((i, edit, v.into_iter().cloned().collect()));
                }
            }
            Apply::Cap(add) => {
                for (i, v) in indexed::<String>(m, id) {
                    capops.push((i, o.name, add, v[0]));
                }
            }
        }
    }
    // --net-record: written by sbox at the end, relative to where it was started.
    if let Some(f) = spec.net.record.take() {
        spec.net.record = Some(std::path::absolute(&f).unwrap_or(f));
    }
    env.sort_by_key(|(i, ..)| *i);
    for (_, edit, values) in env {
        spec.env.push(edit(&values));
    }
    // ALL adds or removes every capability.
    capops.sort_by_key(|(i, ..)| *i);
    for (_, opt, add, name) in capops {
        spec.cap(opt, add, name)
            .map_err(|e| CliError::from(e).or_bwrap(format!("unknown cap: {name}")))?;
    }
    // Namespaces: --unshare-all creates every one; --share-net keeps the host network (and
    // gives it back to a profile that took it), unless --unshare-net asks for one.
    let all = on("unshare-all");
    if all {
        let ns = &mut spec.ns;
        (ns.ipc, ns.pid, ns.net, ns.uts, ns.cgroup) = (true, true, true, true, true);
    }
    if on("share-net") && !on("unshare-net") {
        spec.ns.net = false;
    }
    // An allowlist (given here or by a profile) means a network namespace of the sandbox's
    // own: the outside is reached only through sbox.
    if spec.net.active() {
        if on("share-net") {
            return Err(CliError::Invalid(
                "--share-net: conflicts with --net-allow (or a profile's network.allow): with an allowlist the sandbox reaches the outside only through sbox".into(),
            ));
        }
        spec.ns.net = true;
    }
    // --seccomp (one program, the last given) or --add-seccomp-fd (several, in order).
    let one_program = last::<String>(m, "seccomp", &mut warnings)
        .map(|s| parse_fd("--seccomp", &s))
        .transpose()?;
    let added: Vec<RawFd> = indexed::<String>(m, "add-seccomp-fd")
        .into_iter()
        .map(|(_, v)| parse_fd("--add-seccomp-fd", v[0]))
        .collect::<Result<_, _>>()?;
    spec.fds.seccomp = match (one_program, added.is_empty()) {
        (Some(_), false) => {
            // bubblewrap names the one given second.
            let first = |id| m.indices_of(id).and_then(|mut i| i.next());
            return Err(Refusal::SeccompAndAdd {
                seccomp_first: first("seccomp") < first("add-seccomp-fd"),
            }
            .into());
        }
        (Some(p), true) => vec![p],
        (None, _) => added,
    };
    let explicit_user = on("unshare-user");
    // What the command line said, which the Spec does not keep (the rest: spec::validate).
    if spec.fds.userns_block.is_some() && !explicit_user {
        return Err(Refusal::UsernsBlockWithoutUser.into());
    }
    if spec.ns.userns.is_some() && (explicit_user || on("unshare-user-try") || all) {
        return Err(Refusal::UsernsWithUnshare.into());
    }
    if m.get_many::<OsString>("argv0").is_some_and(|v| v.len() > 1) {
        return Err(Refusal::Argv0Twice.into());
    }
    spec.warnings = warnings;
    spec.command = m
        .get_many::<OsString>("command")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Spec, CliError> {
        parse(args.iter().map(OsString::from)).map(|o| o.spec().expect("a sandbox"))
    }

    #[test]
    fn refusals_keep_their_words() {
        // The command line's own refusals, rendered as sbox and as bwrap.
        let both = |e: CliError| (e.render(false).into_owned(), e.render(true).into_owned());
        let e = p(&["--userns", "0", "--unshare-user", "true"]).unwrap_err();
        assert_eq!(
            both(e),
            (
                "--userns: conflicts with --unshare-user, --unshare-user-try and --unshare-all \
                 (it joins a user namespace instead of creating one)"
                    .into(),
                "--userns: conflicts with --unshare-user, --unshare-user-try and --unshare-all \
                 (it joins a user namespace instead of creating one)"
                    .into()
            )
        );
        let e = p(&["--size", "9223372036854775808", "--tmpfs", "/t", "true"]).unwrap_err();
        assert_eq!(
            both(e),
            (
                "--size: '9223372036854775808': too large (a tmpfs takes at most \
                 9223372036854775807 bytes, half the address space)"
                    .into(),
                "--size (for tmpfs) is limited to 9223372036854775807".into()
            )
        );
        let e = p(&["--file", "x", "/a", "true"]).unwrap_err();
        assert_eq!(
            both(e),
            (
                "--file: 'x': not a file descriptor number".into(),
                "Invalid fd: x".into()
            )
        );
        let bad = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"\xff");
        let args = ["--hostname".into(), bad.to_os_string(), "true".into()];
        let e = parse(args).unwrap_err();
        assert_eq!(e.render(false), "--hostname: '\u{fffd}': not valid UTF-8");
    }

    #[test]
    fn level_prefix_is_known_when_the_line_is_refused() {
        let front = |a: &[&str]| {
            let args = a.iter().map(OsString::from).collect();
            front("sbox", false, args, &profile::Host)
        };
        // Refused by clap, by a value, or after the parse: the flag before the command counts.
        for a in [
            &["--level-prefix", "--bogus", "true"][..],
            &["--level-prefix", "--chmod", "9999", "/x", "true"],
            &[
                "--bind",
                "/",
                "/",
                "--level-prefix",
                "--hostname",
                "h",
                "true",
            ],
            &["--level-prefix", "--args", "notanfd", "true"],
        ] {
            let r = front(a).expect_err("refused");
            assert!(r.level_prefix, "{a:?}");
        }
        // A value or the command's own argument is not the flag.
        for a in [
            &["--bogus", "true", "--level-prefix"][..],
            &["--setenv", "--level-prefix", "v", "--bogus", "true"],
        ] {
            assert!(!front(a).expect_err("refused").level_prefix, "{a:?}");
        }
        match front(&["--ro-bind", "/", "/", "--", "--level-prefix"]) {
            Ok(Front::Run(s)) => assert!(!s.level_prefix),
            _ => panic!("a sandbox"),
        }
        match front(&["--level-prefix", "--doctor"]) {
            Ok(Front::Mode { mode, level_prefix }) => {
                assert_eq!(mode, Mode::Doctor);
                assert!(level_prefix);
            }
            _ => panic!("a mode"),
        }
        match front(&["--level-prefix", "--ro-bind", "/", "/", "true"]) {
            Ok(Front::Run(s)) => assert!(s.level_prefix),
            _ => panic!("a sandbox"),
        }
    }

    #[test]
    fn the_bwrap_link_chooses_bubblewraps_defaults_as_spec_fields() {
        let spec = |bwrap| {
            let args = ["--ro-bind", "/", "/", "true"].map(OsString::from);
            parse_as(bwrap, args, &crate::profile::Host)
                .unwrap()
                .spec()
                .expect("a sandbox")
        };
        for bwrap in [false, true] {
            let s = spec(bwrap);
            let fields = [
                s.proc_host_writable,
                s.remount_ro_shallow,
                s.caller_terminal,
                s.caller_process_group,
                s.dies_of_signals,
                s.no_host_hint,
                s.landlock_domain_needs_pidns,
                s.userns_unlimited,
                s.shared_sync_fds,
                s.fds.keep_inherited,
            ];
            assert_eq!(fields, [bwrap; 10], "bwrap: {bwrap}");
        }
    }

    fn err(args: &[&str]) -> String {
        match p(args) {
            Err(e) => e.render(false).into(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn ops_keep_their_order() {
        let s = p(&[
            "--tmpfs",
            "/a",
            "--ro-bind",
            "/x",
            "/b",
            "--dir",
            "/c",
            "--bind",
            "/y",
            "/d",
            "--symlink",
            "t",
            "/e",
            "true",
        ])
        .unwrap();
        let dsts: Vec<_> = s.ops.iter().map(|o| o.dst().to_str().unwrap()).collect();
        assert_eq!(dsts, ["/a", "/b", "/c", "/d", "/e"]);
        assert_eq!(s.command, ["true"]);
    }

    #[test]
    fn command_stops_option_parsing() {
        let s = p(&["--unshare-pid", "sh", "-c", "--bind", "x"]).unwrap();
        assert_eq!(s.command, ["sh", "-c", "--bind", "x"]);
        assert!(s.ops.is_empty());
        let s = p(&["--", "--weird"]).unwrap();
        assert_eq!(s.command, ["--weird"]);
    }

    #[test]
    fn modifiers_apply_to_the_next_op_only() {
        let s = p(&[
            "--perms", "0700", "--size", "1M", "--tmpfs", "/t", "--tmpfs", "/u", "true",
        ])
        .unwrap();
        assert_eq!(
            s.ops[0],
            FsOp::Tmpfs {
                dst: "/t".into(),
                perms: Some(0o700),
                size: Some(1 << 20)
            }
        );
        assert_eq!(
            s.ops[1],
            FsOp::Tmpfs {
                dst: "/u".into(),
                perms: None,
                size: None
            }
        );
        assert!(
            err(&["--perms", "0700", "--perms", "0700", "--dir", "/x", "true"])
                .starts_with("--perms")
        );
        assert!(err(&["--perms", "9", "--dir", "/x", "true"]).contains("octal"));
        assert!(err(&["--size", "1M", "--dir", "/x", "true"]).starts_with("--size"));
        assert!(err(&["--perms", "0700", "true"]).starts_with("--perms"));
        // A tmpfs size is at most half the address space, as bubblewrap allows.
        let max = "9223372036854775807";
        assert_eq!(
            p(&["--size", max, "--tmpfs", "/t", "true"]).unwrap().ops[0],
            FsOp::Tmpfs {
                dst: "/t".into(),
                perms: None,
                size: Some(i64::MAX as u64)
            }
        );
        let e = p(&["--size", "9223372036854775809", "--tmpfs", "/t", "true"]).unwrap_err();
        assert_eq!(
            e.render(true),
            "--size (for tmpfs) is limited to 9223372036854775807"
        );
        assert!(
            e.render(false)
                .starts_with("--size: '9223372036854775809': too large")
        );
    }

    #[test]
    fn unshare_all_and_share_net() {
        let s = p(&["--unshare-all", "true"]).unwrap();
        assert!(s.ns.pid && s.ns.net && s.ns.ipc && s.ns.uts && s.ns.cgroup);
        let s = p(&["--unshare-all", "--share-net", "true"]).unwrap();
        assert!(s.ns.pid && !s.ns.net);
    }

    #[test]
    fn an_allowlist_gets_a_network_namespace() {
        let s = p(&[
            "--net-allow",
            "localhost:8080",
            "--net-allow",
            "*.Example.org",
            "true",
        ])
        .unwrap();
        assert!(s.ns.net);
        let shown: Vec<String> = s.net.allow.iter().map(|r| r.to_string()).collect();
        assert_eq!(shown, ["localhost:8080", "*.example.org"]);
        let s = p(&[
            "--unshare-all",
            "--net-allow",
            "a.test",
            "--net-deny",
            "b.a.test",
            "true",
        ])
        .unwrap();
        assert!(s.ns.net && s.net.deny.len() == 1);
        assert!(!p(&["true"]).unwrap().net.active());
        for (args, want) in [
            (
                &["--unshare-all", "--share-net", "--net-allow", "a.test"][..],
                "--share-net: conflicts with --net-allow",
            ),
            (&["--net-allow", ":99999"][..], "--net-allow: ':99999': "),
            (&["--net-allow", "*."][..], "--net-allow: '*.': "),
            (
                &["--net-deny", "a..b", "--net-allow", "a"][..],
                "--net-deny: 'a..b': ",
            ),
            (
                &["--net-allow", "10.0.0.0/8"][..],
                "--net-allow: '10.0.0.0/8': an address or CIDR needs a port",
            ),
            (&["--net-allow", ""][..], "--net-allow: '': empty rule"),
            (
                &["--net-deny", "a.test"][..],
                "--net-deny: refines an allowlist",
            ),
        ] {
            let e = err(&[args, &["true"]].concat());
            assert!(e.starts_with(want), "{args:?} gave {e:?}");
        }
        let many: Vec<String> = (1..=201)
            .flat_map(|p| ["--net-allow".to_string(), format!("a.test:{p}")])
            .collect();
        let mut args: Vec<&str> = many.iter().map(String::as_str).collect();
        args.push("true");
        assert!(err(&args).starts_with("--net-allow: 201 ports allowed: at most 200"));
    }

    #[test]
    fn caps_in_order_with_all() {
        let s = p(&["--cap-add", "ALL", "--cap-drop", "net_raw", "true"]).unwrap();
        assert!(!s.caps.contains(&caps::Capability::CAP_NET_RAW));
        assert!(s.caps.contains(&caps::Capability::CAP_SYS_ADMIN));
        let s = p(&[
            "--cap-add",
            "CAP_NET_RAW",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "chown",
            "true",
        ])
        .unwrap();
        assert_eq!(s.caps, [caps::Capability::CAP_CHOWN]);
        assert!(err(&["--cap-add", "CAP_FLY", "true"]).contains("unknown capability"));
    }

    #[test]
    fn env_ops_in_order() {
        let s = p(&[
            "--setenv",
            "A",
            "1",
            "--unsetenv",
            "B",
            "--setenv",
            "C",
            "2",
            "true",
        ])
        .unwrap();
        assert_eq!(
            s.env,
            [
                EnvOp::Set("A".into(), "1".into()),
                EnvOp::Unset("B".into()),
                EnvOp::Set("C".into(), "2".into())
            ]
        );
        assert!(err(&["--setenv", "A=B", "1", "true"]).starts_with("--setenv"));
    }

    #[test]
    fn errors_are_one_line_and_name_the_option() {
        for (args, start) in [
            (&["--bind", "/a"][..], "--bind"),
            (&["--uid", "abc", "true"][..], "--uid"),
            (&["--frobnicate", "true"][..], "--frobnicate"),
            (&["--hostname", "h", "true"][..], "--hostname"),
            (&["--as-pid-1", "true"][..], "--as-pid-1"),
            (&[][..], "no command"),
        ] {
            let e = err(args);
            assert!(e.starts_with(start), "{args:?} gave {e:?}");
            assert!(!e.contains('\n'), "{e:?}");
        }
    }

    #[test]
    fn every_option_value_may_start_with_a_hyphen() {
        let mut cmd = command();
        cmd.build();
        let mut checked = 0;
        for a in cmd.get_arguments() {
            let (Some(long), Some(n)) = (a.get_long(), a.get_num_args()) else {
                continue;
            };
            if !a.get_action().takes_values() || n.max_values() == 0 || a.is_require_equals_set() {
                continue;
            }
            let values: Vec<String> = (0..n.min_values()).map(|i| format!("-v{i}")).collect();
            let mut argv = vec!["sbox".to_string(), format!("--{long}")];
            argv.extend(values.iter().cloned());
            argv.push("true".into());
            let m = match command().try_get_matches_from(&argv) {
                Ok(m) => m,
                // A typed option (--uid, a port) refusing `-v0` took it as its value.
                Err(e)
                    if e.kind() == ErrorKind::ValueValidation
                        || e.kind() == ErrorKind::InvalidValue =>
                {
                    checked += 1;
                    continue;
                }
                Err(e) => panic!("{argv:?}: {e}"),
            };
            let raw: Vec<String> = m
                .get_raw(a.get_id().as_str())
                .unwrap()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            assert_eq!(raw, values, "--{long}");
            checked += 1;
        }
        assert!(checked > 50, "{checked}");
        // A missing value at the end is still an error, as in bubblewrap.
        assert!(err(&["--setenv", "A"]).starts_with("--setenv: missing argument"));
        assert!(err(&["--bind", "/a"]).starts_with("--bind: missing argument"));
        let s = p(&["--setenv", "LESS", "-R", "--unsetenv", "-x", "true"]).unwrap();
        assert_eq!(
            s.env,
            [
                EnvOp::Set("LESS".into(), "-R".into()),
                EnvOp::Unset("-x".into())
            ]
        );
    }

    #[test]
    fn limits() {
        let s = p(&["--mem", "512K", "--pids", "10", "--cpu", "150%", "true"]).unwrap();
        assert_eq!(s.limits.memory, Some(512 * 1024));
        assert_eq!(s.limits.pids, Some(10));
        assert_eq!(s.limits.cpu_percent, Some(150));
        assert_eq!(
            p(&["--cpu", "10", "true"]).unwrap().limits.cpu_percent,
            Some(10)
        );
        assert!(!p(&["true"]).unwrap().limits.any());
        for (args, start) in [
            (&["--cpu", "0%", "true"][..], "--cpu: '0%'"),
            (&["--cpu", "-5%", "true"][..], "--cpu"),
            (&["--cpu", "1.5", "true"][..], "--cpu"),
            (&["--cpu", "%", "true"][..], "--cpu"),
            (&["--pids", "0", "true"][..], "--pids: '0'"),
            (&["--pids", "x", "true"][..], "--pids"),
            (&["--mem", "0", "true"][..], "--mem: '0'"),
            (&["--mem", "12Q", "true"][..], "--mem"),
        ] {
            let e = err(args);
            assert!(e.starts_with(start), "{args:?} gave {e:?}");
            assert!(!e.contains('\n'), "{e:?}");
        }
    }

    #[test]
    fn seccomp_and_landlock_options() {
        let s = p(&[
            "--seccomp-profile",
            "strict",
            "--seccomp-allow",
            "syslog",
            "--seccomp-deny",
            "keyctl",
            "--seccomp-deny",
            "ptrace:EACCES",
            "--seccomp-deny",
            "bpf:38",
            "--seccomp-allow-32bit",
            "--allow-userns",
            "--landlock",
            "--landlock-ro",
            "/usr",
            "--landlock-rw",
            "/tmp",
            "--landlock-tcp-connect",
            "443",
            "--landlock-tcp-connect",
            "80",
            "--landlock-tcp-bind",
            "8080",
            "true",
        ])
        .unwrap();
        assert_eq!(s.seccomp.profile, SeccompProfile::Strict);
        assert_eq!(s.seccomp.allow, ["syslog"]);
        assert_eq!(
            s.seccomp.deny,
            [
                ("keyctl".to_string(), nix::errno::Errno::EPERM as i32),
                ("ptrace".to_string(), nix::errno::Errno::EACCES as i32),
                ("bpf".to_string(), nix::errno::Errno::ENOSYS as i32)
            ]
        );
        assert!(s.seccomp.allow_32bit && s.allow_userns && s.landlock.from_mounts);
        assert_eq!(s.landlock.ro, [PathBuf::from("/usr")]);
        assert_eq!(s.landlock.rw, [PathBuf::from("/tmp")]);
        assert_eq!(s.landlock.tcp_connect, [443, 80]);
        assert_eq!(s.landlock.tcp_bind, [8080]);

        let d = p(&["true"]).unwrap();
        assert_eq!(d.seccomp.profile, SeccompProfile::Default);
        assert!(!d.landlock.enabled() && !d.allow_userns);
    }

    #[test]
    fn seccomp_and_landlock_errors() {
        for (args, want) in [
            (
                &["--seccomp-profile", "lax"][..],
                "--seccomp-profile: 'lax': unknown profile",
            ),
            (
                &["--seccomp-allow", "frob"][..],
                "--seccomp-allow: 'frob': 'frob' is not a syscall",
            ),
            (
                &["--seccomp-deny", "vm86"][..],
                "--seccomp-deny: 'vm86': 'vm86' is not a syscall",
            ),
            (
                &["--seccomp-deny", "keyctl:EFOO"][..],
                "--seccomp-deny: 'keyctl:EFOO': 'EFOO' is not an errno",
            ),
            (
                &["--seccomp-deny", "keyctl:0"][..],
                "--seccomp-deny: 'keyctl:0': '0' is not an errno",
            ),
            (
                &["--seccomp-deny", "keyctl:"][..],
                "--seccomp-deny: 'keyctl:': '' is not an errno",
            ),
            (
                &["--landlock-ro", "usr"][..],
                "--landlock-ro: 'usr': not an absolute path",
            ),
            (
                &["--landlock-tcp-bind", "70000"][..],
                "--landlock-tcp-bind: '70000'",
            ),
            (
                &["--landlock-tcp-connect", "http"][..],
                "--landlock-tcp-connect: 'http'",
            ),
        ] {
            let e = err(&[args, &["true"]].concat());
            assert!(e.starts_with(want), "{args:?} gave {e:?}");
            assert!(!e.contains('\n'), "{e:?}");
        }
    }

    #[test]
    fn one_table_drives_clap_args_arities_and_op_names() {
        let mut cmd = command();
        cmd.build();
        for o in OPTIONS {
            let a = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(o.long()))
                .unwrap_or_else(|| panic!("{} is not in clap", o.name));
            let clap_arity = if a.get_action().takes_values() {
                a.get_num_args().map_or(1, |r| r.min_values())
            } else {
                0
            };
            assert_eq!(o.arity(), clap_arity, "{}", o.name);
            assert_eq!(options::find(o.long()).map(|f| f.name), Some(o.name));
        }
        let longs = cmd
            .get_arguments()
            .filter(|a| a.get_long().is_some())
            .count();
        // clap adds --help.
        assert_eq!(longs, OPTIONS.len() + 1);
        // Each operation's option, as its errors name it, is the one that makes it.
        let s = p(&[
            "--bind-try",
            "/a",
            "/b",
            "--tmp-overlay",
            "/c",
            "--ro-bind-data",
            "3",
            "/d",
            "--chmod",
            "755",
            "/e",
            "true",
        ])
        .unwrap_err();
        assert!(s.render(false).starts_with("--tmp-overlay"), "{s:?}");
        let s = p(&[
            "--bind-try",
            "/a",
            "/b",
            "--ro-bind-data",
            "3",
            "/d",
            "--chmod",
            "755",
            "/e",
            "true",
        ])
        .unwrap();
        let names: Vec<_> = s.ops.iter().map(FsOp::option).collect();
        assert_eq!(names, ["--bind-try", "--ro-bind-data", "--chmod"]);
    }

    /// --help, --version, --explain and --list-profiles print and succeed: not errors.
    #[test]
    fn output_is_not_an_error() {
        let out = |args: &[&str]| match parse(args.iter().map(OsString::from)) {
            Ok(Parsed::Print(text)) => text,
            other => panic!("{args:?}: {other:?}"),
        };
        assert!(out(&["--help"]).starts_with("usage: sbox "));
        assert!(out(&["--version"]).contains(env!("CARGO_PKG_VERSION")));
        assert!(out(&["--explain", "--unshare-pid"]).contains("pid"));
        out(&["--list-profiles"]);
        assert_eq!(mode(&["--doctor".into(), "--help".into()]), Ok(None));
    }

    /// Found by tests/properties.rs: a value or an unknown option with a newline in it made a
    /// second line, and an unknown option was cut at its first blank.
    #[test]
    fn errors_stay_one_line_and_name_the_option() {
        for (args, want) in [
            (
                &["--info-fd", "a\nsbox: x"][..],
                "--info-fd: 'a\\nsbox: x': not a file",
            ),
            (
                &["--size", "\r", "--tmpfs", "/t"][..],
                "--size: '\\r': not a size",
            ),
            (
                &["--chmod", "7\u{1b}[2J", "/a"][..],
                "--chmod: '7\\u{1b}[2J': not an octal",
            ),
            (&["-\n"][..], "-\\n: unknown option"),
            (&["--no such"][..], "--no such: unknown option"),
        ] {
            let e = err(&[args, &["true"]].concat());
            assert!(e.starts_with(want), "{args:?} gave {e:?}");
            assert!(!e.contains(char::is_control), "{e:?}");
        }
        let e = p(&["-\n", "true"]).unwrap_err();
        assert_eq!(e.render(true), "Unknown option -\\n");
    }

    /// Found by the fuzz target: clap's error for text that is not UTF-8 named no option.
    #[test]
    fn text_that_is_not_utf8_names_its_option() {
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(b"h\xff".to_vec());
        for (args, want) in [
            (
                vec!["--hostname".into(), bad()],
                "--hostname: 'h\u{fffd}': not valid UTF-8",
            ),
            // A path may be any bytes: the option that takes text is named.
            (
                vec!["--bind".into(), bad(), "/x".into(), "--uid".into(), bad()],
                "--uid: 'h\u{fffd}': not valid UTF-8",
            ),
            (
                vec![OsString::from_vec(b"--perms=7\xff".to_vec())],
                "--perms: '7\u{fffd}': not valid UTF-8",
            ),
        ] {
            let args: Vec<OsString> = args.into_iter().chain(["true".into()]).collect();
            let e = parse(args.clone()).unwrap_err();
            assert_eq!(e.render(false), want, "{args:?}");
            assert_eq!(mode(&[&args[..], &["--doctor".into()]].concat()), Err(e));
        }
    }

    /// Each flag and descriptor option of the table sets its own field.
    #[test]
    fn table_options_set_their_field() {
        let mut n = 0;
        for o in OPTIONS {
            let Some(apply) = o.apply else { continue };
            // A value of the option's type, and what it needs besides.
            let value = match o.long() {
                "mem" => "1M",
                "seccomp-profile" => "strict",
                "seccomp-allow" => "syslog",
                "seccomp-deny" => "keyctl",
                "cap-add" => "CAP_NET_RAW",
                "cap-drop" => "ALL",
                "join-ns" => "net:/x",
                "sysctl" => "net.core.somaxconn=7",
                "rlimit" => "NOFILE=7",
                "uid-map" | "gid-map" => "0:7:1",
                "net-allow" => "localhost:7",
                "net-deny" => "localhost",
                _ => match apply {
                    Apply::Path(_) | Apply::Paths(_) | Apply::PathSet(_) => "/x",
                    _ => "7",
                },
            };
            let extra: &[&str] = match o.long() {
                "userns2" => &["--userns", "8"],
                "userns-block-fd" => &["--unshare-user", "--info-fd", "8"],
                "as-pid-1" => &["--unshare-pid"],
                "hostname" => &["--unshare-uts"],
                "cap-drop" => &["--cap-add", "CAP_NET_RAW"],
                "sysctl" => &["--unshare-net", "--unshare-pid"],
                "net-deny" => &["--net-allow", "a.test"],
                _ => &[],
            };
            let mut args = extra.to_vec();
            args.push(o.name);
            args.extend(match apply {
                Apply::Flag(_) => &[][..],
                Apply::Env(_) => &["X", "1"][..o.values.len()],
                _ => std::slice::from_ref(&value),
            });
            args.push("true");
            let mut s = p(&args).unwrap_or_else(|e| panic!("{args:?}: {e:?}"));
            let mut d = p(&[extra, &["true"]].concat()).unwrap();
            assert_ne!(s, d, "{args:?} changed nothing");
            let (pb, os) = (PathBuf::from(value), OsString::from(value));
            match apply {
                Apply::Flag(f) => assert!(*f(&mut s) && !*f(&mut d), "{}", o.name),
                Apply::Fd(f) => assert_eq!((*f(&mut s), *f(&mut d)), (Some(7), None)),
                Apply::Fds(f) => assert_eq!((&f(&mut s)[..], &f(&mut d)[..]), (&[7][..], &[][..])),
                Apply::Str(f) => assert_eq!(f(&mut s).as_deref(), Some(value)),
                Apply::Path(f) => assert_eq!(f(&mut s).as_ref(), Some(&pb)),
                Apply::OsStr(f) => assert_eq!(f(&mut s).as_ref(), Some(&os)),
                Apply::Id(f) => assert_eq!(*f(&mut s), Some(7)),
                Apply::Paths(f) | Apply::PathSet(f) => assert_eq!(f(&mut s).last(), Some(&pb)),
                Apply::Ports(f) => assert_eq!(f(&mut s).last(), Some(&7)),
                Apply::Parse(_) => {}
                Apply::Env(edit) => {
                    let v: Vec<OsString> =
                        args[1..=o.values.len()].iter().map(|a| a.into()).collect();
                    assert_eq!(s.env.last(), Some(&edit(&v)));
                }
                Apply::Cap(add) => assert_eq!(s.caps.is_empty(), !add, "{}", o.name),
            }
            n += 1;
        }
        assert_eq!(n, 61);
    }
}
