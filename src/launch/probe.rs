//! What `sbox --doctor` tries: the steps `run` takes, made the same way in a throwaway child,
//! and the kernel features those steps rely on. Nothing here changes the host.

use super::{landlock, mounts, net, userns};
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

/// The network allowlist's steps, made by the launch code itself: in a new user and network
/// namespace, loopback up, then `net::listen` for a one-rule policy (the DNS responder on
/// port 53 of the resolvers' addresses, a privileged port allowed by the namespace's
/// capabilities; the proxy; a listener on port 443), sent over the socket pair with
/// SCM_RIGHTS and received back, as the supervisor does. The error names the step.
pub fn network() -> Result<(), String> {
    in_child(|| {
        use nix::sched::{CloneFlags, unshare};
        let ids = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("network namespace: {}", e.desc()))?;
        userns::write_maps(ids, ids).map_err(|e| e.to_string())?;
        net::loopback_up().map_err(|e| format!("loopback: {}", e.why))?;
        let mut spec = crate::spec::Spec::default();
        spec.ns.net = true;
        spec.net.allow.push(
            crate::spec::net::parse_rule("--net-allow", "doctor.invalid:443")
                .map_err(|e| e.to_string())?,
        );
        let listeners = net::listen(&spec).map_err(|e| format!("{}: {}", e.path, e.why))?;
        let (sup, child) = net::channel().map_err(|e| format!("{}: {}", e.path, e.why))?;
        let (Some(sup), Some(child)) = (sup, child) else {
            return Err("socketpair: none".into());
        };
        net::send(&child, &listeners).map_err(|e| format!("SCM_RIGHTS: {}", e.why))?;
        let got = net::receive(sup).map_or(0, |l| l.len());
        if got != listeners.len() {
            return Err(format!(
                "SCM_RIGHTS: {got} of {} descriptors arrived",
                listeners.len()
            ));
        }
        Ok(())
    })
}

/// The host's resolver answers: a query for the root's name servers (a name that is no
/// one's registry) to each `nameserver` of /etc/resolv.conf, 2 s each; any answer counts,
/// a refusal too (a resolver that answers only some names still answers). Returns the
/// server that answered.
pub fn host_dns() -> Result<String, String> {
    let conf = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| format!("/etc/resolv.conf: {e}"))?;
    let servers: Vec<std::net::IpAddr> = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().split('%').next()?.parse().ok())
        .collect();
    if servers.is_empty() {
        return Err("/etc/resolv.conf: no nameserver line".into());
    }
    // id 0x5b0c, recursion desired, one question: the root (empty name), type NS, class IN.
    let query = [
        0x5b, 0x0c, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1,
    ];
    let mut last = String::new();
    for s in &servers {
        let to = std::net::SocketAddr::new(*s, 53);
        let bind = if s.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
        let attempt = || -> std::io::Result<bool> {
            let sock = std::net::UdpSocket::bind(bind)?;
            sock.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
            sock.connect(to)?;
            sock.send(&query)?;
            let mut buf = [0u8; 512];
            let n = sock.recv(&mut buf)?;
            Ok(n >= 12 && buf[..2] == query[..2] && buf[2] & 0x80 != 0)
        };
        match attempt() {
            Ok(true) => return Ok(s.to_string()),
            Ok(false) => last = format!("{s}: not a DNS answer"),
            Err(e) => last = format!("{s}: {e}"),
        }
    }
    Err(last)
}
