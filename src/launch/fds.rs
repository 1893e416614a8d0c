//! Descriptors shared with the program that started sbox (bubblewrap's interface): status
//! JSON, blocking and sync descriptors, lock files, and compiled seccomp programs.

use crate::error::SetupError;
use nix::errno::Errno;
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, RawFd};

/// Borrow a raw descriptor as a File without taking ownership of it.
fn file(fd: RawFd) -> ManuallyDrop<std::fs::File> {
    // SAFETY: the File is never dropped, so the descriptor is not closed here.
    ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) })
}

pub fn close(fd: RawFd) {
    // SAFETY: the caller handed this descriptor to sbox; closing it is ours to do.
    unsafe { libc::close(fd) };
}

/// Whether `fd` is an open descriptor of this process.
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Every descriptor the command line names must be open: reading or closing one that isn't
/// would report a confusing error late, or act on a descriptor opened meanwhile.
pub fn check_open(spec: &crate::spec::Spec) -> Result<(), SetupError> {
    use crate::spec::FsOp;
    let f = &spec.fds;
    let named = [
        ("--info-fd", f.info),
        ("--json-status-fd", f.json_status),
        ("--sync-fd", f.sync),
        ("--block-fd", f.block),
        ("--userns-block-fd", f.userns_block),
        ("--userns", spec.ns.userns),
        ("--userns2", spec.ns.userns2),
        ("--pidns", spec.ns.pidns),
    ];
    let seccomp = f.seccomp.iter().map(|&fd| ("--seccomp", Some(fd)));
    let keep = f.keep.iter().map(|&fd| ("--keep-fd", Some(fd)));
    let ops = spec.ops.iter().filter_map(|op| match op {
        FsOp::Data { fd, .. } | FsOp::BindFd { fd, .. } => Some((op.option(), Some(*fd))),
        _ => None,
    });
    for (opt, fd) in named.into_iter().chain(seccomp).chain(keep).chain(ops) {
        if let Some(fd) = fd.filter(|&fd| !is_open(fd)) {
            return Err(SetupError::new(
                opt,
                fd.to_string(),
                format!(
                    "not an open file descriptor (open it for sbox, e.g. '{fd}<FILE' in the shell)"
                ),
            ));
        }
    }
    Ok(())
}

/// The caller's descriptors that the command gets beyond 0, 1 and 2: those named by
/// `--keep-fd`, and with `--keep-fds` (as `bwrap`) every one left open without close-on-exec,
/// except those that an option consumes (read, joined, written to by sbox; `--sync-fd` is
/// passed on its own terms), even when `--keep-fd` names them. Read before sbox opens anything
/// of its own.
pub fn passed(spec: &crate::spec::Spec) -> Vec<RawFd> {
    use crate::spec::FsOp;
    let f = &spec.fds;
    if f.keep.is_empty() && !f.keep_inherited {
        return Vec::new();
    }
    let ns = &spec.ns;
    let mut consumed: Vec<RawFd> = [f.info, f.json_status, f.sync, f.block, f.userns_block]
        .into_iter()
        .chain([ns.userns, ns.userns2, ns.pidns])
        .flatten()
        .chain(f.seccomp.iter().copied())
        .collect();
    consumed.extend(spec.ops.iter().filter_map(|op| match op {
        FsOp::Data { fd, .. } | FsOp::BindFd { fd, .. } => Some(*fd),
        _ => None,
    }));
    let mut out: Vec<RawFd> = f
        .keep
        .iter()
        .filter(|fd| **fd > 2 && !consumed.contains(fd))
        .copied()
        .collect();
    if !f.keep_inherited {
        return out;
    }
    // /proc/self/fd lists what is open; without /proc, every number below the limit is tried.
    let open: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (3..open_max()).collect(),
    };
    for fd in open {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if fd > 2 && flags >= 0 && flags & libc::FD_CLOEXEC == 0 && !consumed.contains(&fd) {
            out.push(fd);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The soft limit on descriptors, at most 65536.
fn open_max() -> RawFd {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft.min(65536) as RawFd)
}

/// `"child-pid": N, "<kind>-namespace": INODE, ...` for the sandbox's first process: as
/// bubblewrap does, the mount namespace and each one created by the clone `flags`, in
/// bubblewrap's order (the user namespace is not listed).
pub fn child_fields(child: Pid, flags: libc::c_int) -> Vec<(String, String)> {
    let mut out = vec![("child-pid".to_string(), child.to_string())];
    for (ns, flag) in [
        ("cgroup", libc::CLONE_NEWCGROUP),
        ("ipc", libc::CLONE_NEWIPC),
        ("mnt", libc::CLONE_NEWNS),
        ("net", libc::CLONE_NEWNET),
        ("pid", libc::CLONE_NEWPID),
        ("uts", libc::CLONE_NEWUTS),
    ] {
        if flags & flag == 0 {
            continue;
        }
        let key = format!("{ns}-namespace");
        let path = format!("/proc/{child}/ns/{ns}");
        if let Ok(st) = nix::sys::stat::stat(path.as_str()) {
            out.push((key, st.st_ino.to_string()));
        }
    }
    out
}

/// Write one JSON object; `pretty` spreads it over lines as --info-fd does.
pub fn write_json(fd: RawFd, fields: &[(String, String)], pretty: bool) -> Result<(), SetupError> {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    let text = if pretty {
        format!("{{\n    {}\n}}\n", body.join(",\n    "))
    } else {
        format!("{{ {} }}\n", body.join(", "))
    };
    file(fd)
        .write_all(text.as_bytes())
        .map_err(|e| SetupError::new("status descriptor", fd.to_string(), e.to_string()))
}

/// Write `{ MEMBER }` as one record.
pub fn write_raw_json(fd: RawFd, member: &str) -> Result<(), SetupError> {
    file(fd)
        .write_all(format!("{{ {member} }}\n").as_bytes())
        .map_err(|e| SetupError::new("status descriptor", fd.to_string(), e.to_string()))
}

/// Wait until the descriptor has data (or is closed), then close it.
pub fn block_on(opt: &str, fd: RawFd) -> Result<(), SetupError> {
    let mut b = [0u8; 1];
    let r = loop {
        // SAFETY: borrowed only for this read.
        match nix::unistd::read(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, &mut b) {
            Err(Errno::EINTR) => continue,
            r => break r,
        }
    };
    close(fd);
    r.map(drop)
        .map_err(|e| SetupError::errno(opt, fd.to_string(), e))
}

/// `--lock-file`: open each path and take a shared lock on it; the locks last as long as the
/// returned descriptors stay open.
pub fn lock_files(paths: &[std::path::PathBuf]) -> Result<Vec<std::fs::File>, SetupError> {
    paths
        .iter()
        .map(|p| {
            let err = |e: String| SetupError::new("--lock-file", p.display().to_string(), e);
            let f = std::fs::File::open(p).map_err(|e| err(e.to_string()))?;
            let lock = libc::flock {
                l_type: libc::F_RDLCK as i16,
                l_whence: libc::SEEK_SET as i16,
                l_start: 0,
                l_len: 0,
                l_pid: 0,
            };
            // An open file description's lock: closing another descriptor of the same file
            // (init closes those it passed on) would drop a process-owned POSIX lock.
            nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_OFD_SETLK(&lock))
                .map_err(|e| err(e.desc().to_string()))?;
            Ok(f)
        })
        .collect()
}

/// A compiled BPF program (an array of `struct sock_filter`) read from a descriptor.
pub fn read_bpf(fd: RawFd) -> Result<seccompiler::BpfProgram, SetupError> {
    let err = |why: String| SetupError::new("--seccomp", fd.to_string(), why);
    let mut data = Vec::new();
    file(fd)
        .read_to_end(&mut data)
        .map_err(|e| err(e.to_string()))?;
    close(fd);
    let size = std::mem::size_of::<seccompiler::sock_filter>();
    if data.is_empty() || data.len() % size != 0 || data.len() / size > 4096 {
        return Err(err(format!(
            "{} bytes is not a BPF program (a whole number, at most 4096, of {size}-byte instructions)",
            data.len()
        )));
    }
    Ok(data
        .chunks_exact(size)
        .map(|c| seccompiler::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}
