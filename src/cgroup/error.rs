//! Why a limit (--mem, --pids, --cpu) could not be set up: the wording of every cgroup error.
//! Each names the option it fails, so `step` is that option.

use crate::error::{StepError, errno_why, io_why};
use nix::errno::Errno;
use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// What to do about a cgroup v1 or hybrid layout.
pub const UNIFIED_FIX: &str =
    "boot with systemd.unified_cgroup_hierarchy=1 (the cgroup v2-only layout)";

/// What limits need when no systemd user instance answers.
pub const SYSTEMD_FIX: &str = "limits need a systemd user instance (systemd --user with \
                               dbus-user-session, e.g. a login session or a lingering user), \
                               or a delegated cgroup v2 subtree (run sbox inside 'systemd-run \
                               --user --scope -p Delegate=yes')";

#[derive(Debug)]
pub enum CgroupError {
    /// A file or directory of the hierarchy could not be read, written or made.
    Io {
        opt: String,
        path: PathBuf,
        err: io::Error,
    },
    /// A system call on an open cgroup file failed (`what` names it).
    Errno {
        opt: String,
        what: &'static str,
        errno: Errno,
    },
    /// A controller asked for is bound to a cgroup v1 hierarchy beside the cgroup2 mount.
    BoundToV1 {
        opt: String,
        mount: PathBuf,
        controller: &'static str,
    },
    /// No cgroup2 hierarchy at all.
    V1Layout { opt: String },
    /// /proc/self/cgroup has no cgroup v2 line.
    NoCgroupV2 { opt: String },
    /// systemd made the scope but this process is not in it.
    NotInScope {
        opt: String,
        scope: PathBuf,
        unit: String,
    },
    /// The controller is not enabled for this cgroup; `scope`: the cgroup is a systemd scope
    /// (the fix is systemd's Delegate=), else a delegated subtree (its manager's).
    NotDelegated {
        opt: String,
        group: PathBuf,
        controller: &'static str,
        scope: bool,
    },
    /// A limit written reads back as another value.
    NotInForce {
        opt: String,
        file: PathBuf,
        wrote: String,
        got: String,
    },
    /// Neither $DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR is set.
    NoBusAddress { opt: String },
    /// $XDG_RUNTIME_DIR/bus does not exist.
    NoBusSocket { opt: String, bus: PathBuf },
    /// A D-Bus step failed (`what`: which), with the bus's message; `bus` names the bus.
    Bus {
        opt: String,
        bus: String,
        what: String,
        message: String,
    },
    /// systemd's job for the scope did not end in time.
    ScopeTimeout { opt: String, unit: String },
    /// systemd's job for the scope ended other than `done`.
    ScopeFailed {
        opt: String,
        unit: String,
        result: String,
    },
}

impl fmt::Display for CgroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CgroupError::*;
        match self {
            Io { err, .. } => f.write_str(&io_why(err)),
            Errno { errno, .. } => f.write_str(errno_why(*errno)),
            BoundToV1 { controller, .. } => write!(
                f,
                "the {controller} controller is bound to cgroup v1 (hybrid cgroup layout), so \
                 cgroup v2 cannot limit it: {UNIFIED_FIX}"
            ),
            V1Layout { .. } => write!(
                f,
                "no cgroup v2 hierarchy is mounted (cgroup v1 layout): {UNIFIED_FIX}"
            ),
            NoCgroupV2 { .. } => f.write_str("this process is in no cgroup v2"),
            NotInScope { unit, .. } => {
                write!(f, "systemd started {unit} but did not move sbox into it")
            }
            NotDelegated {
                controller,
                scope: true,
                ..
            } => write!(
                f,
                "the {controller} controller is not delegated to your systemd user instance, \
                 so it cannot be limited: run 'systemctl edit user@.service', add [Service] \
                 Delegate=cpu memory pids, and log in again"
            ),
            NotDelegated { controller, .. } => write!(
                f,
                "the {controller} controller is not delegated to this cgroup: have its manager \
                 enable it (Delegate=cpu memory pids)"
            ),
            NotInForce { wrote, got, .. } => write!(
                f,
                "wrote {wrote} but it reads back {got}: the limit is not in force"
            ),
            NoBusAddress { .. } => write!(
                f,
                "no user D-Bus: DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are unset; \
                 {SYSTEMD_FIX}"
            ),
            NoBusSocket { .. } => write!(f, "no user D-Bus socket; {SYSTEMD_FIX}"),
            Bus { what, message, .. } if what.is_empty() => {
                write!(f, "{message}; {SYSTEMD_FIX}")
            }
            Bus { what, message, .. } => write!(f, "{what}: {message}; {SYSTEMD_FIX}"),
            ScopeTimeout { .. } => f.write_str("systemd did not finish starting the scope in time"),
            ScopeFailed { result, .. } => write!(
                f,
                "systemd could not start the scope (job result: {result})"
            ),
        }
    }
}

impl StepError for CgroupError {
    fn step(&self) -> Cow<'_, str> {
        use CgroupError::*;
        match self {
            Io { opt, .. }
            | Errno { opt, .. }
            | BoundToV1 { opt, .. }
            | V1Layout { opt }
            | NoCgroupV2 { opt }
            | NotInScope { opt, .. }
            | NotDelegated { opt, .. }
            | NotInForce { opt, .. }
            | NoBusAddress { opt }
            | NoBusSocket { opt, .. }
            | Bus { opt, .. }
            | ScopeTimeout { opt, .. }
            | ScopeFailed { opt, .. } => opt.as_str().into(),
        }
    }

    fn path(&self) -> Cow<'_, str> {
        use CgroupError::*;
        match self {
            Io { path, .. } => path.to_string_lossy(),
            Errno { what, .. } => (*what).into(),
            BoundToV1 { mount, .. } => mount.to_string_lossy(),
            V1Layout { .. } => "/sys/fs/cgroup".into(),
            NoCgroupV2 { .. } => "/proc/self/cgroup".into(),
            NotInScope { scope, .. } => scope.to_string_lossy(),
            NotDelegated { group, .. } => group.to_string_lossy(),
            NotInForce { file, .. } => file.to_string_lossy(),
            NoBusAddress { .. } => "$XDG_RUNTIME_DIR/bus".into(),
            NoBusSocket { bus, .. } => bus.to_string_lossy(),
            Bus { bus, .. } => bus.as_str().into(),
            ScopeTimeout { unit, .. } | ScopeFailed { unit, .. } => unit.as_str().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SetupError;

    #[test]
    fn each_error_names_its_option_and_path() {
        let line = |e: CgroupError| SetupError::from(e).to_string();
        assert_eq!(
            line(CgroupError::Io {
                opt: "--mem".into(),
                path: "/sys/fs/cgroup/x/cgroup.procs".into(),
                err: io::Error::from_raw_os_error(13),
            }),
            "--mem: /sys/fs/cgroup/x/cgroup.procs: Permission denied"
        );
        assert_eq!(
            line(CgroupError::NotInForce {
                opt: "--pids".into(),
                file: "/c/pids.max".into(),
                wrote: "10".into(),
                got: "max".into(),
            }),
            "--pids: /c/pids.max: wrote 10 but it reads back max: the limit is not in force"
        );
        assert_eq!(
            line(CgroupError::Errno {
                opt: "limits".into(),
                what: "payload/cgroup.procs",
                errno: Errno::EACCES,
            }),
            "limits: payload/cgroup.procs: Permission denied"
        );
        let e = line(CgroupError::Bus {
            opt: "systemd user instance".into(),
            bus: "unix:path=/run/user/1/bus".into(),
            what: String::new(),
            message: "no reply".into(),
        });
        assert!(
            e.starts_with(
                "systemd user instance: unix:path=/run/user/1/bus: no reply; limits need"
            ),
            "{e}"
        );
    }
}
