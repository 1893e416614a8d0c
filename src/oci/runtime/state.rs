//! The state directory: `<root>/<id>/` holds `state.json` (written whole, through a rename),
//! the fifo `exec.fifo` while the container waits for `start`, and `pid`. A container's
//! status is read from the kernel each time: its init's pid and start time (a reused pid is
//! another process), and whether the fifo is still there.

use crate::error::SetupError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What sbox keeps about one container.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    /// The container's init, as the caller sees it (0 before it exists).
    pub pid: i32,
    /// Its start time (field 22 of /proc/PID/stat): tells a reused pid apart.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    pub annotations: serde_json::Map<String, serde_json::Value>,
    /// config.json's `hooks`, for `start` (poststart) and `delete` (poststop).
    pub hooks: serde_json::Value,
    /// While `create` runs: its pid and start time. A state left with these by a `create`
    /// that is gone (SIGKILLed) is stale.
    pub creator: Option<(i32, u64)>,
    /// An attached `run` (without --keep), which deletes the container once it ends: its pid
    /// and start time. A state whose runner and container are both gone (the run was
    /// SIGKILLed) is stale.
    #[serde(default)]
    pub runner: Option<(i32, u64)>,
    /// The cgroup of linux.resources, kept past `create` (removed by `delete`).
    #[serde(default)]
    pub cgroup: Option<crate::cgroup::Kept>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    /// Its cgroup is frozen (`pause`).
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// A container id: a directory name, never a path.
pub fn check_id(id: &str) -> Result<(), SetupError> {
    let bad = id.is_empty()
        || id == "."
        || id == ".."
        || id.len() > 1024
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if bad {
        return Err(SetupError::new(
            "container id",
            id,
            "invalid: use letters, digits and _ + - . only (no / and not . or ..)",
        ));
    }
    Ok(())
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot), and whether the process
/// is a zombie. None: no such process.
pub fn proc_stat(pid: i32) -> Option<(u64, bool)> {
    if pid <= 0 {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold anything: fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let zombie = fields.first().is_some_and(|s| *s == "Z" || *s == "X");
    Some((fields.get(19)?.parse().ok()?, zombie))
}

/// Whether this pid is still the process recorded (same start time, not a zombie).
pub fn alive(pid: i32, start_time: u64) -> bool {
    matches!(proc_stat(pid), Some((t, false)) if t == start_time)
}

pub struct Dir {
    pub path: PathBuf,
}

impl Dir {
    pub fn new(root: &Path, id: &str) -> Result<Dir, SetupError> {
        check_id(id)?;
        Ok(Dir {
            path: root.join(id),
        })
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join("exec.fifo")
    }

    pub fn load(&self, id: &str) -> Result<State, SetupError> {
        let p = self.path.join("state.json");
        let text = std::fs::read_to_string(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SetupError::new(
                "container",
                id,
                "does not exist (no such file or directory in the state directory)",
            ),
            _ => SetupError::new("state", p.display().to_string(), e.to_string()),
        })?;
        let s: State = serde_json::from_str(&text)
            .map_err(|e| SetupError::new("state", p.display().to_string(), e.to_string()))?;
        Ok(s)
    }

    /// Written whole: a temporary file renamed over state.json.
    pub fn save(&self, s: &State) -> Result<(), SetupError> {
        let p = self.path.join("state.json");
        let tmp = self.path.join("state.json.tmp");
        let fail =
            |e: std::io::Error| SetupError::new("state", p.display().to_string(), e.to_string());
        let text = serde_json::to_string(s).map_err(|e| fail(std::io::Error::other(e)))?;
        std::fs::write(&tmp, text).map_err(fail)?;
        std::fs::rename(&tmp, &p).map_err(fail)
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }

    pub fn status(&self, s: &State) -> Status {
        let creating = s.creator.is_some_and(|(p, t)| alive(p, t));
        if creating {
            Status::Creating
        } else if !alive(s.pid, s.start_time) {
            Status::Stopped
        } else if s.creator.is_none() && self.fifo().exists() {
            Status::Created
        } else if s.creator.is_some() {
            // Its `create` died before finishing: the init waits for nothing.
            Status::Stopped
        } else if s.cgroup.as_ref().is_some_and(|c| c.frozen()) {
            Status::Paused
        } else {
            Status::Running
        }
    }
}

/// The runtime-spec state, as `state` prints it and hooks read it on stdin.
pub fn oci_state(s: &State, status: Status) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": super::OCI_VERSION,
        "id": s.id,
        "status": status.name(),
        "pid": if status == Status::Stopped { 0 } else { s.pid },
        "bundle": s.bundle,
        "rootfs": s.rootfs,
        "created": s.created,
        "owner": s.owner,
        "annotations": s.annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "abc-1.2_x+y", "0123456789abcdef"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\n"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn own_process_is_alive() {
        let me = std::process::id() as i32;
        let (t, zombie) = proc_stat(me).unwrap();
        assert!(!zombie);
        assert!(alive(me, t));
        assert!(!alive(me, t + 1));
        assert!(proc_stat(0).is_none());
    }
}
