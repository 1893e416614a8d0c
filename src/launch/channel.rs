//! The pipe from the sandbox to the supervisor. It is close-on-exec, so the supervisor reads
//! until end-of-file, which comes when the command has exec'd (or every writer died). Each
//! message is a tag byte, a length, and its bytes: a setup error, or a report of what was
//! enforced (a JSON member for --json-status-fd).

use crate::error::SetupError;
use std::io::Write;
use std::os::fd::BorrowedFd;

const ERROR: u8 = b'E';
const REPORT: u8 = b'R';
/// A start gate: the command waits at it (`spec::StartGate`).
const READY: u8 = b'G';

fn send(fd: BorrowedFd, tag: u8, payload: &[u8]) {
    let mut msg = Vec::with_capacity(5 + payload.len());
    msg.push(tag);
    msg.extend((payload.len() as u32).to_le_bytes());
    msg.extend(payload);
    // SAFETY: borrowed for this one write; the File is never dropped.
    let mut f = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(std::os::fd::AsRawFd::as_raw_fd(&fd))
    });
    let _ = f.write_all(&msg);
}

pub fn send_error(fd: BorrowedFd, e: &SetupError) {
    send(fd, ERROR, &e.encode());
}

pub fn send_report(fd: BorrowedFd, json_member: &str) {
    send(fd, REPORT, json_member.as_bytes());
}

pub fn send_ready(fd: BorrowedFd) {
    send(fd, READY, &[]);
}

/// With a start gate: read until the command waits at the gate (Ok) or fails (its error).
pub fn wait_ready(fd: std::os::fd::OwnedFd) -> Result<(), SetupError> {
    let mut f = std::fs::File::from(fd);
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match std::io::Read::read(&mut f, &mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SetupError::new("start gate", "", e.to_string())),
        };
        data.extend_from_slice(&buf[..n]);
        let (error, _) = parse(&data);
        if let Some(e) = error {
            return Err(e);
        }
        if has_ready(&data) {
            return Ok(());
        }
        if n == 0 {
            return Err(SetupError::new(
                "start gate",
                "",
                "the container's process ended before it was ready",
            ));
        }
    }
}

fn has_ready(mut data: &[u8]) -> bool {
    while data.len() >= 5 {
        let len = u32::from_le_bytes([data[1], data[2], data[3], data[4]]) as usize;
        if data.len() < 5 + len {
            return false;
        }
        if data[0] == READY {
            return true;
        }
        data = &data[5 + len..];
    }
    false
}

/// Everything the sandbox said: the first error, if any, and the reports.
pub fn parse(mut data: &[u8]) -> (Option<SetupError>, Vec<String>) {
    let (mut error, mut reports) = (None, Vec::new());
    while data.len() >= 5 {
        let len = u32::from_le_bytes([data[1], data[2], data[3], data[4]]) as usize;
        let Some(payload) = data.get(5..5 + len) else {
            break;
        };
        match data[0] {
            ERROR if error.is_none() => error = Some(SetupError::decode(payload)),
            REPORT => reports.push(String::from_utf8_lossy(payload).into_owned()),
            _ => {}
        }
        data = &data[5 + len..];
    }
    (error, reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;

    #[test]
    fn errors_and_reports_travel() {
        let (r, w) = nix::unistd::pipe().unwrap();
        send_report(w.as_fd(), r#""landlock":{"abi":6}"#);
        send_error(w.as_fd(), &SetupError::new("--bind", "/x", "why"));
        drop(w);
        let mut all = Vec::new();
        std::fs::File::from(r).read_to_end(&mut all).unwrap();
        let (e, reports) = parse(&all);
        assert_eq!(e.unwrap().to_string(), "--bind: /x: why");
        assert_eq!(reports, [r#""landlock":{"abi":6}"#]);
        assert_eq!(parse(&[]), (None, vec![]));
    }
}
