//! `--net-record FILE`: the destinations a recording run used, written at the end as an
//! allowlist (profile::allowlist's format), atomically. The directory is opened before the
//! sandbox exists: a link the sandbox plants on the way meanwhile changes nothing, and the
//! file is renamed into place (a link planted at its name is replaced, never followed).

use crate::error::SetupError;
use nix::fcntl::{OFlag, open, openat, renameat};
use nix::sys::stat::Mode;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub struct Recorder {
    dir: OwnedFd,
    name: OsString,
    path: PathBuf,
}

fn fail(path: &Path, why: impl std::fmt::Display) -> SetupError {
    SetupError::new("--net-record", path.display().to_string(), why.to_string())
}

/// Before the clone: the directory FILE will be written in (made if only it is missing).
pub fn open_dir(path: &Path) -> Result<Recorder, SetupError> {
    let name = path
        .file_name()
        .ok_or_else(|| fail(path, "names no file"))?
        .to_os_string();
    let parent = path.parent().unwrap_or(Path::new("/"));
    let open_parent = || {
        open(
            parent,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    // The last directory is made when missing (`.sbox` of a project), not its parents.
    let dir = match open_parent() {
        Err(nix::errno::Errno::ENOENT) => {
            match nix::unistd::mkdir(parent, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => open_parent(),
                Err(e) => Err(e),
            }
        }
        r => r,
    }
    .map_err(|e| {
        fail(
            path,
            format!("{}: {} (make its parent first)", parent.display(), e.desc()),
        )
    })?;
    Ok(Recorder {
        dir,
        name,
        path: path.to_path_buf(),
    })
}

impl Recorder {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write `used` (rules, sorted) under a header saying when and by which command.
    pub fn write(&self, used: &BTreeSet<String>) -> Result<(), SetupError> {
        let argv: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let header = [
            format!(
                "Network allowlist recorded by sbox on {} for: {}",
                crate::clock::Utc::now().human(),
                argv.join(" ")
            ),
            "A recording run is trusted: every destination it reached is below. Review the list \
             before committing it; a profile reads it with [network] allowlist = \"PATH\"."
                .to_string(),
        ];
        let rules: Vec<String> = used.iter().cloned().collect();
        let text = crate::spec::net::render_allowlist(&header, &rules);
        let mut tmp = OsString::from(".");
        tmp.push(&self.name);
        tmp.push(format!(".sbox-{}", std::process::id()));
        let fd = openat(
            &self.dir,
            tmp.as_os_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(|e| fail(&self.path, format!("create: {}", e.desc())))?;
        let mut f = std::fs::File::from(fd);
        let written = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
        let moved = written.map_err(|e| e.to_string()).and_then(|()| {
            renameat(&self.dir, tmp.as_os_str(), &self.dir, self.name.as_os_str())
                .map_err(|e| e.desc().to_string())
        });
        if let Err(e) = moved {
            let _ = nix::unistd::unlinkat(
                &self.dir,
                tmp.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
            return Err(fail(&self.path, e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_atomically_through_the_directory_opened_first() {
        let d = std::env::temp_dir().join(format!("sbox-record-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("real")).unwrap();
        let r = open_dir(&d.join("real/allow.toml")).unwrap();
        // The directory's name is swapped for a link after it was opened: no effect.
        std::fs::rename(d.join("real"), d.join("moved")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", d.join("real")).unwrap();
        // A link planted at the file's name is replaced, not followed.
        std::os::unix::fs::symlink("/nonexistent/x", d.join("moved/allow.toml")).unwrap();
        let used: BTreeSet<String> = ["b.test:443", "a.test:80"].map(String::from).into();
        r.write(&used).unwrap();
        let text = std::fs::read_to_string(d.join("moved/allow.toml")).unwrap();
        assert!(
            text.starts_with("# Network allowlist recorded by sbox on "),
            "{text}"
        );
        assert!(
            text.ends_with("allow = [\n    \"a.test:80\",\n    \"b.test:443\",\n]\n"),
            "{text}"
        );
        let names: Vec<_> = std::fs::read_dir(d.join("moved")).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file is left");
        assert!(open_dir(&d.join("missing/deeper/allow.toml")).is_err());
        assert!(open_dir(&d.join("made/allow.toml")).is_ok());
        assert!(d.join("made").is_dir());
        std::fs::remove_dir_all(d).unwrap();
    }
}
