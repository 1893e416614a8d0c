//! The connection the systemd client talks over: libdbus's own, or, in a user namespace where
//! this process's uid is not the one the bus sees, a socket of sbox's own. libdbus always
//! authenticates as geteuid(), and the bus compares that with the uid it sees on the socket:
//! podman runs its OCI runtime as uid 0 in a user namespace of the user's, so systemd and
//! dbus-daemon refuse libdbus there. sbox's socket sends EXTERNAL with no identity ("whoever
//! the socket says I am"), as sd-bus does. Messages are built and read by libdbus either way.

use dbus::Message;
use dbus::channel::Channel;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

pub const CONNECT: &str = "cannot connect to the user D-Bus";
pub const REFUSED: &str = "the user D-Bus refused the connection";
/// How long the authentication may take (the server answers at once or not at all).
const AUTH_TIMEOUT: Duration = Duration::from_secs(5);

pub enum Conn {
    Lib(Channel),
    Own(Own),
}

/// Open a connection to `address`; `shared` (a bus daemon) registers on it (Hello). The error
/// carries what failed ([`CONNECT`] or [`REFUSED`]).
pub fn open(address: &str, shared: bool) -> Result<Conn, (&'static str, dbus::Error)> {
    if let Some(path) = address
        .strip_prefix("unix:path=")
        .filter(|_| remapped_uid())
    {
        let path = path.split(',').next().unwrap_or(path);
        let own = Own::connect(path).map_err(|e| (CONNECT, failed(&e)))?;
        if shared {
            let hello = Message::new_method_call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "Hello",
            )
            .map_err(|e| (REFUSED, dbus::Error::new_failed(&e)))?;
            own.send_with_reply_and_block(hello, AUTH_TIMEOUT)
                .map_err(|e| (REFUSED, e))?;
        }
        return Ok(Conn::Own(own));
    }
    let mut ch = Channel::open_private(address).map_err(|e| (CONNECT, e))?;
    if shared {
        ch.register().map_err(|e| (REFUSED, e))?;
    }
    Ok(Conn::Lib(ch))
}

/// Is this process's effective uid another number outside its user namespace (or none)?
/// Read only on the way to the bus; outside any user namespace the map is the identity.
fn remapped_uid() -> bool {
    let Ok(map) = std::fs::read_to_string("/proc/self/uid_map") else {
        return false;
    };
    let uid = u64::from(nix::unistd::geteuid().as_raw());
    outside(&map, uid) != Some(uid)
}

/// `uid` as the parent user namespace knows it, by the map (a uid_map's text).
fn outside(map: &str, uid: u64) -> Option<u64> {
    map.lines().find_map(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        (f.len() == 3 && (f[0]..f[0].saturating_add(f[2])).contains(&uid))
            .then(|| f[1] + (uid - f[0]))
    })
}

fn failed(e: &io::Error) -> dbus::Error {
    dbus::Error::new_failed(&e.to_string())
}

impl Conn {
    pub fn send(&self, m: Message) -> Result<u32, ()> {
        match self {
            Conn::Lib(c) => c.send(m),
            Conn::Own(o) => o.send(m),
        }
    }

    pub fn send_with_reply_and_block(
        &self,
        m: Message,
        timeout: Duration,
    ) -> Result<Message, dbus::Error> {
        match self {
            Conn::Lib(c) => c.send_with_reply_and_block(m, timeout),
            Conn::Own(o) => o.send_with_reply_and_block(m, timeout),
        }
    }

    pub fn blocking_pop_message(&self, timeout: Duration) -> Result<Option<Message>, dbus::Error> {
        match self {
            Conn::Lib(c) => c.blocking_pop_message(timeout),
            Conn::Own(o) => match o.queue.borrow_mut().pop_front() {
                Some(m) => Ok(Some(m)),
                None => o.read(timeout),
            },
        }
    }
}

/// sbox's own connection: one socket, messages in order, those read while waiting for a
/// reply kept for [`Conn::blocking_pop_message`].
pub struct Own {
    sock: UnixStream,
    serial: Cell<u32>,
    queue: RefCell<VecDeque<Message>>,
}

impl Own {
    fn connect(path: &str) -> io::Result<Own> {
        let sock = UnixStream::connect(path)?;
        sock.set_read_timeout(Some(AUTH_TIMEOUT))?;
        let mut own = Own {
            sock,
            serial: Cell::new(0),
            queue: RefCell::new(VecDeque::new()),
        };
        own.sock.write_all(b"\0AUTH EXTERNAL\r\n")?;
        let mut answer = own.line()?;
        if answer == "DATA" {
            own.sock.write_all(b"DATA\r\n")?;
            answer = own.line()?;
        }
        if !answer.starts_with("OK ") {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("EXTERNAL authentication answered {answer:?}"),
            ));
        }
        own.sock.write_all(b"BEGIN\r\n")?;
        Ok(own)
    }

    /// One line of the authentication exchange, without its CR LF (read byte by byte: nothing
    /// past it may be consumed).
    fn line(&mut self) -> io::Result<String> {
        let mut l = Vec::new();
        let mut b = [0u8; 1];
        while !l.ends_with(b"\r\n") {
            if l.len() > 512 || self.sock.read(&mut b)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the bus closed the connection while authenticating",
                ));
            }
            l.push(b[0]);
        }
        l.truncate(l.len() - 2);
        Ok(String::from_utf8_lossy(&l).into_owned())
    }

    fn send(&self, mut m: Message) -> Result<u32, ()> {
        let serial = self.serial.get() + 1;
        self.serial.set(serial);
        m.set_serial(serial);
        m.marshal(|d| (&self.sock).write_all(d)).map_err(drop)?;
        Ok(serial)
    }

    fn send_with_reply_and_block(
        &self,
        m: Message,
        timeout: Duration,
    ) -> Result<Message, dbus::Error> {
        let serial = self
            .send(m)
            .map_err(|()| dbus::Error::new_failed("the connection is closed"))?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(dbus::Error::new_custom(
                    "org.freedesktop.DBus.Error.NoReply",
                    "no reply in time",
                ));
            }
            let Some(mut r) = self.read(left)? else {
                continue;
            };
            if r.get_reply_serial() != Some(serial) {
                self.queue.borrow_mut().push_back(r);
                continue;
            }
            r.as_result()?;
            return Ok(r);
        }
    }

    /// The next message from the socket; None when none began within `timeout`.
    fn read(&self, timeout: Duration) -> Result<Option<Message>, dbus::Error> {
        let lost = |e: io::Error| dbus::Error::new_failed(&format!("lost the connection: {e}"));
        let mut s = &self.sock;
        s.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(lost)?;
        let mut buf = vec![0u8; 16];
        let mut got = 0;
        while got < buf.len() {
            match s.read(&mut buf[got..]) {
                Ok(0) => return Err(lost(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => got += n,
                Err(e) if got == 0 && e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(lost(e)),
            }
        }
        let need = Message::demarshal_bytes_needed(&buf)
            .map_err(|()| dbus::Error::new_failed("the bus sent a malformed message"))?;
        buf.resize(need, 0);
        s.set_read_timeout(Some(AUTH_TIMEOUT)).map_err(lost)?;
        s.read_exact(&mut buf[16..]).map_err(lost)?;
        Message::demarshal(&buf).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn outside_reads_the_map() {
        let init = "         0          0 4294967295\n";
        assert_eq!(outside(init, 1000), Some(1000));
        // podman's: 0 is the user, 1.. the subordinate range.
        let podman = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(outside(podman, 0), Some(1000));
        assert_eq!(outside(podman, 1000), Some(100999));
        assert_eq!(outside(podman, 70000), None);
    }

    /// The exchange sd-bus and dbus-daemon expect from a client with no identity to claim,
    /// then a call answered in order with a signal before its reply.
    #[test]
    fn own_connection_authenticates_without_an_identity_and_calls() {
        let dir = std::env::temp_dir().join(format!("sbox-bus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut b = [0u8; 1];
            while !seen.ends_with(b"AUTH EXTERNAL\r\n") {
                s.read_exact(&mut b).unwrap();
                seen.push(b[0]);
            }
            assert_eq!(seen, b"\0AUTH EXTERNAL\r\n");
            s.write_all(b"DATA\r\n").unwrap();
            let mut l = [0u8; 6];
            s.read_exact(&mut l).unwrap();
            assert_eq!(&l, b"DATA\r\n");
            s.write_all(b"OK 0123456789abcdef0123456789abcdef\r\n")
                .unwrap();
            let mut l = [0u8; 7];
            s.read_exact(&mut l).unwrap();
            assert_eq!(&l, b"BEGIN\r\n");
            let mut buf = vec![0u8; 16];
            s.read_exact(&mut buf).unwrap();
            let n = Message::demarshal_bytes_needed(&buf).unwrap();
            buf.resize(n, 0);
            s.read_exact(&mut buf[16..]).unwrap();
            let call = Message::demarshal(&buf).unwrap();
            assert_eq!(call.member().as_deref(), Some("Ping"));
            let mut sig = Message::new_signal("/a", "x.y", "Sig").unwrap();
            sig.set_serial(1);
            let mut ret = Message::new_method_return(&call).unwrap().append1("pong");
            ret.set_serial(2);
            for m in [sig, ret] {
                m.marshal(|d| s.write_all(d)).unwrap();
            }
            // Open until the client is done.
            let _ = s.read(&mut b);
        });
        let own = Own::connect(path.to_str().unwrap()).unwrap();
        let conn = Conn::Own(own);
        let m = Message::new_method_call("x.y", "/a", "x.y", "Ping").unwrap();
        let r = conn
            .send_with_reply_and_block(m, Duration::from_secs(5))
            .unwrap();
        assert_eq!(r.read1::<&str>().unwrap(), "pong");
        // The signal that came first is still there to be read.
        let sig = conn.blocking_pop_message(Duration::from_secs(1)).unwrap();
        assert_eq!(sig.unwrap().member().as_deref(), Some("Sig"));
        assert!(
            conn.blocking_pop_message(Duration::from_millis(10))
                .unwrap()
                .is_none()
        );
        drop(conn);
        server.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
