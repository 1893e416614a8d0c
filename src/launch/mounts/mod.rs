//! The new root. Host sources are opened (as detached mount trees) before anything is
//! mounted, a fresh tmpfs becomes the root, the operations are applied in order with every
//! destination resolved inside that root, and pivot_root enters it with the old root detached.
//!
//! Here: what an operation needs from the host (`open_sources`) and the builder that applies
//! the operations in order (`build`). The in-root path resolver is in resolve.rs; binds,
//! data files and masks in bind.rs; /dev in dev.rs; /proc in proc.rs; overlays in
//! overlay.rs; an OCI tmpfs's `tmpcopyup` in copyup.rs; the error wording in wording.rs;
//! entering the root in pivot.rs.

mod bind;
mod copyup;
mod dev;
mod overlay;
mod pivot;
mod proc;
mod resolve;
mod wording;

pub use overlay::probe;
pub use pivot::{enter, make_private, protect_cgroups};

use crate::launch::sys::{self, *};
use crate::spec::{DataKind, FsOp, Spec};
use bind::remount_ro;
use dev::populate_dev;
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat, mkdirat};
use proc::protect_proc;
use resolve::{Create, In, PRIVATE, dir_parents, relative, resolve, symlink};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
pub use wording::MountError;
use wording::existing_link;

/// One operation, prepared before the new root exists: what it needs from the host is
/// opened, and it carries all its data. `prepare` makes one per `FsOp` and `Builder::apply`
/// applies each: both match exhaustively, so a new operation compiles only once both
/// handle it.
pub enum Prepared<'a> {
    /// A bind (`--bind`..., `--bind-fd`...): the source as a detached tree.
    Bind {
        dst: &'a Path,
        tree: OwnedFd,
        is_dir: bool,
    },
    /// A `--*-bind-try` whose source is missing.
    Skipped,
    Tmpfs {
        dst: &'a Path,
        perms: Option<u32>,
        size: Option<u64>,
    },
    /// A procfs; `host`: the host's /proc, bound instead where the sandbox has no PID
    /// namespace of its own.
    Proc {
        dst: &'a Path,
        host: Option<OwnedFd>,
    },
    /// `--dev`, with the host's device nodes opened.
    Dev {
        dst: &'a Path,
        nodes: Vec<(&'static str, OwnedFd)>,
    },
    Mqueue {
        dst: &'a Path,
    },
    Dir {
        dst: &'a Path,
        perms: Option<u32>,
    },
    Symlink {
        target: &'a Path,
        dst: &'a Path,
    },
    RemountRo {
        dst: &'a Path,
    },
    Chmod {
        path: &'a Path,
        mode: u32,
    },
    /// `--file`, `--bind-data`...: the caller's descriptor whose contents fill DEST.
    Data {
        fd: OwnedFd,
        dst: &'a Path,
        perms: Option<u32>,
        how: DataKind,
    },
    /// An overlay, its layers opened as directories: lower (topmost first), then the upper.
    Overlay {
        dst: &'a Path,
        lower: Vec<OwnedFd>,
        upper: overlay::Upper,
    },
    Mask {
        dst: &'a Path,
    },
    ReadOnlyPath {
        dst: &'a Path,
    },
    NoExec {
        dst: &'a Path,
    },
    TmpfsCopyUp {
        dst: &'a Path,
        perms: Option<u32>,
        size: Option<u64>,
    },
    /// A new cgroup2 when `v2`, or `host` (the host's /sys/fs/cgroup, read-only).
    Cgroup {
        dst: &'a Path,
        host: OwnedFd,
        v2: bool,
    },
    /// A new sysfs, or `host` (the host's /sys, read-only) where the kernel refuses one.
    Sysfs {
        dst: &'a Path,
        host: OwnedFd,
    },
}

/// Where the new root is attached until pivot_root; any directory of the host will do, since
/// every source was opened beforehand and nothing is resolved through this path.
const STAGING: &str = "/tmp";

fn is_dir(fd: BorrowedFd) -> bool {
    fstat(fd)
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(false)
}

/// Prepare every operation: open each host path it uses, in the host's view (relative paths
/// from the current directory).
/// `fds`: the descriptors of `--file`, `--bind-fd`... by operation (fds::Claimed::ops).
pub fn prepare<'a>(
    spec: &'a Spec,
    fds: &mut [Option<OwnedFd>],
    console: Option<&Path>,
) -> Result<Vec<Prepared<'a>>, MountError> {
    let mut out = Vec::with_capacity(spec.ops.len());
    for (i, op) in spec.ops.iter().enumerate() {
        let strict = i < spec.profile_ops;
        let mut claimed = || fds[i].take().expect("claimed");
        out.push(match op {
            FsOp::Bind {
                kind,
                src,
                dst,
                optional,
            } => bind::source(spec, op, *kind, src, dst, *optional, strict)?,
            FsOp::BindFd { fd: n, ro, dst } => bind::fd_source(op, *n, *ro, dst, claimed())?,
            FsOp::Tmpfs { dst, perms, size } => Prepared::Tmpfs {
                dst,
                perms: *perms,
                size: *size,
            },
            FsOp::Proc { dst } => Prepared::Proc {
                dst,
                host: match !spec.ns.pid && spec.ns.pidns.is_none() {
                    true => Some(proc::host_proc(spec)?),
                    false => None,
                },
            },
            FsOp::Dev { dst } => Prepared::Dev {
                dst,
                nodes: dev::nodes(console)?,
            },
            FsOp::Mqueue { dst } => Prepared::Mqueue { dst },
            FsOp::Dir { dst, perms } => Prepared::Dir { dst, perms: *perms },
            FsOp::Symlink { target, dst } => Prepared::Symlink { target, dst },
            FsOp::RemountRo { dst } => Prepared::RemountRo { dst },
            FsOp::Chmod { mode, path } => Prepared::Chmod { path, mode: *mode },
            FsOp::Data {
                dst, perms, how, ..
            } => Prepared::Data {
                fd: claimed(),
                dst,
                perms: *perms,
                how: *how,
            },
            FsOp::Overlay { lower, upper, dst } => Prepared::Overlay {
                dst,
                lower: overlay::lower(op, lower, strict)?,
                upper: overlay::upper(op, upper, strict)?,
            },
            FsOp::Mask { dst } => Prepared::Mask { dst },
            FsOp::ReadOnlyPath { dst } => Prepared::ReadOnlyPath { dst },
            FsOp::NoExec { dst } => Prepared::NoExec { dst },
            FsOp::Cgroup { dst } => {
                let host = bind::tree(
                    Path::new("/sys/fs/cgroup"),
                    true,
                    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                )
                .map_err(|errno| MountError::Errno {
                    step: op.option(),
                    path: "/sys/fs/cgroup".into(),
                    errno,
                })?;
                let v2 = nix::sys::statfs::fstatfs(&host)
                    .is_ok_and(|f| f.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
                Prepared::Cgroup { dst, host, v2 }
            }
            FsOp::TmpfsCopyUp { dst, perms, size } => Prepared::TmpfsCopyUp {
                dst,
                perms: *perms,
                size: *size,
            },
            FsOp::Sysfs { dst } => Prepared::Sysfs {
                dst,
                host: bind::tree(
                    Path::new("/sys"),
                    true,
                    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                )
                .map_err(|errno| MountError::Errno {
                    step: op.option(),
                    path: "/sys".into(),
                    errno,
                })?,
            },
        });
    }
    Ok(out)
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in a constant")
}

fn tmpfs(perms: u32, size: Option<u64>, attrs: u64) -> Result<OwnedFd, Errno> {
    labelled_tmpfs(perms, size, attrs, None)
}

/// A tmpfs, with an SELinux context for its files when --file-label asks.
fn labelled_tmpfs(
    perms: u32,
    size: Option<u64>,
    attrs: u64,
    label: Option<&str>,
) -> Result<OwnedFd, Errno> {
    let mode = c(&format!("{perms:o}"));
    let size = size.map(|s| c(&s.to_string()));
    let label = label.map(c);
    let mut opts = vec![(c"mode", Some(mode.as_c_str()))];
    if let Some(s) = &size {
        opts.push((c"size", Some(s.as_c_str())));
    }
    if let Some(l) = &label {
        opts.push((c"context", Some(l.as_c_str())));
    }
    sys::new_mount(c"tmpfs", &opts, attrs)
}

/// Create the new root on a fresh tmpfs and apply the operations in order. Returns the root.
pub fn build(spec: &Spec, prepared: Vec<Prepared>) -> Result<OwnedFd, MountError> {
    let staging = |what| move |errno| MountError::Staging { what, errno };
    let base =
        tmpfs(0o755, None, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV).map_err(staging("tmpfs"))?;
    sys::move_mount_to_path(base.as_fd(), Path::new(STAGING)).map_err(staging(""))?;
    let mut b = Builder {
        root: base.try_clone().map_err(MountError::StagingCopy)?,
        base,
        scratch: None,
        remount_ro_shallow: spec.remount_ro_shallow,
        file_label: spec.file_label.clone(),
        strict: false,
        nested_userns: !spec.userns_disabled(),
    };
    for (i, (op, p)) in spec.ops.iter().zip(prepared).enumerate() {
        b.strict = i < spec.profile_ops;
        // (The caller's descriptor of a --bind-fd is closed by now: what it was, was noted.)
        let tree_dir = matches!(p, Prepared::Bind { is_dir: true, .. });
        // -v: one line per operation; the name is only formatted when it is printed.
        let r = if spec.verbose {
            let name = format!("{} {}", op.option(), op.dst().display());
            super::step(spec, &name, || b.apply(p))
        } else {
            b.apply(p)
        };
        r.map_err(|errno| MountError::Dst {
            op: op.clone(),
            errno,
            strict: b.strict,
            tree_dir,
            existing: existing_link(b.root.as_fd(), op, errno),
        })?;
    }
    b.drop_scratch().map_err(staging("scratch"))?;
    Ok(b.root)
}

/// The state of the root being built.
struct Builder {
    /// The topmost mount at `/` (it changes when something is mounted on `/` itself).
    root: OwnedFd,
    /// The fresh tmpfs everything started from.
    base: OwnedFd,
    /// A private tmpfs for the files of --bind-data and the upper layers of --tmp-overlay,
    /// attached (hidden) under the base while building and detached at the end: what was
    /// bound from it stays, nothing else of it is reachable. With its entry counter.
    scratch: Option<(OwnedFd, u32)>,
    /// `--remount-ro` leaves the mounts below DEST as they are (Spec::remount_ro_shallow).
    remount_ro_shallow: bool,
    file_label: Option<String>,
    /// The current operation comes from a profile: follow no symlink.
    strict: bool,
    /// The command may create user namespaces (and mount a procfs in them).
    nested_userns: bool,
}

const SCRATCH: &str = ".sbox-scratch";

fn fdpath(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

impl Builder {
    fn at(&self) -> In<'_> {
        In {
            root: self.root.as_fd(),
            strict: self.strict,
        }
    }

    /// A fresh entry name in the scratch tmpfs, and the scratch root.
    fn scratch(&mut self) -> Result<(BorrowedFd<'_>, String), Errno> {
        let (fd, n) = match self.scratch.take() {
            Some(made) => self.scratch.insert(made),
            None => {
                mkdirat(self.base.as_fd(), SCRATCH, Mode::from_bits_truncate(0o700))?;
                let at = openat(
                    self.base.as_fd(),
                    SCRATCH,
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let fs = tmpfs(0o700, None, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)?;
                sys::move_mount(fs.as_fd(), at.as_fd())?;
                self.scratch.insert((fs, 0))
            }
        };
        *n += 1;
        Ok(((*fd).as_fd(), n.to_string()))
    }

    fn drop_scratch(&mut self) -> Result<(), Errno> {
        if let Some((fd, _)) = self.scratch.take() {
            nix::mount::umount2(fdpath(&fd).as_str(), nix::mount::MntFlags::MNT_DETACH)?;
            drop(fd);
            nix::unistd::unlinkat(
                self.base.as_fd(),
                SCRATCH,
                nix::unistd::UnlinkatFlags::RemoveDir,
            )?;
        }
        Ok(())
    }

    /// Mount `mnt` on `dst` inside the root. A mount on `/` itself becomes the new root
    /// handle: lookups starting from a descriptor don't cross mounts stacked on that very
    /// directory.
    fn attach(&mut self, dst: &Path, create: Create, mnt: &OwnedFd) -> Result<(), Errno> {
        let target = resolve(self.at(), dst, create)?;
        sys::move_mount(mnt.as_fd(), target.as_fd())?;
        if relative(dst) == Path::new(".") {
            self.root = mnt.try_clone().map_err(io_errno)?;
        }
        Ok(())
    }

    fn apply(&mut self, op: Prepared) -> Result<(), Errno> {
        let dir = Create::Dir {
            mode: 0o755,
            parents: PRIVATE,
        };
        let file = Create::File { parents: PRIVATE };
        let special = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        match op {
            Prepared::Skipped => Ok(()),
            Prepared::Bind { dst, tree, is_dir } => {
                self.attach(dst, if is_dir { dir } else { file }, &tree)
            }
            Prepared::Tmpfs { dst, perms, size } => {
                let attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
                let label = self.file_label.as_deref();
                let fs = labelled_tmpfs(perms.unwrap_or(0o755), size, attrs, label)?;
                // bubblewrap creates a tmpfs's parents 0755.
                let create = Create::Dir {
                    mode: 0o755,
                    parents: 0o755,
                };
                self.attach(dst, create, &fs)
            }
            Prepared::Proc { dst, host } => {
                let fs = match host {
                    Some(fd) => fd,
                    None => sys::new_mount(c"proc", &[], special)?,
                };
                self.attach(dst, dir, &fs)?;
                protect_proc(fs.as_fd(), self.nested_userns)
            }
            Prepared::Dev { dst, nodes } => {
                // Not noexec, as bubblewrap: programs run or mmap(PROT_EXEC) from /dev/shm.
                let dev = tmpfs(0o755, None, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)?;
                self.attach(dst, dir, &dev)?;
                populate_dev(dev.as_fd(), nodes)
            }
            Prepared::Mqueue { dst } => {
                let fs = sys::new_mount(c"mqueue", &[], special)?;
                self.attach(dst, dir, &fs)
            }
            Prepared::Dir { dst, perms } => {
                let mode = perms.unwrap_or(0o755);
                let create = Create::Dir {
                    mode,
                    parents: dir_parents(mode),
                };
                resolve(self.at(), dst, create).map(drop)
            }
            Prepared::Symlink { target, dst } => symlink(self.at(), target, dst),
            Prepared::RemountRo { dst } => {
                let target = resolve(self.at(), dst, Create::No)?;
                // bubblewrap leaves submounts alone; sbox makes them read-only too.
                remount_ro(target.as_fd(), !self.remount_ro_shallow)
            }
            Prepared::Chmod { path, mode } => {
                let target = resolve(self.at(), path, Create::No)?;
                // chmod through the descriptor's magic link: no path is resolved again.
                nix::sys::stat::fchmodat(
                    nix::fcntl::AT_FDCWD,
                    fdpath(&target).as_str(),
                    Mode::from_bits_truncate(mode),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
            }
            Prepared::Data {
                fd,
                dst,
                perms,
                how,
            } => {
                // bubblewrap's defaults: a plain file is 0666, a private bound one 0600.
                let default = if how == DataKind::File { 0o666 } else { 0o600 };
                self.data(fd, dst, perms.unwrap_or(default), how)
            }
            Prepared::Overlay { dst, lower, upper } => self.overlay(dst, &lower, upper),
            Prepared::Mask { dst } => self.mask(dst),
            Prepared::ReadOnlyPath { dst } => match resolve(self.at(), dst, Create::No) {
                Err(Errno::ENOENT) => Ok(()),
                target => remount_ro(target?.as_fd(), !self.remount_ro_shallow),
            },
            Prepared::TmpfsCopyUp { dst, perms, size } => {
                let attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
                let label = self.file_label.as_deref();
                let fs = labelled_tmpfs(perms.unwrap_or(0o755), size, attrs, label)?;
                match resolve(self.at(), dst, Create::No) {
                    Ok(old) => copyup::copy_tree(old.as_fd(), fs.as_fd(), 0)?,
                    Err(Errno::ENOENT) => {}
                    Err(e) => return Err(e),
                }
                let create = Create::Dir {
                    mode: 0o755,
                    parents: 0o755,
                };
                self.attach(dst, create, &fs)
            }
            Prepared::Cgroup { dst, host, v2 } => {
                let own = match v2 {
                    true => sys::new_mount(c"cgroup2", &[], special),
                    false => Err(Errno::EPERM),
                };
                match own {
                    Ok(fs) => self.attach(dst, dir, &fs),
                    // Its cgroup namespace is not the sandbox's, or the host's layout is v1.
                    Err(Errno::EPERM) => self.attach(dst, dir, &host),
                    Err(e) => Err(e),
                }
            }
            Prepared::Sysfs { dst, host } => match sys::new_mount(c"sysfs", &[], special) {
                Ok(fs) => self.attach(dst, dir, &fs),
                // Its network namespace is not the sandbox's.
                Err(Errno::EPERM) => self.attach(dst, dir, &host),
                Err(e) => Err(e),
            },
            Prepared::NoExec { dst } => {
                let target = resolve(self.at(), dst, Create::No)?;
                sys::mount_setattr(target.as_fd(), MOUNT_ATTR_NOEXEC, 0, true)
            }
        }
    }
}
