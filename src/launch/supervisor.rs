//! The supervisor, sbox itself on the host: before the clone, everything that can fail early
//! (steps 1-5 of ARCHITECTURE.md); after it, the status records, the terminal relay, signals
//! passed on, and the wait.

use super::PhaseError;
use super::exec::{self, Host};
use super::{
    caps, channel, fds, hostdirs, net, planted, proxy, record, say, seccomp, signals, step, sys,
    tty, userns,
};
use crate::error::SetupError;
use crate::spec::{NsKind, Spec};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{Pid, pipe2};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd, RawFd};

/// What the supervisor prepared before the clone, for the child to use.
pub struct Plan {
    pub host: Host,
    /// sbox's own seccomp policy.
    pub filters: Vec<seccompiler::BpfProgram>,
    /// A front end's compiled programs, then the `--seccomp`/`--add-seccomp-fd` ones, read
    /// before anything starts.
    pub bpf: Vec<seccompiler::BpfProgram>,
    /// The cgroup of --mem/--pids/--cpu; the command joins its payload leaf before exec.
    pub limits: Option<crate::cgroup::Session>,
    /// The sandbox's own terminal, when the caller's 0-2 has one.
    pub terminal: Option<tty::Slave>,
    /// Whether the command (without a terminal of its own) starts a new session.
    pub new_session: bool,
    /// With an allowlist, this process's end of the pair its listeners travel through: the
    /// child's end in the child, the supervisor's after the clone.
    pub net: Option<OwnedFd>,
    /// `--net-record`: where the destinations used are written at the end.
    pub recorder: Option<record::Recorder>,
    /// With a start gate, in the sandbox: the supervisor's go-ahead (`detach`).
    pub gate_ack: Option<OwnedFd>,
}

/// A setuid or file-capability binary refused; every descriptor an option names claimed;
/// SELinux checked for labels; the descriptors passed to the command noted; `create = true`
/// host directories made.
pub fn claim(spec: &Spec) -> Result<(fds::Claimed, Vec<RawFd>), SetupError> {
    caps::refuse_privileged_binary()?;
    // Every descriptor an option names, owned from here on by the step that uses it.
    let claimed = fds::claim(spec)?;
    if spec.exec_label.is_some() || spec.file_label.is_some() {
        exec::check_selinux()?;
    }
    // Before sbox opens anything: the caller's descriptors that the command gets.
    let passed = fds::passed(spec);
    // Profile binds with `create = true`: their host directories exist before the build.
    if spec.bind_extras.iter().any(|e| e.create_from.is_some()) {
        hostdirs::create(spec)?;
    }
    Ok((claimed, passed))
}

/// The sandbox's own terminal (master, slave) and sbox's parent (--die-with-parent).
type Terminal = (Option<tty::Master>, Option<tty::Slave>, Option<Pid>);

/// The sandbox's own terminal (master, slave) when 0-2 has one; with --die-with-parent,
/// sbox's parent.
pub fn terminal(spec: &Spec) -> Result<Terminal, SetupError> {
    // sbox's mode: a terminal among 0-2 is replaced by one of the sandbox's own. (Checked
    // with three ioctls; nothing more when there is no terminal.)
    let (master, terminal) = match spec.caller_terminal {
        false => tty::open()?.unzip(),
        true => (None, None),
    };
    // sbox dies with its caller: at once, or, while it holds the caller's terminal raw, by a
    // SIGHUP that `supervise` handles after putting the terminal back.
    let caller = match spec.die_with_parent {
        true => Some(die_with_caller(match master {
            Some(_) => libc::SIGHUP,
            None => libc::SIGKILL,
        })?),
        false => None,
    };
    Ok((master, terminal, caller))
}

/// The plan: host facts, session choice, seccomp programs, and last the cgroup.
pub fn plan(
    spec: &Spec,
    passed: Vec<RawFd>,
    terminal: Option<tty::Slave>,
    claimed: &mut fds::Claimed,
) -> Result<Plan, SetupError> {
    let mut plan = Plan {
        host: host_facts(passed, spec.same_cwd),
        // Without a terminal among 0-2, a new session (costly: the kernel makes a scheduler
        // autogroup for it) is needed only if sbox has a controlling terminal.
        new_session: spec.new_session
            || (!spec.caller_terminal && terminal.is_none() && tty::caller_has_one()),
        terminal,
        net: None,
        recorder: None,
        // Compiled here, in the supervisor, so a bad policy fails before anything starts.
        filters: seccomp::build(spec)?,
        bpf: (spec.seccomp.programs.iter().cloned().map(Ok))
            .chain(
                (spec.fds.seccomp.iter())
                    .zip(std::mem::take(&mut claimed.seccomp))
                    .map(|(&n, fd)| fds::read_bpf(n, fd)),
            )
            .collect::<Result<_, _>>()?,
        // Limits last, once everything else checked out: the cgroup exists before clone, so
        // the sandbox starts in its unlimited supervisor leaf; only the command joins the
        // limited payload leaf, just before exec.
        limits: if spec.limits.any() {
            step(spec, "limits (cgroup)", || {
                crate::cgroup::prepare(&spec.limits)
            })?
        } else {
            None
        },
        gate_ack: None,
    };
    if spec
        .ops
        .iter()
        .any(|o| matches!(o, crate::spec::FsOp::Dev { .. }))
    {
        plan.host.console = tty::console(plan.terminal.as_ref());
    }
    Ok(plan)
}

/// The supervisor's state once the child exists.
pub struct Started {
    plan: Plan,
    child: Pid,
    err_r: OwnedFd,
    status: (Option<std::fs::File>, Option<std::fs::File>),
    /// With --info-fd or --json-status-fd: the child's pid and namespaces, read while it
    /// waited (`fds::child_fields`).
    start: Vec<(String, String)>,
    planted: Option<planted::Watch>,
    /// The --die-with-parent pipe, held open until the supervisor ends.
    alive: Option<(OwnedFd, OwnedFd)>,
    /// A start gate's go-ahead, the supervisor's end.
    ack: Option<OwnedFd>,
}

/// The child's side of the clone: never returns.
type Child = fn(&Spec, Plan, fds::Claimed, OwnedFd, Option<OwnedFd>) -> !;

/// Error pipe, signals blocked, namespaces to join joined, then clone with the namespace
/// flags; the child goes on in `child`.
pub fn start(
    spec: &Spec,
    mut plan: Plan,
    mut claimed: fds::Claimed,
    child: Child,
) -> Result<Started, SetupError> {
    let pipe = |what| pipe2(OFlag::O_CLOEXEC).map_err(PhaseError::call(what, ""));
    let (err_r, err_w) = pipe("error pipe")?;
    // With --die-with-parent the child checks that the supervisor still holds this pipe open,
    // closing the window before PR_SET_PDEATHSIG takes effect.
    let alive = if spec.die_with_parent {
        Some(pipe("--die-with-parent")?)
    } else {
        None
    };
    // --net-record: its directory, opened before the sandbox can plant anything on the way.
    plan.recorder = spec
        .net
        .record
        .as_deref()
        .map(record::open_dir)
        .transpose()?;
    // The start gate's go-ahead: the supervisor writes one byte once the pid files are written;
    // end-of-file (the supervisor died first) makes the command exit instead of waiting.
    let ack = match spec.start_gate {
        Some(_) => Some(pipe("start gate")?),
        None => None,
    };
    // Id maps of several ranges: the supervisor writes them once the child exists, and
    // tells it on this pipe.
    let mut maps = if spec.maps_by_supervisor() {
        let (r, w) = pipe("id maps")?;
        claimed.maps_written = Some(r);
        Some(w)
    } else {
        None
    };
    let (net_sup, net_child) = match spec.net.active() {
        true => net::channel()?,
        false => (None, None),
    };
    plan.net = net_child;
    // The status records name the child's namespaces: read while it waits, since one that
    // ran to its end (a quick command, a loaded machine) has none left to read.
    let mut records = if claimed.info.is_some() || claimed.json_status.is_some() {
        let (r, w) = pipe("status records")?;
        claimed.records_read = Some(r);
        Some(w)
    } else {
        None
    };
    signals::block()?;
    // Namespaces to join are joined by the supervisor: the child is then created inside them.
    if let Some(fd) = claimed.userns.take() {
        userns::join("--userns", fd, CloneFlags::CLONE_NEWUSER)?;
    }
    if let Some(fd) = claimed.pidns.take() {
        userns::join("--pidns", fd, CloneFlags::CLONE_NEWPID)?;
    }
    if !spec.ns.join.is_empty() {
        // Into another sandbox's namespaces (`sbox-runc exec`): not dumpable from here on,
        // and so neither is the child until its execve. The processes already in there
        // (root of the container's user namespace holds CAP_SYS_PTRACE in it) then can't open
        // /proc/PID/exe of this sbox binary or its memory while it is visible there (the runc
        // CVE-2019-5736 class): for a process that is not dumpable the kernel asks for
        // CAP_SYS_PTRACE in the user namespace its memory was made in, the caller's, which
        // joining does not change (the child's copy keeps it).
        sys::set_dumpable(false);
        userns::join_paths(spec)?;
    }

    let mut flags = userns::clone_flags(spec);
    if plan.limits.is_some() {
        // The command unshares it after joining the payload leaf, which becomes its root.
        flags &= !libc::CLONE_NEWCGROUP;
    }
    let planted = planted::prepare(spec);
    let t = std::time::Instant::now();
    // --pidns with --unshare-pid: a PID namespace nested in the joined one.
    let pid = spec.ns.of(NsKind::Pid);
    let clone = if pid.join.is_some() && pid.create {
        sys::clone_fork_nested_pid
    } else {
        sys::clone_fork
    };
    let mut cloned = clone(flags);
    if cloned == Err(nix::errno::Errno::EINVAL) && spec.ns.cgroup_try && !spec.ns.cgroup {
        // --unshare-cgroup-try on a kernel without cgroup namespaces.
        flags &= !libc::CLONE_NEWCGROUP;
        cloned = clone(flags);
    }
    let pid = cloned.map_err(|e| userns::clone_error(spec, e))?;
    if pid == 0 {
        drop(err_r);
        // Only the supervisor may end the wait for the maps (by writing, or by going away).
        drop(maps.take());
        drop(records.take());
        // The status descriptors belong to the supervisor; the sandbox never sees them.
        claimed.info = None;
        claimed.json_status = None;
        let alive_r = alive.map(|(r, w)| {
            drop(w);
            r
        });
        drop(net_sup);
        plan.gate_ack = ack.map(|(r, w)| {
            drop(w);
            r
        });
        child(spec, plan, claimed, err_w, alive_r)
    }
    drop(err_w);
    claimed.maps_written = None;
    claimed.records_read = None;
    if let Some(w) = maps {
        let host = (plan.host.uid, plan.host.gid);
        if let Err(e) = userns::write_child_maps(spec, pid, host) {
            // The child sees the pipe's end without a byte and leaves; nothing runs on.
            drop(w);
            let child = Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
            return Err(e.into());
        }
        // (A pipe's first byte: it goes, or the child sees the end and leaves.)
        let _ = nix::unistd::write(&w, b"1");
    }
    let start = match records {
        Some(w) => {
            let fields = fds::child_fields(Pid::from_raw(pid), flags);
            // (As for the maps: the byte goes, or the child sees the end and leaves.)
            let _ = nix::unistd::write(&w, b"1");
            fields
        }
        None => Vec::new(),
    };
    // (Dropping the child's end: the supervisor sees end-of-file if the child dies first.)
    plan.net = net_sup;
    // The sandbox has its copies of the descriptors passed to the command: holding them here
    // would keep, say, a pipe's reader from seeing its end when the command closes it.
    for &fd in &plan.host.passed_fds {
        fds::close(fd);
    }
    // Only the sandbox holds the slave: the master sees the end when the sandbox ends.
    plan.terminal = None;
    if spec.verbose {
        let ms = t.elapsed().as_secs_f64() * 1e3;
        say(&format!(
            "clone (namespaces {}): {ms:.3} ms",
            userns::describe(flags)
        ));
    }
    // Only the sandbox holds --sync-fd: its end closes the descriptor for whoever waits on it.
    claimed.sync = None;
    // Nor does the supervisor need what the sandbox consumes.
    let status = (claimed.info.take(), claimed.json_status.take());
    drop(claimed);
    Ok(Started {
        plan,
        child: Pid::from_raw(pid),
        err_r,
        status,
        start,
        planted,
        alive,
        ack: ack.map(|(_, w)| w),
    })
}

/// With a start gate: wait until the command waits at it, write the pid files, give the
/// go-ahead and return the command's pid, and its cgroup kept (limits: the command is in its
/// payload leaf already); it goes on alone. On failure nothing is left running.
pub fn detach(
    spec: &Spec,
    started: Started,
) -> Result<(i32, Option<crate::cgroup::Kept>), SetupError> {
    let (child, err_r, ack) = (started.child, started.err_r, started.ack);
    let mut plan = started.plan;
    // Not dumpable from here on (see `watch`).
    sys::set_dumpable(false);
    let ready = channel::wait_ready(err_r).and_then(|()| match (&spec.start_gate, &ack) {
        (Some(gate), Some(ack)) => {
            fds::write_pid_files(gate, child.as_raw())?;
            nix::unistd::write(ack, b"1")
                .map(drop)
                .map_err(|e| crate::launch::errno_error("start gate", "", e))
        }
        _ => Ok(()),
    });
    match ready {
        Ok(()) => Ok((child.as_raw(), plan.limits.take().map(|s| s.keep()))),
        Err(e) => {
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(child, None);
            // (The session, dropped with the plan, removes the cgroup.)
            Err(e)
        }
    }
}

/// Status records, supervise until the end, then the planted-file report; on failure nothing
/// is left running. `host`: the master of the sandbox's terminal, and sbox's parent.
pub fn finish(
    spec: &Spec,
    started: Started,
    host: (Option<tty::Master>, Option<Pid>),
) -> Result<i32, SetupError> {
    let Started {
        mut plan,
        child,
        err_r,
        status,
        start,
        planted,
        alive,
        ..
    } = started;
    let result = watch(spec, &mut plan, child, &start, err_r, host, status);
    if result.is_err() {
        // Nothing is left running when sbox fails.
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(child, None);
    } else if let Some(w) = &planted {
        planted::report(spec, w);
    }
    drop(alive);
    result
}

/// The supervisor's side once the child exists: status records, then wait; the exit status.
fn watch(
    spec: &Spec,
    plan: &mut Plan,
    child: Pid,
    start: &[(String, String)],
    err_r: OwnedFd,
    host: (Option<tty::Master>, Option<Pid>),
    (info, json_status): (Option<std::fs::File>, Option<std::fs::File>),
) -> Result<i32, SetupError> {
    if info.is_some() || json_status.is_some() {
        if let Some(f) = info {
            fds::write_json(&f, start, true)?;
        }
        if let Some(f) = &json_status {
            fds::write_json(f, start, false)?;
        }
    }
    // From now on not dumpable: a sandboxed process of the same uid can't open the
    // supervisor's /proc/<pid>/exe or memory. (Not before: the child's namespaces were just
    // read through /proc, and it inherits the flag at clone.)
    sys::set_dumpable(false);
    // The allowlist's listeners, sent before exec (none when the child failed: its error
    // follows on the pipe).
    let net = (plan.net.take())
        .and_then(net::receive)
        .map(|l| proxy::start(&spec.net, spec.verbose, l));
    let (mut code, reports, signaled) = supervise(spec, child, err_r, host)?;
    let mut usage = Vec::new();
    let peak = spec.fds.json_status.is_some();
    if let Some(report) = plan.limits.take().map(|s| s.finish(peak)) {
        if report.oom_killed() {
            crate::output::failure(&report.to_string());
            code = 137;
        }
        usage.push(("oom-kill".to_string(), report.oom_kill.to_string()));
        if let Some(peak) = report.memory_peak {
            usage.push(("memory-peak".to_string(), peak.to_string()));
        }
    }
    if let Some(stats) = &net {
        if spec.verbose {
            say(&format!("network: {}", stats.json()));
        }
        usage.push(("network".to_string(), stats.json()));
    }
    // Whatever the command's status: a failed fetch still shows what it reached.
    if let (Some(r), Some(stats)) = (plan.recorder.take(), &net) {
        let used = stats.used.lock().map(|u| u.clone()).unwrap_or_default();
        r.write(&used)?;
        if spec.verbose {
            say(&format!(
                "network: {} destinations recorded in {}",
                used.len(),
                r.path().display()
            ));
        }
    }
    if let Some(fd) = &json_status {
        let mut exit = vec![("exit-code".to_string(), code.to_string())];
        exit.extend(usage);
        // What was enforced inside, as one more record (readers skip what they don't know).
        for r in &reports {
            fds::write_record(fd, r)?;
        }
        fds::write_json(fd, &exit, false)?;
    }
    if let Some(s) = signaled {
        // Under the `bwrap` link, the caller sees the status bubblewrap would have had.
        signals::die_of(s);
    }
    Ok(code)
}

/// `cwd_id`: also the identity of the working directory, to check it is the same inside.
fn host_facts(passed_fds: Vec<RawFd>, cwd_id: bool) -> Host {
    // umask(2) can only be read by setting it; it is set straight back.
    let umask = sys::umask(0);
    sys::umask(umask);
    Host {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        cwd: std::env::current_dir().ok(),
        cwd_id: if cwd_id { exec::dir_id(".") } else { None },
        umask,
        passed_fds,
        console: None,
    }
}

pub fn pdeathsig(sig: libc::c_int) -> Result<(), SetupError> {
    Ok(sys::set_pdeathsig(sig).map_err(PhaseError::call("--die-with-parent", ""))?)
}

/// The supervisor dies with the program that started sbox (and the sandbox with it, above),
/// as bubblewrap does. If that parent died before the signal was armed, sbox now has another
/// parent: stop here. Returns that parent.
fn die_with_caller(sig: libc::c_int) -> Result<Pid, SetupError> {
    let parent = nix::unistd::getppid();
    pdeathsig(sig)?;
    if nix::unistd::getppid() != parent {
        // Nothing has started yet: leave at once.
        sys::exit_now(1)
    }
    Ok(parent)
}

/// What `supervise` saw: the exit status, what the sandbox reported as enforced, and (under the
/// `bwrap` link) the signal that would have ended bubblewrap.
type Outcome = (
    i32,
    Vec<channel::Enforced>,
    Option<nix::sys::signal::Signal>,
);

/// The supervisor: report a setup failure, or pass signals on and wait for the sandbox.
/// `host`: the master of the sandbox's terminal, and (--die-with-parent) sbox's parent.
fn supervise(
    spec: &Spec,
    child: Pid,
    err_r: OwnedFd,
    host: (Option<tty::Master>, Option<Pid>),
) -> Result<Outcome, SetupError> {
    let (master, caller) = host;
    let mut msg = Vec::new();
    let _ = std::fs::File::from(err_r).read_to_end(&mut msg);
    let (error, reports) = channel::parse(&msg);
    if let Some(mut e) = error {
        let _ = waitpid(child, None);
        exec::host_hint(spec, &mut e);
        return Err(e);
    }
    let sfd = match master {
        Some(_) => signals::signalfd_for_terminal()?,
        None => signals::signalfd()?,
    };
    // The command runs: from now on the caller's terminal is raw, until `relay` is dropped.
    let mut relay = master.map(tty::Master::relay);
    let mut signaled = None;
    loop {
        if let Some(r) = &mut relay {
            r.pump(sfd.as_fd());
        }
        let Ok(Some(info)) = sfd.read_signal() else {
            continue;
        };
        let signo = info.ssi_signo as i32;
        if signo == libc::SIGCHLD {
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(st) => {
                    if let Some(code) = signals::exit_code(st) {
                        if let Some(r) = relay {
                            r.finish();
                        }
                        return Ok((code, reports, signaled));
                    }
                }
                Err(e) => return Err(PhaseError::call("wait", "")(e).into()),
            }
        } else if signo == libc::SIGWINCH || signo == libc::SIGCONT {
            if let Some(r) = &relay {
                match signo {
                    libc::SIGCONT => r.resume(),
                    _ => r.resize(),
                }
            }
        } else if let Ok(s) = nix::sys::signal::Signal::try_from(signo) {
            if signo == libc::SIGHUP && caller.is_some_and(|p| nix::unistd::getppid() != p) {
                // --die-with-parent: the terminal back (dropping `relay`); `run` then kills
                // the sandbox.
                return Err(PhaseError::ParentDied.into());
            }
            if spec.dies_of_signals && spec.die_with_parent {
                // bubblewrap dies of it, and the sandbox with it.
                signals::die_of(s);
            }
            if spec.dies_of_signals {
                // bubblewrap would die of it and orphan the sandbox: sbox passes it on, and
                // ends with it once the sandbox has.
                signaled.get_or_insert(s);
            }
            if signals::should_forward(info.ssi_code, own_group(spec)) {
                forward(spec, child, s);
            }
        }
    }
}

/// Whether the command leads a process group of its own, out of the caller's terminal's
/// reach: always in sbox's mode; under the `bwrap` link with --new-session.
fn own_group(spec: &Spec) -> bool {
    !spec.caller_process_group || spec.new_session
}

/// Pass a signal on to the whole sandbox: init sends it on to every process of the PID
/// namespace; a command that leads a process group of its own gets it for the whole group
/// (bubblewrap forwards nothing).
fn forward(spec: &Spec, child: Pid, s: nix::sys::signal::Signal) {
    use nix::sys::signal::{kill, killpg};
    let is_init = spec.ns.pid && !spec.as_pid_1;
    if !is_init && own_group(spec) && killpg(child, s).is_ok() {
        return;
    }
    let _ = kill(child, s);
}
