//! The words of a failed mount step: sbox's line with the fix, bubblewrap's phrase.

use super::resolve::{Create, In, relative, resolve, split};
use crate::error::StepError;
use crate::spec::{DataKind, FsOp};
use nix::errno::Errno;
use std::borrow::Cow;
use std::ffi::OsString;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

/// Why building the root failed.
#[derive(Debug)]
pub enum MountError {
    /// Applying `op` at its destination failed. `strict`: a profile's operation (no symlink
    /// followed); `tree_dir`: its source was opened as a directory; `existing`: for a symlink
    /// whose destination exists, that destination's target if it is a link.
    Dst {
        op: FsOp,
        errno: Errno,
        strict: bool,
        tree_dir: bool,
        existing: Option<OsString>,
    },
    /// A host path an operation (`option`) uses could not be opened: a bind's source (`bind`:
    /// the `-try` variant would skip it when missing) or an overlay layer.
    Source {
        option: &'static str,
        path: PathBuf,
        errno: Errno,
        strict: bool,
        bind: bool,
    },
    /// The descriptor `n` of a `--bind-fd`/`--ro-bind-fd`.
    Fd {
        option: &'static str,
        n: i32,
        why: FdWhy,
    },
    /// A step (`--dev`, `--proc`, `mount namespace`, the read-only cgroup mounts) on `path`.
    Errno {
        step: &'static str,
        path: PathBuf,
        errno: Errno,
    },
    /// The new root on the staging directory (`what`: the part that failed, or "").
    Staging { what: &'static str, errno: Errno },
    /// Holding a second descriptor of the new root.
    StagingCopy(std::io::Error),
    /// pivot_root and detaching the old root (`what`: which call).
    Pivot { what: &'static str, errno: Errno },
}

/// What is wrong with a --bind-fd descriptor.
#[derive(Debug)]
pub enum FdWhy {
    NotOpen(std::io::Error),
    Errno(Errno),
    /// Opening the path the descriptor names.
    Path(PathBuf, Errno),
    /// The path names another file than the descriptor now.
    Replaced(PathBuf),
}

impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountError::Dst {
                op, errno, strict, ..
            } => f.write_str(&dst_why(op, *errno, *strict)),
            MountError::Source {
                option,
                errno,
                strict,
                bind,
                ..
            } => {
                f.write_str(&why(*errno, *strict))?;
                if *bind && *errno == Errno::ENOENT {
                    write!(f, " (use {option}-try to skip a missing source)")?;
                }
                Ok(())
            }
            MountError::Fd { why, .. } => match why {
                FdWhy::NotOpen(e) => write!(f, "not an open descriptor: {e}"),
                FdWhy::Errno(e) => f.write_str(e.desc()),
                FdWhy::Path(p, e) => write!(f, "{}: {}", p.display(), e.desc()),
                FdWhy::Replaced(p) => {
                    write!(
                        f,
                        "{} is no longer what the descriptor refers to",
                        p.display()
                    )
                }
            },
            MountError::Errno { errno, .. } => f.write_str(errno.desc()),
            MountError::Staging { what: "", errno } => f.write_str(errno.desc()),
            MountError::StagingCopy(e) => write!(f, "{e}"),
            MountError::Staging { what, errno } | MountError::Pivot { what, errno } => {
                write!(f, "{what}: {}", errno.desc())
            }
        }
    }
}

impl StepError for MountError {
    fn step(&self) -> Cow<'_, str> {
        match self {
            MountError::Dst { op, .. } => op.option().into(),
            MountError::Source { option, .. } | MountError::Fd { option, .. } => (*option).into(),
            MountError::Errno { step, .. } => (*step).into(),
            MountError::Staging { .. } | MountError::StagingCopy(_) => "new root".into(),
            MountError::Pivot { .. } => "pivot_root".into(),
        }
    }

    fn path(&self) -> Cow<'_, str> {
        match self {
            MountError::Dst { op, .. } => op.dst().to_string_lossy(),
            MountError::Source { path, .. } | MountError::Errno { path, .. } => {
                path.to_string_lossy()
            }
            MountError::Fd { n, .. } => n.to_string().into(),
            MountError::Staging { .. } | MountError::StagingCopy(_) => super::STAGING.into(),
            MountError::Pivot { .. } => "".into(),
        }
    }

    fn bwrap(&self) -> Option<String> {
        match self {
            MountError::Dst {
                op,
                errno,
                tree_dir,
                existing,
                ..
            } => Some(bwrap_phrase(op, *errno, *tree_dir, existing.as_ref())),
            MountError::Source {
                path,
                errno,
                bind: true,
                ..
            } => Some(format!(
                "Can't find source path {}: {}",
                path.display(),
                errno.desc()
            )),
            _ => None,
        }
    }
}

/// Why a profile's path failed, with what ELOOP means there.
fn why(e: Errno, strict: bool) -> String {
    if strict && e == Errno::ELOOP {
        "a symbolic link on the way (a profile's mounts follow none: a previous sandbox could have planted it): remove it".into()
    } else {
        e.desc().to_string()
    }
}

/// A destination error, with the fix where there is one.
fn dst_why(op: &FsOp, e: Errno, strict: bool) -> String {
    match e {
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
    }
}

/// For a symlink whose destination exists: that destination's target, if it is a link (read
/// in the root being built when the operation failed).
pub(super) fn existing_link(root: BorrowedFd, op: &FsOp, e: Errno) -> Option<OsString> {
    match op {
        FsOp::Symlink { dst: d, .. } if e == Errno::EEXIST => {
            split(&relative(d)).ok().and_then(|(parent, name)| {
                let at = In {
                    root,
                    strict: false,
                };
                let pfd = resolve(at, &parent, Create::No).ok()?;
                nix::fcntl::readlinkat(pfd.as_fd(), name.as_path()).ok()
            })
        }
        _ => None,
    }
}

/// bubblewrap's phrase for a failed operation, where it has a fixed one.
/// `tree_dir`: the operation's source was opened as a directory.
fn bwrap_phrase(op: &FsOp, e: Errno, tree_dir: bool, existing: Option<&OsString>) -> String {
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
        FsOp::Symlink { .. } if e == Errno::EEXIST => match existing {
            Some(t) => format!(
                "Can't make symlink at {dst}: existing destination is {}",
                t.to_string_lossy()
            ),
            None => {
                format!("Can't make symlink at {dst}: destination exists and is not a symlink")
            }
        },
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
