//! The pipe from the sandbox to the supervisor. It is close-on-exec, so the supervisor reads
//! until end-of-file, which comes when the command has exec'd (or every writer died). Each
//! message is one JSON value (serde) and a newline, written at once: a setup error, or what was
//! enforced inside (for --json-status-fd). A plain start sends nothing.

use super::landlock;
use crate::error::SetupError;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::BorrowedFd;

/// What the sandbox tells the supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// A setup step failed: the supervisor prints it (the first one) and exits 1.
    Error(SetupError),
    /// What was enforced inside, one more --json-status-fd record.
    Report(Enforced),
    /// A start gate: the command waits at it (`spec::StartGate`).
    Ready,
}

/// What the command runs under, as the --json-status-fd record says it (its field names are
/// that record's keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforced {
    pub landlock: landlock::Report,
}

pub fn send(fd: BorrowedFd, m: &Message) {
    let mut line = serde_json::to_vec(m).expect("plain data");
    line.push(b'\n');
    // SAFETY: borrowed for this one write; the File is never dropped.
    let mut f = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(std::os::fd::AsRawFd::as_raw_fd(&fd))
    });
    let _ = f.write_all(&line);
}

pub fn send_error(fd: BorrowedFd, e: &SetupError) {
    send(fd, &Message::Error(e.clone()));
}

pub fn send_ready(fd: BorrowedFd) {
    send(fd, &Message::Ready);
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
        // Whole messages only: each ends with a newline.
        let whole = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for m in serde_json::Deserializer::from_slice(&data[..whole]).into_iter::<Message>() {
            match m {
                Ok(Message::Error(e)) => return Err(e),
                Ok(Message::Ready) => return Ok(()),
                _ => {}
            }
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

/// Everything the sandbox said: the first error, if any, and the reports. Nothing to decode
/// (the usual case) costs nothing.
pub fn parse(data: &[u8]) -> (Option<SetupError>, Vec<Enforced>) {
    let (mut error, mut reports) = (None, Vec::new());
    if data.is_empty() {
        return (error, reports);
    }
    // A message cut short (a writer killed mid-write) ends the list.
    for m in serde_json::Deserializer::from_slice(data).into_iter::<Message>() {
        match m {
            Ok(Message::Error(e)) if error.is_none() => error = Some(e),
            Ok(Message::Error(_)) => {}
            Ok(Message::Report(r)) => reports.push(r),
            Ok(Message::Ready) => {}
            Err(_) => break,
        }
    }
    (error, reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;

    fn through_pipe(messages: &[Message]) -> Vec<u8> {
        let (r, w) = nix::unistd::pipe().unwrap();
        for m in messages {
            send(w.as_fd(), m);
        }
        drop(w);
        let mut all = Vec::new();
        std::fs::File::from(r).read_to_end(&mut all).unwrap();
        all
    }

    #[test]
    fn every_message_kind_travels() {
        let report = Enforced {
            landlock: landlock::Report {
                abi: 6,
                fs_rules: 3,
                net_rules: 1,
                scoped: true,
            },
        };
        // Control characters, quotes and non-ASCII in a path survive as they were.
        let e = SetupError::new("--bind", "/x\n\"é\0", "why").bwrap("Can't find source path");
        let all = through_pipe(&[
            Message::Report(report.clone()),
            Message::Error(e.clone()),
            Message::Error(SetupError::new("second", "", "ignored")),
        ]);
        let (got, reports) = parse(&all);
        assert_eq!(got, Some(e));
        assert_eq!(reports, std::slice::from_ref(&report));
        assert_eq!(parse(&[]), (None, vec![]));
        // A message cut short is dropped, not misread.
        let all = through_pipe(&[Message::Report(report.clone())]);
        let cut = through_pipe(&[Message::Error(SetupError::new("a", "b", "c"))]);
        let mut both = all.clone();
        both.extend(&cut[..cut.len() / 2]);
        assert_eq!(parse(&both), (None, vec![report.clone()]));
        // The record --json-status-fd gets.
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"landlock":{"abi":6,"fs_rules":3,"net_rules":1,"scoped":true}}"#
        );
    }
}
