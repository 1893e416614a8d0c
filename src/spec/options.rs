//! The one table of sbox's options: name, values, heading, help, and what each does to a
//! `Spec` (the operation it adds, or the field it sets). The command line's parser (and so
//! `--help`, the man page and completions), the `--args` arities, the option named in an
//! operation's errors (`FsOp::option`) and the profile mount kinds all read it; nothing else
//! lists options.

use super::values::{self, ValueError};
use super::{BindKind, DataKind, EnvOp, FsOp, OverlayUpper, Spec, net};
use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;

/// How an option's values are typed by the parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// No value (a flag).
    Flag,
    Str,
    Path,
    /// Kept as given (non-UTF-8 allowed): variable names and values, descriptors with a path.
    OsStr,
    /// A user or group id (a negative one is refused by the parser, not taken as an option).
    Id,
    Port,
    /// A shell name (`--completions`).
    Shell,
    /// `--busybox[=PATH]`: an optional value, attached with `=`, this one when absent.
    Optional(&'static str),
}

/// The filesystem operation an option adds, in command-line order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Bind(BindKind, bool),
    Tmpfs,
    Proc,
    Dev,
    Dir,
    Symlink,
    RemountRo,
    Mqueue,
    Chmod,
    Data(DataKind),
    BindFd(bool),
    /// `--overlay`, `--tmp-overlay`, `--ro-overlay`.
    Overlay(Upper),
    /// Not an operation: it modifies the next one.
    OverlaySrc,
    Perms,
    Size,
}

/// An overlay's upper layer, without its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upper {
    Dir,
    Tmp,
    ReadOnly,
}

/// What an option sets in the `Spec`, by the type of its values (the options that add an
/// `Op`, and the few whose checks need the command line's order, are the front end's).
/// A single value replaces what a profile set; lists append to it.
#[derive(Clone, Copy, Debug)]
pub enum Apply {
    /// Set to true when given (a profile may have set it already).
    Flag(fn(&mut Spec) -> &mut bool),
    /// The descriptor given (the last one, when repeated).
    Fd(fn(&mut Spec) -> &mut Option<RawFd>),
    /// Every descriptor given, in order.
    Fds(fn(&mut Spec) -> &mut Vec<RawFd>),
    /// The last value given (bubblewrap warns when it is repeated).
    Str(fn(&mut Spec) -> &mut Option<String>),
    Path(fn(&mut Spec) -> &mut Option<PathBuf>),
    OsStr(fn(&mut Spec) -> &mut Option<OsString>),
    Id(fn(&mut Spec) -> &mut Option<u32>),
    /// Every path given, in order.
    Paths(fn(&mut Spec) -> &mut Vec<PathBuf>),
    /// Every path given, once each (a profile may have named it already).
    PathSet(fn(&mut Spec) -> &mut Vec<PathBuf>),
    Ports(fn(&mut Spec) -> &mut Vec<u16>),
    /// Each value, parsed with the value vocabulary (spec::values) under the option's name.
    Parse(fn(&mut Spec, &str, &str) -> Result<(), ValueError>),
    /// An environment edit (`--setenv VAR VALUE`, `--unsetenv VAR`): the edits of every
    /// such option apply in command-line order.
    Env(fn(&[OsString]) -> EnvOp),
    /// `--cap-add` (true) or `--cap-drop` (false) of a capability or ALL, in command-line
    /// order among both (`Spec::cap`).
    Cap(bool),
}

/// One option.
#[derive(Debug)]
pub struct Opt {
    /// `--NAME`.
    pub name: &'static str,
    pub short: Option<char>,
    /// The names of its values, one per value it takes (none for a flag).
    pub values: &'static [&'static str],
    pub value: Value,
    /// Repeatable, every occurrence kept (otherwise a later one replaces an earlier one).
    pub many: bool,
    /// The --help section; `None` for the general options.
    pub heading: Option<&'static str>,
    pub help: &'static str,
    /// The filesystem operation it adds, if any.
    pub op: Option<Op>,
    /// Its name as a profile mount `kind`, where a profile has the same operation.
    pub profile_kind: Option<&'static str>,
    pub apply: Option<Apply>,
}

const fn opt(
    name: &'static str,
    values: &'static [&'static str],
    value: Value,
    heading: &'static str,
    help: &'static str,
) -> Opt {
    Opt {
        name,
        short: None,
        values,
        value,
        many: true,
        heading: Some(heading),
        help,
        op: None,
        profile_kind: None,
        apply: None,
    }
}

const fn flag(name: &'static str, heading: &'static str, help: &'static str) -> Opt {
    opt(name, &[], Value::Flag, heading, help)
}

const fn fs(
    name: &'static str,
    values: &'static [&'static str],
    value: Value,
    op: Op,
    help: &'static str,
) -> Opt {
    Opt {
        op: Some(op),
        ..opt(name, values, value, FS, help)
    }
}

const fn fd(name: &'static str, heading: &'static str, help: &'static str) -> Opt {
    opt(name, &["FD"], Value::Str, heading, help)
}

impl Opt {
    const fn kind(self, name: &'static str) -> Opt {
        Opt {
            profile_kind: Some(name),
            ..self
        }
    }

    const fn sets(self, field: fn(&mut Spec) -> &mut bool) -> Opt {
        Opt {
            apply: Some(Apply::Flag(field)),
            ..self
        }
    }

    const fn fd(self, field: fn(&mut Spec) -> &mut Option<RawFd>) -> Opt {
        self.applies(Apply::Fd(field))
    }

    const fn applies(self, apply: Apply) -> Opt {
        Opt {
            apply: Some(apply),
            ..self
        }
    }

    /// Only the last occurrence counts.
    const fn once(self) -> Opt {
        Opt {
            many: false,
            ..self
        }
    }

    const fn general(self) -> Opt {
        Opt {
            heading: None,
            ..self
        }
    }

    /// How many arguments follow the option on the command line.
    pub fn arity(&self) -> usize {
        match self.value {
            Value::Optional(_) => 0,
            _ => self.values.len(),
        }
    }
}

const FS: &str = "Filesystem";
const NS: &str = "Namespaces";
const PROCESS: &str = "Process";
const FDS: &str = "Descriptors";
const SECURITY: &str = "Security";
const LIMITS: &str = "Limits";
const MODES: &str = "Modes";
const PROFILES: &str = "Profiles";
const NET: &str = "Network";

use Value::{OsStr, Path, Str};

const SRC_DEST: &[&str] = &["SRC", "DEST"];
const DEST: &[&str] = &["DEST"];
const FD_DEST: &[&str] = &["FD", "DEST"];

/// Every option, in --help order.
#[rustfmt::skip]
pub static OPTIONS: &[Opt] = &[
    flag("--version", "", "Print version").general(),
    fs("--bind", SRC_DEST, Path, Op::Bind(BindKind::Rw, false), "Bind SRC read-write on DEST").kind("bind"),
    fs("--bind-try", SRC_DEST, Path, Op::Bind(BindKind::Rw, true), "Like --bind, skipped when SRC is missing"),
    fs("--ro-bind", SRC_DEST, Path, Op::Bind(BindKind::Ro, false), "Bind SRC read-only (submounts too) on DEST").kind("ro-bind"),
    fs("--ro-bind-try", SRC_DEST, Path, Op::Bind(BindKind::Ro, true), "Like --ro-bind, skipped when SRC is missing"),
    fs("--dev-bind", SRC_DEST, Path, Op::Bind(BindKind::Dev, false), "Bind SRC on DEST, device nodes usable").kind("dev-bind"),
    fs("--dev-bind-try", SRC_DEST, Path, Op::Bind(BindKind::Dev, true), "Like --dev-bind, skipped when SRC is missing"),
    fs("--tmpfs", DEST, Path, Op::Tmpfs, "Mount a new tmpfs on DEST").kind("tmpfs"),
    fs("--proc", DEST, Path, Op::Proc, "Mount a new procfs on DEST (needs --unshare-pid)").kind("proc"),
    fs("--dev", DEST, Path, Op::Dev, "Mount a minimal /dev on DEST").kind("dev"),
    fs("--dir", DEST, Path, Op::Dir, "Create the directory DEST").kind("dir"),
    fs("--symlink", &["TARGET", "DEST"], Path, Op::Symlink, "Create a symlink DEST pointing to TARGET").kind("symlink"),
    fs("--remount-ro", DEST, Path, Op::RemountRo, "Make DEST and its submounts read-only"),
    fs("--perms", &["OCTAL"], Str, Op::Perms, "Permissions of the next --tmpfs or --dir"),
    fs("--size", &["BYTES"], Str, Op::Size, "Size limit of the next --tmpfs (K, M, G suffixes)"),
    flag("--unshare-user", NS, "Create a user namespace (always done)"),
    flag("--unshare-ipc", NS, "Create an IPC namespace").sets(|s| &mut s.ns.ipc),
    flag("--unshare-pid", NS, "Create a PID namespace").sets(|s| &mut s.ns.pid),
    flag("--unshare-net", NS, "Create a network namespace (loopback only, up)").sets(|s| &mut s.ns.net),
    flag("--unshare-uts", NS, "Create a UTS namespace").sets(|s| &mut s.ns.uts),
    flag("--unshare-cgroup", NS, "Create a cgroup namespace").sets(|s| &mut s.ns.cgroup),
    flag("--unshare-all", NS, "Create every namespace above"),
    flag("--share-net", NS, "Keep the host network (with --unshare-all)"),
    opt("--net-allow", &["RULE"], Str, NET, "Reach RULE through sbox, and nothing else: the sandbox gets its own network namespace, with proxy variables, DNS for the allowed names and a listener per allowed port. RULE: HOST[:PORT] (no port: 443 and 80), *.DOMAIN[:PORT] (subdomains only), or ADDRESS:PORT, ADDRESS/PREFIX:PORT ([::1]:443). Loopback, private and link-local addresses need an address rule. TCP and DNS only: other UDP is not carried. Repeatable")
        .applies(Apply::Parse(|s, o, v| net::add(&mut s.net.allow, net::parse_rule(o, v)?))),
    opt("--net-deny", &["RULE"], Str, NET, "Refuse RULE even where --net-allow matches it (no port: every port); repeatable")
        .applies(Apply::Parse(|s, o, v| net::add(&mut s.net.deny, net::parse_rule(o, v)?))),
    opt("--net-record", &["FILE"], Path, NET, "Record: allow every public destination (loopback, private and link-local ones still need a rule), and write each HOST:PORT used to FILE at the end, as an allowlist a profile reads ([network] allowlist). A recording run is trusted: whatever it reaches is written into the list; review it before committing it")
        .applies(Apply::Path(|s| &mut s.net.record)),
    opt("--hostname", &["NAME"], Str, NS, "Hostname inside (needs --unshare-uts)").applies(Apply::Str(|s| &mut s.hostname)),
    opt("--uid", &["UID"], Value::Id, PROCESS, "User id inside the sandbox (default: yours)").applies(Apply::Id(|s| &mut s.uid)),
    opt("--gid", &["GID"], Value::Id, PROCESS, "Group id inside the sandbox (default: yours)").applies(Apply::Id(|s| &mut s.gid)),
    opt("--chdir", &["DIR"], Path, PROCESS, "Working directory of the command").applies(Apply::Path(|s| &mut s.chdir)),
    opt("--setenv", &["VAR", "VALUE"], OsStr, PROCESS, "Set an environment variable").applies(Apply::Env(|v| EnvOp::Set(v[0].clone(), v[1].clone()))),
    opt("--unsetenv", &["VAR"], OsStr, PROCESS, "Unset an environment variable").applies(Apply::Env(|v| EnvOp::Unset(v[0].clone()))),
    flag("--clearenv", PROCESS, "Start from an empty environment").sets(|s| &mut s.clearenv),
    flag("--new-session", PROCESS, "Run the command in a new session (no controlling terminal); sbox's mode already does when sbox has a terminal").sets(|s| &mut s.new_session),
    flag("--die-with-parent", PROCESS, "Kill the sandbox when sbox dies, and sbox when its parent dies").sets(|s| &mut s.die_with_parent),
    flag("--as-pid-1", PROCESS, "Run the command as pid 1 (no init) in the PID namespace").sets(|s| &mut s.as_pid_1),
    fd("--args", FDS, "Read more arguments, NUL-separated, from FD"),
    fd("--info-fd", FDS, "Write the child pid and namespace ids as JSON to FD").fd(|s| &mut s.fds.info),
    fd("--json-status-fd", FDS, "Write JSON lines at start and at exit to FD").fd(|s| &mut s.fds.json_status),
    fd("--sync-fd", FDS, "Keep FD open in the sandbox while it runs").fd(|s| &mut s.fds.sync),
    fd("--block-fd", FDS, "Wait for data on FD before building the sandbox").fd(|s| &mut s.fds.block),
    fd("--userns-block-fd", FDS, "Wait for data on FD before using the user namespace (its id maps are written by someone else)").fd(|s| &mut s.fds.userns_block),
    fd("--keep-fd", FDS, "Pass the caller's descriptor FD on to the command (repeatable; by default only 0, 1 and 2 pass)").applies(Apply::Fds(|s| &mut s.fds.keep)),
    flag("--keep-fds", FDS, "Pass every descriptor the caller left open on to the command, as bubblewrap does (always as bwrap)").sets(|s| &mut s.fds.keep_inherited),
    fd("--seccomp", FDS, "Install the compiled BPF program read from FD"),
    fd("--add-seccomp-fd", FDS, "Install one more compiled BPF program read from FD"),
    opt("--lock-file", DEST, Path, FS, "Hold a lock on DEST (inside) while the sandbox runs").applies(Apply::Paths(|s| &mut s.lock_files)),
    opt("--report-planted", &["DIR"], Path, FS, "After the run, warn of files the sandbox planted under the host directory DIR for programs run later outside it (.git, .envrc, .cargo, .npmrc, .vscode ...)").applies(Apply::PathSet(|s| &mut s.report_planted)),
    fs("--file", FD_DEST, OsStr, Op::Data(DataKind::File), "Copy the contents of FD to a new file DEST"),
    fs("--bind-data", FD_DEST, OsStr, Op::Data(DataKind::Bind), "Copy FD to a private file bound on DEST"),
    fs("--ro-bind-data", FD_DEST, OsStr, Op::Data(DataKind::RoBind), "Copy FD to a private file bound read-only on DEST"),
    fs("--bind-fd", FD_DEST, OsStr, Op::BindFd(false), "Bind the directory FD refers to on DEST"),
    fs("--ro-bind-fd", FD_DEST, OsStr, Op::BindFd(true), "Bind the directory FD refers to read-only on DEST"),
    fs("--mqueue", DEST, Path, Op::Mqueue, "Mount a new mqueue on DEST (needs --unshare-ipc)"),
    fs("--chmod", &["OCTAL", "PATH"], OsStr, Op::Chmod, "Change the mode of PATH (which must exist)"),
    fs("--overlay-src", &["SRC"], Path, Op::OverlaySrc, "A lower layer for the next overlay (the first given is the bottom one)"),
    fs("--overlay", &["RWSRC", "WORKDIR", "DEST"], Path, Op::Overlay(Upper::Dir), "Overlay on DEST, writes going to RWSRC (WORKDIR: empty, same filesystem)").kind("overlay"),
    fs("--tmp-overlay", DEST, Path, Op::Overlay(Upper::Tmp), "Overlay on DEST, writes going to an invisible tmpfs"),
    fs("--ro-overlay", DEST, Path, Op::Overlay(Upper::ReadOnly), "Read-only overlay on DEST"),
    flag("--unshare-user-try", NS, "Create a user namespace (always done)"),
    flag("--unshare-cgroup-try", NS, "Create a cgroup namespace if the kernel supports it").sets(|s| &mut s.ns.cgroup_try),
    fd("--userns", NS, "Join the user namespace FD instead of creating one").fd(|s| &mut s.ns.userns),
    fd("--userns2", NS, "Switch to the user namespace FD once the sandbox is built").fd(|s| &mut s.ns.userns2),
    fd("--pidns", NS, "Join the PID namespace FD (the parent of a new one with --unshare-pid)").fd(|s| &mut s.ns.pidns),
    opt("--join-ns", &["KIND:PATH"], Str, NS, "Join the namespace file PATH (/proc/PID/ns/KIND) instead of creating one; KIND: user, mnt, pid, net, ipc, uts or cgroup")
        .applies(Apply::Parse(|s, o, v| { s.ns.join.push(values::parse_join(o, v)?); Ok(()) })),
    opt("--uid-map", &["INSIDE:OUTSIDE:COUNT"], Str, NS, "A range of the uid map (repeatable): COUNT uids from INSIDE map onto yours from OUTSIDE, written through newuidmap (/etc/subuid) unless you may write it yourself")
        .applies(Apply::Parse(|s, o, v| { s.uid_map.push(values::parse_id_range(o, v)?); Ok(()) })),
    opt("--gid-map", &["INSIDE:OUTSIDE:COUNT"], Str, NS, "A range of the gid map (repeatable), as --uid-map (newgidmap, /etc/subgid)")
        .applies(Apply::Parse(|s, o, v| { s.gid_map.push(values::parse_id_range(o, v)?); Ok(()) })),
    flag("--share-userns", NS, "Create no user namespace: stay in the caller's, which must give CAP_SYS_ADMIN (root in podman's); --uid/--gid are switched to").sets(|s| &mut s.ns.no_userns),
    opt("--sysctl", &["KEY=VALUE"], Str, NS, "Write a sysctl of a namespace of the sandbox's own (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*; needs --unshare-pid)")
        .applies(Apply::Parse(|s, o, v| { s.sysctl.push(values::parse_sysctl(o, v)?); Ok(()) })),
    flag("--disable-userns", NS, "The command can't create user namespaces").sets(|s| &mut s.ns.disable_userns),
    flag("--assert-userns-disabled", NS, "Fail unless creating user namespaces is already impossible").sets(|s| &mut s.ns.assert_userns_disabled),
    opt("--argv0", &["VALUE"], OsStr, PROCESS, "argv[0] of the command").applies(Apply::OsStr(|s| &mut s.argv0)),
    opt("--rlimit", &["NAME=SOFT[:HARD]"], Str, PROCESS, "Resource limit of the command, e.g. NOFILE=1024:4096 (a number or unlimited; HARD defaults to SOFT)")
        .applies(Apply::Parse(|s, o, v| { let r = values::parse_rlimit(o, v)?; s.rlimits.retain(|x| x.kind != r.kind); s.rlimits.push(r); Ok(()) })),
    opt("--umask", &["OCTAL"], Str, PROCESS, "umask of the command (default: yours)").once()
        .applies(Apply::Parse(|s, o, v| { s.umask = Some(values::parse_octal(o, v)?); Ok(()) })),
    opt("--oom-score-adj", &["N"], Str, PROCESS, "oom_score_adj of the command (-1000 to 1000; only raising it needs no privilege)").once()
        .applies(Apply::Parse(|s, o, v| { s.oom_score_adj = Some(values::parse_oom_score_adj(o, v)?); Ok(()) })),
    opt("--exec-label", &["LABEL"], Str, SECURITY, "SELinux label of the command").applies(Apply::Str(|s| &mut s.exec_label)),
    opt("--file-label", &["LABEL"], Str, SECURITY, "SELinux label of the files sbox creates (tmpfs mounts)").applies(Apply::Str(|s| &mut s.file_label)),
    flag("--level-prefix", "", "Prefix messages with their syslog level, e.g. <3>").general().sets(|s| &mut s.level_prefix),
    opt("--cap-add", &["CAP"], Str, SECURITY, "Keep a capability inside the user namespace (or ALL)").applies(Apply::Cap(true)),
    opt("--cap-drop", &["CAP"], Str, SECURITY, "Remove a capability added earlier (or ALL)").applies(Apply::Cap(false)),
    // Limits (cgroup v2, through the user's systemd or a delegated subtree).
    opt("--mem", &["SIZE"], Str, LIMITS, "Memory limit of the command, no swap (bytes, or K, M, G)").once()
        .applies(Apply::Parse(|s, o, v| { s.limits.memory = Some(values::parse_size(o, v)?); Ok(()) })),
    opt("--pids", &["N"], Str, LIMITS, "Maximum number of processes and threads of the command").once()
        .applies(Apply::Parse(|s, o, v| { s.limits.pids = Some(values::parse_pids(o, v)?); Ok(()) })),
    opt("--cpu", &["PERCENT"], Str, LIMITS, "CPU time of the command, in percent of one CPU (150% = 1.5 CPUs)").once()
        .applies(Apply::Parse(|s, o, v| { s.limits.cpu_percent = Some(values::parse_percent(o, v)?); Ok(()) })),
    opt("--seccomp-profile", &["NAME"], Str, SECURITY, "Seccomp policy: default (deny list), strict (allow list) or none").once()
        .applies(Apply::Parse(|s, o, v| { s.seccomp.profile = values::parse_seccomp_profile(o, v)?; Ok(()) })),
    opt("--seccomp-allow", &["SYSCALL"], Str, SECURITY, "Allow a syscall the profile denies")
        .applies(Apply::Parse(|s, o, v| { s.seccomp.allow.push(values::parse_syscall(o, v, v)?); Ok(()) })),
    opt("--seccomp-deny", &["SYSCALL[:ERRNO]"], Str, SECURITY, "Deny a syscall with ERRNO (name or number; default EPERM)")
        .applies(Apply::Parse(|s, o, v| { s.seccomp.deny.push(values::parse_deny(o, v)?); Ok(()) })),
    flag("--seccomp-allow-32bit", SECURITY, "Let i386 syscalls through (x32 stays refused)").sets(|s| &mut s.seccomp.allow_32bit),
    flag("--landlock", SECURITY, "Landlock: allow only what the mounts give (ro binds read, the rest read-write)").sets(|s| &mut s.landlock.from_mounts),
    opt("--landlock-ro", &["PATH"], Path, SECURITY, "Landlock: allow reading and executing PATH").applies(Apply::Paths(|s| &mut s.landlock.ro)),
    opt("--landlock-rw", &["PATH"], Path, SECURITY, "Landlock: allow all file access under PATH").applies(Apply::Paths(|s| &mut s.landlock.rw)),
    opt("--landlock-tcp-connect", &["PORT"], Value::Port, SECURITY, "Landlock: allow TCP connect to PORT only (repeatable)").applies(Apply::Ports(|s| &mut s.landlock.tcp_connect)),
    opt("--landlock-tcp-bind", &["PORT"], Value::Port, SECURITY, "Landlock: allow TCP bind to PORT only (repeatable)").applies(Apply::Ports(|s| &mut s.landlock.tcp_bind)),
    flag("--allow-userns", SECURITY, "Let the command create nested user namespaces (mounting stays denied)").sets(|s| &mut s.allow_userns),
    // Modes: instead of starting a sandbox, check the host, print completions or build a root.
    flag("--doctor", MODES, "Check what this host supports for sbox, with the fix for what is missing, and exit"),
    opt("--completions", &["SHELL"], Value::Shell, MODES, "Print the completion script for SHELL and exit").once(),
    opt("--mkroot", &["DIR"], Path, MODES, "Build a minimal root in DIR from the host programs named after the options (with their shared libraries), and exit").once(),
    opt("--busybox", &["PATH"], Value::Optional("busybox"), MODES, "With --mkroot: install a static busybox (PATH, default the one in $PATH) and a link per applet instead of programs").once(),
    // Profiles: a policy written down, merged under this command line.
    opt("--profile", &["NAME|PATH"], Str, PROFILES, "Start from a profile (a name in the search path, or a file); repeatable, later ones win"),
    opt("--project", &["DIR"], Path, PROFILES, "The project a profile's ${PROJECT} names (default: the git work tree holding the current directory)").once(),
    flag("--explain", PROFILES, "Print the merged policy and where each value came from, then exit"),
    flag("--list-profiles", PROFILES, "List the profiles in the search path (name and file, or (built in)), then exit"),
    Opt {
        short: Some('v'),
        ..flag("--verbose", "", "Print one line per setup step on stderr").general().sets(|s| &mut s.verbose)
    },
];

/// The option `--LONG`, given `LONG`.
pub fn find(long: &str) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.long() == long)
}

/// The profile mount kinds that are options too, in table order.
pub fn profile_kinds() -> impl Iterator<Item = &'static Opt> {
    OPTIONS.iter().filter(|o| o.profile_kind.is_some())
}

impl Opt {
    /// The name without `--`.
    pub fn long(&self) -> &'static str {
        &self.name[2..]
    }
}

/// `--NAME` of the option that adds `op`.
pub fn option_of(op: Op) -> Option<&'static str> {
    OPTIONS.iter().find(|o| o.op == Some(op)).map(|o| o.name)
}

impl FsOp {
    /// What the table calls this operation; `None` for a profile's `mask` and an OCI
    /// config's read-only paths, noexec, sysfs, cgroup and tmpcopyup mounts, which no
    /// option makes.
    pub fn op(&self) -> Option<Op> {
        Some(match self {
            FsOp::Bind { kind, optional, .. } => Op::Bind(*kind, *optional),
            FsOp::Tmpfs { .. } => Op::Tmpfs,
            FsOp::Proc { .. } => Op::Proc,
            FsOp::Dev { .. } => Op::Dev,
            FsOp::Dir { .. } => Op::Dir,
            FsOp::Symlink { .. } => Op::Symlink,
            FsOp::RemountRo { .. } => Op::RemountRo,
            FsOp::Mqueue { .. } => Op::Mqueue,
            FsOp::Chmod { .. } => Op::Chmod,
            FsOp::Data { how, .. } => Op::Data(*how),
            FsOp::BindFd { ro, .. } => Op::BindFd(*ro),
            FsOp::Overlay { upper, .. } => Op::Overlay(match upper {
                OverlayUpper::Dir { .. } => Upper::Dir,
                OverlayUpper::Tmp => Upper::Tmp,
                OverlayUpper::ReadOnly => Upper::ReadOnly,
            }),
            FsOp::Mask { .. }
            | FsOp::ReadOnlyPath { .. }
            | FsOp::NoExec { .. }
            | FsOp::Sysfs { .. }
            | FsOp::Cgroup { .. }
            | FsOp::TmpfsCopyUp { .. } => return None,
        })
    }
}
