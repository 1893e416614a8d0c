//! `--dev`: a tmpfs with the host's device nodes bound in, a private devpts, the usual links.

use super::bind::tree;
use super::wording::MountError;
use crate::launch::sys::{self, *};
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, mkdirat};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The device nodes of a minimal /dev, bound from the host (mknod is not allowed in a user
/// namespace); and /dev/console when stdout is a terminal.
const DEV_NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The device nodes, opened on the host; `console`: the terminal bound as /dev/console.
pub(super) fn nodes(console: Option<&Path>) -> Result<Vec<(&'static str, OwnedFd)>, MountError> {
    let mut nodes = Vec::with_capacity(DEV_NODES.len());
    for name in DEV_NODES {
        let host = PathBuf::from("/dev").join(name);
        let fd = tree(&host, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC).map_err(|errno| {
            MountError::Errno {
                step: "--dev",
                path: host.clone(),
                errno,
            }
        })?;
        nodes.push((name, fd));
    }
    // The terminal on stdout, as /dev/console (as bubblewrap): `tty` and
    // programs that open the console find it.
    if let Some(tty) = console {
        let fd = tree(tty, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC).map_err(|errno| {
            MountError::Errno {
                step: "--dev",
                path: tty.to_path_buf(),
                errno,
            }
        })?;
        nodes.push(("console", fd));
    }
    Ok(nodes)
}

pub(super) fn populate_dev(
    dev: BorrowedFd,
    nodes: Vec<(&'static str, OwnedFd)>,
) -> Result<(), Errno> {
    for (name, node) in nodes {
        let file = openat(
            dev,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )?;
        sys::move_mount(node.as_fd(), file.as_fd())?;
    }
    mkdirat(dev, "pts", Mode::from_bits_truncate(0o755))?;
    // bubblewrap's mode; the sandbox's own user owns it.
    mkdirat(dev, "shm", Mode::from_bits_truncate(0o755))?;
    // A private devpts instance: the sandbox sees only the terminals it opens.
    let pts = sys::new_mount(
        c"devpts",
        &[
            (c"newinstance", None),
            (c"ptmxmode", Some(c"0666")),
            (c"mode", Some(c"0620")),
        ],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
    )?;
    let pts_dir = openat(
        dev,
        "pts",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    sys::move_mount(pts.as_fd(), pts_dir.as_fd())?;
    for (target, name) in [
        ("pts/ptmx", "ptmx"),
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("/proc/kcore", "core"),
    ] {
        nix::unistd::symlinkat(target, dev, name)?;
    }
    Ok(())
}
