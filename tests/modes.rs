//! The modes that start no sandbox: --doctor, --completions, --mkroot.

mod common;
use common::*;
use std::process::Command;

#[test]
fn doctor_checks_every_topic() {
    let o = sbox(&["--doctor"]);
    let out = stdout(&o);
    // This host (and CI) can run the basic sandbox, so the status is 0.
    assert!(o.status.success(), "{out}{}", stderr(&o));
    for line in out.lines() {
        assert!(
            ["PASS  ", "WARN  ", "FAIL  "]
                .iter()
                .any(|t| line.starts_with(t)),
            "{line:?}"
        );
        if !line.starts_with("PASS") {
            assert!(line.contains("fix") || line.contains(": "), "{line:?}");
        }
    }
    for topic in [
        "kernel:",
        "user.max_user_namespaces:",
        "kernel.unprivileged_userns_clone:",
        "kernel.apparmor_restrict_unprivileged_userns:",
        "user namespaces:",
        "overlayfs:",
        "seccomp:",
        "Landlock:",
        "clone3:",
        "pidfd_open:",
        "cgroup layout:",
        "systemd user instance:",
        "delegated controllers:",
        "memory limits (--mem):",
    ] {
        assert!(out.contains(topic), "{topic} missing:\n{out}");
    }
    assert!(out.contains("PASS  user namespaces"), "{out}");
    assert!(out.contains("PASS  overlayfs"), "{out}");
}

/// On a hybrid host (memory bound to cgroup v1) the doctor says memory limits are unavailable
/// and why; elsewhere it does not blame cgroup v1 (tests/vm checks the PASS on a v2 host).
#[test]
fn doctor_explains_hybrid_memory() {
    let cgroups = std::fs::read_to_string("/proc/cgroups").unwrap_or_default();
    let memory_on_v1 = cgroups.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 1 && f[0] == "memory" && f[1] != "0"
    });
    let out = stdout(&sbox(&["--doctor"]));
    let line = out
        .lines()
        .find(|l| l.contains("(--mem)"))
        .expect("a --mem line");
    if !memory_on_v1 {
        assert!(!line.contains("cgroup v1"), "{line}");
        return;
    }
    assert!(line.starts_with("WARN"), "{line}");
    assert!(line.contains("unavailable"), "{line}");
    assert!(
        line.contains("memory controller is bound to cgroup v1"),
        "{line}"
    );
    assert!(
        line.contains("systemd.unified_cgroup_hierarchy=1"),
        "{line}"
    );
}

/// The doctor tries the mount calls a sandbox is built with (the new mount API), not older
/// ones: where fsopen is refused (here by an outer sandbox's filter), no sandbox can be
/// built, and the doctor says so instead of passing.
/// The network allowlist's steps are probed as a sandbox takes them: a host (here an outer
/// sandbox) that refuses passing descriptors, or has no resolver, is reported, naming the step.
#[test]
fn doctor_probes_the_network_allowlist_steps() {
    let b = bin().to_str().unwrap();
    let outer = |deny: &'static str| {
        let mut v: Vec<&str> = vec![
            "--allow-userns",
            "--seccomp-profile",
            "none",
            "--unshare-pid",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
        ];
        if !deny.is_empty() {
            v.extend(["--seccomp-deny", deny, "--unshare-net"]);
        }
        v.extend(["--", b, "--doctor"]);
        v
    };
    let out = stdout(&sbox(&outer("")));
    assert!(
        out.contains("PASS  network allowlist: a network namespace with its DNS responder (port 53), proxy and port listeners, passed out"),
        "{out}"
    );
    let out = stdout(&sbox(&outer("sendmsg:EPERM")));
    assert!(
        out.contains("WARN  network allowlist: SCM_RIGHTS: Operation not permitted: --net-allow"),
        "{out}"
    );
    // The doctor is right: an allowlist sandbox fails there, naming the same step.
    let mut nested = outer("sendmsg:EPERM");
    nested.pop();
    nested.extend([
        "--allow-userns",
        "--net-allow",
        "localhost:1",
        "--ro-bind",
        "/",
        "/",
        "true",
    ]);
    let o = sbox(&nested);
    assert_one_line_error(
        &o,
        "--net-allow: pass the listeners: Operation not permitted",
    );
    // No network at all in the outer sandbox: the resolver can't be reached.
    assert!(out.contains("WARN  host DNS: "), "{out}");
}

#[test]
fn doctor_probes_the_mount_calls_a_sandbox_uses() {
    let b = bin().to_str().unwrap();
    let outer = [
        "--allow-userns",
        "--seccomp-profile",
        "none",
        "--seccomp-deny",
        "fsopen:ENOSYS",
        "--unshare-pid",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--",
        b,
    ];
    let o = sbox(&[&outer[..], &["--doctor"]].concat());
    let out = stdout(&o);
    assert!(
        out.contains("FAIL  user namespaces: tmpfs: Function not implemented"),
        "{out}"
    );
    assert!(!o.status.success(), "{out}");
    // The doctor is right: a sandbox fails there.
    let o = sbox(
        &[
            &outer[..],
            &["--allow-userns", "--ro-bind", "/", "/", "true"],
        ]
        .concat(),
    );
    assert_one_line_error(&o, "new root: /tmp: tmpfs: Function not implemented");
    // And without that filter, the same nested doctor passes.
    let o = sbox(&[&outer[..3], &outer[5..], &["--doctor"]].concat());
    assert!(stdout(&o).contains("PASS  overlayfs"), "{}", stdout(&o));
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef sbox"),
        ("fish", "complete -c sbox"),
    ] {
        let out = ok(&["--completions", shell]);
        assert!(out.contains(marker), "{shell}: {out}");
        assert!(out.contains("ro-bind"), "{shell} lacks --ro-bind");
        assert!(out.contains("doctor"), "{shell} lacks --doctor");
    }
    // The bash script loads and registers a completion for sbox.
    let script = ok(&["--completions", "bash"]);
    let o = Command::new("bash")
        .args(["-c", &format!("{script}\ncomplete -p sbox")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("sbox"), "{o:?}");
    let o = sbox(&["--completions", "tcsh"]);
    assert_one_line_error(&o, "--completions: 'tcsh': not one of bash");
}

#[test]
fn mode_options_are_checked() {
    for (args, want) in [
        (
            &["--doctor", "x"][..],
            "--doctor: takes no further arguments (got 'x')",
        ),
        (
            &["--doctor", "--ro-bind", "/", "/"][..],
            "--doctor: cannot be combined with --ro-bind",
        ),
        (
            &["--completions", "bash", "--doctor"][..],
            "--completions: cannot be combined with --doctor",
        ),
        (
            &["--busybox", "true"][..],
            "--busybox: only with --mkroot DIR",
        ),
        (&["--mkroot", "/tmp/x"][..], "--mkroot: name the programs"),
        (
            &["--mkroot", "/tmp/x", "--busybox", "sh"][..],
            "--busybox: takes no PROGRAM",
        ),
        (&["--mkroot"][..], "--mkroot: missing argument"),
    ] {
        let o = sbox(args);
        assert_one_line_error(&o, want);
    }
    // A mode's name after the command is the command's argument.
    assert_eq!(
        ok(&["--ro-bind", "/", "/", "echo", "--doctor"]),
        "--doctor\n"
    );
}

fn in_root(root: &str, extra: &[&str], script: &str) -> String {
    let mut args = vec!["--ro-bind", root, "/"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["sh", "-c", script]);
    ok(&args)
}

#[test]
fn mkroot_then_run_as_a_normal_user() {
    let dir = scratch("mkroot");
    let root = dir.join("malutka");
    let root = root.to_str().unwrap();
    let out = ok(&["--mkroot", root, "sh", "ls"]);
    assert!(out.contains("files installed"), "{out}");
    // bubblewrap's --proc without a PID namespace binds the host's /proc.
    let listing = in_root(root, &["--proc", "/proc"], "ls /");
    for d in ["bin", "etc", "proc", "tmp", "usr"] {
        assert!(listing.lines().any(|l| l == d), "{d} missing: {listing}");
    }
    let pid = in_root(
        root,
        &["--unshare-pid", "--proc", "/proc"],
        "test -d /proc/1/ns && echo $$",
    );
    assert_eq!(pid.trim(), "2", "the shell is pid 2 under the init");
    // Building again into the same directory is fine.
    ok(&["--mkroot", root, "sh", "ls"]);
    let o = sbox(&["--mkroot", root, "sbox-no-such-program"]);
    assert_one_line_error(&o, "--mkroot: sbox-no-such-program: not found in PATH");
}

#[test]
fn mkroot_busybox() {
    let Some(busybox) = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        return skip_or_fail("mkroot_busybox", "no busybox (Debian: busybox-static)");
    };
    let dir = scratch("mkroot-busybox");
    let root = dir.join("bb");
    let root = root.to_str().unwrap();
    ok(&["--mkroot", root, &format!("--busybox={busybox}")]);
    let out = in_root(
        root,
        &["--unshare-pid", "--proc", "/proc"],
        "echo hello | wc -c; ps | wc -l",
    );
    let lines: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(lines[0], "6", "{out}");
    let o = sbox(&["--mkroot", root, "--busybox=/etc/passwd"]);
    assert_one_line_error(&o, "--mkroot: /etc/passwd: not an executable file");
}
