//! The user namespace: which namespaces to create, and the uid/gid maps. The child writes its
//! own maps (mapping only the caller's ids), so the supervisor needs no round trip.

use crate::error::SetupError;
use crate::spec::{NsKind, Spec};
use nix::errno::Errno;
use std::os::fd::AsRawFd;

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
pub fn clone_error(e: Errno) -> SetupError {
    let why = match e {
        Errno::EPERM | Errno::ENOSPC | Errno::EUSERS => format!(
            "{}: this host does not let unprivileged users create user namespaces \
             (check sysctls kernel.unprivileged_userns_clone=1 and user.max_user_namespaces>0; \
             'sbox --doctor' tells more)",
            e.desc()
        ),
        _ => e.desc().to_string(),
    };
    SetupError::new("namespaces", "", why)
}

fn write(path: &str, data: &str) -> Result<(), SetupError> {
    std::fs::write(path, data).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EPERM) {
            " (user namespaces may be restricted, e.g. Ubuntu's \
             kernel.apparmor_restrict_unprivileged_userns=1: see 'sbox --doctor')"
        } else {
            ""
        };
        SetupError::new("uid map", path, format!("{e}{hint}"))
    })
}

/// Map `inner` ids inside to the caller's `outer` ids, one each. setgroups must be denied
/// before an unprivileged process may write a gid map.
pub fn write_maps(inner: (u32, u32), outer: (u32, u32)) -> Result<(), SetupError> {
    match std::fs::write("/proc/self/setgroups", "deny") {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(SetupError::new(
                "uid map",
                "/proc/self/setgroups",
                e.to_string(),
            ));
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
    opt: &str,
    fd: std::os::fd::OwnedFd,
    kind: nix::sched::CloneFlags,
) -> Result<(), SetupError> {
    nix::sched::setns(&fd, kind).map_err(|e| {
        let why = match e {
            Errno::EINVAL => "not a namespace of the right kind".to_string(),
            Errno::EPERM => {
                "Operation not permitted (it must belong to a user namespace you own)".to_string()
            }
            e => e.desc().to_string(),
        };
        SetupError::new(opt, fd.as_raw_fd().to_string(), why)
    })
}

/// Allow at most `n` more user namespaces below this one.
pub fn limit_nesting(n: u32) -> Result<(), SetupError> {
    std::fs::write("/proc/sys/user/max_user_namespaces", n.to_string()).map_err(|e| {
        SetupError::new(
            "--disable-userns",
            "/proc/sys/user/max_user_namespaces",
            e.to_string(),
        )
    })
}

/// Move into a nested user namespace with the same ids. `proc` is the host's /proc, opened
/// before the old root went.
pub fn nest(proc: &std::os::fd::OwnedFd) -> Result<(), SetupError> {
    use std::os::fd::AsFd;
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| SetupError::errno("--disable-userns", "", e))?;
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
        .map_err(|e| SetupError::errno("--disable-userns", name, e))?;
        nix::unistd::write(&fd, data.as_bytes())
            .map_err(|e| SetupError::errno("--disable-userns", name, e))?;
    }
    Ok(())
}

/// In a joined user namespace (--userns), become --uid/--gid, keeping the capabilities the
/// remaining setup steps need.
pub fn switch_ids(uid: Option<u32>, gid: Option<u32>) -> Result<(), SetupError> {
    let fail = |e| SetupError::errno("--uid", "", e);
    nix::sys::prctl::set_keepcaps(true).map_err(fail)?;
    if let Some(g) = gid {
        let g = nix::unistd::Gid::from_raw(g);
        nix::unistd::setresgid(g, g, g).map_err(|e| SetupError::errno("--gid", "", e))?;
    }
    if let Some(u) = uid {
        let u = nix::unistd::Uid::from_raw(u);
        nix::unistd::setresuid(u, u, u).map_err(fail)?;
    }
    // A change away from uid 0 empties the effective set; the permitted set was kept.
    let permitted = caps::read(None, caps::CapSet::Permitted)
        .map_err(|e| SetupError::new("--uid", "", e.to_string()))?;
    caps::set(None, caps::CapSet::Effective, &permitted)
        .map_err(|e| SetupError::new("--uid", "", e.to_string()))
}

/// `--assert-userns-disabled`: creating a user namespace must fail here.
pub fn assert_disabled() -> Result<(), SetupError> {
    match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
        Ok(()) => Err(SetupError::new(
            "--assert-userns-disabled",
            "",
            "creating user namespaces is not disabled in this user namespace",
        )
        .bwrap("creation of new user namespaces was not disabled as requested")),
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
