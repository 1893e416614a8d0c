//! The new root. Host sources are opened (as detached mount trees) before anything is
//! mounted, a fresh tmpfs becomes the root, the operations are applied in order with every
//! destination resolved inside that root, and pivot_root enters it with the old root detached.

use super::SetupError;
use super::sys::{self, *};
use crate::spec::{BindKind, FsOp, Spec};
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat, mkdirat};
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
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
    /// Device nodes for `--dev`.
    Dev(Vec<(&'static str, OwnedFd)>),
}

/// The device nodes of a minimal /dev, bound from the host (mknod is not allowed in a user
/// namespace).
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

fn is_dir(fd: BorrowedFd) -> bool {
    fstat(fd)
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(false)
}

/// Open every host path the operations use, in the host's view (relative paths from the
/// current directory).
pub fn open_sources(spec: &Spec) -> Result<Vec<Source>, SetupError> {
    let mut out = Vec::with_capacity(spec.ops.len());
    for op in &spec.ops {
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
                match tree(src, true, set) {
                    Ok(fd) => {
                        let is_dir = is_dir(fd.as_fd());
                        Source::Tree { fd, is_dir }
                    }
                    Err(Errno::ENOENT) if *optional => Source::Skip,
                    Err(e) => {
                        let hint = if e == Errno::ENOENT {
                            format!(" (use {}-try to skip a missing source)", op.option())
                        } else {
                            String::new()
                        };
                        return Err(SetupError::new(
                            op.option(),
                            src.display().to_string(),
                            format!("{}{hint}", e.desc()),
                        ));
                    }
                }
            }
            FsOp::Proc { .. } if !spec.ns.pid => {
                // procfs can only be mounted by the owner of the PID namespace; without one
                // the host's /proc is bound instead, as bubblewrap does.
                let set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
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
                Source::Dev(nodes)
            }
            _ => Source::None,
        };
        out.push(src);
    }
    Ok(out)
}

/// What to create at a destination that doesn't exist yet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Create {
    No,
    Dir(u32),
    File,
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

/// Open (creating when missing) a directory inside the root, one component at a time. A
/// dangling symlink on the way is followed the way the kernel would, inside the root.
fn ensure_dir(root: BorrowedFd, rel: &Path, mode: u32, depth: u32) -> Result<OwnedFd, Errno> {
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    match sys::open_in_root(root, rel, flags) {
        Err(Errno::ENOENT) if depth < 40 => {}
        Err(Errno::ENOENT) => return Err(Errno::ELOOP),
        other => return other,
    }
    let (parent, name) = split(rel)?;
    let pfd = ensure_dir(root, &parent, 0o755, depth + 1)?;
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
                ensure_dir(root, &inside, mode, depth + 1)?;
            }
        }
        Err(e) => return Err(e),
    }
    sys::open_in_root(root, rel, flags)
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
fn resolve(root: BorrowedFd, dst: &Path, create: Create) -> Result<OwnedFd, Errno> {
    let rel = relative(dst);
    match sys::open_in_root(root, &rel, libc::O_PATH) {
        Err(Errno::ENOENT) if create != Create::No => {}
        other => return other,
    }
    let (parent, name) = split(&rel)?;
    let made = match create {
        Create::Dir(mode) => return ensure_dir(root, &rel, mode, 0),
        Create::File => openat(
            ensure_dir(root, &parent, 0o755, 0)?.as_fd(),
            name.as_path(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop),
        Create::No => unreachable!(),
    };
    match made {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    sys::open_in_root(root, &rel, libc::O_PATH)
}

/// Word a destination error, with the fix where there is one.
fn dst_error(op: &FsOp, e: Errno) -> SetupError {
    let why = match e {
        Errno::EROFS => format!(
            "{}: the parent directory is read-only; create the mount point first, e.g. with a --tmpfs or --dir on a writable parent",
            e.desc()
        ),
        Errno::ENOTDIR => format!("{}: a file is in the way of a directory", e.desc()),
        Errno::EEXIST => format!("{}: something else is already there", e.desc()),
        _ => e.desc().to_string(),
    };
    SetupError::new(op.option(), op.dst().display().to_string(), why)
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in a constant")
}

fn tmpfs(perms: u32, size: Option<u64>, attrs: u64) -> Result<OwnedFd, Errno> {
    let mode = c(&format!("{perms:o}"));
    let size = size.map(|s| c(&s.to_string()));
    let mut opts = vec![(c"mode", Some(mode.as_c_str()))];
    if let Some(s) = &size {
        opts.push((c"size", Some(s.as_c_str())));
    }
    sys::new_mount(c"tmpfs", &opts, attrs)
}

/// Create the new root on a fresh tmpfs and apply the operations in order. Returns the root.
pub fn build(spec: &Spec, sources: Vec<Source>) -> Result<OwnedFd, SetupError> {
    let staging = || SetupError::new("new root", STAGING, "");
    let mut root =
        tmpfs(0o755, None, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV).map_err(|e| SetupError {
            why: format!("tmpfs: {}", e.desc()),
            ..staging()
        })?;
    sys::move_mount_to_path(root.as_fd(), Path::new(STAGING)).map_err(|e| SetupError {
        why: e.desc().to_string(),
        ..staging()
    })?;
    for (op, src) in spec.ops.iter().zip(sources) {
        apply(&mut root, op, src).map_err(|e| dst_error(op, e))?;
    }
    Ok(root)
}

/// Mount `mnt` on `dst` inside the root. A mount on `/` itself becomes the new root handle:
/// lookups starting from a descriptor don't cross mounts stacked on that very directory.
fn attach(root: &mut OwnedFd, dst: &Path, create: Create, mnt: &OwnedFd) -> Result<(), Errno> {
    let target = resolve(root.as_fd(), dst, create)?;
    sys::move_mount(mnt.as_fd(), target.as_fd())?;
    if relative(dst) == Path::new(".") {
        *root = mnt
            .try_clone()
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    }
    Ok(())
}

fn apply(root: &mut OwnedFd, op: &FsOp, src: Source) -> Result<(), Errno> {
    let dir = Create::Dir(0o755);
    match (op, src) {
        (FsOp::Bind { .. }, Source::Skip) => Ok(()),
        (FsOp::Bind { dst, .. }, Source::Tree { fd, is_dir }) => {
            attach(root, dst, if is_dir { dir } else { Create::File }, &fd)
        }
        (FsOp::Tmpfs { dst, perms, size }, _) => {
            let fs = tmpfs(
                perms.unwrap_or(0o755),
                *size,
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            )?;
            attach(root, dst, dir, &fs)
        }
        (FsOp::Proc { dst }, src) => {
            let fs = match src {
                Source::Tree { fd, .. } => fd,
                _ => sys::new_mount(
                    c"proc",
                    &[],
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                )?,
            };
            attach(root, dst, dir, &fs)?;
            protect_proc(fs.as_fd())
        }
        (FsOp::Dev { dst }, Source::Dev(nodes)) => {
            let dev = tmpfs(
                0o755,
                None,
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
            )?;
            attach(root, dst, dir, &dev)?;
            populate_dev(dev.as_fd(), nodes)
        }
        (FsOp::Dir { dst, perms }, _) => {
            resolve(root.as_fd(), dst, Create::Dir(perms.unwrap_or(0o755))).map(drop)
        }
        (FsOp::Symlink { target, dst }, _) => symlink(root.as_fd(), target, dst),
        (FsOp::RemountRo { dst }, _) => {
            let target = resolve(root.as_fd(), dst, Create::No)?;
            remount_ro(target.as_fd())
        }
        _ => unreachable!("sources are opened per operation"),
    }
}

/// Make the mount at `fd` (or, if `fd` is not a mount root, a bind of it on itself)
/// read-only, submounts included.
fn remount_ro(fd: BorrowedFd) -> Result<(), Errno> {
    match sys::mount_setattr(fd, MOUNT_ATTR_RDONLY, 0, true) {
        Err(Errno::EINVAL) => {
            let copy = sys::open_tree_fd(fd, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)?;
            sys::mount_setattr(copy.as_fd(), MOUNT_ATTR_RDONLY, 0, true)?;
            sys::move_mount(copy.as_fd(), fd)
        }
        other => other,
    }
}

/// Kernel knobs under /proc stay read-only even for a process that gains capabilities.
fn protect_proc(proc_root: BorrowedFd) -> Result<(), Errno> {
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
        remount_ro(fd.as_fd())?;
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
    mkdirat(dev, "shm", Mode::from_bits_truncate(0o1777))?;
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
fn symlink(root: BorrowedFd, target: &Path, dst: &Path) -> Result<(), Errno> {
    let (parent, name) = split(&relative(dst))?;
    let pfd = ensure_dir(root, &parent, 0o755, 0)?;
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
