//! Host directories that a profile's binds write (`create = true`), made by the supervisor
//! before the clone: on a fresh account ~/.cargo/registry or ~/.npm don't exist yet, and an
//! optional bind of them would be skipped, so that what the command downloads is lost.
//!
//! Only the caller's own directories are touched: the walk starts at a directory of theirs
//! ($HOME, $XDG_CACHE_HOME, the working directory), goes down one component at a time with
//! `openat(O_NOFOLLOW)`/`mkdirat`, refuses a symlink on the way, and creates only inside
//! directories the caller owns: a link planted by an earlier sandbox can't make sbox create
//! (or later bind) anything elsewhere.

use crate::error::StepError;
use crate::spec::{FsOp, Spec};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat, readlinkat};
use nix::sys::stat::{Mode, fstat, mkdirat};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Why the host directory `src` of a `create = true` bind was not made.
#[derive(Debug)]
pub struct HostDirError {
    pub src: PathBuf,
    pub why: Why,
}

#[derive(Debug)]
pub enum Why {
    /// The directory is not below the one the walk starts from.
    NotBelow(PathBuf),
    /// A call on `at` failed.
    Errno(PathBuf, Errno),
    /// The path has `..` or the like.
    NotPlain(PathBuf),
    /// Creating in a directory of another user.
    Foreign(PathBuf),
    /// A symlink on the way, and where it points.
    Symlink(PathBuf, PathBuf),
    NotDir(PathBuf),
}

impl std::fmt::Display for HostDirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.why {
            Why::NotBelow(anchor) => write!(f, "not below {}", anchor.display()),
            Why::Errno(at, e) => write!(f, "{}: {}", at.display(), e.desc()),
            Why::NotPlain(dir) => write!(f, "{}: not a plain path", dir.display()),
            Why::Foreign(parent) => write!(
                f,
                "{} belongs to another user: sbox creates directories only in your own",
                parent.display()
            ),
            Why::Symlink(at, to) => write!(
                f,
                "{} is a symbolic link (to {}): refusing to create or bind through it; remove it",
                at.display(),
                to.to_string_lossy()
            ),
            Why::NotDir(at) => write!(f, "{} is not a directory", at.display()),
        }
    }
}

impl StepError for HostDirError {
    fn step(&self) -> std::borrow::Cow<'_, str> {
        "create".into()
    }

    fn path(&self) -> std::borrow::Cow<'_, str> {
        self.src.to_string_lossy()
    }
}

/// Make the source of every bind with `create = true` that is missing. Says, with -v, what it
/// made.
pub fn create(spec: &Spec) -> Result<(), HostDirError> {
    for extra in &spec.bind_extras {
        let Some(anchor) = &extra.create_from else {
            continue;
        };
        let Some(FsOp::Bind { src, .. }) = spec.ops.iter().find(|o| o.dst() == extra.dst) else {
            continue;
        };
        let made = make(anchor, src).map_err(|why| HostDirError {
            src: src.clone(),
            why,
        })?;
        if spec.verbose && made {
            crate::output::verbose(&format!("create {}: made (mode 0700)", src.display()));
        }
    }
    Ok(())
}

/// Walk from `anchor` to `dir`, creating what is missing (0700). True when something was made.
/// A directory is only made in one of the caller's own; an existing one is taken as it is
/// (a root-owned ~/.npm left by `sudo npm` is bound as before), a symlink never.
fn make(anchor: &Path, dir: &Path) -> Result<bool, Why> {
    let rel = dir
        .strip_prefix(anchor)
        .map_err(|_| Why::NotBelow(anchor.to_path_buf()))?;
    let uid = nix::unistd::getuid().as_raw();
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    // The anchor is the caller's own setting ($HOME...): it is opened as it is named.
    let mut fd =
        open(anchor, flags, Mode::empty()).map_err(|e| Why::Errno(anchor.to_path_buf(), e))?;
    let mut parent_ours = ours(&fd, uid);
    let mut made = false;
    let mut at = anchor.to_path_buf();
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return Err(Why::NotPlain(dir.to_path_buf()));
        };
        let parent = at.clone();
        at.push(name);
        let open_next =
            |fd: &OwnedFd| openat(fd.as_fd(), name, flags | OFlag::O_NOFOLLOW, Mode::empty());
        let next = match open_next(&fd) {
            Err(Errno::ENOENT) => {
                if !parent_ours {
                    return Err(Why::Foreign(parent));
                }
                match mkdirat(fd.as_fd(), name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) => made = true,
                    Err(Errno::EEXIST) => {}
                    Err(e) => return Err(Why::Errno(at, e)),
                }
                open_next(&fd)
            }
            other => other,
        };
        let next = match next {
            Ok(next) => next,
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                return Err(match readlinkat(fd.as_fd(), name) {
                    Ok(to) => Why::Symlink(at, to.into()),
                    Err(_) => Why::NotDir(at),
                });
            }
            Err(e) => return Err(Why::Errno(at, e)),
        };
        parent_ours = ours(&next, uid);
        fd = next;
    }
    Ok(made)
}

fn ours(fd: &OwnedFd, uid: u32) -> bool {
    fstat(fd.as_fd()).is_ok_and(|st| st.st_uid == uid)
}
