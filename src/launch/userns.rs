//! The user namespace: which namespaces to create or join, and the uid/gid maps. The child
//! writes its own maps (mapping only the caller's ids), so the supervisor needs no round trip,
//! except for maps of several ranges (`write_child_maps`).

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
    /// clone(2) without a user namespace of the sandbox's own (--share-userns, a joined one)
    /// refused for lack of CAP_SYS_ADMIN.
    CloneShared(Errno),
    /// A namespace file of `--join-ns` could not be opened (`open`) or joined.
    JoinPath {
        kind: NsKind,
        path: String,
        open: bool,
        errno: Errno,
    },
    /// Writing the child's map or setgroups file (`opt`: --uid-map or --gid-map).
    ChildMap {
        opt: &'static str,
        path: String,
        err: std::io::Error,
    },
    /// Several ranges need the distribution's helper, and it is not installed.
    NoHelper {
        opt: &'static str,
        path: String,
        helper: &'static str,
    },
    /// The helper (newuidmap, newgidmap at `prog`) refused or could not run: its words.
    Helper {
        opt: &'static str,
        prog: String,
        said: String,
    },
    /// setgroups(2) of the additional gids.
    Groups { gids: String, errno: Errno },
}

/// `u` or `g`, for /etc/subuid and /etc/subgid.
fn sub(helper: &str) -> &'static str {
    if helper == "newuidmap" { "u" } else { "g" }
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
            UsernsError::CloneShared(e) => write!(
                f,
                "{}: without a user namespace of the sandbox's own, creating namespaces needs \
                 CAP_SYS_ADMIN in the caller's (--share-userns: run sbox as root of your user \
                 namespace, e.g. under 'unshare -r' or podman)",
                e.desc()
            ),
            UsernsError::JoinPath {
                kind, open, errno, ..
            } => match (open, errno) {
                (false, Errno::EINVAL) => write!(f, "not a {} namespace", kind.proc_name()),
                (false, Errno::EPERM) => write!(
                    f,
                    "{}: joining needs CAP_SYS_ADMIN in the user namespace that owns it (join \
                     that user namespace too: --join-ns user:...)",
                    errno.desc()
                ),
                _ => f.write_str(errno.desc()),
            },
            UsernsError::ChildMap { err, .. } => f.write_str(&crate::error::io_why(err)),
            UsernsError::NoHelper { helper, .. } => write!(
                f,
                "Operation not permitted: only the one range of your own id can be mapped \
                 without {helper} (install the uidmap package and give yourself ranges in \
                 /etc/sub{}id)",
                sub(helper)
            ),
            UsernsError::Helper { said, prog, .. } => write!(
                f,
                "{said} (the ranges must be yours in /etc/sub{}id)",
                sub(prog.rsplit('/').next().unwrap_or(""))
            ),
            UsernsError::Groups { errno, .. } => match errno {
                Errno::EPERM => write!(
                    f,
                    "{}: setgroups is denied in this user namespace",
                    errno.desc()
                ),
                Errno::EINVAL => write!(
                    f,
                    "{}: a gid is not mapped in this user namespace",
                    errno.desc()
                ),
                e => f.write_str(e.desc()),
            },
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
            UsernsError::CloneShared(_) => "namespaces".into(),
            UsernsError::JoinPath { kind, .. } => format!("--join-ns {}", kind.proc_name()).into(),
            UsernsError::ChildMap { opt, .. }
            | UsernsError::NoHelper { opt, .. }
            | UsernsError::Helper { opt, .. } => (*opt).into(),
            UsernsError::Groups { .. } => "additional gids".into(),
        }
    }

    fn path(&self) -> Cow<'_, str> {
        match self {
            UsernsError::Map { path, .. } | UsernsError::Errno { path, .. } => (*path).into(),
            UsernsError::Join { fd, .. } => fd.to_string().into(),
            UsernsError::Limit(_) => "/proc/sys/user/max_user_namespaces".into(),
            UsernsError::JoinPath { path, .. }
            | UsernsError::ChildMap { path, .. }
            | UsernsError::NoHelper { path, .. } => path.as_str().into(),
            UsernsError::Helper { prog, .. } => prog.as_str().into(),
            UsernsError::Groups { gids, .. } => gids.as_str().into(),
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
pub fn clone_error(spec: &Spec, e: Errno) -> UsernsError {
    match e {
        Errno::EPERM if !spec.own_userns() => UsernsError::CloneShared(e),
        e => UsernsError::Clone(e),
    }
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

/// The supervisor writes the child's id maps of several ranges (`--uid-map`, OCI
/// `uidMappings`): directly where it may (root of its user namespace, holding CAP_SETUID and
/// CAP_SETGID there: podman's keep-id case), else through the distribution's setuid
/// newuidmap/newgidmap, which check /etc/subuid and /etc/subgid. A map not given is the one
/// range of today (the sandbox's id onto the caller's), with setgroups denied when it is the
/// gid map. sbox itself stays without privilege.
pub fn write_child_maps(
    spec: &Spec,
    child: libc::pid_t,
    host: (u32, u32),
) -> Result<(), UsernsError> {
    use crate::spec::IdRange;
    let one = |inside: Option<u32>, outside: u32| {
        vec![IdRange {
            inside: inside.unwrap_or(outside),
            outside,
            count: 1,
        }]
    };
    let deny_setgroups = || {
        let path = format!("/proc/{child}/setgroups");
        std::fs::write(&path, "deny").map_err(|err| UsernsError::ChildMap {
            opt: "--gid-map",
            path,
            err,
        })
    };
    let uids = match spec.uid_map.is_empty() {
        true => one(spec.uid, host.0),
        false => spec.uid_map.clone(),
    };
    let gids = match spec.gid_map.is_empty() {
        true => {
            deny_setgroups()?;
            one(spec.gid, host.1)
        }
        false => spec.gid_map.clone(),
    };
    write_map(child, "uid_map", "newuidmap", "--uid-map", &uids)?;
    if let [r] = gids[..]
        && !spec.gid_map.is_empty()
        && r.outside == host.1
        && r.count == 1
        && !nix::unistd::geteuid().is_root()
    {
        // The caller's own gid needs no helper, but setgroups denied.
        deny_setgroups()?;
    }
    write_map(child, "gid_map", "newgidmap", "--gid-map", &gids)
}

fn write_map(
    child: libc::pid_t,
    file: &str,
    helper: &'static str,
    opt: &'static str,
    ranges: &[crate::spec::IdRange],
) -> Result<(), UsernsError> {
    let path = format!("/proc/{child}/{file}");
    let text: String = (ranges.iter())
        .map(|r| format!("{} {} {}\n", r.inside, r.outside, r.count))
        .collect();
    // One write: the kernel takes a map once, whole.
    match std::fs::write(&path, &text) {
        Ok(()) => return Ok(()),
        Err(err) if err.raw_os_error() != Some(libc::EPERM) => {
            return Err(UsernsError::ChildMap { opt, path, err });
        }
        Err(_) => {}
    }
    // Not allowed to sbox: the distribution's helper, by its absolute path (not $PATH).
    let Some(prog) = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| std::path::Path::new(d).join(helper))
        .find(|p| p.exists())
    else {
        return Err(UsernsError::NoHelper { opt, path, helper });
    };
    let mut cmd = std::process::Command::new(&prog);
    cmd.arg(child.to_string());
    for r in ranges {
        cmd.args([r.inside, r.outside, r.count].map(|n| n.to_string()));
    }
    let prog_s = prog.display().to_string();
    let out = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| UsernsError::Helper {
            opt,
            prog: prog_s.clone(),
            said: crate::error::io_why(&e).into_owned(),
        })?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let first = said.lines().next().unwrap_or("failed").trim().to_string();
        return Err(UsernsError::Helper {
            opt,
            prog: prog_s,
            said: first,
        });
    }
    Ok(())
}

/// The order namespaces are joined in: the user namespace first (the others then belong to
/// one where the supervisor holds capabilities), the mount namespace last (joining it moves
/// the root and the working directory, and paths resolve there from then on).
const JOIN_ORDER: [NsKind; 7] = [
    NsKind::User,
    NsKind::Pid,
    NsKind::Net,
    NsKind::Ipc,
    NsKind::Uts,
    NsKind::Cgroup,
    NsKind::Mount,
];

/// Join the namespaces named by path (`--join-ns`, OCI `linux.namespaces[].path`): every
/// file opened first (before a joined mount namespace changes what paths name), then joined
/// in `JOIN_ORDER`. The child is cloned inside them.
pub fn join_paths(spec: &Spec) -> Result<(), UsernsError> {
    let fail = |kind, path: &std::path::Path, open, errno| UsernsError::JoinPath {
        kind,
        path: path.display().to_string(),
        open,
        errno,
    };
    let mut opened = Vec::new();
    for kind in JOIN_ORDER {
        let Some(path) = spec.ns.joined(kind) else {
            continue;
        };
        let fd = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| fail(kind, path, true, e))?;
        opened.push((kind, path, fd));
    }
    for (kind, path, fd) in opened {
        let flag = nix::sched::CloneFlags::from_bits_truncate(flag(kind));
        nix::sched::setns(&fd, flag).map_err(|e| fail(kind, path, false, e))?;
    }
    Ok(())
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

/// In a user namespace not of the sandbox's own (--userns, joined by path, the caller's),
/// or with maps the supervisor wrote, become --uid/--gid with `groups` as the supplementary
/// groups, keeping the capabilities the remaining setup steps need. Where setgroups is
/// allowed (the caller's namespace, a gid map written with privilege) the groups are exactly
/// `groups`, so that the caller's don't leak into the sandbox.
pub fn switch_ids(spec: &Spec) -> Result<(), UsernsError> {
    let (uid, gid) = (spec.uid, spec.gid);
    let fail = errno("--uid", "");
    nix::sys::prctl::set_keepcaps(true).map_err(&fail)?;
    let privileged_gids = spec.maps_by_supervisor() && !spec.gid_map.is_empty();
    if !spec.groups.is_empty() || spec.ns.no_userns || privileged_gids {
        let groups: Vec<nix::unistd::Gid> = (spec.groups.iter())
            .map(|&g| nix::unistd::Gid::from_raw(g))
            .collect();
        match nix::unistd::setgroups(&groups) {
            // Where setgroups is denied (`unshare -r`), no groups can be had or dropped.
            Err(Errno::EPERM) if groups.is_empty() => Ok(()),
            r => r,
        }
        .map_err(|errno| UsernsError::Groups {
            gids: (spec.groups.iter().map(u32::to_string))
                .collect::<Vec<_>>()
                .join(","),
            errno,
        })?;
    }
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
