//! A transient scope from the user's systemd, over its private socket or the user D-Bus.
//!
//! The client is libdbus (the `dbus` crate, vendored): it starts no threads, and the supervisor
//! must be single-threaded when it clones. The connection is used for one call and closed; in a
//! user namespace it is a socket of sbox's own (bus.rs).

use super::bus::{self, Conn};
use super::error::CgroupError;
use crate::error::SetupError;
use dbus::Message;
use dbus::arg::{RefArg, Variant};
use std::path::Path;
use std::time::{Duration, Instant};

const SYSTEMD: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// Why no scope: `unreachable` when no systemd user instance could be asked at all (no bus,
/// no connection, nothing answering), as opposed to systemd refusing or failing the scope.
#[derive(Debug)]
pub struct ScopeError {
    pub error: SetupError,
    pub unreachable: bool,
}

fn unreachable(error: CgroupError) -> ScopeError {
    ScopeError {
        error: error.into(),
        unreachable: true,
    }
}

fn refused(error: CgroupError) -> ScopeError {
    ScopeError {
        error: error.into(),
        unreachable: false,
    }
}

/// The user bus address: $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus.
fn bus_address(opt: &str) -> Result<(String, String), CgroupError> {
    if let Some(a) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        let a = a.to_string_lossy().into_owned();
        return Ok((a.clone(), a));
    }
    let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") else {
        return Err(CgroupError::NoBusAddress { opt: opt.into() });
    };
    let bus = Path::new(&dir).join("bus");
    if !bus.exists() {
        return Err(CgroupError::NoBusSocket {
            opt: opt.into(),
            bus,
        });
    }
    let shown = bus.display().to_string();
    Ok((format!("unix:path={shown}"), shown))
}

fn call(
    ch: &Conn,
    method: &str,
    build: impl FnOnce(Message) -> Message,
) -> Result<Message, dbus::Error> {
    let m = Message::new_method_call(SYSTEMD, PATH, MANAGER, method)
        .map_err(|e| dbus::Error::new_failed(&e))?;
    ch.send_with_reply_and_block(build(m), CALL_TIMEOUT)
}

type Props = Vec<(&'static str, Variant<Box<dyn RefArg>>)>;

fn scope_props(pid: u32, oom_policy: bool, slice: Option<&str>) -> Props {
    let mut p: Props = vec![
        ("Description", Variant(Box::new("sbox sandbox".to_string()))),
        // The supervisor itself: the sandbox is cloned from it and inherits the cgroup.
        ("PIDs", Variant(Box::new(vec![pid]))),
        // sbox makes its own leaves and writes the limits itself.
        ("Delegate", Variant(Box::new(true))),
        // A scope that failed (OOM) would otherwise stay loaded until reset-failed.
        (
            "CollectMode",
            Variant(Box::new("inactive-or-failed".to_string())),
        ),
    ];
    if let Some(slice) = slice {
        p.push(("Slice", Variant(Box::new(slice.to_string()))));
    }
    if oom_policy {
        // systemd ≥ 253 would stop the whole scope (and the supervisor with it) on an OOM kill
        // inside it, before sbox can read memory.events.
        p.push(("OOMPolicy", Variant(Box::new("continue".to_string()))));
    }
    p
}

/// systemd's own socket for its user instance (what `systemctl --user` uses): a direct
/// connection, with no bus daemon in between and no Hello or AddMatch to ask for.
fn private_socket() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty())?;
    let p = Path::new(&dir).join("systemd/private");
    p.exists().then_some(p)
}

/// Ask the user's systemd for a transient scope with Delegate=yes holding this process, and
/// wait until the job that starts it is done. Through systemd's private socket when there is
/// one, else over the user bus. The direct socket (no bus daemon in between), no
/// Subscribe/Unsubscribe and no wait for AddMatch are each round trips saved on every `--mem`
/// start (bench/README.md has the measurements).
/// `slice`: the unit's slice (else the manager's default, app.slice).
pub fn start_scope(opt: &str, unit: &str, slice: Option<&str>) -> Result<(), ScopeError> {
    if let Some(p) = private_socket() {
        let address = format!("unix:path={}", p.display());
        let shown = p.display().to_string();
        match start_scope_at(opt, (unit, slice), &address, &shown, Bus::Direct) {
            // Not ours to use (e.g. after su): the bus may still lead to a systemd.
            Err(e) if e.unreachable => {}
            r => return r,
        }
    }
    let (address, shown) = bus_address(opt).map_err(unreachable)?;
    start_scope_at(opt, (unit, slice), &address, &shown, Bus::Shared)
}

/// How sbox reaches systemd.
#[derive(Clone, Copy, PartialEq)]
enum Bus {
    /// systemd's private socket: peer to peer; systemd sends every signal on it.
    Direct,
    /// A bus daemon: sbox must register and ask for the signal it waits for.
    Shared,
}

/// [`start_scope`] on the bus at `address` (`shown` names it in errors).
pub fn start_scope_on(opt: &str, unit: &str, address: &str, shown: &str) -> Result<(), ScopeError> {
    start_scope_at(opt, (unit, None), address, shown, Bus::Shared)
}

fn start_scope_at(
    opt: &str,
    (unit, slice): (&str, Option<&str>),
    address: &str,
    shown: &str,
    bus: Bus,
) -> Result<(), ScopeError> {
    let bus_err = |what: &str, e: dbus::Error| CgroupError::Bus {
        opt: opt.into(),
        bus: shown.into(),
        what: what.into(),
        message: bus_message(&e),
    };
    let gone = |what: &str, e: dbus::Error| unreachable(bus_err(what, e));
    // libdbus can look users up (its cookie authentication).
    crate::nss::builtin_only();
    let ch = bus::open(address, bus == Bus::Shared).map_err(|(what, e)| gone(what, e))?;
    let mut match_serial = None;
    if bus == Bus::Shared {
        // Listen for the job's end before asking. Not waited for: the bus daemon handles a
        // connection's messages in order, so the rule is in place before systemd gets the call
        // (its reply, an error included, is looked at below). systemd sends JobRemoved to the
        // client that queued the job without a Subscribe.
        let rule = format!(
            "type='signal',sender='{SYSTEMD}',path='{PATH}',interface='{MANAGER}',\
             member='JobRemoved'"
        );
        let m = Message::new_method_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "AddMatch",
        )
        .map_err(|e| gone("AddMatch", dbus::Error::new_failed(&e)))?
        .append1(rule);
        match_serial = Some(ch.send(m).map_err(|()| {
            gone(
                "AddMatch",
                dbus::Error::new_failed("the connection is closed"),
            )
        })?);
    }

    let start = |oom_policy: bool| {
        call(&ch, "StartTransientUnit", |m| {
            let aux: Vec<(&str, Props)> = Vec::new();
            m.append3(
                unit,
                "fail",
                scope_props(std::process::id(), oom_policy, slice),
            )
            .append1(aux)
        })
    };
    let reply = match start(true) {
        // systemd < 253 has no OOMPolicy for scopes (and does not stop them on OOM either).
        Err(e) if e.message().is_some_and(|m| m.contains("OOMPolicy")) => start(false),
        r => r,
    };
    let reply = match reply {
        Ok(r) => r,
        // The bus has no systemd on it (or it never answered).
        Err(e) if nobody_answers(&e) => {
            return Err(gone("no systemd user instance answers on the user bus", e));
        }
        Err(e) => {
            return Err(refused(bus_err(
                &format!("systemd could not start {unit}"),
                e,
            )));
        }
    };
    let job: dbus::Path = reply.read1().map_err(|e| {
        refused(bus_err(
            "StartTransientUnit",
            dbus::Error::new_failed(&e.to_string()),
        ))
    })?;

    // Wait for JobRemoved(id, job, unit, result) of our job.
    let deadline = Instant::now() + CALL_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(refused(CgroupError::ScopeTimeout {
                opt: opt.into(),
                unit: unit.into(),
            }));
        }
        let Some(mut msg) = ch
            .blocking_pop_message(left)
            .map_err(|e| refused(bus_err("lost the user D-Bus", e)))?
        else {
            continue;
        };
        if match_serial.is_some() && msg.get_reply_serial() == match_serial {
            if let Err(e) = msg.as_result() {
                return Err(refused(bus_err("AddMatch", e)));
            }
            continue;
        }
        if msg.member().as_deref() != Some("JobRemoved") {
            continue;
        }
        let Ok((_, path, _, result)) = msg.read4::<u32, dbus::Path, String, String>() else {
            continue;
        };
        if path == job {
            if result != "done" {
                return Err(refused(CgroupError::ScopeFailed {
                    opt: opt.into(),
                    unit: unit.into(),
                    result,
                }));
            }
            return Ok(());
        }
    }
}

/// Move process `pid` into `subcgroup` (such as "/payload") of the running unit `unit`
/// (AttachProcessesToUnit, systemd 238): how a process outside the user manager's tree (a
/// login session's) joins a scope sbox made, where cgroup file permissions can't let it.
pub fn attach(opt: &str, unit: &str, subcgroup: &str, pid: u32) -> Result<(), CgroupError> {
    let at = |address: &str, shown: &str, bus: Bus| -> Result<(), CgroupError> {
        crate::nss::builtin_only();
        let fail = |what: &str, e: dbus::Error| CgroupError::Bus {
            opt: opt.into(),
            bus: shown.into(),
            what: what.into(),
            message: bus_message(&e),
        };
        let ch = bus::open(address, bus == Bus::Shared).map_err(|(what, e)| fail(what, e))?;
        call(&ch, "AttachProcessesToUnit", |m| {
            m.append3(unit, subcgroup, vec![pid])
        })
        .map(drop)
        .map_err(|e| {
            fail(
                &format!("systemd could not move the process into {unit}"),
                e,
            )
        })
    };
    if let Some(p) = private_socket() {
        let shown = p.display().to_string();
        if at(&format!("unix:path={shown}"), &shown, Bus::Direct).is_ok() {
            return Ok(());
        }
    }
    let (address, shown) = bus_address(opt)?;
    at(&address, &shown, Bus::Shared)
}

/// What the bus said of a failure.
fn bus_message(e: &dbus::Error) -> String {
    e.message()
        .unwrap_or(e.name().unwrap_or("D-Bus error"))
        .to_string()
}

/// The error means no systemd answered (none on the bus, or the bus failed to start one),
/// rather than systemd saying no.
fn nobody_answers(e: &dbus::Error) -> bool {
    let name = e.name().unwrap_or("");
    name.starts_with("org.freedesktop.DBus.Error.Spawn.")
        || [
            "org.freedesktop.DBus.Error.ServiceUnknown",
            "org.freedesktop.DBus.Error.NameHasNoOwner",
            "org.freedesktop.DBus.Error.NoReply",
        ]
        .contains(&name)
}

/// For `sbox --doctor`: the version of the systemd user instance sbox would ask for scopes
/// (through its private socket, else the user bus).
pub fn user_manager_version() -> Result<String, CgroupError> {
    if let Some(p) = private_socket() {
        let address = format!("unix:path={}", p.display());
        if let Ok(v) = manager_version(&address, &p.display().to_string(), Bus::Direct) {
            return Ok(v);
        }
    }
    let (address, shown) = bus_address("systemd user instance")?;
    manager_version(&address, &shown, Bus::Shared)
}

fn manager_version(address: &str, shown: &str, bus: Bus) -> Result<String, CgroupError> {
    crate::nss::builtin_only();
    // The step named is what failed (--doctor prints the bus and why).
    let fail = |what: &str, e: dbus::Error| CgroupError::Bus {
        opt: what.into(),
        bus: shown.into(),
        what: String::new(),
        message: bus_message(&e),
    };
    let ch = bus::open(address, bus == Bus::Shared).map_err(|(what, e)| fail(what, e))?;
    let m = Message::new_method_call(SYSTEMD, PATH, "org.freedesktop.DBus.Properties", "Get")
        .map_err(|e| fail("D-Bus", dbus::Error::new_failed(&e)))?
        .append2(MANAGER, "Version");
    let reply = ch
        .send_with_reply_and_block(m, Duration::from_secs(5))
        .map_err(|e| fail("no systemd user instance answers on the user bus", e))?;
    let version: Variant<String> = reply
        .read1()
        .map_err(|e| fail("systemd", dbus::Error::new_failed(&e.to_string())))?;
    Ok(version.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'a>(p: &'a Props, key: &str) -> Option<&'a str> {
        p.iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.0.as_str())
    }

    #[test]
    fn scope_properties_carry_the_slice_asked_for() {
        let p = scope_props(7, true, Some("user.slice"));
        assert_eq!(text(&p, "Slice"), Some("user.slice"));
        assert_eq!(text(&p, "OOMPolicy"), Some("continue"));
        let delegate = p.iter().find(|(k, _)| *k == "Delegate").unwrap();
        assert_eq!(delegate.1.0.as_i64(), Some(1));
        // Without a wish the manager's default slice: no Slice property at all.
        let p = scope_props(7, false, None);
        assert!(p.iter().all(|(k, _)| *k != "Slice" && *k != "OOMPolicy"));
    }
}
