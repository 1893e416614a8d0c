//! The words of a failed operation: sbox's line with the fix, bubblewrap's phrase.

use super::resolve::{Create, In, relative, resolve, split};
use super::why;
use crate::error::SetupError;
use crate::spec::{DataKind, FsOp};
use nix::errno::Errno;
use std::os::fd::{AsFd, BorrowedFd};

/// Word a destination error, with the fix where there is one.
pub(super) fn dst_error(op: &FsOp, e: Errno, strict: bool) -> SetupError {
    let why = match e {
        Errno::ELOOP if strict => why(e, strict),
        Errno::EROFS => format!(
            "{}: the parent directory is read-only; create the mount point first, e.g. with a --tmpfs or --dir on a writable parent",
            e.desc()
        ),
        Errno::ENOTDIR => format!("{}: a file is in the way of a directory", e.desc()),
        Errno::EEXIST => format!("{}: something else is already there", e.desc()),
        Errno::EPERM if matches!(op, FsOp::Mqueue { .. }) => format!(
            "{}: a new mqueue needs its own IPC namespace: add --unshare-ipc",
            e.desc()
        ),
        _ => e.desc().to_string(),
    };
    SetupError::new(op.option(), op.dst().display().to_string(), why)
}

/// bubblewrap's phrase for a failed operation, where it has a fixed one.
/// `tree_dir`: the operation's source was opened as a directory.
pub(super) fn bwrap_phrase(root: BorrowedFd, op: &FsOp, e: Errno, tree_dir: bool) -> String {
    let dst = op.dst().display();
    let why = e.desc();
    // Errors of creating the destination, rather than of mounting on it.
    let creating = matches!(
        e,
        Errno::EROFS | Errno::EEXIST | Errno::ENOTDIR | Errno::ENOENT | Errno::EACCES
    );
    match op {
        FsOp::Chmod { .. } | FsOp::RemountRo { .. } => {}
        _ if e == Errno::ENOTDIR => return format!("Can't mkdir parents for {dst}: {why}"),
        _ => {}
    }
    match op {
        FsOp::Symlink { dst: d, .. } if e == Errno::EEXIST => {
            let existing = split(&relative(d)).ok().and_then(|(parent, name)| {
                let at = In {
                    root,
                    strict: false,
                };
                let pfd = resolve(at, &parent, Create::No).ok()?;
                nix::fcntl::readlinkat(pfd.as_fd(), name.as_path()).ok()
            });
            match existing {
                Some(t) => format!(
                    "Can't make symlink at {dst}: existing destination is {}",
                    t.to_string_lossy()
                ),
                None => {
                    format!("Can't make symlink at {dst}: destination exists and is not a symlink")
                }
            }
        }
        FsOp::Symlink { .. } => format!("Can't make symlink at {dst}: {why}"),
        FsOp::Chmod { mode, .. } => {
            // C's "%#o": a leading 0, none for 0 itself.
            let mode = if *mode == 0 {
                "0".into()
            } else {
                format!("0{mode:o}")
            };
            format!("Can't chmod {mode} {dst}: {why}")
        }
        FsOp::RemountRo { .. } => format!("Can't remount readonly on {dst}: {why}"),
        FsOp::Data {
            how: DataKind::File,
            ..
        } => format!("Can't create file {dst}: {why}"),
        FsOp::Data { .. } if creating => format!("Can't create file at {dst}: {why}"),
        // A bind's mount point is a directory or a file, as its source.
        FsOp::Bind { src, .. } if creating && !src.is_dir() => {
            format!("Can't create file at {dst}: {why}")
        }
        FsOp::BindFd { .. } if creating && !tree_dir => {
            format!("Can't create file at {dst}: {why}")
        }
        FsOp::Dir { .. }
        | FsOp::Bind { .. }
        | FsOp::BindFd { .. }
        | FsOp::Tmpfs { .. }
        | FsOp::Proc { .. }
        | FsOp::Dev { .. }
        | FsOp::Mqueue { .. }
            if creating =>
        {
            format!("Can't mkdir {dst}: {why}")
        }
        FsOp::Tmpfs { .. } => format!("Can't mount tmpfs on {dst}: {why}"),
        FsOp::Proc { .. } => format!("Can't mount proc on {dst}: {why}"),
        FsOp::Mqueue { .. } => format!("Can't mount mqueue on {dst}: {why}"),
        _ => String::new(),
    }
}
