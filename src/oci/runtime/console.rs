//! `run` of a config with `process.terminal` and no --console-socket: as runc, the runtime
//! is the console socket's other end itself and relays the pseudo-terminal the container
//! opens in its own /dev/pts (launch::attach). The caller's terminal never enters the
//! container: nothing inside can push input into it (TIOCSTI), join its session or job
//! control, or leave its modes changed.

use crate::error::SetupError;
use crate::launch::attach::Console;
use crate::spec::Spec;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// The container's console socket, set as `spec.console_socket`: the engine's
/// (--console-socket, connected), else with `relay` (a terminal, and the runtime waits for
/// the container) the runtime's own.
pub fn choose(
    spec: &mut Spec,
    engine: Option<&OwnedFd>,
    relay: bool,
) -> Result<Option<Own>, SetupError> {
    let own = (relay && engine.is_none()).then(Own::new).transpose()?;
    spec.console_socket = (engine.map(|c| c.as_raw_fd())).or(own.as_ref().map(Own::fd));
    Ok(own)
}

/// Once launch returned: the master of the terminal to relay, if the socket was ours.
pub fn received(own: Option<Own>) -> Result<Option<Console>, SetupError> {
    own.map(Own::receive).transpose()
}

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
