//! Thin wrappers over the system calls that libc and nix don't wrap yet: the new mount API
//! (open_tree, move_mount, fsopen/fsconfig/fsmount, mount_setattr), openat2 and pivot_root.
//! The new mount API works on file descriptors, so no path is ever resolved twice and no
//! mount needs /proc/self/mountinfo to be read back. Also the other raw calls of the launch
//! sequence (umask, _exit, fork, prctl), so that launch/mod.rs holds only its phases.

use nix::errno::Errno;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

// The new mount API's constants and `struct mount_attr` are libc's (linux/mount.h).
use libc::{
    FSCONFIG_CMD_CREATE, FSCONFIG_SET_FLAG, FSCONFIG_SET_STRING, FSMOUNT_CLOEXEC, FSOPEN_CLOEXEC,
    MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH, mount_attr,
};
pub use libc::{
    MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, OPEN_TREE_CLOEXEC,
    OPEN_TREE_CLONE,
};
pub const AT_RECURSIVE: u32 = libc::AT_RECURSIVE as u32;
pub const AT_EMPTY_PATH: u32 = libc::AT_EMPTY_PATH as u32;

fn cstr(p: &Path) -> Result<CString, Errno> {
    CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)
}

fn fd_result(r: libc::c_long) -> Result<OwnedFd, Errno> {
    if r < 0 {
        Err(Errno::last())
    } else {
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
    }
}

fn unit_result(r: libc::c_long) -> Result<(), Errno> {
    if r < 0 { Err(Errno::last()) } else { Ok(()) }
}

const EMPTY: &CStr = c"";

/// `open_tree(dirfd, path, flags)`: with OPEN_TREE_CLONE, a detached copy of the mount at path.
pub fn open_tree(dirfd: RawFd, path: &Path, flags: u32) -> Result<OwnedFd, Errno> {
    let p = cstr(path)?;
    // SAFETY: plain system call with a valid NUL-terminated path.
    fd_result(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, p.as_ptr(), flags) })
}

/// Clone the mount tree at an already opened file descriptor.
pub fn open_tree_fd(fd: BorrowedFd, flags: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: plain system call; the empty path refers to fd itself.
    fd_result(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            flags | AT_EMPTY_PATH,
        )
    })
}

/// Attach the mount `from` on top of the object `to` refers to.
pub fn move_mount(from: BorrowedFd, to: BorrowedFd) -> Result<(), Errno> {
    // SAFETY: plain system call on two descriptors with empty paths.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            EMPTY.as_ptr(),
            to.as_raw_fd(),
            EMPTY.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
}

/// Attach the mount `from` on an absolute path of the current mount namespace.
pub fn move_mount_to_path(from: BorrowedFd, to: &Path) -> Result<(), Errno> {
    let p = cstr(to)?;
    // SAFETY: plain system call with a valid NUL-terminated path.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            EMPTY.as_ptr(),
            libc::AT_FDCWD,
            p.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
}

/// Set (and clear) mount attributes on the mount at `fd`, recursively when asked.
pub fn mount_setattr(fd: BorrowedFd, set: u64, clear: u64, recursive: bool) -> Result<(), Errno> {
    let attr = mount_attr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: attr is a valid mount_attr of the size we pass.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            flags,
            &attr as *const mount_attr,
            std::mem::size_of::<mount_attr>(),
        )
    })
}

/// A new filesystem instance, configured and mounted (detached): fsopen, fsconfig, fsmount.
/// `options` are (key, Some(value)) strings or (key, None) flags.
pub fn new_mount(
    fstype: &CStr,
    options: &[(&CStr, Option<&CStr>)],
    attrs: u64,
) -> Result<OwnedFd, Errno> {
    // SAFETY: plain system calls with valid NUL-terminated strings.
    let fs =
        fd_result(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })?;
    for (key, value) in options {
        let (cmd, v) = match value {
            Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
            None => (FSCONFIG_SET_FLAG, std::ptr::null()),
        };
        // SAFETY: as above.
        unit_result(unsafe {
            libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, key.as_ptr(), v, 0)
        })?;
    }
    // SAFETY: as above.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    })?;
    // SAFETY: as above.
    fd_result(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
}

/// `openat2` confined to `root`: absolute symlinks and `..` resolve inside it, never out.
pub fn open_in_root(root: BorrowedFd, path: &Path, flags: i32) -> Result<OwnedFd, Errno> {
    openat2(root.as_raw_fd(), path, flags, libc::RESOLVE_IN_ROOT)
}

/// `open_in_root` following no symlink at all (a profile's destinations).
pub fn open_in_root_strict(root: BorrowedFd, path: &Path, flags: i32) -> Result<OwnedFd, Errno> {
    let resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_SYMLINKS;
    openat2(root.as_raw_fd(), path, flags, resolve)
}

/// Open a host path following no symlink on the way (a profile's sources).
pub fn open_no_symlinks(path: &Path, flags: i32) -> Result<OwnedFd, Errno> {
    openat2(libc::AT_FDCWD, path, flags, libc::RESOLVE_NO_SYMLINKS)
}

fn openat2(dir: RawFd, path: &Path, flags: i32, resolve: u64) -> Result<OwnedFd, Errno> {
    let p = cstr(path)?;
    // struct open_how (linux/openat2.h); libc's is non-exhaustive.
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: resolve | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: how is a valid open_how of the size we pass.
    fd_result(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            p.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })
}

pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
    // SAFETY: plain system call with valid NUL-terminated paths.
    unit_result(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) })
}

/// fork-like clone into new namespaces: returns 0 in the child, its pid in the parent.
pub fn clone_fork(flags: libc::c_int) -> Result<libc::pid_t, Errno> {
    // SAFETY: without CLONE_VM the child gets a copy of the address space, as with fork; the
    // caller is single-threaded, so no lock can be held by a thread that doesn't exist there.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as libc::pid_t)
    }
}

/// [`clone_fork`] from a short-lived helper, for a PID namespace nested in the one joined with
/// setns: the kernel creates a PID namespace only under the one its creator lives in, and
/// after setns(CLONE_NEWPID) only the caller's children live there. The new process is still
/// the caller's child (CLONE_PARENT); the helper shares the descriptor table, so the pidfd
/// it gets for the child is the caller's, and tells the child's pid as seen from here.
pub fn clone_fork_nested_pid(flags: libc::c_int) -> Result<libc::pid_t, Errno> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: as for clone_fork; the helper shares only the descriptor table, and closes
    // nothing in it.
    let helper = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_FILES | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if helper < 0 {
        return Err(Errno::last());
    }
    if helper == 0 {
        let mut pidfd: libc::c_int = -1;
        let flags = flags | libc::CLONE_PARENT | libc::CLONE_PIDFD | libc::SIGCHLD;
        // SAFETY: as for clone_fork; CLONE_PIDFD stores the descriptor in `pidfd`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_clone,
                flags as libc::c_ulong,
                0usize,
                &mut pidfd as *mut libc::c_int,
                0usize,
                0usize,
            )
        };
        if r == 0 {
            return Ok(0);
        }
        let msg = if r < 0 { -Errno::last_raw() } else { pidfd };
        let _ = nix::unistd::write(&w, &msg.to_ne_bytes());
        // SAFETY: leave at once, without running anything of the caller's in this copy.
        unsafe { libc::_exit(0) }
    }
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(helper as libc::pid_t), None);
    drop(w);
    let mut buf = [0u8; 4];
    let n = nix::unistd::read(&r, &mut buf)?;
    let msg = libc::c_int::from_ne_bytes(buf);
    if n != buf.len() {
        return Err(Errno::ECHILD);
    }
    if msg < 0 {
        return Err(Errno::from_raw(-msg));
    }
    // SAFETY: the helper created this descriptor in the shared table for us.
    let pidfd = unsafe { OwnedFd::from_raw_fd(msg) };
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|p| p.trim().parse().ok())
        .ok_or(Errno::ESRCH)
}

/// Mark every descriptor from `first` up as close-on-exec, except those listed in `keep`.
pub fn cloexec_from(first: u32, keep: &[RawFd]) -> Result<(), Errno> {
    let mut keep: Vec<u32> = keep
        .iter()
        .map(|&f| f as u32)
        .filter(|&f| f >= first)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut lo = first;
    for k in keep.into_iter().chain(std::iter::once(u32::MAX)) {
        if k > lo {
            let hi = if k == u32::MAX { u32::MAX } else { k - 1 };
            // SAFETY: plain system call.
            unit_result(unsafe {
                libc::syscall(libc::SYS_close_range, lo, hi, libc::CLOSE_RANGE_CLOEXEC)
            })?;
        }
        lo = k.saturating_add(1);
    }
    Ok(())
}

/// Set the file mode creation mask; returns the previous one.
pub fn umask(mask: libc::mode_t) -> libc::mode_t {
    // SAFETY: umask(2) only sets this process's mask.
    unsafe { libc::umask(mask) }
}

/// End this process at once, without exit handlers (a forked copy must not run the
/// supervisor's).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) ends the process; nothing runs after it.
    unsafe { libc::_exit(code) }
}

/// fork(2), in a process known to be single-threaded (the sandbox's first process).
pub fn fork() -> Result<nix::unistd::ForkResult, Errno> {
    // SAFETY: the callers run single-threaded, so the child can go on running Rust code.
    unsafe { nix::unistd::fork() }
}

/// PR_SET_DUMPABLE.
pub fn set_dumpable(on: bool) {
    // SAFETY: plain prctl call on this process.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong, 0, 0, 0) };
}

/// PR_SET_PDEATHSIG: `sig` when the parent dies.
pub fn set_pdeathsig(sig: libc::c_int) -> Result<(), Errno> {
    // SAFETY: plain prctl call on this process.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig, 0, 0, 0) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// The in-root resolver on a temporary directory (openat2 needs no privilege).
#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    /// A fresh directory under the temporary directory, removed when dropped.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(name: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!("sbox-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(p.join("root")).unwrap();
            TempDir(p)
        }
        /// `root` inside it, opened as a directory.
        pub fn root(&self) -> OwnedFd {
            std::fs::File::open(self.0.join("root")).unwrap().into()
        }
        pub fn write(&self, rel: &str, text: &str) {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        pub fn link(&self, rel: &str, target: impl AsRef<Path>) {
            symlink(target, self.0.join(rel)).unwrap();
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The text of the file `path` names inside the root, or the errno.
    fn read_in(
        open: fn(BorrowedFd, &Path, i32) -> Result<OwnedFd, Errno>,
        root: &OwnedFd,
        path: &str,
    ) -> Result<String, Errno> {
        let fd = open(root.as_fd(), Path::new(path), libc::O_RDONLY)?;
        Ok(std::io::read_to_string(std::fs::File::from(fd)).unwrap())
    }

    use std::os::fd::AsFd;

    #[test]
    fn dot_dot_stays_in_the_root() {
        let t = TempDir::new("dotdot");
        t.write("secret", "host");
        t.write("root/secret", "inside");
        let root = t.root();
        for p in [
            "../secret",
            "../../../secret",
            "/../secret",
            "a/../../secret",
        ] {
            let got = read_in(open_in_root, &root, p);
            // `a` does not exist: its `..` fails rather than passing by.
            let want = if p.starts_with('a') {
                Err(Errno::ENOENT)
            } else {
                Ok("inside".into())
            };
            assert_eq!(got, want, "{p}");
            assert_eq!(read_in(open_in_root_strict, &root, p), want, "strict {p}");
        }
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let t = TempDir::new("links");
        t.write("secret", "host");
        t.write("root/secret", "inside");
        // Absolute, relative past the top, and the host's own path of the secret.
        t.link("root/abs", "/secret");
        t.link("root/up", "../../../../secret");
        t.link("root/host", t.0.join("secret"));
        t.link("root/dirlink", "/");
        let root = t.root();
        for p in ["abs", "up", "dirlink/secret", "dirlink/../up"] {
            assert_eq!(read_in(open_in_root, &root, p), Ok("inside".into()), "{p}");
        }
        // The host path means a path inside the root, where nothing is.
        assert_eq!(read_in(open_in_root, &root, "host"), Err(Errno::ENOENT));
    }

    #[test]
    fn strict_mode_follows_no_symlink() {
        let t = TempDir::new("strict");
        t.write("root/d/f", "inside");
        t.link("root/l", "d");
        t.link("root/d/self", "f");
        let root = t.root();
        assert_eq!(
            read_in(open_in_root_strict, &root, "d/f"),
            Ok("inside".into())
        );
        for p in ["l/f", "d/self", "l"] {
            assert!(
                open_in_root(root.as_fd(), Path::new(p), libc::O_PATH).is_ok(),
                "{p}"
            );
            let got = open_in_root_strict(root.as_fd(), Path::new(p), libc::O_PATH);
            assert_eq!(got.err(), Some(Errno::ELOOP), "strict {p}");
        }
        // Host paths: the same rule, from the working directory.
        let host = |p: &str| open_no_symlinks(&t.0.join(p), libc::O_PATH).err();
        assert_eq!(host("root/d/f"), None);
        assert_eq!(host("root/l/f"), Some(Errno::ELOOP));
        assert_eq!(host("root/d/self"), Some(Errno::ELOOP));
    }

    #[test]
    fn magic_links_are_refused() {
        // /proc/self is a plain symlink; /proc/self/exe and fd/N are magic links.
        let slash: OwnedFd = std::fs::File::open("/").unwrap().into();
        let open = std::fs::File::open("/").unwrap();
        let fd = format!("proc/self/fd/{}", open.as_raw_fd());
        for p in ["proc/self/exe", fd.as_str(), "proc/self/root/etc"] {
            let got = open_in_root(slash.as_fd(), Path::new(p), libc::O_PATH);
            assert_eq!(got.err(), Some(Errno::ELOOP), "{p}");
            let got = open_no_symlinks(&Path::new("/").join(p), libc::O_PATH);
            assert_eq!(got.err(), Some(Errno::ELOOP), "host {p}");
        }
        assert!(open_in_root(slash.as_fd(), Path::new("proc/self/status"), 0).is_ok());
    }

    #[test]
    fn a_symlink_loop_is_eloop() {
        let t = TempDir::new("loop");
        t.link("root/a", "b");
        t.link("root/b", "/a");
        t.link("root/c", "c/x");
        let root = t.root();
        for p in ["a", "b/x", "c"] {
            let got = open_in_root(root.as_fd(), Path::new(p), libc::O_PATH);
            assert_eq!(got.err(), Some(Errno::ELOOP), "{p}");
        }
    }
}
