//! The launch sequence: the only code that calls the kernel. This file holds the phase lists
//! only, in the order the sandbox is built (ARCHITECTURE.md's setup order): the supervisor's
//! (supervisor.rs), the child's in the new namespaces (child.rs), the command's (exec.rs).
//!
//! Processes: the supervisor (sbox itself, on the host) clones a child into the new
//! namespaces. With a PID namespace that child becomes init (pid 1) and forks the command;
//! otherwise (or with --as-pid-1) the child execs the command itself. A failure before exec
//! travels back to the supervisor over a close-on-exec pipe and is printed once there.

pub(crate) mod attach;
mod caps;
mod channel;
mod child;
mod exec;
mod fds;
mod hostdirs;
mod init;
mod landlock;
mod mounts;
mod net;
mod planted;
pub mod probe;
mod process;
mod proxy;
mod record;
mod seccomp;
mod signals;
mod supervisor;
mod sys;
mod tty;
mod userns;

use crate::error::SetupError;

use crate::spec::Spec;
use child::Role;
use std::os::fd::{AsFd, OwnedFd};
use supervisor::Plan;

/// Start the sandbox and wait for it; returns the exit status sbox should exit with.
/// With a start gate (`sbox-runc create`), returns once the command waits at it: its pid
/// (see [`run_gated`] for its cgroup).
pub fn run(spec: &Spec) -> Result<i32, SetupError> {
    let (code, kept) = launch(spec)?;
    debug_assert!(kept.is_none(), "limits with a start gate: run_gated");
    Ok(code)
}

/// With a start gate: the command's pid once it waits there, and the cgroup of its limits,
/// kept for the runtime to remove (`sbox-runc delete`).
pub fn run_gated(spec: &Spec) -> Result<(i32, Option<crate::cgroup::Kept>), SetupError> {
    launch(spec)
}

fn launch(spec: &Spec) -> Result<(i32, Option<crate::cgroup::Kept>), SetupError> {
    // Supervisor, before clone: everything that can fail early.
    // 1-2. privileged binary refused, the caller's descriptors claimed, host directories.
    let (mut claimed, passed) = supervisor::claim(spec)?;
    // 3. the sandbox's own terminal; --die-with-parent.
    let (master, terminal, caller) = supervisor::terminal(spec)?;
    // 4. the plan: host facts, session, seccomp programs, and last the cgroup.
    let plan = supervisor::plan(spec, passed, terminal, &mut claimed)?;
    // 5. error pipe, signals blocked, namespaces joined, clone: the child goes on in `child`.
    let started = supervisor::start(spec, plan, claimed, child)?;
    if spec.start_gate.is_some() {
        // OCI create: the supervisor leaves once the command waits at the gate.
        return supervisor::detach(spec, started);
    }
    // After: status records, supervise until the end, reports.
    supervisor::finish(spec, started, (master, caller)).map(|code| (code, None))
}

/// The child, in its new namespaces; then init, or the command (exec.rs). Never returns.
fn child(
    spec: &Spec,
    mut plan: Plan,
    claimed: fds::Claimed,
    err_w: OwnedFd,
    alive: Option<OwnedFd>,
) -> ! {
    let net = plan.net.take();
    let e = match setup(spec, &plan.host, claimed, alive, net) {
        // 11-14. the command's last steps, then execve.
        Ok(Role::Command { keep, host_proc }) => {
            exec::exec(spec, &plan, &keep, host_proc, err_w.as_fd())
        }
        Ok(Role::Init { command, locks }) => {
            // The command holds its own copies of the error pipe and the terminal.
            drop(err_w);
            plan.terminal = None;
            let _held = locks;
            init::run(command)
        }
        Err(e) => e,
    };
    channel::send_error(err_w.as_fd(), &e);
    // Without running the supervisor's exit handlers in this copy.
    sys::exit_now(1)
}

/// Build the sandbox, in order. Returns which process this is once the root is entered.
fn setup(
    spec: &Spec,
    host: &exec::Host,
    mut claimed: fds::Claimed,
    alive: Option<OwnedFd>,
    net: Option<OwnedFd>,
) -> Result<Role, SetupError> {
    // 6. --die-with-parent armed; uid/gid maps (or --userns-block-fd); --block-fd.
    child::ids(spec, host, &mut claimed, alive.as_ref())?;
    // 7-8. nesting limit, private mounts, sources opened, root built, pivot_root.
    let host_proc = child::root(spec, host, &mut claimed)?;
    // 9. loopback, hostname, lock files, --userns2, nested user namespace, id switch.
    let locks = child::inside(spec, &mut claimed, host_proc.as_ref(), alive)?;
    // 9b. with an allowlist, its listeners in the new network namespace, handed to the
    // supervisor. Before capabilities go: ports below 1024 need CAP_NET_BIND_SERVICE, the
    // resolver's address on `lo` CAP_NET_ADMIN (both held here, in the namespace's owner).
    if let Some(sock) = net {
        step(spec, "network listeners", || {
            net::send(&sock, &net::listen(spec)?)
        })?;
    }
    // 10. with a PID namespace: fork; init drops its capabilities.
    child::role(spec, host, claimed.sync, locks, host_proc)
}

/// A failed call of the phase code itself (supervisor.rs, child.rs); each step with a module
/// of its own has its own error type there.
#[derive(Debug)]
enum PhaseError {
    /// `step` failed on `path` ("" for none).
    Call {
        step: &'static str,
        path: String,
        errno: nix::errno::Errno,
    },
    /// --die-with-parent: the supervisor's parent died while the sandbox ran.
    ParentDied,
}

impl PhaseError {
    fn call(step: &'static str, path: impl Into<String>) -> impl FnOnce(nix::errno::Errno) -> Self {
        let path = path.into();
        move |errno| PhaseError::Call { step, path, errno }
    }
}

impl std::fmt::Display for PhaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PhaseError::Call { errno, .. } => f.write_str(errno.desc()),
            PhaseError::ParentDied => f.write_str("sbox's parent died"),
        }
    }
}

impl crate::error::StepError for PhaseError {
    fn step(&self) -> std::borrow::Cow<'_, str> {
        match self {
            PhaseError::Call { step, .. } => (*step).into(),
            PhaseError::ParentDied => "--die-with-parent".into(),
        }
    }

    fn path(&self) -> std::borrow::Cow<'_, str> {
        match self {
            PhaseError::Call { path, .. } => path.as_str().into(),
            PhaseError::ParentDied => "".into(),
        }
    }
}

/// A failed system call of the OCI runtime's steps (start gate, console socket, pid files),
/// worded from its errno.
pub(crate) fn errno_error(
    step: impl Into<String>,
    path: impl Into<String>,
    e: nix::errno::Errno,
) -> SetupError {
    SetupError::new(step, path, crate::error::errno_why(e))
}

/// A `-v` line (crate::output writes it in a single write: the supervisor and the sandbox
/// report at the same time).
fn say(line: &str) {
    crate::output::verbose(line);
}

/// `-v`: run one setup step and say how long it took.
fn step<T>(spec: &Spec, name: &str, f: impl FnOnce() -> T) -> T {
    if !spec.verbose {
        return f();
    }
    let t = std::time::Instant::now();
    let r = f();
    say(&format!(
        "{name}: {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3
    ));
    r
}
