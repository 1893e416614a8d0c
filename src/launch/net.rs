//! The network namespace: only loopback, brought up.

use crate::error::{SetupError, StepError, errno_why, io_why};
use nix::errno::Errno;
use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What failed in the sandbox's network namespace; worded here, `StepError` gives its option
/// and the interface or address concerned.
#[derive(Debug)]
pub enum NetError {
    /// `lo` could not be brought up (--unshare-net).
    LoopbackUp(std::io::Error),
    /// The socket pair the listeners travel through.
    Socketpair(Errno),
    /// A listener of the allowlist that could not be bound.
    Bind(Bound, std::io::Error),
    /// The resolver's address (as `lo:N`) could not be given to `lo`.
    ResolverAddress(Ipv4Addr, std::io::Error),
    /// The listeners could not be handed to the supervisor.
    Send(Errno),
}

/// Where a listener is bound.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// An allowed port, on 0.0.0.0.
    Port(u16),
    /// The proxy, on 127.0.0.1.
    Proxy,
    /// DNS, port 53 of a resolver's address.
    Dns(IpAddr),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::LoopbackUp(e) => write!(f, "bring up: {e}"),
            NetError::Socketpair(e) | NetError::Send(e) => f.write_str(errno_why(*e)),
            NetError::Bind(_, e) => f.write_str(&io_why(e)),
            NetError::ResolverAddress(_, e) => {
                write!(f, "add the resolver's address: {}", io_why(e))
            }
        }
    }
}

impl StepError for NetError {
    fn step(&self) -> Cow<'_, str> {
        match self {
            NetError::LoopbackUp(_) => "--unshare-net",
            _ => "--net-allow",
        }
        .into()
    }

    fn path(&self) -> Cow<'_, str> {
        match self {
            NetError::LoopbackUp(_) => "lo".into(),
            NetError::Socketpair(_) => "socketpair".into(),
            NetError::Bind(Bound::Port(port), _) => format!("0.0.0.0:{port}").into(),
            NetError::Bind(Bound::Proxy, _) => "127.0.0.1".into(),
            NetError::Bind(Bound::Dns(a), _) => format!("{a} port 53").into(),
            NetError::ResolverAddress(a, _) => format!("lo {a}").into(),
            NetError::Send(_) => "pass the listeners".into(),
        }
    }
}

pub fn loopback_up() -> Result<(), SetupError> {
    let fail = |e: std::io::Error| SetupError::from(NetError::LoopbackUp(e));
    // SAFETY: plain socket(2) call; the descriptor is owned right away.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    // SAFETY: raw is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads an ifreq, which we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// The allowlist's sockets (--net-allow). The child makes them inside the sandbox's network
// namespace before exec and hands them to the supervisor, which serves them from the host's
// network (launch/proxy): they exist before the command starts, so its first connection
// can't race a proxy that is still starting.

/// What one listener handed over is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// HTTP CONNECT, plain HTTP and SOCKS5, on 127.0.0.1 (port chosen by the kernel).
    Proxy,
    /// DNS over UDP, port 53, on each address the root's resolv.conf names (and 127.0.0.1).
    Dns,
    /// TCP on 0.0.0.0:PORT for an allowed port, for programs that ignore proxy variables.
    Port,
}

pub struct Listener {
    pub kind: Kind,
    pub fd: OwnedFd,
}

/// The proxy's port inside, for the proxy variables: set by the child in `listen`, read by
/// the command (the same process, or init's fork of it) when its environment is made.
static PROXY_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// The socket pair the listeners travel through (made before the clone, only with rules).
/// (the supervisor's end, the child's end).
pub fn channel() -> Result<(Option<OwnedFd>, Option<OwnedFd>), SetupError> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map(|(a, b)| (Some(a), Some(b)))
    .map_err(|e| NetError::Socketpair(e).into())
}

fn fail(at: Bound) -> impl FnOnce(std::io::Error) -> SetupError {
    move |e| NetError::Bind(at, e).into()
}

/// In the child, loopback up: every listener of the policy.
pub fn listen(spec: &crate::spec::Spec) -> Result<Vec<Listener>, SetupError> {
    use std::net::{Ipv4Addr, TcpListener, UdpSocket};
    let mut out = Vec::new();
    // The allowed ports first: the proxy's port, chosen by the kernel, then avoids them.
    for port in spec.net.ports() {
        let l =
            TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).map_err(fail(Bound::Port(port)))?;
        out.push(Listener {
            kind: Kind::Port,
            fd: l.into(),
        });
    }
    let proxy = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(fail(Bound::Proxy))?;
    let port = proxy.local_addr().map_err(fail(Bound::Proxy))?.port();
    PROXY_PORT.store(port, std::sync::atomic::Ordering::Relaxed);
    out.push(Listener {
        kind: Kind::Proxy,
        fd: proxy.into(),
    });
    // DNS is answered where the root's resolv.conf sends it, whatever that file is (a
    // symlink into /run, a copy, nothing): the address it names is added to `lo` when it is
    // not a loopback one already. Mounting a generated resolv.conf instead would have to
    // replace a file that may be a dangling symlink or sit on a read-only bind of the host.
    // Without a resolv.conf resolvers use 127.0.0.1, always answered.
    let mut addrs = vec![std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)];
    for a in nameservers(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()) {
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    }
    for (i, a) in addrs.iter().enumerate() {
        let s = match a {
            std::net::IpAddr::V4(v4) if v4.is_unspecified() => continue,
            std::net::IpAddr::V4(v4) => {
                if !v4.is_loopback() {
                    add_address(i, *v4)?;
                }
                UdpSocket::bind((*a, 53)).map_err(fail(Bound::Dns(*a)))?
            }
            // IPv6: ::1 when the kernel has IPv6 (resolvers go on to the next server); an
            // address of another link can't be given to `lo`.
            std::net::IpAddr::V6(v6) if v6.is_loopback() => match UdpSocket::bind((*a, 53)) {
                Ok(s) => s,
                Err(_) => continue,
            },
            std::net::IpAddr::V6(_) => continue,
        };
        out.push(Listener {
            kind: Kind::Dns,
            fd: s.into(),
        });
    }
    Ok(out)
}

/// The `nameserver` addresses of a resolv.conf.
fn nameservers(text: &str) -> Vec<std::net::IpAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse().ok())
        .collect()
}

/// Give `lo` the address `a` too (as the alias lo:N, host route only).
fn add_address(n: usize, a: std::net::Ipv4Addr) -> Result<(), SetupError> {
    let err = |e: std::io::Error| SetupError::from(NetError::ResolverAddress(a, e));
    // SAFETY: plain socket(2) call; the descriptor is owned right away.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    // SAFETY: raw is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    for (req, addr) in [
        (libc::SIOCSIFADDR, a),
        (libc::SIOCSIFNETMASK, std::net::Ipv4Addr::BROADCAST),
    ] {
        // SAFETY: ifreq is plain data; all-zero is a valid value.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in ifr.ifr_name.iter_mut().zip(format!("lo:{n}\0").bytes()) {
            *d = s as libc::c_char;
        }
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(addr).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: sockaddr_in fits in the ifreq's sockaddr union member.
        unsafe {
            std::ptr::write(
                &mut ifr.ifr_ifru.ifru_addr as *mut libc::sockaddr as *mut libc::sockaddr_in,
                sin,
            )
        };
        // SAFETY: both requests read an ifreq, which we pass.
        if unsafe { libc::ioctl(sock.as_raw_fd(), req, &ifr) } < 0 {
            return Err(err(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Hand the listeners to the supervisor: one message, a kind byte per descriptor.
pub fn send(sock: &OwnedFd, listeners: &[Listener]) -> Result<(), SetupError> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let kinds: Vec<u8> = listeners.iter().map(|l| l.kind as u8).collect();
    let fds: Vec<i32> = listeners.iter().map(|l| l.fd.as_raw_fd()).collect();
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[std::io::IoSlice::new(&kinds)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map(drop)
    .map_err(|e| NetError::Send(e).into())
}

/// In the supervisor: the listeners, or `None` when the child ended before sending them
/// (its error comes through the error pipe).
pub fn receive(sock: OwnedFd) -> Option<Vec<Listener>> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut kinds = [0u8; 256];
    let mut space = nix::cmsg_space!([i32; 256]);
    let mut iov = [std::io::IoSliceMut::new(&mut kinds)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    let n = msg.bytes;
    let mut fds = Vec::new();
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(v) = c {
            // SAFETY: received descriptors are new in this process and owned by nobody else.
            fds.extend(v.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    let out: Vec<Listener> = kinds[..n]
        .iter()
        .zip(fds)
        .map(|(k, fd)| Listener {
            kind: match k {
                0 => Kind::Proxy,
                1 => Kind::Dns,
                _ => Kind::Port,
            },
            fd,
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// The proxy's port inside (0 before `listen`).
pub fn proxy_port() -> u16 {
    PROXY_PORT.load(std::sync::atomic::Ordering::Relaxed)
}

/// The proxy variables, in the command's environment (after the spec's edits: they win).
/// NO_PROXY is set empty: inside, nothing but sbox reaches beyond the sandbox's own
/// loopback, and a caller's NO_PROXY (private names, 10.0.0.0/8 ...) would only make those
/// connections fail instead of being checked against the allowlist.
pub fn set_proxy_env() {
    let port = proxy_port();
    let http = format!("http://127.0.0.1:{port}");
    let socks = format!("socks5h://127.0.0.1:{port}");
    for (k, v) in [
        ("HTTP_PROXY", &http),
        ("HTTPS_PROXY", &http),
        ("ALL_PROXY", &socks),
        ("NO_PROXY", &String::new()),
    ] {
        // SAFETY: the command's process is single-threaded; nothing reads the environment
        // concurrently.
        unsafe {
            std::env::set_var(k, v);
            std::env::set_var(k.to_ascii_lowercase(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each failure names its option and address as the lines always did.
    #[test]
    fn net_errors_are_worded_here() {
        let line = |e: NetError| {
            let e = SetupError::from(e);
            format!("{}: {}: {}", e.step, e.path, e.why)
        };
        let refused = || std::io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(
            line(NetError::Bind(Bound::Port(8080), refused())),
            "--net-allow: 0.0.0.0:8080: Address already in use"
        );
        assert_eq!(
            line(NetError::Bind(
                Bound::Dns("10.0.0.53".parse().unwrap()),
                refused()
            )),
            "--net-allow: 10.0.0.53 port 53: Address already in use"
        );
        assert_eq!(
            line(NetError::ResolverAddress(
                Ipv4Addr::new(10, 0, 0, 53),
                refused()
            )),
            "--net-allow: lo 10.0.0.53: add the resolver's address: Address already in use"
        );
        assert_eq!(
            line(NetError::LoopbackUp(std::io::Error::from_raw_os_error(
                libc::EPERM
            ))),
            "--unshare-net: lo: bring up: Operation not permitted (os error 1)"
        );
        assert_eq!(
            line(NetError::Send(Errno::EPIPE)),
            "--net-allow: pass the listeners: Broken pipe"
        );
    }

    #[test]
    fn nameservers_of_a_resolv_conf() {
        let text = "# comment\nsearch example.org\nnameserver 10.255.255.53\n  nameserver ::1\nnameserver bogus\noptions edns0\n";
        let got: Vec<String> = super::nameservers(text)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(got, ["10.255.255.53", "::1"]);
    }
}
