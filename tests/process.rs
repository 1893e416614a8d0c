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

/// A sandbox with network, UTS, IPC, cgroup namespaces of its own, a listener and an address in its
/// network, a file in its /tmp, and its pid from
/// `--info-fd 3`. It runs until its stdin closes.
fn netns_holder() -> (std::process::Child, u32) {
    use std::io::{BufRead, Read};
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend([
        "--unshare-net",
        "--unshare-uts",
        "--hostname",
        "holder",
        "--unshare-ipc",
        "--unshare-cgroup",
        "--tmpfs",
        "/tmp",
        "--cap-add",
        "CAP_NET_ADMIN",
        "--info-fd",
        "3",
        "sh",
        "-c",
        "PATH=$PATH:/usr/sbin; touch /tmp/holders-file && ip addr add 10.7.7.7/8 dev lo && exec python3 -c \"import socket, sys\ns = socket.socket(); s.bind(('127.0.0.1', 4567)); s.listen(5)\nprint('listening', flush=True)\nsys.stdin.read()\"",
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
fn join_ns_enters_the_namespaces_of_a_running_sandbox() {
    if !std::path::Path::new("/usr/sbin/ip").exists() {
        return skip_or_fail(
            "join_ns_enters_the_namespaces_of_a_running_sandbox",
            "no ip",
        );
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
    // Every other kind: the UTS namespace's hostname, the IPC, PID and cgroup namespaces,
    // the mount namespace's tree (the sources of the new root are taken from it).
    let kinds = ["uts", "ipc", "pid", "cgroup", "mnt"];
    let mut joined: Vec<&str> = vec!["--join-ns", &user];
    let specs: Vec<String> = kinds
        .iter()
        .map(|k| format!("{k}:/proc/{pid}/ns/{k}"))
        .collect();
    for s in &specs {
        joined.extend(["--join-ns", s]);
    }
    joined.extend([
        "--ro-bind",
        "/",
        "/",
        "--ro-bind",
        "/tmp",
        "/tmp",
        "sh",
        "-c",
        "hostname; ls /tmp; for k in uts ipc pid cgroup mnt; do readlink /proc/self/ns/$k; done",
    ]);
    let o = sbox(&joined);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["holder", "holders-file"], "{out}");
    for (k, line) in kinds.iter().zip(&lines[2..]) {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{k}")).unwrap();
        if *k == "mnt" {
            // A mount namespace of the sandbox's own, copied from the joined one.
            assert_ne!(theirs.to_str(), Some(*line), "{k}");
        } else {
            assert_eq!(theirs.to_str(), Some(*line), "{k}");
        }
    }
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

/// Id maps of several ranges: written by the supervisor through the distribution's
/// newuidmap/newgidmap, which check /etc/subuid and /etc/subgid. The test user's entries
/// (and a passwd entry: the helpers look the user up by name) are bound over /etc in a mount
/// namespace of the test's own, so the host's files stay as they are.
#[test]
fn several_range_id_maps_through_newuidmap_or_directly() {
    let test = "several_range_id_maps_through_newuidmap_or_directly";
    if !is_root() {
        return skip_or_fail(test, "needs root to give the test user /etc/subuid ranges");
    }
    if !std::path::Path::new("/usr/bin/newuidmap").exists() {
        return skip_or_fail(test, "no /usr/bin/newuidmap (package uidmap)");
    }
    for f in ["/etc/subuid", "/etc/subgid"] {
        if !std::path::Path::new(f).exists() {
            // An empty one is what shadow's useradd makes anyway: a target to bind on.
            std::fs::write(f, "").unwrap();
        }
    }
    let etc = scratch("subid-etc");
    let (u, g) = ids();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let group = std::fs::read_to_string("/etc/group").unwrap();
    write(
        &etc.join("passwd"),
        &format!("{passwd}sboxmaps:x:{u}:{g}::/:/bin/sh\n"),
    );
    write(&etc.join("group"), &format!("{group}sboxmaps:x:{g}:\n"));
    write(&etc.join("subuid"), "sboxmaps:200000:65536\n");
    write(&etc.join("subgid"), "sboxmaps:300000:65536\n");
    // A private mount namespace: $0 is the directory of the files, "$@" sbox and its
    // arguments, run as the test user.
    let script = format!(
        "for f in passwd group subuid subgid; do mount --bind \"$0/$f\" /etc/$f || exit 99; done; \
         exec setpriv --reuid {u} --regid {g} --clear-groups \"$@\""
    );
    let under = |prog: &std::path::Path, args: &[&str], env: Option<String>| {
        let mut c = std::process::Command::new("unshare");
        c.args(["-m", "--propagation", "private", "sh", "-c", &script])
            .arg(&etc)
            .arg(prog)
            .args(args)
            .current_dir("/")
            .stdin(std::process::Stdio::null());
        if let Some(req) = env {
            c.env(SPEC_VAR, req);
        }
        c.output().unwrap()
    };
    let run = |args: &[&str]| under(bin(), args, None);
    let own_u = format!("0:{u}:1");
    let own_g = format!("0:{g}:1");
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend([
        "--uid-map",
        &own_u,
        "--uid-map",
        "1:200000:1000",
        "--gid-map",
        &own_g,
        "--gid-map",
        "1:300000:1000",
        "--uid",
        "5",
        "--gid",
        "7",
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map | tr -s ' ' | sed 's/^ //'; id -u; id -g; id -G",
    ]);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("0 {u} 1\n1 200000 1000\n0 {g} 1\n1 300000 1000\n5\n7\n7\n")
    );
    // Additional gids (OCI additionalGids), which a gid map written with privilege allows.
    let mut grouped: Vec<&str> = BASE.to_vec();
    grouped.extend([
        "--uid-map",
        &own_u,
        "--uid-map",
        "1:200000:1000",
        "--gid-map",
        &own_g,
        "--gid-map",
        "1:300000:1000",
        "--uid",
        "5",
        "--gid",
        "7",
        "id",
        "-G",
    ]);
    let req = spec_request("groups=5,60", &grouped);
    let o = under(spec_exe(), &SPEC_CHILD, Some(req));
    assert!(
        stdout(&o).lines().any(|l| l.ends_with("7 5 60")),
        "{} {}",
        stdout(&o),
        stderr(&o)
    );
    // Inside such a sandbox, as its root with every capability: podman's situation. A
    // nested sbox writes maps of several ranges itself (keep-id; each range within one range
    // of the parent's map, as the kernel wants), or makes no user namespace and switches to
    // the configured ids.
    let bin_s = bin().to_str().unwrap().to_string();
    let mut outer: Vec<&str> = BASE.to_vec();
    outer.extend([
        "--uid-map",
        &own_u,
        "--uid-map",
        "1:200000:1000",
        "--gid-map",
        &own_g,
        "--gid-map",
        "1:300000:1000",
        "--uid",
        "0",
        "--gid",
        "0",
        "--cap-add",
        "ALL",
        "--allow-userns",
        "--seccomp-profile",
        "none",
        &bin_s,
        "--ro-bind",
        "/",
        "/",
        "--unshare-pid",
        "--proc",
        "/proc",
    ]);
    let ids_seen = "cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //'; id -u; id -g";
    let mut keep_id = outer.clone();
    keep_id.extend([
        "--allow-userns",
        "--uid-map",
        "0:1:1",
        "--uid-map",
        "1:0:1",
        "--uid-map",
        "2:2:998",
        "--gid-map",
        "0:0:1",
        "--gid-map",
        "1:1:999",
        "--uid",
        "1",
        "--gid",
        "7",
        "sh",
        "-c",
        ids_seen,
    ]);
    let o = run(&keep_id);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "0 1 1\n1 0 1\n2 2 998\n1\n7\n");
    let mut shared = outer.clone();
    shared.extend([
        "--share-userns",
        "--uid",
        "5",
        "--gid",
        "7",
        "sh",
        "-c",
        ids_seen,
    ]);
    let o = run(&shared);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("0 {u} 1\n1 200000 1000\n5\n7\n"));
    // A range that is not the user's: newuidmap's refusal in one line, nothing left running.
    let mut bad: Vec<&str> = BASE.to_vec();
    bad.extend([
        "--uid-map",
        &own_u,
        "--uid-map",
        "1:500000:10",
        "sleep",
        "7.77",
    ]);
    let o = run(&bad);
    assert_one_line_error(&o, "--uid-map: /usr/bin/newuidmap: newuidmap:");
    assert!(pids_with("7.77").is_empty());
    // Without the entries (the host's files): the same, pointing at /etc/subuid.
    let o = sbox(&bad);
    assert_one_line_error(&o, "--uid-map: /usr/bin/newuidmap:");
    assert!(stderr(&o).contains("/etc/subuid"), "{}", stderr(&o));
}

// --- Fields only an OCI config sets: the sandbox started through the library ---------------

const SPEC_VAR: &str = "SBOX_TEST_SPEC";

/// Runs in a copy of this test binary started as the test user (`run_spec`): the sandbox of
/// the command line in SBOX_TEST_SPEC (arguments separated by \x1f), after a first element
/// that sets what only an OCI config can: `caps=BOUNDING/EFFECTIVE/PERMITTED/INHERITABLE/
/// AMBIENT` (comma-separated names), `groups=GID,...` and `nnp=off`, separated by spaces. Forks first (the
/// harness has a second thread; a sandbox starts single-threaded), exits with the status.
#[test]
#[ignore = "the child side of run_spec, not a test by itself"]
fn spec_child() {
    let Ok(req) = std::env::var(SPEC_VAR) else {
        return;
    };
    let mut parts = req.split('\x1f');
    let fields = parts.next().unwrap().to_string();
    let args: Vec<std::ffi::OsString> = parts.map(Into::into).collect();
    let fail = |m: String| -> ! {
        eprintln!("{m}");
        std::process::exit(1)
    };
    let mut spec = match sbox::cli::parse(args) {
        Ok(p) => p.spec().unwrap(),
        Err(e) => fail(format!("{e:?}")),
    };
    for f in fields.split_whitespace() {
        if let Some(sets) = f.strip_prefix("caps=") {
            let list = |s: &str| -> Vec<caps::Capability> {
                s.split(',')
                    .filter(|n| !n.is_empty())
                    .map(|n| n.parse().unwrap())
                    .collect()
            };
            let s: Vec<&str> = sets.split('/').collect();
            spec.cap_sets = Some(sbox::spec::CapSets {
                bounding: list(s[0]),
                effective: list(s[1]),
                permitted: list(s[2]),
                inheritable: list(s[3]),
                ambient: list(s[4]),
            });
        } else if let Some(gids) = f.strip_prefix("groups=") {
            spec.groups = gids.split(',').map(|g| g.parse().unwrap()).collect();
        } else if f == "nnp=off" {
            spec.allow_new_privs = true;
        }
    }
    if let Err(e) = sbox::spec::validate(&spec) {
        fail(format!("sbox: {}", e.message))
    }
    // SAFETY: the child only starts the sandbox and exits.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => match sbox::launch::run(&spec) {
            Ok(code) => std::process::exit(code),
            Err(e) => fail(format!("sbox: {e}")),
        },
        nix::unistd::ForkResult::Parent { child } => {
            match nix::sys::wait::waitpid(child, None).unwrap() {
                nix::sys::wait::WaitStatus::Exited(_, c) => std::process::exit(c),
                other => fail(format!("sandbox ended with {other:?}")),
            }
        }
    }
}

/// A copy of this test binary the test user can run, for `spec_child`.
fn spec_exe() -> &'static std::path::Path {
    static EXE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        let dst = scratch("process-bin").join("t");
        copy_executable(&std::env::current_exe().unwrap(), &dst);
        dst
    })
}

/// What `spec_child` reads: `fields`, then the command line.
fn spec_request(fields: &str, args: &[&str]) -> String {
    let mut req = vec![fields];
    req.extend(args);
    req.join("\x1f")
}

const SPEC_CHILD: [&str; 5] = [
    "spec_child",
    "--exact",
    "--ignored",
    "--nocapture",
    "--test-threads=1",
];

/// Start `args` with `fields` through `spec_child`, as the test user.
fn run_spec(fields: &str, args: &[&str]) -> std::process::Output {
    as_user(spec_exe())
        .args(SPEC_CHILD)
        .env(SPEC_VAR, spec_request(fields, args))
        .output()
        .unwrap()
}

/// The status lines of /proc/self/status the command sees, as `Key:value`.
fn status_lines(fields: &str, extra: &[&str], keys: &[&str]) -> Vec<String> {
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend(extra);
    args.extend(["cat", "/proc/self/status"]);
    let o = run_spec(fields, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    (stdout(&o).lines())
        .filter(|l| keys.iter().any(|k| l.starts_with(&format!("{k}:"))))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(""))
        .collect()
}

#[test]
fn the_five_capability_sets_are_as_configured() {
    let bit = |caps: &[u32]| format!("{:016x}", caps.iter().fold(0u64, |b, c| b | 1 << c));
    // NET_BIND_SERVICE 10, NET_RAW 13, KILL 5. A non-root command after exec: permitted
    // and effective are the ambient set (no file capabilities), bounding and inheritable as
    // given.
    let sets = "caps=CAP_NET_BIND_SERVICE,CAP_NET_RAW,CAP_KILL/CAP_KILL/CAP_KILL,CAP_NET_BIND_SERVICE/CAP_NET_BIND_SERVICE/CAP_NET_BIND_SERVICE";
    let keys = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"];
    let got = status_lines(sets, &["--unshare-net"], &keys);
    assert_eq!(
        got,
        [
            format!("CapInh:{}", bit(&[10])),
            format!("CapPrm:{}", bit(&[10])),
            format!("CapEff:{}", bit(&[10])),
            format!("CapBnd:{}", bit(&[5, 10, 13])),
            format!("CapAmb:{}", bit(&[10])),
        ]
    );
    // uid 0 inside: the kernel would give root its bounding set at exec, but no_new_privs
    // keeps it to what was permitted.
    let got = status_lines(sets, &["--uid", "0"], &["CapEff", "CapBnd"]);
    assert_eq!(
        got,
        [
            format!("CapEff:{}", bit(&[5, 10])),
            format!("CapBnd:{}", bit(&[5, 10, 13])),
        ]
    );
    // The kernel's rules are checked before anything starts.
    let o = run_spec("caps=CAP_KILL//CAP_KILL/CAP_NET_RAW/CAP_NET_RAW", &["true"]);
    assert!(
        stderr(&o)
            .contains("ambient capabilities: CAP_NET_RAW: must also be in permitted capabilities"),
        "{}",
        stderr(&o)
    );
}

/// noNewPrivileges false: no_new_privs stays off, yet seccomp and Landlock are installed
/// (while CAP_SYS_ADMIN was held) and the capabilities dropped after them.
#[test]
fn no_new_privs_can_be_left_off() {
    let keys = ["NoNewPrivs", "Seccomp", "CapEff", "CapBnd"];
    let zero = format!("{:016x}", 0);
    let caps = [format!("CapEff:{zero}"), format!("CapBnd:{zero}")];
    let on = status_lines("", &[], &keys);
    assert_eq!(
        on,
        [&caps[..], &["NoNewPrivs:1".into(), "Seccomp:2".into()]].concat()
    );
    let off = status_lines("nnp=off", &["--landlock"], &keys);
    assert_eq!(
        off,
        [&caps[..], &["NoNewPrivs:0".into(), "Seccomp:2".into()]].concat()
    );
    // And the policy holds: a new user namespace is still refused (seccomp's EPERM).
    let mut args: Vec<&str> = BASE.to_vec();
    let code = "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n\
                r = libc.unshare(0x10000000)\nprint('ok' if r >= 0 else errno.errorcode[ctypes.get_errno()])";
    args.extend(["python3", "-c", code]);
    let o = run_spec("nnp=off", &args);
    assert!(
        stdout(&o).lines().any(|l| l.ends_with("EPERM")),
        "{}",
        stdout(&o)
    );
}
