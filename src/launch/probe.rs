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

/// The network allowlist's steps, as a sandbox takes them: in a new user and network
/// namespace, loopback up, a UDP socket bound to 127.0.0.1:53 (the DNS responder: a
/// privileged port, allowed by the namespace's capabilities), a TCP listener on loopback (the
/// proxy), and both passed over a unix SEQPACKET pair with SCM_RIGHTS (how they reach the
/// supervisor). The error names the step.
pub fn network() -> Result<(), String> {
    in_child(|| {
        use nix::sched::{CloneFlags, unshare};
        use nix::sys::socket::{
            AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
            recvmsg, sendmsg, socketpair,
        };
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;
        let ids = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("network namespace: {}", e.desc()))?;
        userns::write_maps(ids, ids).map_err(|e| e.to_string())?;
        super::net::loopback_up().map_err(|e| format!("loopback: {}", e.why))?;
        let dns = std::net::UdpSocket::bind("127.0.0.1:53")
            .map_err(|e| format!("bind 127.0.0.1:53 inside: {e}"))?;
        let proxy = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("listen on 127.0.0.1 inside: {e}"))?;
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| format!("socketpair: {}", e.desc()))?;
        let fds = [dns.as_raw_fd(), proxy.as_raw_fd()];
        sendmsg::<()>(
            a.as_raw_fd(),
            &[IoSlice::new(b"l")],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .map_err(|e| format!("SCM_RIGHTS send: {}", e.desc()))?;
        let mut buf = [0u8; 1];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 2]);
        let msg = recvmsg::<()>(
            b.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| format!("SCM_RIGHTS receive: {}", e.desc()))?;
        let mut got = 0;
        for c in msg
            .cmsgs()
            .map_err(|e| format!("SCM_RIGHTS: {}", e.desc()))?
        {
            if let ControlMessageOwned::ScmRights(r) = c {
                got += r.len();
                for fd in r {
                    // SAFETY: received just now, owned by nobody else.
                    drop(unsafe {
                        <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
                    });
                }
            }
        }
        if got != 2 {
            return Err(format!("SCM_RIGHTS: {got} of 2 descriptors arrived"));
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
