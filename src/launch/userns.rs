//! The user namespace: which namespaces to create, and the uid/gid maps. The child writes its
//! own maps (mapping only the caller's ids), so the supervisor needs no round trip.

use crate::error::StepError;
use crate::spec::{NsKind, Spec};
use nix::errno::Errno;
use std::borrow::Cow;
use std::fmt;
use std::os::fd::AsRawFd;

/// Why a namespace could not be made, joined or set up.
#[derive(Debug)]
pub enum UsernsError {
    /// clone(2) refused the namespaces.
    Clone(Errno),
    /// Writing an id map (or setgroups) file; `hint`: EPERM explained (not for setgroups).
    Map {
        path: &'static str,
        err: std::io::Error,
        hint: bool,
    },
    /// setns(2) with the descriptor `fd` of `opt`.
    Join {
        opt: &'static str,
        fd: i32,
        errno: Errno,
    },
    /// The user-namespace nesting limit could not be written.
    Limit(std::io::Error),
    /// A call of a step (`step`: the option) on `path` ("" for none).
    Errno {
        step: &'static str,
        path: &'static str,
        errno: Errno,
    },
    /// Keeping the capabilities across the id switch.
    Caps(caps::errors::CapsError),
    /// --assert-userns-disabled, and it was not.
    NotDisabled,
}

impl fmt::Display for UsernsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsernsError::Clone(e @ (Errno::EPERM | Errno::ENOSPC | Errno::EUSERS)) => write!(
                f,
                "{}: this host does not let unprivileged users create user namespaces \
                 (check sysctls kernel.unprivileged_userns_clone=1 and \
                 user.max_user_namespaces>0; 'sbox --doctor' tells more)",
                e.desc()
            ),
            UsernsError::Clone(e) => f.write_str(e.desc()),
            UsernsError::Map { err, hint, .. } => {
                write!(f, "{err}")?;
                if *hint && err.raw_os_error() == Some(libc::EPERM) {
                    f.write_str(
                        " (user namespaces may be restricted, e.g. Ubuntu's \
                         kernel.apparmor_restrict_unprivileged_userns=1: see 'sbox --doctor')",
                    )?;
                }
                Ok(())
            }
            UsernsError::Join { errno, .. } => f.write_str(match errno {
                Errno::EINVAL => "not a namespace of the right kind",
                Errno::EPERM => {
                    "Operation not permitted (it must belong to a user namespace you own)"
                }
                e => e.desc(),
            }),
            UsernsError::Limit(e) => write!(f, "{e}"),
            UsernsError::Errno { errno, .. } => f.write_str(errno.desc()),
            UsernsError::Caps(e) => write!(f, "{e}"),
            UsernsError::NotDisabled => {
                f.write_str("creating user namespaces is not disabled in this user namespace")
            }
        }
    }
}

impl StepError for UsernsError {
    fn step(&self) -> Cow<'_, str> {
        match self {
            UsernsError::Clone(_) => "namespaces".into(),
            UsernsError::Map { .. } => "uid map".into(),
            UsernsError::Join { opt, .. } => (*opt).into(),
            UsernsError::Limit(_) => "--disable-userns".into(),
            UsernsError::Errno { step, .. } => (*step).into(),
            UsernsError::Caps(_) => "--uid".into(),
            UsernsError::NotDisabled => "--assert-userns-disabled".into(),
        }
    }

    fn path(&self) -> Cow<'_, str> {
        match self {
            UsernsError::Map { path, .. } | UsernsError::Errno { path, .. } => (*path).into(),
            UsernsError::Join { fd, .. } => fd.to_string().into(),
            UsernsError::Limit(_) => "/proc/sys/user/max_user_namespaces".into(),
            _ => "".into(),
        }
    }

    fn bwrap(&self) -> Option<String> {
        match self {
            UsernsError::NotDisabled => {
                Some("creation of new user namespaces was not disabled as requested".into())
            }
            _ => None,
        }
    }
}

fn errno(step: &'static str, path: &'static str) -> impl Fn(Errno) -> UsernsError {
    move |errno| UsernsError::Errno { step, path, errno }
}

/// The clone(2) flag that creates a namespace of this kind (the launch side of the one
/// namespace table, spec::NsKind).
pub const fn flag(kind: NsKind) -> libc::c_int {
    match kind {
        NsKind::User => libc::CLONE_NEWUSER,
        NsKind::Mount => libc::CLONE_NEWNS,
        NsKind::Pid => libc::CLONE_NEWPID,
        NsKind::Net => libc::CLONE_NEWNET,
        NsKind::Ipc => libc::CLONE_NEWIPC,
        NsKind::Uts => libc::CLONE_NEWUTS,
        NsKind::Cgroup => libc::CLONE_NEWCGROUP,
    }
}

/// The flags of every kind: what seccomp refuses the command for new namespaces.
pub const fn all_flags() -> libc::c_int {
    let mut f = 0;
    let mut i = 0;
    while i < NsKind::ALL.len() {
        f |= flag(NsKind::ALL[i]);
        i += 1;
    }
    f
}

/// clone(2) flags for the namespaces of this spec. A user and a mount namespace always.
pub fn clone_flags(spec: &Spec) -> libc::c_int {
    (NsKind::ALL.into_iter())
        .filter(|&k| spec.ns.of(k).create)
        .fold(0, |f, k| f | flag(k))
}

/// `-v`: the namespaces in clone flags, by name.
pub fn describe(flags: libc::c_int) -> String {
    let on: Vec<&str> = (NsKind::ALL.into_iter())
        .filter(|&k| flags & flag(k) != 0)
        .map(NsKind::name)
        .collect();
    on.join(" ")
}

/// Explain a failed clone: the usual causes are host settings, so name them.
pub fn clone_error(e: Errno) -> UsernsError {
    UsernsError::Clone(e)
}

fn write(path: &'static str, data: &str) -> Result<(), UsernsError> {
    std::fs::write(path, data).map_err(|err| UsernsError::Map {
        path,
        err,
        hint: true,
    })
}

/// Map `inner` ids inside to the caller's `outer` ids, one each. setgroups must be denied
/// before an unprivileged process may write a gid map.
pub fn write_maps(inner: (u32, u32), outer: (u32, u32)) -> Result<(), UsernsError> {
    match std::fs::write("/proc/self/setgroups", "deny") {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            return Err(UsernsError::Map {
                path: "/proc/self/setgroups",
                err,
                hint: false,
            });
        }
        _ => {}
    }
    write(
        "/proc/self/uid_map",
        &format!("{} {} 1\n", inner.0, outer.0),
    )?;
    write(
        "/proc/self/gid_map",
        &format!("{} {} 1\n", inner.1, outer.1),
    )
}

/// Join an existing namespace (`--userns`, `--userns2`, `--pidns`).
pub fn join(
    opt: &'static str,
    fd: std::os::fd::OwnedFd,
    kind: nix::sched::CloneFlags,
) -> Result<(), UsernsError> {
    nix::sched::setns(&fd, kind).map_err(|errno| UsernsError::Join {
        opt,
        fd: fd.as_raw_fd(),
        errno,
    })
}

/// Allow at most `n` more user namespaces below this one.
pub fn limit_nesting(n: u32) -> Result<(), UsernsError> {
    std::fs::write("/proc/sys/user/max_user_namespaces", n.to_string()).map_err(UsernsError::Limit)
}

/// Move into a nested user namespace with the same ids. `proc` is the host's /proc, opened
/// before the old root went.
pub fn nest(proc: &std::os::fd::OwnedFd) -> Result<(), UsernsError> {
    use std::os::fd::AsFd;
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(errno("--disable-userns", ""))?;
    for (name, data) in [
        ("self/setgroups", "deny".to_string()),
        ("self/uid_map", format!("{uid} {uid} 1\n")),
        ("self/gid_map", format!("{gid} {gid} 1\n")),
    ] {
        let fd = nix::fcntl::openat(
            proc.as_fd(),
            name,
            nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(errno("--disable-userns", name))?;
        nix::unistd::write(&fd, data.as_bytes()).map_err(errno("--disable-userns", name))?;
    }
    Ok(())
}

/// In a joined user namespace (--userns), become --uid/--gid, keeping the capabilities the
/// remaining setup steps need.
pub fn switch_ids(uid: Option<u32>, gid: Option<u32>) -> Result<(), UsernsError> {
    let fail = errno("--uid", "");
    nix::sys::prctl::set_keepcaps(true).map_err(&fail)?;
    if let Some(g) = gid {
        let g = nix::unistd::Gid::from_raw(g);
        nix::unistd::setresgid(g, g, g).map_err(errno("--gid", ""))?;
    }
    if let Some(u) = uid {
        let u = nix::unistd::Uid::from_raw(u);
        nix::unistd::setresuid(u, u, u).map_err(&fail)?;
    }
    // A change away from uid 0 empties the effective set; the permitted set was kept.
    let permitted = caps::read(None, caps::CapSet::Permitted).map_err(UsernsError::Caps)?;
    caps::set(None, caps::CapSet::Effective, &permitted).map_err(UsernsError::Caps)
}

/// `--assert-userns-disabled`: creating a user namespace must fail here.
pub fn assert_disabled() -> Result<(), UsernsError> {
    match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
        Ok(()) => Err(UsernsError::NotDisabled),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clone flags as the three tables gave them before the one namespace table.
    fn flags_before(ns: &crate::spec::Namespaces) -> libc::c_int {
        let mut f = libc::CLONE_NEWNS;
        for (on, flag) in [
            (ns.userns.is_none(), libc::CLONE_NEWUSER),
            (ns.cgroup_try, libc::CLONE_NEWCGROUP),
            (ns.pid, libc::CLONE_NEWPID),
            (ns.net, libc::CLONE_NEWNET),
            (ns.ipc, libc::CLONE_NEWIPC),
            (ns.uts, libc::CLONE_NEWUTS),
            (ns.cgroup, libc::CLONE_NEWCGROUP),
        ] {
            if on {
                f |= flag;
            }
        }
        f
    }

    #[test]
    fn the_namespace_table_gives_the_same_flags_names_and_mask() {
        for bits in 0..256u32 {
            let mut spec = Spec::default();
            let ns = &mut spec.ns;
            let on = |i: u32| bits & (1 << i) != 0;
            (ns.pid, ns.net, ns.ipc, ns.uts, ns.cgroup, ns.cgroup_try) =
                (on(0), on(1), on(2), on(3), on(4), on(5));
            ns.userns = on(6).then_some(5);
            ns.pidns = on(7).then_some(6);
            assert_eq!(clone_flags(&spec), flags_before(&spec.ns), "{:?}", spec.ns);
        }
        assert_eq!(all_flags(), 0x7E02_0000);
        assert_eq!(describe(all_flags()), "user mount pid net ipc uts cgroup");
        assert_eq!(
            describe(libc::CLONE_NEWNS | libc::CLONE_NEWNET),
            "mount net"
        );
        // --info-fd: bubblewrap's keys and order, the user namespace not listed.
        let fields = super::super::fds::child_fields(nix::unistd::Pid::this(), all_flags());
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "child-pid",
                "cgroup-namespace",
                "ipc-namespace",
                "mnt-namespace",
                "net-namespace",
                "pid-namespace",
                "uts-namespace"
            ]
        );
    }
}
