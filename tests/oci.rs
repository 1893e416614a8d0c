//! sbox as an OCI runtime, through its `sbox-runc` link, as the unprivileged test user:
//! bundles made by `spec --rootless` on a busybox root, the create/start/state/kill/delete
//! lifecycle, hooks, and bad input (one line on stderr, one JSON log line, nothing left).

mod common;
use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `sbox-runc` link, beside the test copy of sbox.
fn link() -> PathBuf {
    let l = bin().parent().unwrap().join("sbox-runc");
    if !l.exists() {
        let _ = std::os::unix::fs::symlink("sbox", &l);
    }
    l
}

/// A runtime with its own state directory and JSON log.
struct Rt {
    root: PathBuf,
    log: PathBuf,
    /// Run as root of this user namespace (podman's situation), through nsenter.
    userns: Option<u32>,
}

impl Rt {
    fn new(name: &str) -> Rt {
        let d = scratch(&format!("oci-state-{name}"));
        Rt {
            root: d.join("root"),
            log: d.join("log.json"),
            userns: None,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = match self.userns {
            None => as_user(link()),
            Some(pid) => {
                let mut c = as_user("nsenter");
                c.args(["-U", "--preserve-credentials", "-t", &pid.to_string(), "--"])
                    .arg(link());
                c
            }
        };
        c.arg("--root").arg(&self.root);
        c.arg("--log").arg(&self.log).args(["--log-format", "json"]);
        c.args(args);
        c
    }

    /// Its output through files: a created container's process holds the runtime's stdio (as
    /// engines expect), so reading pipes to their end would wait for the container.
    fn out(&self, args: &[&str]) -> Output {
        let dir = self.root.parent().unwrap();
        let (o, e) = (dir.join("stdout"), dir.join("stderr"));
        let status = self
            .cmd(args)
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .status()
            .unwrap();
        Output {
            status,
            stdout: std::fs::read(&o).unwrap(),
            stderr: std::fs::read(&e).unwrap(),
        }
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let o = self.out(args);
        assert!(
            o.status.success(),
            "sbox-runc {args:?}: {:?}\nstdout: {}\nstderr: {}",
            o.status,
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    #[track_caller]
    fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    /// The one error contract: status 1, one line `sbox-runc: ...` on stderr, and the same
    /// message as the last JSON line of the log.
    #[track_caller]
    fn assert_error(&self, o: &Output, contains: &str) {
        let err = stderr(o);
        assert_eq!(o.status.code(), Some(1), "status; stderr: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        assert!(err.starts_with("sbox-runc: "), "{err:?}");
        assert!(err.contains(contains), "{err:?} should say {contains:?}");
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let last: Value = serde_json::from_str(log.lines().last().unwrap_or("{}")).unwrap();
        assert_eq!(last["level"], "error", "{log}");
        assert_eq!(
            last["msg"].as_str().unwrap(),
            err.trim_end().strip_prefix("sbox-runc: ").unwrap()
        );
        assert!(last["time"].as_str().unwrap().ends_with('Z'), "{last}");
    }

    /// The state once the container stopped (its exit may still be under way when its
    /// processes' command lines are gone).
    #[track_caller]
    fn stopped(&self, id: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let s = self.state(id);
            if s["status"] == "stopped" || std::time::Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// No state left for `id`.
    #[track_caller]
    fn assert_gone(&self, id: &str) {
        assert!(!self.root.join(id).exists(), "state of {id} left");
    }
}

/// A bundle: a busybox root (`sbox --mkroot --busybox`) and `spec --rootless`'s config.json.
fn bundle(test: &str) -> Option<PathBuf> {
    if !Path::new("/bin/busybox").exists() {
        skip_or_fail(test, "no /bin/busybox (Debian: busybox-static)");
        return None;
    }
    let dir = scratch(&format!("oci-{test}"));
    let rootfs = dir.join("rootfs");
    ok(&["--mkroot", rootfs.to_str().unwrap(), "--busybox"]);
    let o = as_user(link())
        .args(["spec", "--rootless"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "spec: {}", stderr(&o));
    // Tests run without a terminal (and conmon's console socket is tested with podman).
    edit(&dir, |c| c["process"]["terminal"] = json!(false));
    Some(dir)
}

fn edit(dir: &Path, f: impl FnOnce(&mut Value)) {
    let p = dir.join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut c);
    std::fs::write(&p, serde_json::to_string_pretty(&c).unwrap()).unwrap();
}

fn args(dir: &Path, script: &str) {
    edit(dir, |c| c["process"]["args"] = json!(["sh", "-c", script]));
}

#[test]
fn version_starts_as_containerd_wants() {
    let o = as_user(link()).arg("--version").output().unwrap();
    assert!(stdout(&o).starts_with("runc version "), "{}", stdout(&o));
    assert!(stdout(&o).contains("sbox "), "{}", stdout(&o));
}

#[test]
fn features_lists_what_the_mapping_takes() {
    let o = as_user(link()).arg("features").output().unwrap();
    let f: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(f["ociVersionMax"], "1.0.2");
    let has = |v: &Value, x: &str| v.as_array().unwrap().iter().any(|e| e == x);
    assert!(has(&f["hooks"], "createRuntime"), "{f}");
    assert!(has(&f["linux"]["namespaces"], "user"), "{f}");
    assert!(
        has(&f["linux"]["seccomp"]["actions"], "SCMP_ACT_ERRNO"),
        "{f}"
    );
    assert!(has(&f["mountOptions"], "rbind"), "{f}");
}

#[test]
fn run_spec_rootless_bundle() {
    let Some(b) = bundle("run") else { return };
    args(
        &b,
        "echo pid=$$; echo uid=$(id -u); echo host=$(hostname); touch /x 2>/dev/null && echo rw || echo ro; \
         grep -E '^Cap(Bnd|Eff)' /proc/self/status; echo nofile=$(ulimit -n); \
         echo kcore=$(head -c 1 /proc/kcore 2>/dev/null | wc -c); grep -q ' /proc/sys proc ro,' /proc/mounts && echo sys-ro; exit 7",
    );
    let rt = Rt::new("run");
    let o = rt.out(&["run", "--bundle", b.to_str().unwrap(), "r1"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(7), "{out} {}", stderr(&o));
    // spec --rootless: AUDIT_WRITE, KILL, NET_BIND_SERVICE; RLIMIT_NOFILE 1024; /proc/kcore
    // masked, /proc/sys read-only.
    for want in [
        "pid=1",
        "uid=0",
        "ro",
        "CapBnd:\t0000000020000420",
        "CapEff:\t0000000020000420",
        "nofile=1024",
        "kcore=0",
        "sys-ro",
    ] {
        assert!(out.lines().any(|l| l == want), "{want} in {out}");
    }
    let host = config_of(&b)["hostname"].as_str().unwrap().to_string();
    assert!(out.contains(&format!("host={host}")), "{out}");
    rt.assert_gone("r1");
}

fn config_of(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

#[test]
fn create_start_state_kill_delete() {
    let Some(b) = bundle("life") else { return };
    args(
        &b,
        "echo started > /tmp/started; sleep 1000 & exec sleep 1001",
    );
    edit(&b, |c| {
        c["root"]["readonly"] = json!(false);
        c["annotations"] = json!({"org.example.k": "v"});
    });
    let rt = Rt::new("life");
    let pidf = rt.root.parent().unwrap().join("pid");
    let bs = b.to_str().unwrap();
    rt.ok(&[
        "create",
        "--bundle",
        bs,
        "--pid-file",
        pidf.to_str().unwrap(),
        "c1",
    ]);
    let pid: i32 = std::fs::read_to_string(&pidf)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let s = rt.state("c1");
    assert_eq!(s["status"], "created", "{s}");
    assert_eq!(s["pid"], pid);
    assert_eq!(s["id"], "c1");
    assert_eq!(s["ociVersion"], "1.0.2");
    assert_eq!(s["bundle"], bs);
    assert_eq!(s["annotations"]["org.example.k"], "v");
    assert!(s["created"].as_str().unwrap().ends_with('Z'));
    // Waiting at the gate: the program has not run yet.
    assert!(!b.join("rootfs/tmp/started").exists());
    rt.ok(&["start", "c1"]);
    assert_eq!(rt.state("c1")["status"], "running");
    // Its process runs the program, as pid 1 of the container.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !b.join("rootfs/tmp/started").exists() {
        assert!(std::time::Instant::now() < deadline, "never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // start of a running container, delete of a running one without --force: refused.
    rt.assert_error(&rt.out(&["start", "c1"]), "running");
    rt.assert_error(&rt.out(&["delete", "c1"]), "--force");
    wait_for("sleep\x001000");
    rt.ok(&["kill", "--all", "c1", "KILL"]);
    for marker in ["sleep\x001000", "sleep\x001001"] {
        assert!(gone_within(marker, std::time::Duration::from_secs(5)));
    }
    let s = rt.stopped("c1");
    assert_eq!(s["status"], "stopped", "{s}");
    assert_eq!(s["pid"], 0);
    rt.ok(&["delete", "c1"]);
    rt.assert_gone("c1");
    rt.assert_error(&rt.out(&["state", "c1"]), "does not exist");
}

#[test]
fn kill_by_name_and_number_and_delete_force() {
    let Some(b) = bundle("kill") else { return };
    // pid 1 of a PID namespace gets only the signals it handles (and SIGKILL).
    args(&b, "trap 'exit 3' TERM; sleep 1002 & wait");
    let rt = Rt::new("kill");
    let bs = b.to_str().unwrap();
    rt.ok(&["create", "--bundle", bs, "k1"]);
    rt.ok(&["start", "k1"]);
    wait_for("sleep\x001002");
    rt.ok(&["kill", "k1", "15"]);
    assert!(gone_within(
        "sleep\x001002",
        std::time::Duration::from_secs(5)
    ));
    assert_eq!(rt.stopped("k1")["status"], "stopped");
    rt.ok(&["delete", "k1"]);
    rt.ok(&["create", "--bundle", bs, "k2"]);
    rt.ok(&["start", "k2"]);
    wait_for("sleep\x001002");
    rt.assert_error(&rt.out(&["kill", "k2", "NOSUCH"]), "unknown signal");
    rt.ok(&["delete", "--force", "k2"]);
    assert!(gone_within(
        "sleep\x001002",
        std::time::Duration::from_secs(5)
    ));
    rt.assert_gone("k2");
    // A created container (never started) can be deleted: its waiting process ends.
    rt.ok(&["create", "--bundle", bs, "k3"]);
    let pid = rt.state("k3")["pid"].as_i64().unwrap();
    rt.ok(&["delete", "k3"]);
    rt.assert_gone("k3");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z"), "{stat}");
}

#[test]
fn hooks_run_in_order_with_the_state() {
    let Some(b) = bundle("hooks") else { return };
    args(&b, "exit 0");
    let out = rt_dir("hooks").join("hooks.log");
    let hook = |kind: &str| {
        let script = format!(
            "echo {kind} >> {o}; cat >> {o}; echo >> {o}",
            o = out.display()
        );
        json!([{"path": "/bin/sh", "args": ["sh", "-c", script]}])
    };
    edit(&b, |c| {
        c["hooks"] = json!({
            "prestart": hook("prestart"),
            "createRuntime": hook("createRuntime"),
            "poststart": hook("poststart"),
            "poststop": hook("poststop"),
        })
    });
    let rt = Rt::new("hooks");
    rt.ok(&["create", "--bundle", b.to_str().unwrap(), "h1"]);
    rt.ok(&["start", "h1"]);
    rt.ok(&["delete", "--force", "h1"]);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let kinds: Vec<&str> = lines.iter().step_by(2).copied().collect();
    assert_eq!(
        kinds,
        ["prestart", "createRuntime", "poststart", "poststop"],
        "{text}"
    );
    let states: Vec<Value> = (lines.iter().skip(1).step_by(2))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(states[0]["id"], "h1");
    assert_eq!(states[0]["status"], "creating");
    assert!(states[0]["pid"].as_i64().unwrap() > 0);
    assert_eq!(states[2]["status"], "running");
    assert_eq!(states[3]["status"], "stopped");
    // A hook past its timeout fails create, and leaves nothing.
    edit(
        &b,
        |c| {
            c["hooks"] = json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "1011"], "timeout": 1}]})
        },
    );
    rt.assert_error(
        &rt.out(&["create", "--bundle", b.to_str().unwrap(), "h3"]),
        "timed out",
    );
    rt.assert_gone("h3");
    assert!(gone_within(
        "sleep\x001011",
        std::time::Duration::from_secs(2)
    ));
    // A failing hook fails create, and leaves nothing.
    edit(
        &b,
        |c| c["hooks"] = json!({"createRuntime": [{"path": "/bin/false", "args": ["false"]}]}),
    );
    rt.assert_error(
        &rt.out(&["create", "--bundle", b.to_str().unwrap(), "h2"]),
        "hooks.createRuntime[0]",
    );
    rt.assert_gone("h2");
}

fn rt_dir(name: &str) -> PathBuf {
    let d = scratch(&format!("oci-out-{name}"));
    // The hooks run as the test user and write here.
    d
}

#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    let Some(b) = bundle("bad") else { return };
    let rt = Rt::new("bad");
    let bs = b.to_str().unwrap();
    let create = |id: &str| rt.out(&["create", "--bundle", bs, id]);
    // Malformed config.json.
    let good = std::fs::read_to_string(b.join("config.json")).unwrap();
    std::fs::write(b.join("config.json"), "{\"ociVersion\": ").unwrap();
    rt.assert_error(&create("b1"), "config.json");
    rt.assert_gone("b1");
    std::fs::write(b.join("config.json"), &good).unwrap();
    // A missing root file system.
    edit(&b, |c| c["root"]["path"] = json!("nosuch"));
    rt.assert_error(&create("b2"), "nosuch");
    rt.assert_gone("b2");
    std::fs::write(b.join("config.json"), &good).unwrap();
    // An unknown namespace type.
    edit(&b, |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time-travel"}))
    });
    rt.assert_error(&create("b3"), "time-travel");
    rt.assert_gone("b3");
    std::fs::write(b.join("config.json"), &good).unwrap();
    // A bad id.
    rt.assert_error(&create("../x"), "invalid");
    // A missing program: the words podman maps to 127.
    args(&b, "x");
    edit(&b, |c| c["process"]["args"] = json!(["/nosuch"]));
    rt.assert_error(&create("b4"), "no such file or directory");
    rt.assert_gone("b4");
    edit(&b, |c| c["process"]["args"] = json!(["nosuch-program"]));
    rt.assert_error(&create("b5"), "executable file not found in $PATH");
    rt.assert_gone("b5");
    // A duplicate id.
    args(&b, "exec sleep 1003");
    rt.ok(&["create", "--bundle", bs, "b6"]);
    rt.assert_error(&create("b6"), "already exists");
    rt.ok(&["delete", "--force", "b6"]);
    rt.assert_gone("b6");
    // An unknown flag.
    rt.assert_error(&rt.out(&["create", "--frobnicate", "b7"]), "--frobnicate");
    assert!(gone_within(
        "sleep\x001003",
        std::time::Duration::from_secs(5)
    ));
    assert_eq!(std::fs::read_dir(&rt.root).unwrap().count(), 0);
}

#[test]
fn stale_state_after_sigkill_of_create() {
    let Some(b) = bundle("stale") else { return };
    args(&b, "exec sleep 1004");
    // create is killed while its createRuntime hook runs: its process waits at the gate.
    edit(
        &b,
        |c| {
            c["hooks"] =
                json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "1005"]}]})
        },
    );
    let rt = Rt::new("stale");
    let bs = b.to_str().unwrap();
    let mut create = rt.cmd(&["create", "--bundle", bs, "s1"]).spawn().unwrap();
    wait_for("sleep\x001005");
    create.kill().unwrap();
    create.wait().unwrap();
    for p in pids_running("sleep\x001005") {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let s = rt.state("s1");
    assert_eq!(s["status"], "stopped", "{s}");
    // create again under that id: said in one line, cleaned, created.
    edit(&b, |c| c["hooks"] = json!({}));
    let o = rt.out(&["create", "--bundle", bs, "s1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("did not finish"), "{}", stderr(&o));
    assert_eq!(rt.state("s1")["status"], "created");
    rt.ok(&["delete", "s1"]);
    rt.assert_gone("s1");
    // The old process left waiting is gone too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !pids_running(link().to_str().unwrap()).iter().all(|p| {
        let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        !String::from_utf8_lossy(&cmd).contains(&*rt.root.to_string_lossy())
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first process still waits"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn exec_runs_in_the_container() {
    let Some(b) = bundle("exec") else { return };
    args(
        &b,
        "echo ok > /tmp/mark; trap 'exit 0' TERM; sleep 1006 & wait",
    );
    edit(&b, |c| c["root"]["readonly"] = json!(false));
    let rt = Rt::new("exec");
    rt.ok(&["create", "--bundle", b.to_str().unwrap(), "x1"]);
    rt.assert_error(&rt.out(&["exec", "x1", "true"]), "created");
    rt.ok(&["start", "x1"]);
    wait_for("sleep\x001006");
    // Its root (the file its pid 1 wrote), its hostname, not its pid 1, its exit status.
    let o = rt.out(&[
        "exec",
        "x1",
        "sh",
        "-c",
        "cat /tmp/mark; hostname; echo pid=$$; touch /tmp/from-exec; exit 9",
    ]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    let out = stdout(&o);
    let host = config_of(&b)["hostname"].as_str().unwrap().to_string();
    assert!(out.starts_with(&format!("ok\n{host}\npid=")), "{out}");
    assert!(!out.contains("pid=1\n"), "{out}");
    assert!(b.join("rootfs/tmp/from-exec").exists());
    // It may signal the container's processes, as under runc.
    rt.ok(&["exec", "x1", "kill", "-0", "1"]);
    // A missing program: said before it runs, in the words podman maps to 127.
    rt.assert_error(
        &rt.out(&["exec", "x1", "nosuch"]),
        "executable file not found in $PATH",
    );
    // --process and --detach with --pid-file, as conmon calls it.
    let dir = rt.root.parent().unwrap().to_path_buf();
    let mut process = config_of(&b)["process"].clone();
    process["args"] = json!(["sleep", "1007"]);
    let pf = dir.join("process.json");
    std::fs::write(&pf, process.to_string()).unwrap();
    let pid_file = dir.join("exec.pid");
    let (pfs, pids) = (pf.to_str().unwrap(), pid_file.to_str().unwrap());
    rt.ok(&[
        "exec",
        "--process",
        pfs,
        "--detach",
        "--pid-file",
        pids,
        "x1",
    ]);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // (Written just before its execve.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::read(format!("/proc/{pid}/cmdline")).unwrap() != b"sleep\x001007\x00" {
        assert!(
            std::time::Instant::now() < deadline,
            "pid {pid} is not the process"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    rt.ok(&["delete", "--force", "x1"]);
    for m in ["sleep\x001006", "sleep\x001007"] {
        assert!(gone_within(m, std::time::Duration::from_secs(5)), "{m:?}");
    }
    rt.assert_gone("x1");
}

/// podman's situation: the runtime runs as root of a user namespace of the caller's (held by
/// `unshare -U -r sleep`, entered with nsenter) and config.json has no user namespace of its
/// own. Returns the holder; kill it at the end.
fn podman_like(rt: &mut Rt, b: &Path, test: &str) -> Option<std::process::Child> {
    if !have("unshare") || !have("nsenter") {
        skip_or_fail(test, "no unshare/nsenter (Debian: util-linux)");
        return None;
    }
    let holder = as_user("unshare")
        .args(["-U", "-r", "sleep", "1009"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = holder.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    // Mapped: `0 UID 1` (before its unshare, the process shows the initial namespace's
    // `0 0 4294967295`, and joining that fails).
    let mapped = format!("0 {} 1", ids().0);
    while std::fs::read_to_string(format!("/proc/{pid}/uid_map"))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        != mapped
    {
        assert!(
            std::time::Instant::now() < deadline,
            "unshare -r never mapped"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    rt.userns = Some(pid);
    edit(b, |c| {
        let l = &mut c["linux"];
        l["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "user");
        l.as_object_mut().unwrap().remove("uidMappings");
        l.as_object_mut().unwrap().remove("gidMappings");
    });
    Some(holder)
}

/// The runc CVE-2019-5736 class: a process of the container must not reach the runtime's
/// binary through /proc/PID/exe of a process joining it (sbox before its execve). The
/// container reads every /proc/PID/exe it can while processes are exec'd into it (one held
/// for a second before its execve), in podman's situation: the container shares the
/// runtime's user namespace and uid. Two things stop it: the joining process is not dumpable
/// (supervisor.rs), and on kernels with Landlock ABI 6 the container's domain scopes ptrace
/// (either alone passes this test here).
#[test]
fn exec_never_shows_the_runtime_binary_inside() {
    let Some(b) = bundle("exe") else { return };
    let mut rt = Rt::new("exe");
    let Some(mut holder) = podman_like(&mut rt, &b, "exec_never_shows_the_runtime_binary_inside")
    else {
        return;
    };
    args(
        &b,
        "while :; do for p in /proc/[0-9]*; do readlink $p/exe; done; done > /tmp/exes 2>/dev/null",
    );
    edit(&b, |c| c["root"]["readonly"] = json!(false));
    rt.ok(&["create", "--bundle", b.to_str().unwrap(), "v1"]);
    rt.ok(&["start", "v1"]);
    for _ in 0..10 {
        rt.ok(&["exec", "v1", "true"]);
    }
    // Held before its execve for a second: its pid file is a full pipe until drained here.
    let fifo = rt.root.parent().unwrap().join("pid.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    chown_to_test_user(&fifo);
    use std::os::unix::fs::OpenOptionsExt;
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    while std::io::Write::write(&mut writer, &[0u8; 4096]).is_ok() {}
    let mut exec = rt
        .cmd(&["exec", "--pid-file", fifo.to_str().unwrap(), "v1", "true"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut reader, &mut sink);
    drop(writer);
    let _ = std::io::Read::read_to_end(&mut reader, &mut sink);
    assert!(exec.wait().unwrap().success());
    rt.ok(&["delete", "--force", "v1"]);
    let _ = holder.kill();
    let _ = holder.wait();
    let seen = std::fs::read_to_string(b.join("rootfs/tmp/exes")).unwrap();

    assert!(
        seen.contains("busybox"),
        "the loop saw nothing: {seen:.200}"
    );
    let bin = bin().to_string_lossy().into_owned();
    assert!(
        !seen.lines().any(|l| l.contains(&bin) || l.contains("sbox")),
        "the runtime's binary was reachable: {:?}",
        seen.lines()
            .filter(|l| l.contains("sbox"))
            .collect::<Vec<_>>()
    );
}

/// --console-socket: the runtime connects, sends the master of a terminal made in the
/// container's own /dev/pts (SCM_RIGHTS); the process has the slave as its terminal.
#[test]
fn console_socket_gets_the_terminal() {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let Some(b) = bundle("console") else { return };
    args(
        &b,
        "tty; test -t 0 && test -t 1 && echo terminal; sleep 0.2",
    );
    edit(&b, |c| c["process"]["terminal"] = json!(true));
    let rt = Rt::new("console");
    let sock = rt.root.parent().unwrap().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    chown_to_test_user(&sock);
    // Without it, a detached container's terminal is refused in one line.
    rt.assert_error(
        &rt.out(&["create", "--bundle", b.to_str().unwrap(), "t1"]),
        "--console-socket",
    );
    rt.assert_gone("t1");
    let socks = sock.to_str().unwrap();
    rt.ok(&[
        "create",
        "--bundle",
        b.to_str().unwrap(),
        "--console-socket",
        socks,
        "t1",
    ]);
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let fd = msg
        .cmsgs()
        .unwrap()
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(f) => f.first().copied(),
            _ => None,
        })
        .expect("a descriptor");
    // SAFETY: received just now, owned here.
    let master = unsafe { OwnedFd::from_raw_fd(fd) };
    rt.ok(&["start", "t1"]);
    let mut out = Vec::new();
    let mut f = std::fs::File::from(master);
    let _ = std::io::Read::read_to_end(&mut f, &mut out);
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("/dev/pts/0\r\n"), "{out:?}");
    assert!(out.contains("terminal"), "{out:?}");
    rt.ok(&["delete", "--force", "t1"]);
}

/// `create`, `run --detach` and `run` with linux.resources (hooks included) all go through
/// the cgroup code plain `sbox --mem` uses: the same outcome (on this hybrid host its one-line
/// cgroup error, no state directory, nothing started: no hook ran), else the container runs
/// under them.
#[test]
fn resources_with_create_and_run_go_through_the_cgroup_session() {
    let Some(b) = bundle("resources") else { return };
    args(&b, "echo ran");
    let mark = b.join("hooked");
    edit(&b, |c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 33554432}});
        c["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", format!("echo pre >>{}", mark.display())]}]});
    });
    let rt = Rt::new("resources");
    let plain = sbox_cmd(&["--ro-bind", "/", "/", "--mem", "32M", "echo", "ran"])
        .output()
        .unwrap();
    let want = stderr(&plain);
    let bs = b.to_str().unwrap();
    for (i, cmd) in [&["run"][..], &["create"], &["run", "--detach"]]
        .iter()
        .enumerate()
    {
        let id = format!("res{i}");
        let mut argv = cmd.to_vec();
        argv.extend(["--bundle", bs, &id]);
        let o = rt.out(&argv);
        let err = stderr(&o);
        if !plain.status.success() {
            // The same line, under each program's name.
            assert_eq!(o.status.code(), Some(1), "{cmd:?}: {err}");
            let strip = |s: &str, p: &str| s.strip_prefix(p).unwrap_or(s).to_string();
            assert_eq!(
                strip(&err, "sbox-runc: "),
                strip(&want, "sbox: "),
                "{cmd:?}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains("cgroup"), "{err}");
            assert!(!mark.exists(), "{cmd:?}: a hook ran");
        } else if cmd == &["run"] {
            assert!(o.status.success(), "{err}");
            assert_eq!(stdout(&o), "ran\n");
        } else {
            assert!(o.status.success(), "{cmd:?}: {err}");
            if cmd == &["create"] {
                rt.ok(&["start", &id]);
            }
            rt.stopped(&id);
            rt.ok(&["delete", &id]);
        }
        rt.assert_gone(&id);
    }
    // Nothing of this runtime left running.
    assert!(
        gone_within(
            &format!("{}\0--root\0{}", link().display(), rt.root.display()),
            std::time::Duration::from_secs(2)
        ),
        "a runtime process is left"
    );
}

/// linux.cgroupsPath with a limit to place: a path runc's systemd form can't read, a slice for
/// a unit, or a cgroupfs path (which a rootless runtime can't honour) is one line naming it,
/// before anything starts (no hook runs, no state is left). Without a limit there is no cgroup:
/// a cgroupfs path is ignored, as runc does rootless. (The scope itself: tests/vm.)
#[test]
fn cgroups_path_that_cannot_be_honoured_is_one_line() {
    let Some(b) = bundle("cgpath") else { return };
    args(&b, "true");
    let mark = b.join("hooked");
    let rt = Rt::new("cgpath");
    let bs = b.to_str().unwrap();
    let with = |path: &str, resources: bool| {
        edit(&b, |c| {
            c["linux"]["cgroupsPath"] = json!(path);
            c["linux"]["resources"] = match resources {
                true => json!({"memory": {"limit": 33554432}}),
                false => json!(null),
            };
            c["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", format!("echo pre >>{}", mark.display())]}]});
        })
    };
    for (flags, path, says) in [
        (
            &[][..],
            "/sbox-test/c1",
            "linux.cgroupsPath: \"/sbox-test/c1\": a rootless runtime can't make a cgroup at a cgroupfs path; pass --systemd-cgroup",
        ),
        (
            &["--systemd-cgroup"],
            "/sbox-test/c1",
            "linux.cgroupsPath: \"/sbox-test/c1\": not of the form \"slice:prefix:name\"",
        ),
        (
            &["--cgroup-manager", "systemd"],
            "user.slice:test:c1.slice",
            "linux.cgroupsPath: \"user.slice:test:c1.slice\": \"c1.slice\": a slice unit holds no processes",
        ),
        (
            &["--systemd-cgroup"],
            "user:test:c1",
            "\"user\": not a slice name",
        ),
    ] {
        with(path, true);
        let mut argv = flags.to_vec();
        argv.extend(["create", "--bundle", bs, "cg1"]);
        rt.assert_error(&rt.out(&argv), says);
        rt.assert_gone("cg1");
        assert!(!mark.exists(), "{flags:?} {path}: a hook ran");
    }
    with("/sbox-test/c1", false);
    rt.ok(&["create", "--bundle", bs, "cg2"]);
    rt.ok(&["start", "cg2"]);
    rt.stopped("cg2");
    rt.ok(&["delete", "cg2"]);
    rt.assert_gone("cg2");
}

/// A `run` SIGKILLed before its delete leaves its state directory: once its container is gone
/// too, a later `run` of that id says so in one warning line and goes ahead; `delete` of such
/// a state works as well.
#[test]
fn stale_state_after_sigkill_of_run() {
    let Some(b) = bundle("stalerun") else { return };
    args(&b, "exec sleep 1013");
    let rt = Rt::new("stalerun");
    let bs = b.to_str().unwrap();
    for (id, then) in [("r1", "run"), ("r2", "delete")] {
        let mut run = rt.cmd(&["run", "--bundle", bs, id]).spawn().unwrap();
        wait_for("sleep\x001013");
        assert_eq!(rt.state(id)["status"], "running");
        // While its run is alive (or its container), the id is taken.
        run.kill().unwrap();
        run.wait().unwrap();
        let o = rt.out(&["run", "--bundle", bs, id]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
        rt.ok(&["kill", id, "KILL"]);
        assert_eq!(rt.stopped(id)["status"], "stopped");
        if then == "delete" {
            let o = rt.out(&["delete", id]);
            assert!(o.status.success(), "{}", stderr(&o));
            assert_eq!(stderr(&o), "");
        } else {
            args(&b, "echo again");
            let o = rt.out(&["run", "--bundle", bs, id]);
            args(&b, "exec sleep 1013");
            assert!(o.status.success(), "{}", stderr(&o));
            assert_eq!(stdout(&o), "again\n");
            let err = stderr(&o);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.starts_with("sbox-runc: warning: ") && err.contains("a run that was killed"),
                "{err}"
            );
        }
        rt.assert_gone(id);
    }
}

/// `ps --format json` is runc's JSON array of pids; `pause`/`resume` go through the
/// container's cgroup, which a container without linux.resources has not: one line says so.
#[test]
fn ps_and_pause_without_a_cgroup() {
    let Some(b) = bundle("ps") else { return };
    args(&b, "sleep 1008 & exec sleep 1009");
    let rt = Rt::new("ps");
    rt.ok(&["run", "--detach", "--bundle", b.to_str().unwrap(), "ps1"]);
    wait_for("sleep\x001008");
    let pid = rt.state("ps1")["pid"].as_i64().unwrap();
    let pids: Vec<i64> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", "ps1"])).unwrap();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert_eq!(pids[0], pid, "{pids:?}");
    let table = rt.ok(&["ps", "ps1"]);
    assert!(table.starts_with("PID\n"), "{table}");
    let o = rt.out(&["pause", "ps1"]);
    rt.assert_error(&o, "no cgroup of its own");
    assert_eq!(rt.state("ps1")["status"], "running");
    let o = rt.out(&["resume", "ps1"]);
    rt.assert_error(&o, "not paused");
    rt.ok(&["delete", "--force", "ps1"]);
    rt.assert_gone("ps1");
    assert!(gone_within(
        "sleep\x001008",
        std::time::Duration::from_secs(2)
    ));
}

impl Rt {
    /// The argv of `sbox-runc ARGS` with this runtime's options.
    fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec![link().display().to_string()];
        v.extend(["--root".into(), self.root.display().to_string()]);
        v.extend(["--log".into(), self.log.display().to_string()]);
        v.extend(args.iter().map(|a| a.to_string()));
        v
    }

    /// `run` of `b` as `id` on the harness's terminal; what the terminal showed.
    fn run_on_pty(&self, b: &Path, id: &str, steps: &[&str]) -> String {
        self.on_pty(&["run", "--bundle", b.to_str().unwrap(), id], id, steps)
    }

    /// `sbox-runc ARGS` (about container `id`) on the harness's terminal.
    fn on_pty(&self, args: &[&str], id: &str, steps: &[&str]) -> String {
        let kill = self.argv(&["kill", id, "KILL"]);
        common::on_pty(
            &self.argv(args),
            steps,
            &[("KILLCMD", json!(kill).to_string())],
        )
    }
}

/// A terminal bundle on the busybox root, running `script`.
fn terminal_bundle(test: &str, script: &str) -> Option<PathBuf> {
    let b = bundle(test)?;
    args(&b, script);
    edit(&b, |c| c["process"]["terminal"] = json!(true));
    Some(b)
}

/// `run` of a terminal bundle without --console-socket: the container's terminal is a pty of
/// its own devpts that the runtime relays (not the caller's), sized as the caller's and
/// following it, typed input reaching it, its exit status through, the caller's modes back.
#[test]
fn run_relays_a_terminal_of_the_containers_own() {
    let Some(b) = terminal_bundle(
        "run-pty",
        "tty; readlink /proc/self/fd/0; stty size; echo ready; read x; stty size; echo ready; \
         read l; echo got:$l; exit 3",
    ) else {
        return;
    };
    let rt = Rt::new("run-pty");
    let out = rt.run_on_pty(&b, "p1", &["WINCH", "hello\n"]);
    let outer = out.lines().find_map(|l| l.strip_prefix("OUTER ")).unwrap();
    assert_ne!(outer, "/dev/pts/0", "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let at = lines.iter().position(|l| *l == "33 111").expect(&out);
    // `tty` and the descriptor: the container's own pts/0, not the caller's terminal.
    assert_eq!(lines[at - 2..at], ["/dev/pts/0", "/dev/pts/0"], "{out}");
    assert!(out.contains("\n40 100\n"), "{out}");
    assert!(out.contains("got:hello\n"), "{out}");
    assert!(out.contains("STATUS 3 SAME NEXT b''"), "{out}");
    rt.assert_gone("p1");
}

/// The container changes its terminal's modes and is then killed: the caller's terminal is
/// as before (it never was the container's), and the status is the signal's.
#[test]
fn run_puts_the_terminal_back_after_the_container_is_killed() {
    let Some(b) = terminal_bundle("run-pty-kill", "stty -echo -icanon; echo ready; sleep 30")
    else {
        return;
    };
    let rt = Rt::new("run-pty-kill");
    let out = rt.run_on_pty(&b, "k1", &["KILL"]);
    assert!(out.contains("STATUS 137 SAME NEXT b''"), "{out}");
    rt.assert_gone("k1");
}

/// SIGTERM or SIGINT to `run`: passed on to the container's process, whose trap runs; the
/// status is the container's, and the caller's terminal (raw while relayed) comes back. The
/// same without a terminal.
#[test]
fn sigterm_to_run_reaches_the_container() {
    let script = "trap 'echo trapped; exit 5' TERM INT; stty raw -echo; echo ready; \
                  while :; do sleep 0.1; done";
    let Some(b) = terminal_bundle("run-pty-term", script) else {
        return;
    };
    let rt = Rt::new("run-pty-term");
    for sig in ["SIGTERM", "SIGINT"] {
        let out = rt.run_on_pty(&b, "s1", &[sig]);
        assert!(out.contains("trapped"), "{sig}: {out}");
        assert!(out.contains("STATUS 5 SAME NEXT b''"), "{sig}: {out}");
        rt.assert_gone("s1");
    }
    edit(&b, |c| c["process"]["terminal"] = json!(false));
    args(
        &b,
        "trap 'echo trapped; exit 5' TERM; echo ready; while :; do sleep 0.1; done",
    );
    let out = rt.run_on_pty(&b, "s2", &["SIGTERM"]);
    assert!(out.contains("trapped"), "{out}");
    assert!(out.contains("STATUS 5 SAME"), "{out}");
    rt.assert_gone("s2");
}

/// TIOCSTI from inside pushes input into the container's own terminal only: the caller's
/// shell reads nothing it did not type. (The host's root, read-only, for python3.)
#[test]
fn a_container_cannot_type_into_the_callers_terminal() {
    let Some(b) = bundle("run-pty-sti") else {
        return;
    };
    edit(&b, |c| {
        c["root"] = json!({"path": "/", "readonly": true});
        c["process"]["terminal"] = json!(true);
        c["process"]["args"] = json!([
            "python3",
            "-c",
            "import fcntl, termios\ntry:\n    fcntl.ioctl(0, termios.TIOCSTI, b'x')\n    \
             print('sti:ok')\nexcept OSError as e:\n    print('sti:', e.errno)"
        ]);
    });
    let rt = Rt::new("run-pty-sti");
    let out = rt.run_on_pty(&b, "i1", &[]);
    // Where the kernel allows it at all (dev.tty.legacy_tiocsti), it worked on its own terminal.
    let legacy = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").unwrap_or_default();
    if legacy.trim() == "1" {
        assert!(out.contains("sti:ok"), "{out}");
    }
    assert!(out.contains("STATUS 0 SAME NEXT b''"), "{out}");
    rt.assert_gone("i1");
}

/// Without a terminal on the caller's side, `run` relays anyway (as runc): the container's
/// stdin is its terminal, the caller's pipe is copied into it, and its end reaches the
/// container as end-of-file (an unfinished last line included).
#[test]
fn run_relays_piped_stdio_through_the_containers_terminal() {
    let Some(b) = terminal_bundle(
        "run-pty-pipe",
        "test -t 0 && test -t 1 && echo tty01; cat >/tmp/got; echo lines=$(wc -l </tmp/got); \
         cat /tmp/got; exit 4",
    ) else {
        return;
    };
    edit(&b, |c| {
        let tmp = json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"});
        c["mounts"].as_array_mut().unwrap().push(tmp)
    });
    let rt = Rt::new("run-pty-pipe");
    let mut child = rt
        .cmd(&["run", "--bundle", b.to_str().unwrap(), "e1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"hello\nthere").unwrap();
    drop(child.stdin.take());
    let o = child.wait_with_output().unwrap();
    let out = stdout(&o).replace('\r', "");
    assert_eq!(o.status.code(), Some(4), "{out} {}", stderr(&o));
    assert!(out.contains("tty01\n"), "{out}");
    assert!(out.contains("lines=1\nhello\nthere"), "{out}");
    rt.assert_gone("e1");
}

/// `exec --tty` without --console-socket: relayed as for `run`, on a terminal of the
/// container's devpts; its status through, the caller's modes back.
#[test]
fn exec_tty_relays_a_terminal_of_the_containers_own() {
    let Some(b) = bundle("exec-pty") else { return };
    args(&b, "sleep 30");
    let rt = Rt::new("exec-pty");
    rt.ok(&["create", "--bundle", b.to_str().unwrap(), "x1"]);
    rt.ok(&["start", "x1"]);
    let script = "tty; stty size; stty raw; exit 6";
    let out = rt.on_pty(&["exec", "--tty", "x1", "sh", "-c", script], "x1", &[]);
    rt.ok(&["delete", "--force", "x1"]);
    assert!(out.contains("\n/dev/pts/0\n33 111\n"), "{out}");
    assert!(out.contains("STATUS 6 SAME NEXT b''"), "{out}");
}

/// The caller's terminal hangs up while `run` relays: its shell dies, the kernel sends SIGHUP
/// to `run` (the foreground job), which passes it on; the container's trap ends it, and
/// `run` deletes it: nothing left, and no spinning on the hung-up terminal meanwhile.
#[test]
fn run_ends_with_the_container_when_the_callers_terminal_hangs_up() {
    let Some(b) = terminal_bundle(
        "run-pty-hup",
        "trap 'echo hup > /out/trapped; exit 9' HUP; echo ready; while :; do sleep 0.1; done",
    ) else {
        return;
    };
    let out = scratch("oci-run-pty-hup-out");
    chown_to_test_user(&out);
    edit(&b, |c| {
        let m = json!({"destination": "/out", "type": "bind", "source": out, "options": ["rbind"]});
        c["mounts"].as_array_mut().unwrap().push(m)
    });
    let rt = Rt::new("run-pty-hup");
    let code = r#"
import os, pty, time, json, subprocess, select
pid, m = pty.fork()
if pid == 0:
    os.execv('/bin/sh', ['sh', '-c', '"$@"; exit 0', 'sh'] + json.loads(os.environ['ARGS']))
out = b''
end = time.time() + 10
while b'ready' not in out and time.time() < end:
    if select.select([m], [], [], 0.1)[0]:
        out += os.read(m, 100)
os.close(m)
os.waitpid(pid, 0)
print(out.decode(errors='replace').strip())
"#;
    let run = rt.argv(&["run", "--bundle", b.to_str().unwrap(), "h1"]);
    let o = as_user("python3")
        .args(["-c", code])
        .env("ARGS", json!(run).to_string())
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("ready"),
        "{} {}",
        stdout(&o),
        stderr(&o)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while rt.root.join("h1").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    rt.assert_gone("h1");
    assert_eq!(
        std::fs::read_to_string(out.join("trapped")).unwrap_or_default(),
        "hup\n"
    );
}
