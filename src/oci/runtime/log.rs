//! Where the runtime's messages go: stderr, one line each, and `--log FILE` (text, or with
//! `--log-format json` one object per line, `{"level","time","msg"}`, which podman and
//! containerd read back: podman takes its exit status from the last one's words).

use crate::output::{Level, Name};
use std::io::Write;

#[derive(Default)]
pub struct Log {
    /// Opened once, at the start: `exec` joins the container's mount namespace, where the
    /// path would name the container's file.
    file: Option<std::fs::File>,
    pub json: bool,
    pub debug: bool,
}

impl Log {
    /// `--log FILE`: appended to (several runtime calls share one log); one that can't be
    /// opened is said once on stderr.
    pub fn open(&mut self, path: Option<&std::path::Path>) {
        self.file = path.and_then(|p| {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p);
            f.map_err(|e| {
                let m = format!("--log: {}: {e}", p.display());
                crate::output::say(Level::Error, Name::Runtime, &m);
            })
            .ok()
        });
    }

    /// An error: one line on stderr (`sbox-runc: ...`) and one record in the log file.
    pub fn error(&self, msg: &str) {
        let msg = crate::error::one_line(msg).into_owned();
        crate::output::say(Level::Error, Name::Runtime, &msg);
        self.record("error", &msg);
    }

    pub fn warn(&self, msg: &str) {
        let msg = crate::error::one_line(msg).into_owned();
        crate::output::say(Level::Warning, Name::Runtime, &format!("warning: {msg}"));
        self.record("warning", &msg);
    }

    /// `--debug`: into the log file only.
    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.record("debug", msg);
        }
    }

    fn record(&self, level: &str, msg: &str) {
        let Some(mut f) = self.file.as_ref() else {
            return;
        };
        let time = rfc3339(std::time::SystemTime::now());
        let line = if self.json {
            format!(
                "{}\n",
                serde_json::json!({"level": level, "msg": msg, "time": time})
            )
        } else {
            format!(
                "time=\"{time}\" level={level} msg={}\n",
                serde_json::json!(msg)
            )
        };
        // Appended whole in one write: several runtime calls share one log.
        let _ = f.write_all(line.as_bytes());
    }
}

/// UTC, to the nanosecond: `2026-12-01T11:44:16.123456789Z`.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    crate::clock::Utc::at(t).rfc3339()
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_format() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_796_125_456, 5);
        assert_eq!(super::rfc3339(t), "2026-12-01T11:44:16.000000005Z");
        assert_eq!(
            super::rfc3339(std::time::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000000Z"
        );
    }
}
