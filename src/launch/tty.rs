//! A terminal of the sandbox's own (sbox's mode, when any of descriptors 0-2 is a terminal).
//! The command's terminal descriptors become the slave of a fresh pseudo-terminal, its
//! controlling terminal in a session of its own; the supervisor relays bytes between the
//! caller's terminal and the master, as ssh -t does. The caller's terminal is never in the
//! sandbox, so nothing inside can read it after sbox returns, take its foreground (tcsetpgrp)
//! or push input into it; Ctrl-C, Ctrl-Z and job control work through the slave's line
//! discipline.

use crate::error::StepError;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The sandbox's side: the slave, and which of 0, 1, 2 it replaces in the command.
pub struct Slave {
    pub fd: OwnedFd,
    pub ttys: [bool; 3],
}

/// The supervisor's side.
pub struct Master {
    fd: OwnedFd,
    /// The caller's side: its input (fd 0, if a terminal; or any fd 0 for a container's
    /// console), its output, and the terminal whose size the sandbox's follows.
    input: Option<RawFd>,
    output: RawFd,
    size_of: RawFd,
    /// At the end of an input that is no terminal, the sandbox's terminal gets its
    /// end-of-file character (a container's console relayed from a pipe).
    eof_at_end: bool,
}

/// The sandbox's terminal could not be made or attached.
#[derive(Debug)]
pub enum TtyError {
    /// Opening or setting up /dev/ptmx.
    Open(Errno),
    /// Making the slave the command's controlling terminal and its 0-2.
    Attach(Errno),
}

impl std::fmt::Display for TtyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TtyError::Open(e) => write!(
                f,
                "{} (the sandbox gets a pseudo-terminal of its own when 0-2 include a terminal: \
                 redirect them away from it)",
                e.desc()
            ),
            TtyError::Attach(e) => f.write_str(e.desc()),
        }
    }
}

impl StepError for TtyError {
    fn step(&self) -> std::borrow::Cow<'_, str> {
        "terminal".into()
    }

    fn path(&self) -> std::borrow::Cow<'_, str> {
        match self {
            TtyError::Open(_) => "/dev/ptmx".into(),
            TtyError::Attach(_) => "".into(),
        }
    }
}

fn fail(e: Errno) -> TtyError {
    TtyError::Open(e)
}

fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: 0, 1 and 2 stay open for the whole run (main keeps them open).
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// A pseudo-terminal pair set up like the caller's terminal, if any of 0-2 is one.
/// The terminal the command's stdout will be (the sandbox's own, else the caller's), if any:
/// `--dev` binds it as /dev/console, as bubblewrap does with the caller's.
pub fn console(own: Option<&Slave>) -> Option<std::path::PathBuf> {
    match own {
        Some(s) if s.ttys[1] => nix::unistd::ttyname(&s.fd).ok(),
        _ => {
            let stdout = std::io::stdout();
            nix::unistd::isatty(&stdout)
                .unwrap_or(false)
                .then(|| nix::unistd::ttyname(&stdout).ok())
                .flatten()
        }
    }
}

pub fn open() -> Result<Option<(Master, Slave)>, TtyError> {
    let ttys = [0, 1, 2].map(|fd| nix::unistd::isatty(borrow(fd)).unwrap_or(false));
    let Some(first) = (0..3).find(|&fd| ttys[fd as usize]) else {
        return Ok(None);
    };
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let master =
        nix::fcntl::open("/dev/ptmx", flags, nix::sys::stat::Mode::empty()).map_err(fail)?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int; TIOCGPTPEER opens the slave without a path lookup.
    let slave = unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) < 0 {
            return Err(fail(Errno::last()));
        }
        let fd = libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags.bits());
        if fd < 0 {
            return Err(fail(Errno::last()));
        }
        OwnedFd::from_raw_fd(fd)
    };
    // The command starts with the caller's modes and size. When sbox doesn't read the
    // caller's terminal (fd 0 is no terminal) that one stays as it is, not raw: it does the
    // output processing (\n to \r\n), so the slave must not do it too.
    if let Ok(mut t) = tcgetattr(borrow(first)) {
        if !ttys[0] {
            t.output_flags.remove(nix::sys::termios::OutputFlags::OPOST);
        }
        let _ = tcsetattr(&slave, SetArg::TCSANOW, &t);
    }
    let output = [1, 2, 0]
        .into_iter()
        .find(|&fd| ttys[fd as usize])
        .unwrap_or(first);
    let m = Master {
        fd: master,
        input: ttys[0].then_some(0),
        output,
        size_of: output,
        eof_at_end: false,
    };
    m.resize();
    nix::fcntl::fcntl(&m.fd, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(fail)?;
    Ok(Some((m, Slave { fd: slave, ttys })))
}

/// Whether sbox has a controlling terminal (which a command in its session could open as
/// /dev/tty). Anything but "no such device" counts as yes.
pub fn caller_has_one() -> bool {
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    nix::fcntl::open("/dev/tty", flags, nix::sys::stat::Mode::empty()).err() != Some(Errno::ENXIO)
}

/// In the command, before exec: a new session with the slave as controlling terminal, and
/// the slave in place of each terminal among 0-2 (the other descriptors stay as they are).
pub fn attach(slave: &Slave) -> Result<(), TtyError> {
    let fail = TtyError::Attach;
    nix::unistd::setsid().map_err(fail)?;
    // SAFETY: TIOCSCTTY takes an int argument (0: don't steal it from another session).
    if unsafe { libc::ioctl(slave.fd.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(fail(Errno::last()));
    }
    for fd in (0..3).filter(|&fd| slave.ttys[fd as usize]) {
        // SAFETY: dup2 onto a standard descriptor; its old terminal is closed there.
        if unsafe { libc::dup2(slave.fd.as_raw_fd(), fd) } < 0 {
            return Err(fail(Errno::last()));
        }
    }
    Ok(())
}

/// `sbox-runc --console-socket`: in the command, after pivot_root, a pseudo-terminal from the
/// sandbox's own devpts; its master goes to the engine over `sock` (one message, the slave's
/// name as payload, the master as SCM_RIGHTS); the slave becomes the controlling terminal
/// and descriptors 0-2.
pub fn to_console_socket(sock: RawFd) -> Result<(), crate::error::SetupError> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let fail = |what: &str, e: Errno| crate::launch::errno_error("--console-socket", what, e);
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let none = nix::sys::stat::Mode::empty();
    let master = nix::fcntl::open("/dev/pts/ptmx", flags, none)
        .or_else(|_| nix::fcntl::open("/dev/ptmx", flags, none))
        .map_err(|e| fail("/dev/pts/ptmx", e))?;
    let m = master.as_raw_fd();
    let mut n: libc::c_int = 0;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int, TIOCGPTN writes one; TIOCGPTPEER returns a new
    // descriptor that we own at once.
    let slave = unsafe {
        if libc::ioctl(m, libc::TIOCSPTLCK, &unlock) < 0
            || libc::ioctl(m, libc::TIOCGPTN, &mut n) < 0
        {
            return Err(fail("/dev/pts/ptmx", Errno::last()));
        }
        let fd = libc::ioctl(
            m,
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return Err(fail("/dev/pts", Errno::last()));
        }
        OwnedFd::from_raw_fd(fd)
    };
    let name = format!("/dev/pts/{n}");
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    let fds = [m];
    sendmsg::<()>(
        sock,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| fail("socket", e))?;
    drop(master);
    // SAFETY: the runtime connected this socket for this one message; nothing else owns it.
    drop(unsafe { OwnedFd::from_raw_fd(sock) });
    Ok(attach(&Slave {
        fd: slave,
        ttys: [true; 3],
    })?)
}

/// `sbox-runc run` of a container with a terminal: a socket pair standing for a console
/// socket, the runtime's end first; the other end is the container's `Spec.console_socket`.
pub fn console_pair() -> Result<(OwnedFd, OwnedFd), crate::error::SetupError> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| crate::launch::errno_error("terminal", "console socket", e))
}

/// The pseudo-terminal master the container sent over `sock` (`to_console_socket`), once
/// `create` returned: already queued, so this does not wait.
pub fn receive_console(sock: &OwnedFd) -> Result<OwnedFd, crate::error::SetupError> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let fail = |e| crate::launch::errno_error("terminal", "console socket", e);
    let mut name = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(fail)?;
    let mut got = None;
    for c in msg.cmsgs().map_err(fail)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: received just now (close-on-exec): owned here, and closed if extra.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                got.get_or_insert(fd);
            }
        }
    }
    got.ok_or_else(|| fail(Errno::ENOMSG))
}

impl Master {
    /// The master of a container's terminal (`receive_console`), relayed as runc does: the
    /// caller's 0 and 1 whatever they are (raw while it runs if 0 is a terminal), its size
    /// from the first terminal among 0-2.
    pub fn console(fd: OwnedFd) -> Result<Master, TtyError> {
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(fail)?;
        let tty = |n| nix::unistd::isatty(borrow(n)).unwrap_or(false);
        let m = Master {
            fd,
            input: Some(0),
            output: 1,
            size_of: (0..3).find(|&n| tty(n)).unwrap_or(1),
            eof_at_end: !tty(0),
        };
        m.resize();
        Ok(m)
    }

    /// SIGWINCH: the caller's terminal size to the sandbox's (the kernel signals its
    /// foreground group).
    pub fn resize(&self) {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ/TIOCSWINSZ read and write a struct winsize.
        unsafe {
            if libc::ioctl(self.size_of, libc::TIOCGWINSZ, &mut ws) == 0 {
                libc::ioctl(self.fd.as_raw_fd(), libc::TIOCSWINSZ, &ws);
            }
        }
    }

    /// Start relaying: the caller's terminal goes raw (its keys, Ctrl-C included, go to the
    /// sandbox's line discipline) until the `Relay` is dropped. In a background job this
    /// stops sbox (SIGTTOU), as it stops ssh, until it is brought to the foreground.
    pub fn relay(self) -> Relay {
        let saved = self.input.and_then(|fd| tcgetattr(borrow(fd)).ok());
        let relay = Relay {
            input_open: self.input.is_some(),
            line_open: false,
            output_open: true,
            pending: Vec::new(),
            master: self,
            saved,
        };
        relay.raw();
        relay
    }
}

/// The relay between the caller's terminal and the master. Dropping it restores the caller's
/// terminal modes: the one place that does, on every way out of the supervisor.
pub struct Relay {
    master: Master,
    saved: Option<Termios>,
    input_open: bool,
    /// The last byte read from the input ended no line.
    line_open: bool,
    output_open: bool,
    /// Typed bytes the master has not taken yet.
    pending: Vec<u8>,
}

impl Relay {
    pub fn resize(&self) {
        self.master.resize();
    }

    fn raw(&self) {
        if let (Some(saved), Some(fd)) = (&self.saved, self.master.input) {
            let mut raw = saved.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(borrow(fd), SetArg::TCSADRAIN, &raw);
        }
    }

    /// SIGCONT: sbox was stopped, and whoever had the terminal meanwhile may have set its
    /// modes and size: raw again, and the size passed on.
    pub fn resume(&self) {
        self.raw();
        self.resize();
    }

    /// Move bytes both ways until `signals` is readable.
    pub fn pump(&mut self, signals: BorrowedFd) {
        let mut buf = [0u8; 16384];
        let input = borrow(self.master.input.unwrap_or(0));
        loop {
            let m = self.master.fd.as_fd();
            let mut want = PollFlags::empty();
            if self.output_open {
                want |= PollFlags::POLLIN;
            }
            if !self.pending.is_empty() {
                want |= PollFlags::POLLOUT;
            }
            let reading = self.input_open && self.pending.is_empty();
            // A hung-up master is left out: poll would report it at once, again and again.
            let mut fds = vec![PollFd::new(signals, PollFlags::POLLIN)];
            if !want.is_empty() {
                fds.push(PollFd::new(m, want));
            }
            if reading {
                fds.push(PollFd::new(input, PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Err(Errno::EINTR) => continue,
                Err(_) => return,
                Ok(_) => {}
            }
            let ready: Vec<PollFlags> = fds
                .iter()
                .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                .collect();
            if !ready[0].is_empty() {
                // Signals first: a resize must reach the sandbox before the keys typed after it.
                return;
            }
            let master = if want.is_empty() {
                PollFlags::empty()
            } else {
                ready[1]
            };
            let typed = if reading {
                ready[ready.len() - 1]
            } else {
                PollFlags::empty()
            };
            if !typed.is_empty() {
                match nix::unistd::read(input, &mut buf) {
                    Ok(0) if self.master.eof_at_end => {
                        self.input_open = false;
                        let eof = end_of_input(m, self.line_open);
                        self.pending.extend_from_slice(&eof);
                    }
                    Ok(0) | Err(Errno::EIO) | Err(Errno::EBADF) => self.input_open = false,
                    Ok(n) => {
                        self.pending.extend_from_slice(&buf[..n]);
                        self.line_open = buf[n - 1] != b'\n';
                    }
                    Err(_) => {}
                }
            }
            if master.intersects(PollFlags::POLLOUT | PollFlags::POLLHUP | PollFlags::POLLERR)
                && !self.pending.is_empty()
            {
                match nix::unistd::write(m, &self.pending) {
                    Ok(n) => drop(self.pending.drain(..n)),
                    Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                    Err(_) => self.pending.clear(),
                }
            }
            if self.output_open
                && master.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            {
                self.output_open = self.copy_out(&mut buf);
            }
        }
    }

    /// What the master has now, to the caller's terminal; false once no slave is open.
    fn copy_out(&self, buf: &mut [u8]) -> bool {
        loop {
            match nix::unistd::read(&self.master.fd, buf) {
                Ok(0) | Err(Errno::EIO) => return false,
                Ok(n) => {
                    let _ = write_all(borrow(self.master.output), &buf[..n]);
                }
                Err(Errno::EINTR) => {}
                Err(_) => return true,
            }
        }
    }

    /// The sandbox ended: its last output, then the caller's modes back (on drop).
    pub fn finish(self) {
        if self.output_open {
            self.copy_out(&mut [0u8; 16384]);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let (Some(saved), Some(fd)) = (&self.saved, self.master.input) {
            let _ = tcsetattr(borrow(fd), SetArg::TCSADRAIN, saved);
        }
    }
}

/// A piped input ended: the sandbox's terminal's end-of-file character, as a user would type
/// it (twice after an unfinished line: the first only ends the line).
fn end_of_input(master: BorrowedFd, line_open: bool) -> Vec<u8> {
    let eof = tcgetattr(master)
        .map(|t| t.control_chars[nix::sys::termios::SpecialCharacterIndices::VEOF as usize])
        .unwrap_or(4);
    vec![eof; if line_open { 2 } else { 1 }]
}

fn write_all(fd: BorrowedFd, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut p = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut p, PollTimeout::NONE);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
