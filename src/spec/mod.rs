//! The one data model of a sandbox. The command line and profiles both produce a `Spec`;
//! everything after it (checks, launch) reads only this.

pub mod bpf;
pub mod net;
pub mod ns;
pub mod options;
pub mod syscalls;
pub mod validate;
pub mod values;

pub use ns::{NsKind, NsUse};
pub use validate::validate;

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;

/// How a bind mount is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindKind {
    /// Writable, nosuid, nodev.
    Rw,
    /// Read-only (recursively), nosuid, nodev.
    Ro,
    /// Writable, nosuid, device nodes usable.
    Dev,
    /// Writable, setuid programs, file capabilities and device nodes as the source allows:
    /// an OCI root (or `suid` bind) whose config lets privileges be gained (noNewPrivileges
    /// false), as runc mounts it; they act within the sandbox's user namespace.
    Suid,
}

/// One filesystem operation; applied in order inside the new root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FsOp {
    Bind {
        kind: BindKind,
        src: PathBuf,
        dst: PathBuf,
        /// `--*-bind-try`: a missing source skips the operation.
        optional: bool,
    },
    Tmpfs {
        dst: PathBuf,
        perms: Option<u32>,
        size: Option<u64>,
    },
    Proc {
        dst: PathBuf,
    },
    Dev {
        dst: PathBuf,
    },
    Dir {
        dst: PathBuf,
        perms: Option<u32>,
    },
    Symlink {
        target: PathBuf,
        dst: PathBuf,
    },
    RemountRo {
        dst: PathBuf,
    },
    /// A new mqueue filesystem (needs an IPC namespace).
    Mqueue {
        dst: PathBuf,
    },
    /// Change the mode of an existing path.
    Chmod {
        mode: u32,
        path: PathBuf,
    },
    /// `--file`, `--bind-data`, `--ro-bind-data`: a file filled from a descriptor.
    Data {
        fd: RawFd,
        dst: PathBuf,
        perms: Option<u32>,
        how: DataKind,
    },
    /// `--bind-fd`, `--ro-bind-fd`: bind what an open descriptor refers to.
    BindFd {
        fd: RawFd,
        dst: PathBuf,
        ro: bool,
    },
    /// An overlay of `lower` (first = bottom layer, as bubblewrap's --overlay-src) on DEST.
    Overlay {
        lower: Vec<PathBuf>,
        upper: OverlayUpper,
        dst: PathBuf,
    },
    /// A profile's `mask`: hide what DEST holds at this point of the build (an empty
    /// read-only tmpfs on a directory, an empty read-only file on anything else); nothing to
    /// do when DEST does not exist. Decided inside the new root, where DEST's type is known.
    Mask {
        dst: PathBuf,
    },
    /// An OCI `readonlyPaths` entry: DEST made read-only where it is (bound on itself when it
    /// is not a mount), the mounts below it as `remount_ro_shallow` says; nothing to do when
    /// DEST does not exist.
    ReadOnlyPath {
        dst: PathBuf,
    },
    /// An OCI mount's `noexec` option: the mount just made at DEST, and those below it, run
    /// no programs.
    NoExec {
        dst: PathBuf,
    },
    /// An OCI sysfs mount: a new sysfs at DEST (nosuid, nodev, noexec), which the kernel
    /// allows only in a network namespace owned by the sandbox's user namespace; where it
    /// refuses, the host's /sys bound read-only instead, as rootless runc does.
    Sysfs {
        dst: PathBuf,
    },
    /// An OCI cgroup mount: on a cgroup v2 host, a new cgroup2 (its root is the sandbox's
    /// cgroup namespace's, when it has one); where the kernel refuses one, or on a v1 or
    /// hybrid host, the host's /sys/fs/cgroup bound read-only instead.
    Cgroup {
        dst: PathBuf,
    },
    /// An OCI tmpfs with `tmpcopyup`: a tmpfs on DEST, as `Tmpfs`, holding first a copy of
    /// what DEST held (directories, files, symlinks, their modes, and owners where mapped).
    TmpfsCopyUp {
        dst: PathBuf,
        perms: Option<u32>,
        size: Option<u64>,
    },
}

/// Where a `Data` operation's file ends up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// `--file`: written directly at DEST.
    File,
    /// `--bind-data`: a private file bound on DEST.
    Bind,
    /// `--ro-bind-data`: the same, read-only.
    RoBind,
}

/// Where an overlay's writes go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OverlayUpper {
    /// `--overlay RWSRC WORKDIR DEST`: a host directory.
    Dir { upper: PathBuf, work: PathBuf },
    /// `--tmp-overlay`: an invisible tmpfs.
    Tmp,
    /// `--ro-overlay`: no writes.
    ReadOnly,
}

impl FsOp {
    /// The destination inside the sandbox.
    pub fn dst(&self) -> &std::path::Path {
        match self {
            FsOp::Bind { dst, .. }
            | FsOp::Tmpfs { dst, .. }
            | FsOp::Proc { dst }
            | FsOp::Dev { dst }
            | FsOp::Dir { dst, .. }
            | FsOp::Symlink { dst, .. }
            | FsOp::RemountRo { dst }
            | FsOp::Mqueue { dst }
            | FsOp::Data { dst, .. }
            | FsOp::BindFd { dst, .. }
            | FsOp::Overlay { dst, .. }
            | FsOp::Mask { dst }
            | FsOp::ReadOnlyPath { dst }
            | FsOp::NoExec { dst }
            | FsOp::Sysfs { dst }
            | FsOp::Cgroup { dst }
            | FsOp::TmpfsCopyUp { dst, .. }
            | FsOp::Chmod { path: dst, .. } => dst,
        }
    }

    /// The option that produced this operation, for error messages.
    pub fn option(&self) -> &'static str {
        match self {
            FsOp::ReadOnlyPath { .. } => "linux.readonlyPaths",
            FsOp::Bind {
                kind: BindKind::Suid,
                ..
            } => "bind mount (suid)",
            FsOp::NoExec { .. } => "mounts[].options noexec",
            FsOp::Sysfs { .. } => "sysfs mount",
            FsOp::Cgroup { .. } => "cgroup mount",
            FsOp::TmpfsCopyUp { .. } => "tmpfs mount (tmpcopyup)",
            _ => self.op().and_then(options::option_of).unwrap_or("mask"),
        }
    }
}

/// Namespaces to create or join. A mount namespace is always created, and a user namespace
/// unless `userns` or `join` names one to join or `no_userns` is set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub ipc: bool,
    pub pid: bool,
    pub net: bool,
    pub uts: bool,
    pub cgroup: bool,
    /// `--unshare-cgroup-try`: a cgroup namespace if the kernel has them.
    pub cgroup_try: bool,
    /// `--userns FD`: join this user namespace instead of creating one.
    pub userns: Option<RawFd>,
    /// `--userns2 FD`: switch to this user namespace once the sandbox is built.
    pub userns2: Option<RawFd>,
    /// `--pidns FD`: join this PID namespace (as the parent of a new one with --unshare-pid).
    pub pidns: Option<RawFd>,
    /// `--disable-userns`: the command can't create user namespaces.
    pub disable_userns: bool,
    /// `--assert-userns-disabled`: fail unless that is already so.
    pub assert_userns_disabled: bool,
    /// Namespaces joined by path (OCI `linux.namespaces[].path`, `--join-ns KIND:PATH`)
    /// instead of being created: the supervisor joins them before clone, the user namespace
    /// first (the others then belong to it), the mount namespace last. A kind joined here is
    /// not also created (`validate` refuses `net` with a joined net namespace).
    pub join: Vec<NsJoin>,
    /// Create no user namespace: the caller already holds CAP_SYS_ADMIN in its own (podman
    /// runs its OCI runtime as uid 0 in podman's user namespace, with a config that has no
    /// user namespace). No id maps are written; the command becomes `uid`/`gid` (and
    /// `groups`) with setresuid/setresgid, and the user-namespace limit of the caller's
    /// namespace is left alone. Default (false): a user namespace is created, or joined.
    pub no_userns: bool,
}

/// One namespace joined instead of created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsJoin {
    pub kind: NsKind,
    /// A namespace file: /proc/PID/ns/KIND, or a bind mount of one.
    pub path: PathBuf,
}

impl CapSets {
    /// `keep` in all five sets.
    pub fn all_of(keep: &[caps::Capability]) -> CapSets {
        CapSets {
            bounding: keep.to_vec(),
            effective: keep.to_vec(),
            permitted: keep.to_vec(),
            inheritable: keep.to_vec(),
            ambient: keep.to_vec(),
        }
    }
}

/// One range of a uid or gid map: `count` ids from `inside` map onto ids from `outside` in
/// the parent user namespace (a line of /proc/PID/uid_map).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// A resource of setrlimit(2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RlimitKind {
    As,
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Rttime,
    Sigpending,
    Stack,
}

impl RlimitKind {
    pub const ALL: [RlimitKind; 16] = [
        RlimitKind::As,
        RlimitKind::Core,
        RlimitKind::Cpu,
        RlimitKind::Data,
        RlimitKind::Fsize,
        RlimitKind::Locks,
        RlimitKind::Memlock,
        RlimitKind::Msgqueue,
        RlimitKind::Nice,
        RlimitKind::Nofile,
        RlimitKind::Nproc,
        RlimitKind::Rss,
        RlimitKind::Rtprio,
        RlimitKind::Rttime,
        RlimitKind::Sigpending,
        RlimitKind::Stack,
    ];

    /// `NOFILE` (OCI says `RLIMIT_NOFILE`: `from_name` takes both).
    pub fn name(self) -> &'static str {
        match self {
            RlimitKind::As => "AS",
            RlimitKind::Core => "CORE",
            RlimitKind::Cpu => "CPU",
            RlimitKind::Data => "DATA",
            RlimitKind::Fsize => "FSIZE",
            RlimitKind::Locks => "LOCKS",
            RlimitKind::Memlock => "MEMLOCK",
            RlimitKind::Msgqueue => "MSGQUEUE",
            RlimitKind::Nice => "NICE",
            RlimitKind::Nofile => "NOFILE",
            RlimitKind::Nproc => "NPROC",
            RlimitKind::Rss => "RSS",
            RlimitKind::Rtprio => "RTPRIO",
            RlimitKind::Rttime => "RTTIME",
            RlimitKind::Sigpending => "SIGPENDING",
            RlimitKind::Stack => "STACK",
        }
    }

    pub fn from_name(name: &str) -> Option<RlimitKind> {
        let name = name.strip_prefix("RLIMIT_").unwrap_or(name);
        RlimitKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

/// One resource limit of the command (setrlimit before exec). `u64::MAX` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub kind: RlimitKind,
    pub soft: u64,
    pub hard: u64,
}

/// The command's five capability sets, given in full (OCI `process.capabilities`): each is
/// exactly its list at exec (the kernel's rules apply: ambient must be in permitted and
/// inheritable, effective in permitted, permitted in bounding; `validate` checks them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: Vec<caps::Capability>,
    pub effective: Vec<caps::Capability>,
    pub permitted: Vec<caps::Capability>,
    pub inheritable: Vec<caps::Capability>,
    pub ambient: Vec<caps::Capability>,
}

/// Descriptors through which sbox talks with the program that started it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fds {
    /// `--info-fd`: one JSON object with the child pid and namespace ids.
    pub info: Option<RawFd>,
    /// `--json-status-fd`: JSON lines, at start and at exit.
    pub json_status: Option<RawFd>,
    /// `--sync-fd`: kept open inside the sandbox while it runs.
    pub sync: Option<RawFd>,
    /// `--block-fd`: wait for data on it before building the sandbox.
    pub block: Option<RawFd>,
    /// `--userns-block-fd`: wait for data on it before using the user namespace (someone else
    /// writes the id maps).
    pub userns_block: Option<RawFd>,
    /// `--seccomp` and `--add-seccomp-fd`: compiled BPF programs, installed last, in order.
    pub seccomp: Vec<RawFd>,
    /// `--keep-fd`: the caller's descriptors passed on to the command.
    pub keep: Vec<RawFd>,
    /// `--keep-fds` (always as `bwrap`): every descriptor the caller left open (not
    /// close-on-exec) is passed on, but those that the options above consume.
    pub keep_inherited: bool,
}

/// An environment edit, applied in order after `clear`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvOp {
    Set(OsString, OsString),
    Unset(OsString),
    /// A profile's `env.keep`: the caller's variables whose names match this glob (`*`, `?`)
    /// survive `clear`.
    Keep(String),
    /// A profile's `env.offline`: set only when the sandbox has no network (decided once the
    /// command line is applied: `--share-net` drops it).
    Offline(OsString, OsString),
}

/// Shell-style match of `name` against `pattern`, where `*` is any run and `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matching with one backtrack point: the last `*` seen.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// Built-in seccomp policies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeccompProfile {
    /// Allow by default, deny the dangerous syscalls.
    #[default]
    Default,
    /// Allow list of ordinary-program syscalls, everything else ENOSYS.
    Strict,
    /// No filter.
    None,
}

impl SeccompProfile {
    pub const ALL: [SeccompProfile; 3] = [
        SeccompProfile::Default,
        SeccompProfile::Strict,
        SeccompProfile::None,
    ];

    /// Its name, as `--seccomp-profile`, a profile's `seccomp.profile` and -v say it.
    pub fn name(self) -> &'static str {
        match self {
            SeccompProfile::Default => "default",
            SeccompProfile::Strict => "strict",
            SeccompProfile::None => "none",
        }
    }

    pub fn from_name(name: &str) -> Option<SeccompProfile> {
        SeccompProfile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// `default, strict or none`.
    pub fn names() -> String {
        let n = SeccompProfile::ALL.map(SeccompProfile::name);
        format!("{}, {} or {}", n[0], n[1], n[2])
    }
}

/// Seccomp policy requested for the command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seccomp {
    pub profile: SeccompProfile,
    /// Syscall names allowed on top of the profile.
    pub allow: Vec<String>,
    /// Syscall names denied with the given errno (EPERM when not given).
    pub deny: Vec<(String, i32)>,
    /// Let i386 syscalls through (checked against a coarse i386 list); x32 stays refused.
    pub allow_32bit: bool,
    /// Programs a front end compiled (an OCI config's linux.seccomp), installed like the
    /// `--seccomp` ones, before them.
    pub programs: Vec<seccompiler::BpfProgram>,
}

/// Landlock policy requested for the command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Landlock {
    /// `--landlock`: derive rules from the mounts.
    pub from_mounts: bool,
    pub ro: Vec<PathBuf>,
    pub rw: Vec<PathBuf>,
    pub tcp_connect: Vec<u16>,
    pub tcp_bind: Vec<u16>,
}

impl Spec {
    /// Whether the command must be unable to create user namespaces: asked for with
    /// --disable-userns, and sbox's default unless --allow-userns (bubblewrap's is not) or a
    /// user namespace is joined (--userns: its limit belongs to whoever made it).
    /// `--cap-add` (`add`) or `--cap-drop` of one capability or ALL; the list stays in the
    /// kernel's order.
    pub fn cap(&mut self, opt: &str, add: bool, name: &str) -> Result<(), values::ValueError> {
        let set: Vec<caps::Capability> = if name.eq_ignore_ascii_case("ALL") {
            caps::all().into_iter().collect()
        } else {
            vec![values::parse_cap(opt, name)?]
        };
        for c in set {
            self.caps.retain(|x| *x != c);
            if add {
                self.caps.push(c);
            }
        }
        self.caps.sort_by_key(|c| c.index());
        Ok(())
    }

    pub fn userns_disabled(&self) -> bool {
        self.ns.disable_userns
            || !(self.userns_unlimited || self.allow_userns || !self.own_userns())
    }

    /// Whether the sandbox runs in a user namespace of its own (not one joined with
    /// --userns or by path, nor the caller's with `no_userns`).
    pub fn own_userns(&self) -> bool {
        self.ns.userns.is_none() && !self.ns.no_userns && self.joined(NsKind::User).is_none()
    }

    /// Whether the supervisor writes the id maps of the sandbox's user namespace (`uid_map`
    /// or `gid_map` given), while the child waits; otherwise the child writes its own.
    pub fn maps_by_supervisor(&self) -> bool {
        self.own_userns() && (!self.uid_map.is_empty() || !self.gid_map.is_empty())
    }

    /// The command's capability sets: `cap_sets` if given, else `caps` in all five.
    pub fn command_caps(&self) -> CapSets {
        match &self.cap_sets {
            Some(sets) => sets.clone(),
            None => CapSets::all_of(&self.caps),
        }
    }

    /// Whether the command may hold any capability (its bounding set bounds every set, and
    /// what a uid 0 gets at exec).
    pub fn any_caps(&self) -> bool {
        match &self.cap_sets {
            Some(sets) => !sets.bounding.is_empty(),
            None => !self.caps.is_empty(),
        }
    }

    /// The path of a namespace of this kind to join, if any.
    pub fn joined(&self, kind: NsKind) -> Option<&std::path::Path> {
        self.ns.joined(kind)
    }
}

impl Landlock {
    pub fn enabled(&self) -> bool {
        self.from_mounts
            || !self.ro.is_empty()
            || !self.rw.is_empty()
            || !self.tcp_connect.is_empty()
            || !self.tcp_bind.is_empty()
    }
}

/// What a profile adds to one of its binds, keyed by the bind's destination (a later layer's
/// mount on the same path drops it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindExtra {
    pub dst: PathBuf,
    /// `create = true`: the source directory is made on the host (mode 0700, parents too)
    /// before the sandbox is built, walking down from this directory, which the caller must
    /// own, without following a symlink.
    pub create_from: Option<PathBuf>,
    /// `missing = "..."`: what to do, said in one line when the optional source is missing.
    pub missing: Option<String>,
}

/// Resource limits, applied through a cgroup v2 subtree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// memory.max in bytes.
    pub memory: Option<u64>,
    /// With `memory`: memory.swap.max in bytes (`u64::MAX`: no limit), from an OCI config's
    /// memory.swap. None: no swap (0), sbox's own.
    pub swap: Option<u64>,
    /// pids.max.
    pub pids: Option<u64>,
    /// CPU share in percent of one CPU (150 = one and a half CPUs).
    pub cpu_percent: Option<u32>,
    /// The systemd scope the limits must live in (an OCI config's linux.cgroupsPath under the
    /// systemd cgroup manager). None: sbox's own `sbox-PID-RAND.scope`, or a delegated cgroup.
    pub scope: Option<ScopeUnit>,
}

/// A transient scope asked for by name, in a slice of the user's systemd.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeUnit {
    /// The unit, `PREFIX-NAME.scope`.
    pub unit: String,
    /// Its `Slice` property, such as `user.slice`.
    pub slice: String,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.pids.is_some() || self.cpu_percent.is_some()
    }
}

/// Provenance for `--explain`, nothing else reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins {
    /// The profile files applied, in order: (name as referenced, path).
    pub layers: Vec<(String, PathBuf)>,
    /// The layer that last changed each value, keyed as `--explain` prints them.
    pub by_key: std::collections::BTreeMap<String, String>,
    /// `--explain` was given: only then is `by_key` filled (it costs more than the rest of
    /// loading the profiles).
    pub wanted: bool,
}

/// Everything sbox needs to know to start one sandbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    pub ops: Vec<FsOp>,
    /// How many of `ops`, from the start, come from profiles: their host sources and their
    /// destinations in the new root are opened without following any symlink (a previous
    /// sandbox could have planted one); the command line's follow them, as in bubblewrap.
    pub profile_ops: usize,
    /// Host paths the sandbox must not be able to write: the profile files used, their
    /// directories, and the search-path directories consulted before them.
    pub protect: Vec<PathBuf>,
    pub ns: Namespaces,
    /// uid inside the sandbox, the container user's (default: the caller's). With a new user
    /// namespace it is mapped onto the caller's uid (or `uid_map` says); in a joined one, or
    /// with `no_userns`, the command switches to it (setresuid) before exec.
    pub uid: Option<u32>,
    /// gid inside the sandbox (default: the caller's), as `uid`.
    pub gid: Option<u32>,
    pub hostname: Option<String>,
    pub chdir: Option<PathBuf>,
    pub clearenv: bool,
    pub env: Vec<EnvOp>,
    pub new_session: bool,
    pub die_with_parent: bool,
    pub as_pid_1: bool,
    /// Capabilities kept inside the user namespace (names like "CAP_NET_RAW"): `--cap-add`,
    /// a profile's `caps`. The command has them in its bounding, permitted, effective,
    /// inheritable and ambient sets (ambient: they survive exec as a non-root uid), and they
    /// work on the sandbox's own network, UTS and IPC namespaces.
    pub caps: Vec<caps::Capability>,
    /// The five sets given one by one (OCI `process.capabilities`), instead of `caps`
    /// (`validate` refuses both). None: `caps` decides.
    pub cap_sets: Option<CapSets>,
    /// Leave no_new_privs off (OCI `noNewPrivileges: false`): setuid programs and file
    /// capabilities inside may raise privileges (within the user namespace). Installing
    /// seccomp and Landlock without no_new_privs needs CAP_SYS_ADMIN: they are then
    /// installed before the capabilities are dropped to the configured sets, which is
    /// the last step before exec. Default (false): no_new_privs is set, as always.
    pub allow_new_privs: bool,
    /// Additional group ids of the command (OCI `user.additionalGids`), set with
    /// setgroups(2). Needs a gid map that lets setgroups be used: `no_userns`, a joined user
    /// namespace, or `gid_map` written by the caller's privilege (newgidmap). Empty: no
    /// supplementary groups (the unprivileged user namespace denies setgroups, as today).
    pub groups: Vec<u32>,
    /// uid map of the new user namespace, several ranges. Empty: one range, `uid` (default
    /// the caller's) onto the caller's uid, written by the child itself, as today. Given:
    /// written directly when sbox may (root in the parent namespace, the single range of
    /// its own uid), else by the supervisor through the distribution's newuidmap (setuid,
    /// checks /etc/subuid) while the child waits.
    pub uid_map: Vec<IdRange>,
    /// gid map, as `uid_map` (newgidmap, /etc/subgid).
    pub gid_map: Vec<IdRange>,
    /// Resource limits of the command (`--rlimit`, OCI `process.rlimits`), set just before
    /// exec; one per kind. Empty: the caller's limits are inherited.
    pub rlimits: Vec<Rlimit>,
    /// /proc/self/oom_score_adj of the command (OCI `process.oomScoreAdj`), -1000..=1000.
    /// Lowering it below the caller's needs CAP_SYS_RESOURCE on the host: refused then.
    pub oom_score_adj: Option<i32>,
    /// The command's umask (`--umask`, OCI `user.umask`). None: the caller's.
    pub umask: Option<u32>,
    /// Sysctls written under /proc/sys inside (`--sysctl`, OCI `linux.sysctl`), in order, once
    /// the root is built (through a procfs of the sandbox's PID namespace: it needs one): only
    /// those that belong to a namespace of the sandbox's own (net.*
    /// with a network namespace; kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* with an
    /// IPC namespace; kernel.hostname, kernel.domainname with a UTS namespace); `validate`
    /// refuses the rest. Keys with dots (`net.ipv4.ip_forward`).
    pub sysctl: Vec<(String, String)>,
    pub seccomp: Seccomp,
    pub landlock: Landlock,
    /// `--net-allow`, `--net-deny`, a profile's `[network]`: the egress allowlist.
    pub net: net::NetPolicy,
    /// A profile's allowlist files and registries, settled after the command line.
    pub net_offer: net::NetOffer,
    /// Let the command create nested user namespaces (mounting stays refused).
    pub allow_userns: bool,
    pub limits: Limits,
    /// One line per setup step on stderr.
    pub verbose: bool,
    pub fds: Fds,
    /// `--lock-file`: paths inside the sandbox locked while it runs.
    pub lock_files: Vec<PathBuf>,
    /// `--report-planted`: host directories checked after the run for files the sandbox
    /// planted for programs run later outside it (a `.git`, an `.envrc`, ...).
    pub report_planted: Vec<PathBuf>,
    /// `--argv0`: argv[0] of the command.
    pub argv0: Option<OsString>,
    /// `--level-prefix`: prefix messages with their syslog level, e.g. `<3>`.
    pub level_prefix: bool,
    // Where bubblewrap's defaults are looser than sbox's, the front end chooses (true under
    // the `bwrap` link); false is sbox's behaviour.
    /// Without a PID namespace, the host's /proc is bound writable (sbox: read-only).
    pub proc_host_writable: bool,
    /// `--remount-ro` changes the mount at DEST only, not those below it (sbox: recursive).
    pub remount_ro_shallow: bool,
    /// The caller's terminal reaches the command as it is: no terminal of the sandbox's own,
    /// and no new session unless --new-session (sbox: both when the caller has a terminal).
    pub caller_terminal: bool,
    /// The command stays in the caller's process group unless --new-session (sbox: a group of
    /// its own, which forwarded signals reach as a whole).
    pub caller_process_group: bool,
    /// The supervisor ends of the signals it gets, as bubblewrap dies of them: at once with
    /// --die-with-parent, otherwise once the sandbox (which it passes them to) has ended.
    pub dies_of_signals: bool,
    /// A command not found gets bubblewrap's message only, no hint about the host.
    pub no_host_hint: bool,
    /// sbox's own Landlock domain (no ptrace or signals outside) only with a PID namespace.
    pub landlock_domain_needs_pidns: bool,
    /// No user-namespace limit for the command unless --disable-userns (sbox: limited unless
    /// --allow-userns).
    pub userns_unlimited: bool,
    /// `--sync-fd` and `--block-fd` may share their number with another option.
    pub shared_sync_fds: bool,
    /// `--exec-label`: SELinux label of the command.
    pub exec_label: Option<String>,
    /// `--file-label`: SELinux label of created files (tmpfs mounts).
    pub file_label: Option<String>,
    /// Warnings from the command line, printed before starting.
    pub warnings: Vec<String>,
    /// `--explain` only: where the values came from. Empty without profiles.
    pub origins: Origins,
    /// Profile keys of binds (`create`, `missing`), by destination.
    pub bind_extras: Vec<BindExtra>,
    /// Set with `--profile`: when the caller's working directory exists in the sandbox but is
    /// another directory there (a profile mount hides it), that is an error, not a silent move.
    pub same_cwd: bool,
    /// `sbox-runc create`/`run` (OCI): the command waits at this gate before its last steps,
    /// and the supervisor does not stay (see `StartGate`).
    pub start_gate: Option<StartGate>,
    /// `sbox-runc --console-socket`: a connected AF_UNIX stream socket; the command gets a
    /// pseudo-terminal allocated inside the sandbox (its /dev/pts, after pivot_root) as its
    /// controlling terminal and 0-2, and the master is sent over this socket (SCM_RIGHTS).
    pub console_socket: Option<RawFd>,
    /// The command and its arguments.
    pub command: Vec<OsString>,
}

/// OCI `create`: the sandbox is built and its command (pid 1 of its PID namespace, as with
/// `--as-pid-1`) is checked to exist; then it waits, before capabilities, Landlock and seccomp
/// apply, until someone opens the fifo `exec.fifo` in `dir` for reading (`sbox-runc start`);
/// without `dir` (`sbox-runc exec`) it goes on once the pid files are written.
/// The supervisor writes the command's pid to `pid_files` once it waits there, and returns
/// that pid instead of supervising: the command goes on alone, a child of whoever reaps the
/// caller's children (conmon is a subreaper). If the supervisor dies before that, the command
/// exits instead of waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartGate {
    /// An O_PATH descriptor of the directory holding `exec.fifo` (reachable after pivot_root).
    pub dir: Option<RawFd>,
    /// Replaced whole (a file renamed into place).
    pub pid_files: Vec<PathBuf>,
    /// Open for writing: for `exec`, whose supervisor has joined the container's mount
    /// namespace by then, where paths name the container's files.
    pub pid_fds: Vec<RawFd>,
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        for (p, n) in [
            ("LC_*", "LC_ALL"),
            ("*", ""),
            ("PATH", "PATH"),
            ("a?c", "abc"),
            ("*_PROXY", "HTTPS_PROXY"),
            ("a*b*c", "axxbyyc"),
        ] {
            assert!(glob_match(p, n), "{p} {n}");
        }
        for (p, n) in [
            ("LC_*", "LANG"),
            ("PATH", "PATHX"),
            ("a?c", "ac"),
            ("a*b*c", "axxbyy"),
        ] {
            assert!(!glob_match(p, n), "{p} {n}");
        }
    }
}
