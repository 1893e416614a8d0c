//! OCI `tmpcopyup`: a new tmpfs starts with a copy of what the directory it covers holds
//! (podman's `--read-only` puts one on /run, /tmp and /var/tmp). The copy reads inside the new
//! root through descriptors, one name at a time, following no symlink.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FchmodatFlags, Mode, fchmodat, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, fchownat, symlinkat};
use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};

/// Deeper than this is refused rather than followed (a directory tree, not a bomb).
const MAX_DEPTH: u32 = 64;

/// Copy the directory `from` into the directory `to`: directories, regular files and
/// symlinks, with their modes; owners where the user namespace maps them (else the
/// sandbox's own). A device, fifo or socket can't be copied: refused.
pub(super) fn copy_tree(from: BorrowedFd, to: BorrowedFd, depth: u32) -> Result<(), Errno> {
    if depth > MAX_DEPTH {
        return Err(Errno::ELOOP);
    }
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut dir = nix::dir::Dir::openat(from, ".", flags, Mode::empty())?;
    let names: Vec<std::ffi::CString> = (dir.iter())
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in &names {
        copy_one(from, to, name, depth)?;
    }
    Ok(())
}

fn copy_one(from: BorrowedFd, to: BorrowedFd, name: &CStr, depth: u32) -> Result<(), Errno> {
    let st = fstatat(from, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
    let nofollow = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            mkdirat(to, name, Mode::from_bits_truncate(0o700))?;
            let src = openat(
                from,
                name,
                OFlag::O_PATH | OFlag::O_DIRECTORY | nofollow,
                Mode::empty(),
            )?;
            let dst = openat(
                to,
                name,
                OFlag::O_PATH | OFlag::O_DIRECTORY | nofollow,
                Mode::empty(),
            )?;
            copy_tree(src.as_fd(), dst.as_fd(), depth + 1)?;
        }
        libc::S_IFREG => {
            let src = openat(from, name, OFlag::O_RDONLY | nofollow, Mode::empty())?;
            let create = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | nofollow;
            let dst = openat(to, name, create, Mode::from_bits_truncate(0o600))?;
            std::io::copy(&mut File::from(src), &mut File::from(dst))
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        }
        libc::S_IFLNK => {
            let target = readlinkat(from, name)?;
            symlinkat(target.as_os_str(), to, name)?;
        }
        _ => return Err(Errno::EOPNOTSUPP),
    }
    // Owners an unprivileged user namespace can't set (unmapped ids) stay the sandbox's.
    match fchownat(
        to,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    ) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::EPERM) => {}
        Err(e) => return Err(e),
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        fchmodat(to, name, mode, FchmodatFlags::NoFollowSymlink)?;
    }
    Ok(())
}
