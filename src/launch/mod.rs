//! The launch sequence: the only code that calls the kernel. `run` reads top to bottom in the
//! order the sandbox is built; each step lives in its own module.
//!
//! Processes: the supervisor (sbox itself, on the host) clones a child into the new
//! namespaces. With a PID namespace that child becomes init (pid 1) and forks the command;
//! otherwise (or with --as-pid-1) the child execs the command itself. A failure before exec
//! travels back to the supervisor over a close-on-exec pipe and is printed once there.

pub mod caps;
pub mod error;
pub mod exec;
pub mod init;
pub mod mounts;
pub mod net;
pub mod signals;
pub mod sys;
pub mod userns;

pub use error::SetupError;

use crate::spec::Spec;
use exec::Host;
use nix::fcntl::OFlag;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{ForkResult, Pid, fork, pipe2};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Start the sandbox and wait for it; returns the exit status sbox should exit with.
pub fn run(spec: &Spec) -> Result<i32, SetupError> {
    // Limits: the cgroup exists before clone, so the sandbox starts in its unlimited
    // supervisor leaf; only the command joins the limited payload leaf, just before exec.
    let limits = crate::cgroup::prepare(&spec.limits)?;
    let host = host_facts();
    let pipe = |what| pipe2(OFlag::O_CLOEXEC).map_err(|e| SetupError::errno(what, "", e));
    let (err_r, err_w) = pipe("error pipe")?;
    // With --die-with-parent the child checks that the supervisor still holds this pipe open,
    // closing the window before PR_SET_PDEATHSIG takes effect.
    let alive = if spec.die_with_parent {
        Some(pipe("--die-with-parent")?)
    } else {
        None
    };
    signals::block()?;

    let mut flags = userns::clone_flags(spec);
    if limits.is_some() {
        // The command unshares it after joining the payload leaf, which becomes its root.
        flags &= !libc::CLONE_NEWCGROUP;
    }
    let pid = sys::clone_fork(flags).map_err(userns::clone_error)?;
    if pid == 0 {
        drop(err_r);
        let alive_r = alive.map(|(r, w)| {
            drop(w);
            r
        });
        let payload = limits.as_ref().map(|s| s.payload_procs_fd());
        child(spec, &host, err_w, alive_r, payload)
    }
    drop(err_w);
    let status = supervise(spec, Pid::from_raw(pid), err_r);
    if let Some(session) = limits {
        let report = session.finish();
        if report.oom_killed() {
            eprintln!("sbox: {report}");
            return Ok(137);
        }
    }
    status
}

fn host_facts() -> Host {
    // SAFETY: umask(2) can only be read by setting it; it is set straight back.
    let umask = unsafe {
        let m = libc::umask(0);
        libc::umask(m);
        m
    };
    Host {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        cwd: std::env::current_dir().ok(),
        umask,
    }
}

/// The child, in its new namespaces. Never returns.
fn child(
    spec: &Spec,
    host: &Host,
    err_w: OwnedFd,
    alive: Option<OwnedFd>,
    payload: Option<BorrowedFd>,
) -> ! {
    let e = match setup(spec, host, err_w.as_fd(), alive) {
        Ok(Role::Command) => exec::exec(spec, host, payload),
        Ok(Role::Init(command)) => {
            // The command holds its own copy of the error pipe until it execs.
            drop(err_w);
            init::run(command, spec.new_session)
        }
        Err(e) => e,
    };
    let _ = std::fs::File::from(err_w).write_all(&e.encode());
    // SAFETY: leave at once, without running the supervisor's exit handlers in this copy.
    unsafe { libc::_exit(1) }
}

enum Role {
    Init(Pid),
    Command,
}

/// Build the sandbox, in order. Returns which process this is once the root is entered.
fn setup(
    spec: &Spec,
    host: &Host,
    err_w: std::os::fd::BorrowedFd,
    alive: Option<OwnedFd>,
) -> Result<Role, SetupError> {
    if let Some(alive) = alive {
        die_with_parent(alive)?;
    }
    let inner = (spec.uid.unwrap_or(host.uid), spec.gid.unwrap_or(host.gid));
    userns::write_maps(inner, (host.uid, host.gid))?;
    // Modes given on the command line are meant exactly.
    // SAFETY: umask(2) only sets this process's mask.
    unsafe { libc::umask(0) };
    mounts::make_private()?;
    let sources = mounts::open_sources(spec)?;
    let root = mounts::build(spec, sources)?;
    mounts::enter(root)?;
    if spec.ns.net {
        net::loopback_up()?;
    }
    if let Some(name) = &spec.hostname {
        nix::unistd::sethostname(name)
            .map_err(|e| SetupError::errno("--hostname", name.as_str(), e))?;
    }
    if !spec.ns.pid || spec.as_pid_1 {
        return Ok(Role::Command);
    }
    // SAFETY: this process is single-threaded.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => Ok(Role::Command),
        Ok(ForkResult::Parent { child }) => {
            let _ = err_w;
            caps::restrict_to(&[])?;
            caps::no_new_privs()?;
            Ok(Role::Init(child))
        }
        Err(e) => Err(SetupError::errno("init", "fork", e)),
    }
}

fn die_with_parent(alive: OwnedFd) -> Result<(), SetupError> {
    // SAFETY: plain prctl call.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } < 0 {
        return Err(SetupError::errno(
            "--die-with-parent",
            "",
            nix::errno::Errno::last(),
        ));
    }
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(alive.as_fd(), PollFlags::POLLIN)];
    if poll(&mut fds, PollTimeout::ZERO).unwrap_or(0) > 0 {
        // The supervisor is already gone.
        // SAFETY: leave at once.
        unsafe { libc::_exit(1) }
    }
    Ok(())
}

/// The supervisor: report a setup failure, or pass signals on and wait for the sandbox.
fn supervise(spec: &Spec, child: Pid, err_r: OwnedFd) -> Result<i32, SetupError> {
    let mut msg = Vec::new();
    let _ = std::fs::File::from(err_r).read_to_end(&mut msg);
    if !msg.is_empty() {
        let _ = waitpid(child, None);
        return Err(SetupError::decode(&msg));
    }
    let sfd = signals::signalfd()?;
    loop {
        let Ok(Some(info)) = sfd.read_signal() else {
            continue;
        };
        if info.ssi_signo as i32 == libc::SIGCHLD {
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(st) => {
                    if let Some(code) = signals::exit_code(st) {
                        return Ok(code);
                    }
                }
                Err(e) => return Err(SetupError::errno("wait", "", e)),
            }
        } else if signals::should_forward(info.ssi_code, spec.new_session)
            && let Ok(s) = nix::sys::signal::Signal::try_from(info.ssi_signo as i32)
        {
            let _ = nix::sys::signal::kill(child, s);
        }
    }
}
