//! The one namespace table: every kind of namespace sbox knows, with its names, and how a
//! `Spec` gets each (created by the clone, joined before it, or the caller's). Clone flags,
//! `-v`, `--info-fd`/`--json-status-fd` and the seccomp mask of new namespaces all read it
//! (launch maps a kind to its CLONE_NEW* flag in one function, `userns::flag`). A new kind
//! is one variant here, then the compiler points at every match to complete.

use super::Namespaces;
use std::os::fd::RawFd;

/// A kind of namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NsKind {
    User,
    Mount,
    Pid,
    Net,
    Ipc,
    Uts,
    Cgroup,
}

impl NsKind {
    /// Every kind, in declaration order (the order `-v` names them).
    pub const ALL: [NsKind; 7] = [
        NsKind::User,
        NsKind::Mount,
        NsKind::Pid,
        NsKind::Net,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Cgroup,
    ];

    /// Its name under `-v`.
    pub fn name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Mount => "mount",
            NsKind::Pid => "pid",
            NsKind::Net => "net",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Cgroup => "cgroup",
        }
    }

    /// Its file in /proc/PID/ns.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Mount => "mnt",
            NsKind::Pid => "pid",
            NsKind::Net => "net",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Cgroup => "cgroup",
        }
    }

    /// From its /proc name, its `-v` name or its OCI `type` (`network`): `--join-ns`, OCI
    /// `linux.namespaces`.
    pub fn from_name(name: &str) -> Option<NsKind> {
        match name {
            "network" => Some(NsKind::Net),
            _ => (NsKind::ALL.into_iter()).find(|k| k.proc_name() == name || k.name() == name),
        }
    }

    /// Its key in the `--info-fd` and `--json-status-fd` records; as bubblewrap, the user
    /// namespace is not listed.
    pub fn info_key(self) -> Option<&'static str> {
        match self {
            NsKind::User => None,
            NsKind::Mount => Some("mnt-namespace"),
            NsKind::Pid => Some("pid-namespace"),
            NsKind::Net => Some("net-namespace"),
            NsKind::Ipc => Some("ipc-namespace"),
            NsKind::Uts => Some("uts-namespace"),
            NsKind::Cgroup => Some("cgroup-namespace"),
        }
    }
}

// `ALL` lists each kind once, in declaration order.
const _: () = {
    let mut i = 0;
    while i < NsKind::ALL.len() {
        assert!(NsKind::ALL[i] as usize == i);
        i += 1;
    }
    assert!(NsKind::ALL.len() == NsKind::Cgroup as usize + 1);
};

/// How the sandbox gets its namespace of one kind: the supervisor joins `join` first (the
/// child is then cloned inside it), then the clone creates a new one when `create` (nested
/// in the joined one). Neither: the caller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsUse {
    pub join: Option<RawFd>,
    pub create: bool,
}

impl Namespaces {
    /// The namespace of this kind, from the options that set it.
    pub fn of(&self, kind: NsKind) -> NsUse {
        let create = |create| NsUse { join: None, create };
        match kind {
            // A user namespace is created unless --userns or a path names one to join, or
            // the caller's is kept (`no_userns`).
            NsKind::User => NsUse {
                join: self.userns,
                create: self.userns.is_none()
                    && !self.no_userns
                    && self.joined(NsKind::User).is_none(),
            },
            // A mount namespace always.
            NsKind::Mount => create(true),
            NsKind::Pid => NsUse {
                join: self.pidns,
                create: self.pid,
            },
            NsKind::Net => create(self.net),
            NsKind::Ipc => create(self.ipc),
            NsKind::Uts => create(self.uts),
            // --unshare-cgroup-try asks the clone too (retried without on old kernels).
            NsKind::Cgroup => create(self.cgroup || self.cgroup_try),
        }
    }
}

impl Namespaces {
    /// The path of a namespace of this kind to join (`join`), if any.
    pub fn joined(&self, kind: NsKind) -> Option<&std::path::Path> {
        (self.join.iter())
            .find(|j| j.kind == kind)
            .map(|j| j.path.as_path())
    }
}
