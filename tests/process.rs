//! The command's process attributes that an OCI config brings, through sbox's own options:
//! rlimits, umask, oom_score_adj, sysctls; and capabilities that work on the sandbox's own
//! namespaces.

mod common;
use common::*;

#[test]
fn rlimit_sets_soft_and_hard_limits() {
    let code = "import resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE), resource.getrlimit(resource.RLIMIT_CORE))";
    let out = py_ok(&["--rlimit", "NOFILE=100:200", "--rlimit", "core=0"], code);
    assert_eq!(out.trim(), "(100, 200) (0, 0)");
    // A later one for the same resource wins.
    let out = py_ok(
        &["--rlimit", "NOFILE=100:200", "--rlimit", "RLIMIT_NOFILE=50"],
        code,
    );
    assert!(out.starts_with("(50, 50)"), "{out}");
    // A hard limit above the caller's can't be had in a user namespace: one line.
    let o = py(&["--rlimit", "NOFILE=10:unlimited"], "print('ran')");
    assert_one_line_error(&o, "--rlimit NOFILE: 10:unlimited: Operation not permitted");
    assert!(stderr(&o).contains("above the caller's"), "{}", stderr(&o));
    let o = sbox(&["--rlimit", "NOFILE=20:10", "true"]);
    assert_one_line_error(&o, "--rlimit NOFILE: the soft limit 20 is above");
    let o = sbox(&["--rlimit", "FLY=1", "true"]);
    assert_one_line_error(&o, "--rlimit: 'FLY=1': unknown resource");
}

#[test]
fn umask_is_the_commands() {
    let umask = |extra: &[&str]| {
        let mut args = vec!["--ro-bind", "/", "/"];
        args.extend(extra);
        args.extend(["sh", "-c", "umask"]);
        ok(&args).trim().to_string()
    };
    assert_eq!(umask(&["--umask", "027"]), "0027");
    assert_eq!(umask(&["--umask", "0"]), "0000");
    // Default: the caller's (the test harness runs sbox with its own umask).
    let mine = unsafe { libc::umask(0o022) };
    unsafe { libc::umask(mine) };
    assert_eq!(umask(&[]), format!("{mine:04o}"));
    let o = sbox(&["--umask", "1777", "true"]);
    assert_one_line_error(&o, "--umask: 1777");
}

const BIND_80: &str = "import socket\ntry:\n    s = socket.socket(); s.bind(('127.0.0.1', 80)); print('bound')\nexcept OSError as e:\n    print(e.strerror)";

/// The capability works on the sandbox's own network namespace (on the old main the command
/// sat one user namespace below the one owning it: EACCES).
#[test]
fn net_bind_service_binds_port_80_in_the_sandboxs_network() {
    let kept = ["--unshare-net", "--cap-add", "CAP_NET_BIND_SERVICE"];
    assert_eq!(py_ok(&kept, BIND_80).trim(), "bound");
    assert_eq!(
        py_ok(&["--unshare-net"], BIND_80).trim(),
        "Permission denied"
    );
    // In the host's network namespace the capability gives nothing.
    let host = ["--cap-add", "CAP_NET_BIND_SERVICE"];
    assert_eq!(py_ok(&host, BIND_80).trim(), "Permission denied");
}

#[test]
fn net_admin_configures_the_sandboxs_interfaces() {
    if !have("ip") && !std::path::Path::new("/usr/sbin/ip").exists() {
        return skip_or_fail(
            "net_admin_configures_the_sandboxs_interfaces",
            "no ip (iproute2)",
        );
    }
    let ip = |extra: &[&str]| {
        let mut args: Vec<&str> = BASE.to_vec();
        args.extend(["--unshare-net"]);
        args.extend(extra);
        args.extend([
            "sh",
            "-c",
            "PATH=$PATH:/usr/sbin; ip addr add 10.9.8.7/8 dev lo && ip link set lo mtu 1500 && ip -o addr show lo",
        ]);
        sbox(&args)
    };
    let o = ip(&["--cap-add", "CAP_NET_ADMIN"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("10.9.8.7/8"), "{}", stdout(&o));
    let o = ip(&[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Operation not permitted"),
        "{}",
        stderr(&o)
    );
}

/// Keeping capabilities in the sandbox's own user namespace does not lift the limit on new
/// user namespaces (it needs CAP_SYS_RESOURCE there, which sends the command one level down
/// as before), nor lets CAP_SYS_ADMIN remount a read-only bind.
#[test]
fn kept_capabilities_do_not_lift_the_sandbox() {
    let userns = "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n\
                  r = libc.unshare(0x10000000)\nprint('ok' if r >= 0 else errno.errorcode[ctypes.get_errno()])\n\
                  try:\n    open('/proc/sys/user/max_user_namespaces', 'w').write('10')\n    print('raised')\n\
                  except OSError as e:\n    print(errno.errorcode[e.errno])";
    for cap in ["CAP_NET_ADMIN", "CAP_SYS_RESOURCE", "ALL"] {
        let args = [
            "--unshare-net",
            "--seccomp-profile",
            "none",
            "--cap-add",
            cap,
        ];
        let out = py_ok(&args, userns);
        assert_eq!(
            out.split_whitespace().next(),
            Some("ENOSPC"),
            "{cap}: {out}"
        );
        assert_ne!(
            out.split_whitespace().nth(1),
            Some("raised"),
            "{cap}: {out}"
        );
    }
    let dir = scratch("ro-remount");
    write(&dir.join("f"), "host\n");
    chown_tree(&dir);
    let d = dir.to_str().unwrap();
    let remount = format!(
        "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         r = libc.mount(None, b'{d}', None, 0x20 | 0x1000, None)\n\
         print('ok' if r >= 0 else errno.errorcode[ctypes.get_errno()])\n\
         try:\n    open('{d}/f', 'w').write('planted')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])"
    );
    let args = [
        "--unshare-net",
        "--seccomp-profile",
        "none",
        "--cap-add",
        "CAP_SYS_ADMIN",
        "--ro-bind",
        d,
        d,
    ];
    let out = py_ok(&args, &remount);
    assert_eq!(out.split_whitespace().next(), Some("EPERM"), "{out}");
    assert_eq!(std::fs::read_to_string(dir.join("f")).unwrap(), "host\n");
}

/// A sandbox with a network of its own, a listener and an address in it, and its pid from
/// `--info-fd 3`. It runs until its stdin closes.
fn netns_holder() -> (std::process::Child, u32) {
    use std::io::{BufRead, Read};
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend([
        "--unshare-net",
        "--cap-add",
        "CAP_NET_ADMIN",
        "--info-fd",
        "3",
        "sh",
        "-c",
        "PATH=$PATH:/usr/sbin; ip addr add 10.7.7.7/8 dev lo && exec python3 -c \"import socket, sys\ns = socket.socket(); s.bind(('127.0.0.1', 4567)); s.listen(5)\nprint('listening', flush=True)\nsys.stdin.read()\"",
    ]);
    let (info_r, info_w): (OwnedFd, OwnedFd) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let w = info_w.as_raw_fd();
    let mut cmd = sbox_cmd(&args);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    // SAFETY: only dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(w, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(info_w);
    let mut info = String::new();
    std::fs::File::from(info_r)
        .read_to_string(&mut info)
        .unwrap();
    let pid = (info.lines())
        .find_map(|l| l.trim().strip_prefix("\"child-pid\": "))
        .and_then(|v| v.trim_end_matches(',').parse().ok())
        .expect("child-pid in --info-fd");
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "listening");
    (child, pid)
}

#[test]
fn join_ns_enters_the_network_of_a_running_sandbox() {
    if !std::path::Path::new("/usr/sbin/ip").exists() {
        return skip_or_fail("join_ns_enters_the_network_of_a_running_sandbox", "no ip");
    }
    let (mut holder, pid) = netns_holder();
    let user = format!("user:/proc/{pid}/ns/user");
    let net = format!("net:/proc/{pid}/ns/net");
    let code = "import socket\nc = socket.create_connection(('127.0.0.1', 4567)); print('connected')\nprint(open('/proc/net/if_inet6').read().count('lo'))";
    let joined = py_ok(&["--join-ns", &user, "--join-ns", &net], code);
    assert!(joined.starts_with("connected"), "{joined}");
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend(["--join-ns", &user, "--join-ns", &net]);
    args.extend(["/usr/sbin/ip", "-o", "addr", "show", "lo"]);
    assert!(ok(&args).contains("10.7.7.7/8"));
    // Without its user namespace the network namespace can't be joined: one line.
    let o = py(&["--join-ns", &net], "print('ran')");
    assert_one_line_error(
        &o,
        &format!("--join-ns net: /proc/{pid}/ns/net: Operation not permitted"),
    );
    // The wrong kind, a missing file, a namespace joined and created: one line each.
    let o = py(
        &[
            "--join-ns",
            &user,
            "--join-ns",
            &format!("uts:/proc/{pid}/ns/net"),
        ],
        "print('ran')",
    );
    assert_one_line_error(
        &o,
        &format!("--join-ns uts: /proc/{pid}/ns/net: not a uts namespace"),
    );
    let o = py(&["--join-ns", "net:/nonexistent"], "print('ran')");
    assert_one_line_error(&o, "--join-ns net: /nonexistent: No such file");
    let o = py(&["--unshare-net", "--join-ns", &net], "print('ran')");
    assert_one_line_error(
        &o,
        &format!("--join-ns {net}: conflicts with --unshare-net"),
    );
    // The host's network from a sandbox without --join-ns: no listener there.
    let host = py_ok(
        &[],
        &errno_of("socket.create_connection(('127.0.0.1', 4567))"),
    );
    assert_eq!(host.trim(), "ECONNREFUSED");
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
}

/// Podman's situation: the caller is root of its own user namespace (here `unshare -r`), and
/// the sandbox makes none: the command is in the caller's user namespace, with the
/// capabilities asked for, which work on the sandbox's own network namespace.
#[test]
fn share_userns_stays_in_the_callers_user_namespace() {
    if !have("unshare") {
        return skip_or_fail(
            "share_userns_stays_in_the_callers_user_namespace",
            "no unshare",
        );
    }
    let script = "readlink /proc/self/ns/user; \"$0\" --share-userns --ro-bind / / --dev /dev \
                  --unshare-pid --proc /proc --unshare-net --cap-add CAP_NET_BIND_SERVICE \
                  sh -c 'readlink /proc/self/ns/user; cat /proc/self/uid_map; grep CapEff /proc/self/status; \
                  python3 -c \"import socket; s = socket.socket(); s.bind((\\\"127.0.0.1\\\", 80)); print(\\\"bound\\\")\"'";
    let o = as_user("unshare")
        .args(["-r", "sh", "-c", script])
        .arg(bin())
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{out} {}", stderr(&o));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], lines[1], "the same user namespace: {out}");
    let (uid, _) = ids();
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["0", &uid.to_string(), "1"]
    );
    assert_eq!(lines[3], format!("CapEff:\t{:016x}", 1u64 << 10));
    assert_eq!(lines[4], "bound");
    // Without CAP_SYS_ADMIN in the caller's user namespace: one line saying what is needed.
    let o = sbox(&["--share-userns", "--ro-bind", "/", "/", "true"]);
    assert_one_line_error(
        &o,
        "namespaces: Operation not permitted: without a user namespace",
    );
    // Nothing to map without a user namespace: refused before anything starts.
    let o = sbox(&["--share-userns", "--disable-userns", "true"]);
    assert_one_line_error(&o, "--share-userns: conflicts with --disable-userns");
}

/// Sysctls of the sandbox's own namespaces are written inside; the host's stay as they were,
/// and /proc/sys stays read-only to the command.
#[test]
fn sysctl_writes_the_sandboxs_own_namespaces() {
    let host = |p: &str| std::fs::read_to_string(format!("/proc/sys/{p}")).unwrap();
    let before = (
        host("net/ipv4/ip_unprivileged_port_start"),
        host("kernel/shmmax"),
        host("kernel/domainname"),
    );
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend([
        "--uid",
        "0",
        "--gid",
        "0",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--sysctl",
        "net.ipv4.ip_unprivileged_port_start=80",
        "--sysctl",
        "net.ipv4.ping_group_range=0 0",
        "--sysctl",
        "kernel.shmmax=12345",
        "--sysctl",
        "kernel.domainname=sandbox.test",
        "sh",
        "-c",
        "cd /proc/sys; cat net/ipv4/ip_unprivileged_port_start net/ipv4/ping_group_range kernel/shmmax kernel/domainname; \
         echo 1 2>/dev/null > kernel/shmmax || echo read-only",
    ]);
    let out = ok(&args);
    assert_eq!(out, "80\n0\t0\n12345\nsandbox.test\nread-only\n");
    let after = (
        host("net/ipv4/ip_unprivileged_port_start"),
        host("kernel/shmmax"),
        host("kernel/domainname"),
    );
    assert_eq!(before, after);
    // A sysctl of no namespace of the sandbox's own: refused before anything starts.
    let o = sbox(&["--unshare-pid", "--sysctl", "kernel.panic=1", "true"]);
    assert_one_line_error(&o, "--sysctl kernel.panic: not a namespaced sysctl");
    let o = sbox(&["--unshare-pid", "--sysctl", "net.ipv4.ip_forward=1", "true"]);
    assert_one_line_error(
        &o,
        "--sysctl net.ipv4.ip_forward: needs a network namespace",
    );
    let o = py(
        &["--unshare-net", "--sysctl", "net.ipv4.nope=1"],
        "print('ran')",
    );
    assert_one_line_error(
        &o,
        "--sysctl net.ipv4.nope: /proc/sys/net/ipv4/nope: no such sysctl",
    );
    // IPC sysctls belong to uid 0 of the sandbox.
    let o = py(
        &["--unshare-ipc", "--sysctl", "kernel.shmmax=5"],
        "print('ran')",
    );
    assert_one_line_error(
        &o,
        "--sysctl kernel.shmmax: /proc/sys/kernel/shmmax: Permission denied: only uid 0",
    );
}

#[test]
fn oom_score_adj_is_raised_for_the_command() {
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--oom-score-adj",
        "700",
        "cat",
        "/proc/self/oom_score_adj",
    ]);
    assert_eq!(out.trim(), "700");
    // With a PID namespace: init and the command both.
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend([
        "--oom-score-adj",
        "300",
        "cat",
        "/proc/1/oom_score_adj",
        "/proc/self/oom_score_adj",
    ]);
    assert_eq!(ok(&args), "300\n300\n");
    let o = sbox(&["--ro-bind", "/", "/", "--oom-score-adj", "-5", "true"]);
    assert_one_line_error(
        &o,
        "--oom-score-adj: /proc/self/oom_score_adj: Permission denied",
    );
    assert!(stderr(&o).contains("CAP_SYS_RESOURCE"));
}
