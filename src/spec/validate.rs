//! The rules that relate one part of a `Spec` to another, checked once on the finished `Spec`
//! whichever front end built it (command line, profiles, both), before anything starts. What
//! a front end can say better (a profile's file and line) it checks too, with the same rule
//! from here.

use super::{EnvOp, FsOp, OverlayUpper, Spec};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A broken rule, as a front end reports it: sbox's one line, and bubblewrap's phrase where
/// it has one (programs that drive bwrap match it).
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub bwrap: Option<&'static str>,
}

impl From<Broken> for Invalid {
    fn from(b: Broken) -> Invalid {
        Invalid {
            message: b.to_string(),
            bwrap: b.bwrap(),
        }
    }
}

/// Which rule is broken, with the values concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum Broken {
    Userns2WithoutUserns,
    DisableUsernsJoined,
    AssertConflictsWithDisable,
    UsernsBlockWithoutInfo,
    UsernsBlockConflictsWithDisable,
    PlantedNotAbsolute(PathBuf),
    HostnameWithoutUts,
    AsPid1WithoutPid,
    /// An environment name (`opt`: the option or profile key) that is no variable name.
    EnvName {
        opt: &'static str,
        name: OsString,
    },
    /// An overlay (`option`) with fewer lower layers than it needs.
    TooFewLayers {
        option: &'static str,
        upper: Upper,
    },
    /// A Landlock path (`opt`) that is not a plain absolute path inside.
    InsidePath {
        opt: &'static str,
        why: PathRule,
    },
    /// An allowlist without a network namespace of the sandbox's own.
    AllowlistSharesNet,
    /// More distinct allowed ports than listeners can be handed over.
    TooManyPorts(usize),
    /// Deny rules without any allow rule.
    DenyWithoutAllow,
}

/// An overlay's kind of upper layer, as the rule words it.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Upper {
    Dir,
    Tmp,
    ReadOnly,
}

impl Upper {
    fn of(upper: &OverlayUpper) -> Upper {
        match upper {
            OverlayUpper::Dir { .. } => Upper::Dir,
            OverlayUpper::Tmp => Upper::Tmp,
            OverlayUpper::ReadOnly => Upper::ReadOnly,
        }
    }
}

/// What is wrong with a path as seen inside the sandbox.
#[derive(Debug, PartialEq, Eq)]
pub enum PathRule {
    NotAbsolute(PathBuf),
    DotDot(PathBuf),
}

/// An environment name that is no variable name.
#[derive(Debug, PartialEq, Eq)]
pub struct NotAName(pub OsString);

impl fmt::Display for NotAName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}': not a variable name", self.0.to_string_lossy())
    }
}

impl fmt::Display for PathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathRule::NotAbsolute(p) => write!(
                f,
                "'{}': not an absolute path (paths are as seen inside the sandbox)",
                p.display()
            ),
            PathRule::DotDot(p) => write!(f, "'{}': '..' is not allowed", p.display()),
        }
    }
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Broken::*;
        match self {
            Userns2WithoutUserns => f.write_str("--userns2: needs --userns"),
            DisableUsernsJoined => f.write_str(
                "--disable-userns: needs a user namespace of sbox's own, not one joined with \
                 --userns",
            ),
            AssertConflictsWithDisable => {
                f.write_str("--assert-userns-disabled: conflicts with --disable-userns")
            }
            UsernsBlockWithoutInfo => {
                f.write_str("--userns-block-fd: needs --info-fd (to learn the child pid)")
            }
            UsernsBlockConflictsWithDisable => {
                f.write_str("--userns-block-fd: conflicts with --disable-userns")
            }
            PlantedNotAbsolute(dir) => write!(
                f,
                "--report-planted: {}: not an absolute path",
                dir.display()
            ),
            HostnameWithoutUts => f.write_str(
                "--hostname: needs a UTS namespace: add --unshare-uts (in a profile: uts = true \
                 under [namespaces])",
            ),
            AsPid1WithoutPid => f.write_str("--as-pid-1: needs a PID namespace: add --unshare-pid"),
            EnvName { opt, name } => write!(f, "{opt}: {}", NotAName(name.clone())),
            TooFewLayers { option, upper } => write!(
                f,
                "{option}: needs at least {} --overlay-src before it",
                match upper {
                    Upper::ReadOnly => 2,
                    Upper::Dir | Upper::Tmp => 1,
                }
            ),
            InsidePath { opt, why } => write!(f, "{opt}: {why}"),
            AllowlistSharesNet => f.write_str(
                "--net-allow: needs a network namespace of the sandbox's own (conflicts with \
                 --share-net and a profile's net = \"host\")",
            ),
            TooManyPorts(n) => write!(
                f,
                "--net-allow: {n} ports allowed: at most {MAX_PORTS} (each gets a listener)"
            ),
            DenyWithoutAllow => f.write_str(
                "--net-deny: refines an allowlist: add --net-allow rules (without one the \
                 sandbox has the host's network or none)",
            ),
        }
    }
}

impl Broken {
    /// bubblewrap's phrase, where it has one.
    pub fn bwrap(&self) -> Option<&'static str> {
        match self {
            Broken::UsernsBlockWithoutInfo => Some("--userns-block-fd requires --info-fd"),
            Broken::HostnameWithoutUts => Some("Specifying --hostname requires --unshare-uts"),
            Broken::AsPid1WithoutPid => Some("Specifying --as-pid-1 requires --unshare-pid"),
            Broken::TooFewLayers { upper, .. } => Some(match upper {
                Upper::Dir => "--overlay requires at least one --overlay-src",
                Upper::Tmp => "--tmp-overlay requires at least one --overlay-src",
                Upper::ReadOnly => "--ro-overlay requires at least two --overlay-src",
            }),
            _ => None,
        }
    }
}

/// The most distinct ports an allowlist may name.
pub const MAX_PORTS: usize = 200;

/// Every cross-option rule of a `Spec`.
pub fn validate(spec: &Spec) -> Result<(), Invalid> {
    check(spec).map_err(Invalid::from)
}

fn check(spec: &Spec) -> Result<(), Broken> {
    let ns = &spec.ns;
    if ns.userns2.is_some() && ns.userns.is_none() {
        return Err(Broken::Userns2WithoutUserns);
    }
    if ns.disable_userns && ns.userns.is_some() {
        return Err(Broken::DisableUsernsJoined);
    }
    if ns.disable_userns && ns.assert_userns_disabled {
        return Err(Broken::AssertConflictsWithDisable);
    }
    if spec.fds.userns_block.is_some() {
        if spec.fds.info.is_none() {
            return Err(Broken::UsernsBlockWithoutInfo);
        }
        if ns.disable_userns {
            return Err(Broken::UsernsBlockConflictsWithDisable);
        }
    }
    if let Some(dir) = spec.report_planted.iter().find(|d| !d.is_absolute()) {
        return Err(Broken::PlantedNotAbsolute(dir.clone()));
    }
    // A hostname is only private in a UTS namespace of the sandbox's own: from a profile as
    // from the command line, it is asked for, not implied.
    if spec.hostname.is_some() && !ns.uts {
        return Err(Broken::HostnameWithoutUts);
    }
    if spec.as_pid_1 && !ns.pid {
        return Err(Broken::AsPid1WithoutPid);
    }
    for op in &spec.ops {
        if let FsOp::Overlay { lower, upper, .. } = op
            && lower.len() < layers_needed(upper)
        {
            return Err(Broken::TooFewLayers {
                option: op.option(),
                upper: Upper::of(upper),
            });
        }
    }
    if spec.net.active() && !ns.net {
        return Err(Broken::AllowlistSharesNet);
    }
    // One listener per allowed port, all handed over in one message (the kernel passes at
    // most 253 descriptors at a time).
    if spec.net.ports().len() > MAX_PORTS {
        return Err(Broken::TooManyPorts(spec.net.ports().len()));
    }
    if !spec.net.deny.is_empty() && !spec.net.active() {
        return Err(Broken::DenyWithoutAllow);
    }
    for op in &spec.env {
        let (opt, name) = match op {
            EnvOp::Set(k, _) => ("--setenv", k.as_os_str()),
            EnvOp::Unset(k) => ("--unsetenv", k.as_os_str()),
            EnvOp::Keep(k) => ("env.keep", OsStr::new(k)),
            EnvOp::Offline(k, _) => ("env.offline", k.as_os_str()),
        };
        env_name(name).map_err(|NotAName(name)| Broken::EnvName { opt, name })?;
    }
    for (opt, list) in [
        ("--landlock-ro", &spec.landlock.ro),
        ("--landlock-rw", &spec.landlock.rw),
    ] {
        for p in list {
            inside_path(p).map_err(|why| Broken::InsidePath { opt, why })?;
        }
    }
    Ok(())
}

/// The lower layers an overlay needs: two when none is writable (overlayfs has nothing to
/// merge otherwise), else one.
pub fn layers_needed(upper: &OverlayUpper) -> usize {
    match upper {
        OverlayUpper::ReadOnly => 2,
        OverlayUpper::Dir { .. } | OverlayUpper::Tmp => 1,
    }
}

/// An environment variable's name (or a profile's `keep` pattern): not empty, no `=`.
pub fn env_name(name: &OsStr) -> Result<(), NotAName> {
    if name.is_empty() || name.as_encoded_bytes().contains(&b'=') {
        return Err(NotAName(name.to_os_string()));
    }
    Ok(())
}

/// A path as seen inside the sandbox, for a rule that compares paths (Landlock): absolute,
/// and without `..`, which would name something else than it seems once resolved.
pub fn inside_path(p: &Path) -> Result<(), PathRule> {
    if !p.is_absolute() {
        return Err(PathRule::NotAbsolute(p.to_path_buf()));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(PathRule::DotDot(p.to_path_buf()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> crate::spec::net::Rule {
        crate::spec::net::parse_rule("--net-allow", s).unwrap()
    }

    /// Whatever built the Spec (a future OCI front end too), the rules hold.
    #[test]
    fn a_spec_built_by_any_front_end_is_checked() {
        let ok = Spec::default();
        assert_eq!(validate(&ok), Ok(()));
        type Break = fn(&mut Spec);
        let broken: [(Break, &str); 11] = [
            (
                |s| s.net.allow.push(rule("localhost:1")),
                "--net-allow: needs a network namespace",
            ),
            (
                |s| s.net.deny.push(rule("localhost")),
                "--net-deny: refines an allowlist",
            ),
            (
                |s| {
                    s.ops.push(FsOp::Overlay {
                        lower: vec!["/a".into()],
                        upper: OverlayUpper::ReadOnly,
                        dst: "/o".into(),
                    })
                },
                "--ro-overlay: needs at least 2 --overlay-src before it",
            ),
            (
                |s| {
                    s.ops.push(FsOp::Overlay {
                        lower: vec![],
                        upper: OverlayUpper::Tmp,
                        dst: "/o".into(),
                    })
                },
                "--tmp-overlay: needs at least 1 --overlay-src before it",
            ),
            (|s| s.hostname = Some("h".into()), "--hostname: needs a UTS"),
            (|s| s.as_pid_1 = true, "--as-pid-1: needs a PID"),
            (|s| s.ns.userns2 = Some(3), "--userns2: needs --userns"),
            (
                |s| s.fds.userns_block = Some(3),
                "--userns-block-fd: needs --info-fd",
            ),
            (
                |s| s.env.push(EnvOp::Keep(String::new())),
                "env.keep: '': not",
            ),
            (
                |s| s.landlock.rw.push("tmp".into()),
                "--landlock-rw: 'tmp': not an absolute",
            ),
            (
                |s| s.report_planted.push("rel".into()),
                "--report-planted: rel:",
            ),
        ];
        for (breaks, want) in broken {
            let mut s = Spec::default();
            breaks(&mut s);
            let e = validate(&s).unwrap_err();
            assert!(e.message.starts_with(want), "{e:?}");
        }
        let mut s = Spec {
            hostname: Some("h".into()),
            ..Spec::default()
        };
        s.ns.uts = true;
        assert_eq!(validate(&s), Ok(()));
        s.ns.net = true;
        s.net.allow.push(rule("localhost:1"));
        s.net.deny.push(rule("localhost"));
        assert_eq!(validate(&s), Ok(()));
    }
}
