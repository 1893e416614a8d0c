//! Process attributes an OCI config brings (and --rlimit, --oom-score-adj, --sysctl): the
//! rlimits, oom_score_adj and sysctls. (The capability sets are caps.rs's, the ids and
//! additional groups userns.rs's, the umask exec.rs's.)

use crate::error::StepError;
use crate::spec::{Rlimit, RlimitKind, Spec};
use nix::errno::Errno;
use std::borrow::Cow;
use std::fmt;

#[derive(Debug)]
pub enum ProcessError {
    /// setrlimit refused `limit` (soft:hard) of `kind`; `hard`: the caller's hard limit.
    Rlimit {
        kind: RlimitKind,
        limit: String,
        errno: Errno,
        hard: u64,
    },
    /// The procfs instance for --sysctl could not be made.
    SysctlProc(Errno),
    /// Writing the sysctl `key` (file `path`, or the UTS call with `value`).
    Sysctl {
        key: String,
        path: String,
        errno: Errno,
    },
    /// /proc/self/oom_score_adj could not be written.
    OomScoreAdj(std::io::Error),
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::Rlimit {
                errno: Errno::EPERM,
                hard,
                ..
            } => write!(
                f,
                "{}: the hard limit can't be raised above the caller's ({})",
                Errno::EPERM.desc(),
                show(*hard)
            ),
            ProcessError::Rlimit { errno, .. } | ProcessError::SysctlProc(errno) => {
                f.write_str(errno.desc())
            }
            ProcessError::Sysctl { key, errno, .. } => match errno {
                Errno::ENOENT => f.write_str("no such sysctl"),
                // The kernel lets only the root of the user namespace owning an IPC namespace
                // write its sysctls (a network's: CAP_NET_ADMIN there too).
                Errno::EACCES if !key.starts_with("net.") => write!(
                    f,
                    "{}: only uid 0 of the sandbox may write it (--uid 0)",
                    errno.desc()
                ),
                e => f.write_str(e.desc()),
            },
            ProcessError::OomScoreAdj(e) => {
                f.write_str(&crate::error::io_why(e))?;
                if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) {
                    f.write_str(
                        ": lowering it needs CAP_SYS_RESOURCE on the host (only raising it is \
                         unprivileged)",
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl StepError for ProcessError {
    fn step(&self) -> Cow<'_, str> {
        match self {
            ProcessError::Rlimit { kind, .. } => format!("--rlimit {}", kind.name()).into(),
            ProcessError::SysctlProc(_) => "--sysctl".into(),
            ProcessError::Sysctl { key, .. } => format!("--sysctl {key}").into(),
            ProcessError::OomScoreAdj(_) => "--oom-score-adj".into(),
        }
    }

    fn path(&self) -> Cow<'_, str> {
        match self {
            ProcessError::Rlimit { limit, .. } => limit.as_str().into(),
            ProcessError::SysctlProc(_) => "/proc".into(),
            ProcessError::Sysctl { path, .. } => path.as_str().into(),
            ProcessError::OomScoreAdj(_) => "/proc/self/oom_score_adj".into(),
        }
    }
}

fn resource(kind: RlimitKind) -> libc::__rlimit_resource_t {
    match kind {
        RlimitKind::As => libc::RLIMIT_AS,
        RlimitKind::Core => libc::RLIMIT_CORE,
        RlimitKind::Cpu => libc::RLIMIT_CPU,
        RlimitKind::Data => libc::RLIMIT_DATA,
        RlimitKind::Fsize => libc::RLIMIT_FSIZE,
        RlimitKind::Locks => libc::RLIMIT_LOCKS,
        RlimitKind::Memlock => libc::RLIMIT_MEMLOCK,
        RlimitKind::Msgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitKind::Nice => libc::RLIMIT_NICE,
        RlimitKind::Nofile => libc::RLIMIT_NOFILE,
        RlimitKind::Nproc => libc::RLIMIT_NPROC,
        RlimitKind::Rss => libc::RLIMIT_RSS,
        RlimitKind::Rtprio => libc::RLIMIT_RTPRIO,
        RlimitKind::Rttime => libc::RLIMIT_RTTIME,
        RlimitKind::Sigpending => libc::RLIMIT_SIGPENDING,
        RlimitKind::Stack => libc::RLIMIT_STACK,
    }
}

/// setrlimit for each: a hard limit above the caller's needs CAP_SYS_RESOURCE on the host,
/// which a user namespace doesn't give, so that is said.
pub fn set_rlimits(limits: &[Rlimit]) -> Result<(), ProcessError> {
    for l in limits {
        let value = |v: u64| {
            if v == u64::MAX {
                libc::RLIM_INFINITY
            } else {
                v
            }
        };
        let r = libc::rlimit {
            rlim_cur: value(l.soft),
            rlim_max: value(l.hard),
        };
        // SAFETY: `r` is a valid rlimit for the duration of the call.
        if unsafe { libc::setrlimit(resource(l.kind), &r) } != 0 {
            let errno = Errno::last();
            let mut old = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: as above.
            unsafe { libc::getrlimit(resource(l.kind), &mut old) };
            return Err(ProcessError::Rlimit {
                kind: l.kind,
                limit: format!("{}:{}", show(l.soft), show(l.hard)),
                errno,
                hard: old.rlim_max,
            });
        }
    }
    Ok(())
}

fn show(v: u64) -> String {
    if v == libc::RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        v.to_string()
    }
}

/// `--sysctl`, OCI `linux.sysctl`: written through a procfs instance of the sandbox's own,
/// never attached (the /proc the command sees keeps /proc/sys read-only), while this process
/// still holds every capability of the sandbox's user namespace. `validate` let only the
/// sysctls of the sandbox's own namespaces through; a network sysctl is the network
/// namespace's of whoever opens it: this process, in the sandbox's.
pub fn write_sysctls(spec: &Spec) -> Result<(), ProcessError> {
    use super::sys;
    use nix::fcntl::{OFlag, openat};
    let attrs = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;
    let proc = sys::new_mount(c"proc", &[], attrs).map_err(ProcessError::SysctlProc)?;
    for (key, value) in &spec.sysctl {
        // The UTS sysctls are the host root's files whatever the namespace: their calls.
        let uts = match key.as_str() {
            "kernel.hostname" => Some(nix::unistd::sethostname(value)),
            // SAFETY: a valid buffer and its length.
            "kernel.domainname" => Some(
                nix::errno::Errno::result(unsafe {
                    libc::setdomainname(value.as_ptr().cast(), value.len())
                })
                .map(drop),
            ),
            _ => None,
        };
        if let Some(r) = uts {
            r.map_err(|errno| ProcessError::Sysctl {
                key: key.clone(),
                path: value.clone(),
                errno,
            })?;
            continue;
        }
        let rel = format!("sys/{}", key.replace('.', "/"));
        let fail = |errno| ProcessError::Sysctl {
            key: key.clone(),
            path: format!("/proc/{rel}"),
            errno,
        };
        let fd = openat(
            &proc,
            rel.as_str(),
            OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(fail)?;
        nix::unistd::write(&fd, value.as_bytes()).map_err(fail)?;
    }
    Ok(())
}

/// /proc/self/oom_score_adj, inherited by init and the command. Raising it is allowed to
/// anyone; lowering it below the value last set with privilege needs CAP_SYS_RESOURCE on
/// the host.
pub fn set_oom_score_adj(adj: i32) -> Result<(), ProcessError> {
    std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(ProcessError::OomScoreAdj)
}
