//! The user namespace: which namespaces to create, and the uid/gid maps. The child writes its
//! own maps (mapping only the caller's ids), so the supervisor needs no round trip.

use super::SetupError;
use crate::spec::Spec;
use nix::errno::Errno;

/// clone(2) flags for the namespaces of this spec. A user and a mount namespace always.
pub fn clone_flags(spec: &Spec) -> libc::c_int {
    let ns = &spec.ns;
    let mut f = libc::CLONE_NEWUSER | libc::CLONE_NEWNS;
    for (on, flag) in [
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
