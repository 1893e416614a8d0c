//! `sbox-runc`: runc's command line, the one engines call (conmon/podman, containerd's shim).
//! Each command is a short-lived process: state lives in `<root>/<id>/` (state.rs), the
//! container's process is left waiting at a start gate by `create` (launch's
//! `spec::StartGate`) and released by `start`.

mod bundle;
mod console;
mod hooks;
mod log;
mod state;

use crate::error::SetupError;
use crate::oci::spec::CgroupManager;
use clap::{Args, Parser, Subcommand};
use log::Log;
use state::{Dir, State, Status};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The runtime-spec version the state and `spec` follow.
pub const OCI_VERSION: &str = "1.0.2";

/// The version line engines parse: containerd wants it to start with `runc version `.
const VERSION: &str = concat!(
    "runc version 1.1.0-compatible (sbox ",
    env!("CARGO_PKG_VERSION"),
    ")\nspec: 1.0.2\n"
);

#[derive(Parser)]
#[command(
    name = "sbox-runc",
    about = "sbox as a rootless OCI runtime, with runc's command line",
    disable_version_flag = true
)]
struct Cli {
    /// State directory (default $XDG_RUNTIME_DIR/sbox-runc, or /run/sbox-runc as root).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Also write messages to this file.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// `text` or `json` (one object per line: level, time, msg).
    #[arg(long, global = true, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
    /// With linux.resources: the container's scope is the cgroupsPath "slice:prefix:name".
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// cgroupfs, systemd (as --systemd-cgroup) or disabled.
    #[arg(long, global = true, value_parser = ["cgroupfs", "systemd", "disabled"])]
    cgroup_manager: Option<String>,
    /// Accepted: runc's rootless mode (sbox is always rootless).
    #[arg(long)]
    rootless: Option<String>,
    /// Debug records in the log.
    #[arg(long, global = true)]
    debug: bool,
    /// Print the version.
    #[arg(long, short = 'v')]
    version: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Args)]
struct CreateArgs {
    /// The bundle directory (config.json and the root file system).
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
    /// Write the container process's pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// AF_UNIX socket that receives the pseudo-terminal's master (process.terminal).
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Accepted: sbox always uses pivot_root on a fresh root.
    #[arg(long)]
    no_pivot: bool,
    /// Accepted: sbox makes no session keyring.
    #[arg(long)]
    no_new_keyring: bool,
    /// Descriptors 3 .. 3+N-1 are passed to the container's process (and LISTEN_FDS's).
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    id: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a config.json for a `rootfs` directory.
    Spec {
        #[arg(long)]
        rootless: bool,
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
    },
    /// Create the container and wait for `start`.
    Create(CreateArgs),
    /// Create, start and wait for the container; its exit status.
    Run {
        #[command(flatten)]
        args: CreateArgs,
        /// Return once started.
        #[arg(long, short = 'd')]
        detach: bool,
        /// Keep the state after it exits.
        #[arg(long)]
        keep: bool,
    },
    /// Let a created container's process run.
    Start { id: String },
    /// Print the container's state (JSON).
    State { id: String },
    /// Send a signal (name or number, default TERM) to the container's process.
    Kill {
        /// To every process of the container.
        #[arg(long, short = 'a')]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// Remove the container's state (--force: kill it first).
    Delete {
        #[arg(long, short = 'f')]
        force: bool,
        id: String,
    },
    /// Run another process in a running container (its namespaces, its root).
    Exec(ExecArgs),
    /// Freeze every process of the container (its cgroup: linux.resources).
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// The container's processes: their pids.
    Ps {
        /// `table` (a PID column) or `json` (an array of pids).
        #[arg(long, short = 'f', value_parser = ["table", "json"], default_value = "table")]
        format: String,
        id: String,
        /// Accepted for runc compatibility (its ps(1) options): ignored.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_options: Vec<String>,
    },
    /// What this runtime supports (JSON).
    Features,
}

#[derive(Args)]
struct ExecArgs {
    /// The process, as config.json's `process` (JSON).
    #[arg(long, short = 'p')]
    process: Option<PathBuf>,
    /// Return once it runs (its pid in --pid-file).
    #[arg(long, short = 'd')]
    detach: bool,
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// A terminal (through --console-socket when detached).
    #[arg(long, short = 't')]
    tty: bool,
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    cwd: Option<String>,
    /// NAME=VALUE, added to the config's environment.
    #[arg(long, short = 'e')]
    env: Vec<String>,
    /// UID[:GID] inside the container.
    #[arg(long, short = 'u')]
    user: Option<String>,
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// The `sbox-runc` entry point; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let mut log = Log::default();
    // For an error in the command line itself: the log options, read ahead.
    let mut log_path: Option<PathBuf> = None;
    for (i, a) in args.iter().enumerate() {
        let next = || args.get(i + 1).map(PathBuf::from);
        match a.to_str() {
            Some("--log") => log_path = next(),
            Some(s) if s.starts_with("--log=") => log_path = Some(s[6..].into()),
            Some("--log-format=json") => log.json = true,
            Some("--log-format") => log.json = next().is_some_and(|f| f == Path::new("json")),
            _ => {}
        }
    }
    log.open(log_path.as_deref());
    let cli = match Cli::try_parse_from(std::iter::once("sbox-runc".into()).chain(args)) {
        Ok(c) => c,
        Err(e) if e.exit_code() == 0 => {
            print!("{e}");
            return 0;
        }
        Err(e) => {
            // clap's first line, without its `error: `.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            log.error(first.strip_prefix("error: ").unwrap_or(first));
            return 1;
        }
    };
    log.open(cli.log.as_deref());
    log.json = cli.log_format == "json";
    log.debug = cli.debug;
    if cli.version {
        print!("{VERSION}");
        return 0;
    }
    let Some(cmd) = cli.cmd else {
        log.error(
            "a command is needed: spec, create, start, run, state, kill, delete, exec, pause, resume, ps, features",
        );
        return 1;
    };
    let root = cli.root.clone().map(Ok).unwrap_or_else(default_root);
    let manager = match cli.systemd_cgroup || cli.cgroup_manager.as_deref() == Some("systemd") {
        true => CgroupManager::Systemd,
        false => CgroupManager::Other,
    };
    match dispatch(cmd, root, manager, &log) {
        Ok(code) => code,
        Err(e) => {
            log.error(&e.to_string());
            1
        }
    }
}

fn default_root() -> Result<PathBuf, SetupError> {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("sbox-runc"));
    }
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from("/run/sbox-runc"));
    }
    Err(SetupError::new(
        "--root",
        "",
        "no state directory: set XDG_RUNTIME_DIR or give --root DIR",
    ))
}

/// `root`: the state directory, an error for the commands that need one if there is none.
fn dispatch(
    cmd: Cmd,
    root: Result<PathBuf, SetupError>,
    manager: CgroupManager,
    log: &Log,
) -> Result<i32, SetupError> {
    if let Cmd::Spec { .. } | Cmd::Features = cmd {
    } else if let Err(e) = root {
        return Err(e);
    }
    let root = &root.unwrap_or_default();
    match cmd {
        Cmd::Spec { rootless, bundle } => {
            let p = bundle.join("config.json");
            if p.exists() {
                return Err(SetupError::new(
                    "spec",
                    p.display().to_string(),
                    "already exists",
                ));
            }
            std::fs::write(&p, bundle::template(rootless))
                .map_err(|e| SetupError::new("spec", p.display().to_string(), e.to_string()))?;
            Ok(0)
        }
        Cmd::Create(a) => create(&a, root, manager, log, Mode::Detached).map(|_| 0),
        Cmd::Run { args, detach, keep } => {
            let mode = match detach {
                true => Mode::Detached,
                false => Mode::Attached { keep },
            };
            let (dir, s, console) = create(&args, root, manager, log, mode)?;
            if let Err(e) = start(&dir, &args.id, log) {
                if !detach && !keep {
                    let _ = delete(root, &args.id, true, log);
                }
                return Err(e);
            }
            if detach {
                return Ok(0);
            }
            let mut code = crate::launch::attach::wait(s.pid, console);
            // Read before `delete` removes the cgroup: the OOM report of a plain `sbox --mem`.
            if let Some(report) = s.cgroup.as_ref().map(crate::cgroup::Kept::report)
                && report.oom_killed()
            {
                crate::output::failure(&report.to_string());
                code = 137;
            }
            if !keep {
                delete(root, &args.id, true, log)?;
            }
            Ok(code)
        }
        Cmd::Start { id } => start(&Dir::new(root, &id)?, &id, log).map(|()| 0),
        Cmd::State { id } => {
            let dir = Dir::new(root, &id)?;
            let s = dir.load(&id)?;
            let st = state::oci_state(&s, dir.status(&s));
            println!("{}", serde_json::to_string_pretty(&st).unwrap_or_default());
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => {
            kill(root, &id, all, signal.as_deref().unwrap_or("TERM")).map(|()| 0)
        }
        Cmd::Delete { force, id } => delete(root, &id, force, log).map(|()| 0),
        Cmd::Exec(a) => exec(&a, root),
        Cmd::Pause { id } => freeze(root, &id, true).map(|()| 0),
        Cmd::Resume { id } => freeze(root, &id, false).map(|()| 0),
        Cmd::Ps { format, id, .. } => {
            let dir = Dir::new(root, &id)?;
            let s = dir.load(&id)?;
            let pids = match dir.status(&s) {
                Status::Stopped => Vec::new(),
                _ => container_pids(&s),
            };
            if format == "json" {
                println!("{}", serde_json::json!(pids));
            } else {
                println!("PID");
                for p in pids {
                    println!("{p}");
                }
            }
            Ok(0)
        }
        Cmd::Features => {
            println!("{}", features());
            Ok(0)
        }
    }
}

/// A failed system call, worded from its errno.
fn errno_error(step: &str, path: impl Into<String>, e: nix::errno::Errno) -> SetupError {
    SetupError::new(step, path, crate::error::errno_why(e))
}

fn io(step: &str, p: &Path) -> impl Fn(std::io::Error) -> SetupError {
    let (step, p) = (step.to_string(), p.display().to_string());
    move |e| SetupError::new(step.clone(), p.clone(), e.to_string())
}

/// What `create` made: the state directory, the state, the terminal `run` relays.
type Created = (Dir, State, Option<crate::launch::attach::Console>);

/// How `create` is called.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// `create`, `run --detach`.
    Detached,
    /// `run`: a config's terminal without a console socket is relayed by the runtime
    /// (console.rs); with `keep` false the caller deletes the container once it ends
    /// (`State.runner`).
    Attached { keep: bool },
}

/// `create`: the state directory, then the container, left waiting at the start gate (in its
/// cgroup's payload leaf with linux.resources: the limits hold from its exec on). Returns
/// the state directory, what it holds, and the terminal `run` relays.
fn create(
    a: &CreateArgs,
    root: &Path,
    manager: CgroupManager,
    log: &Log,
    mode: Mode,
) -> Result<Created, SetupError> {
    let attached = mode != Mode::Detached;
    let dir = Dir::new(root, &a.id)?;
    let b = bundle::load(&a.bundle)?;
    hooks::check(&b.hooks())?;
    if b.terminal() && a.console_socket.is_none() && !attached {
        return Err(SetupError::new(
            "process.terminal",
            "",
            "a detached container's terminal needs --console-socket (or set terminal to false)",
        ));
    }
    let mut spec = b.to_spec(manager)?;
    std::fs::create_dir_all(root).map_err(io("--root", root))?;
    claim_id(&dir, &a.id, log)?;
    let me = std::process::id() as i32;
    let mut s = State {
        id: a.id.clone(),
        bundle: b.dir.clone(),
        rootfs: b.rootfs.clone(),
        created: log::rfc3339(std::time::SystemTime::now()),
        owner: String::new(),
        annotations: b.annotations(),
        hooks: b.hooks(),
        creator: state::proc_stat(me).map(|(t, _)| (me, t)),
        runner: match mode {
            Mode::Attached { keep: false } => state::proc_stat(me).map(|(t, _)| (me, t)),
            _ => None,
        },
        ..State::default()
    };
    let made = (|| {
        dir.save(&s)?;
        nix::unistd::mkfifo(&dir.fifo(), nix::sys::stat::Mode::from_bits_truncate(0o622))
            .map_err(|e| errno_error("create", dir.fifo().display().to_string(), e))?;
        let flags = nix::fcntl::OFlag::O_PATH
            | nix::fcntl::OFlag::O_DIRECTORY
            | nix::fcntl::OFlag::O_CLOEXEC;
        let dfd = nix::fcntl::open(&dir.path, flags, nix::sys::stat::Mode::empty())
            .map_err(|e| errno_error("create", dir.path.display().to_string(), e))?;
        let mut pid_files = vec![dir.path.join("pid")];
        pid_files.extend(
            a.pid_file
                .iter()
                .map(|p| std::path::absolute(p).unwrap_or(p.clone())),
        );
        spec.start_gate = Some(crate::spec::StartGate {
            dir: Some(dfd.as_raw_fd()),
            pid_files,
            pid_fds: Vec::new(),
        });
        let console = match &a.console_socket {
            Some(p) => Some(connect(p)?),
            None => None,
        };
        let own = console::choose(&mut spec, console.as_ref(), attached && b.terminal())?;
        let has_console = spec.console_socket.is_some();
        oci_defaults(&mut spec, a, has_console);
        let made = crate::launch::run_gated(&spec)?;
        drop(console);
        drop(dfd);
        match console::received(own) {
            Ok(relayed) => Ok((made, relayed)),
            Err(e) => {
                end_waiting(made.0);
                if let Some(cg) = &made.1 {
                    cg.remove();
                }
                Err(e)
            }
        }
    })();
    let ((pid, cgroup), relayed) = match made {
        Ok(made) => made,
        Err(e) => {
            dir.remove();
            return Err(e);
        }
    };
    s.pid = pid;
    s.cgroup = cgroup;
    s.start_time = state::proc_stat(pid).map(|(t, _)| t).unwrap_or(0);
    dir.save(&s)?;
    let st = state::oci_state(&s, Status::Creating);
    let hooked = hooks::run(&s.hooks, "prestart", &st)
        .and_then(|()| hooks::run(&s.hooks, "createRuntime", &st));
    if let Err(e) = hooked {
        end_waiting(pid);
        if let Some(cg) = &s.cgroup {
            cg.remove();
        }
        dir.remove();
        return Err(e);
    }
    s.creator = None;
    dir.save(&s)?;
    log.debug(&format!("created {} (pid {pid})", a.id));
    Ok((dir, s, relayed))
}

/// A created container that won't start: its process (our child) killed and reaped.
fn end_waiting(pid: i32) {
    let pid = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
}

/// What every OCI container gets, whatever config.json says.
fn oci_defaults(spec: &mut crate::spec::Spec, a: &CreateArgs, console: bool) {
    // The container's process is pid 1 of its PID namespace (no init of sbox's above it).
    spec.as_pid_1 = spec.ns.pid;
    spec.no_host_hint = true;
    // Its terminal is the console socket's, or its stdio as the engine gave them.
    spec.caller_terminal = true;
    spec.caller_process_group = !console;
    spec.new_session = !console;
    // --preserve-fds N (and systemd's LISTEN_FDS): 3 .. 3+N-1 go through.
    let listen: u32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    for fd in 3..3 + a.preserve_fds.max(listen) {
        spec.fds.keep.push(fd as i32);
    }
}

/// A new state directory for `id`; a stale one (its `create` was killed, or its container
/// is gone without `delete`... when its process is gone) is reported and cleaned.
fn claim_id(dir: &Dir, id: &str, log: &Log) -> Result<(), SetupError> {
    match std::fs::create_dir(&dir.path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(io("create", &dir.path)(e));
        }
        Err(_) => {}
    }
    let (stale, by) = match dir.load(id) {
        Err(_) => (true, "a create that did not finish"),
        Ok(s) if s.creator.is_some() => (
            dir.status(&s) == Status::Stopped,
            "a create that did not finish",
        ),
        // An attached `run` that was killed before its delete, its container gone since.
        Ok(s) => (
            s.runner.is_some_and(|(p, t)| !state::alive(p, t)) && dir.status(&s) == Status::Stopped,
            "a run that was killed",
        ),
    };
    if !stale {
        return Err(SetupError::new(
            "container",
            id,
            "already exists (delete it first)",
        ));
    }
    log.warn(&format!(
        "container {id}: a state directory left by {by}: removed"
    ));
    if let Ok(mut s) = dir.load(id) {
        if s.pid == 0 {
            // Killed between launch's pid file and the state's: the pid file says.
            s.pid = waiting_process(dir, id).unwrap_or(0);
            s.start_time = state::proc_stat(s.pid).map(|(t, _)| t).unwrap_or(0);
        }
        end(&s);
        if let Some(cg) = &s.cgroup {
            cg.remove();
        }
    }
    dir.remove();
    std::fs::create_dir(&dir.path).map_err(io("create", &dir.path))
}

/// The process named by `<dir>/pid` if it is still this container's, waiting at its gate:
/// before its exec, its command line is the `create ... ID` that made it.
fn waiting_process(dir: &Dir, id: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.path.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut args = cmdline.split(|b| *b == 0).filter(|a| !a.is_empty());
    let ours = args.any(|a| a == b"create") && args.any(|a| a == id.as_bytes());
    ours.then_some(pid)
}

fn connect(p: &Path) -> Result<std::os::fd::OwnedFd, SetupError> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
    let fail = |e| errno_error("--console-socket", p.display().to_string(), e);
    let s = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(fail)?;
    let addr = UnixAddr::new(p).map_err(fail)?;
    connect(s.as_raw_fd(), &addr).map_err(fail)?;
    Ok(s)
}

/// `start`: release the container's process from the gate, then poststart hooks.
fn start(dir: &Dir, id: &str, log: &Log) -> Result<(), SetupError> {
    let s = dir.load(id)?;
    let status = dir.status(&s);
    if status != Status::Created {
        return Err(SetupError::new(
            "start",
            id,
            format!(
                "cannot start a container that is {} (only a created one)",
                status.name()
            ),
        ));
    }
    release(&dir.fifo(), s.pid, s.start_time, id)?;
    let st = state::oci_state(&s, Status::Running);
    if let Err(e) = hooks::run(&s.hooks, "poststart", &st) {
        log.warn(&e.to_string());
    }
    Ok(())
}

/// Open the start gate of the process `pid` waiting on `fifo`, and wait for its byte:
/// released (end of file without it: it died); the fifo is removed then.
fn release(fifo: &Path, pid: i32, start_time: u64, id: &str) -> Result<(), SetupError> {
    let fail = |e| errno_error("start", fifo.display().to_string(), e);
    // Non-blocking: the process opens it for writing now or soon.
    let flags =
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open(fifo, flags, nix::sys::stat::Mode::empty()).map_err(fail)?;
    // Removed once its byte is read, not before: the process may not have reached its open
    // yet (`run` starts at once), and it opens the fifo by name.
    let released = wait_released(&fd, pid, start_time, id, fail);
    let _ = std::fs::remove_file(fifo);
    released
}

fn wait_released(
    fd: &std::os::fd::OwnedFd,
    pid: i32,
    start_time: u64,
    id: &str,
    fail: impl Fn(nix::errno::Errno) -> SetupError,
) -> Result<(), SetupError> {
    // Its byte says it was released (end of file without it: it died).
    let mut b = [0u8; 1];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match nix::unistd::read(fd, &mut b) {
            Ok(1) => break,
            Err(nix::errno::Errno::EAGAIN) | Ok(0) if std::time::Instant::now() < deadline => {
                if !state::alive(pid, start_time) {
                    // Released and already ended since the read above: its byte tells.
                    if let Ok(1) = nix::unistd::read(fd, &mut b) {
                        break;
                    }
                    return Err(SetupError::new(
                        "start",
                        id,
                        "the container's process ended",
                    ));
                }
                let mut p = [nix::poll::PollFd::new(
                    std::os::fd::AsFd::as_fd(fd),
                    nix::poll::PollFlags::POLLIN,
                )];
                let _ = nix::poll::poll(&mut p, nix::poll::PollTimeout::from(10u8));
            }
            Ok(_) => {
                return Err(SetupError::new(
                    "start",
                    id,
                    "the container's process ended",
                ));
            }
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(())
}

/// `exec`: a process in the container's namespaces and root, released like `start` does,
/// then waited for (its exit status) unless --detach.
fn exec(a: &ExecArgs, root: &Path) -> Result<i32, SetupError> {
    let dir = Dir::new(root, &a.id)?;
    let s = dir.load(&a.id)?;
    let status = dir.status(&s);
    if status != Status::Running {
        return Err(SetupError::new(
            "exec",
            &a.id,
            format!("cannot exec in a container that is {}", status.name()),
        ));
    }
    let p = s.bundle.join("config.json");
    let text = std::fs::read_to_string(&p).map_err(io("config.json", &p))?;
    let mut config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| SetupError::new("config.json", p.display().to_string(), e.to_string()))?;
    config["process"] = exec_process(a, &config["process"])?;
    let config = crate::oci::config::parse(&config.to_string()).map_err(bundle::oci_error)?;
    let terminal = config.process.as_ref().is_some_and(|p| p.terminal);
    if terminal && a.console_socket.is_none() && a.detach {
        return Err(SetupError::new(
            "exec",
            "--tty",
            "a detached process's terminal needs --console-socket",
        ));
    }
    let mut spec = crate::oci::spec::to_spec(&config, &s.bundle, &bundle::facts())
        .map_err(bundle::oci_error)?;
    into_container(&mut spec, s.pid)?;
    // No cgroup of its own: with linux.resources the container's, joined here (the process
    // started inherits it; this one stays in it until that process ends).
    spec.limits = crate::spec::Limits::default();
    if let Some(cg) = &s.cgroup {
        cg.enter("exec")?;
    }
    bundle::check(&spec)?;
    // A gate without a fifo: a missing program fails before the process runs (in podman's
    // words), and the pid file is written before this returns. Opened here: launch joins the
    // container's mount namespace, where paths name the container's files.
    let pid_file = (a.pid_file.as_ref())
        .map(|p| std::fs::File::create(p).map_err(io("--pid-file", p)))
        .transpose()?;
    let ran = (|| -> Result<_, SetupError> {
        spec.start_gate = Some(crate::spec::StartGate {
            dir: None,
            pid_files: Vec::new(),
            pid_fds: pid_file.iter().map(|f| f.as_raw_fd()).collect(),
        });
        let console = a.console_socket.as_deref().map(connect).transpose()?;
        // A terminal without a console socket: relayed by this process, as for `run`.
        let own = console::choose(&mut spec, console.as_ref(), terminal && !a.detach)?;
        let create = CreateArgs {
            bundle: s.bundle.clone(),
            pid_file: None,
            console_socket: None,
            no_pivot: false,
            no_new_keyring: false,
            preserve_fds: a.preserve_fds,
            id: a.id.clone(),
        };
        let has_console = spec.console_socket.is_some();
        oci_defaults(&mut spec, &create, has_console);
        let pid = crate::launch::run(&spec)?;
        drop(console);
        let relayed = console::received(own).inspect_err(|_| end_waiting(pid))?;
        Ok((pid, relayed))
    })();
    let (pid, relayed) = ran?;
    Ok(if a.detach {
        0
    } else {
        crate::launch::attach::wait(pid, relayed)
    })
}

/// The process of `exec`: --process's, else the config's with the command line's changes.
fn exec_process(a: &ExecArgs, config: &serde_json::Value) -> Result<serde_json::Value, SetupError> {
    if let Some(p) = &a.process {
        let text = std::fs::read_to_string(p).map_err(io("--process", p))?;
        return serde_json::from_str(&text)
            .map_err(|e| SetupError::new("--process", p.display().to_string(), e.to_string()));
    }
    if a.command.is_empty() {
        return Err(SetupError::new(
            "exec",
            &a.id,
            "no command (give it after the id, or --process FILE)",
        ));
    }
    let mut p = config.clone();
    p["args"] = serde_json::json!(a.command);
    p["terminal"] = serde_json::json!(a.tty);
    if let Some(cwd) = &a.cwd {
        p["cwd"] = serde_json::json!(cwd);
    }
    if let Some(env) = p["env"].as_array_mut() {
        env.extend(a.env.iter().map(|e| serde_json::json!(e)));
    }
    if let Some(u) = &a.user {
        let bad = || SetupError::new("--user", u, "not UID[:GID] (numbers)");
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        p["user"]["uid"] = serde_json::json!(uid.parse::<u32>().map_err(|_| bad())?);
        p["user"]["gid"] = serde_json::json!(gid.parse::<u32>().map_err(|_| bad())?);
    }
    Ok(p)
}

/// An exec's Spec: every namespace of the container's process `pid` joined (its user
/// namespace when it has one of its own), and its root as it is now (a bind of the joined
/// mount namespace's root, read-only mounts staying so), instead of what config.json builds.
fn into_container(spec: &mut crate::spec::Spec, pid: i32) -> Result<(), SetupError> {
    use crate::spec::{BindKind, FsOp, NsJoin, NsKind};
    let link = |p: &str| std::fs::read_link(p).ok();
    spec.ns.join.clear();
    for kind in NsKind::ALL {
        let path = format!("/proc/{pid}/ns/{}", kind.proc_name());
        if link(&path).is_none() {
            return Err(SetupError::new(
                "exec",
                path,
                "the container's process is not reachable",
            ));
        }
        if link(&path) == link(&format!("/proc/self/ns/{}", kind.proc_name())) {
            // The runtime's own (the container has none of this kind): stay in it.
            if kind == NsKind::User {
                spec.ns.no_userns = true;
            }
            continue;
        }
        spec.ns.join.push(NsJoin {
            kind,
            path: path.into(),
        });
    }
    let ns = &mut spec.ns;
    (ns.pid, ns.net, ns.ipc, ns.uts, ns.cgroup, ns.cgroup_try) =
        (false, false, false, false, false, false);
    spec.uid_map.clear();
    spec.gid_map.clear();
    spec.sysctl.clear();
    spec.hostname = None;
    // Not the container's pid 1: a process among its others, in no Landlock domain of its own
    // (sbox's default one, without a PID namespace of the sandbox's own, scopes signals: the
    // process could not signal the container's).
    spec.as_pid_1 = false;
    spec.landlock_domain_needs_pidns = true;
    spec.ops = vec![FsOp::Bind {
        kind: BindKind::Dev,
        src: "/".into(),
        dst: "/".into(),
        optional: false,
    }];
    Ok(())
}

/// A signal by name (`TERM`, `SIGTERM`) or number.
fn parse_signal(s: &str) -> Result<nix::sys::signal::Signal, SetupError> {
    use nix::sys::signal::Signal;
    let bad = || {
        SetupError::new(
            "kill",
            s,
            "unknown signal (a name such as TERM or KILL, or a number)",
        )
    };
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

fn kill(root: &Path, id: &str, all: bool, signal: &str) -> Result<(), SetupError> {
    let sig = parse_signal(signal)?;
    let dir = Dir::new(root, id)?;
    let s = dir.load(id)?;
    if dir.status(&s) == Status::Stopped {
        return Err(SetupError::new("kill", id, "container not running"));
    }
    let pids = if all { container_pids(&s) } else { vec![s.pid] };
    for p in pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), sig);
    }
    Ok(())
}

/// Every process of the container, its init first: its cgroup's (sub-cgroups included), or
/// without one (no linux.resources) those of its PID namespace.
fn container_pids(s: &State) -> Vec<i32> {
    match &s.cgroup {
        Some(cg) => std::iter::once(s.pid)
            .chain(cg.pids().into_iter().filter(|&p| p != s.pid))
            .collect(),
        None => in_container(s),
    }
}

/// `pause` (`frozen`) and `resume`: through the container's cgroup.freeze.
fn freeze(root: &Path, id: &str, frozen: bool) -> Result<(), SetupError> {
    let (step, from) = match frozen {
        true => ("pause", Status::Running),
        false => ("resume", Status::Paused),
    };
    let dir = Dir::new(root, id)?;
    let s = dir.load(id)?;
    let status = dir.status(&s);
    if status != from {
        return Err(SetupError::new(
            step,
            id,
            format!("the container is {}, not {}", status.name(), from.name()),
        ));
    }
    let Some(cg) = &s.cgroup else {
        return Err(SetupError::new(
            step,
            id,
            "the container has no cgroup of its own to freeze (sbox makes one only for linux.resources: memory, pids or cpu)",
        ));
    };
    cg.freeze(frozen).map_err(SetupError::from)
}

/// Every process in the container's PID namespace (the init's own first), read from /proc.
fn in_container(s: &State) -> Vec<i32> {
    let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    let Some(mine) = ns(s.pid) else {
        return vec![s.pid];
    };
    let mut pids = vec![s.pid];
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok())
                && p != s.pid
                && ns(p).as_ref() == Some(&mine)
            {
                pids.push(p);
            }
        }
    }
    pids
}

/// SIGKILL the container's process and wait (a little) until it is gone.
fn end(s: &State) {
    if !state::alive(s.pid, s.start_time) {
        return;
    }
    let pid = nix::unistd::Pid::from_raw(s.pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    // Our own child (`run`): reap it; otherwise its parent does.
    let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while state::alive(s.pid, s.start_time) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
        let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
    }
}

fn delete(root: &Path, id: &str, force: bool, log: &Log) -> Result<(), SetupError> {
    let dir = Dir::new(root, id)?;
    // runc's --force: a container that is not there is no error (engines clean up with it).
    let s = match dir.load(id) {
        Err(_) if force && !dir.path.exists() => return Ok(()),
        r => r?,
    };
    let status = dir.status(&s);
    if matches!(status, Status::Running | Status::Paused) && !force {
        return Err(SetupError::new(
            "delete",
            id,
            "cannot delete a running container: stop it first (kill), or use --force",
        ));
    }
    if let Some(cg) = &s.cgroup {
        // Everything in its cgroup killed (a paused one too), then what sbox made removed.
        cg.remove();
    }
    end(&s);
    dir.remove();
    let st = state::oci_state(&s, Status::Stopped);
    if let Err(e) = hooks::run(&s.hooks, "poststop", &st) {
        log.warn(&e.to_string());
    }
    Ok(())
}

fn features() -> String {
    let v = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
        "mountOptions": crate::oci::spec::MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": {"v1": false, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": crate::oci::seccomp::ACTIONS,
                "operators": crate::oci::seccomp::OPERATORS,
                "archs": crate::oci::seccomp::ARCHES,
                "supportedFlags": crate::oci::seccomp::FLAGS,
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {"org.opencontainers.runc.version": "1.1.0-compatible", "org.sbox.version": env!("CARGO_PKG_VERSION")}
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
