//! Resource limits on this host. The real limits are tested in a VM (tests/vm/run.sh); here,
//! on whatever layout the host has, sbox must refuse clearly and start nothing.

mod common;
use common::*;

/// Is this cgroup v2 controller unusable here because cgroup v1 holds it (hybrid or v1 host)?
fn bound_to_v1(name: &str) -> bool {
    std::fs::read_to_string("/proc/cgroups")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 2 && f[0] == name && f[1] != "0"
        })
}

fn cgroup2_mount() -> Option<String> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mi.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        right
            .starts_with("cgroup2 ")
            .then(|| left.split(' ').nth(4).unwrap().to_string())
    })
}

#[test]
fn hybrid_or_v1_layout_is_a_one_line_error_before_anything_starts() {
    for (opt, value, ctl) in [
        ("--mem", "1M", "memory"),
        ("--pids", "10", "pids"),
        ("--cpu", "50%", "cpu"),
    ] {
        let marker = scratch(&format!("ran{}", &opt[2..])).join("ran");
        let m = marker.to_str().unwrap();
        let out = sbox_cmd(&[
            "--ro-bind",
            "/",
            "/",
            "--bind",
            marker.parent().unwrap().to_str().unwrap(),
            marker.parent().unwrap().to_str().unwrap(),
            opt,
            value,
            "sh",
            "-c",
            &format!("echo ran > {m}"),
        ])
        .output()
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if !bound_to_v1(ctl) {
            // A cgroup v2 host (tests/vm covers the limit itself): whatever else happens, sbox
            // must not claim the hybrid layout.
            assert!(!err.contains("cgroup v1"), "{opt}: {err}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{opt}: {err}");
        assert_eq!(err.lines().count(), 1, "{opt}: {err}");
        let want = match cgroup2_mount() {
            Some(mnt) => format!(
                "sbox: {opt}: {mnt}: the {ctl} controller is bound to cgroup v1 (hybrid cgroup \
                 layout), so cgroup v2 cannot limit it: boot with \
                 systemd.unified_cgroup_hierarchy=1 (the cgroup v2-only layout)\n"
            ),
            None => format!(
                "sbox: {opt}: /sys/fs/cgroup: no cgroup v2 hierarchy is mounted (cgroup v1 \
                 layout): boot with systemd.unified_cgroup_hierarchy=1 (the cgroup v2-only \
                 layout)\n"
            ),
        };
        assert_eq!(err, want);
        assert!(!marker.exists(), "{opt}: the command ran");
    }
}

#[test]
fn invalid_limit_values_fail_before_anything_starts() {
    for (args, start) in [
        (&["--mem", "0"][..], "sbox: --mem: '0': not a size"),
        (&["--mem", "lots"][..], "sbox: --mem: 'lots': not a size"),
        (
            &["--pids", "0"][..],
            "sbox: --pids: '0': not a process count",
        ),
        (&["--cpu", "0%"][..], "sbox: --cpu: '0%': not a CPU share"),
        (&["--cpu", "1.5"][..], "sbox: --cpu: '1.5': not a CPU share"),
    ] {
        let mut a = args.to_vec();
        a.extend(["--ro-bind", "/", "/", "true"]);
        let out = sbox_cmd(&a).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with(start), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

/// The D-Bus client against a real dbus-daemon with no systemd on it: a clear error naming the
/// fix, not a hang. (The success path needs a systemd user instance: tests/vm.)
#[test]
fn bus_without_systemd_is_a_clear_error() {
    let Ok(daemon) = which("dbus-daemon") else {
        return skip_or_fail(
            "bus_without_systemd_is_a_clear_error",
            "no dbus-daemon (Debian: dbus-daemon)",
        );
    };
    let dir = tempdir("bus");
    let sock = dir.join("bus");
    let mut child = std::process::Command::new(daemon)
        .args(["--session", "--nofork", "--nopidfile", "--print-address"])
        .arg(format!("--address=unix:path={}", sock.display()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its address is printed once it listens (the socket file exists a little before).
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.starts_with("unix:"), "{line}");
    let addr = format!("unix:path={}", sock.display());
    let r = sbox::cgroup::systemd::start_scope_on("--mem", "sbox-test.scope", &addr, &addr);
    let _ = child.kill();
    let _ = child.wait();
    let e = r.unwrap_err();
    assert!(e.unreachable, "{}", e.error);
    let e = e.error;
    assert_eq!(e.step, "--mem");
    assert_eq!(e.path, addr);
    assert!(
        e.why
            .starts_with("no systemd user instance answers on the user bus"),
        "{e}"
    );
    assert!(e.why.contains("Delegate=yes"), "{e}");
    let r = sbox::cgroup::systemd::start_scope_on(
        "--pids",
        "sbox-test.scope",
        "unix:path=/nonexistent/bus",
        "unix:path=/nonexistent/bus",
    );
    let e = r.unwrap_err();
    assert!(e.unreachable);
    let e = e.error;
    assert!(e.why.starts_with("cannot connect to the user D-Bus"), "{e}");
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .ok_or(())
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sbox-limits-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
