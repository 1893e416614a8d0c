//! `--overlay`, `--tmp-overlay`, `--ro-overlay`: layers opened as directories on the host,
//! an overlayfs named by descriptor paths; the overlay probe of `--doctor`.

use super::resolve::Create;
use super::wording::MountError;
use super::{Builder, STAGING, c, fdpath, tmpfs};
use crate::launch::sys::{self, *};
use crate::spec::{FsOp, OverlayUpper};
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, mkdirat};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where a prepared overlay's writes go.
pub enum Upper {
    /// A host upper directory and its work directory, opened.
    Dirs { upper: OwnedFd, work: OwnedFd },
    /// `--tmp-overlay`: made in the scratch tmpfs while building.
    Tmp,
    /// `--ro-overlay`: no writes.
    ReadOnly,
}

/// A layer of an overlay, opened as a directory.
fn layer(op: &FsOp, p: &Path, strict: bool) -> Result<OwnedFd, MountError> {
    open_dir(p, strict).map_err(|errno| MountError::Source {
        option: op.option(),
        path: p.to_path_buf(),
        errno,
        strict,
        bind: false,
    })
}

/// The lower layers of an overlay, opened (in the order given).
pub(super) fn lower(
    op: &FsOp,
    lower: &[PathBuf],
    strict: bool,
) -> Result<Vec<OwnedFd>, MountError> {
    lower.iter().map(|p| layer(op, p, strict)).collect()
}

/// The upper layer of an overlay: a host directory and its work directory are opened.
pub(super) fn upper(op: &FsOp, upper: &OverlayUpper, strict: bool) -> Result<Upper, MountError> {
    Ok(match upper {
        OverlayUpper::Dir { upper, work } => Upper::Dirs {
            upper: layer(op, upper, strict)?,
            work: layer(op, work, strict)?,
        },
        OverlayUpper::Tmp => Upper::Tmp,
        OverlayUpper::ReadOnly => Upper::ReadOnly,
    })
}

fn open_dir(p: &Path, strict: bool) -> Result<OwnedFd, Errno> {
    if strict {
        return sys::open_no_symlinks(p, libc::O_PATH | libc::O_DIRECTORY);
    }
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    nix::fcntl::open(p, flags, Mode::empty())
}

impl Builder {
    /// An overlayfs whose layers are named by descriptor paths, so that nothing hidden by the
    /// new root (or renamed since) is looked up again.
    pub(super) fn overlay(
        &mut self,
        dst: &Path,
        lower: &[OwnedFd],
        upper: Upper,
    ) -> Result<(), Errno> {
        // The first --overlay-src is the bottom layer; overlayfs lists the top one first.
        let lowerdir = lower.iter().rev().map(fdpath).collect::<Vec<_>>().join(":");
        let mut attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        // The tmpfs upper layer's directory stays open until the overlay exists.
        let mut _tmp_upper = None;
        let upper_work = match &upper {
            Upper::Dirs { upper, work } => Some((fdpath(upper), fdpath(work))),
            Upper::Tmp => {
                let (scratch, name) = self.scratch()?;
                mkdirat(scratch, name.as_str(), Mode::from_bits_truncate(0o755))?;
                let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
                let d = openat(scratch, name.as_str(), flags, Mode::empty())?;
                mkdirat(d.as_fd(), "upper", Mode::from_bits_truncate(0o755))?;
                mkdirat(d.as_fd(), "work", Mode::from_bits_truncate(0o755))?;
                let p = fdpath(&d);
                _tmp_upper = Some(d);
                Some((format!("{p}/upper"), format!("{p}/work")))
            }
            Upper::ReadOnly => {
                attrs |= MOUNT_ATTR_RDONLY;
                None
            }
        };
        let fs = overlay_fs(&lowerdir, upper_work, attrs)?;
        let create = Create::Dir {
            mode: 0o755,
            parents: 0o755,
        };
        self.attach(dst, create, &fs)
    }
}

/// A detached overlayfs of `lowerdir`, writable when given upper and work directories.
fn overlay_fs(
    lowerdir: &str,
    upper_work: Option<(String, String)>,
    attrs: u64,
) -> Result<OwnedFd, Errno> {
    let mut opts = vec![(c("lowerdir"), Some(c(lowerdir)))];
    if let Some((u, w)) = upper_work {
        opts.push((c("upperdir"), Some(c(&u))));
        opts.push((c("workdir"), Some(c(&w))));
    }
    // Unprivileged overlays keep their metadata in user.* extended attributes.
    opts.push((c("userxattr"), None));
    let refs: Vec<(&std::ffi::CStr, Option<&std::ffi::CStr>)> = opts
        .iter()
        .map(|(k, v)| (k.as_c_str(), v.as_deref()))
        .collect();
    sys::new_mount(c"overlay", &refs, attrs)
}

/// For `--doctor`, in a new user and mount namespace: the staging tmpfs and a writable
/// overlay in it, made as `build` makes them. The error names the step that failed.
pub fn probe() -> Result<(), String> {
    let fail = |step: &str, e: Errno| format!("{step}: {}", e.desc());
    let base =
        tmpfs(0o755, None, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV).map_err(|e| fail("tmpfs", e))?;
    sys::move_mount_to_path(base.as_fd(), Path::new(STAGING))
        .map_err(|e| fail(&format!("tmpfs on {STAGING}"), e))?;
    for d in ["l", "u", "w"] {
        mkdirat(base.as_fd(), d, Mode::from_bits_truncate(0o755)).map_err(|e| fail("mkdir", e))?;
    }
    let p = fdpath(&base);
    let upper = Some((format!("{p}/u"), format!("{p}/w")));
    overlay_fs(
        &format!("{p}/l"),
        upper,
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
    )
    .map(drop)
    .map_err(|e| fail("overlay", e))
}
