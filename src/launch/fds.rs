//! Descriptors shared with the program that started sbox (bubblewrap's interface): status
//! JSON, blocking and sync descriptors, lock files, and compiled seccomp programs.

use crate::error::StepError;
use crate::spec::NsKind;
use nix::errno::Errno;
use nix::unistd::Pid;
use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// Why a descriptor of the caller (or a lock file) could not be used; `opt` names the option.
#[derive(Debug)]
pub enum FdError {
    /// The number is not an open descriptor.
    NotOpen { opt: &'static str, fd: RawFd },
    /// The number is already another option's.
    Taken {
        opt: &'static str,
        fd: RawFd,
        first: &'static str,
    },
    /// Duplicating a shared descriptor failed.
    Dup {
        opt: &'static str,
        fd: RawFd,
        err: std::io::Error,
    },
    /// Writing a status record failed.
    Status { fd: RawFd, err: std::io::Error },
    /// Waiting on a blocking descriptor failed.
    Block {
        opt: &'static str,
        fd: RawFd,
        errno: Errno,
    },
    /// Opening a --lock-file.
    LockOpen { path: PathBuf, err: std::io::Error },
    /// Locking a --lock-file.
    Lock { path: PathBuf, errno: Errno },
    /// Reading a --seccomp program.
    BpfRead { fd: RawFd, err: std::io::Error },
    /// A --seccomp program of this many bytes is not one.
    BpfSize { fd: RawFd, len: usize },
}

impl fmt::Display for FdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FdError::NotOpen { fd, .. } => write!(
                f,
                "not an open file descriptor (open it for sbox, e.g. '{fd}<FILE' in the shell)"
            ),
            FdError::Taken { fd, first, .. } => write!(
                f,
                "descriptor {fd} is already used by {first} (give each option a descriptor of \
                 its own)"
            ),
            FdError::Dup { err, .. }
            | FdError::Status { err, .. }
            | FdError::LockOpen { err, .. }
            | FdError::BpfRead { err, .. } => write!(f, "{err}"),
            FdError::Block { errno, .. } | FdError::Lock { errno, .. } => f.write_str(errno.desc()),
            FdError::BpfSize { len, .. } => write!(
                f,
                "{len} bytes is not a BPF program (a whole number, at most 4096, of {}-byte \
                 instructions)",
                std::mem::size_of::<seccompiler::sock_filter>()
            ),
        }
    }
}

impl StepError for FdError {
    fn step(&self) -> Cow<'_, str> {
        match self {
            FdError::NotOpen { opt, .. }
            | FdError::Taken { opt, .. }
            | FdError::Dup { opt, .. }
            | FdError::Block { opt, .. } => (*opt).into(),
            FdError::Status { .. } => "status descriptor".into(),
            FdError::LockOpen { .. } | FdError::Lock { .. } => "--lock-file".into(),
            FdError::BpfRead { .. } | FdError::BpfSize { .. } => "--seccomp".into(),
        }
    }

    fn path(&self) -> Cow<'_, str> {
        match self {
            FdError::NotOpen { fd, .. }
            | FdError::Taken { fd, .. }
            | FdError::Dup { fd, .. }
            | FdError::Status { fd, .. }
            | FdError::Block { fd, .. }
            | FdError::BpfRead { fd, .. }
            | FdError::BpfSize { fd, .. } => fd.to_string().into(),
            FdError::LockOpen { path, .. } | FdError::Lock { path, .. } => path.to_string_lossy(),
        }
    }
}

pub fn close(fd: RawFd) {
    // SAFETY: the caller handed this descriptor to sbox; closing it is ours to do.
    unsafe { libc::close(fd) };
}

/// Whether `fd` is an open descriptor of this process.
fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// The caller's descriptors that options name, each owned once by the step that uses it:
/// nothing closes a number twice or reads one that was closed and reused meanwhile.
#[derive(Default)]
pub struct Claimed {
    pub info: Option<File>,
    pub json_status: Option<File>,
    pub sync: Option<OwnedFd>,
    pub block: Option<OwnedFd>,
    pub userns_block: Option<OwnedFd>,
    pub userns: Option<OwnedFd>,
    pub userns2: Option<OwnedFd>,
    pub pidns: Option<OwnedFd>,
    pub seccomp: Vec<OwnedFd>,
    /// By index in `spec.ops`: the descriptor of a `--file`/`--bind-data`/`--bind-fd`... op.
    pub ops: Vec<Option<OwnedFd>>,
    /// Not the caller's: with id maps of several ranges, the reading end of the pipe on which
    /// the supervisor says it wrote them (`userns::write_child_maps`).
    pub maps_written: Option<OwnedFd>,
    /// Not the caller's: with --info-fd or --json-status-fd, the reading end of the pipe on
    /// which the supervisor says it read the child's namespaces for them.
    pub records_read: Option<OwnedFd>,
}

/// Claim every descriptor the options name, before anything else: each must be open (reading
/// or closing one that isn't would report a confusing error late, or act on a descriptor
/// opened meanwhile), and one number serves one option (the first would consume or close it
/// under the second). Under the `bwrap` link, as bubblewrap accepts it, `--sync-fd` and
/// `--block-fd` may share their number with another option: that one gets a duplicate.
/// `--keep-fd` is not claimed: sbox only passes it on.
pub fn claim(spec: &crate::spec::Spec) -> Result<Claimed, FdError> {
    use crate::spec::FsOp;
    let f = &spec.fds;
    let mut taken: Vec<(RawFd, &'static str, BorrowedFd<'static>)> = Vec::new();
    let mut one = |opt: &'static str, fd: RawFd| -> Result<OwnedFd, FdError> {
        if let Some(&(_, first, ref held)) = taken.iter().find(|(n, ..)| *n == fd) {
            let shared = ["--sync-fd", "--block-fd"];
            if !(spec.shared_sync_fds && (shared.contains(&first) || shared.contains(&opt))) {
                return Err(FdError::Taken { opt, fd, first });
            }
            return held
                .try_clone_to_owned()
                .map_err(|err| FdError::Dup { opt, fd, err });
        }
        if !is_open(fd) {
            return Err(FdError::NotOpen { opt, fd });
        }
        // SAFETY: the caller handed this open descriptor to sbox for this option, and no other
        // option owns it (checked above).
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: borrowed only to duplicate it for a sharing option, while `owned` lives.
        taken.push((fd, opt, unsafe { BorrowedFd::borrow_raw(fd) }));
        Ok(owned)
    };
    let mut opt = |name: &'static str, fd: Option<RawFd>| fd.map(|fd| one(name, fd)).transpose();
    // --sync-fd first: it keeps its own number inside the sandbox.
    let mut c = Claimed {
        sync: opt("--sync-fd", f.sync)?,
        block: opt("--block-fd", f.block)?,
        info: opt("--info-fd", f.info)?.map(File::from),
        json_status: opt("--json-status-fd", f.json_status)?.map(File::from),
        userns_block: opt("--userns-block-fd", f.userns_block)?,
        userns: opt("--userns", spec.ns.userns)?,
        userns2: opt("--userns2", spec.ns.userns2)?,
        pidns: opt("--pidns", spec.ns.pidns)?,
        ..Claimed::default()
    };
    for &fd in &f.seccomp {
        c.seccomp.push(one("--seccomp", fd)?);
    }
    for op in &spec.ops {
        c.ops.push(match op {
            FsOp::Data { fd, .. } | FsOp::BindFd { fd, .. } => Some(one(op.option(), *fd)?),
            _ => None,
        });
    }
    for &fd in &f.keep {
        if !is_open(fd) {
            return Err(FdError::NotOpen {
                opt: "--keep-fd",
                fd,
            });
        }
    }
    Ok(c)
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
/// bubblewrap's order, by key (the user namespace is not listed).
pub fn child_fields(child: Pid, flags: libc::c_int) -> Vec<(String, String)> {
    let mut out = vec![("child-pid".to_string(), child.to_string())];
    let mut kinds: Vec<(&str, NsKind)> = (NsKind::ALL.into_iter())
        .filter_map(|k| Some((k.info_key()?, k)))
        .collect();
    kinds.sort();
    for (key, kind) in kinds {
        if flags & super::userns::flag(kind) == 0 {
            continue;
        }
        let key = key.to_string();
        let path = format!("/proc/{child}/ns/{}", kind.proc_name());
        if let Ok(st) = nix::sys::stat::stat(path.as_str()) {
            out.push((key, st.st_ino.to_string()));
        }
    }
    out
}

/// Write one JSON object; `pretty` spreads it over lines as --info-fd does.
pub fn write_json(
    mut out: &File,
    fields: &[(String, String)],
    pretty: bool,
) -> Result<(), FdError> {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    let text = if pretty {
        format!("{{\n    {}\n}}\n", body.join(",\n    "))
    } else {
        format!("{{ {} }}\n", body.join(", "))
    };
    out.write_all(text.as_bytes())
        .map_err(|e| status_error(out, e))
}

fn status_error(out: &File, err: std::io::Error) -> FdError {
    use std::os::fd::AsRawFd;
    FdError::Status {
        fd: out.as_raw_fd(),
        err,
    }
}

/// Write one record, serialized, on a line.
pub fn write_record(mut out: &File, record: &impl serde::Serialize) -> Result<(), FdError> {
    let mut line = serde_json::to_vec(record).expect("plain data");
    line.push(b'\n');
    out.write_all(&line).map_err(|e| status_error(out, e))
}

/// Wait until the descriptor has data (or is closed), then close it.
/// `n`: its number as the caller named it.
pub fn block_on(opt: &'static str, n: RawFd, fd: OwnedFd) -> Result<(), FdError> {
    use std::os::fd::AsFd;
    let mut b = [0u8; 1];
    let r = loop {
        match nix::unistd::read(fd.as_fd(), &mut b) {
            Err(Errno::EINTR) => continue,
            r => break r,
        }
    };
    r.map(drop)
        .map_err(|errno| FdError::Block { opt, fd: n, errno })
}

/// `--lock-file`: open each path and take a shared lock on it; the locks last as long as the
/// returned descriptors stay open.
pub fn lock_files(paths: &[PathBuf]) -> Result<Vec<std::fs::File>, FdError> {
    paths
        .iter()
        .map(|p| {
            let f = std::fs::File::open(p).map_err(|err| FdError::LockOpen {
                path: p.clone(),
                err,
            })?;
            let lock = libc::flock {
                l_type: libc::F_RDLCK as i16,
                l_whence: libc::SEEK_SET as i16,
                l_start: 0,
                l_len: 0,
                l_pid: 0,
            };
            // An open file description's lock: closing another descriptor of the same file
            // (init closes those it passed on) would drop a process-owned POSIX lock.
            nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_OFD_SETLK(&lock)).map_err(|errno| {
                FdError::Lock {
                    path: p.clone(),
                    errno,
                }
            })?;
            Ok(f)
        })
        .collect()
}

/// A compiled BPF program (an array of `struct sock_filter`) read from a descriptor.
/// `n`: its number as the caller named it.
pub fn read_bpf(n: RawFd, fd: OwnedFd) -> Result<seccompiler::BpfProgram, FdError> {
    let mut data = Vec::new();
    File::from(fd)
        .read_to_end(&mut data)
        .map_err(|err| FdError::BpfRead { fd: n, err })?;
    let size = std::mem::size_of::<seccompiler::sock_filter>();
    if data.is_empty() || data.len() % size != 0 || data.len() / size > 4096 {
        return Err(FdError::BpfSize {
            fd: n,
            len: data.len(),
        });
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

/// A start gate's pid files: the command's pid, as the caller sees it, each written whole
/// (a temporary file renamed over it: a reader never sees it half-written).
pub fn write_pid_files(
    gate: &crate::spec::StartGate,
    pid: libc::pid_t,
) -> Result<(), crate::error::SetupError> {
    for path in &gate.pid_files {
        let fail = |e: std::io::Error| {
            crate::error::SetupError::new("--pid-file", path.display().to_string(), e.to_string())
        };
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        std::fs::write(&tmp, pid.to_string()).map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)?;
    }
    for &fd in &gate.pid_fds {
        // SAFETY: the runtime keeps it open until launch returns.
        let f = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        nix::unistd::write(f, pid.to_string().as_bytes())
            .map_err(|e| crate::launch::errno_error("--pid-file", fd.to_string(), e))?;
    }
    Ok(())
}
