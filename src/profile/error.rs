//! Why loading profiles failed: data, worded here (`Display`). The command line puts
//! `--profile: ` before it (cli.rs).

use crate::spec::values::ValueError;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum ProfileError {
    /// At a position of a profile or allowlist file (1-based line and column, in characters).
    At {
        file: PathBuf,
        line: usize,
        col: usize,
        why: Box<ProfileError>,
    },
    /// Under a key of the profile: `network.allowlist`, `allow_registry NAME`.
    Key { key: String, why: Box<ProfileError> },
    /// A file that exists could not be read.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A reference that is no profile name.
    NotAName(String),
    /// A reference by path to no file.
    NoSuchFile(String),
    /// `builtin:NAME` with no compiled-in profile NAME.
    NoBuiltin { given: String, name: String },
    /// A name found in no directory of the search path.
    NoSuchProfile {
        given: String,
        searched: Vec<PathBuf>,
    },
    /// `extends` leading back to a file on the way there (`chain`: the labels, outermost
    /// first); `shipped`: a compiled-in profile of that name exists.
    Cycle {
        given: String,
        chain: Vec<String>,
        shipped: bool,
    },
    /// A value with `${` and no `}` after it.
    Unclosed(String),
    /// A variable sbox refused to give a value (`why`: the host's reason, e.g. no project).
    Refused { name: String, why: String },
    /// A known variable with no value on this host.
    Unset(String),
    /// A variable sbox doesn't know.
    UnknownVariable(String),
    /// A path that is not absolute.
    NotAbsolute(String),
    /// A path with `..`.
    DotDot(String),
    /// A `[[mounts]]` field its kind doesn't take (`takes`: the fields it does).
    MountTakesNo {
        kind: &'static str,
        field: &'static str,
        takes: &'static [&'static str],
    },
    /// A `[[mounts]]` entry without a field its kind needs.
    MountNeeds {
        kind: &'static str,
        field: &'static str,
    },
    /// An overlay with only one of `upper` and `work`.
    OverlayUpperWithoutWork,
    /// An overlay with fewer `lower` directories than it needs.
    OverlayNeedsLower,
    /// `create = true` on a source below none of the variables it may start from.
    CreateOutsideVars,
    /// `network.allow` with `net = "host"`.
    AllowWithHostNet,
    /// An environment name that is no variable name.
    EnvName(crate::spec::validate::NotAName),
    /// A symlink on a profile's path that a previous sandbox could have planted (`to`: its
    /// target, `?` when unreadable; `fix`: what to do instead).
    PlantedLink {
        link: PathBuf,
        to: String,
        fix: &'static str,
    },
    /// A root-owned symlink on a system path, when the caller is root (who could have made
    /// it: no telling it apart).
    RootLink {
        link: PathBuf,
        to: PathBuf,
        fix: &'static str,
    },
    /// A project that would be `/` (`root`) or the home or one of its parents.
    WholeProject { project: PathBuf, root: bool },
    /// A profile or allowlist (`given`) below the host source `src` of a writable mount
    /// (`option` on `dst`) that nothing later covers.
    Rewritable {
        given: PathBuf,
        option: &'static str,
        src: PathBuf,
        dst: PathBuf,
    },
    /// `allow_registry` naming no tool sbox knows.
    UnknownTool(String),
    /// A registry tool (`prog args`) run on the host that gave no answer.
    Tool {
        prog: PathBuf,
        args: Vec<String>,
        failure: ToolFailure,
    },
    /// A registry URL sbox can't make an allow rule of.
    Url { url: String, why: &'static str },
    /// A cargo config whose `replace-with` leads back to a source on the way.
    ReplaceCycle,
    /// The TOML reader's own words (syntax, unknown keys, types).
    Toml(String),
    /// A value that doesn't parse.
    Value(ValueError),
}

/// How a registry tool failed.
#[derive(Debug)]
pub enum ToolFailure {
    Spawn(std::io::Error),
    /// No answer within this many seconds.
    Timeout(u64),
    Failed(std::process::ExitStatus),
}

impl ProfileError {
    /// `why` at the start of `span` in `text` (the file at `file`).
    pub fn at(
        file: &std::path::Path,
        text: &str,
        span: std::ops::Range<usize>,
        why: ProfileError,
    ) -> ProfileError {
        let before = &text[..span.start.min(text.len())];
        ProfileError::At {
            file: file.to_path_buf(),
            line: before.matches('\n').count() + 1,
            col: before.rsplit('\n').next().unwrap_or("").chars().count() + 1,
            why: Box::new(why),
        }
    }

    pub fn key(key: impl Into<String>, why: ProfileError) -> ProfileError {
        ProfileError::Key {
            key: key.into(),
            why: Box::new(why),
        }
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        use ProfileError::*;
        match self {
            At {
                file,
                line,
                col,
                why,
            } => write!(f, "{}:{line}:{col}: {why}", file.display()),
            Key { key, why } => write!(f, "{key}: {why}"),
            Read { path, error } => write!(f, "{}: {error}", path.display()),
            NotAName(r) => write!(f, "'{r}': not a profile name (letters, digits, . _ -)"),
            NoSuchFile(r) => write!(f, "'{r}': no such file"),
            NoBuiltin { given, name } => write!(
                f,
                "'{given}': sbox has no built-in profile '{name}' (see sbox --list-profiles)"
            ),
            NoSuchProfile { given, searched } => {
                let dirs: Vec<String> = searched.iter().map(|d| d.display().to_string()).collect();
                write!(
                    f,
                    "'{given}': no such profile (searched {}; see sbox --list-profiles)",
                    dirs.join(":")
                )
            }
            Cycle {
                given,
                chain,
                shipped,
            } => {
                write!(
                    f,
                    "extends '{given}': a cycle ({} -> {given}",
                    chain.join(" -> ")
                )?;
                if *shipped {
                    write!(f, "; 'builtin:{given}' names the shipped one")?;
                }
                f.write_str(")")
            }
            Unclosed(s) => write!(f, "'{s}': '${{' without a closing '}}'"),
            Refused { name, why } => write!(f, "${{{name}}}: {why}"),
            Unset(name) => write!(f, "${{{name}}} has no value here (not set)"),
            UnknownVariable(name) => {
                let known: Vec<String> = super::VARIABLES
                    .iter()
                    .map(|v| format!("${{{v}}}"))
                    .collect();
                write!(
                    f,
                    "${{{name}}}: unknown variable (known: {})",
                    known.join(", ")
                )
            }
            NotAbsolute(s) => write!(f, "'{s}': not an absolute path"),
            DotDot(s) => write!(f, "'{s}': '..' is not allowed"),
            MountTakesNo { kind, field, takes } => write!(
                f,
                "a {kind} mount takes no '{field}' (it takes {})",
                takes.join(", ")
            ),
            MountNeeds { kind, field } => write!(f, "a {kind} mount needs '{field}'"),
            OverlayUpperWithoutWork => {
                f.write_str("an overlay mount takes 'upper' and 'work' together")
            }
            OverlayNeedsLower => {
                f.write_str("an overlay mount needs 'lower' (a list of directories, topmost first)")
            }
            CreateOutsideVars => f.write_str(
                "create = true needs a src below ${HOME}, ${XDG_CACHE_HOME}, ${CWD} or ${PROJECT}",
            ),
            AllowWithHostNet => f.write_str(
                "network.allow: conflicts with net = \"host\" under [namespaces] (an allowlist \
                 reaches the outside only through sbox)",
            ),
            EnvName(e) => write!(f, "{e}"),
            PlantedLink { link, to, fix } => write!(
                f,
                "{}: is a symbolic link (to {to}), which a previous sandbox could have planted: \
                 remove it, or {fix}",
                link.display()
            ),
            RootLink { link, to, fix } => write!(
                f,
                "{}: is a symbolic link (to {}), and for root sbox can't tell a system link from \
                 one a sandbox planted: run as a normal user, or {fix}",
                link.display(),
                to.display()
            ),
            WholeProject { project, root } => write!(
                f,
                "{}: the project would be {}: cd into the project's directory, or name it with \
                 --project DIR",
                project.display(),
                if *root {
                    "the whole filesystem"
                } else {
                    "your home directory or a parent of it"
                }
            ),
            Rewritable {
                given,
                option,
                src,
                dst,
            } => write!(
                f,
                "{}: the sandbox could rewrite it ({option} {} on {}), and with it the policy of \
                 its next run: keep profiles and allowlists outside writable mounts, or cover \
                 their directory with a read-only bind (see README)",
                given.display(),
                src.display(),
                dst.display()
            ),
            UnknownTool(n) => write!(f, "allow_registry: '{n}': unknown tool (npm, pip or cargo)"),
            Tool {
                prog,
                args,
                failure,
            } => {
                write!(f, "allow_registry: {} {}: ", prog.display(), args.join(" "))?;
                match failure {
                    ToolFailure::Spawn(e) => write!(f, "{e}"),
                    ToolFailure::Timeout(s) => write!(f, "no answer within {s} s"),
                    ToolFailure::Failed(status) => write!(f, "failed ({status})"),
                }
            }
            Url { url, why } => write!(f, "'{url}': {why}"),
            ReplaceCycle => f.write_str("source replace-with: a cycle"),
            Toml(why) => f.write_str(why),
            Value(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ProfileError {}
