//! Entering the new root, and what surrounds it: mounts made private first, cgroup2 mounts
//! made read-only (with limits) before pivot_root.

use super::resolve::relative;
use super::wording::MountError;
use super::{STAGING, io_errno};
use crate::launch::sys::{self, *};
use nix::errno::Errno;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Enter the new root: it becomes `/`, and the old root is detached so that nothing of the
/// host stays reachable.
pub fn enter(root: OwnedFd) -> Result<(), MountError> {
    let fail = |what, errno| MountError::Pivot { what, errno };
    nix::unistd::fchdir(&root).map_err(|e| fail("chdir", e))?;
    // pivot_root(".", ".") stacks the old root on top of the new one; unmounting "." then
    // removes exactly the old root (see pivot_root(2)).
    sys::pivot_root(c".", c".").map_err(|e| fail("pivot", e))?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
        .map_err(|e| fail("detach the old root", e))?;
    nix::unistd::chdir("/").map_err(|e| fail("chdir", e))?;
    Ok(())
}

/// Stop mount events from propagating between the host and the sandbox, both ways.
pub fn make_private() -> Result<(), MountError> {
    use nix::mount::{MsFlags, mount};
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|errno| MountError::Errno {
        step: "mount namespace",
        path: "/".into(),
        errno,
    })
}

/// With limits: make every cgroup2 mount in the new root read-only (the mount itself, not
/// what is mounted below it). The cgroup files all belong to the user, so only the mount can
/// refuse the command a move out of its limited cgroup, a raised limit or a controller switched
/// off; the command can't undo it (no capabilities, and seccomp refuses mount calls). Found in
/// this process's mountinfo, before pivot_root, while the host's /proc is still there; a mount
/// hidden under a later one is out of the sandbox's reach and is left alone.
pub fn protect_cgroups(root: BorrowedFd) -> Result<(), MountError> {
    let fail = |path: &Path, errno| MountError::Errno {
        step: "limits (read-only cgroup mounts)",
        path: path.to_path_buf(),
        errno,
    };
    let info = std::fs::read("/proc/self/mountinfo")
        .map_err(|e| fail(Path::new("/proc/self/mountinfo"), io_errno(e)))?;
    for mnt in crate::cgroup::cgroup2_mounts_under(&info, Path::new(STAGING)) {
        let fail = |e: Errno| fail(&mnt, e);
        let rel = relative(mnt.strip_prefix(STAGING).unwrap_or(&mnt));
        let fd = match sys::open_in_root(root, &rel, libc::O_PATH) {
            Ok(fd) => fd,
            // Hidden, or unreachable for the command too.
            Err(Errno::ENOENT | Errno::ENOTDIR | Errno::EACCES | Errno::ELOOP) => continue,
            Err(e) => return Err(fail(e)),
        };
        let fs = nix::sys::statfs::fstatfs(&fd).map_err(fail)?;
        if fs.filesystem_type() != nix::sys::statfs::CGROUP2_SUPER_MAGIC {
            continue;
        }
        match sys::mount_setattr(fd.as_fd(), MOUNT_ATTR_RDONLY, 0, false) {
            // EINVAL: a directory inside a cgroup2 mount stacked here, listed on its own.
            Ok(()) | Err(Errno::EINVAL) => {}
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(())
}
