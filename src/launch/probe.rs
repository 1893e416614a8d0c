//! What `sbox --doctor` tries: the steps `run` takes, made the same way in a throwaway child,
//! and the kernel features those steps rely on. Nothing here changes the host.

use super::{landlock, mounts, userns};
use nix::errno::Errno;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, pipe};
use std::io::{Read, Write};

/// The Landlock ABI version of this kernel, 0 without Landlock.
pub fn landlock_abi() -> i32 {
    landlock::kernel_abi()
}

/// In a new user and mount namespace: our ids mapped, mounts made private, then the staging
/// tmpfs and an overlay in it, as the launch builds them. Runs in a forked child, so the
/// namespaces go with it. The error names the step that failed (`overlay: ...` when only
/// the overlay did).
pub fn namespaces() -> Result<(), String> {
    in_child(|| {
        use nix::sched::{CloneFlags, unshare};
        let ids = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
            .map_err(|e| format!("unshare: {}", e.desc()))?;
        userns::write_maps(ids, ids).map_err(|e| e.to_string())?;
        mounts::make_private().map_err(|e| e.to_string())?;
        mounts::probe()
    })
}

/// This process's seccomp mode: 0 unfiltered, above 0 already under a filter, below 0
/// unknown (no seccomp).
pub fn seccomp_mode() -> i32 {
    // SAFETY: PR_GET_SECCOMP takes no pointer.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) }
}

/// The optional system calls that programs inside use when present, with the Linux release
/// that added them, and whether this kernel has them. Each is called with arguments it
/// refuses, so only ENOSYS means missing.
pub fn optional_syscalls() -> [(&'static str, &'static str, bool); 2] {
    let has = |nr: libc::c_long| {
        // SAFETY: a null/invalid argument makes the call fail before it does anything.
        let rc = unsafe { libc::syscall(nr, 0usize, u32::MAX) };
        !(rc < 0 && Errno::last() == Errno::ENOSYS)
    };
    [
        ("clone3", "5.3", has(libc::SYS_clone3)),
        ("pidfd_open", "5.3", has(libc::SYS_pidfd_open)),
    ]
}

/// Runs `probe` in a forked child (namespaces entered there are gone with it); its error
/// comes back over a pipe.
fn in_child(probe: fn() -> Result<(), String>) -> Result<(), String> {
    let (rd, wr) = pipe().map_err(|e| format!("pipe: {}", e.desc()))?;
    // SAFETY: sbox is single-threaded here.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(rd);
            let code = match probe() {
                Ok(()) => 0,
                Err(e) => {
                    let _ = std::fs::File::from(wr).write_all(e.as_bytes());
                    1
                }
            };
            // SAFETY: leave at once, without the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(wr);
            let mut msg = String::new();
            let _ = std::fs::File::from(rd).read_to_string(&mut msg);
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, 0)) => Ok(()),
                _ if !msg.is_empty() => Err(msg),
                st => Err(format!("probe: {st:?}")),
            }
        }
        Err(e) => Err(format!("fork: {}", e.desc())),
    }
}
