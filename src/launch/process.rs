//! The command's process attributes from the Spec that an OCI config brings: rlimits,
//! oom_score_adj, additional groups, umask, capability sets, sysctls.

use crate::error::SetupError;
use crate::spec::{Rlimit, RlimitKind, Spec};

/// The Spec fields this build of launch does not apply yet: refused in one line rather than
/// ignored.
pub fn refuse_unsupported(spec: &Spec) -> Result<(), SetupError> {
    let unsupported = [
        (
            !spec.uid_map.is_empty() || !spec.gid_map.is_empty(),
            "id maps",
        ),
        (spec.oom_score_adj.is_some(), "oom_score_adj"),
        (!spec.sysctl.is_empty(), "sysctl"),
    ];
    match unsupported.iter().find(|(on, _)| *on) {
        Some((_, what)) => Err(SetupError::new(*what, "", "not supported yet")),
        None => Ok(()),
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
pub fn set_rlimits(limits: &[Rlimit]) -> Result<(), SetupError> {
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
            let e = nix::errno::Errno::last();
            let mut old = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: as above.
            unsafe { libc::getrlimit(resource(l.kind), &mut old) };
            let why = match e {
                nix::errno::Errno::EPERM => format!(
                    "{}: the hard limit can't be raised above the caller's ({})",
                    e.desc(),
                    show(old.rlim_max)
                ),
                e => e.desc().to_string(),
            };
            let limit = format!("{}:{}", show(l.soft), show(l.hard));
            return Err(SetupError::new(
                format!("--rlimit {}", l.kind.name()),
                limit,
                why,
            ));
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
