//! Host directories that a profile's binds write (`create = true`), made by the supervisor
//! before the clone: on a fresh account ~/.cargo/registry or ~/.npm don't exist yet, and an
//! optional bind of them would be skipped, so that what the command downloads is lost.
//!
//! Only the caller's own directories are touched: the walk starts at a directory of theirs
//! ($HOME, $XDG_CACHE_HOME, the working directory), goes down one component at a time with
//! `mkdirat`/`openat(O_NOFOLLOW)`, and refuses a symlink or a directory someone else owns on
//! the way: a link planted by an earlier sandbox can't make sbox create (or later bind)
//! anything elsewhere.

use super::SetupError;
use crate::spec::{FsOp, Spec};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat, readlinkat};
use nix::sys::stat::{Mode, fstat, mkdirat};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};

/// Make the source of every bind with `create = true` that is missing. Says, with -v, what it
/// made.
pub fn create(spec: &Spec) -> Result<(), SetupError> {
    for extra in &spec.bind_extras {
        let Some(anchor) = &extra.create_from else {
            continue;
        };
        let Some(FsOp::Bind { src, .. }) = spec.ops.iter().find(|o| o.dst() == extra.dst) else {
            continue;
        };
        let made = make(anchor, src)
            .map_err(|why| SetupError::new("create", src.display().to_string(), why))?;
        if spec.verbose && made {
            super::say(&format!("create {}: made (mode 0700)", src.display()));
        }
    }
    Ok(())
}

/// Walk from `anchor` to `dir`, creating what is missing (0700). True when something was made.
fn make(anchor: &Path, dir: &Path) -> Result<bool, String> {
    let rel = dir
        .strip_prefix(anchor)
        .map_err(|_| format!("not below {}", anchor.display()))?;
    let uid = nix::unistd::getuid().as_raw();
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    // The anchor is the caller's own setting ($HOME...): it is opened as it is named.
    let mut fd = open(anchor, flags, Mode::empty())
        .map_err(|e| format!("{}: {}", anchor.display(), e.desc()))?;
    owned(&fd, anchor, uid)?;
    let mut made = false;
    let mut at = anchor.to_path_buf();
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return Err(format!("{}: not a plain path", dir.display()));
        };
        at.push(name);
        match mkdirat(fd.as_fd(), name, Mode::from_bits_truncate(0o700)) {
            Ok(()) => made = true,
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(format!("{}: {}", at.display(), e.desc())),
        }
        let next = match openat(fd.as_fd(), name, flags | OFlag::O_NOFOLLOW, Mode::empty()) {
            Ok(next) => next,
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                return Err(match readlinkat(fd.as_fd(), name) {
                    Ok(to) => format!(
                        "{} is a symbolic link (to {}): refusing to create or bind through it; remove it",
                        at.display(),
                        to.to_string_lossy()
                    ),
                    Err(_) => format!("{} is not a directory", at.display()),
                });
            }
            Err(e) => return Err(format!("{}: {}", at.display(), e.desc())),
        };
        owned(&next, &at, uid)?;
        fd = next;
    }
    Ok(made)
}

fn owned(fd: &OwnedFd, path: &Path, uid: u32) -> Result<(), String> {
    let st = fstat(fd.as_fd()).map_err(|e| format!("{}: {}", path.display(), e.desc()))?;
    if st.st_uid != uid {
        return Err(format!(
            "{} belongs to uid {}, not to you: sbox creates directories only in your own",
            path.display(),
            st.st_uid
        ));
    }
    Ok(())
}
