//! Landlock: file access limited to what the mounts (or `--landlock-ro/-rw`) grant, TCP limited
//! to listed ports, abstract unix sockets and signals scoped to the sandbox.
//!
//! Applied in the command process, after pivot_root (paths are sandbox paths), right before
//! seccomp. What the user asked for is a hard requirement; scoping, which nobody asked for by
//! name, is best effort. Landlock only adds rights under a path: a read-only bind inside a
//! writable one stays read-only through its mount flag, not through Landlock.

use crate::error::StepError;
use crate::spec::{BindKind, DataKind, FsOp, OverlayUpper, Spec};
use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, PathFdError, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError, RulesetStatus,
    Scope,
};
use std::fmt;
use std::path::PathBuf;

/// The ABI sbox is written and tested against: every file right up to IOCTL_DEV (5), TCP
/// ports (4), scoping (6). ABI 7 adds only audit flags. Newer rights are never handled
/// (denied) by accident when the kernel grows them.
const TARGET: ABI = ABI::V6;

/// What was enforced, for -v and the status record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The ABI enforced: the kernel's, capped at the one sbox targets.
    pub abi: i32,
    pub fs_rules: usize,
    pub net_rules: usize,
    /// Abstract unix sockets and signals are confined to the sandbox (ABI 6+).
    pub scoped: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "landlock: ABI {}, {} path rules, {} TCP port rules, {}",
            self.abi,
            self.fs_rules,
            self.net_rules,
            if self.scoped {
                "abstract unix sockets and signals scoped"
            } else {
                "no scoping (kernel older than 6.12)"
            }
        )
    }
}

/// The rights a path rule grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grant {
    /// Read and execute (read-only binds, `--landlock-ro`).
    Read,
    /// Everything, REFER included so renames and links inside the tree keep working.
    All,
    /// procfs: read, plus writing existing files (/proc/self/comm, oom_score_adj, a nested
    /// user namespace's uid_map). Nothing can be created there; kernel checks still apply.
    Proc,
}

impl Grant {
    fn access(self) -> BitFlags<AccessFs> {
        match self {
            Grant::Read => AccessFs::from_read(TARGET),
            Grant::All => AccessFs::from_all(TARGET),
            Grant::Proc => AccessFs::from_read(TARGET) | AccessFs::WriteFile | AccessFs::Truncate,
        }
    }
}

/// One path rule, with the option that produced it for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PathRule {
    path: PathBuf,
    grant: Grant,
    option: &'static str,
    /// From a `--*-bind-try` that may have been skipped: a missing path is not an error.
    optional: bool,
}

/// The path rules of `spec`: derived from the mounts with `--landlock`, plus the listed ones.
fn path_rules(spec: &Spec) -> Vec<PathRule> {
    let mut rules = Vec::new();
    if spec.landlock.from_mounts {
        for op in &spec.ops {
            let (grant, optional) = match op {
                FsOp::Bind { kind, optional, .. } => match kind {
                    BindKind::Ro => (Grant::Read, *optional),
                    BindKind::Rw | BindKind::Dev | BindKind::Suid => (Grant::All, *optional),
                },
                // /dev too: /dev/null, /dev/tty and the pty need writes and ioctls.
                FsOp::Tmpfs { .. } | FsOp::Dev { .. } | FsOp::Dir { .. } => (Grant::All, false),
                FsOp::Proc { .. } => (Grant::Proc, false),
                FsOp::Mqueue { .. } => (Grant::All, false),
                FsOp::TmpfsCopyUp { .. } => (Grant::All, false),
                // Read-only as runc's rootless one, whichever it becomes.
                FsOp::Sysfs { .. } | FsOp::Cgroup { .. } => (Grant::Read, false),
                FsOp::BindFd { ro, .. } => (if *ro { Grant::Read } else { Grant::All }, false),
                FsOp::Data { how, .. } => match how {
                    DataKind::RoBind => (Grant::Read, false),
                    DataKind::File | DataKind::Bind => (Grant::All, false),
                },
                // A mask is read-only and may be skipped when nothing was there.
                FsOp::Mask { .. } => (Grant::Read, true),
                FsOp::Overlay { upper, .. } => match upper {
                    OverlayUpper::ReadOnly => (Grant::Read, false),
                    OverlayUpper::Dir { .. } | OverlayUpper::Tmp => (Grant::All, false),
                },
                // A symlink is resolved through its target's rule; remount-ro and chmod change
                // no access right of their own.
                FsOp::Symlink { .. }
                | FsOp::RemountRo { .. }
                | FsOp::ReadOnlyPath { .. }
                | FsOp::NoExec { .. }
                | FsOp::Chmod { .. } => continue,
            };
            rules.push(PathRule {
                path: op.dst().to_path_buf(),
                grant,
                option: op.option(),
                optional,
            });
        }
    }
    for (list, grant, option) in [
        (&spec.landlock.ro, Grant::Read, "--landlock-ro"),
        (&spec.landlock.rw, Grant::All, "--landlock-rw"),
    ] {
        rules.extend(list.iter().map(|p| PathRule {
            path: p.clone(),
            grant,
            option,
            optional: false,
        }));
    }
    rules
}

/// The kernel's Landlock ABI version; 0 when Landlock is missing or disabled.
pub fn kernel_abi() -> i32 {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION only reads the flags; no pointer is used.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    v.max(0) as i32
}

/// Whether `apply` puts the command in a Landlock domain: from there it can't ptrace or open
/// the /proc files (mem, exe, ns) of a process outside it, such as init.
pub fn confines(spec: &Spec) -> bool {
    spec.landlock.enabled()
        || match default_domain(spec) {
            Some(_) => kernel_abi() >= 6,
            None => false,
        }
}

/// The domain the command gets without Landlock options, whose own effect is that it can't
/// ptrace (or open the /proc files of) a process outside it.
enum Default {
    /// No PID namespace: its signals are scoped too (ABI 6), so that it can't signal the
    /// caller's other processes.
    ScopeSignals,
    /// A new PID namespace: nothing outside it can be signalled from inside (pidfds included)
    /// but init, which ignores what comes from inside, as bubblewrap's; scoping signals would
    /// only make `kill 1` fail, and a build doing that would fail with it. The domain scopes
    /// abstract unix sockets instead (ABI 6). (A domain handling a filesystem right would do
    /// on older kernels, but it forbids mounting, and so nested sandboxes.)
    ScopeSockets,
}

/// Always in sbox's mode; as `bwrap`, only with a PID namespace (to keep init enterable).
fn default_domain(spec: &Spec) -> Option<Default> {
    match (spec.landlock_domain_needs_pidns, spec.ns.pid) {
        (_, true) => Some(Default::ScopeSockets),
        (false, false) => Some(Default::ScopeSignals),
        (true, false) => None,
    }
}

/// Why Landlock could not be applied as asked.
#[derive(Debug)]
pub enum LandlockError {
    /// The kernel refused a ruleset step.
    Ruleset(RulesetError),
    /// Landlock asked for on a kernel without it.
    Unsupported,
    /// A TCP port rule (`opt`) on a kernel whose ABI is older than 4.
    NoTcpRules { opt: &'static str, kernel: i32 },
    /// A rule's path (`opt`) does not exist inside the sandbox.
    NoSuchPath {
        opt: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    /// A rule's path could not be opened.
    Open {
        opt: &'static str,
        path: PathBuf,
        err: PathFdError,
    },
    /// restrict_self reported the ruleset not enforced.
    NotEnforced,
}

impl fmt::Display for LandlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LandlockError::Ruleset(e) => write!(f, "{e}"),
            LandlockError::Unsupported => f.write_str(
                "this kernel has no Landlock (needs Linux 5.13+ with 'landlock' in the lsm= boot \
                 parameter); drop the --landlock options to run without it",
            ),
            LandlockError::NoTcpRules { kernel, .. } => write!(
                f,
                "TCP port rules need Landlock ABI 4 (Linux 6.7); this kernel has ABI {kernel}: \
                 upgrade the kernel, or isolate the network with --unshare-net instead"
            ),
            LandlockError::NoSuchPath { err, .. } => write!(
                f,
                "no such path inside the sandbox for a Landlock rule ({err})"
            ),
            LandlockError::Open { err, .. } => write!(f, "{err}"),
            LandlockError::NotEnforced => f.write_str("the kernel did not enforce the ruleset"),
        }
    }
}

impl StepError for LandlockError {
    fn step(&self) -> std::borrow::Cow<'_, str> {
        match self {
            LandlockError::Ruleset(_) => "landlock".into(),
            LandlockError::Unsupported | LandlockError::NotEnforced => "--landlock".into(),
            LandlockError::NoTcpRules { opt, .. }
            | LandlockError::NoSuchPath { opt, .. }
            | LandlockError::Open { opt, .. } => (*opt).into(),
        }
    }

    fn path(&self) -> std::borrow::Cow<'_, str> {
        match self {
            LandlockError::NoSuchPath { path, .. } | LandlockError::Open { path, .. } => {
                path.to_string_lossy()
            }
            _ => "".into(),
        }
    }
}

fn ruleset_error(e: RulesetError) -> LandlockError {
    LandlockError::Ruleset(e)
}

/// Restrict the calling process as `spec.landlock` asks. `None` when Landlock was not asked;
/// then sbox still puts the command in a domain of its own (`default_domain`), where the
/// kernel can: from there it can't ptrace the caller's other processes, nor init, which then
/// stays enterable (see `setup`); without a PID namespace it can't signal them either.
pub fn apply(spec: &Spec) -> Result<Option<Report>, LandlockError> {
    let ll = &spec.landlock;
    if !ll.enabled() {
        if confines(spec) {
            let ruleset = match default_domain(spec) {
                Some(Default::ScopeSignals) => Ruleset::default().scope(Scope::Signal),
                _ => Ruleset::default().scope(Scope::AbstractUnixSocket),
            };
            ruleset
                .and_then(|r| r.create())
                .and_then(|r| r.no_new_privs(!spec.allow_new_privs).restrict_self())
                .map_err(ruleset_error)?;
        }
        return Ok(None);
    }
    let kernel = kernel_abi();
    if kernel < 1 {
        return Err(LandlockError::Unsupported);
    }
    let tcp_option = if !ll.tcp_connect.is_empty() {
        Some("--landlock-tcp-connect")
    } else if !ll.tcp_bind.is_empty() {
        Some("--landlock-tcp-bind")
    } else {
        None
    };
    if let (Some(opt), true) = (tcp_option, kernel < 4) {
        return Err(LandlockError::NoTcpRules { opt, kernel });
    }

    // Open every path first, so a missing one is reported by name before anything applies.
    let mut fs = Vec::new();
    for r in path_rules(spec) {
        let meta = match std::fs::metadata(&r.path) {
            Ok(m) => m,
            Err(_) if r.optional => continue,
            Err(err) => {
                return Err(LandlockError::NoSuchPath {
                    opt: r.option,
                    path: r.path,
                    err,
                });
            }
        };
        let fd = PathFd::new(&r.path).map_err(|err| LandlockError::Open {
            opt: r.option,
            path: r.path.clone(),
            err,
        })?;
        let mut access = r.grant.access();
        if !meta.is_dir() {
            access &= AccessFs::from_file(TARGET);
        }
        fs.push(PathBeneath::new(fd, access));
    }
    let fs_rules = fs.len();

    // File rights newer than the kernel are dropped (best effort); TCP handling is required.
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(TARGET))
        .map_err(ruleset_error)?
        .set_compatibility(CompatLevel::HardRequirement);
    if !ll.tcp_connect.is_empty() {
        ruleset = ruleset
            .handle_access(AccessNet::ConnectTcp)
            .map_err(ruleset_error)?;
    }
    if !ll.tcp_bind.is_empty() {
        ruleset = ruleset
            .handle_access(AccessNet::BindTcp)
            .map_err(ruleset_error)?;
    }
    let mut created = ruleset
        .set_compatibility(CompatLevel::BestEffort)
        .scope(Scope::from_all(TARGET))
        .map_err(ruleset_error)?
        .create()
        .map_err(ruleset_error)?;
    for rule in fs {
        created = created.add_rule(rule).map_err(ruleset_error)?;
    }
    // With an allowlist, connections to the outside go to sbox's proxy port.
    let proxy = (spec.net.active() && !ll.tcp_connect.is_empty())
        .then(|| (super::net::proxy_port(), AccessNet::ConnectTcp));
    let ports = ll
        .tcp_connect
        .iter()
        .map(|p| (*p, AccessNet::ConnectTcp))
        .chain(proxy)
        .chain(ll.tcp_bind.iter().map(|p| (*p, AccessNet::BindTcp)));
    let mut net_rules = 0;
    for (port, access) in ports {
        created = created
            .add_rule(NetPort::new(port, access))
            .map_err(ruleset_error)?;
        net_rules += 1;
    }
    let status =
        (created.no_new_privs(!spec.allow_new_privs).restrict_self()).map_err(ruleset_error)?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(LandlockError::NotEnforced);
    }
    let abi = kernel.min(TARGET as i32);
    Ok(Some(Report {
        abi,
        fs_rules,
        net_rules,
        scoped: abi >= 6,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::seccomp::child;
    use std::io::ErrorKind;
    use std::net::{TcpListener, TcpStream};
    use std::path::Path;

    fn bind(kind: BindKind, dst: &str, optional: bool) -> FsOp {
        FsOp::Bind {
            kind,
            src: "/x".into(),
            dst: dst.into(),
            optional,
        }
    }

    #[test]
    fn rules_follow_the_mounts() {
        let mut s = Spec {
            ops: vec![
                bind(BindKind::Ro, "/", false),
                bind(BindKind::Rw, "/home", false),
                bind(BindKind::Dev, "/dev/dri", true),
                FsOp::Tmpfs {
                    dst: "/tmp".into(),
                    perms: None,
                    size: None,
                },
                FsOp::Proc {
                    dst: "/proc".into(),
                },
                FsOp::Dev { dst: "/dev".into() },
                FsOp::Symlink {
                    target: "usr/bin".into(),
                    dst: "/bin".into(),
                },
                FsOp::RemountRo {
                    dst: "/home".into(),
                },
            ],
            ..Spec::default()
        };
        s.landlock.rw = vec!["/srv".into()];
        // Without --landlock, only the listed paths.
        let only: Vec<_> = path_rules(&s).into_iter().map(|r| r.path).collect();
        assert_eq!(only, [PathBuf::from("/srv")]);

        s.landlock.from_mounts = true;
        let got: Vec<_> = path_rules(&s)
            .into_iter()
            .map(|r| (r.path.display().to_string(), r.grant, r.option, r.optional))
            .collect();
        let want = [
            ("/", Grant::Read, "--ro-bind", false),
            ("/home", Grant::All, "--bind", false),
            ("/dev/dri", Grant::All, "--dev-bind-try", true),
            ("/tmp", Grant::All, "--tmpfs", false),
            ("/proc", Grant::Proc, "--proc", false),
            ("/dev", Grant::All, "--dev", false),
            ("/srv", Grant::All, "--landlock-rw", false),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(p, g, o, opt)| (p.to_string(), *g, *o, *opt))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn grants() {
        let ro = Grant::Read.access();
        assert!(ro.contains(AccessFs::ReadFile | AccessFs::Execute | AccessFs::ReadDir));
        assert!(!ro.contains(AccessFs::WriteFile));
        assert!(
            Grant::All
                .access()
                .contains(AccessFs::Refer | AccessFs::IoctlDev)
        );
        let p = Grant::Proc.access();
        assert!(p.contains(AccessFs::WriteFile) && !p.contains(AccessFs::MakeReg));
    }

    #[test]
    fn report_text() {
        let r = Report {
            abi: 6,
            fs_rules: 3,
            net_rules: 1,
            scoped: true,
        };
        assert_eq!(
            r.to_string(),
            "landlock: ABI 6, 3 path rules, 1 TCP port rules, abstract unix sockets and signals scoped"
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"abi":6,"fs_rules":3,"net_rules":1,"scoped":true}"#
        );
    }

    #[test]
    fn nothing_asked_nothing_applied() {
        assert_eq!(apply(&Spec::default()).unwrap(), None);
    }

    #[test]
    fn a_missing_path_is_named() {
        // Fails while opening the paths, before any restriction: safe in the test process.
        let mut s = Spec::default();
        s.landlock.ro = vec!["/".into(), "/no/such/dir".into()];
        let e = crate::error::SetupError::from(apply(&s).unwrap_err());
        assert_eq!(e.step, "--landlock-ro");
        assert_eq!(e.path, "/no/such/dir");
    }

    // --- Behaviour, in a child process per case (see seccomp::child). ---

    const DISPATCH: &str = "launch::landlock::tests::dispatch";

    fn errno_of(r: std::io::Result<impl Sized>) -> String {
        match r {
            Ok(_) => "ok".into(),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => "EACCES".into(),
            Err(e) => format!("{e}"),
        }
    }

    /// The child side of each case (see seccomp::child); ignored in a normal run.
    #[test]
    #[ignore = "the child side of child::run, not a test by itself"]
    fn dispatch() {
        let Some(case) = child::case() else { return };
        let base = std::env::temp_dir().join(format!("sbox-landlock-{}", std::process::id()));
        child::report("base", base.display());
        let allowed = base.join("allowed");
        for d in ["allowed/a", "allowed/b", "other"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        std::fs::write(allowed.join("a/moved"), "x").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();

        let mut s = Spec::default();
        s.landlock.ro = vec!["/".into()];
        s.landlock.rw = vec![allowed.clone()];
        // "other-port": only a port nobody listens on may be reached.
        s.landlock.tcp_connect = vec![if case == "other-port" {
            port.wrapping_add(1)
        } else {
            port
        }];
        let report = apply(&s).unwrap().unwrap();
        child::report("abi", report.abi);
        child::report("scoped", report.scoped);
        let w = |p: &Path| errno_of(std::fs::write(p, "y"));
        child::report("write_allowed", w(&allowed.join("f")));
        child::report("write_other", w(&base.join("other/f")));
        child::report(
            "mkdir_base",
            errno_of(std::fs::create_dir(base.join("new"))),
        );
        child::report(
            "rename_inside",
            errno_of(std::fs::rename(
                allowed.join("a/moved"),
                allowed.join("b/moved"),
            )),
        );
        child::report("read_root", errno_of(std::fs::read("/etc/hostname")));
        child::report("connect", errno_of(TcpStream::connect(("127.0.0.1", port))));
        child::done();
    }

    fn outcomes(case: &str) -> std::collections::BTreeMap<String, String> {
        let r = child::run(DISPATCH, case);
        std::fs::remove_dir_all(&r["base"]).unwrap();
        r
    }

    #[test]
    fn files_outside_the_rules_are_refused() {
        let r = outcomes("same-port");
        assert_eq!(r["write_allowed"], "ok");
        assert_eq!(r["rename_inside"], "ok", "REFER handled and granted");
        assert_eq!(r["read_root"], "ok");
        assert_eq!(r["write_other"], "EACCES");
        assert_eq!(r["mkdir_base"], "EACCES");
        assert_eq!(r["connect"], "ok");
        if kernel_abi() >= 6 {
            assert_eq!((r["abi"].as_str(), r["scoped"].as_str()), ("6", "true"));
        }
    }

    #[test]
    fn tcp_connect_outside_the_ports_is_refused() {
        if kernel_abi() < 4 {
            return crate::skip_or_fail(
                "tcp_connect_outside_the_ports_is_refused",
                "Landlock ABI below 4 (no TCP rules) on this kernel",
            );
        }
        assert_eq!(outcomes("other-port")["connect"], "EACCES");
    }
}
