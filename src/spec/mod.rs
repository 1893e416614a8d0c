//! The one data model of a sandbox. The command line and profiles both produce a `Spec`;
//! everything after it (checks, launch) reads only this.

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
            | FsOp::Chmod { path: dst, .. } => dst,
        }
    }

    /// The option that produced this operation, for error messages.
    pub fn option(&self) -> &'static str {
        self.op().and_then(options::option_of).unwrap_or("mask")
    }
}

/// Namespaces to create or join. A mount namespace is always created, and a user namespace
/// unless `userns` names one to join.
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
            || !(self.userns_unlimited || self.allow_userns || self.ns.userns.is_some())
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
    /// pids.max.
    pub pids: Option<u64>,
    /// CPU share in percent of one CPU (150 = one and a half CPUs).
    pub cpu_percent: Option<u32>,
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
    /// uid inside the sandbox (default: the caller's).
    pub uid: Option<u32>,
    /// gid inside the sandbox (default: the caller's).
    pub gid: Option<u32>,
    pub hostname: Option<String>,
    pub chdir: Option<PathBuf>,
    pub clearenv: bool,
    pub env: Vec<EnvOp>,
    pub new_session: bool,
    pub die_with_parent: bool,
    pub as_pid_1: bool,
    /// Capabilities kept inside the user namespace (names like "CAP_NET_RAW").
    pub caps: Vec<caps::Capability>,
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
    /// The command and its arguments.
    pub command: Vec<OsString>,
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
