//! `sbox-runc run` without --detach: the runtime waits for the container it created (its
//! child), passing on the signals it gets (`signals::FORWARDED`, as sbox's supervisor does)
//! and, for a container with a terminal of its own, relaying that terminal to the caller's
//! stdio (`tty::Relay`, sbox's own relay), as runc does.

use super::{signals, tty};
use crate::error::SetupError;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use std::os::fd::{AsFd, OwnedFd};

/// The master of a container's terminal, received from it, its size already the caller's.
pub struct Console(tty::Master);

impl Console {
    /// A socket pair standing for a console socket: the runtime's end, then the container's
    /// (its `Spec.console_socket`).
    pub fn pair() -> Result<(OwnedFd, OwnedFd), SetupError> {
        tty::console_pair()
    }

    /// The master the container sent over the runtime's end, once `create` returned.
    pub fn receive(ours: &OwnedFd) -> Result<Console, SetupError> {
        let fd = tty::receive_console(ours)?;
        Ok(Console(tty::Master::console(fd)?))
    }
}

/// Wait for `pid`; its exit status as a shell gives it (128 + signal). With `console`, its
/// terminal is relayed meanwhile: the caller's terminal raw until it ends (restored on every
/// way out: `Relay`'s drop), its size passed on at SIGWINCH.
pub fn wait(pid: i32, console: Option<Console>) -> i32 {
    let child = Pid::from_raw(pid);
    let sfd = match console {
        Some(_) => signals::signalfd_for_terminal(),
        None => signals::signalfd(),
    };
    let Ok(sfd) = sfd else {
        // No signalfd (no descriptor left): wait without relaying or passing signals on.
        return match waitpid(child, None) {
            Ok(st) => signals::exit_code(st).unwrap_or(255),
            Err(_) => 255,
        };
    };
    let mut relay = console.map(|c| c.0.relay());
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(st) => {
                if let Some(code) = signals::exit_code(st) {
                    if let Some(r) = relay {
                        r.finish();
                    }
                    return code;
                }
            }
            Err(_) => return 255,
        }
        if let Some(r) = &mut relay {
            r.pump(sfd.as_fd());
        }
        let Ok(Some(info)) = sfd.read_signal() else {
            continue;
        };
        match info.ssi_signo as i32 {
            libc::SIGCHLD => {}
            libc::SIGWINCH => relay.iter().for_each(|r| r.resize()),
            libc::SIGCONT => relay.iter().for_each(|r| r.resume()),
            signo => {
                if let Ok(s) = nix::sys::signal::Signal::try_from(signo) {
                    // To the container's process, as runc does (its pid 1 gets only what it
                    // has a handler for).
                    let _ = nix::sys::signal::kill(child, s);
                }
            }
        }
    }
}
