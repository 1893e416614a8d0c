//! Signals: the supervisor and init both block the forwarded signals and SIGCHLD, read them
//! from a signalfd, pass the forwarded ones on to the whole sandbox, and reap on SIGCHLD.

use crate::error::StepError;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::WaitStatus;

/// Passed on to the sandbox (bubblewrap forwards none of them).
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// A signal mask or signalfd call failed.
#[derive(Debug)]
pub struct SignalsError(pub Errno);

impl std::fmt::Display for SignalsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.desc())
    }
}

impl StepError for SignalsError {
    fn step(&self) -> std::borrow::Cow<'_, str> {
        "signals".into()
    }
}

fn watched() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Block the watched signals; they stay pending until read from a signalfd.
pub fn block() -> Result<(), SignalsError> {
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&watched()), None).map_err(SignalsError)
}

/// Undo `block` and restore default dispositions before exec (Rust ignores SIGPIPE).
pub fn reset_for_exec() {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // SAFETY: restoring the default disposition installs no handler.
    unsafe {
        let _ = nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl);
    }
}

pub fn signalfd() -> Result<SignalFd, SignalsError> {
    SignalFd::with_flags(&watched(), SfdFlags::SFD_CLOEXEC).map_err(SignalsError)
}

/// The supervisor's while it relays a terminal: SIGWINCH and SIGCONT too (after the clone,
/// so the sandbox keeps their defaults; a blocked SIGCONT still continues the process).
pub fn signalfd_for_terminal() -> Result<SignalFd, SignalsError> {
    let mut set = watched();
    set.add(Signal::SIGWINCH);
    set.add(Signal::SIGCONT);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(SignalsError)?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).map_err(SignalsError)
}

/// Whether a signal the supervisor received should be passed on. A terminal's signals (sent
/// by the kernel to the whole foreground process group) already reached the command when it
/// runs in the caller's process group (only under the `bwrap` link without --new-session);
/// passing them on would deliver them twice.
pub fn should_forward(code: i32, own_group: bool) -> bool {
    code != libc::SI_KERNEL || own_group
}

/// Whether init passes a signal on: only what was sent from outside the PID namespace (the
/// supervisor forwarding, or another host process; the sender's pid is 0 there). A signal
/// from inside to pid 1 is ignored, as by bubblewrap's init; a terminal's signal (SI_KERNEL)
/// also reached the supervisor, which forwards it once.
pub fn init_forwards(info: &libc::signalfd_siginfo) -> bool {
    info.ssi_pid == 0 && info.ssi_code != libc::SI_KERNEL
}

/// End this process by `sig`, as its default action would (under the `bwrap` link with
/// --die-with-parent: bubblewrap dies of the signal and the sandbox goes with it).
pub fn die_of(sig: Signal) -> ! {
    // SAFETY: restoring the default disposition installs no handler; then the signal, now
    // unblocked, ends the process before raise returns.
    unsafe {
        let _ = nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl);
        let mut set = SigSet::empty();
        set.add(sig);
        let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
        libc::raise(sig as i32);
        libc::_exit(128 + sig as i32)
    }
}

/// The shell convention for an exit status: the code, or 128 + the signal.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}
