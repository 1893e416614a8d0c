//! `--proc`: a procfs of the sandbox's PID namespace (or the host's, bound read-only, without
//! one), its kernel knobs kept read-only.

use super::bind::{remount_ro, tree};
use super::wording::MountError;
use crate::launch::sys::{self, *};
use crate::spec::Spec;
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The host's /proc, for a sandbox without a PID namespace of its own.
pub(super) fn host_proc(spec: &Spec) -> Result<OwnedFd, MountError> {
    // procfs can only be mounted by the owner of the PID namespace; without one
    // the host's /proc is bound instead, as bubblewrap does. It shows the caller's
    // other processes, whose oom_score_adj, autogroup, clear_refs... the same uid
    // may write: sbox binds it read-only (bubblewrap's writable bind as `bwrap`).
    let ro = if spec.proc_host_writable {
        0
    } else {
        MOUNT_ATTR_RDONLY
    };
    let set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | ro;
    let fd = tree(Path::new("/proc"), true, set).map_err(|errno| MountError::Errno {
        step: "--proc",
        path: "/proc".into(),
        errno,
    })?;
    Ok(fd)
}

/// Kernel knobs under /proc stay read-only even for a process that gains capabilities.
///
/// In a nested user namespace these covers become locked mounts, and the kernel lets a new
/// procfs be mounted there only if some procfs of the mount namespace is fully visible, with
/// no locked mount hiding anything in it ("mount too revealing"; bubblewrap has no covers
/// when unprivileged). With `nested`, a spare copy of the procfs is attached beneath the
/// /proc/sys cover, where nothing can reach it: it satisfies that check (a nested procfs
/// shows only its own PID namespace, and the sysctls not owned by its user namespace stay
/// read-only to it by their permissions) while /proc/sys stays read-only for the command.
pub(super) fn protect_proc(proc_root: BorrowedFd, nested: bool) -> Result<(), Errno> {
    let spare = if nested {
        let under = openat(
            proc_root,
            "sys/kernel",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let copy = sys::open_tree_fd(proc_root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)?;
        Some((copy, under))
    } else {
        None
    };
    for name in ["sys", "sysrq-trigger", "irq", "bus"] {
        let fd = match openat(
            proc_root,
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        remount_ro(fd.as_fd(), true)?;
    }
    if let Some((copy, under)) = spare {
        // Attached at the descriptor's place in the /proc mount itself, now under the cover.
        sys::move_mount(copy.as_fd(), under.as_fd())?;
    }
    Ok(())
}
