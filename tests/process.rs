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
