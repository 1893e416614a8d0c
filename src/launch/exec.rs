//! The command process, last steps before execve: session, environment, working directory,
//! capabilities, no_new_privs, descriptors, and exec itself.

use super::{Plan, caps, channel, landlock, seccomp, signals, sys, userns};
use crate::error::{SetupError, StepError};
use crate::spec::{EnvOp, FsOp, Spec};
use nix::errno::Errno;
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Why the command could not be started, in its last steps.
#[derive(Debug)]
pub enum ExecError {
    /// --chdir DIR failed.
    Chdir { dir: PathBuf, err: std::io::Error },
    /// The caller's directory is another one inside (a profile mount `by` hides it).
    HiddenCwd { cwd: PathBuf, by: PathBuf },
    /// An argument of the command holds a NUL byte.
    Nul(OsString),
    /// A plain step failed (`step`: --new-session, process group, file descriptors).
    Errno { step: &'static str, errno: Errno },
    /// --exec-label or --file-label without SELinux.
    NoSelinux,
    /// Setting the exec label failed.
    Label { label: String, errno: Errno },
    /// execve failed. `not_found`: `$PATH` when no candidate exists anywhere on it;
    /// `exists`: the named file exists (so something it needs is missing).
    Exec {
        name: String,
        errno: Errno,
        not_found: Option<String>,
        exists: bool,
    },
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ExecError::*;
        match self {
            Chdir { err, .. } => write!(f, "{err}"),
            HiddenCwd { by, .. } => write!(
                f,
                "another directory in the sandbox (the mount on {} hides it): run from the \
                 project directory, or give --chdir DIR",
                by.display()
            ),
            Nul(_) => f.write_str("contains a NUL byte"),
            Errno { errno, .. } | Label { errno, .. } => f.write_str(errno.desc()),
            NoSelinux => {
                f.write_str("labeling not supported on this system (SELinux is not enabled)")
            }
            Exec {
                not_found: Some(path),
                ..
            } => write!(f, "{NOT_FOUND} (PATH={path})"),
            Exec { errno, exists, .. } => f.write_str(match errno {
                nix::errno::Errno::ENOENT if *exists => {
                    "No such file or directory (its interpreter or a shared library is missing \
                     inside)"
                }
                nix::errno::Errno::ENOENT => NO_SUCH_FILE,
                nix::errno::Errno::EACCES => {
                    "Permission denied (not executable, or on a noexec mount, for the sandbox's \
                     user)"
                }
                e => e.desc(),
            }),
        }
    }
}

impl StepError for ExecError {
    fn step(&self) -> std::borrow::Cow<'_, str> {
        use ExecError::*;
        match self {
            Chdir { .. } => "--chdir".into(),
            HiddenCwd { .. } => "working directory".into(),
            Nul(_) | Exec { .. } => "exec".into(),
            Errno { step, .. } => (*step).into(),
            NoSelinux | Label { .. } => "--exec-label".into(),
        }
    }

    fn path(&self) -> std::borrow::Cow<'_, str> {
        use ExecError::*;
        match self {
            Chdir { dir, .. } => dir.to_string_lossy(),
            HiddenCwd { cwd, .. } => cwd.to_string_lossy(),
            Nul(arg) => arg.to_string_lossy(),
            Label { label, .. } => label.as_str().into(),
            Exec { name, .. } => name.as_str().into(),
            Errno { .. } | NoSelinux => "".into(),
        }
    }

    fn bwrap(&self) -> Option<String> {
        match self {
            ExecError::Chdir { dir, err } => {
                let why = Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)).desc();
                Some(format!("Can't chdir to {}: {why}", dir.display()))
            }
            ExecError::NoSelinux => Some("labeling not supported on this system".into()),
            ExecError::Exec { name, errno, .. } => Some(format!("execvp {name}: {}", errno.desc())),
            _ => None,
        }
    }
}

/// What the supervisor knew about the host that the sandbox can't see any more.
pub struct Host {
    pub uid: u32,
    pub gid: u32,
    pub cwd: Option<PathBuf>,
    /// (device, inode) of `cwd`, when it must be the same directory inside (profiles).
    pub cwd_id: Option<(u64, u64)>,
    pub umask: libc::mode_t,
    /// The caller's descriptors passed on to the command (`fds::passed`).
    pub passed_fds: Vec<RawFd>,
    /// With --dev: the terminal the command's stdout is, bound as /dev/console.
    pub console: Option<PathBuf>,
}

/// (device, inode) of a directory: a bind mount keeps both, anything else differs.
pub fn dir_id(path: &str) -> Option<(u64, u64)> {
    let st = nix::sys::stat::stat(path).ok()?;
    Some((st.st_dev, st.st_ino))
}

fn apply_env(spec: &Spec) {
    // SAFETY (set_var/remove_var): this process is single-threaded; nothing reads the
    // environment concurrently.
    unsafe {
        let caller: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        if spec.clearenv {
            for (k, _) in std::env::vars_os() {
                std::env::remove_var(k);
            }
        }
        for op in &spec.env {
            match op {
                EnvOp::Set(k, v) => std::env::set_var(k, v),
                EnvOp::Unset(k) => std::env::remove_var(k),
                // Offline switches (CARGO_NET_OFFLINE...) only where there is no network.
                // (An allowlist is a network.)
                EnvOp::Offline(k, v) if spec.ns.net && !spec.net.active() => {
                    std::env::set_var(k, v)
                }
                EnvOp::Offline(..) => {}
                EnvOp::Keep(glob) => {
                    for (k, v) in &caller {
                        if k.to_str().is_some_and(|k| crate::spec::glob_match(glob, k)) {
                            std::env::set_var(k, v);
                        }
                    }
                }
            }
        }
    }
}

/// --chdir, else the caller's directory if it exists inside, else $HOME, else /.
fn working_dir(spec: &Spec, host: &Host) -> Result<PathBuf, ExecError> {
    if let Some(dir) = &spec.chdir {
        std::env::set_current_dir(dir).map_err(|err| ExecError::Chdir {
            dir: dir.clone(),
            err,
        })?;
        return Ok(dir.clone());
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    // Under a profile, running silently in another directory of the same name (a fresh /tmp
    // mounted over the project) would lose the command's work. (The home, a fresh tmpfs in
    // every shipped profile, is where a missing directory leads anyway; the root and the
    // directories made for mount points can't be written.)
    let hider = |cwd: &Path| {
        spec.ops
            .iter()
            .rev()
            .find(|o| cwd.starts_with(o.dst()) && o.dst() != Path::new("/"))
    };
    if let (Some(cwd), Some(id)) = (&host.cwd, host.cwd_id)
        && home.as_ref() != Some(cwd)
        && let Some(by) = hider(cwd)
        && std::env::set_current_dir(cwd).is_ok()
        && dir_id(".") != Some(id)
    {
        return Err(ExecError::HiddenCwd {
            cwd: cwd.clone(),
            by: by.dst().to_path_buf(),
        });
    }
    for dir in [host.cwd.clone(), home].into_iter().flatten() {
        if std::env::set_current_dir(&dir).is_ok() {
            return Ok(dir);
        }
    }
    Ok(PathBuf::from("/"))
}

fn cstring(s: &OsStr) -> Result<CString, ExecError> {
    CString::new(s.as_encoded_bytes()).map_err(|_| ExecError::Nul(s.to_os_string()))
}

/// Everything from here on runs in the command's own process; on success it never returns.
/// `keep`: descriptors passed on purpose (--sync-fd, --lock-file without an init).
/// `report`: the pipe to the supervisor, for what was enforced.
pub fn exec(
    spec: &Spec,
    plan: &Plan,
    keep: &[RawFd],
    host_proc: Option<OwnedFd>,
    report: BorrowedFd,
) -> SetupError {
    if let (Some(label), Some(proc)) = (&spec.exec_label, &host_proc)
        && let Err(e) = set_exec_label(proc, label)
    {
        return e.into();
    }
    drop(host_proc);
    match prepare(spec, plan, keep, report) {
        Ok(()) => exec_command(&spec.command, spec.argv0.as_deref()).into(),
        Err(e) => e,
    }
}

fn prepare(spec: &Spec, plan: &Plan, keep: &[RawFd], report: BorrowedFd) -> Result<(), SetupError> {
    let host = &plan.host;
    if let Some(limits) = &plan.limits {
        // Into the limited cgroup now: the setup so far was charged to the supervisor's leaf.
        // Then a cgroup namespace rooted there, asked for or not, so that the command can't
        // move out or raise a limit; before the capability drop: it needs CAP_SYS_ADMIN here.
        let opt = if spec.ns.cgroup {
            "--unshare-cgroup"
        } else {
            limits.option()
        };
        crate::cgroup::enter_payload(limits.payload_procs_fd(), opt)?;
    }
    if let Some(sock) = spec.console_socket {
        super::tty::to_console_socket(sock)?;
    } else if let Some(slave) = &plan.terminal {
        super::tty::attach(slave)?;
    } else if plan.new_session {
        // A new session has no controlling terminal: the caller's can't be read, driven
        // (tcsetpgrp) or fed (TIOCSTI) from inside.
        nix::unistd::setsid().map_err(|errno| ExecError::Errno {
            step: "--new-session",
            errno,
        })?;
    } else if !spec.caller_process_group {
        // No controlling terminal to take: a process group of its own is enough for the
        // signals sbox passes on to reach all of it.
        nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0))
            .map_err(|errno| ExecError::Errno {
                step: "process group",
                errno,
            })?;
    }
    apply_env(spec);
    if spec.net.active() {
        super::net::set_proxy_env();
    }
    let cwd = working_dir(spec, host)?;
    // SAFETY: single-threaded, as above.
    unsafe { std::env::set_var("PWD", &cwd) };
    if let Some(gate) = &spec.start_gate {
        // OCI create: a missing program is the create's failure, not a later start's.
        check_executable(&spec.command[0])?;
        channel::send_ready(report);
        wait_at_gate(gate, plan.gate_ack.as_ref())?;
    }
    if !spec.rlimits.is_empty() {
        super::process::set_rlimits(&spec.rlimits)?;
    }
    let sets = spec.command_caps();
    if !spec.allow_new_privs {
        super::step(spec, "capabilities", || caps::restrict(&sets))?;
        caps::no_new_privs()?;
    }
    // SAFETY: umask(2) only sets this process's file mode mask.
    unsafe { libc::umask(spec.umask.unwrap_or(host.umask)) };
    signals::reset_for_exec();
    // Only 0, 1 and 2 cross into the command, and what was passed on purpose.
    let keep: Vec<RawFd> = keep.iter().chain(&host.passed_fds).copied().collect();
    sys::cloexec_from(3, &keep).map_err(|errno| ExecError::Errno {
        step: "file descriptors",
        errno,
    })?;
    if spec.ns.assert_userns_disabled {
        userns::assert_disabled()?;
    }
    if spec.allow_new_privs {
        // Without no_new_privs, Landlock and seccomp need CAP_SYS_ADMIN: installed first,
        // then the capabilities dropped to the configured sets (capset and prctl must pass
        // the filter, as with runc).
        filters(spec, plan, report)?;
        return Ok(super::step(spec, "capabilities", || caps::restrict(&sets))?);
    }
    filters(spec, plan, report)
}

/// Landlock, then sbox's seccomp policy, then the caller's programs.
fn filters(spec: &Spec, plan: &Plan, report: BorrowedFd) -> Result<(), SetupError> {
    // Landlock, then seccomp last: only execve follows.
    if let Some(ll) = super::step(spec, "landlock", || landlock::apply(spec))? {
        if spec.verbose {
            crate::output::verbose(&ll.to_string());
        }
        if spec.fds.json_status.is_some() {
            channel::send(
                report,
                &channel::Message::Report(channel::Enforced { landlock: ll }),
            );
        }
    }
    if spec.verbose {
        crate::output::verbose(&seccomp::describe(spec));
    }
    super::step(spec, "seccomp install", || {
        seccomp::install("seccomp", &plan.filters)
    })?;
    // Programs given with --seccomp/--add-seccomp-fd go after sbox's own, in order.
    seccomp::install("--seccomp", &plan.bpf)?;
    Ok(())
}

/// Whether `name` (looked up in PATH without a slash) is an executable file, in the words
/// engines map to exit statuses (podman: "no such file or directory" and "executable file
/// not found" are 127, "permission denied" 126).
fn check_executable(name: &OsStr) -> Result<(), SetupError> {
    use nix::unistd::{AccessFlags, access};
    let shown = name.to_string_lossy().into_owned();
    let candidates: Vec<PathBuf> = if name.as_encoded_bytes().contains(&b'/') {
        vec![PathBuf::from(name)]
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path).map(|d| d.join(name)).collect()
    };
    let mut denied = false;
    for c in &candidates {
        match access(c.as_path(), AccessFlags::X_OK) {
            Ok(()) if !c.is_dir() => return Ok(()),
            Ok(()) | Err(Errno::EACCES) if c.exists() => denied = true,
            _ => {}
        }
    }
    let why = if denied {
        "permission denied (not an executable file for the container's user)".to_string()
    } else if candidates.len() == 1 && name.as_encoded_bytes().contains(&b'/') {
        "no such file or directory in the container".to_string()
    } else {
        format!(
            "executable file not found in $PATH (PATH={})",
            std::env::var("PATH").unwrap_or_default()
        )
    };
    Err(SetupError::new("exec", shown, why))
}

/// The start gate: the supervisor's go-ahead (its pid files are written; end-of-file: it died,
/// so leave), then open `exec.fifo` for writing, which blocks until `start` opens it for
/// reading; the byte written tells `start` the command was released.
fn wait_at_gate(gate: &crate::spec::StartGate, ack: Option<&OwnedFd>) -> Result<(), SetupError> {
    let mut b = [0u8; 1];
    if !matches!(ack.map(|a| nix::unistd::read(a, &mut b)), Some(Ok(1))) {
        sys::exit_now(1);
    }
    let Some(dir) = gate.dir else {
        return Ok(());
    };
    // SAFETY: the runtime keeps this descriptor open until the sandbox is cloned; the clone
    // has its own copy.
    let dir = unsafe { BorrowedFd::borrow_raw(dir) };
    let fail = |e| crate::launch::errno_error("start gate", "exec.fifo", e);
    let flags = nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC;
    let fifo = loop {
        match nix::fcntl::openat(dir, "exec.fifo", flags, nix::sys::stat::Mode::empty()) {
            Err(Errno::EINTR) => continue,
            r => break r.map_err(fail)?,
        }
    };
    nix::unistd::write(&fifo, b"0").map(drop).map_err(fail)
}

/// SELinux is needed for --exec-label and --file-label.
pub fn check_selinux() -> Result<(), ExecError> {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        Ok(())
    } else {
        Err(ExecError::NoSelinux)
    }
}

/// The SELinux context the next execve gives this thread.
fn set_exec_label(proc: &OwnedFd, label: &str) -> Result<(), ExecError> {
    use std::os::fd::AsFd;
    let fail = |errno| ExecError::Label {
        label: label.into(),
        errno,
    };
    let fd = nix::fcntl::openat(
        proc.as_fd(),
        "thread-self/attr/exec",
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(fail)?;
    nix::unistd::write(&fd, label.as_bytes())
        .map(drop)
        .map_err(fail)
}

/// Why a command was not found in the sandbox, told from the host (in the supervisor, and only
/// on that failure): the sandbox's root is empty, or the program is on the host, and which
/// option would expose it.
pub fn host_hint(spec: &Spec, e: &mut SetupError) {
    let not_found = e.why.starts_with(NOT_FOUND) || e.why == NO_SUCH_FILE;
    if spec.no_host_hint || e.step != "exec" || !not_found {
        return;
    }
    let binds = spec.ops.iter().any(|o| {
        matches!(
            o,
            FsOp::Bind { .. } | FsOp::BindFd { .. } | FsOp::Overlay { .. }
        )
    });
    if !binds {
        e.why += "; the sandbox's root is empty (nothing is bound into it): bind what the command needs, e.g. --ro-bind /usr /usr, or use --profile NAME";
        return;
    }
    let name = Path::new(&e.path);
    let on_host = if e.path.contains('/') {
        name.exists()
            .then(|| std::path::absolute(name).ok())
            .flatten()
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file() && p.is_absolute())
    };
    if let Some(p) = on_host
        && let Some(dir) = p.parent()
    {
        let d = dir.display();
        e.why += &format!(
            "; it is {} on the host: expose it with --ro-bind {d} {d}, or use a profile that binds it",
            p.display()
        );
    }
}

const NOT_FOUND: &str = "command not found in the sandbox";
const NO_SUCH_FILE: &str = "No such file or directory inside the sandbox";

fn exec_command(command: &[OsString], argv0: Option<&OsStr>) -> ExecError {
    let args: Result<Vec<CString>, _> = command.iter().map(|a| cstring(a)).collect();
    let mut args = match args {
        Ok(a) => a,
        Err(e) => return e,
    };
    let file = args[0].clone();
    if let Some(a) = argv0 {
        match cstring(a) {
            Ok(a) => args[0] = a,
            Err(e) => return e,
        }
    }
    let e = match nix::unistd::execvp(&file, &args) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let name = command[0].to_string_lossy().into_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    // execvp reports EACCES when any PATH entry was unreadable, even if the command exists
    // nowhere: say "not found" whenever no candidate exists.
    let found = std::env::split_paths(&path).any(|d| d.join(&name).exists());
    let not_found = match e {
        Errno::ENOENT | Errno::EACCES if !name.contains('/') && !found => {
            Some(std::env::var("PATH").unwrap_or_default())
        }
        _ => None,
    };
    ExecError::Exec {
        exists: e == Errno::ENOENT && Path::new(&name).exists(),
        name,
        errno: e,
        not_found,
    }
}
