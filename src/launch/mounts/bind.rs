//! Binds: host paths and inherited descriptors as detached mount trees, the files of
//! `--file`/`--bind-data` (through the scratch tmpfs), a profile's masks, `--remount-ro`.

use super::resolve::{Create, PRIVATE, ensure_dir, relative, resolve, split};
use super::wording::{FdWhy, MountError};
use super::{Builder, Prepared, io_errno, is_dir, tmpfs};
use crate::launch::sys::{self, *};
use crate::spec::{BindKind, DataKind, FsOp, Spec};
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

pub(super) fn tree(path: &Path, recursive: bool, set: u64) -> Result<OwnedFd, Errno> {
    let flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | if recursive { AT_RECURSIVE } else { 0 };
    let fd = sys::open_tree(libc::AT_FDCWD, path, flags)?;
    sys::mount_setattr(fd.as_fd(), set, 0, recursive)?;
    Ok(fd)
}

/// `tree` of a profile's source: the path is opened following no symlink, so that a link
/// planted after the profile was checked can't redirect it.
fn tree_no_symlinks(path: &Path, set: u64) -> Result<OwnedFd, Errno> {
    let at = sys::open_no_symlinks(path, libc::O_PATH)?;
    let fd = sys::open_tree_fd(
        at.as_fd(),
        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE,
    )?;
    sys::mount_setattr(fd.as_fd(), set, 0, true)?;
    Ok(fd)
}

/// A bind's source, as a detached tree; a missing `--*-bind-try` source is skipped.
pub(super) fn source<'a>(
    spec: &Spec,
    op: &FsOp,
    kind: BindKind,
    src: &Path,
    dst: &'a Path,
    optional: bool,
    strict: bool,
) -> Result<Prepared<'a>, MountError> {
    let set = match kind {
        BindKind::Ro => MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        BindKind::Rw => MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        BindKind::Dev => MOUNT_ATTR_NOSUID,
        BindKind::Suid => 0,
    };
    let opened = if strict {
        tree_no_symlinks(src, set)
    } else {
        tree(src, true, set)
    };
    Ok(match opened {
        Ok(tree) => {
            let is_dir = is_dir(tree.as_fd());
            Prepared::Bind { dst, tree, is_dir }
        }
        Err(Errno::ENOENT) if optional => {
            skipped(spec, op, src);
            Prepared::Skipped
        }
        Err(errno) => {
            return Err(MountError::Source {
                option: op.option(),
                path: src.to_path_buf(),
                errno,
                strict,
                bind: true,
            });
        }
    })
}

/// `--bind-fd`/`--ro-bind-fd`: the caller's descriptor as a detached tree.
pub(super) fn fd_source<'a>(
    op: &FsOp,
    n: i32,
    ro: bool,
    dst: &'a Path,
    fd: OwnedFd,
) -> Result<Prepared<'a>, MountError> {
    let ro = if ro { MOUNT_ATTR_RDONLY } else { 0 };
    let (tree, is_dir) =
        bind_fd(fd, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | ro).map_err(|why| MountError::Fd {
            option: op.option(),
            n,
            why,
        })?;
    Ok(Prepared::Bind { dst, tree, is_dir })
}

/// An optional bind whose source is missing: one line with -v, or always when the profile
/// says what to do about it (`missing`).
fn skipped(spec: &Spec, op: &FsOp, src: &Path) {
    let hint = spec.bind_extras.iter().find(|e| e.dst == op.dst());
    if let Some(m) = hint.and_then(|e| e.missing.as_deref()) {
        crate::output::notice(&format!(
            "{}: not bound, {} does not exist: {m}",
            op.dst().display(),
            src.display()
        ));
    } else if spec.verbose {
        crate::launch::say(&format!(
            "{} {}: skipped, {} does not exist",
            op.option(),
            op.dst().display(),
            src.display()
        ));
    }
}

/// The host object an inherited descriptor refers to, as a mount tree of this namespace. The
/// descriptor belongs to the host's mount namespace, whose mounts can't be cloned from here;
/// its path can, and the inode is checked to be the same one.
fn bind_fd(fd: OwnedFd, set: u64) -> Result<(OwnedFd, bool), FdWhy> {
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let path = std::fs::read_link(&link).map_err(FdWhy::NotOpen)?;
    let want = nix::sys::stat::stat(link.as_str()).map_err(FdWhy::Errno)?;
    let tree = tree(&path, true, set).map_err(|e| FdWhy::Path(path.clone(), e))?;
    let got = fstat(tree.as_fd()).map_err(FdWhy::Errno)?;
    if (got.st_dev, got.st_ino) != (want.st_dev, want.st_ino) {
        return Err(FdWhy::Replaced(path));
    }
    drop(fd);
    let dir = is_dir(tree.as_fd());
    Ok((tree, dir))
}

/// Make the mount at `fd` (or, if `fd` is not a mount root, a bind of it on itself)
/// read-only, submounts included.
pub(super) fn remount_ro(fd: BorrowedFd, recursive: bool) -> Result<(), Errno> {
    match sys::mount_setattr(fd, MOUNT_ATTR_RDONLY, 0, recursive) {
        Err(Errno::EINVAL) => {
            let copy = sys::open_tree_fd(fd, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)?;
            sys::mount_setattr(copy.as_fd(), MOUNT_ATTR_RDONLY, 0, recursive)?;
            sys::move_mount(copy.as_fd(), fd)
        }
        other => other,
    }
}

impl Builder {
    /// `--file`, `--bind-data`, `--ro-bind-data`: copy a descriptor's contents into a file.
    pub(super) fn data(
        &mut self,
        fd: OwnedFd,
        dst: &Path,
        perms: u32,
        how: DataKind,
    ) -> Result<(), Errno> {
        let mut input = std::fs::File::from(fd);
        let create =
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
        let mode = Mode::from_bits_truncate(perms);
        let copy = |out: OwnedFd, input: &mut std::fs::File| {
            std::io::copy(input, &mut std::fs::File::from(out))
                .map(drop)
                .map_err(io_errno)
        };
        if how == DataKind::File {
            let (parent, name) = split(&relative(dst))?;
            // bubblewrap creates the parents of --file 0755.
            let pfd = ensure_dir(self.at(), &parent, 0o755, 0o755, 0)?;
            return copy(
                openat(pfd.as_fd(), name.as_path(), create, mode)?,
                &mut input,
            );
        }
        let (scratch, name) = self.scratch()?;
        copy(openat(scratch, name.as_str(), create, mode)?, &mut input)?;
        let file = openat(
            scratch,
            name.as_str(),
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let tree = sys::open_tree_fd(file.as_fd(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)?;
        let ro = if how == DataKind::RoBind {
            MOUNT_ATTR_RDONLY
        } else {
            0
        };
        sys::mount_setattr(
            tree.as_fd(),
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | ro,
            0,
            false,
        )?;
        self.attach(dst, Create::File { parents: PRIVATE }, &tree)
    }

    /// A profile's `mask`: an empty read-only tmpfs on a directory, an empty read-only file
    /// (from the scratch tmpfs) on anything else.
    pub(super) fn mask(&mut self, dst: &Path) -> Result<(), Errno> {
        let target = match resolve(self.at(), dst, Create::No) {
            Err(Errno::ENOENT) => return Ok(()),
            other => other?,
        };
        let ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        let mnt = if is_dir(target.as_fd()) {
            tmpfs(0o755, Some(4096), ro)?
        } else {
            let (scratch, name) = self.scratch()?;
            let create = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
            drop(openat(
                scratch,
                name.as_str(),
                create,
                Mode::from_bits_truncate(0o444),
            )?);
            let flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
            let file = openat(scratch, name.as_str(), flags, Mode::empty())?;
            let tree = sys::open_tree_fd(file.as_fd(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)?;
            sys::mount_setattr(tree.as_fd(), ro, 0, false)?;
            tree
        };
        self.attach(dst, Create::No, &mnt)
    }
}
