//! The escape battery: each test attempts one attack from inside the sandbox, as an
//! unprivileged user, and asserts that it fails with the errno of the layer that stops it.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};

/// Python that makes a raw libc call and prints "ok" or the errno name.
fn libc_call(setup: &str, call: &str) -> String {
    format!(
        "import ctypes, errno, os, socket\nlibc = ctypes.CDLL(None, use_errno=True)\n{setup}\n\
         r = libc.{call}\nprint('ok' if r >= 0 else errno.errorcode[ctypes.get_errno()])"
    )
}

/// Run `code` in the common sandbox (host root read-only, PID namespace, /proc, /dev).
fn attempt(extra: &[&str], code: &str) -> String {
    py_ok(extra, code).trim().to_string()
}

#[test]
fn remount_root_read_write() {
    // MS_REMOUNT | MS_BIND: make / writable again.
    let code = libc_call("", "mount(None, b'/', None, 0x20 | 0x1000, None)");
    assert_eq!(attempt(&[], &code), "EPERM");
    // The new mount API, as a second way in: mount_setattr(2).
    let code = libc_call("", "syscall(442, -100, b'/', 0x8000, None, 0)");
    assert_eq!(attempt(&[], &code), "ENOSYS");
}

#[test]
fn mount_a_filesystem() {
    let code = libc_call("", "mount(b'none', b'/tmp', b'tmpfs', 0, None)");
    assert_eq!(attempt(&[], &code), "EPERM");
    // fsopen(2) is refused as unimplemented, so that libmount falls back to mount(2).
    assert_eq!(
        attempt(&[], &libc_call("", "syscall(430, b'tmpfs', 0)")),
        "ENOSYS"
    );
}

#[test]
fn new_user_namespace() {
    assert_eq!(attempt(&[], &libc_call("", "unshare(0x10000000)")), "EPERM");
    // clone(CLONE_NEWUSER | SIGCHLD)
    assert_eq!(
        attempt(
            &[],
            &libc_call("", "syscall(56, 0x10000000 | 17, 0, 0, 0, 0)")
        ),
        "EPERM"
    );
    // clone3 answers ENOSYS: its flags are out of seccomp's reach.
    assert_eq!(
        attempt(&[], &libc_call("", "syscall(435, None, 0)")),
        "ENOSYS"
    );
}

#[test]
fn setns_into_another_namespace() {
    let code = libc_call(
        "fd = os.open('/proc/self/ns/net', os.O_RDONLY)",
        "setns(fd, 0)",
    );
    assert_eq!(attempt(&[], &code), "EPERM");
}

#[test]
fn keyrings_and_bpf() {
    // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0)
    assert_eq!(
        attempt(&[], &libc_call("", "syscall(250, 0, -4, 0)")),
        "EPERM"
    );
    assert_eq!(
        attempt(
            &[],
            &libc_call("", "syscall(248, b'user', b'k', b'v', 1, -4)")
        ),
        "EPERM"
    );
    // bpf(BPF_MAP_CREATE, ...)
    assert_eq!(
        attempt(&[], &libc_call("", "syscall(321, 0, None, 0)")),
        "EPERM"
    );
}

/// A process of the test user outside any sandbox.
fn outsider() -> Child {
    as_user("sleep")
        .arg("30")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn signal_or_ptrace_a_process_outside() {
    let mut victim = outsider();
    let pid = victim.id();
    let kill = libc_call("", &format!("kill({pid}, 15)"));
    let ptrace = libc_call("", &format!("ptrace(16, {pid}, None, None)")); // PTRACE_ATTACH
    // With a PID namespace the process isn't even visible.
    assert_eq!(attempt(&[], &kill), "ESRCH");
    assert_eq!(attempt(&[], &ptrace), "ESRCH");
    // Without one, the command's Landlock domain scopes signals and ptrace to the sandbox.
    let shared = ["--ro-bind", "/", "/", "python3", "-c"];
    for code in [&kill, &ptrace] {
        let mut a = shared.to_vec();
        a.push(code);
        assert_eq!(stdout(&sbox(&a)).trim(), "EPERM", "{code}");
    }
    assert!(
        victim.try_wait().unwrap().is_none(),
        "the outside process was hit"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();
}

#[test]
fn tiocsti_into_the_controlling_terminal() {
    // sbox runs on a pseudo-terminal that is its controlling terminal, without
    // --new-session; the command tries to push a keystroke into it.
    let probe = "import fcntl, termios, errno\ntry:\n    fcntl.ioctl(0, termios.TIOCSTI, b'x'); print('ok')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])";
    let o = as_user("python3")
        .env("SBOX", bin())
        .env("PROBE", probe)
        .args(["-c", r#"
import os, pty, sys
pid, master = pty.fork()
if pid == 0:
    os.execv(os.environ['SBOX'], ['sbox', '--ro-bind', '/', '/', 'python3', '-c', os.environ['PROBE']])
out = b''
while True:
    try:
        chunk = os.read(master, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
os.waitpid(pid, 0)
print(out.decode().strip())
"#])
        .output()
        .unwrap();
    assert_eq!(stdout(&o).trim(), "EPERM", "{}", stderr(&o));
}

#[test]
fn write_proc_sys_and_sysrq_trigger() {
    for path in ["/proc/sys/kernel/hostname", "/proc/sysrq-trigger"] {
        // Kernels built without magic SysRq have no trigger to attack.
        let want = if std::path::Path::new(path).exists() {
            "EROFS"
        } else {
            "ENOENT"
        };
        assert_eq!(
            attempt(&[], &errno_of(&format!("open('{path}', 'w').write('x')"))),
            want,
            "{path}"
        );
    }
}

#[test]
fn open_sboxs_own_binary_for_writing() {
    // A copy of sbox owned by the test user, as in ~/.cargo/bin: only the sandbox's design
    // stands between the command and rewriting it (runc CVE-2019-5736).
    let dir = scratch("own-binary");
    let own = dir.join("sbox");
    std::fs::copy(bin(), &own).unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown_to_test_user(&own);
    let run = |args: &[&str]| {
        let o = as_user(&own).args(args).output().unwrap();
        stdout(&o).trim().to_string()
    };
    // pid 1 is sbox's init: not dumpable, so its exe link can't even be opened.
    let write_exe = |pid: &str| errno_of(&format!("open('/proc/{pid}/exe', 'r+b')"));
    let base = [
        "--ro-bind",
        "/",
        "/",
        "--unshare-pid",
        "--proc",
        "/proc",
        "python3",
        "-c",
    ];
    let mut a = base.to_vec();
    let code = write_exe("1");
    a.push(&code);
    assert_eq!(run(&a), "EACCES");
    // Without a PID namespace the supervisor (the parent) is visible, and not dumpable either.
    let code = write_exe("%d' % os.getppid() + '");
    let a = [
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "python3",
        "-c",
        &code,
    ];
    assert_eq!(run(&a), "EACCES");
    // And the binary itself, by path, while it runs: the kernel refuses to write a running
    // executable (checked before the read-only mount).
    let code = errno_of(&format!("open('{}', 'r+b')", own.display()));
    let a = ["--ro-bind", "/", "/", "python3", "-c", &code];
    assert_eq!(run(&a), "ETXTBSY");
}

/// A listening abstract unix socket on the host, owned by the test user.
fn abstract_listener(name: &str) -> Child {
    let code = format!(
        "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.bind('\\0{name}')\ns.listen(8)\nprint('up', flush=True)\nsys.stdin.read()"
    );
    let mut c = as_user("python3")
        .args(["-c", &code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(c.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "up");
    c
}

#[test]
fn abstract_unix_socket_outside() {
    let name = format!("sbox-test-{}", std::process::id());
    let mut listener = abstract_listener(&name);
    let connect = errno_of(&format!(
        "s = socket.socket(socket.AF_UNIX); s.connect('\\0{name}')"
    ));
    // Control: sharing the network and no Landlock, the socket is reachable.
    assert_eq!(attempt(&[], &connect), "ok");
    // A network namespace has its own abstract socket namespace.
    assert_eq!(attempt(&["--unshare-net"], &connect), "ECONNREFUSED");
    // Landlock scoping stops it without a network namespace.
    assert_eq!(attempt(&["--landlock"], &connect), "EPERM");
    drop(listener.stdin.take());
    listener.wait().unwrap();
}

#[test]
fn tcp_port_not_listed_for_connect() {
    let l1 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let l2 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (p1, p2) = (
        l1.local_addr().unwrap().port(),
        l2.local_addr().unwrap().port(),
    );
    let connect = |p: u16| errno_of(&format!("socket.create_connection(('127.0.0.1', {p}))"));
    let allowed = p1.to_string();
    let extra = ["--landlock", "--landlock-tcp-connect", allowed.as_str()];
    assert_eq!(attempt(&extra, &connect(p1)), "ok");
    assert_eq!(attempt(&extra, &connect(p2)), "EACCES");
}

#[test]
fn write_outside_the_landlock_rw_paths() {
    let d = scratch("landlock-rw");
    let ds = d.to_str().unwrap();
    // Both are writable mounts; only /tmp is writable in the Landlock rules.
    let extra = [
        "--bind",
        ds,
        "/mnt",
        "--tmpfs",
        "/tmp",
        "--landlock-ro",
        "/",
        "--landlock-rw",
        "/tmp",
    ];
    let code = errno_of("open('/tmp/ok', 'w').write('x'); open('/mnt/escape', 'w')");
    let o = py(&extra, &code);
    assert_eq!(stdout(&o).trim(), "EACCES", "{}", stderr(&o));
    assert!(!d.join("escape").exists());
}

#[test]
fn unknown_syscall_under_strict() {
    let strict = ["--seccomp-profile", "strict"];
    assert_eq!(attempt(&strict, &libc_call("", "syscall(1000)")), "ENOSYS");
    // A real syscall left out of the allow list answers the same.
    assert_eq!(
        attempt(&strict, &libc_call("", "syscall(103, 3, None, 0)")),
        "ENOSYS"
    ); // syslog
}

#[test]
fn read_or_ptrace_init() {
    // init stays enterable from outside (--info-fd's child-pid), so the command's Landlock
    // domain is what keeps it from init's memory, binary and namespaces; as sbox and as bwrap.
    let code = "import os, ctypes, errno\n\
        libc = ctypes.CDLL(None, use_errno=True)\n\
        out = []\n\
        for f in ['/proc/1/mem', '/proc/1/environ', '/proc/1/ns/user', '/proc/1/root/']:\n    \
            try:\n        os.open(f, os.O_RDONLY); out.append('opened')\n    \
            except OSError as e:\n        out.append(errno.errorcode[e.errno])\n\
        try:\n    os.readlink('/proc/1/exe'); out.append('exe')\n\
        except OSError as e:\n    out.append(errno.errorcode[e.errno])\n\
        out.append('ok' if libc.ptrace(16, 1, 0, 0) == 0 else errno.errorcode[ctypes.get_errno()])\n\
        print(' '.join(out))";
    let link = scratch("escape-bwrap-link").join("bwrap");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    for prog in [bin(), link.as_path()] {
        let o = as_user(prog)
            .args(BASE)
            .args(["python3", "-c", code])
            .output()
            .unwrap();
        assert_eq!(
            stdout(&o).trim(),
            "EACCES EACCES EACCES EACCES EACCES EPERM",
            "{prog:?} {}",
            stderr(&o)
        );
    }
}

#[test]
fn write_proc_knobs_of_a_process_outside() {
    // Without a PID namespace the host's /proc is bound: a process of the same user outside
    // the sandbox must keep its OOM score, autogroup nice value and page reference bits.
    let mut victim = outsider();
    let pid = victim.id();
    let knob = |name: &str| std::fs::read_to_string(format!("/proc/{pid}/{name}")).ok();
    let before = (knob("oom_score_adj"), knob("autogroup"));
    let code = format!(
        "import errno\nfor name, v in [('oom_score_adj', '900'), ('autogroup', '7'), ('clear_refs', '1')]:\n    try:\n        open('/proc/{pid}/' + name, 'w').write(v); print(name, 'ok')\n    except OSError as e:\n        print(name, errno.errorcode[e.errno])"
    );
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "python3",
        "-c",
        &code,
    ]);
    let out = stdout(&o);
    assert_eq!((knob("oom_score_adj"), knob("autogroup")), before, "{out}");
    for name in ["oom_score_adj", "autogroup", "clear_refs"] {
        let line = out.lines().find(|l| l.starts_with(name));
        // A kernel without autogroup has no such file (ENOENT): nothing to attack.
        assert!(
            matches!(line, Some(l) if l.ends_with("EROFS") || l.ends_with("ENOENT") && knob(name).is_none()),
            "{name}: {out}{}",
            stderr(&o)
        );
    }
    // Under the `bwrap` link the host's /proc stays writable, as bubblewrap binds it.
    let link = scratch("proc-link").join("bwrap");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    let o = as_user(&link)
        .args(["--ro-bind", "/", "/", "--proc", "/proc", "sh", "-c"])
        .arg(format!(
            "echo 0 > /proc/{pid}/oom_score_adj && echo written"
        ))
        .output()
        .unwrap();
    assert_eq!(stdout(&o).trim(), "written", "{}", stderr(&o));
    victim.kill().unwrap();
    victim.wait().unwrap();
}
