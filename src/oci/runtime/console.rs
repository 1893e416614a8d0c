//! `run` of a config with `process.terminal` and no --console-socket: as runc, the runtime
//! is the console socket's other end itself and relays the pseudo-terminal the container
//! opens in its own /dev/pts (launch::attach). The caller's terminal never enters the
//! container: nothing inside can push input into it (TIOCSTI), join its session or job
//! control, or leave its modes changed.

use crate::error::SetupError;
use crate::launch::attach::Console;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// The runtime's own console socket, until the container's master arrived.
pub struct Own {
    ours: OwnedFd,
    theirs: OwnedFd,
}

impl Own {
    pub fn new() -> Result<Own, SetupError> {
        let (ours, theirs) = Console::pair()?;
        Ok(Own { ours, theirs })
    }

    /// The container's end: its `Spec.console_socket`.
    pub fn fd(&self) -> RawFd {
        self.theirs.as_raw_fd()
    }

    /// Once `create` returned (the container waits at its gate): the master it sent,
    /// sized as the caller's terminal before the container starts.
    pub fn receive(self) -> Result<Console, SetupError> {
        drop(self.theirs);
        Console::receive(&self.ours)
    }
}
