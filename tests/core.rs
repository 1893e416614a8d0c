//! The core sandbox, run as an unprivileged user: every option has an assertion that fails if
//! the option were ignored.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn host_ns(name: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{name}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn sandbox_ns(extra: &[&str], name: &str) -> String {
    let path = format!("/proc/self/ns/{name}");
    let mut args = vec!["--ro-bind", "/", "/"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["readlink", &path]);
    ok(&args).trim().to_string()
}

#[test]
fn user_and_mount_namespaces_always() {
    for ns in ["user", "mnt"] {
        assert_ne!(sandbox_ns(&[], ns), host_ns(ns), "{ns}");
    }
    // Without asking, the others are shared, as with bubblewrap.
    for ns in ["pid", "net", "ipc", "uts", "cgroup"] {
        assert_eq!(sandbox_ns(&[], ns), host_ns(ns), "{ns}");
    }
}

#[test]
fn each_unshare_option_creates_its_namespace() {
    for (opt, ns) in [
        ("--unshare-pid", "pid"),
        ("--unshare-net", "net"),
        ("--unshare-ipc", "ipc"),
        ("--unshare-uts", "uts"),
        ("--unshare-cgroup", "cgroup"),
        ("--unshare-user", "user"),
    ] {
        assert_ne!(sandbox_ns(&[opt], ns), host_ns(ns), "{opt}");
    }
    for ns in ["pid", "net", "ipc", "uts", "cgroup"] {
        assert_ne!(
            sandbox_ns(&["--unshare-all"], ns),
            host_ns(ns),
            "--unshare-all {ns}"
        );
    }
    assert_eq!(
        sandbox_ns(&["--unshare-all", "--share-net"], "net"),
        host_ns("net")
    );
    assert_ne!(
        sandbox_ns(&["--unshare-all", "--share-net"], "ipc"),
        host_ns("ipc")
    );
}

#[test]
fn pid_namespace_has_init_and_only_the_sandbox() {
    let out = py_ok(
        &[],
        "import os\npids=sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\nprint(os.getpid(), os.getppid(), pids)",
    );
    // init is 1, the command 2; nothing of the host is visible.
    assert_eq!(out.trim(), "2 1 [1, 2]");
    let out = py_ok(&["--as-pid-1"], "import os; print(os.getpid())");
    assert_eq!(out.trim(), "1");
}

#[test]
fn root_is_read_only_submounts_included() {
    assert_eq!(
        py_ok(&[], &errno_of("open('/sbox-test-file', 'w')")).trim(),
        "EROFS"
    );
    // /dev/shm is a writable submount on the host: still read-only through --ro-bind / /.
    let out = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "python3",
        "-c",
        &errno_of("open('/dev/shm/sbox-test', 'w')"),
    ]);
    assert_eq!(stdout(&out).trim(), "EROFS", "{}", stderr(&out));
}

#[test]
fn capabilities_cleared_and_no_new_privs() {
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--unshare-pid",
        "grep",
        "-E",
        "^(Cap|NoNewPrivs)",
        "/proc/self/status",
    ]);
    for line in out.lines() {
        let (k, v) = line.split_once(':').unwrap();
        let want = if k == "NoNewPrivs" {
            "1"
        } else {
            "0000000000000000"
        };
        assert_eq!(v.trim(), want, "{line}");
    }
    assert_eq!(out.lines().count(), 6);
}

#[test]
fn cap_add_keeps_only_that_capability_inside() {
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--cap-add",
        "CAP_NET_RAW",
        "grep",
        "^Cap",
        "/proc/self/status",
    ]);
    let bit = format!("{:016x}", 1u64 << 13);
    for line in out.lines() {
        let (k, v) = line.split_once(':').unwrap();
        assert_eq!(v.trim(), bit, "{k}");
    }
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--cap-add",
        "ALL",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "cap_chown",
        "grep",
        "^CapEff",
        "/proc/self/status",
    ]);
    assert!(out.contains(&format!("{:016x}", 1u64)), "{out}");
}

#[test]
fn unshare_net_has_only_loopback_and_it_is_up() {
    let out = py_ok(
        &["--unshare-net"],
        "import socket\nifs=[l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]]\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(1)\nc=socket.create_connection(s.getsockname())\nprint(ifs, 'connected')",
    );
    assert_eq!(out.trim(), "['lo'] connected");
}

#[test]
fn exit_status_propagates() {
    for extra in [
        &[][..],
        &["--unshare-pid"][..],
        &["--unshare-pid", "--as-pid-1"][..],
    ] {
        // pid 1 ignores even SIGKILL sent from inside its own namespace.
        let kill = if extra.contains(&"--as-pid-1") {
            "sh -c 'kill -9 $$'"
        } else {
            "kill -9 $$"
        };
        for (cmd, code) in [("exit 0", 0), ("exit 7", 7), (kill, 137)] {
            let mut args = vec!["--ro-bind", "/", "/"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["sh", "-c", cmd]);
            assert_eq!(sbox(&args).status.code(), Some(code), "{extra:?} {cmd}");
        }
    }
}

#[test]
fn die_with_parent_kills_the_sandbox() {
    let marker = "3141.5926";
    let mut child = sbox_cmd(&[
        "--ro-bind",
        "/",
        "/",
        "--unshare-pid",
        "--die-with-parent",
        "sleep",
        marker,
    ])
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids_with(&format!("sleep\0{marker}")).is_empty() {
        assert!(Instant::now() < deadline, "sleep never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    while !pids_with(&format!("sleep\0{marker}")).is_empty() {
        assert!(Instant::now() < deadline, "the sandbox outlived sbox");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn die_with_parent_also_follows_sboxs_caller() {
    // Killing the program that started sbox (as a timeout does) ends the sandbox.
    for (extra, marker) in [(&[][..], "2718.1"), (&["--unshare-pid"][..], "2718.2")] {
        let mut args = vec!["--ro-bind", "/", "/", "--die-with-parent"];
        args.extend_from_slice(extra);
        assert!(
            killing_the_caller_ends_the_sandbox(bin(), &args, marker),
            "{extra:?}: the sandbox outlived sbox's caller"
        );
    }
}

#[test]
fn a_signal_ends_a_shell_waiting_for_its_child() {
    // A shell ignores SIGINT/SIGTERM meant for it while a foreground child runs: the signal
    // must reach every process of the sandbox, as a terminal's Ctrl-C reaches its group.
    use nix::sys::signal::Signal;
    for (i, extra) in [&[][..], &["--unshare-pid"][..]].iter().enumerate() {
        for (sig, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
            let marker = format!("3.{i}{code}");
            let script = format!("echo ready; sleep {marker}; echo after-sleep");
            let mut args = vec!["--ro-bind", "/", "/"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["bash", "-c", &script]);
            let mut child = sbox_cmd(&args).stdout(Stdio::piped()).spawn().unwrap();
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "ready");
            // The shell is waiting for its child.
            wait_for(&format!("sleep\0{marker}"));
            let t = Instant::now();
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
            let mut rest = String::new();
            std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
            let status = child.wait().unwrap();
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "{extra:?} {sig}: too slow"
            );
            assert_eq!(rest, "", "{extra:?} {sig}");
            assert_eq!(status.code(), Some(code), "{extra:?} {sig}");
        }
    }
}

#[test]
fn init_ignores_a_signal_sent_from_inside() {
    // As bubblewrap's: a build that signals pid 1 goes on.
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--unshare-pid",
        "sh",
        "-c",
        "set -e; kill -TERM 1; kill -INT 1; kill -HUP 1; sleep 0.3; echo alive",
    ]);
    // `set -e`: kill itself succeeds (a build step doing this passes, as under bubblewrap).
    assert_eq!(stdout(&o).trim(), "alive", "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_eq!(o.status.code(), Some(0));
}

fn signal_reaches_command(extra: &[&str]) {
    let mut args = vec!["--ro-bind", "/", "/"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "sh",
        "-c",
        "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done",
    ]);
    let mut child = sbox_cmd(&args).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "got-term", "{extra:?}");
    assert_eq!(child.wait().unwrap().code(), Some(3), "{extra:?}");
}

#[test]
fn sigterm_is_forwarded_to_the_command() {
    signal_reaches_command(&[]);
    signal_reaches_command(&["--unshare-pid"]);
    signal_reaches_command(&["--unshare-pid", "--new-session"]);
}

#[test]
fn bind_is_writable_and_visible_on_the_host() {
    let d = scratch("bind");
    let ds = d.to_str().unwrap();
    ok(&[
        "--ro-bind",
        "/",
        "/",
        "--bind",
        ds,
        "/mnt",
        "sh",
        "-c",
        "echo hi > /mnt/f",
    ]);
    assert_eq!(std::fs::read_to_string(d.join("f")).unwrap(), "hi\n");
    // --ro-bind of the same directory refuses writes.
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--ro-bind",
        ds,
        "/mnt",
        "python3",
        "-c",
        &errno_of("open('/mnt/g','w')"),
    ]);
    assert_eq!(stdout(&o).trim(), "EROFS");
}

#[test]
fn binds_are_nodev_except_dev_bind() {
    let code = errno_of("open('/x/null','w').write('a')");
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/mnt",
        "--bind",
        "/dev",
        "/mnt/x",
        "python3",
        "-c",
        &code.replace("/x/", "/mnt/x/"),
    ]);
    assert_eq!(stdout(&o).trim(), "EACCES", "{}", stderr(&o));
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/mnt",
        "--dev-bind",
        "/dev",
        "/mnt/x",
        "python3",
        "-c",
        &code.replace("/x/", "/mnt/x/"),
    ]);
    assert_eq!(stdout(&o).trim(), "ok", "{}", stderr(&o));
}

#[test]
fn try_binds_skip_missing_sources_only() {
    for opt in ["--bind-try", "--ro-bind-try", "--dev-bind-try"] {
        ok(&[
            "--ro-bind",
            "/",
            "/",
            opt,
            "/nonexistent-sbox",
            "/mnt/x",
            "true",
        ]);
        let out = ok(&[
            "--ro-bind",
            "/",
            "/",
            opt,
            "/etc",
            "/mnt",
            "ls",
            "/mnt/passwd",
        ]);
        assert_eq!(out.trim(), "/mnt/passwd", "{opt}");
    }
}

#[test]
fn tmpfs_dir_symlink_and_order() {
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/mnt",
        "--dir",
        "/mnt/a/b",
        "--symlink",
        "a/b",
        "/mnt/link",
        "--perms",
        "0700",
        "--dir",
        "/mnt/private",
        "sh",
        "-c",
        "touch /mnt/a/b/f && ls /mnt/link && stat -c %a /mnt/private && ls -A /tmp | head -0",
    ]);
    assert_eq!(out, "f\n700\n");
    // A later tmpfs hides what an earlier --dir made.
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/mnt",
        "--dir",
        "/mnt/x/a",
        "--tmpfs",
        "/mnt/x",
        "ls",
        "-A",
        "/mnt/x",
    ]);
    assert_eq!(out, "");
    // An identical symlink twice is fine; a different one is an error.
    ok(&[
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/mnt",
        "--symlink",
        "x",
        "/mnt/l",
        "--symlink",
        "x",
        "/mnt/l",
        "true",
    ]);
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/mnt",
        "--symlink",
        "x",
        "/mnt/l",
        "--symlink",
        "y",
        "/mnt/l",
        "true",
    ]);
    assert_one_line_error(&o, "--symlink: /mnt/l:");
}

#[test]
fn tmpfs_size_limits_writes() {
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--size",
        "64K",
        "--tmpfs",
        "/mnt",
        "sh",
        "-c",
        "head -c 200000 /dev/zero > /mnt/f",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("No space left"), "{}", stderr(&o));
}

#[test]
fn remount_ro_makes_a_writable_bind_read_only() {
    let d = scratch("remount");
    let ds = d.to_str().unwrap();
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--bind",
        ds,
        "/mnt",
        "--remount-ro",
        "/mnt",
        "python3",
        "-c",
        &errno_of("open('/mnt/f','w')"),
    ]);
    assert_eq!(stdout(&o).trim(), "EROFS", "{}", stderr(&o));
    // Also on a plain directory of a writable tmpfs (not a mount point).
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/mnt",
        "--dir",
        "/mnt/d",
        "--remount-ro",
        "/mnt/d",
        "python3",
        "-c",
        &errno_of("open('/mnt/d/f','w')"),
    ]);
    assert_eq!(stdout(&o).trim(), "EROFS", "{}", stderr(&o));
}

#[test]
fn proc_and_dev() {
    let out = py_ok(
        &[],
        "import os\nprint(sorted(os.listdir('/dev')))\nm,s=os.openpty()\nprint(os.ttyname(s))\nopen('/dev/null','w').write('x')\nprint(len(open('/dev/urandom','rb').read(8)))",
    );
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "['core', 'fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']"
    );
    assert_eq!(
        lines.next().unwrap(),
        "/dev/pts/0",
        "a private devpts starts at 0"
    );
    assert_eq!(lines.next().unwrap(), "8");
    // /proc/sys stays read-only.
    let out = py_ok(
        &[],
        &errno_of("open('/proc/sys/kernel/hostname','w').write('x')"),
    );
    assert!(["EROFS", "EACCES"].contains(&out.trim()), "{out}");
}

#[test]
fn hostname_needs_and_uses_uts() {
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--unshare-uts",
        "--hostname",
        "sandbox-host",
        "cat",
        "/proc/sys/kernel/hostname",
    ]);
    assert_eq!(out.trim(), "sandbox-host");
    let o = sbox(&["--ro-bind", "/", "/", "--hostname", "x", "true"]);
    assert_one_line_error(&o, "--hostname:");
}

#[test]
fn unshare_cgroup_sees_its_own_root() {
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--unshare-cgroup",
        "cat",
        "/proc/self/cgroup",
    ]);
    for line in out.lines() {
        assert!(line.ends_with(":/"), "{line}");
    }
}

#[test]
fn uid_gid_default_and_chosen() {
    let (u, g) = ids();
    assert_eq!(
        ok(&["--ro-bind", "/", "/", "id", "-u"]).trim(),
        u.to_string()
    );
    assert_eq!(
        ok(&["--ro-bind", "/", "/", "id", "-g"]).trim(),
        g.to_string()
    );
    assert_eq!(
        ok(&[
            "--ro-bind",
            "/",
            "/",
            "--uid",
            "0",
            "--gid",
            "0",
            "id",
            "-u"
        ])
        .trim(),
        "0"
    );
    assert_eq!(
        ok(&[
            "--ro-bind",
            "/",
            "/",
            "--uid",
            "1234",
            "--gid",
            "5678",
            "sh",
            "-c",
            "id -u; id -g"
        ]),
        "1234\n5678\n"
    );
    // uid 0 inside still has no capabilities.
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--uid",
        "0",
        "grep",
        "^CapEff",
        "/proc/self/status",
    ]);
    assert!(out.contains("0000000000000000"), "{out}");
}

#[test]
fn chdir_and_environment() {
    assert_eq!(
        ok(&["--ro-bind", "/", "/", "--chdir", "/etc", "pwd"]).trim(),
        "/etc"
    );
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--setenv",
        "FOO",
        "bar",
        "--unsetenv",
        "HOME",
        "--setenv",
        "BAZ",
        "1",
        "--unsetenv",
        "BAZ",
        "sh",
        "-c",
        "echo $FOO-${HOME-unset}-${BAZ-unset}",
    ]);
    assert_eq!(out.trim(), "bar-unset-unset");
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--clearenv",
        "--setenv",
        "ONLY",
        "1",
        "/usr/bin/env",
    ]);
    let mut vars: Vec<_> = out.lines().collect();
    vars.sort();
    assert_eq!(vars, ["ONLY=1", "PWD=/"]);
    let o = sbox(&["--ro-bind", "/", "/", "--chdir", "/nonexistent", "true"]);
    assert_one_line_error(&o, "--chdir: /nonexistent:");
}

#[test]
fn the_command_leads_a_process_group_of_its_own() {
    // Signals sbox passes on reach all of it; without a controlling terminal in sbox (as
    // here) a new session is not needed (tests/terminal.rs covers the terminal cases).
    let code = "import os; print(os.getpgid(0) == os.getpid(), os.getsid(0) == os.getpid())";
    assert_eq!(py_ok(&[], code).trim(), "True False");
    assert_eq!(py_ok(&["--new-session"], code).trim(), "True True");
    let o = sbox(&["--ro-bind", "/", "/", "python3", "-c", code]);
    assert_eq!(stdout(&o).trim(), "True False", "{}", stderr(&o));
}

#[test]
fn only_standard_descriptors_leak_in() {
    let code = "import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd')))";
    let script = format!(
        "exec 5</etc/hostname 7</etc/passwd; exec {} --ro-bind / / --unshare-pid --proc /proc python3 -c \"{code}\"",
        bin().display()
    );
    let o = as_user("sh").args(["-c", &script]).output().unwrap();
    // 0, 1, 2, and the descriptor listdir itself opened.
    assert_eq!(stdout(&o).trim(), "[0, 1, 2, 3]", "{}", stderr(&o));
}

#[test]
fn help_and_version() {
    let o = sbox(&["--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("--ro-bind"));
    let o = sbox(&["--version"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("sbox "));
}

#[test]
fn bad_input_gives_one_clear_line_and_leaves_nothing() {
    let mounts_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for (args, prefix) in [
        (
            &["--ro-bind", "/nonexistent-src", "/x", "true"][..],
            "--ro-bind: /nonexistent-src: No such file or directory",
        ),
        (
            &["--ro-bind", "/", "/", "no-such-command-sbox"][..],
            "exec: no-such-command-sbox: command not found",
        ),
        (
            &["--ro-bind", "/", "/", "/no/such/path"][..],
            "exec: /no/such/path: No such file",
        ),
        (&["--bind", "/etc"][..], "--bind: missing argument"),
        (&["--uid", "x", "true"][..], "--uid: 'x'"),
        (&["--frob", "true"][..], "--frob: unknown option"),
        (&["--ro-bind", "/", "/"][..], "no command given"),
        (
            &["--cap-add", "CAP_NOPE", "true"][..],
            "--cap-add: 'CAP_NOPE': unknown capability",
        ),
        (
            &[
                "--ro-bind",
                "/",
                "/",
                "--bind",
                "/etc/passwd",
                "/usr/new-file",
                "true",
            ][..],
            "--bind: /usr/new-file: Read-only file system",
        ),
    ] {
        let o = sbox(args);
        assert_one_line_error(&o, prefix);
    }
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        mounts_before
    );
}

#[test]
fn symlink_destination_cannot_reach_the_host() {
    let d = scratch("escape");
    let outside = std::env::temp_dir().join(format!("sbox-escape-target-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outside);
    std::os::unix::fs::symlink(&outside, d.join("link")).unwrap();
    let ds = d.to_str().unwrap();
    // The symlink resolves inside the new root (a tmpfs), so the host is untouched.
    let inside = format!("{}/sub", outside.display());
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/tmp",
        "--bind",
        ds,
        "/tmp/d",
        "--dir",
        "/tmp/d/link/sub",
        "--tmpfs",
        "/tmp/d/link/t",
        "ls",
        "-d",
        &inside,
    ]);
    assert_eq!(out.trim(), inside, "created inside the sandbox's own /tmp");
    assert!(!outside.exists(), "created on the host through a symlink");
    std::fs::remove_file(d.join("link")).unwrap();
}

#[test]
fn tmpfs_root_with_a_minimal_tree() {
    // A root made only of a few read-only binds: the host's other paths are absent.
    let out = ok(&[
        "--tmpfs",
        "/",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--unshare-pid",
        "--proc",
        "/proc",
        "sh",
        "-c",
        "ls /; test -e /etc/passwd || echo no-etc",
    ]);
    assert_eq!(out, "bin\nlib\nlib64\nproc\nusr\nno-etc\n");
}

#[test]
fn verbose_reports_each_setup_step() {
    let o = sbox(&["-v", "--ro-bind", "/", "/", "--unshare-net", "true"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{:?}: {err}", o.status);
    for step in [
        "uid/gid maps",
        "private mounts",
        "open sources",
        "build root",
        "pivot_root",
        "loopback up",
    ] {
        assert!(
            err.contains(&format!("sbox: {step}: ")),
            "{step} missing in {err}"
        );
    }
    let quiet = sbox(&["--ro-bind", "/", "/", "true"]);
    assert!(stderr(&quiet).is_empty(), "without -v: {}", stderr(&quiet));
}

#[test]
fn verbose_times_hostname_lock_files_and_landlock_as_every_step() {
    let o = sbox(&[
        "-v",
        "--ro-bind",
        "/",
        "/",
        "--unshare-uts",
        "--hostname",
        "h",
        "--lock-file",
        "/etc/hostname",
        "true",
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{:?}: {err}", o.status);
    for step in ["hostname", "lock files", "landlock"] {
        let timed = err
            .lines()
            .any(|l| l.starts_with(&format!("sbox: {step}: ")) && l.ends_with(" ms"));
        assert!(timed, "{step} untimed in {err}");
    }
}

#[test]
fn fixture_root_built_from_host_programs() {
    // A root like one prepared by hand for chroot: a few host programs and their shared
    // libraries, nothing else of the host.
    let root = scratch("fixture-root");
    let progs: Vec<std::ffi::OsString> = ["sh", "ls", "cat", "id", "touch", "sleep"]
        .iter()
        .map(|p| p.into())
        .collect();
    sbox::mkroot::build(&root, &progs).unwrap();
    let r = root.to_str().unwrap();
    let (uid, _) = ids();
    let out = ok(&[
        "--ro-bind",
        r,
        "/",
        "--unshare-pid",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "sh",
        "-c",
        "id -u; ls /proc | while read p; do case $p in [0-9]*) echo pid $p;; esac; done; touch /x 2>/dev/null || echo ro; touch /tmp/ok && echo tmp; ls /bin/cat",
    ]);
    let pids: Vec<u32> = out
        .lines()
        .filter_map(|l| l.strip_prefix("pid ")?.parse().ok())
        .collect();
    // init, the shell and its pipeline: nothing of the host.
    assert!(
        pids.starts_with(&[1, 2]) && pids.len() <= 5 && pids.iter().all(|&p| p < 10),
        "{pids:?}"
    );
    let rest: Vec<&str> = out.lines().filter(|l| !l.starts_with("pid ")).collect();
    assert_eq!(rest, [uid.to_string().as_str(), "ro", "tmp", "/bin/cat"]);
    // Programs not put into the root are not there.
    let o = sbox(&["--ro-bind", r, "/", "python3", "-c", "1"]);
    assert_one_line_error(&o, "exec: python3: command not found");
}

/// --report-planted DIR: after the run, one warning line per file planted under DIR for a
/// program run later outside the sandbox; nothing for ordinary files.
#[test]
fn report_planted_names_each_planted_file() {
    let d = scratch("report-planted");
    std::thread::sleep(std::time::Duration::from_millis(30));
    let dir = d.to_str().unwrap();
    let script =
        format!("mkdir {dir}/sub && touch {dir}/sub/.envrc {dir}/a.o && ln -s / {dir}/.git");
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--bind",
        dir,
        dir,
        "--report-planted",
        dir,
        "sh",
        "-c",
        &script,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 2, "{err}");
    for p in ["sub/.envrc", ".git"] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("sbox: warning: {dir}/{p}: planted"))),
            "{p}: {err}"
        );
    }
    let o = sbox(&["--ro-bind", "/", "/", "--report-planted", "rel", "true"]);
    assert_one_line_error(&o, "--report-planted: rel: not an absolute path");
}
