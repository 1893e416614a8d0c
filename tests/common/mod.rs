//! Shared test harness: runs the real sbox binary as an unprivileged user. When the tests run
//! as root (CI), each sbox run drops to TEST_UID; the binary is first copied to a
//! world-readable directory, since the checkout may sit under a 0700 home.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The unprivileged ids used when the test process is root.
pub const TEST_UID: u32 = 4321;
pub const TEST_GID: u32 = 4321;

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The uid/gid sbox runs as in these tests.
pub fn ids() -> (u32, u32) {
    if is_root() {
        (TEST_UID, TEST_GID)
    } else {
        (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    }
}

/// A fresh directory that the test user owns (world-traversable parents).
pub fn scratch(name: &str) -> PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    let base = BASE.get_or_init(|| {
        remove_stale_scratch();
        let b = std::env::temp_dir().join(format!("sbox-it-{}", std::process::id()));
        std::fs::create_dir_all(&b).unwrap();
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o755)).unwrap();
        b
    });
    let d = base.join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    chown_to_test_user(&d);
    d
}

/// Scratch trees of test processes that have exited (each suite leaves its own: a static is
/// never dropped), so that repeated runs don't fill the disk.
fn remove_stale_scratch() {
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("sbox-it-")) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

pub fn chown_to_test_user(p: &Path) {
    let (u, g) = ids();
    std::os::unix::fs::lchown(p, Some(u), Some(g)).unwrap();
}

/// Path of the sbox binary, copied where the test user can run it.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = scratch("bin");
        let dst = dir.join("sbox");
        copy_executable(Path::new(env!("CARGO_BIN_EXE_sbox")), &dst);
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
        dst
    })
}

/// Copy a program that tests then run, by a `cp` process: a descriptor open for writing in
/// this (threaded) process would be inherited by another test's fork until its exec, and
/// running the copy meanwhile fails with ETXTBSY.
pub fn copy_executable(src: &Path, dst: &Path) {
    let st = Command::new("cp").arg(src).arg(dst).status().unwrap();
    assert!(st.success(), "cp {} {}", src.display(), dst.display());
}

/// A `Command` that runs `prog` as the unprivileged test user, from a neutral directory.
pub fn as_user(prog: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(prog);
    if is_root() {
        c.uid(TEST_UID).gid(TEST_GID);
    }
    c.current_dir("/").env("HOME", "/").stdin(Stdio::null());
    c
}

/// `sbox ARGS...` as the test user.
pub fn sbox_cmd(args: &[&str]) -> Command {
    let mut c = as_user(bin());
    c.args(args);
    c
}

pub fn sbox(args: &[&str]) -> Output {
    sbox_cmd(args).output().expect("run sbox")
}

/// The pseudo-terminal harness (tests/common/pty.py says what it does and prints).
pub const PTY_HARNESS: &str = include_str!("pty.py");

/// `argv` on a real pseudo-terminal, run by [`PTY_HARNESS`] as the test user, doing `steps`,
/// with `env` added: what the terminal showed.
pub fn on_pty(argv: &[String], steps: &[&str], env: &[(&str, String)]) -> String {
    let o = as_user("python3")
        .args(["-c", PTY_HARNESS])
        .env("ARGS", serde_json::to_string(argv).unwrap())
        .env("STEPS", serde_json::to_string(steps).unwrap())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(o.status.success(), "harness: {}", stderr(&o));
    stdout(&o)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run and require success; returns stdout.
#[track_caller]
pub fn ok(args: &[&str]) -> String {
    let o = sbox(args);
    assert!(
        o.status.success(),
        "sbox {args:?} failed: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// The host root, read-only, with a PID namespace and /proc, /dev: the common base.
pub const BASE: &[&str] = &[
    "--ro-bind",
    "/",
    "/",
    "--unshare-pid",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
];

/// BASE + extra options + a python3 snippet as the command.
pub fn py(extra: &[&str], code: &str) -> Output {
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend_from_slice(extra);
    args.extend_from_slice(&["python3", "-c", code]);
    sbox(&args)
}

#[track_caller]
pub fn py_ok(extra: &[&str], code: &str) -> String {
    let o = py(extra, code);
    assert!(
        o.status.success(),
        "python {code:?} with {extra:?} failed: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Python that prints the errno of a failing call, or "ok".
pub fn errno_of(stmt: &str) -> String {
    format!(
        "import os, errno, socket\ntry:\n    {stmt}\n    print('ok')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])"
    )
}

/// Assert the single-line error contract: one line, `sbox: ` + prefix, status 1.
#[track_caller]
pub fn assert_one_line_error(o: &Output, prefix: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "status; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "exactly one line: {err:?}");
    assert!(
        err.starts_with(&format!("sbox: {prefix}")),
        "{err:?} should start with 'sbox: {prefix}'"
    );
}

/// Pids of processes whose command line contains `marker`.
pub fn pids_with(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(marker)
        {
            out.push(pid);
        }
    }
    out
}

/// A missing prerequisite: say so, and fail under CI (a test never passes by skipping there).
pub fn skip_or_fail(test: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why} (required under CI)");
    }
    // Straight to stderr: the test harness captures eprintln! of a passing test.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("SKIPPED: {test}: {why}\n").as_bytes(),
    );
}

/// Debian's bubblewrap, to compare with where the test can run both.
pub fn real_bwrap(test: &str) -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/bwrap");
    if p.exists() {
        Some(p)
    } else {
        skip_or_fail(
            test,
            "no /usr/bin/bwrap (Debian: bubblewrap) to compare with",
        );
        None
    }
}

/// Pids of processes whose command line starts with `prefix` (not a wrapper naming it).
pub fn pids_running(prefix: &str) -> Vec<u32> {
    pids_with(prefix)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.starts_with(prefix.as_bytes()))
        })
        .collect()
}

/// Wait until no process's command line starts with `prefix`; false after `within`.
pub fn gone_within(prefix: &str, within: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while !pids_running(prefix).is_empty() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

/// Wait until some process's command line starts with `prefix`.
#[track_caller]
pub fn wait_for(prefix: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while pids_running(prefix).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{prefix:?} never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `--die-with-parent`: a wrapper (sh) runs `prog ARGS... sleep MARKER` and is SIGKILLed once
/// the sleep runs; true if the sleep is gone within a second.
pub fn killing_the_caller_ends_the_sandbox(prog: &Path, args: &[&str], marker: &str) -> bool {
    let mut sh = as_user("sh");
    sh.arg("-c")
        .arg("\"$@\"; echo not-reached")
        .arg("sh")
        .arg(prog)
        .args(args)
        .args(["sleep", marker]);
    let mut wrapper = sh.stdout(Stdio::null()).spawn().unwrap();
    let sleep = format!("sleep\0{marker}");
    wait_for(&sleep);
    wrapper.kill().unwrap();
    wrapper.wait().unwrap();
    let gone = gone_within(&sleep, std::time::Duration::from_secs(1));
    for pid in pids_running(&sleep) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    gone
}

/// Whether `prog` is on the PATH.
pub fn have(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// Write a file, making its parent directories.
pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Give a tree to the test user (the files were written by this process).
pub fn chown_tree(p: &Path) {
    chown_to_test_user(p);
    if p.is_dir() && !p.is_symlink() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path());
        }
    }
}
