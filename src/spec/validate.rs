//! The rules that relate one part of a `Spec` to another, checked once on the finished `Spec`
//! whichever front end built it (command line, profiles, both), before anything starts. What
//! a front end can say better (a profile's file and line) it checks too, with the same rule
//! from here.

use super::{EnvOp, FsOp, OverlayUpper, Spec};
use std::ffi::OsStr;
use std::path::{Component, Path};

/// A broken rule: sbox's one line, and bubblewrap's phrase where it has one (programs that
/// drive bwrap match it).
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub bwrap: Option<&'static str>,
}

fn invalid(message: impl Into<String>) -> Result<(), Invalid> {
    Err(Invalid {
        message: message.into(),
        bwrap: None,
    })
}

fn phrased(message: impl Into<String>, bwrap: &'static str) -> Result<(), Invalid> {
    Err(Invalid {
        message: message.into(),
        bwrap: Some(bwrap),
    })
}

/// The most distinct ports an allowlist may name.
pub const MAX_PORTS: usize = 200;

/// Every cross-option rule of a `Spec`.
pub fn validate(spec: &Spec) -> Result<(), Invalid> {
    let ns = &spec.ns;
    if ns.userns2.is_some() && ns.userns.is_none() {
        return invalid("--userns2: needs --userns");
    }
    if ns.disable_userns && ns.userns.is_some() {
        return invalid(
            "--disable-userns: needs a user namespace of sbox's own, not one joined with --userns",
        );
    }
    if ns.disable_userns && ns.assert_userns_disabled {
        return invalid("--assert-userns-disabled: conflicts with --disable-userns");
    }
    if spec.fds.userns_block.is_some() {
        if spec.fds.info.is_none() {
            return phrased(
                "--userns-block-fd: needs --info-fd (to learn the child pid)",
                "--userns-block-fd requires --info-fd",
            );
        }
        if ns.disable_userns {
            return invalid("--userns-block-fd: conflicts with --disable-userns");
        }
    }
    for dir in &spec.report_planted {
        if !dir.is_absolute() {
            return invalid(format!(
                "--report-planted: {}: not an absolute path",
                dir.display()
            ));
        }
    }
    // A hostname is only private in a UTS namespace of the sandbox's own: from a profile as
    // from the command line, it is asked for, not implied.
    if spec.hostname.is_some() && !ns.uts {
        return phrased(
            "--hostname: needs a UTS namespace: add --unshare-uts (in a profile: uts = true under [namespaces])",
            "Specifying --hostname requires --unshare-uts",
        );
    }
    if spec.as_pid_1 && !ns.pid {
        return phrased(
            "--as-pid-1: needs a PID namespace: add --unshare-pid",
            "Specifying --as-pid-1 requires --unshare-pid",
        );
    }
    for op in &spec.ops {
        if let FsOp::Overlay { lower, upper, .. } = op
            && lower.len() < layers_needed(upper)
        {
            let (n, phrase) = match upper {
                OverlayUpper::Dir { .. } => ("1", "--overlay requires at least one --overlay-src"),
                OverlayUpper::Tmp => ("1", "--tmp-overlay requires at least one --overlay-src"),
                OverlayUpper::ReadOnly => ("2", "--ro-overlay requires at least two --overlay-src"),
            };
            return phrased(
                format!(
                    "{}: needs at least {n} --overlay-src before it",
                    op.option()
                ),
                phrase,
            );
        }
    }
    if spec.net.active() && !ns.net {
        return invalid(
            "--net-allow: needs a network namespace of the sandbox's own (conflicts with --share-net and a profile's net = \"host\")",
        );
    }
    // One listener per allowed port, all handed over in one message (the kernel passes at
    // most 253 descriptors at a time).
    if spec.net.ports().len() > MAX_PORTS {
        return invalid(format!(
            "--net-allow: {} ports allowed: at most {MAX_PORTS} (each gets a listener)",
            spec.net.ports().len()
        ));
    }
    if !spec.net.deny.is_empty() && !spec.net.active() {
        return invalid(
            "--net-deny: refines an allowlist: add --net-allow rules (without one the sandbox has the host's network or none)",
        );
    }
    for op in &spec.env {
        let (opt, name) = match op {
            EnvOp::Set(k, _) => ("--setenv", k.as_os_str()),
            EnvOp::Unset(k) => ("--unsetenv", k.as_os_str()),
            EnvOp::Keep(k) => ("env.keep", OsStr::new(k)),
            EnvOp::Offline(k, _) => ("env.offline", k.as_os_str()),
        };
        env_name(name).map_err(|why| Invalid {
            message: format!("{opt}: {why}"),
            bwrap: None,
        })?;
    }
    for (opt, list) in [
        ("--landlock-ro", &spec.landlock.ro),
        ("--landlock-rw", &spec.landlock.rw),
    ] {
        for p in list {
            inside_path(p).map_err(|why| Invalid {
                message: format!("{opt}: {why}"),
                bwrap: None,
            })?;
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
pub fn env_name(name: &OsStr) -> Result<(), String> {
    if name.is_empty() || name.as_encoded_bytes().contains(&b'=') {
        return Err(format!("'{}': not a variable name", name.to_string_lossy()));
    }
    Ok(())
}

/// A path as seen inside the sandbox, for a rule that compares paths (Landlock): absolute,
/// and without `..`, which would name something else than it seems once resolved.
pub fn inside_path(p: &Path) -> Result<(), String> {
    if !p.is_absolute() {
        return Err(format!(
            "'{}': not an absolute path (paths are as seen inside the sandbox)",
            p.display()
        ));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(format!("'{}': '..' is not allowed", p.display()));
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
