//! The in-root path resolver, sbox's security core: every destination is resolved inside the
//! root being built, never following a symlink out of it, creating what is missing.

use crate::launch::sys;
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, mkdirat};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// What to create at a destination that doesn't exist yet, with the mode of the parent
/// directories created on the way (bubblewrap's modes: `PRIVATE` for mount points and
/// symlinks, `--dir`'s follow its mode: see `dir_parents`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Create {
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

pub(super) const PRIVATE: u32 = 0o700;

/// The parents of `--dir` with `--perms MODE`: rwx for the owner, r-x for group and others
/// where MODE gives them anything.
pub(super) fn dir_parents(mode: u32) -> u32 {
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
pub(super) fn relative(dst: &Path) -> PathBuf {
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
pub(super) struct In<'a> {
    pub(super) root: BorrowedFd<'a>,
    pub(super) strict: bool,
}

impl In<'_> {
    pub(super) fn open(self, rel: &Path, flags: i32) -> Result<OwnedFd, Errno> {
        if self.strict {
            sys::open_in_root_strict(self.root, rel, flags)
        } else {
            sys::open_in_root(self.root, rel, flags)
        }
    }
}

/// Open (creating when missing) a directory inside the root, one component at a time. A
/// dangling symlink on the way is followed the way the kernel would, inside the root.
pub(super) fn ensure_dir(
    root: In,
    rel: &Path,
    mode: u32,
    parents: u32,
    depth: u32,
) -> Result<OwnedFd, Errno> {
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

pub(super) fn split(rel: &Path) -> Result<(PathBuf, PathBuf), Errno> {
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
pub(super) fn resolve(root: In, dst: &Path, create: Create) -> Result<OwnedFd, Errno> {
    let rel = relative(dst);
    let made = match (root.open(&rel, libc::O_PATH), create) {
        (Err(Errno::ENOENT), Create::Dir { mode, parents }) => {
            return ensure_dir(root, &rel, mode, parents, 0);
        }
        (Err(Errno::ENOENT), Create::File { parents }) => {
            let (parent, name) = split(&rel)?;
            openat(
                ensure_dir(root, &parent, parents, parents, 0)?.as_fd(),
                name.as_path(),
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_CLOEXEC
                    | OFlag::O_NOFOLLOW,
                Mode::from_bits_truncate(0o444),
            )
            .map(drop)
        }
        (found, _) => return found,
    };
    match made {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    root.open(&rel, libc::O_PATH)
}

/// Create a symlink; an identical existing one is fine.
pub(super) fn symlink(root: In, target: &Path, dst: &Path) -> Result<(), Errno> {
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
