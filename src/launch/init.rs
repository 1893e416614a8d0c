//! pid 1 of the sandbox's PID namespace: reaps orphans, passes signals from outside on to every
//! other process of the namespace, and exits with the command's status (which ends everything
//! else in the namespace).

use super::signals;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

pub fn run(command: Pid) -> ! {
    let Ok(sfd) = signals::signalfd() else {
        // Without a signalfd we can still reap, just not forward.
        loop {
            match waitpid(None, None) {
                Ok(st) if st.pid() == Some(command) => finish(st),
                Err(Errno::ECHILD) => unsafe { libc::_exit(1) },
                _ => {}
            }
        }
    };
    loop {
        let Ok(Some(info)) = sfd.read_signal() else {
            continue;
        };
        let sig = info.ssi_signo as i32;
        if sig == libc::SIGCHLD {
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) => break,
                    Ok(st) if st.pid() == Some(command) => finish(st),
                    Ok(_) => {}
                    Err(Errno::EINTR) => {}
                    Err(_) => break,
                }
            }
        } else if signals::init_forwards(&info)
            && let Ok(s) = Signal::try_from(sig)
        {
            // Every process but init itself, as a terminal's Ctrl-C reaches a whole
            // foreground group: a shell waiting for its child would ignore it alone.
            let _ = kill(Pid::from_raw(-1), s);
        }
    }
}

fn finish(status: WaitStatus) -> ! {
    let code = signals::exit_code(status).unwrap_or(1);
    // SAFETY: _exit ends this process at once, which is all init has left to do.
    unsafe { libc::_exit(code) }
}
