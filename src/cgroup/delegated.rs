//! The fallback without D-Bus: the caller's cgroup is already a delegated, writable cgroup v2
//! subtree (a container's cgroup namespace root, a CI runner, a unit with Delegate=yes).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn writable(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access() only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// systemd marks the cgroups it delegates with this extended attribute (trusted.* for the
/// system manager, user.* readable by anyone since v251).
fn marked_delegated(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    for name in [c"trusted.delegate", c"user.delegate"] {
        let mut buf = [0u8; 8];
        // SAFETY: valid path and attribute name; the kernel writes at most buf.len() bytes.
        let n = unsafe {
            libc::getxattr(
                c.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n > 0 && buf[0] == b'1' {
            return true;
        }
    }
    false
}

/// How far the caller's cgroup `cg` can be built in, without asking anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Not writable by us: ask systemd.
    Foreign,
    /// Writable, but not marked as delegated: any unit under user@.service is ours to write,
    /// yet systemd manages it. Used only when no systemd answers on the user bus (the user
    /// manager of systemd ≥ 252 marks nothing, so a Delegate=yes user unit looks like this).
    Writable,
    /// Marked delegated by systemd, or the root of our cgroup namespace (what a container
    /// engine hands over): used directly, no D-Bus.
    Delegated,
}

/// Where `cg` stands: writable (directory, cgroup.procs, cgroup.subtree_control), and marked.
pub fn standing(cg: &Path, ns_root: bool) -> Standing {
    if !(writable(cg)
        && writable(&cg.join("cgroup.procs"))
        && writable(&cg.join("cgroup.subtree_control")))
    {
        Standing::Foreign
    } else if ns_root || marked_delegated(cg) {
        Standing::Delegated
    } else {
        Standing::Writable
    }
}
