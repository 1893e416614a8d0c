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

/// Is `cg` (the caller's cgroup) a subtree sbox may build in? It must be writable by us
/// (directory, cgroup.procs, cgroup.subtree_control) and either marked delegated by systemd or
/// the root of our cgroup namespace (what a container engine hands over). A cgroup that merely
/// happens to be ours (any unit under user@.service is) is not delegated: systemd manages it.
pub fn usable(cg: &Path, ns_root: bool) -> bool {
    writable(cg)
        && writable(&cg.join("cgroup.procs"))
        && writable(&cg.join("cgroup.subtree_control"))
        && (ns_root || marked_delegated(cg))
}
