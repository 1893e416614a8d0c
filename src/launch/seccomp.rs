//! Seccomp: the built-in policies as plain tables, compiled into one BPF program.
//!
//! The program decides every call by itself:
//!
//! 1. the arch guard: x32 and foreign-arch calls answer ENOSYS (under `--seccomp-allow-32bit`
//!    i386 calls meet the same policy instead, by name: see `i386`);
//! 2. an x86_64 call's number is looked up by binary search over ranges of numbers with the
//!    same outcome: allow, an errno, or argument checks (clone flags, ioctl requests, socket
//!    families) then an errno or the range's default.
//!
//! One rule per number: a `--seccomp-deny` rule replaces the built-in rule of the same name,
//! and beats strict's allow list (ENOSYS for what is not listed).
//!
//! Why one program, and a search rather than a chain of comparisons: the kernel converts and
//! JIT-compiles every program, and when it attaches one it runs it in emulation for every
//! syscall number to fill its action cache (calls whose answer is ALLOW whatever the
//! arguments then skip the filters). Both costs grow with the instructions on each number's
//! path, and at run time every installed program runs for every call the cache can't answer.
//! A stack of per-errno programs of linear comparisons (what seccompiler emits) cost
//! measurably more at every start and on every ioctl (bench/README.md).

#[cfg(test)]
pub(crate) mod child;
pub use crate::spec::syscalls::i386;

use crate::error::{SetupError, StepError};
use crate::spec::bpf::{
    AND, ARCH, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, JA, JEQ, JGE, JSET, NR, X32_BIT, arg_lo, jump,
    ld, ret, sock_filter,
};
use crate::spec::syscalls as names;
use crate::spec::values::errno_name;
use crate::spec::{SeccompProfile, Spec};
use libc::{EAFNOSUPPORT, ENOSYS, EPERM};
use nix::errno::Errno;
use seccompiler::BpfProgram;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A group of syscalls denied with one errno; the comment above each says why.
struct Group {
    errno: i32,
    names: &'static [&'static str],
}

/// Creating or joining namespaces: lifted by `--allow-userns`.
const NAMESPACES: Group = Group {
    errno: EPERM,
    names: &["unshare", "setns"],
};

/// What `default` denies on top of NAMESPACES and CONDITIONAL.
const DEFAULT_DENY: &[Group] = &[
    // Mounting and changing root: even in a nested user namespace, nothing may remount or hide
    // what sbox set up read-only.
    Group {
        errno: EPERM,
        names: &["mount", "umount2", "pivot_root", "chroot"],
    },
    // The new mount API answers ENOSYS, as if the kernel were older: libmount and friends then
    // fall back to mount(2), which gets the clear EPERM above (Flatpak, CVE-2021-41133).
    Group {
        errno: ENOSYS,
        names: &[
            "open_tree",
            "open_tree_attr",
            "move_mount",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "mount_setattr",
        ],
    },
    // clone3 keeps its flags in memory seccomp cannot read: ENOSYS makes glibc fall back to
    // clone, whose flags are checked. io_uring performs I/O without syscalls, out of the
    // filter's sight, and is a large kernel attack surface; libraries fall back on ENOSYS.
    Group {
        errno: ENOSYS,
        names: &[
            "clone3",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
        ],
    },
    // Kernel keyrings are not namespaced: keys would leak between sandbox and host.
    Group {
        errno: EPERM,
        names: &["add_key", "keyctl", "request_key"],
    },
    // Large kernel attack surfaces with a history of privilege escalations.
    Group {
        errno: EPERM,
        names: &["bpf", "perf_event_open", "userfaultfd"],
    },
    // Loading kernels and modules, rebooting, swap, accounting, quotas: host administration.
    Group {
        errno: EPERM,
        names: &[
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "reboot",
            "swapon",
            "swapoff",
            "acct",
            "quotactl",
            "quotactl_fd",
        ],
    },
    // The kernel log, the host clock and raw I/O ports are host-wide.
    Group {
        errno: EPERM,
        names: &[
            "syslog",
            "settimeofday",
            "clock_settime",
            "clock_adjtime",
            "adjtimex",
            "iopl",
            "ioperm",
        ],
    },
    // File handles bypass path lookup, and with it the mount layout (the "shocker" escape).
    Group {
        errno: EPERM,
        names: &["open_by_handle_at", "name_to_handle_at"],
    },
    // NUMA placement of memory is a host resource (get_mempolicy only reads, and stays).
    Group {
        errno: EPERM,
        names: &[
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
            "migrate_pages",
            "move_pages",
        ],
    },
    // Obsolete interfaces nobody needs (vm86 does not exist on x86_64).
    Group {
        errno: EPERM,
        names: &[
            "lookup_dcookie",
            "nfsservctl",
            "uselib",
            "ustat",
            "sysfs",
            "_sysctl",
        ],
    },
];

/// The syscalls `strict` allows: what shells, coreutils, python3, compilers and make use.
/// Everything else answers ENOSYS, so programs take their fallback path.
#[rustfmt::skip]
const STRICT_ALLOW: &[&str] = &[
    // File descriptors and file I/O.
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "flock",
    "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "fallocate", "ftruncate",
    "truncate", "sendfile", "splice", "tee", "vmsplice", "copy_file_range", "ioctl",
    "readahead", "fadvise64", "memfd_create",
    // Paths, the *at family, the stat family, extended attributes, inotify.
    "open", "openat", "openat2", "creat", "access", "faccessat", "faccessat2", "stat", "lstat",
    "fstat", "newfstatat", "statx", "statfs", "fstatfs", "readlink", "readlinkat", "getdents",
    "getdents64", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat",
    "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
    "fchmodat2", "chown", "fchown", "lchown", "fchownat", "umask", "utime", "utimes",
    "utimensat", "futimesat", "mknod", "mknodat", "getcwd", "chdir", "fchdir", "getxattr",
    "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr", "lsetxattr",
    "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "getxattrat", "listxattrat",
    "setxattrat", "removexattrat", "inotify_init", "inotify_init1", "inotify_add_watch",
    "inotify_rm_watch",
    // Memory.
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mlock", "mlock2", "munlock",
    "mlockall", "munlockall", "mincore", "msync", "membarrier", "pkey_mprotect", "pkey_alloc",
    "pkey_free", "map_shadow_stack", "mseal", "get_mempolicy",
    // Processes and threads (clone's namespace flags are checked separately).
    "clone", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
    "kill", "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp",
    "getsid", "setsid", "getpriority", "setpriority", "sched_yield", "sched_getaffinity",
    "sched_setaffinity", "sched_getparam", "sched_setparam", "sched_getscheduler",
    "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "sched_getattr", "sched_setattr", "prctl", "arch_prctl",
    "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "futex", "futex_waitv",
    "futex_wake", "futex_wait", "futex_requeue", "getrlimit", "setrlimit", "prlimit64",
    "getrusage", "times", "uname", "sysinfo", "personality", "capget", "capset", "pidfd_open",
    "pidfd_send_signal", "restart_syscall", "getcpu",
    // Credentials (meaningful only inside the user namespace).
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid",
    "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid",
    "setfsgid",
    // Signals.
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack", "pause", "alarm",
    "signalfd", "signalfd4",
    // Time and timers.
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime",
    "timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    // Waiting for events, pipes.
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "pipe", "pipe2",
    // Sockets (socket's family is checked separately).
    "socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
    "getpeername", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
    "shutdown", "setsockopt", "getsockopt",
    // IPC (System V and POSIX queues live in the sandbox's IPC namespace) and AIO.
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget",
    "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr", "io_setup", "io_destroy", "io_submit", "io_cancel",
    "io_getevents", "io_pgetevents",
    // Randomness, and programs that sandbox themselves further.
    "getrandom", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
    "landlock_restrict_self",
];

/// When a rule matches, beyond the syscall number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    Always,
    /// clone() with any CLONE_NEW* flag.
    NewNamespace,
    /// ioctl TIOCSTI or TIOCLINUX: typing into, or driving, the caller's terminal.
    TerminalInjection,
    /// socket() of a family other than unix, inet, inet6, netlink.
    OtherFamily,
}

/// Argument-checked rules shared by `default` and `strict`.
const CONDITIONAL: &[(&str, When, i32)] = &[
    ("clone", When::NewNamespace, EPERM),
    // CVE-2017-5226 (TIOCSTI), CVE-2023-28100 (TIOCLINUX).
    ("ioctl", When::TerminalInjection, EPERM),
    // Raw packet, bluetooth, vsock, AF_ALG...: rarely needed, often exploited. EAFNOSUPPORT is
    // what a kernel without that family answers, so programs handle it.
    ("socket", When::OtherFamily, EAFNOSUPPORT),
];

/// The CLONE_NEW* flag of every namespace kind (spec::NsKind): NEWNS | NEWCGROUP | NEWUTS |
/// NEWIPC | NEWUSER | NEWPID | NEWNET.
const CLONE_NEW_MASK: u64 = super::userns::all_flags() as u64;
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;
/// The socket families programs need.
const FAMILIES: [i32; 4] = [
    libc::AF_UNIX,
    libc::AF_INET,
    libc::AF_INET6,
    libc::AF_NETLINK,
];

/// One resolved deny rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Deny {
    errno: i32,
    when: When,
    /// From `--seccomp-deny`: compiled into the newest programs.
    user: bool,
}

/// A policy with every name resolved: what `build` compiles and `describe` counts.
#[derive(Debug)]
struct Policy {
    /// strict: the allowed syscall numbers; anything else ENOSYS.
    allow: Option<BTreeSet<i64>>,
    deny: BTreeMap<i64, Deny>,
    /// The same policy for i386 numbers when 32-bit calls are let through; None refuses them
    /// all.
    i386: Option<Box<Policy>>,
}

impl Policy {
    fn is_empty(&self) -> bool {
        self.allow.is_none() && self.deny.is_empty()
    }
}

/// Why a seccomp policy can't be built or installed; `opt` names the option (or "seccomp",
/// sbox's own policy).
#[derive(Debug)]
pub enum SeccompError {
    /// A name that is no x86_64 syscall.
    UnknownSyscall { opt: &'static str, name: String },
    /// seccomp(2) refused a program.
    Install { opt: &'static str, errno: Errno },
}

impl fmt::Display for SeccompError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeccompError::UnknownSyscall { name, .. } => {
                write!(f, "'{name}': not a syscall on x86_64 (see syscalls(2))")
            }
            SeccompError::Install {
                errno: Errno::EACCES,
                ..
            } => f.write_str("not allowed: no_new_privs must be set first"),
            SeccompError::Install {
                errno: Errno::EINVAL,
                ..
            } => f.write_str(
                "the kernel refused the program (EINVAL: not a valid classic BPF filter)",
            ),
            SeccompError::Install { errno, .. } => f.write_str(errno.desc()),
        }
    }
}

impl StepError for SeccompError {
    fn step(&self) -> std::borrow::Cow<'_, str> {
        match self {
            SeccompError::UnknownSyscall { opt, .. } | SeccompError::Install { opt, .. } => {
                (*opt).into()
            }
        }
    }
}

fn lookup(opt: &'static str, name: &str) -> Result<i64, SeccompError> {
    names::nr(name).ok_or_else(|| SeccompError::UnknownSyscall {
        opt,
        name: name.into(),
    })
}

fn resolve(spec: &Spec) -> Result<Policy, SeccompError> {
    let one = |opt: &'static str, name: &str| lookup(opt, name).map(|n| vec![n]);
    let mut policy = resolve_arch(spec, &one)?;
    if spec.seccomp.allow_32bit {
        // Every name was checked above; on i386 it stands for the calls that do the same.
        let i386 = |_: &'static str, name: &str| Ok(i386::nrs(name));
        policy.i386 = Some(Box::new(resolve_arch(spec, &i386)?));
    }
    Ok(policy)
}

/// The numbers of a syscall name on one arch (none where it has no such call).
type Numbers<'a> = &'a dyn Fn(&'static str, &str) -> Result<Vec<i64>, SeccompError>;

fn resolve_arch(spec: &Spec, nrs: Numbers) -> Result<Policy, SeccompError> {
    let sc = &spec.seccomp;
    let userns = spec.allow_userns;
    let mut allow = None;
    let mut deny = BTreeMap::new();
    let builtin = |errno, when| Deny {
        errno,
        when,
        user: false,
    };
    if sc.profile != SeccompProfile::None {
        if sc.profile == SeccompProfile::Default {
            let groups = DEFAULT_DENY.iter().chain((!userns).then_some(&NAMESPACES));
            for g in groups {
                for name in g.names {
                    for nr in nrs("seccomp", name)? {
                        deny.insert(nr, builtin(g.errno, When::Always));
                    }
                }
            }
        } else {
            let mut set = BTreeSet::new();
            let extra: &[&str] = if userns { NAMESPACES.names } else { &[] };
            for name in STRICT_ALLOW.iter().chain(extra) {
                set.extend(nrs("seccomp", name)?);
            }
            allow = Some(set);
        }
        for (name, when, errno) in CONDITIONAL {
            if !(userns && *when == When::NewNamespace) {
                for nr in nrs("seccomp", name)? {
                    deny.insert(nr, builtin(*errno, *when));
                }
            }
        }
        for name in &sc.allow {
            for nr in nrs("--seccomp-allow", name)? {
                deny.remove(&nr);
                if let Some(set) = &mut allow {
                    set.insert(nr);
                }
            }
        }
    }
    for (name, errno) in &sc.deny {
        for nr in nrs("--seccomp-deny", name)? {
            let errno = *errno;
            deny.insert(
                nr,
                Deny {
                    errno,
                    when: When::Always,
                    user: true,
                },
            );
        }
    }
    Ok(Policy {
        allow,
        deny,
        i386: None,
    })
}

/// Compile the policy of `spec`: one BPF program, or none for `none` (unless
/// `--seccomp-deny` asked for rules anyway).
pub fn build(spec: &Spec) -> Result<Vec<BpfProgram>, SetupError> {
    build_typed(spec).map_err(SetupError::from)
}

fn build_typed(spec: &Spec) -> Result<Vec<BpfProgram>, SeccompError> {
    let policy = resolve(spec)?;
    if policy.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![program(&policy)])
}

/// What an x86_64 call meets, by its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    /// This answer (SECCOMP_RET_ALLOW, or SECCOMP_RET_ERRNO with the errno).
    Ret(u32),
    /// Argument checks: `errno` when they match, else `otherwise`.
    Check {
        when: When,
        errno: i32,
        otherwise: u32,
    },
}

fn leaf(policy: &Policy, nr: i64) -> Leaf {
    let otherwise = match &policy.allow {
        Some(listed) if !listed.contains(&nr) => errno_ret(ENOSYS),
        _ => libc::SECCOMP_RET_ALLOW,
    };
    match policy.deny.get(&nr) {
        Some(d) if d.when == When::Always => Leaf::Ret(errno_ret(d.errno)),
        Some(d) => Leaf::Check {
            when: d.when,
            errno: d.errno,
            otherwise,
        },
        None => Leaf::Ret(otherwise),
    }
}

/// Syscall numbers as ranges of equal leaves, (first number, leaf), in order from 0; the last
/// range is open-ended (x32 numbers never get here).
fn ranges(policy: &Policy) -> Vec<(u32, Leaf)> {
    // The leaf can only change at a listed number or just after one.
    let listed = policy.allow.iter().flatten();
    let mut edges: Vec<i64> = policy
        .deny
        .keys()
        .chain(listed)
        // (i386 rules for calls through socketcall and ipc are looked up by `multiplexed`.)
        .filter(|&&n| n < i386::THROUGH)
        .flat_map(|&n| [n, n + 1])
        .collect();
    edges.push(0);
    edges.sort_unstable();
    edges.dedup();
    let mut out: Vec<(u32, Leaf)> = Vec::new();
    for nr in edges {
        let l = leaf(policy, nr);
        if out.last().map(|r| r.1) != Some(l) {
            out.push((nr as u32, l));
        }
    }
    out
}

/// `if A <code> k { yes } else { no }`; both blocks end in a return. Conditional jumps reach
/// 255 instructions at most: a longer `no` is stepped over with JA.
fn if_else(code: u16, k: u32, yes: Vec<sock_filter>, no: Vec<sock_filter>) -> Vec<sock_filter> {
    let mut p = Vec::with_capacity(2 + yes.len() + no.len());
    match u8::try_from(no.len()) {
        Ok(n) => p.push(jump(code, k, n, 0)),
        Err(_) => p.extend([jump(code, k, 0, 1), jump(JA, no.len() as u32, 0, 0)]),
    }
    p.extend(no);
    p.extend(yes);
    p
}

/// Binary search over `ranges` (the number in A), down to each range's code.
fn search(ranges: &[(u32, Leaf)]) -> Vec<sock_filter> {
    if let [(_, l)] = ranges {
        return leaf_code(*l);
    }
    let mid = ranges.len() / 2;
    if_else(
        JGE,
        ranges[mid].0,
        search(&ranges[mid..]),
        search(&ranges[..mid]),
    )
}

fn leaf_code(l: Leaf) -> Vec<sock_filter> {
    let (when, errno, otherwise) = match l {
        Leaf::Ret(k) => return vec![ret(k)],
        Leaf::Check {
            when,
            errno,
            otherwise,
        } => (when, errno, otherwise),
    };
    let (deny, other) = (ret_errno(errno), ret(otherwise));
    // The kernel reads clone flags, ioctl requests and socket families as 32-bit ints, so
    // compare the low 32 bits only: high bits must not slip past (CVE-2019-10063).
    match when {
        When::Always => vec![deny],
        When::NewNamespace => vec![
            ld(arg_lo(0)),
            jump(JSET, CLONE_NEW_MASK as u32, 0, 1),
            deny,
            other,
        ],
        When::TerminalInjection => vec![
            ld(arg_lo(1)),
            jump(JEQ, TIOCSTI as u32, 1, 0),
            jump(JEQ, TIOCLINUX as u32, 0, 1),
            deny,
            other,
        ],
        When::OtherFamily => {
            let n = FAMILIES.len();
            let mut p = vec![ld(arg_lo(0))];
            for (i, f) in FAMILIES.iter().enumerate() {
                p.push(jump(JEQ, *f as u32, (n - i) as u8, 0));
            }
            p.extend([deny, other]);
            p
        }
    }
}

/// The whole program: the arch guard, then the search over x86_64 numbers, whose branches
/// jump straight to one shared copy of each leaf's code at the end. The kernel converts and
/// JIT-compiles the program at every start: default shrinks from 154 to about 90
/// instructions this way. Jumps only go forward, 255 instructions at most; a program too
/// long for that is laid out with a copy of each leaf in place (`program_inline`).
fn program(policy: &Policy) -> BpfProgram {
    program_shared(policy).unwrap_or_else(|| program_inline(policy))
}

fn program_shared(policy: &Policy) -> Option<BpfProgram> {
    let rs = ranges(policy);
    let enosys = Leaf::Ret(errno_ret(ENOSYS));
    let mut leaves = vec![enosys];
    // Each range's leaf, as an index into `leaves`.
    let mut of: Vec<usize> = Vec::with_capacity(rs.len());
    for (_, l) in &rs {
        of.push(leaves.iter().position(|x| x == l).unwrap_or_else(|| {
            leaves.push(*l);
            leaves.len() - 1
        }));
    }
    // Layout: guard (4), the splits of the search (n ranges: n - 1) in pre-order, the
    // leaves' code, then other arches.
    const GUARD: usize = 4;
    let tail = GUARD + rs.len() - 1;
    let mut at = Vec::with_capacity(leaves.len());
    let mut code = Vec::new();
    for l in &leaves {
        at.push(tail + code.len());
        code.extend(leaf_code(*l));
    }
    let foreign_at = tail + code.len();
    let offset = |from: usize, to: usize| u8::try_from(to.checked_sub(from + 1)?).ok();
    // Where the search over ranges[lo..hi], laid out from `start`, is entered.
    let entry = |lo: usize, hi: usize, start: usize| {
        if hi - lo == 1 { at[of[lo]] } else { start }
    };
    let mut p = vec![
        ld(ARCH),
        jump(JEQ, AUDIT_ARCH_X86_64, 0, offset(1, foreign_at)?),
        ld(NR),
        jump(
            JGE,
            X32_BIT,
            offset(3, at[0])?,
            offset(3, entry(0, rs.len(), GUARD))?,
        ),
    ];
    // Pre-order: a split on the middle range's first number, then the lower half's splits,
    // then the upper half's; a half of one range is its leaf, in the tail.
    let mut stack = vec![(0, rs.len())];
    while let Some((lo, hi)) = stack.pop() {
        if hi - lo == 1 {
            continue;
        }
        let pos = p.len();
        let mid = lo + (hi - lo) / 2;
        let (lo_at, hi_at) = (pos + 1, pos + 1 + (mid - lo - 1));
        let jt = offset(pos, entry(mid, hi, hi_at))?;
        let jf = offset(pos, entry(lo, mid, lo_at))?;
        p.push(jump(JGE, rs[mid].0, jt, jf));
        stack.push((mid, hi));
        stack.push((lo, mid));
    }
    p.extend(code);
    p.extend(foreign(policy.i386.as_deref()));
    Some(p)
}

/// [`program`] with each leaf's code in place, for programs too long for shared leaves.
fn program_inline(policy: &Policy) -> BpfProgram {
    let mut native = vec![ld(NR)];
    native.extend(if_else(
        JGE,
        X32_BIT,
        vec![ret_errno(ENOSYS)],
        search(&ranges(policy)),
    ));
    let mut p = vec![ld(ARCH)];
    p.extend(if_else(
        JEQ,
        AUDIT_ARCH_X86_64,
        native,
        foreign(policy.i386.as_deref()),
    ));
    p
}

// --- The arch guard, in raw BPF -------------------------------------------------------------

fn errno_ret(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e as u32
}
fn ret_errno(e: i32) -> sock_filter {
    ret(errno_ret(e))
}

/// Calls of another arch: ENOSYS, unless 32-bit calls are allowed: then i386 calls meet
/// `i386`, the same policy with i386 numbers (A holds the arch). socketcall(2) and ipc(2)
/// first branch on their call number, each call meeting the rule of the syscall that does the
/// same; an argument check they can't make (socket's family is in memory) denies.
fn foreign(i386: Option<&Policy>) -> Vec<sock_filter> {
    let Some(policy) = i386 else {
        return vec![ret_errno(ENOSYS)];
    };
    let mut p = vec![jump(JEQ, AUDIT_ARCH_I386, 1, 0), ret_errno(ENOSYS), ld(NR)];
    let by_call = |calls: &[(u32, &str)], mask: Option<u32>| {
        let mut code = vec![ld(arg_lo(0))];
        if let Some(m) = mask {
            code.push(sock_filter {
                code: AND,
                jt: 0,
                jf: 0,
                k: m,
            });
        }
        code.extend(search(&multiplexed(policy, calls)));
        code
    };
    p.extend(if_else(
        JEQ,
        i386::SOCKETCALL,
        by_call(i386::SOCKETCALL_CALLS, None),
        if_else(
            JEQ,
            i386::IPC,
            by_call(i386::IPC_CALLS, Some(0xFFFF)),
            search(&ranges(policy)),
        ),
    ));
    p
}

/// Ranges over the call numbers of socketcall or ipc: each call's leaf is the i386 leaf of
/// the syscall of that name, with argument checks turned into their errno; numbers that
/// name no call get EINVAL, as the kernel answers.
fn multiplexed(policy: &Policy, calls: &[(u32, &str)]) -> Vec<(u32, Leaf)> {
    let of = |call: u32| match calls.iter().find(|(c, _)| *c == call) {
        None => Leaf::Ret(errno_ret(libc::EINVAL)),
        Some((_, name)) => match names::nr(name).map(|nr| leaf(policy, i386::THROUGH + nr)) {
            Some(Leaf::Check { errno, .. }) => Leaf::Ret(errno_ret(errno)),
            Some(l) => l,
            None => Leaf::Ret(errno_ret(ENOSYS)),
        },
    };
    let last = calls.iter().map(|(c, _)| *c).max().unwrap_or(0);
    let mut out: Vec<(u32, Leaf)> = Vec::new();
    for call in 0..=last + 1 {
        let l = of(call);
        if out.last().map(|r| r.1) != Some(l) {
            out.push((call, l));
        }
    }
    out
}

// --- Installing -----------------------------------------------------------------------------

// seccompiler's sock_filter is passed to the kernel as libc's.
const _: () = assert!(size_of::<sock_filter>() == size_of::<libc::sock_filter>());

/// Install the programs in order (the last one is the newest). Call last, right before
/// execve, with no_new_privs already set.
/// `opt` names them in errors: "seccomp" (sbox's policy) or "--seccomp" (the caller's).
pub fn install(opt: &'static str, progs: &[BpfProgram]) -> Result<(), SeccompError> {
    for p in progs {
        let fprog = libc::sock_fprog {
            len: p.len() as u16,
            filter: p.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: fprog points at a live, well-formed program for the duration of the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(SeccompError::Install {
                opt,
                errno: Errno::last(),
            });
        }
    }
    Ok(())
}

// --- Names for the command line and -v --------------------------------------------------------

/// One line for -v, e.g. "seccomp: default (EPERM 44, ENOSYS 12, EAFNOSUPPORT 1), x32/i386
/// refused".
pub fn describe(spec: &Spec) -> String {
    let policy = match resolve(spec) {
        Ok(p) => p,
        Err(e) => return format!("seccomp: invalid: {}", SetupError::from(e)),
    };
    if policy.is_empty() {
        return "seccomp: none".to_string();
    }
    let profile = spec.seccomp.profile.name();
    let mut counts: BTreeMap<i32, usize> = BTreeMap::new();
    for d in policy.deny.values() {
        *counts.entry(d.errno).or_default() += 1;
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(a) = &policy.allow {
        parts.push(format!("allow {}, rest ENOSYS", a.len()));
    }
    parts.extend(
        counts
            .iter()
            .map(|(e, n)| format!("{} {n}", errno_name(*e))),
    );
    let arch = match &policy.i386 {
        None => "x32/i386 refused",
        Some(_) => "x32 refused, i386 under the same rules",
    };
    format!("seccomp: {profile} ({}), {arch}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use crate::spec::bpf::{LD_W_ABS, RET};
    /// spec::bpf writes the opcodes as numbers (the pure half has no libc): they are libc's.
    #[test]
    fn bpf_numbers_are_the_kernels() {
        use crate::spec::bpf;
        let op = |c: u32| c as u16;
        assert_eq!(
            bpf::LD_W_ABS,
            op(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS)
        );
        assert_eq!(bpf::JA, op(libc::BPF_JMP | libc::BPF_JA));
        assert_eq!(bpf::JEQ, op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K));
        assert_eq!(bpf::JGT, op(libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K));
        assert_eq!(bpf::JGE, op(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K));
        assert_eq!(bpf::JSET, op(libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K));
        assert_eq!(bpf::AND, op(libc::BPF_ALU | libc::BPF_AND | libc::BPF_K));
        assert_eq!(bpf::RET, op(libc::BPF_RET | libc::BPF_K));
    }

    use super::*;
    use crate::spec::Seccomp;

    // --- The reference: the former design, a stack of seccompiler programs (the arch guard,
    //     strict's allow list, one program per errno), which the one program must match.

    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    fn guard(i386: Option<&Policy>) -> BpfProgram {
        let mut p = vec![
            ld(ARCH),
            jump(JEQ, AUDIT_ARCH_X86_64, 0, 4),
            ld(NR),
            jump(JGE, X32_BIT, 0, 1),
            ret_errno(ENOSYS),
            ret(libc::SECCOMP_RET_ALLOW),
        ];
        p.extend(foreign(i386));
        p
    }

    fn stacked(spec: &Spec) -> Vec<BpfProgram> {
        let policy = resolve(spec).unwrap();
        if policy.is_empty() {
            return Vec::new();
        }
        let mut progs = vec![guard(policy.i386.as_deref())];
        if let Some(allow) = &policy.allow {
            let rules = allow.iter().map(|nr| (*nr, Vec::new())).collect();
            progs.push(compile(
                rules,
                SeccompAction::Errno(ENOSYS as u32),
                SeccompAction::Allow,
            ));
        }
        for user in [false, true] {
            let mut by_errno: BTreeMap<i32, BTreeMap<i64, Vec<SeccompRule>>> = BTreeMap::new();
            for (nr, d) in policy.deny.iter().filter(|(_, d)| d.user == user) {
                by_errno
                    .entry(d.errno)
                    .or_default()
                    .insert(*nr, conditions(d.when));
            }
            for (errno, rules) in by_errno {
                progs.push(compile(
                    rules,
                    SeccompAction::Allow,
                    SeccompAction::Errno(errno as u32),
                ));
            }
        }
        progs
    }

    fn conditions(when: When) -> Vec<SeccompRule> {
        use SeccompCmpArgLen::Dword;
        let cond = |arg, op, v| SeccompCondition::new(arg, Dword, op, v).unwrap();
        let rule = |c: Vec<SeccompCondition>| SeccompRule::new(c).unwrap();
        match when {
            When::Always => Vec::new(),
            When::NewNamespace => (0..64)
                .map(|b| 1u64 << b)
                .filter(|bit| CLONE_NEW_MASK & bit != 0)
                .map(|bit| rule(vec![cond(0, SeccompCmpOp::MaskedEq(bit), bit)]))
                .collect(),
            When::TerminalInjection => [TIOCSTI, TIOCLINUX]
                .into_iter()
                .map(|req| rule(vec![cond(1, SeccompCmpOp::Eq, req)]))
                .collect(),
            When::OtherFamily => {
                let ne = FAMILIES
                    .iter()
                    .map(|f| cond(0, SeccompCmpOp::Ne, *f as u64))
                    .collect();
                vec![rule(ne)]
            }
        }
    }

    fn compile(
        rules: BTreeMap<i64, Vec<SeccompRule>>,
        mismatch: SeccompAction,
        matched: SeccompAction,
    ) -> BpfProgram {
        let filter = SeccompFilter::new(rules, mismatch, matched, TargetArch::x86_64).unwrap();
        let mut prog: BpfProgram = filter.try_into().unwrap();
        // Foreign arches are the guard's business.
        assert_eq!(prog[2], ret(libc::SECCOMP_RET_KILL_PROCESS));
        prog[2] = ret(libc::SECCOMP_RET_ALLOW);
        prog
    }

    /// Every option combination the policy has, against the former stack of programs: the
    /// same answer for every syscall number (x86_64, x32, i386) with arguments that hit each
    /// argument check on both sides.
    #[test]
    fn one_program_answers_as_the_stack_did() {
        let args: &[&[u64]] = &[
            &[],
            &[0x11],
            &[0x1000_0011],
            &[0x2_0000],
            &[1 << 40],
            &[0, TIOCSTI],
            &[0, TIOCSTI | 1 << 32],
            &[0, TIOCLINUX],
            &[0, 0x5401],
            &[libc::AF_UNIX as u64],
            &[libc::AF_INET6 as u64],
            &[libc::AF_NETLINK as u64],
            &[libc::AF_PACKET as u64],
            &[libc::AF_PACKET as u64 | 1 << 32],
        ];
        let mut cases = 0;
        for profile in [
            SeccompProfile::Default,
            SeccompProfile::Strict,
            SeccompProfile::None,
        ] {
            for bits in 0..16 {
                let mut s = spec(profile);
                s.allow_userns = bits & 1 != 0;
                s.seccomp.allow_32bit = bits & 2 != 0;
                if bits & 4 != 0 {
                    s.seccomp.allow = vec!["keyctl".into(), "ioctl".into(), "syslog".into()];
                }
                if bits & 8 != 0 {
                    s.seccomp.deny = vec![
                        ("getppid".into(), libc::EACCES),
                        ("clone3".into(), EPERM),
                        ("openat".into(), 13),
                        ("keyctl".into(), libc::EACCES),
                    ];
                }
                let (one, old) = (build(&s).unwrap(), stacked(&s));
                // The fallback layout, with each leaf in place, answers the same too.
                let inline: Vec<BpfProgram> = match resolve(&s).unwrap() {
                    p if p.is_empty() => Vec::new(),
                    p => vec![program_inline(&p)],
                };
                assert!(
                    one.len() <= 1 && one.len() == old.len().min(1),
                    "{profile:?} {bits}"
                );
                for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, 0xC000_00B7] {
                    for nr in (0..520).chain([X32_BIT | 16, X32_BIT | 110]) {
                        for a in args {
                            let mut c = call("getppid", a);
                            (c.nr, c.arch) = (nr, arch);
                            assert_eq!(
                                verdict(&one, &c),
                                verdict(&old, &c),
                                "{profile:?} {bits}: arch {arch:#x} nr {nr} args {a:?}"
                            );
                            assert_eq!(verdict(&inline, &c), verdict(&old, &c));
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert!(cases > 100_000);
    }

    #[test]
    fn leaves_are_shared() {
        for (profile, most) in [
            (SeccompProfile::Default, 100),
            (SeccompProfile::Strict, 200),
        ] {
            for (userns, b32) in [(false, false), (true, true)] {
                let mut s = spec(profile);
                (s.allow_userns, s.seccomp.allow_32bit) = (userns, b32);
                let policy = resolve(&s).unwrap();
                let shared = program_shared(&policy).expect("short enough to share leaves");
                let inline = program_inline(&policy);
                eprintln!(
                    "{profile:?} {userns} {b32}: {} vs {}",
                    shared.len(),
                    inline.len()
                );
                assert!(shared.len() < inline.len());
                if !b32 {
                    assert!(shared.len() <= most, "{profile:?}: {}", shared.len());
                }
            }
        }
    }

    #[test]
    fn jumps_stay_inside_and_paths_are_short() {
        for profile in [SeccompProfile::Default, SeccompProfile::Strict] {
            for (userns, b32) in [(false, false), (true, true)] {
                let mut s = spec(profile);
                (s.allow_userns, s.seccomp.allow_32bit) = (userns, b32);
                let p = &build(&s).unwrap()[0];
                for (pc, i) in p.iter().enumerate() {
                    let target = match i.code {
                        JA => pc + 1 + i.k as usize,
                        c if c & 0x07 == 0x05 => pc + 1 + i.jt.max(i.jf) as usize,
                        _ => continue,
                    };
                    assert!(target < p.len(), "{profile:?}: {pc}: {i:?}");
                }
                assert_eq!(p.last().unwrap().code, RET);
                // A binary search: a dozen comparisons reach any number's answer.
                let depth = (ranges(&resolve(&s).unwrap()).len() as f64).log2().ceil();
                assert!(depth <= 9.0, "{profile:?}: {depth}");
            }
        }
    }

    fn spec(profile: SeccompProfile) -> Spec {
        Spec {
            seccomp: Seccomp {
                profile,
                ..Seccomp::default()
            },
            ..Spec::default()
        }
    }

    // --- A model of the kernel: run each program, keep the most severe answer. ---

    /// `struct seccomp_data` for an x86_64 (or other arch) call.
    struct Call {
        nr: u32,
        arch: u32,
        args: [u64; 6],
    }

    fn call(name: &str, args: &[u64]) -> Call {
        let mut a = [0; 6];
        a[..args.len()].copy_from_slice(args);
        Call {
            nr: names::nr(name).unwrap() as u32,
            arch: AUDIT_ARCH_X86_64,
            args: a,
        }
    }

    fn word(c: &Call, off: u32) -> u32 {
        match off {
            NR => c.nr,
            ARCH => c.arch,
            o if o >= 16 && (o - 16) % 4 == 0 => {
                let arg = c.args[((o - 16) / 8) as usize];
                if (o - 16) % 8 == 0 {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
            o => panic!("load at {o}"),
        }
    }

    /// Interpret the classic-BPF subset seccompiler and the guard emit.
    fn run_bpf(p: &[sock_filter], c: &Call) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = &p[pc];
            pc += 1;
            let cond = |t: bool| if t { i.jt as usize } else { i.jf as usize };
            match i.code {
                LD_W_ABS => a = word(c, i.k),
                0x54 => a &= i.k,           // ALU AND K
                0x05 => pc += i.k as usize, // JA
                JEQ => pc += cond(a == i.k),
                0x25 => pc += cond(a > i.k), // JGT K
                JGE => pc += cond(a >= i.k),
                JSET => pc += cond(a & i.k != 0),
                RET => return i.k,
                op => panic!("opcode {op:#x}"),
            }
        }
    }

    /// The kernel's rule: newest filter first, a strictly more severe action replaces.
    fn verdict(progs: &[BpfProgram], c: &Call) -> Result<(), i32> {
        let severity = |r: u32| (r & libc::SECCOMP_RET_ACTION_FULL) as i32;
        let mut best = libc::SECCOMP_RET_ALLOW;
        for p in progs.iter().rev() {
            let r = run_bpf(p, c);
            if severity(r) < severity(best) {
                best = r;
            }
        }
        match best & libc::SECCOMP_RET_ACTION_FULL {
            libc::SECCOMP_RET_ALLOW => Ok(()),
            libc::SECCOMP_RET_ERRNO => Err((best & libc::SECCOMP_RET_DATA) as i32),
            other => panic!("action {other:#x}"),
        }
    }

    fn check(s: &Spec, c: Call) -> Result<(), i32> {
        verdict(&build(s).unwrap(), &c)
    }

    #[test]
    fn every_profile_builds() {
        for p in [SeccompProfile::Default, SeccompProfile::Strict] {
            for (userns, b32) in [(false, false), (true, false), (false, true), (true, true)] {
                let mut s = spec(p);
                s.allow_userns = userns;
                s.seccomp.allow_32bit = b32;
                let progs = build(&s).unwrap();
                assert_eq!(progs.len(), 1, "{p:?}");
                assert!(progs.iter().all(|p| p.len() < 4096));
            }
        }
        assert!(build(&spec(SeccompProfile::None)).unwrap().is_empty());
        assert_eq!(describe(&spec(SeccompProfile::None)), "seccomp: none");
    }

    #[test]
    fn tables_are_consistent() {
        let mut seen = BTreeSet::new();
        for name in DEFAULT_DENY
            .iter()
            .chain([&NAMESPACES])
            .flat_map(|g| g.names)
        {
            assert!(names::nr(name).is_some(), "{name}");
            assert!(seen.insert(*name), "{name} twice");
            assert!(!STRICT_ALLOW.contains(name), "{name} in both");
        }
        let mut strict = BTreeSet::new();
        for name in STRICT_ALLOW {
            assert!(names::nr(name).is_some(), "{name}");
            assert!(strict.insert(*name), "{name} twice");
        }
        // The i386 table: in order, each number and name once; a few known numbers.
        for w in i386::SYSCALLS.windows(2) {
            assert!(w[0].1 < w[1].1, "{w:?}");
        }
        let i386_names: BTreeSet<&str> = i386::SYSCALLS.iter().map(|(n, _)| *n).collect();
        assert_eq!(i386_names.len(), i386::SYSCALLS.len(), "an i386 name twice");
        for (name, nr) in [
            ("getpid", 20),
            ("ptrace", 26),
            ("getppid", 64),
            ("socketcall", 102),
            ("ipc", 117),
            ("clone", 120),
            ("mmap2", 192),
            ("unshare", 310),
            ("socket", 359),
            ("clock_gettime64", 403),
            ("clone3", 435),
        ] {
            assert_eq!(i386::nr(name), Some(nr), "{name}");
        }
        // Each i386 number stands for one x86_64 name at most, so no two rules compete.
        let mut owner: BTreeMap<i64, &str> = BTreeMap::new();
        for (name, _) in names::SYSCALLS {
            for nr in i386::nrs(name) {
                if let Some(other) = owner.insert(nr, name) {
                    panic!("i386 {nr}: {other} and {name}");
                }
            }
        }
        for (_, name) in i386::SOCKETCALL_CALLS.iter().chain(i386::IPC_CALLS) {
            assert!(names::nr(name).is_some(), "{name}");
        }
        let mut nrs: Vec<i64> = names::SYSCALLS.iter().map(|(_, n)| *n).collect();
        nrs.sort();
        nrs.dedup();
        assert_eq!(nrs.len(), names::SYSCALLS.len(), "a number twice");
        assert_eq!(names::nr("getppid"), Some(110));
        assert_eq!(names::nr("open_tree_attr"), Some(467));
        assert_eq!(names::nr("vm86"), None);
        // The binary search finds every name, at its own number.
        for (name, n) in names::SYSCALLS {
            assert_eq!(names::nr(name), Some(*n), "{name}");
        }
        assert_eq!(names::nr(""), None);
        assert_eq!(names::nr("zzz"), None);
    }

    #[test]
    fn default_denies_what_it_documents() {
        let s = spec(SeccompProfile::Default);
        assert_eq!(check(&s, call("getppid", &[])), Ok(()));
        assert_eq!(check(&s, call("unshare", &[0x1000_0000])), Err(EPERM));
        assert_eq!(check(&s, call("keyctl", &[])), Err(EPERM));
        assert_eq!(check(&s, call("mount", &[])), Err(EPERM));
        assert_eq!(check(&s, call("fsopen", &[])), Err(ENOSYS));
        assert_eq!(check(&s, call("clone3", &[])), Err(ENOSYS));
        assert_eq!(check(&s, call("io_uring_setup", &[])), Err(ENOSYS));
        // clone: any CLONE_NEW* flag, only the low 32 bits count.
        assert_eq!(check(&s, call("clone", &[0x11])), Ok(()));
        assert_eq!(check(&s, call("clone", &[0x4000_0011])), Err(EPERM));
        assert_eq!(check(&s, call("clone", &[0x2_0000])), Err(EPERM));
        assert_eq!(check(&s, call("clone", &[1 << 40])), Ok(()));
        // ioctl: TIOCSTI even with high bits set (CVE-2019-10063); other requests pass.
        assert_eq!(check(&s, call("ioctl", &[0, TIOCSTI])), Err(EPERM));
        assert_eq!(
            check(&s, call("ioctl", &[0, TIOCSTI | 1 << 32])),
            Err(EPERM)
        );
        assert_eq!(check(&s, call("ioctl", &[0, TIOCLINUX])), Err(EPERM));
        assert_eq!(check(&s, call("ioctl", &[0, 0x5401])), Ok(()));
        // socket: four families pass.
        for f in FAMILIES {
            assert_eq!(check(&s, call("socket", &[f as u64, 1])), Ok(()));
        }
        let packet = libc::AF_PACKET as u64;
        assert_eq!(check(&s, call("socket", &[packet])), Err(EAFNOSUPPORT));
        assert_eq!(
            check(&s, call("socket", &[packet | 1 << 32])),
            Err(EAFNOSUPPORT)
        );
    }

    #[test]
    fn allow_userns_lifts_namespaces_only() {
        let mut s = spec(SeccompProfile::Default);
        s.allow_userns = true;
        assert_eq!(check(&s, call("unshare", &[0x1000_0000])), Ok(()));
        assert_eq!(check(&s, call("setns", &[])), Ok(()));
        assert_eq!(check(&s, call("clone", &[0x1000_0011])), Ok(()));
        assert_eq!(check(&s, call("mount", &[])), Err(EPERM));
        assert_eq!(check(&s, call("fsopen", &[])), Err(ENOSYS));
        assert_eq!(check(&s, call("clone3", &[])), Err(ENOSYS));
        s.seccomp.profile = SeccompProfile::Strict;
        assert_eq!(check(&s, call("unshare", &[0x1000_0000])), Ok(()));
        assert_eq!(check(&s, call("clone", &[0x1000_0011])), Ok(()));
        assert_eq!(check(&s, call("mount", &[])), Err(ENOSYS));
    }

    #[test]
    fn strict_is_an_allow_list() {
        let s = spec(SeccompProfile::Strict);
        assert_eq!(check(&s, call("getppid", &[])), Ok(()));
        assert_eq!(check(&s, call("openat", &[])), Ok(()));
        assert_eq!(check(&s, call("syslog", &[])), Err(ENOSYS));
        assert_eq!(check(&s, call("unshare", &[])), Err(ENOSYS));
        let unknown = Call {
            nr: 1000,
            arch: AUDIT_ARCH_X86_64,
            args: [0; 6],
        };
        assert_eq!(check(&s, unknown), Err(ENOSYS));
        // The argument rules hold in strict too.
        assert_eq!(check(&s, call("clone", &[0x1000_0011])), Err(EPERM));
        assert_eq!(check(&s, call("ioctl", &[0, TIOCSTI])), Err(EPERM));
        let packet = libc::AF_PACKET as u64;
        assert_eq!(check(&s, call("socket", &[packet])), Err(EAFNOSUPPORT));
    }

    #[test]
    fn allow_and_deny_adjust_the_profile() {
        let mut s = spec(SeccompProfile::Default);
        s.seccomp.allow = vec!["keyctl".into(), "ioctl".into()];
        s.seccomp.deny = vec![("getppid".into(), libc::EACCES), ("clone3".into(), EPERM)];
        assert_eq!(check(&s, call("keyctl", &[])), Ok(()));
        assert_eq!(check(&s, call("ioctl", &[0, TIOCSTI])), Ok(()));
        assert_eq!(check(&s, call("getppid", &[])), Err(libc::EACCES));
        // A user rule replaces the built-in one: clone3 now EPERM, not ENOSYS.
        assert_eq!(check(&s, call("clone3", &[])), Err(EPERM));

        // Strict: allow adds to the list; a deny of an unlisted name must beat the list's
        // ENOSYS, which holds only because user programs are installed last (pitfall 2).
        let mut s = spec(SeccompProfile::Strict);
        s.seccomp.allow = vec!["syslog".into()];
        s.seccomp.deny = vec![("keyctl".into(), libc::EACCES), ("openat".into(), 13)];
        assert_eq!(check(&s, call("syslog", &[])), Ok(()));
        assert_eq!(check(&s, call("keyctl", &[])), Err(libc::EACCES));
        assert_eq!(check(&s, call("openat", &[])), Err(libc::EACCES));
        let mut progs = stacked(&s);
        let user = progs.pop().unwrap();
        progs.insert(1, user);
        assert_eq!(
            verdict(&progs, &call("keyctl", &[])),
            Err(ENOSYS),
            "order matters"
        );

        // None plus a deny still installs it, with the guard.
        let mut s = spec(SeccompProfile::None);
        s.seccomp.deny = vec![("keyctl".into(), EPERM)];
        assert_eq!(build(&s).unwrap().len(), 1);
        assert_eq!(check(&s, call("keyctl", &[])), Err(EPERM));
        assert_eq!(check(&s, call("unshare", &[])), Ok(()));
    }

    #[test]
    fn unknown_names_are_rejected() {
        let mut s = spec(SeccompProfile::Default);
        s.seccomp.allow = vec!["frobnicate".into()];
        let e = build(&s).unwrap_err();
        assert_eq!(e.step, "--seccomp-allow");
        assert!(e.why.contains("'frobnicate'"), "{e}");
        let mut s = spec(SeccompProfile::None);
        s.seccomp.deny = vec![("vm86".into(), EPERM)];
        assert_eq!(build(&s).unwrap_err().step, "--seccomp-deny");
    }

    #[test]
    fn guard_instructions() {
        let g = guard(None);
        assert_eq!(
            g,
            [
                ld(ARCH),
                jump(JEQ, AUDIT_ARCH_X86_64, 0, 4),
                ld(NR),
                jump(JGE, X32_BIT, 0, 1),
                ret_errno(ENOSYS),
                ret(libc::SECCOMP_RET_ALLOW),
                ret_errno(ENOSYS),
            ]
        );
        // Every jump of every guard lands inside the program.
        let mut s = spec(SeccompProfile::Strict);
        s.seccomp.allow_32bit = true;
        let strict = resolve(&s).unwrap().i386.unwrap();
        s.seccomp.profile = SeccompProfile::None;
        let none = resolve(&s).unwrap().i386.unwrap();
        for g in [guard(None), guard(Some(&strict)), guard(Some(&none))] {
            for (pc, i) in g.iter().enumerate() {
                if i.code & 0x07 == 0x05 {
                    assert!(pc + 1 + (i.jt.max(i.jf) as usize) < g.len(), "{pc}: {i:?}");
                }
            }
            assert_eq!(g.last().unwrap().code, RET);
        }
    }

    #[test]
    fn x32_and_i386() {
        let s = spec(SeccompProfile::Default);
        let x32 = Call {
            nr: X32_BIT | 110,
            arch: AUDIT_ARCH_X86_64,
            args: [0; 6],
        };
        assert_eq!(check(&s, x32), Err(ENOSYS));
        let i386 = |nr, args: &[u64]| {
            let mut a = [0; 6];
            a[..args.len()].copy_from_slice(args);
            Call {
                nr,
                arch: AUDIT_ARCH_I386,
                args: a,
            }
        };
        assert_eq!(check(&s, i386(64, &[])), Err(ENOSYS));
        let mut s = spec(SeccompProfile::Strict);
        s.seccomp.allow_32bit = true;
        assert_eq!(check(&s, i386(64, &[])), Ok(()), "i386 getppid");
        // Strict's allow list holds for i386 too.
        assert_eq!(check(&s, i386(310, &[])), Err(ENOSYS), "i386 unshare");
        assert_eq!(check(&s, i386(21, &[])), Err(ENOSYS), "i386 mount");
        assert_eq!(check(&s, i386(26, &[])), Err(ENOSYS), "i386 ptrace");
        assert_eq!(check(&s, i386(435, &[])), Err(ENOSYS), "i386 clone3");
        assert_eq!(check(&s, i386(120, &[0x11])), Ok(()));
        assert_eq!(check(&s, i386(120, &[0x1000_0011])), Err(EPERM));
        assert_eq!(check(&s, i386(54, &[0, TIOCSTI])), Err(EPERM));
        assert_eq!(check(&s, i386(54, &[0, 0x5401])), Ok(()));
        s.seccomp.profile = SeccompProfile::Default;
        assert_eq!(check(&s, i386(310, &[])), Err(EPERM), "i386 unshare");
        assert_eq!(check(&s, i386(21, &[])), Err(EPERM), "i386 mount");
        assert_eq!(check(&s, i386(22, &[])), Err(EPERM), "i386 umount");
        s.allow_userns = true;
        s.seccomp.allow = vec!["mount".into()];
        s.seccomp.deny = vec![("getpid".into(), libc::EACCES)];
        assert_eq!(check(&s, i386(310, &[])), Ok(()));
        assert_eq!(check(&s, i386(120, &[0x1000_0011])), Ok(()));
        assert_eq!(check(&s, i386(21, &[])), Ok(()));
        assert_eq!(check(&s, i386(22, &[])), Err(EPERM), "umount is umount2's");
        assert_eq!(check(&s, i386(20, &[])), Err(libc::EACCES), "i386 getpid");
    }

    /// The i386 calls of a name answer as the x86_64 call of that name, under every option
    /// combination, arguments included; calls through socketcall and ipc too, except that
    /// socket's family can't be read there: it counts as a family that is not allowed.
    #[test]
    fn i386_answers_as_x86_64_by_name() {
        let args: &[&[u64]] = &[
            &[],
            &[0x1000_0011],
            &[0x11],
            &[0, TIOCSTI],
            &[0, 0x5401],
            &[libc::AF_UNIX as u64],
            &[libc::AF_PACKET as u64],
        ];
        let mut cases = 0;
        for profile in [
            SeccompProfile::Default,
            SeccompProfile::Strict,
            SeccompProfile::None,
        ] {
            for bits in 0..8 {
                let mut s = spec(profile);
                s.seccomp.allow_32bit = true;
                s.allow_userns = bits & 1 != 0;
                if bits & 2 != 0 {
                    s.seccomp.allow = vec!["keyctl".into(), "socket".into(), "ptrace".into()];
                }
                if bits & 4 != 0 {
                    s.seccomp.deny = vec![
                        ("getpid".into(), libc::EACCES),
                        ("fstat".into(), EPERM),
                        ("accept".into(), 13),
                        ("semop".into(), 14),
                        ("clock_gettime".into(), 15),
                    ];
                }
                let progs = build(&s).unwrap();
                let on = |arch: u32, nr: u32, a: &[u64]| {
                    let mut c = call("getppid", a);
                    (c.nr, c.arch) = (nr, arch);
                    verdict(&progs, &c)
                };
                for (name, x86) in names::SYSCALLS {
                    for nr in i386::nrs(name) {
                        for a in args {
                            let want = on(AUDIT_ARCH_X86_64, *x86 as u32, a);
                            let got = match nr - i386::THROUGH {
                                n if n < 0 => on(AUDIT_ARCH_I386, nr as u32, a),
                                _ => {
                                    let (mux, call, mask) = i386::SOCKETCALL_CALLS
                                        .iter()
                                        .map(|c| (i386::SOCKETCALL, c, 0))
                                        .chain(i386::IPC_CALLS.iter().map(|c| (i386::IPC, c, 1)))
                                        .find(|(_, c, _)| c.1 == *name)
                                        .unwrap();
                                    // ipc's version in the high 16 bits changes nothing.
                                    let first = call.0 as u64 | (mask << 16);
                                    let r = on(AUDIT_ARCH_I386, mux, &[first, a.len() as u64]);
                                    if *name == "socket" && r != Ok(()) {
                                        let packet = [libc::AF_PACKET as u64];
                                        assert_eq!(r, on(AUDIT_ARCH_X86_64, *x86 as u32, &packet));
                                        continue;
                                    }
                                    r
                                }
                            };
                            assert_eq!(got, want, "{profile:?} {bits}: {name} i386 {nr} {a:?}");
                            cases += 1;
                        }
                    }
                }
                // A call number that names nothing: the kernel's EINVAL.
                if !progs.is_empty() {
                    assert_eq!(
                        on(AUDIT_ARCH_I386, i386::SOCKETCALL, &[0]),
                        Err(libc::EINVAL)
                    );
                    assert_eq!(on(AUDIT_ARCH_I386, i386::IPC, &[99]), Err(libc::EINVAL));
                }
            }
        }
        assert!(cases > 50_000, "{cases}");
    }

    #[test]
    fn description() {
        let d = describe(&spec(SeccompProfile::Default));
        assert!(d.starts_with("seccomp: default (EPERM "), "{d}");
        assert!(d.ends_with("x32/i386 refused"), "{d}");
        assert!(!d.contains('\n'));
        let d = describe(&spec(SeccompProfile::Strict));
        assert!(d.starts_with("seccomp: strict (allow "), "{d}");
    }

    // --- Behaviour: the real kernel, in a child process per case. ---

    const DISPATCH: &str = "launch::seccomp::tests::dispatch";

    /// A raw syscall, errno as text.
    fn sys(nr: i64, a: &[i64]) -> String {
        let mut v = [0i64; 5];
        v[..a.len()].copy_from_slice(a);
        // SAFETY: only calls whose arguments are null or plain integers, made on purpose.
        let rc = unsafe { libc::syscall(nr, v[0], v[1], v[2], v[3], v[4]) };
        if rc >= 0 && (nr == libc::SYS_socket || nr == libc::SYS_fsopen) {
            // SAFETY: rc is the descriptor the call just returned.
            unsafe { libc::close(rc as i32) };
        }
        child::outcome(rc)
    }

    /// An i386 syscall through int 0x80 (IA32 emulation): "ok" or the errno's name.
    fn sys_i386(nr: u32, a: u32) -> String {
        let ret: i32;
        // SAFETY: int 0x80 with integer arguments; rbx is swapped in and out by hand because
        // LLVM reserves it, and whole: a 32-bit xchg would zero its upper half, which
        // optimised code uses for a pointer.
        unsafe {
            std::arch::asm!(
                "xchg {a}, rbx",
                "int 0x80",
                "xchg {a}, rbx",
                a = inout(reg) a as u64 => _,
                inlateout("eax") nr => ret,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            );
        }
        if ret < 0 {
            format!("{:?}", nix::errno::Errno::from_raw(-ret))
        } else {
            "ok".to_string()
        }
    }

    fn spec_for(case: &str) -> Spec {
        let mut s = spec(match case.split('+').next().unwrap() {
            "default" => SeccompProfile::Default,
            "strict" => SeccompProfile::Strict,
            _ => SeccompProfile::None,
        });
        s.allow_userns = case.contains("+userns");
        s.seccomp.allow_32bit = case.contains("+32bit");
        if case.contains("+denysyslog") {
            s.seccomp.deny = vec![("syslog".into(), libc::EACCES)];
        }
        s
    }

    /// The child side: install the filter for `SBOX_CASE`, try each call, report. Ignored in
    /// a normal run, where it would pass checking nothing; child::run runs it.
    #[test]
    #[ignore = "the child side of child::run, not a test by itself"]
    fn dispatch() {
        let Some(case) = child::case() else { return };
        if case.starts_with("bench") {
            return bench_child(&case);
        }
        let progs = build(&spec_for(&case)).unwrap();
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        install("seccomp", &progs).unwrap();
        let tiocsti_high = (TIOCSTI | 1 << 32) as i64;
        let byte = b"x".as_ptr() as i64;
        let results = [
            ("getppid", sys(libc::SYS_getppid, &[])),
            (
                "unshare_user",
                sys(libc::SYS_unshare, &[libc::CLONE_NEWUSER as i64]),
            ),
            // NEWUSER with CLONE_FS is invalid: without a filter the kernel says EINVAL and
            // nothing is created.
            (
                "clone_newuser",
                sys(
                    libc::SYS_clone,
                    &[(libc::CLONE_NEWUSER | libc::CLONE_FS) as i64],
                ),
            ),
            ("keyctl", sys(libc::SYS_keyctl, &[0, -2])),
            ("mount", sys(libc::SYS_mount, &[])),
            (
                "fsopen",
                sys(libc::SYS_fsopen, &[c"tmpfs".as_ptr() as i64, 0]),
            ),
            ("clone3", sys(libc::SYS_clone3, &[0, 0])),
            (
                "tiocsti_high",
                sys(libc::SYS_ioctl, &[0, tiocsti_high, byte]),
            ),
            (
                "af_packet",
                sys(libc::SYS_socket, &[libc::AF_PACKET as i64, 3, 0]),
            ),
            (
                "af_unix",
                sys(libc::SYS_socket, &[libc::AF_UNIX as i64, 1, 0]),
            ),
            ("syslog", sys(libc::SYS_syslog, &[10, 0, 0])),
            ("nr1000", sys(1000, &[])),
            ("i386_getppid", sys_i386(64, 0)),
            ("i386_unshare", sys_i386(310, libc::CLONE_NEWUSER as u32)),
        ];
        for (k, v) in results {
            child::report(k, v);
        }
        child::done();
    }

    fn outcomes(case: &str) -> BTreeMap<String, String> {
        child::run(DISPATCH, case)
    }

    #[test]
    fn none_lets_everything_through() {
        // The control: as root and unfiltered, these reach the kernel (proves the errnos
        // below come from the filter).
        let r = outcomes("none");
        assert_eq!(r["getppid"], "ok");
        assert_eq!(r["clone_newuser"], "EINVAL");
        assert_eq!(r["clone3"], "EINVAL");
        assert_ne!(r["tiocsti_high"], "EPERM");
        assert_eq!(r["i386_getppid"], "ok");
        if nix::unistd::geteuid().is_root() {
            assert_eq!(r["af_packet"], "ok");
            assert_eq!(r["syslog"], "ok");
            assert_eq!(r["fsopen"], "ok");
        }
    }

    #[test]
    fn default_in_the_kernel() {
        let r = outcomes("default");
        for (k, v) in [
            ("getppid", "ok"),
            ("unshare_user", "EPERM"),
            ("clone_newuser", "EPERM"),
            ("keyctl", "EPERM"),
            ("mount", "EPERM"),
            ("fsopen", "ENOSYS"),
            ("clone3", "ENOSYS"),
            ("tiocsti_high", "EPERM"),
            ("af_packet", "EAFNOSUPPORT"),
            ("af_unix", "ok"),
            ("syslog", "EPERM"),
            ("i386_getppid", "ENOSYS"),
            ("i386_unshare", "ENOSYS"),
        ] {
            assert_eq!(r[k], v, "{k}");
        }
    }

    #[test]
    fn default_with_userns_and_32bit_in_the_kernel() {
        let r = outcomes("default+userns+32bit");
        // EINVAL: the kernel's own answer (multi-threaded harness, or NEWUSER|FS).
        assert_ne!(r["unshare_user"], "EPERM");
        assert_eq!(r["clone_newuser"], "EINVAL");
        assert_eq!(r["mount"], "EPERM");
        assert_eq!(r["i386_getppid"], "ok");
        let r = outcomes("default+32bit");
        assert_eq!(r["i386_unshare"], "EPERM");
    }

    #[test]
    fn strict_in_the_kernel() {
        let r = outcomes("strict");
        for (k, v) in [
            ("getppid", "ok"),
            ("unshare_user", "ENOSYS"),
            ("clone_newuser", "EPERM"),
            ("keyctl", "ENOSYS"),
            ("clone3", "ENOSYS"),
            ("tiocsti_high", "EPERM"),
            ("af_packet", "EAFNOSUPPORT"),
            ("af_unix", "ok"),
            ("syslog", "ENOSYS"),
            ("nr1000", "ENOSYS"),
        ] {
            assert_eq!(r[k], v, "{k}");
        }
        // The user's deny is newer than the allow list, so its errno wins.
        assert_eq!(outcomes("strict+denysyslog")["syslog"], "EACCES");
    }

    // --- Cost: getppid in a loop under each profile. Run with
    //     cargo test --release -- --ignored --nocapture seccomp_cost

    fn bench_child(case: &str) {
        let profile = case.trim_start_matches("bench-");
        let progs = build(&spec_for(profile)).unwrap();
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        install("seccomp", &progs).unwrap();
        const N: u32 = 3_000_000;
        let t = std::time::Instant::now();
        for _ in 0..N {
            // SAFETY: getppid has no arguments.
            unsafe { libc::syscall(libc::SYS_getppid) };
        }
        child::report("ns_per_call", t.elapsed().as_nanos() as f64 / N as f64);
        child::done();
    }

    #[test]
    #[ignore]
    fn seccomp_cost() {
        // Rounds interleave the profiles so load from elsewhere on the machine hits all alike.
        let profiles = ["none", "default", "strict"];
        let mut runs: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for _ in 0..11 {
            for p in profiles {
                let ns = outcomes(&format!("bench-{p}"))["ns_per_call"]
                    .parse()
                    .unwrap();
                runs.entry(p).or_default().push(ns);
            }
        }
        let median = |p: &str| {
            let mut v = runs[p].clone();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        for p in profiles {
            println!("{p}: median {:.1} ns/call, runs {:.0?}", median(p), runs[p]);
        }
        println!(
            "default/none {:.2}, strict/none {:.2}",
            median("default") / median("none"),
            median("strict") / median("none"),
        );
    }
}
