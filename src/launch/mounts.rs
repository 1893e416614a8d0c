//! The new root. Host sources are opened (as detached mount trees) before anything is
//! mounted, a fresh tmpfs becomes the root, the operations are applied in order with every
//! destination resolved inside that root, and pivot_root enters it with the old root detached.

use super::sys::{self, *};
use crate::error::SetupError;
use crate::spec::{BindKind, DataKind, FsOp, OverlayUpper, Spec};
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat, mkdirat};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// What an operation needs from the host, opened before the new root exists.
pub enum Source {
    None,
    /// A `--*-bind-try` whose source is missing.
    Skip,
    Tree {
        fd: OwnedFd,
        is_dir: bool,
    },
    /// The caller's descriptor whose contents fill a `--file`, `--bind-data`...
    Data(OwnedFd),
    /// Device nodes for `--dev`.
    Dev(Vec<(&'static str, OwnedFd)>),
    /// Overlay layers, opened as directories: lower (topmost first), then upper and work.
    Layers {
        lower: Vec<OwnedFd>,
        upper: Option<(OwnedFd, OwnedFd)>,
    },
}

/// The device nodes of a minimal /dev, bound from the host (mknod is not allowed in a user
/// namespace); and /dev/console when stdout is a terminal.
const DEV_NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Where the new root is attached until pivot_root; any directory of the host will do, since
/// every source was opened beforehand and nothing is resolved through this path.
const STAGING: &str = "/tmp";

fn tree(path: &Path, recursive: bool, set: u64) -> Result<OwnedFd, Errno> {
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

/// Why a profile's path failed, with what ELOOP means there.
fn why(e: Errno, strict: bool) -> String {
    if strict && e == Errno::ELOOP {
        "a symbolic link on the way (a profile's mounts follow none: a previous sandbox could have planted it): remove it".into()
    } else {
        e.desc().to_string()
    }
}

fn is_dir(fd: BorrowedFd) -> bool {
    fstat(fd)
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(false)
}

/// Open every host path the operations use, in the host's view (relative paths from the
/// current directory).
/// `fds`: the descriptors of `--file`, `--bind-fd`... by operation (fds::Claimed::ops).
pub fn open_sources(
    spec: &Spec,
    fds: &mut [Option<OwnedFd>],
    console: Option<&Path>,
) -> Result<Vec<Source>, SetupError> {
    let mut out = Vec::with_capacity(spec.ops.len());
    for (i, op) in spec.ops.iter().enumerate() {
        let strict = i < spec.profile_ops;
        let src = match op {
            FsOp::Bind {
                kind,
                src,
                optional,
                ..
            } => {
                let set = match kind {
                    BindKind::Ro => MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                    BindKind::Rw => MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                    BindKind::Dev => MOUNT_ATTR_NOSUID,
                };
                let opened = if strict {
                    tree_no_symlinks(src, set)
                } else {
                    tree(src, true, set)
                };
                match opened {
                    Ok(fd) => {
                        let is_dir = is_dir(fd.as_fd());
                        Source::Tree { fd, is_dir }
                    }
                    Err(Errno::ENOENT) if *optional => {
                        skipped(spec, op, src);
                        Source::Skip
                    }
                    Err(e) => {
                        let hint = if e == Errno::ENOENT {
                            format!(" (use {}-try to skip a missing source)", op.option())
                        } else {
                            String::new()
                        };
                        return Err(SetupError::new(
                            op.option(),
                            src.display().to_string(),
                            format!("{}{hint}", why(e, strict)),
                        )
                        .bwrap(format!(
                            "Can't find source path {}: {}",
                            src.display(),
                            e.desc()
                        )));
                    }
                }
            }
            FsOp::Proc { .. } if !spec.ns.pid && spec.ns.pidns.is_none() => {
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
                let fd = tree(Path::new("/proc"), true, set)
                    .map_err(|e| SetupError::errno("--proc", "/proc", e))?;
                Source::Tree { fd, is_dir: true }
            }
            FsOp::Dev { .. } => {
                let mut nodes = Vec::with_capacity(DEV_NODES.len());
                for name in DEV_NODES {
                    let host = PathBuf::from("/dev").join(name);
                    let fd = tree(&host, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)
                        .map_err(|e| SetupError::errno("--dev", host.display().to_string(), e))?;
                    nodes.push((name, fd));
                }
                // The terminal on stdout, as /dev/console (as bubblewrap): `tty` and
                // programs that open the console find it.
                if let Some(tty) = console {
                    let fd = tree(tty, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)
                        .map_err(|e| SetupError::errno("--dev", tty.display().to_string(), e))?;
                    nodes.push(("console", fd));
                }
                Source::Dev(nodes)
            }
            FsOp::BindFd { fd: n, ro, .. } => {
                let ro = if *ro { MOUNT_ATTR_RDONLY } else { 0 };
                let fd = fds[i].take().expect("claimed");
                let (fd, is_dir) = bind_fd(fd, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | ro)
                    .map_err(|why| SetupError::new(op.option(), n.to_string(), why))?;
                Source::Tree { fd, is_dir }
            }
            FsOp::Data { .. } => Source::Data(fds[i].take().expect("claimed")),
            FsOp::Overlay { lower, upper, .. } => {
                let dir = |p: &PathBuf| {
                    open_dir(p, strict).map_err(|e| {
                        SetupError::new(op.option(), p.display().to_string(), why(e, strict))
                    })
                };
                let lower = lower.iter().map(dir).collect::<Result<_, _>>()?;
                let upper = match upper {
                    OverlayUpper::Dir { upper, work } => Some((dir(upper)?, dir(work)?)),
                    _ => None,
                };
                Source::Layers { lower, upper }
            }
            _ => Source::None,
        };
        out.push(src);
    }
    Ok(out)
}

/// An optional bind whose source is missing: one line with -v, or always when the profile
/// says what to do about it (`missing`).
fn skipped(spec: &Spec, op: &FsOp, src: &Path) {
    let hint = spec.bind_extras.iter().find(|e| e.dst == op.dst());
    if let Some(m) = hint.and_then(|e| e.missing.as_deref()) {
        super::say(&format!(
            "{}: not bound, {} does not exist: {m}",
            op.dst().display(),
            src.display()
        ));
    } else if spec.verbose {
        super::say(&format!(
            "{} {}: skipped, {} does not exist",
            op.option(),
            op.dst().display(),
            src.display()
        ));
    }
}

fn open_dir(p: &Path, strict: bool) -> Result<OwnedFd, Errno> {
    if strict {
        return sys::open_no_symlinks(p, libc::O_PATH | libc::O_DIRECTORY);
    }
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    nix::fcntl::open(p, flags, Mode::empty())
}

/// The host object an inherited descriptor refers to, as a mount tree of this namespace. The
/// descriptor belongs to the host's mount namespace, whose mounts can't be cloned from here;
/// its path can, and the inode is checked to be the same one.
fn bind_fd(fd: OwnedFd, set: u64) -> Result<(OwnedFd, bool), String> {
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let path = std::fs::read_link(&link).map_err(|e| format!("not an open descriptor: {e}"))?;
    let want = nix::sys::stat::stat(link.as_str()).map_err(|e| e.desc().to_string())?;
    let tree = tree(&path, true, set).map_err(|e| format!("{}: {}", path.display(), e.desc()))?;
    let got = fstat(tree.as_fd()).map_err(|e| e.desc().to_string())?;
    if (got.st_dev, got.st_ino) != (want.st_dev, want.st_ino) {
        return Err(format!(
            "{} is no longer what the descriptor refers to",
            path.display()
        ));
    }
    drop(fd);
    let dir = is_dir(tree.as_fd());
    Ok((tree, dir))
}

/// What to create at a destination that doesn't exist yet, with the mode of the parent
/// directories created on the way (bubblewrap's modes: `PRIVATE` for mount points and
/// symlinks, `--dir`'s follow its mode: see `dir_parents`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Create {
    No,
    Dir {
        mode: u32,
        parents: u32,
    },
    /// A mount point for a file, 0444 as in bubblewrap (the mount covers it).
    File {
        parents: u32,
    },
}

const PRIVATE: u32 = 0o700;

/// The parents of `--dir` with `--perms MODE`: rwx for the owner, r-x for group and others
/// where MODE gives them anything.
fn dir_parents(mode: u32) -> u32 {
    let rx = |class: u32| {
        if mode & class != 0 {
            0o5 * (class / 0o7)
        } else {
            0
        }
    };
    0o700 | rx(0o070) | rx(0o007)
}

/// The destination relative to the new root, refusing components that can't be created.
fn relative(dst: &Path) -> PathBuf {
    let rel: PathBuf = dst
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// A root being built, and whether paths in it may pass through symlinks (not for a
/// profile's operations: an earlier mount may be a project holding a planted link).
#[derive(Clone, Copy)]
struct In<'a> {
    root: BorrowedFd<'a>,
    strict: bool,
}

impl In<'_> {
    fn open(self, rel: &Path, flags: i32) -> Result<OwnedFd, Errno> {
        if self.strict {
            sys::open_in_root_strict(self.root, rel, flags)
        } else {
            sys::open_in_root(self.root, rel, flags)
        }
    }
}

/// Open (creating when missing) a directory inside the root, one component at a time. A
/// dangling symlink on the way is followed the way the kernel would, inside the root.
fn ensure_dir(root: In, rel: &Path, mode: u32, parents: u32, depth: u32) -> Result<OwnedFd, Errno> {
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    match root.open(rel, flags) {
        Err(Errno::ENOENT) if depth < 40 => {}
        Err(Errno::ENOENT) => return Err(Errno::ELOOP),
        other => return other,
    }
    let (parent, name) = split(rel)?;
    let pfd = ensure_dir(root, &parent, parents, parents, depth + 1)?;
    match mkdirat(pfd.as_fd(), name.as_path(), Mode::from_bits_truncate(mode)) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            if let Ok(target) = nix::fcntl::readlinkat(pfd.as_fd(), name.as_path()) {
                let target = Path::new(&target);
                let inside = if target.is_absolute() {
                    relative(target)
                } else {
                    parent.join(target)
                };
                ensure_dir(root, &inside, mode, parents, depth + 1)?;
            }
        }
        Err(e) => return Err(e),
    }
    root.open(rel, flags)
}

fn split(rel: &Path) -> Result<(PathBuf, PathBuf), Errno> {
    match (rel.parent(), rel.file_name()) {
        (Some(p), Some(n)) => {
            let p = if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            };
            Ok((p.to_path_buf(), PathBuf::from(n)))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Resolve `dst` inside the root (never following a symlink out of it), creating it and its
/// parents when asked. Returns an O_PATH descriptor.
fn resolve(root: In, dst: &Path, create: Create) -> Result<OwnedFd, Errno> {
    let rel = relative(dst);
    match root.open(&rel, libc::O_PATH) {
        Err(Errno::ENOENT) if create != Create::No => {}
        other => return other,
    }
    let (parent, name) = split(&rel)?;
    let made = match create {
        Create::Dir { mode, parents } => return ensure_dir(root, &rel, mode, parents, 0),
        Create::File { parents } => openat(
            ensure_dir(root, &parent, parents, parents, 0)?.as_fd(),
            name.as_path(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(0o444),
        )
        .map(drop),
        Create::No => unreachable!(),
    };
    match made {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    root.open(&rel, libc::O_PATH)
}

/// Word a destination error, with the fix where there is one.
fn dst_error(op: &FsOp, e: Errno, strict: bool) -> SetupError {
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
fn bwrap_phrase(root: BorrowedFd, op: &FsOp, e: Errno, tree_dir: bool) -> String {
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
pub fn build(spec: &Spec, sources: Vec<Source>) -> Result<OwnedFd, SetupError> {
    let staging = |why: String| SetupError::new("new root", STAGING, why);
    let base = tmpfs(0o755, None, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
        .map_err(|e| staging(format!("tmpfs: {}", e.desc())))?;
    sys::move_mount_to_path(base.as_fd(), Path::new(STAGING))
        .map_err(|e| staging(e.desc().to_string()))?;
    let mut b = Builder {
        root: base.try_clone().map_err(|e| staging(e.to_string()))?,
        base,
        scratch: None,
        remount_ro_shallow: spec.remount_ro_shallow,
        file_label: spec.file_label.clone(),
        strict: false,
        nested_userns: !spec.userns_disabled(),
    };
    for (i, (op, src)) in spec.ops.iter().zip(sources).enumerate() {
        b.strict = i < spec.profile_ops;
        // (The caller's descriptor of a --bind-fd is closed by now: what it was, was noted.)
        let tree_dir = matches!(src, Source::Tree { is_dir: true, .. });
        // -v: one line per operation; the name is only formatted when it is printed.
        let r = if spec.verbose {
            let name = format!("{} {}", op.option(), op.dst().display());
            super::step(spec, &name, || b.apply(op, src))
        } else {
            b.apply(op, src)
        };
        r.map_err(|e| {
            dst_error(op, e, b.strict).bwrap(bwrap_phrase(b.root.as_fd(), op, e, tree_dir))
        })?;
    }
    b.drop_scratch()
        .map_err(|e| staging(format!("scratch: {}", e.desc())))?;
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
        if self.scratch.is_none() {
            mkdirat(self.base.as_fd(), SCRATCH, Mode::from_bits_truncate(0o700))?;
            let at = openat(
                self.base.as_fd(),
                SCRATCH,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let fs = tmpfs(0o700, None, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)?;
            sys::move_mount(fs.as_fd(), at.as_fd())?;
            self.scratch = Some((fs, 0));
        }
        let (fd, n) = match &mut self.scratch {
            Some((fd, n)) => (&*fd, n),
            None => unreachable!("just set"),
        };
        *n += 1;
        Ok((fd.as_fd(), n.to_string()))
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

    fn apply(&mut self, op: &FsOp, src: Source) -> Result<(), Errno> {
        let dir = Create::Dir {
            mode: 0o755,
            parents: PRIVATE,
        };
        let file = Create::File { parents: PRIVATE };
        let special = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        match (op, src) {
            (FsOp::Bind { .. }, Source::Skip) => Ok(()),
            (FsOp::Bind { dst, .. } | FsOp::BindFd { dst, .. }, Source::Tree { fd, is_dir }) => {
                self.attach(dst, if is_dir { dir } else { file }, &fd)
            }
            (FsOp::Tmpfs { dst, perms, size }, _) => {
                let attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
                let label = self.file_label.as_deref();
                let fs = labelled_tmpfs(perms.unwrap_or(0o755), *size, attrs, label)?;
                // bubblewrap creates a tmpfs's parents 0755.
                let create = Create::Dir {
                    mode: 0o755,
                    parents: 0o755,
                };
                self.attach(dst, create, &fs)
            }
            (FsOp::Proc { dst }, src) => {
                let fs = match src {
                    Source::Tree { fd, .. } => fd,
                    _ => sys::new_mount(c"proc", &[], special)?,
                };
                self.attach(dst, dir, &fs)?;
                protect_proc(fs.as_fd(), self.nested_userns)
            }
            (FsOp::Dev { dst }, Source::Dev(nodes)) => {
                // Not noexec, as bubblewrap: programs run or mmap(PROT_EXEC) from /dev/shm.
                let dev = tmpfs(0o755, None, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)?;
                self.attach(dst, dir, &dev)?;
                populate_dev(dev.as_fd(), nodes)
            }
            (FsOp::Mqueue { dst }, _) => {
                let fs = sys::new_mount(c"mqueue", &[], special)?;
                self.attach(dst, dir, &fs)
            }
            (FsOp::Dir { dst, perms }, _) => {
                let mode = perms.unwrap_or(0o755);
                let create = Create::Dir {
                    mode,
                    parents: dir_parents(mode),
                };
                resolve(self.at(), dst, create).map(drop)
            }
            (FsOp::Symlink { target, dst }, _) => symlink(self.at(), target, dst),
            (FsOp::RemountRo { dst }, _) => {
                let target = resolve(self.at(), dst, Create::No)?;
                // bubblewrap leaves submounts alone; sbox makes them read-only too.
                remount_ro(target.as_fd(), !self.remount_ro_shallow)
            }
            (FsOp::Chmod { mode, path }, _) => {
                let target = resolve(self.at(), path, Create::No)?;
                // chmod through the descriptor's magic link: no path is resolved again.
                nix::sys::stat::fchmodat(
                    nix::fcntl::AT_FDCWD,
                    fdpath(&target).as_str(),
                    Mode::from_bits_truncate(*mode),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
            }
            (
                FsOp::Data {
                    dst, perms, how, ..
                },
                Source::Data(fd),
            ) => {
                // bubblewrap's defaults: a plain file is 0666, a private bound one 0600.
                let default = if *how == DataKind::File { 0o666 } else { 0o600 };
                self.data(fd, dst, perms.unwrap_or(default), *how)
            }
            (FsOp::Overlay { upper, dst, .. }, Source::Layers { lower, upper: dirs }) => {
                self.overlay(dst, upper, &lower, dirs.as_ref())
            }
            (FsOp::Mask { dst }, _) => self.mask(dst),
            (FsOp::ReadOnlyPath { dst }, _) => match resolve(self.at(), dst, Create::No) {
                Err(Errno::ENOENT) => Ok(()),
                target => remount_ro(target?.as_fd(), !self.remount_ro_shallow),
            },
            _ => unreachable!("sources are opened per operation"),
        }
    }

    /// `--file`, `--bind-data`, `--ro-bind-data`: copy a descriptor's contents into a file.
    fn data(&mut self, fd: OwnedFd, dst: &Path, perms: u32, how: DataKind) -> Result<(), Errno> {
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
    fn mask(&mut self, dst: &Path) -> Result<(), Errno> {
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

    /// An overlayfs whose layers are named by descriptor paths, so that nothing hidden by the
    /// new root (or renamed since) is looked up again.
    fn overlay(
        &mut self,
        dst: &Path,
        upper: &OverlayUpper,
        lower: &[OwnedFd],
        dirs: Option<&(OwnedFd, OwnedFd)>,
    ) -> Result<(), Errno> {
        // The first --overlay-src is the bottom layer; overlayfs lists the top one first.
        let lowerdir = lower.iter().rev().map(fdpath).collect::<Vec<_>>().join(":");
        let mut attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        // The tmpfs upper layer's directory stays open until the overlay exists.
        let mut _tmp_upper = None;
        let upper_work = match (upper, dirs) {
            (OverlayUpper::Dir { .. }, Some((u, w))) => Some((fdpath(u), fdpath(w))),
            (OverlayUpper::Tmp, _) => {
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
            _ => {
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

/// Make the mount at `fd` (or, if `fd` is not a mount root, a bind of it on itself)
/// read-only, submounts included.
fn remount_ro(fd: BorrowedFd, recursive: bool) -> Result<(), Errno> {
    match sys::mount_setattr(fd, MOUNT_ATTR_RDONLY, 0, recursive) {
        Err(Errno::EINVAL) => {
            let copy = sys::open_tree_fd(fd, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)?;
            sys::mount_setattr(copy.as_fd(), MOUNT_ATTR_RDONLY, 0, recursive)?;
            sys::move_mount(copy.as_fd(), fd)
        }
        other => other,
    }
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
fn protect_proc(proc_root: BorrowedFd, nested: bool) -> Result<(), Errno> {
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

fn populate_dev(dev: BorrowedFd, nodes: Vec<(&'static str, OwnedFd)>) -> Result<(), Errno> {
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

/// Create a symlink; an identical existing one is fine.
fn symlink(root: In, target: &Path, dst: &Path) -> Result<(), Errno> {
    let (parent, name) = split(&relative(dst))?;
    let pfd = ensure_dir(root, &parent, PRIVATE, PRIVATE, 0)?;
    match nix::unistd::symlinkat(target, pfd.as_fd(), name.as_path()) {
        Err(Errno::EEXIST) => match nix::fcntl::readlinkat(pfd.as_fd(), name.as_path()) {
            Ok(existing) if Path::new(&existing) == target => Ok(()),
            _ => Err(Errno::EEXIST),
        },
        other => other,
    }
}

/// Enter the new root: it becomes `/`, and the old root is detached so that nothing of the
/// host stays reachable.
pub fn enter(root: OwnedFd) -> Result<(), SetupError> {
    let fail =
        |what: &str, e: Errno| SetupError::new("pivot_root", "", format!("{what}: {}", e.desc()));
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
pub fn make_private() -> Result<(), SetupError> {
    use nix::mount::{MsFlags, mount};
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| SetupError::errno("mount namespace", "/", e))
}

/// With limits: make every cgroup2 mount in the new root read-only (the mount itself, not
/// what is mounted below it). The cgroup files all belong to the user, so only the mount can
/// refuse the command a move out of its limited cgroup, a raised limit or a controller switched
/// off; the command can't undo it (no capabilities, and seccomp refuses mount calls). Found in
/// this process's mountinfo, before pivot_root, while the host's /proc is still there; a mount
/// hidden under a later one is out of the sandbox's reach and is left alone.
pub fn protect_cgroups(root: BorrowedFd) -> Result<(), SetupError> {
    const STEP: &str = "limits (read-only cgroup mounts)";
    let info = std::fs::read("/proc/self/mountinfo")
        .map_err(|e| SetupError::errno(STEP, "/proc/self/mountinfo", io_errno(e)))?;
    for mnt in crate::cgroup::cgroup2_mounts_under(&info, Path::new(STAGING)) {
        let fail = |e: Errno| SetupError::errno(STEP, mnt.display().to_string(), e);
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

#[cfg(test)]
mod tests {
    #[test]
    fn dir_parents_follow_perms_as_bubblewrap() {
        for (mode, parents) in [
            (0o1777, 0o755),
            (0o750, 0o750),
            (0o710, 0o750),
            (0o640, 0o750),
            (0o600, 0o700),
            (0o604, 0o705),
            (0o000, 0o700),
        ] {
            assert_eq!(super::dir_parents(mode), parents, "{mode:o}");
        }
    }

    use super::super::sys::tests::TempDir;
    use super::{Create, In, ensure_dir, resolve};
    use nix::errno::Errno;
    use std::os::fd::AsFd;
    use std::path::Path;

    const DIR: Create = Create::Dir {
        mode: 0o755,
        parents: 0o755,
    };

    #[test]
    fn creating_through_dangling_symlinks_stays_inside() {
        let t = TempDir::new("ensure");
        let host = t.0.join("escaped");
        t.link("root/abs", "/made/here");
        t.link("root/up", "../../escaped");
        t.link("root/host", &host);
        let fd = t.root();
        let root = In {
            root: fd.as_fd(),
            strict: false,
        };
        for (dst, made) in [
            ("/abs/sub", "made/here/sub"),
            ("/up/sub", "escaped/sub"),
            ("/host/sub", &format!("{}/sub", host.display())[1..]),
            ("/../../x/y", "x/y"),
        ] {
            assert!(resolve(root, Path::new(dst), DIR).is_ok(), "{dst}");
            assert!(t.0.join("root").join(made).is_dir(), "{dst}: {made}");
        }
        assert!(!host.exists(), "made outside the root");
        assert!(!Path::new("/made").exists(), "made on the host");
        // A file mount point: the dangling link is not followed out.
        t.link("root/f", host.join("file"));
        assert_eq!(
            resolve(root, Path::new("/f"), Create::File { parents: 0o755 }).err(),
            Some(Errno::ENOENT)
        );
        assert!(!host.exists(), "made outside the root");
        assert!(
            !t.0.join("root")
                .join(host.strip_prefix("/").unwrap())
                .join("file")
                .exists()
        );
    }

    #[test]
    fn strict_creation_follows_no_symlink() {
        let t = TempDir::new("ensure-strict");
        std::fs::create_dir(t.0.join("root/d")).unwrap();
        t.link("root/l", "d");
        t.link("root/dangling", "/nowhere");
        let fd = t.root();
        let root = In {
            root: fd.as_fd(),
            strict: true,
        };
        for dst in ["/l/sub", "/dangling/sub", "/l"] {
            assert_eq!(
                resolve(root, Path::new(dst), DIR).err(),
                Some(Errno::ELOOP),
                "{dst}"
            );
        }
        assert!(!t.0.join("root/d/sub").exists() && !t.0.join("root/nowhere").exists());
        assert!(resolve(root, Path::new("/d/sub"), DIR).is_ok());
    }

    #[test]
    fn a_symlink_loop_while_creating_is_eloop() {
        let t = TempDir::new("ensure-loop");
        t.link("root/a", "b/x");
        t.link("root/b", "a/y");
        let fd = t.root();
        for strict in [false, true] {
            let root = In {
                root: fd.as_fd(),
                strict,
            };
            for dst in ["a", "a/z", "b/z/w"] {
                let got = ensure_dir(root, Path::new(dst), 0o755, 0o755, 0);
                assert_eq!(got.err(), Some(Errno::ELOOP), "{dst} strict {strict}");
            }
        }
    }
}
