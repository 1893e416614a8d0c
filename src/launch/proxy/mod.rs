//! The supervisor's side of the allowlist (--net-allow): one thread, started after the clone,
//! serves the listeners the child made inside the sandbox's network namespace (launch/net.rs)
//! from the host's network, in an epoll loop:
//! - DNS: allowed names get an address of 127.1.0.0/16 of their own (kept for the run), so
//!   that a connection to it, taken by a port listener, maps back to the name; AAAA and other
//!   types get an empty answer (resolvers then use IPv4), other names NXDOMAIN;
//! - the proxy port: HTTP CONNECT, plain HTTP with an absolute URI, and SOCKS5 (the first
//!   byte tells them apart);
//! - the port listeners: the address connected to (getsockname) gives the destination.
//!
//! Each destination is checked (spec::net) by the name asked for, then by the addresses it
//! resolves to, then dialled from the host without blocking, and bytes are relayed with
//! splice(2) through a pipe per direction: no copy, and no memory of sbox's own — a side that
//! does not read stops the other side being read (its kernel buffers fill, TCP pushes back).
//! Names are resolved by up to four threads (getaddrinfo blocks). The supervisor's main thread
//! keeps its signalfd loop: a thread of its own here leaves that loop (and the terminal relay)
//! as they are. Ending the sandbox ends sbox, which closes every socket with it.

pub mod wire;

use super::net::{Kind, Listener};
use crate::spec::net::{NetPolicy, Refusal};
use nix::errno::Errno;
use std::collections::{HashMap, HashSet};
#[cfg(test)]
use std::net::TcpListener;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use wire::{Bad, Parse, Target, socks_reply as rep};

/// What the proxy did, for -v and the --json-status-fd exit record.
#[derive(Default)]
pub struct Stats {
    /// Connections relayed.
    pub connections: AtomicU64,
    /// Connections (and names asked of DNS) refused by the policy.
    pub refused: AtomicU64,
    /// `--net-record`: each destination relayed, as an allow rule (`name:port` as the client
    /// asked, and `address:port` too when that is a special address, which needs its own).
    pub used: Mutex<std::collections::BTreeSet<String>>,
}

impl Stats {
    /// The exit record's member value.
    pub fn json(&self) -> String {
        format!(
            "{{\"connections\": {}, \"refused\": {}}}",
            self.connections.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed)
        )
    }
}

/// Serve `listeners` in a thread of their own, by `policy`.
pub fn start(policy: &NetPolicy, verbose: bool, listeners: Vec<Listener>) -> Arc<Stats> {
    let stats = Arc::new(Stats::default());
    let policy = policy.clone();
    let s = stats.clone();
    let spawned = std::thread::Builder::new()
        .name("sbox-net".into())
        .stack_size(256 << 10)
        .spawn(move || match Proxy::new(policy, verbose, s, listeners) {
            Ok(mut p) => p.run(),
            Err(e) => crate::output::failure(&format!("network: {e}")),
        });
    if let Err(e) = spawned {
        crate::output::failure(&format!("network: cannot start the proxy: {e}"));
    }
    stats
}

// ------------------------------------------------------------------------------------------

const WAKE: u64 = 1 << 20;
/// A direction that has moved this much is a bulk transfer,
const BULK: usize = 8 << 20;
/// and gets a pipe this large.
const BULK_PIPE: libc::c_int = 1 << 20;
const CONN: u64 = 1 << 21;
const HANDSHAKE_TIME: Duration = Duration::from_secs(30);
const CONNECT_TIME: Duration = Duration::from_secs(10);
/// Addresses given to names, 127.1.0.1 and up.
const NAME_BASE: u32 = u32::from_be_bytes([127, 1, 0, 0]);
const MAX_NAMES: u32 = 0xffff;

struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> std::io::Result<Epoll> {
        // SAFETY: plain epoll_create1; the descriptor is owned right away.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fresh descriptor.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: ev is a valid epoll_event; a failure (fd closed already) changes nothing.
        unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut ev) };
    }

    fn add(&self, fd: RawFd, events: u32, token: u64) {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    fn wait(&self, evs: &mut [libc::epoll_event], ms: i32) -> usize {
        // SAFETY: evs is writable for its length.
        let n =
            unsafe { libc::epoll_wait(self.0.as_raw_fd(), evs.as_mut_ptr(), evs.len() as i32, ms) };
        n.max(0) as usize
    }
}

const EDGE: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// How a connection arrived.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    /// On the proxy port, protocol not known yet.
    Proxy,
    Socks,
    Http,
    /// A plain HTTP request forwarded (its head rewritten).
    Plain,
    /// A port listener.
    Port,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// SOCKS5 greeting or HTTP head expected.
    Greeting,
    /// SOCKS5 request expected.
    Request,
    Resolving,
    Connecting,
    Relay,
}

/// One direction of a relay: a pipe that spliced bytes cross.
struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
    pending: usize,
    eof: bool,
    shut: bool,
    /// Bytes moved so far: a bulk transfer gets a larger pipe (fewer calls per byte), once.
    moved: usize,
}

impl Pipe {
    fn new() -> Result<Pipe, Errno> {
        let (r, w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
        Ok(Pipe {
            r,
            w,
            pending: 0,
            eof: false,
            shut: false,
            moved: 0,
        })
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> Result<usize, Errno> {
    let flags = libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MOVE;
    // SAFETY: plain splice(2) between two descriptors we own, no offsets.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            flags,
        )
    };
    Errno::result(n).map(|n| n as usize)
}

/// Move what can be moved from `src` to `dst`; on end of input, once all is out, shut the
/// writing side of `dst` (a half-close passes on). Errors are the connection's end.
fn pump(src: RawFd, dst: RawFd, p: &mut Pipe) -> Result<(), Errno> {
    loop {
        let mut moved = false;
        if !p.eof {
            match splice(src, p.w.as_raw_fd(), 1 << 20) {
                Ok(0) => p.eof = true,
                Ok(n) => {
                    p.pending += n;
                    moved = true;
                }
                Err(Errno::EAGAIN) => {}
                Err(e) => return Err(e),
            }
        }
        if p.pending > 0 {
            match splice(p.r.as_raw_fd(), dst, p.pending) {
                Ok(n) => {
                    p.pending -= n;
                    moved |= n > 0;
                    p.moved += n;
                    if p.moved >= BULK && p.moved - n < BULK {
                        // Only for bulk: pipe capacity counts against the user's pipe pages
                        // (pipe-user-pages-soft), which 200 large pipes would exhaust.
                        // SAFETY: F_SETPIPE_SZ on a pipe we own; a refusal leaves it as is.
                        unsafe { libc::fcntl(p.w.as_raw_fd(), libc::F_SETPIPE_SZ, BULK_PIPE) };
                    }
                }
                Err(Errno::EAGAIN) => {}
                Err(e) => return Err(e),
            }
        }
        if !moved {
            break;
        }
    }
    if p.eof && p.pending == 0 && !p.shut {
        p.shut = true;
        // SAFETY: shutdown(2) on a socket we own.
        unsafe { libc::shutdown(dst, libc::SHUT_WR) };
    }
    Ok(())
}

struct Conn {
    serial: u64,
    client: TcpStream,
    upstream: Option<TcpStream>,
    via: Via,
    state: State,
    /// Bytes read from the client during the handshake.
    buf: Vec<u8>,
    /// Bytes for upstream before the relay: a rewritten HTTP head, data sent early.
    prefix: Vec<u8>,
    /// `HOST:PORT` as asked, for messages.
    shown: String,
    port: u16,
    /// Addresses left to try.
    addrs: Vec<SocketAddr>,
    deadline: Instant,
    pipes: Option<(Pipe, Pipe)>,
}

/// Why a connection could not be made, after the policy let it through.
#[derive(Clone, Copy)]
enum Failure {
    Refused,
    Unreachable,
    TimedOut,
}

struct Job {
    idx: usize,
    serial: u64,
    name: String,
    port: u16,
}

type Answer = (usize, u64, std::io::Result<Vec<IpAddr>>);

/// Name resolution off the event loop: getaddrinfo blocks.
struct Resolver {
    jobs: mpsc::Sender<Job>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    done: Arc<Mutex<Vec<Answer>>>,
    wake: Arc<OwnedFd>,
    idle: Arc<AtomicUsize>,
    workers: usize,
}

impl Resolver {
    fn new() -> std::io::Result<Resolver> {
        // SAFETY: plain eventfd(2); the descriptor is owned right away.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let (jobs, queue) = mpsc::channel();
        Ok(Resolver {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            done: Arc::default(),
            // SAFETY: fresh descriptor.
            wake: Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }),
            idle: Arc::default(),
            workers: 0,
        })
    }

    fn ask(&mut self, job: Job) {
        if self.idle.load(Ordering::Acquire) == 0 && self.workers < 4 {
            let (queue, done, wake, idle) = (
                self.queue.clone(),
                self.done.clone(),
                self.wake.clone(),
                self.idle.clone(),
            );
            let spawned = std::thread::Builder::new()
                .name("sbox-resolve".into())
                .stack_size(256 << 10)
                .spawn(move || resolve_jobs(&queue, &done, &wake, &idle));
            self.workers += spawned.is_ok() as usize;
        }
        let _ = self.jobs.send(job);
    }

    fn take(&self) -> Vec<Answer> {
        let mut b = [0u8; 8];
        // SAFETY: reads the eventfd's counter into b.
        unsafe { libc::read(self.wake.as_raw_fd(), b.as_mut_ptr().cast(), 8) };
        std::mem::take(&mut *self.done.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The addresses of the host's interfaces.
fn host_addresses() -> Vec<IpAddr> {
    nix::ifaddrs::getifaddrs()
        .map(|it| {
            it.filter_map(|i| i.address)
                .filter_map(|a| {
                    a.as_sockaddr_in()
                        .map(|s| IpAddr::V4(s.ip()))
                        .or_else(|| a.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn resolve_jobs(
    queue: &Mutex<mpsc::Receiver<Job>>,
    done: &Mutex<Vec<Answer>>,
    wake: &OwnedFd,
    idle: &AtomicUsize,
) {
    use std::net::ToSocketAddrs;
    // getaddrinfo in a static sbox: only the resolvers built into libc.
    crate::nss::builtin_only();
    loop {
        idle.fetch_add(1, Ordering::AcqRel);
        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        idle.fetch_sub(1, Ordering::AcqRel);
        let Ok(job) = job else { return };
        let r = (job.name.as_str(), job.port)
            .to_socket_addrs()
            .map(|a| a.map(|s| s.ip()).collect());
        done.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((job.idx, job.serial, r));
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes to the eventfd.
        unsafe { libc::write(wake.as_raw_fd(), one.as_ptr().cast(), 8) };
    }
}

struct Proxy {
    policy: NetPolicy,
    verbose: bool,
    stats: Arc<Stats>,
    epoll: Epoll,
    listeners: Vec<(Kind, OwnedFd)>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    serial: u64,
    names: HashMap<String, Ipv4Addr>,
    by_addr: HashMap<Ipv4Addr, String>,
    /// The host's own addresses: refused unless named by a rule (read at the first name
    /// resolved, not at every start).
    own: Option<Vec<IpAddr>>,
    resolver: Resolver,
    /// Names DNS refused, said once each.
    refused_names: HashSet<String>,
    /// Accepting stopped: out of descriptors until a connection ends.
    paused: bool,
}

impl Proxy {
    fn new(
        policy: NetPolicy,
        verbose: bool,
        stats: Arc<Stats>,
        listeners: Vec<Listener>,
    ) -> std::io::Result<Proxy> {
        // Room for two sockets and two pipes per connection.
        let _ = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map(
            |(_, hard)| {
                nix::sys::resource::setrlimit(
                    nix::sys::resource::Resource::RLIMIT_NOFILE,
                    hard.min(1 << 16),
                    hard,
                )
            },
        );
        let epoll = Epoll::new()?;
        let resolver = Resolver::new()?;
        epoll.add(resolver.wake.as_raw_fd(), libc::EPOLLIN as u32, WAKE);
        let listeners: Vec<(Kind, OwnedFd)> =
            listeners.into_iter().map(|l| (l.kind, l.fd)).collect();
        for (i, (_, fd)) in listeners.iter().enumerate() {
            // SAFETY: O_NONBLOCK on a socket we own.
            unsafe {
                let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
                libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
            epoll.add(fd.as_raw_fd(), libc::EPOLLIN as u32, i as u64);
        }
        Ok(Proxy {
            policy,
            verbose,
            stats,
            epoll,
            listeners,
            conns: Vec::new(),
            free: Vec::new(),
            serial: 0,
            names: HashMap::new(),
            by_addr: HashMap::new(),
            own: None,
            resolver,
            refused_names: HashSet::new(),
            paused: false,
        })
    }

    fn run(&mut self) {
        let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut last_scan = Instant::now();
        loop {
            let n = self.epoll.wait(&mut evs, 1000);
            for ev in &evs[..n] {
                let token = ev.u64;
                if token == WAKE {
                    for (idx, serial, r) in self.resolver.take() {
                        self.resolved(idx, serial, r);
                    }
                } else if token >= CONN {
                    let idx = ((token - CONN) >> 1) as usize;
                    self.drive(idx, token & 1 == 1, ev.events);
                } else {
                    self.ready(token as usize);
                }
            }
            if last_scan.elapsed() >= Duration::from_secs(1) {
                last_scan = Instant::now();
                self.expire();
            }
        }
    }

    // -- listeners ---------------------------------------------------------------------------

    fn ready(&mut self, i: usize) {
        let Some((kind, fd)) = self.listeners.get(i) else {
            return;
        };
        let (kind, raw) = (*kind, fd.as_raw_fd());
        if kind == Kind::Dns {
            return self.dns(raw);
        }
        for _ in 0..64 {
            // SAFETY: accept4 on a listening socket we own; the new descriptor is owned below.
            let fd = unsafe {
                libc::accept4(
                    raw,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                let e = Errno::last();
                if matches!(e, Errno::EMFILE | Errno::ENFILE) {
                    self.pause(true);
                }
                return;
            }
            // SAFETY: a fresh descriptor from accept4.
            let client = TcpStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
            self.accepted(kind, client);
        }
    }

    fn pause(&mut self, on: bool) {
        if self.paused == on {
            return;
        }
        self.paused = on;
        for (i, (kind, fd)) in self.listeners.iter().enumerate() {
            if *kind != Kind::Dns {
                let ev = if on { 0 } else { libc::EPOLLIN as u32 };
                self.epoll
                    .ctl(libc::EPOLL_CTL_MOD, fd.as_raw_fd(), ev, i as u64);
            }
        }
    }

    fn accepted(&mut self, kind: Kind, client: TcpStream) {
        let _ = client.set_nodelay(true);
        self.serial += 1;
        let idx = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        let local = client.local_addr().ok();
        self.epoll
            .add(client.as_raw_fd(), EDGE, CONN + (idx as u64) * 2);
        self.conns[idx] = Some(Conn {
            serial: self.serial,
            client,
            upstream: None,
            via: if kind == Kind::Proxy {
                Via::Proxy
            } else {
                Via::Port
            },
            state: State::Greeting,
            buf: Vec::new(),
            prefix: Vec::new(),
            shown: String::new(),
            port: 0,
            addrs: Vec::new(),
            deadline: Instant::now() + HANDSHAKE_TIME,
            pipes: None,
        });
        if kind == Kind::Port {
            // The address connected to is the destination: a name's (from DNS), or itself.
            match local {
                Some(a) => self.route(idx, Target::Addr(a.ip()), a.port()),
                None => self.close(idx, true),
            }
        }
    }

    // -- DNS ---------------------------------------------------------------------------------

    fn dns(&mut self, raw: RawFd) {
        // SAFETY: borrowed for this call; ManuallyDrop keeps the listener's descriptor open.
        let sock = std::mem::ManuallyDrop::new(unsafe { UdpSocket::from_raw_fd(raw) });
        let mut buf = [0u8; 1500];
        for _ in 0..64 {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                return;
            };
            let m = &buf[..n];
            let reply = match wire::dns_query(m) {
                Err(None) => continue,
                Err(Some((id, flags, rc))) => wire::dns_error(id, flags, rc),
                Ok(q) => {
                    let allowed = q.name.as_deref().filter(|n| self.policy.resolves(n));
                    match allowed {
                        Some(name) if q.wants_a() => match self.address_for(name) {
                            Some(a) => wire::dns_answer(m, &q, wire::NOERROR, Some(a)),
                            None => wire::dns_answer(m, &q, wire::REFUSED, None),
                        },
                        Some(_) => wire::dns_answer(m, &q, wire::NOERROR, None),
                        None => {
                            let name = q
                                .name
                                .clone()
                                .unwrap_or_else(|| "(a name with other characters)".into());
                            if self.refused_names.len() < 1024
                                && self.refused_names.insert(name.clone())
                            {
                                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                                refused_line(&format!("refused {name} (not in the allowlist)"));
                            }
                            wire::dns_answer(m, &q, wire::NXDOMAIN, None)
                        }
                    }
                }
            };
            let _ = sock.send_to(&reply, from);
        }
    }

    /// The address DNS gives `name`: the same for the whole run.
    fn address_for(&mut self, name: &str) -> Option<Ipv4Addr> {
        if let Some(a) = self.names.get(name) {
            return Some(*a);
        }
        let n = self.names.len() as u32 + 1;
        if n > MAX_NAMES {
            return None;
        }
        let a = Ipv4Addr::from(NAME_BASE + n);
        self.names.insert(name.to_string(), a);
        self.by_addr.insert(a, name.to_string());
        Some(a)
    }

    // -- connections -------------------------------------------------------------------------

    fn conn(&mut self, idx: usize) -> Option<&mut Conn> {
        self.conns.get_mut(idx).and_then(Option::as_mut)
    }

    /// An event on a connection's client (`upstream` false) or upstream side.
    fn drive(&mut self, idx: usize, upstream: bool, events: u32) {
        let Some(c) = self.conn(idx) else { return };
        match c.state {
            State::Greeting | State::Request if !upstream => self.handshake(idx),
            State::Connecting if upstream => self.connected(idx),
            State::Relay => {
                // Only the direction the event concerns: reading from the side that has
                // data, writing to the side that has room (an error: both, to see it).
                let (input, output) = (
                    events & !(libc::EPOLLOUT as u32) != 0,
                    events & (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0,
                );
                let (to_up, to_client) = if upstream {
                    (output, input)
                } else {
                    (input, output)
                };
                self.relay(idx, to_up, to_client)
            }
            _ => {}
        }
    }

    fn handshake(&mut self, idx: usize) {
        let Some(c) = self.conn(idx) else { return };
        let mut chunk = [0u8; 4096];
        loop {
            match std::io::Read::read(&mut c.client, &mut chunk) {
                Ok(0) => return self.close(idx, false),
                Ok(n) => {
                    c.buf.extend(&chunk[..n]);
                    if c.buf.len() > wire::MAX_HEAD + 4096 {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return self.close(idx, true),
            }
        }
        if c.via == Via::Proxy && !c.buf.is_empty() {
            c.via = if c.buf[0] == 5 { Via::Socks } else { Via::Http };
        }
        match c.via {
            Via::Socks => self.socks(idx),
            Via::Http => self.http(idx),
            _ => {}
        }
    }

    fn socks(&mut self, idx: usize) {
        let Some(c) = self.conn(idx) else { return };
        if c.state == State::Greeting {
            match wire::socks_greeting(&c.buf) {
                Parse::Need => return,
                Parse::Done(true, n) => {
                    c.buf.drain(..n);
                    c.state = State::Request;
                    if !write_all(&c.client, &[5, 0]) {
                        return self.close(idx, true);
                    }
                }
                Parse::Done(false, _) => {
                    write_all(&c.client, &[5, 0xff]);
                    return self.close(idx, false);
                }
                Parse::Bad(_) => return self.close(idx, true),
            }
        }
        match wire::socks_request(&c.buf) {
            Parse::Need => {}
            Parse::Done((target, port), n) => {
                c.prefix = c.buf.split_off(n);
                c.buf = Vec::new();
                self.route(idx, target, port);
            }
            Parse::Bad(why) => {
                let code = match why {
                    Bad::Command => rep::COMMAND,
                    Bad::AddressType => rep::ADDRESS_TYPE,
                    _ => rep::FAILURE,
                };
                write_all(&c.client, &wire::socks_reply(code));
                self.close(idx, false);
            }
        }
    }

    fn http(&mut self, idx: usize) {
        let Some(c) = self.conn(idx) else { return };
        match wire::http_request(&c.buf) {
            Parse::Need => {}
            Parse::Done(req, n) => {
                let rest = c.buf.split_off(n);
                c.buf = Vec::new();
                c.prefix = match req.upstream_head {
                    Some(mut head) => {
                        c.via = Via::Plain;
                        head.extend(rest);
                        head
                    }
                    None => rest,
                };
                self.route(idx, req.target, req.port);
            }
            Parse::Bad(why) => {
                let (code, reason, body) = match why {
                    Bad::TooLong => (431, "Request Header Fields Too Large", ""),
                    Bad::Scheme => (
                        400,
                        "Bad Request",
                        "sbox: an https:// URI goes through CONNECT\n",
                    ),
                    _ => (400, "Bad Request", "sbox: not a proxy request\n"),
                };
                write_all(&c.client, &wire::http_status(code, reason, body));
                self.close(idx, false);
            }
        }
    }

    /// The policy's first word, on the destination as asked.
    fn route(&mut self, idx: usize, target: Target, port: u16) {
        // An address DNS gave out is its name.
        let target = match target {
            Target::Addr(IpAddr::V4(a)) if self.by_addr.contains_key(&a) => {
                Target::Name(self.by_addr[&a].clone())
            }
            t => t,
        };
        let verdict = match &target {
            Target::Name(n) => self.policy.check_name(n, port),
            // Recording: a public address given by the client is checked as a resolved one
            // (special ranges and this host's own addresses refused unless named).
            Target::Addr(a) if self.policy.record.is_some() => {
                let own = self.own.get_or_insert_with(host_addresses);
                self.policy.check_resolved(*a, port, own)
            }
            Target::Addr(a) => self.policy.check_literal(*a, port),
        };
        let Some(c) = self.conn(idx) else { return };
        c.shown = format!("{target}:{port}");
        c.port = port;
        if let Err(r) = verdict {
            return self.refuse(idx, &r);
        }
        match target {
            Target::Name(name) => {
                c.state = State::Resolving;
                c.deadline = Instant::now() + CONNECT_TIME;
                let serial = c.serial;
                self.resolver.ask(Job {
                    idx,
                    serial,
                    name,
                    port,
                });
            }
            Target::Addr(a) => {
                c.addrs = vec![SocketAddr::new(a, port)];
                self.dial(idx);
            }
        }
    }

    fn resolved(&mut self, idx: usize, serial: u64, r: std::io::Result<Vec<IpAddr>>) {
        let own = self.own.get_or_insert_with(host_addresses);
        let policy = &self.policy;
        let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        if c.serial != serial || c.state != State::Resolving {
            return;
        }
        let addrs = match r {
            Ok(a) => a,
            Err(e) => {
                if self.verbose {
                    let line = format!("{}: cannot resolve: {e}", c.shown);
                    say(&line);
                }
                return self.fail(idx, Failure::Unreachable);
            }
        };
        let mut first_refusal = None;
        let mut ok: Vec<SocketAddr> = Vec::new();
        for a in addrs {
            match policy.check_resolved(a, c.port, own) {
                Ok(()) => {
                    let s = SocketAddr::new(crate::spec::net::canonical(a), c.port);
                    if !ok.contains(&s) {
                        ok.push(s);
                    }
                }
                Err(r) => {
                    first_refusal.get_or_insert(r);
                }
            }
        }
        if ok.is_empty() {
            return match first_refusal {
                Some(r) => self.refuse(idx, &r),
                None => self.fail(idx, Failure::Unreachable),
            };
        }
        // IPv4 first: the host may have no IPv6 route.
        ok.sort_by_key(|a| a.is_ipv6());
        c.addrs = ok;
        self.dial(idx);
    }

    /// Connect to the next address left, without blocking.
    fn dial(&mut self, idx: usize) {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6};
        let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        c.upstream = None;
        if c.addrs.is_empty() {
            return self.fail(idx, Failure::Refused);
        }
        let a = c.addrs.remove(0);
        let family = match a {
            SocketAddr::V4(_) => AddressFamily::Inet,
            SocketAddr::V6(_) => AddressFamily::Inet6,
        };
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        let Ok(fd) = nix::sys::socket::socket(family, SockType::Stream, flags, None) else {
            return self.fail(idx, Failure::Unreachable);
        };
        let r = match a {
            SocketAddr::V4(v) => nix::sys::socket::connect(fd.as_raw_fd(), &SockaddrIn::from(v)),
            SocketAddr::V6(v) => nix::sys::socket::connect(fd.as_raw_fd(), &SockaddrIn6::from(v)),
        };
        match r {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(_) => return self.dial(idx),
        }
        let s = TcpStream::from(fd);
        let _ = s.set_nodelay(true);
        self.epoll
            .add(s.as_raw_fd(), EDGE, CONN + (idx as u64) * 2 + 1);
        c.upstream = Some(s);
        c.state = State::Connecting;
        c.deadline = Instant::now() + CONNECT_TIME;
    }

    fn connected(&mut self, idx: usize) {
        let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        let Some(up) = &c.upstream else { return };
        match up.take_error() {
            Ok(None) => {}
            _ => return self.dial(idx),
        }
        // Still in progress (a spurious wakeup): no peer yet.
        if up.peer_addr().is_err() {
            return;
        }
        let reply: &[u8] = match c.via {
            Via::Socks => &wire::socks_reply(rep::OK),
            Via::Http => wire::HTTP_ESTABLISHED,
            _ => &[],
        };
        if !write_all(&c.client, reply) {
            return self.close(idx, true);
        }
        match Pipe::new().and_then(|a| Pipe::new().map(|b| (a, b))) {
            Ok(p) => c.pipes = Some(p),
            Err(_) => {
                self.pause(true);
                return self.close(idx, true);
            }
        }
        c.state = State::Relay;
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        if self.policy.record.is_some()
            && let Ok(mut used) = self.stats.used.lock()
        {
            used.insert(c.shown.to_ascii_lowercase());
            if let Ok(peer) = up.peer_addr()
                && crate::spec::net::special(peer.ip()).is_some()
            {
                let a = crate::spec::net::canonical(peer.ip());
                used.insert(match a {
                    IpAddr::V6(v6) => format!("[{v6}]:{}", peer.port()),
                    v4 => format!("{v4}:{}", peer.port()),
                });
            }
        }
        if self.verbose {
            let peer = up.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let line = format!("{} connected (to {peer})", c.shown);
            say(&line);
        }
        self.relay(idx, true, true);
    }

    /// Move bytes client to upstream (`up`), upstream to client (`down`).
    fn relay(&mut self, idx: usize, up_dir: bool, down: bool) {
        let Some(c) = self.conn(idx) else { return };
        let (Some(up), Some((to_up, to_client))) = (&c.upstream, &mut c.pipes) else {
            return;
        };
        let (cfd, ufd) = (c.client.as_raw_fd(), up.as_raw_fd());
        if !c.prefix.is_empty() {
            match nix::unistd::write(up, &c.prefix) {
                Ok(n) => {
                    c.prefix.drain(..n);
                }
                Err(Errno::EAGAIN) => {}
                Err(_) => return self.close(idx, true),
            }
        }
        let r = if c.prefix.is_empty() && up_dir {
            pump(cfd, ufd, to_up)
        } else {
            Ok(())
        }
        .and_then(|()| match down {
            true => pump(ufd, cfd, to_client),
            false => Ok(()),
        });
        let done = to_up.shut && to_client.shut;
        match r {
            Err(_) => self.close(idx, true),
            Ok(()) if done => self.close(idx, false),
            Ok(()) => {}
        }
    }

    /// Refused by the policy: one line, and the client's protocol's refusal.
    fn refuse(&mut self, idx: usize, why: &Refusal) {
        let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        let line = format!("refused {} ({why})", c.shown);
        match c.via {
            Via::Socks => {
                write_all(&c.client, &wire::socks_reply(rep::NOT_ALLOWED));
            }
            Via::Http | Via::Plain => {
                let body = format!("sbox: network: {line}\n");
                write_all(&c.client, &wire::http_status(403, "Forbidden", &body));
            }
            _ => {}
        }
        let reset = c.via == Via::Port;
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        refused_line(&line);
        self.close(idx, reset);
    }

    /// The destination could not be reached: the client sees it refused, reset or timed out.
    fn fail(&mut self, idx: usize, f: Failure) {
        let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        match c.via {
            Via::Socks => {
                let code = match f {
                    Failure::Refused => rep::REFUSED,
                    Failure::Unreachable => rep::HOST_UNREACHABLE,
                    Failure::TimedOut => rep::TIMED_OUT,
                };
                write_all(&c.client, &wire::socks_reply(code));
            }
            Via::Http | Via::Plain => {
                let (code, reason) = match f {
                    Failure::TimedOut => (504, "Gateway Timeout"),
                    _ => (502, "Bad Gateway"),
                };
                let why = match f {
                    Failure::Refused => "connection refused",
                    Failure::Unreachable => "unreachable",
                    Failure::TimedOut => "timed out",
                };
                let body = format!("sbox: network: {}: {why}\n", c.shown);
                write_all(&c.client, &wire::http_status(code, reason, &body));
            }
            _ => {}
        }
        if self.verbose {
            let line = format!("{}: could not connect", c.shown);
            say(&line);
        }
        let reset = c.via == Via::Port;
        self.close(idx, reset);
    }

    /// Close both sides; `reset`: the client sees a reset rather than an end.
    fn close(&mut self, idx: usize, reset: bool) {
        let Some(c) = self.conns.get_mut(idx).and_then(Option::take) else {
            return;
        };
        if reset {
            let l = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: SO_LINGER with a valid linger struct on a socket we own.
            unsafe {
                libc::setsockopt(
                    c.client.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&l as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as u32,
                )
            };
        }
        // Closing the descriptors removes them from the epoll set.
        drop(c);
        self.free.push(idx);
        self.pause(false);
    }

    /// Handshakes and connections that take too long end.
    fn expire(&mut self) {
        let now = Instant::now();
        for idx in 0..self.conns.len() {
            let Some(c) = self.conn(idx) else { continue };
            if c.state == State::Relay || c.deadline > now {
                continue;
            }
            match c.state {
                State::Greeting | State::Request => self.close(idx, true),
                _ => self.fail(idx, Failure::TimedOut),
            }
        }
    }
}

/// A -v line.
fn say(line: &str) {
    super::say(&format!("network: {line}"));
}

/// A refusal: said without -v (nothing of sbox failed), one line.
fn refused_line(line: &str) {
    crate::output::notice(&format!("network: {line}"));
}

/// A short reply on a fresh connection: all of it, or false.
fn write_all(s: &TcpStream, b: &[u8]) -> bool {
    b.is_empty() || matches!(std::io::Write::write(&mut &*s, b), Ok(n) if n == b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_relays_and_passes_a_half_close_on() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (d, _) = l.accept().unwrap();
        // a -> [b => c] -> d
        b.set_nonblocking(true).unwrap();
        c.set_nonblocking(true).unwrap();
        let mut p = Pipe::new().unwrap();
        std::io::Write::write_all(&mut &a, b"hello").unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        let mut out = Vec::new();
        for _ in 0..100 {
            pump(b.as_raw_fd(), c.as_raw_fd(), &mut p).unwrap();
            if p.shut {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(p.shut);
        std::io::Read::read_to_end(&mut &d, &mut out).unwrap();
        assert_eq!(out, b"hello");
    }
}
