//! The child, in the new namespaces: ids, the root built and entered, what is set up inside,
//! then init or the command (steps 6-10 of ARCHITECTURE.md).

use super::PhaseError;
use super::exec::Host;
use super::{caps, fds, landlock, mounts, net, step, supervisor, sys, userns};
use crate::error::SetupError;
use crate::spec::Spec;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::unistd::{ForkResult, Pid};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

pub enum Role {
    /// pid 1 of the sandbox, holding the --lock-file locks.
    Init {
        command: Pid,
        locks: Vec<std::fs::File>,
    },
    /// The process that execs the command, with the descriptors it must pass on.
    Command {
        keep: Vec<RawFd>,
        host_proc: Option<OwnedFd>,
    },
}

/// --die-with-parent armed; the uid/gid maps written (or --userns-block-fd); --block-fd.
pub fn ids(
    spec: &Spec,
    host: &Host,
    claimed: &mut fds::Claimed,
    alive: Option<&OwnedFd>,
) -> Result<(), SetupError> {
    if let Some(alive) = alive {
        die_with_parent(alive.as_fd())?;
    }
    if let (Some(n), Some(fd)) = (spec.fds.userns_block, claimed.userns_block.take()) {
        // Someone else writes the id maps, then lets us go on.
        fds::block_on("--userns-block-fd", n, fd)?;
    } else if let Some(fd) = claimed.maps_written.take() {
        // The supervisor writes the maps of several ranges: a byte once done, the end of
        // the pipe if it failed (it reports that).
        let mut byte = [0u8];
        if nix::unistd::read(&fd, &mut byte) != Ok(1) {
            sys::exit_now(1)
        }
    } else if spec.own_userns() {
        let inner = (spec.uid.unwrap_or(host.uid), spec.gid.unwrap_or(host.gid));
        step(spec, "uid/gid maps", || {
            userns::write_maps(inner, (host.uid, host.gid))
        })?;
    }
    if let Some(fd) = claimed.records_read.take() {
        // The supervisor reads this process's namespaces for the status records first.
        let mut byte = [0u8];
        if nix::unistd::read(&fd, &mut byte) != Ok(1) {
            sys::exit_now(1)
        }
    }
    if let Some(adj) = spec.oom_score_adj {
        // The host's /proc is still there.
        super::process::set_oom_score_adj(adj)?;
    }
    if let (Some(n), Some(fd)) = (spec.fds.block, claimed.block.take()) {
        fds::block_on("--block-fd", n, fd)?;
    }
    Ok(())
}

/// The user-namespace nesting limit, then the root: mounts private, sources opened, the root
/// built, cgroup mounts read-only, pivot_root. Returns the host's /proc when a later step
/// needs it.
pub fn root(
    spec: &Spec,
    host: &Host,
    claimed: &mut fds::Claimed,
) -> Result<Option<OwnedFd>, SetupError> {
    // The host's /proc, kept past pivot_root for the nested user namespace's maps and the
    // SELinux exec label ("self" and "thread-self" resolve at each use).
    let nest = nests(spec);
    let host_proc = if nest || spec.exec_label.is_some() {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        Some(
            nix::fcntl::open("/proc", flags, nix::sys::stat::Mode::empty())
                .map_err(PhaseError::call("setup", "/proc"))?,
        )
    } else {
        None
    };
    if spec.userns_disabled() {
        // No user namespace can be created below this one; with capabilities kept the
        // command moves one level down (below), where it can't raise the limit back.
        userns::limit_nesting(if nest { 1 } else { 0 })?;
    }
    // Modes given on the command line are meant exactly.
    sys::umask(0);
    step(spec, "private mounts", mounts::make_private)?;
    let prepared = step(spec, "open sources", || {
        mounts::prepare(spec, &mut claimed.ops, host.console.as_deref())
    })?;
    let root = step(spec, "build root", || mounts::build(spec, prepared))?;
    if spec.limits.any() {
        // The command must not be able to lift its limits through a cgroup2 mount it can see.
        step(spec, "cgroup mounts read-only", || {
            mounts::protect_cgroups(root.as_fd())
        })?;
    }
    step(spec, "pivot_root", || mounts::enter(root))?;
    Ok(host_proc)
}

/// Whether the command moves into a nested user namespace: with user namespaces disabled,
/// when a capability it keeps would let it undo the sandbox from the sandbox's own user
/// namespace, which owns the mount namespace and the user-namespace limit: CAP_SYS_ADMIN
/// (unmount or remount what covers, make read-only binds writable) and CAP_SYS_RESOURCE
/// (raise `user.max_user_namespaces`). Any other capability stays in the sandbox's user
/// namespace, where it works on the sandbox's own network, UTS and IPC namespaces
/// (NET_BIND_SERVICE binds port 80, NET_ADMIN configures its interfaces); one level down it
/// would work on nothing.
fn nests(spec: &Spec) -> bool {
    use ::caps::Capability::{CAP_SYS_ADMIN, CAP_SYS_RESOURCE};
    spec.userns_disabled()
        && (spec.command_caps().bounding.iter())
            .any(|c| [CAP_SYS_ADMIN, CAP_SYS_RESOURCE].contains(c))
}

/// Inside the root: loopback up, hostname, --lock-file, --userns2, the nested user namespace,
/// the id switch after --userns. Returns the locks held.
pub fn inside(
    spec: &Spec,
    claimed: &mut fds::Claimed,
    host_proc: Option<&OwnedFd>,
    alive: Option<OwnedFd>,
) -> Result<Vec<std::fs::File>, SetupError> {
    if spec.ns.net {
        step(spec, "loopback up", net::loopback_up)?;
    }
    if let Some(name) = &spec.hostname {
        step(spec, "hostname", || {
            nix::unistd::sethostname(name).map_err(PhaseError::call("--hostname", name.as_str()))
        })?;
    }
    if !spec.sysctl.is_empty() {
        step(spec, "sysctl", || super::process::write_sysctls(spec))?;
    }
    let locks = if spec.lock_files.is_empty() {
        Vec::new()
    } else {
        step(spec, "lock files", || fds::lock_files(&spec.lock_files))?
    };
    if let Some(fd) = claimed.userns2.take() {
        userns::join("--userns2", fd, CloneFlags::CLONE_NEWUSER)?;
    }
    if let (true, Some(proc)) = (nests(spec), host_proc) {
        step(spec, "nested user namespace", || userns::nest(proc))?;
    }
    if !spec.own_userns() || spec.maps_by_supervisor() {
        step(spec, "id switch", || userns::switch_ids(spec))?;
        // A change of credentials clears the parent-death signal: arm it again.
        if let Some(alive) = &alive {
            die_with_parent(alive.as_fd())?;
        }
    }
    drop(alive);
    Ok(locks)
}

/// Which process this one becomes: the command itself, or (with a PID namespace) init, after
/// forking the command.
pub fn role(
    spec: &Spec,
    host: &Host,
    sync: Option<OwnedFd>,
    locks: Vec<std::fs::File>,
    host_proc: Option<OwnedFd>,
) -> Result<Role, SetupError> {
    // --sync-fd stays open, at its number, until the sandbox ends.
    let mut keep: Vec<RawFd> = sync.map(IntoRawFd::into_raw_fd).into_iter().collect();
    if !spec.ns.pid || spec.as_pid_1 {
        // No init to hold the locks: the command keeps them open across exec.
        for f in &locks {
            clear_cloexec(f)?;
            keep.push(f.as_raw_fd());
        }
        std::mem::forget(locks);
        return Ok(Role::Command { keep, host_proc });
    }
    match sys::fork() {
        Ok(ForkResult::Child) => Ok(Role::Command { keep, host_proc }),
        Ok(ForkResult::Parent { child }) => {
            // The command has the descriptors passed to it; init holds none of them.
            for &fd in &host.passed_fds {
                fds::close(fd);
            }
            // The command must not open init's /proc/1/exe (sbox's binary) or memory. Landlock
            // denies it that from its domain: then init stays dumpable, so that the caller can
            // enter the sandbox through --info-fd's child-pid (nsenter, flatpak enter: the
            // /proc/PID/ns files need it; a change of ids cleared it). Otherwise nobody can.
            sys::set_dumpable(landlock::confines(spec));
            caps::restrict_to(&[])?;
            caps::no_new_privs()?;
            Ok(Role::Init {
                command: child,
                locks,
            })
        }
        Err(e) => Err(PhaseError::call("init", "fork")(e).into()),
    }
}

fn clear_cloexec(f: &std::fs::File) -> Result<(), SetupError> {
    nix::fcntl::fcntl(
        f,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map(drop)
    .map_err(PhaseError::call("--lock-file", f.as_raw_fd().to_string()))?;
    Ok(())
}

/// The sandbox's first process dies with the supervisor.
fn die_with_parent(alive: BorrowedFd) -> Result<(), SetupError> {
    supervisor::pdeathsig(libc::SIGKILL)?;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(alive, PollFlags::POLLIN)];
    if poll(&mut fds, PollTimeout::ZERO).unwrap_or(0) > 0 {
        // The supervisor is already gone: leave at once.
        sys::exit_now(1)
    }
    Ok(())
}
