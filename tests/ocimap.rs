//! The OCI front end against the real thing: podman's seccomp profile compiled by sbox and
//! enforced in a sandbox (the program given to `--seccomp` on a descriptor, as the runtime
//! installs it), and a `spec --rootless` bundle's Spec run as the test user.

mod common;
use common::*;
use serde_json::{Value, json};
use std::path::Path;

/// What podman does with its profile before handing it to a runtime: the native arch and its
/// sub-arches, and the rules whose `includes`/`excludes` hold for the container's
/// capabilities (podman's default set), as OCI `linux.seccomp`.
fn podman_profile(caps: &[&str]) -> Option<Value> {
    let text = std::fs::read_to_string("/usr/share/containers/seccomp.json").ok()?;
    let p: Value = serde_json::from_str(&text).unwrap();
    let mut arches = Vec::new();
    for m in p["archMap"].as_array().unwrap() {
        if m["architecture"] == "SCMP_ARCH_X86_64" {
            arches.push(m["architecture"].clone());
            arches.extend(m["subArchitectures"].as_array().unwrap().iter().cloned());
        }
    }
    let has = |v: &Value, what: &str, ours: &[&str]| {
        v[what]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| ours.contains(&x.as_str().unwrap())))
    };
    let all = |v: &Value, what: &str, ours: &[&str]| {
        v[what]
            .as_array()
            .is_none_or(|l| l.iter().all(|x| ours.contains(&x.as_str().unwrap())))
    };
    let mut rules = Vec::new();
    for r in p["syscalls"].as_array().unwrap() {
        let (inc, exc) = (&r["includes"], &r["excludes"]);
        let arch_ok = inc["arches"]
            .as_array()
            .is_none_or(|_| has(inc, "arches", &["amd64"]));
        if !arch_ok
            || !all(inc, "caps", caps)
            || has(exc, "caps", caps)
            || has(exc, "arches", &["amd64"])
        {
            continue;
        }
        let mut o = json!({"names": r["names"], "action": r["action"]});
        for k in ["errnoRet", "args"] {
            if !r[k].is_null() {
                o[k] = r[k].clone();
            }
        }
        rules.push(o);
    }
    Some(json!({
        "defaultAction": p["defaultAction"],
        "defaultErrnoRet": p["defaultErrnoRet"],
        "architectures": arches,
        "syscalls": rules,
    }))
}

const PODMAN_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// A compiled program as `--seccomp` reads it: the instructions, native-endian.
fn bytes(p: &[seccompiler::sock_filter]) -> Vec<u8> {
    p.iter()
        .flat_map(|f| [&f.code.to_ne_bytes()[..], &[f.jt, f.jf], &f.k.to_ne_bytes()].concat())
        .collect()
}

/// Python printing, per call, its result or errno name.
const PROBE: &str = "
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def sys(nr, *a):
    r = libc.syscall(nr, *[ctypes.c_long(x) for x in a])
    return 'ok' if r >= 0 else errno.errorcode[ctypes.get_errno()]
def sock(*a):
    try:
        socket.socket(*a).close()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
print(sys(39),                  # getpid: allowed
      sys(135, 0x0040000),      # personality(ADDR_NO_RANDOMIZE): not an allowed value
      sys(333, 0, 0, 0, 0, 0),  # io_pgetevents: EPERM in the profile
      sock(16, 3, 9),           # netlink audit without CAP_AUDIT_WRITE: EINVAL
      sock(16, 3, 0))           # another netlink socket: allowed
";

fn run_probe(dir: &Path, prog: Option<&[u8]>) -> String {
    let mut args = vec!["--seccomp-profile", "none"];
    let script;
    let mut cmd = match prog {
        Some(p) => {
            let f = dir.join("prog.bpf");
            std::fs::write(&f, p).unwrap();
            chown_to_test_user(&f);
            args.extend(["--seccomp", "5"]);
            let mut all: Vec<&str> = BASE.to_vec();
            all.extend(&args);
            all.extend(["python3", "-c", PROBE]);
            let quoted: Vec<String> = all
                .iter()
                .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
                .collect();
            script = format!(
                "exec 5<{}; exec {} {}",
                f.display(),
                bin().display(),
                quoted.join(" ")
            );
            let mut c = as_user("sh");
            c.args(["-c", &script]);
            c
        }
        None => {
            let mut all: Vec<&str> = BASE.to_vec();
            all.extend(&args);
            all.extend(["python3", "-c", PROBE]);
            sbox_cmd(&all)
        }
    };
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_string()
}

/// podman's default profile compiles, and a program under it gets what the profile says:
/// allowed calls work, denied ones get the profile's errno, argument rules decide by value.
#[test]
fn podmans_profile_is_enforced() {
    let Some(profile) = podman_profile(PODMAN_CAPS) else {
        return skip_or_fail(
            "podmans_profile_is_enforced",
            "/usr/share/containers/seccomp.json missing (install podman)",
        );
    };
    let text = json!({"ociVersion": "1.0.2", "linux": {"seccomp": profile}}).to_string();
    let c = sbox::oci::config::parse(&text).unwrap();
    let prog =
        sbox::oci::seccomp::compile(c.linux.as_ref().unwrap().seccomp.as_ref().unwrap()).unwrap();
    assert!(prog.len() < 4096, "{}", prog.len());
    let dir = scratch("ocimap-seccomp");
    // Without the program the calls succeed, or fail for the kernel's own reasons (bad
    // arguments, no audit), never with the profile's answers.
    let plain = run_probe(&dir, None);
    let plain: Vec<&str> = plain.split(' ').collect();
    assert_eq!(plain[..2], ["ok", "ok"], "{plain:?}");
    assert_ne!(plain[2], "EPERM", "{plain:?}");
    assert_ne!(plain[3], "EINVAL", "{plain:?}");
    assert_eq!(plain[4], "ok", "{plain:?}");
    assert_eq!(
        run_probe(&dir, Some(&bytes(&prog))),
        "ok ENOSYS EPERM EINVAL ok"
    );
    // With CAP_AUDIT_WRITE granted, the audit socket's rule is not in the profile.
    let mut caps = PODMAN_CAPS.to_vec();
    caps.push("CAP_AUDIT_WRITE");
    let text = json!({"ociVersion": "1.0.2", "linux": {"seccomp": podman_profile(&caps).unwrap()}})
        .to_string();
    let c = sbox::oci::config::parse(&text).unwrap();
    let prog =
        sbox::oci::seccomp::compile(c.linux.as_ref().unwrap().seccomp.as_ref().unwrap()).unwrap();
    let granted = run_probe(&dir, Some(&bytes(&prog)));
    let granted: Vec<&str> = granted.split(' ').collect();
    assert_eq!(granted, ["ok", "ENOSYS", "EPERM", plain[3], "ok"]);
    let _ = std::fs::remove_dir_all(&dir);
}

// --- Bundles: config.json → Spec → launch, as the test user -------------------------------

/// Set in the copy of this test binary that runs one bundle (`bundle_child`).
const BUNDLE_VAR: &str = "SBOX_OCIMAP_BUNDLE";

/// Not a test: the entry point of the copy of this binary that `run_bundle` starts as the test
/// user. It maps the bundle's config.json (as the runtime will) and launches it, in a forked
/// process (the test harness has a second thread; a sandbox is started single-threaded),
/// then exits with the sandbox's status.
#[test]
#[ignore = "the child side of run_bundle, not a test by itself"]
fn bundle_child() {
    let Ok(bundle) = std::env::var(BUNDLE_VAR) else {
        return;
    };
    let fail = |m: String| -> ! {
        eprintln!("{m}");
        std::process::exit(1)
    };
    let bundle = std::path::PathBuf::from(bundle);
    let text = std::fs::read_to_string(bundle.join("config.json")).unwrap();
    let config = sbox::oci::config::parse(&text).unwrap_or_else(|e| fail(e.0));
    let facts = sbox::oci::spec::Facts {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        privileged: false,
    };
    let spec = sbox::oci::spec::to_spec(&config, &bundle, &facts).unwrap_or_else(|e| fail(e.0));
    // SAFETY: the child only starts the sandbox and exits.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => match sbox::launch::run(&spec) {
            Ok(code) => std::process::exit(code),
            Err(e) => fail(format!("sbox: {e}")),
        },
        nix::unistd::ForkResult::Parent { child } => {
            let code = match nix::sys::wait::waitpid(child, None).unwrap() {
                nix::sys::wait::WaitStatus::Exited(_, c) => c,
                other => fail(format!("sandbox ended with {other:?}")),
            };
            std::process::exit(code)
        }
    }
}

/// Run `bundle` through `bundle_child`; the command's lines that start with `OUT ` (the
/// harness prints its own lines too), and the output.
fn run_bundle(bundle: &Path) -> (Vec<String>, std::process::Output) {
    static EXE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let exe = EXE.get_or_init(|| {
        let dst = scratch("ocimap-bin").join("t");
        copy_executable(&std::env::current_exe().unwrap(), &dst);
        dst
    });
    let o = as_user(exe)
        .args([
            "bundle_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(BUNDLE_VAR, bundle)
        .output()
        .unwrap();
    let lines = stdout(&o)
        .lines()
        // (The harness's "test bundle_child ... " may begin the first line.)
        .filter_map(|l| l.split_once("OUT ").map(|(_, out)| out))
        .map(str::to_string)
        .collect();
    (lines, o)
}

/// A bundle: a busybox root and `config` (from the template, changed by the test).
fn bundle(name: &str, config: &Value) -> Option<std::path::PathBuf> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let dir = scratch(name);
    let root = dir.join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    copy_executable(Path::new(busybox), &root.join("bin/busybox"));
    for applet in [
        "sh", "awk", "tr", "wc", "cat", "id", "hostname", "ls", "grep", "cp", "chmod", "touch",
        "mkdir", "echo",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    write(&dir.join("config.json"), &config.to_string());
    chown_tree(&dir);
    Some(dir)
}

/// `spec --rootless` for the test user, running `script` with sh, no terminal.
fn rootless(script: &str) -> Value {
    let (uid, gid) = ids();
    let facts = sbox::oci::spec::Facts {
        uid,
        gid,
        privileged: false,
    };
    let t = sbox::oci::template::template(true, &facts);
    let mut v: Value = serde_json::from_str(&sbox::oci::template::to_json(&t)).unwrap();
    v["process"]["terminal"] = json!(false);
    v["process"]["args"] = json!(["sh", "-c", script]);
    v
}

/// The rootless template's container, seen from inside: pid 1, root, its hostname, a
/// read-only root, the template's capabilities and rlimit, noexec /dev/shm, masked and
/// read-only paths (one of them absent: skipped), the runtime spec's default devices.
#[test]
fn a_rootless_template_bundle_runs_as_configured() {
    let script = "echo OUT pid=$$ uid=$(id -u) host=$(hostname)
touch /x 2>/dev/null && echo OUT root=rw || echo OUT root=ro
grep -E '^Cap(Eff|Bnd)' /proc/self/status | while read k v; do echo OUT $k$v; done
echo OUT nofile=$(ulimit -n)
cp /bin/busybox /dev/shm/b && chmod +x /dev/shm/b && (/dev/shm/b true 2>/dev/null && echo OUT shm=exec || echo OUT shm=noexec)
echo OUT firmware=$(ls /sys/firmware | wc -l)
(echo x > /proc/sys/kernel/hostname) 2>/dev/null && echo OUT procsys=rw || echo OUT procsys=ro
for d in null zero full random urandom tty ptmx fd stdin stdout stderr shm pts; do [ -e /dev/$d ] || echo OUT missing=$d; done
exit 7";
    let mut config = rootless(script);
    config["linux"]["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/proc/no-such-path"));
    let Some(dir) = bundle("ocimap-rootless", &config) else {
        return skip_or_fail(
            "a_rootless_template_bundle_runs_as_configured",
            "no busybox (install busybox-static)",
        );
    };
    let (out, o) = run_bundle(&dir);
    assert_eq!(o.status.code(), Some(7), "{out:?}\n{}", stderr(&o));
    assert_eq!(
        out,
        [
            "pid=1 uid=0 host=sbox",
            "root=ro",
            "CapEff:0000000020000420",
            "CapBnd:0000000020000420",
            "nofile=1024",
            "shm=noexec",
            "firmware=0",
            "procsys=ro",
        ],
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sysfs of the container's own where it has a network namespace (its interfaces: lo
/// only), else the host's /sys, read-only either way.
#[test]
fn sysfs_is_the_containers_own_with_a_network_namespace() {
    let script = "echo OUT $(ls /sys/class/net | tr '\\n' ' ')
touch /sys/x 2>/dev/null && echo OUT sys=rw || echo OUT sys=ro";
    let mut config = rootless(script);
    let sysfs = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                       "options": ["nosuid", "noexec", "nodev", "ro"]});
    for m in config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/sys" {
            *m = sysfs.clone();
        }
    }
    let mut with_net = config.clone();
    with_net["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "network"}));
    let Some(dir) = bundle("ocimap-sysfs", &with_net) else {
        return skip_or_fail(
            "sysfs_is_the_containers_own_with_a_network_namespace",
            "no busybox (install busybox-static)",
        );
    };
    let (out, o) = run_bundle(&dir);
    assert_eq!(out, ["lo", "sys=ro"], "{}", stderr(&o));
    write(&dir.join("config.json"), &config.to_string());
    let (out, o) = run_bundle(&dir);
    assert_eq!(out.len(), 2, "{}", stderr(&o));
    assert_ne!(out[0], "lo", "the host's interfaces");
    assert_eq!(out[1], "sys=ro");
    let _ = std::fs::remove_dir_all(&dir);
}

/// linux.seccomp reaches the container: its rule's errno for mkdir, the rest allowed.
#[test]
fn a_bundles_seccomp_is_enforced() {
    let mut config = rootless(
        "mkdir /dev/shm/d 2>/dev/null && echo OUT mkdir=ok || echo OUT mkdir=denied; echo OUT $(id -u)",
    );
    config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    });
    let Some(dir) = bundle("ocimap-seccomp-bundle", &config) else {
        return skip_or_fail(
            "a_bundles_seccomp_is_enforced",
            "no busybox (install busybox-static)",
        );
    };
    let (out, o) = run_bundle(&dir);
    assert_eq!(out, ["mkdir=denied", "0"], "{}", stderr(&o));
    config["linux"]["seccomp"]["syscalls"] = json!([]);
    write(&dir.join("config.json"), &config.to_string());
    let (out, o) = run_bundle(&dir);
    assert_eq!(out, ["mkdir=ok", "0"], "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A config sbox can't run is one line naming the JSON path, and nothing starts.
#[test]
fn an_unsupported_field_is_one_line() {
    let mut config = rootless("echo OUT started");
    config["linux"]["intelRdt"] = json!({"closID": "x"});
    let Some(dir) = bundle("ocimap-bad", &config) else {
        return skip_or_fail(
            "an_unsupported_field_is_one_line",
            "no busybox (install busybox-static)",
        );
    };
    let (out, o) = run_bundle(&dir);
    assert!(out.is_empty());
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "config.json: linux.intelRdt: not supported\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// linux.devices, rootless: the host's node bound at its path (no node can be made).
#[test]
fn devices_are_the_hosts_nodes_bound() {
    // A character device sbox's own /dev doesn't have; opening it is not needed.
    let Some(dev) = ["/dev/fuse", "/dev/kmsg", "/dev/net/tun"]
        .into_iter()
        .find(|d| Path::new(d).exists())
    else {
        return skip_or_fail(
            "devices_are_the_hosts_nodes_bound",
            "no /dev/fuse, /dev/kmsg or /dev/net/tun",
        );
    };
    let mut config = rootless(&format!("[ -c {dev} ] && echo OUT char || echo OUT absent"));
    config["linux"]["devices"] =
        json!([{"path": dev, "type": "c", "fileMode": 438, "uid": 0, "gid": 0}]);
    let Some(dir) = bundle("ocimap-devices", &config) else {
        return skip_or_fail(
            "devices_are_the_hosts_nodes_bound",
            "no busybox (install busybox-static)",
        );
    };
    let (out, o) = run_bundle(&dir);
    assert_eq!(out, ["char"], "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// linux.sysctl and domainname reach the container's own namespaces, /proc/sys read-only
/// afterwards as the template says.
#[test]
fn sysctls_and_domainname_are_set() {
    let mut config = rootless(
        "echo OUT $(cat /proc/sys/net/ipv4/ping_group_range) $(cat /proc/sys/kernel/domainname)",
    );
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "network"}));
    config["linux"]["sysctl"] = json!({"net.ipv4.ping_group_range": "0 0"});
    config["domainname"] = json!("example");
    let Some(dir) = bundle("ocimap-sysctl", &config) else {
        return skip_or_fail(
            "sysctls_and_domainname_are_set",
            "no busybox (install busybox-static)",
        );
    };
    let (out, o) = run_bundle(&dir);
    assert_eq!(out, ["0 0 example"], "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tmpcopyup` (podman's --read-only on /run, /tmp, /var/tmp): the tmpfs starts with what the
/// image had there, writable, and the image is not changed.
#[test]
fn tmpcopyup_copies_what_the_tmpfs_covers() {
    let script = "cat /run/a/f; readlink /run/l; ls -ld /run/a | cut -c1-10; echo OUT $(cat /run/a/f) $(readlink /run/l) $(stat -c %a /run/a /run/a/f)
echo new > /run/a/f && echo OUT written=$(cat /run/a/f)";
    let mut config = rootless(script);
    config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                     "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]}),
    );
    let Some(dir) = bundle("ocimap-copyup", &config) else {
        return skip_or_fail(
            "tmpcopyup_copies_what_the_tmpfs_covers",
            "no busybox (install busybox-static)",
        );
    };
    let run = dir.join("rootfs/run");
    std::fs::create_dir_all(run.join("a")).unwrap();
    write(&run.join("a/f"), "old");
    std::os::unix::fs::symlink("a/f", run.join("l")).unwrap();
    std::os::unix::fs::symlink("busybox", dir.join("rootfs/bin/readlink")).unwrap();
    std::os::unix::fs::symlink("busybox", dir.join("rootfs/bin/stat")).unwrap();
    std::fs::set_permissions(
        run.join("a"),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    chown_tree(&dir);
    let (out, o) = run_bundle(&dir);
    assert_eq!(out, ["old a/f 750 644", "written=new"], "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(run.join("a/f")).unwrap(), "old");
    let _ = std::fs::remove_dir_all(&dir);
}

/// noNewPrivileges false: the root is mounted without nosuid (setuid programs and file
/// capabilities work inside, as under runc), and no_new_privs stays off; true: both refuse.
#[test]
fn no_new_privileges_decides_setuid_on_the_root() {
    // The topmost mount on / is the last listed.
    let script = "echo OUT $(grep NoNewPrivs /proc/self/status | tr -d '\\t') $(awk '$5 == \"/\" { o = $6 } END { print (o ~ /nosuid/) }' /proc/self/mountinfo)";
    let mut config = rootless(script);
    let Some(dir) = bundle("ocimap-nnp", &config) else {
        return skip_or_fail(
            "no_new_privileges_decides_setuid_on_the_root",
            "no busybox (install busybox-static)",
        );
    };
    let (out, o) = run_bundle(&dir);
    assert_eq!(out, ["NoNewPrivs:1 1"], "{}", stderr(&o));
    config["process"]["noNewPrivileges"] = json!(false);
    write(&dir.join("config.json"), &config.to_string());
    let (out, o) = run_bundle(&dir);
    assert_eq!(out, ["NoNewPrivs:0 0"], "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A cgroup mount: on a cgroup v2 host the container's own cgroup2 (its cgroup namespace's
/// root: only its processes), else the host's /sys/fs/cgroup; read-only either way.
#[test]
fn cgroup_mount_is_the_containers_own_on_v2() {
    let script = "echo OUT $(awk '$5 == \"/sys/fs/cgroup\" { t = $0; sub(/.* - /, \"\", t); split(t, a, \" \"); o = a[1] } END { print o }' /proc/self/mountinfo)
touch /sys/fs/cgroup/x 2>/dev/null && echo OUT rw || echo OUT ro
[ -e /sys/fs/cgroup/cgroup.procs ] && echo OUT procs=$(wc -l < /sys/fs/cgroup/cgroup.procs)";
    let mut config = rootless(script);
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    let Some(dir) = bundle("ocimap-cgroup", &config) else {
        return skip_or_fail(
            "cgroup_mount_is_the_containers_own_on_v2",
            "no busybox (install busybox-static)",
        );
    };
    let host_v2 = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|f| f.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    let (out, o) = run_bundle(&dir);
    if host_v2 {
        // The container's processes: its sh (pid 1) and the command substitution's.
        assert_eq!(out.len(), 3, "{out:?} {}", stderr(&o));
        assert_eq!(out[..2], ["cgroup2", "ro"], "{}", stderr(&o));
        let n: u32 = out[2].strip_prefix("procs=").unwrap().parse().unwrap();
        assert!(n <= 4, "{out:?}");
    } else {
        let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let fstype = host
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup"))
            .and_then(|l| l.split(" - ").nth(1))
            .and_then(|t| t.split(' ').next())
            .unwrap_or("")
            .to_string();
        assert_eq!(out[..2], [fstype.as_str(), "ro"], "{}", stderr(&o));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `spec` without --rootless, run by an unprivileged user: no user namespace in the config,
/// so sbox makes one (nothing else could be built), mapping the user to the process's root.
#[test]
fn the_non_rootless_template_runs_unprivileged() {
    let t = sbox::oci::template::template(false, &sbox::oci::spec::Facts::default());
    let mut config: Value = serde_json::from_str(&sbox::oci::template::to_json(&t)).unwrap();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(["sh", "-c", "echo OUT $(id -u) $(ls /sys/class/net)"]);
    let Some(dir) = bundle("ocimap-nonrootless", &config) else {
        return skip_or_fail(
            "the_non_rootless_template_runs_unprivileged",
            "no busybox (install busybox-static)",
        );
    };
    let (out, o) = run_bundle(&dir);
    assert_eq!(out, ["0 lo"], "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `sbox-runc` link, beside the test copy of sbox.
fn runc_link() -> std::path::PathBuf {
    let l = bin().parent().unwrap().join("sbox-runc");
    if !l.exists() {
        let _ = std::os::unix::fs::symlink("sbox", &l);
    }
    l
}

/// Every rule of `spec::validate` that a config can reach, tripped by a bundle of its own:
/// `sbox-runc run` refuses it in one line that names the config's JSON path (no sbox option),
/// the same message is the JSON log's one line, and nothing is left in the state directory.
#[test]
fn a_broken_rule_names_the_configs_json_path() {
    let (uid, _) = ids();
    type Edit = Box<dyn Fn(&mut Value)>;
    fn without(c: &mut Value, kind: &str) {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != kind);
    }
    let map = |ranges: &[(u32, u32, u32)]| {
        let v: Vec<Value> = (ranges.iter())
            .map(|&(c, h, n)| json!({"containerID": c, "hostID": h, "size": n}))
            .collect();
        json!(v)
    };
    let (own, other) = (map(&[(0, uid, 1), (1, 100000, 10)]), map(&[(0, uid, 1)]));
    let cases: Vec<(Edit, String)> = vec![
        (
            Box::new(|c| {
                without(c, "uts");
                c["hostname"] = json!("h");
            }),
            r#"hostname: needs a UTS namespace: add {"type": "uts"} in linux.namespaces"#.into(),
        ),
        (
            Box::new(|c| c["process"]["env"] = json!(["PATH=/bin", "=x"])),
            "process.env[1]: '': not a variable name".into(),
        ),
        (
            Box::new(move |c| {
                without(c, "user");
                let user = json!({"type": "user", "path": "/proc/self/ns/user"});
                c["linux"]["namespaces"].as_array_mut().unwrap().push(user);
                c["linux"]["uidMappings"] = own.clone();
            }),
            "linux.uidMappings: needs a user namespace of the sandbox's own, not a joined one"
                .into(),
        ),
        (
            Box::new(move |c| c["linux"]["gidMappings"] = map(&[(0, uid, 1), (1, 4294967290, 10)])),
            "linux.gidMappings: 1:4294967290:10: not a range of 32-bit ids".into(),
        ),
        (
            Box::new(move |c| c["linux"]["uidMappings"] = map(&[(0, uid, 1), (0, 100000, 10)])),
            format!("linux.uidMappings: 0:100000:10: overlaps 0:{uid}:1"),
        ),
        (
            Box::new(move |c| {
                c["process"]["user"]["uid"] = json!(5);
                c["linux"]["uidMappings"] = other.clone();
            }),
            "linux.uidMappings: does not map process.user.uid 5".into(),
        ),
        (
            Box::new(|c| {
                c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}])
            }),
            "process.rlimits[0] (RLIMIT_NOFILE): the soft limit 10 is above the hard limit 5"
                .into(),
        ),
        (
            Box::new(|c| {
                let r = json!({"type": "RLIMIT_NOFILE", "soft": 5, "hard": 5});
                c["process"]["rlimits"] = json!([r, r]);
            }),
            "process.rlimits[1] (RLIMIT_NOFILE): given twice".into(),
        ),
        (
            Box::new(|c| c["process"]["oomScoreAdj"] = json!(2000)),
            "process.oomScoreAdj: 2000: not in -1000..1000".into(),
        ),
        (
            Box::new(|c| c["process"]["user"]["umask"] = json!(512)),
            "process.user.umask: 1000: not a mode".into(),
        ),
        (
            Box::new(|c| {
                let caps = &mut c["process"]["capabilities"];
                caps["effective"] = json!(["CAP_KILL", "CAP_CHOWN"]);
                caps["permitted"] = json!(["CAP_KILL"]);
            }),
            "process.capabilities.effective: CAP_CHOWN: must also be in process.capabilities.permitted"
                .into(),
        ),
        (
            Box::new(|c| {
                let caps = &mut c["process"]["capabilities"];
                caps["effective"] = json!(["CAP_KILL"]);
                caps["permitted"] = json!(["CAP_KILL", "CAP_SYS_ADMIN"]);
                caps["bounding"] = json!(["CAP_KILL"]);
            }),
            "process.capabilities.permitted: CAP_SYS_ADMIN: must also be in \
             process.capabilities.bounding"
                .into(),
        ),
        (
            Box::new(|c| c["process"]["user"]["additionalGids"] = json!([10])),
            "process.user.additionalGids: need a gid map written with privilege \
             (linux.gidMappings, newgidmap)"
                .into(),
        ),
        (
            Box::new(|c| c["linux"]["sysctl"] = json!({"kernel.panic": "1"})),
            r#"linux.sysctl["kernel.panic"]: not a namespaced sysctl"#.into(),
        ),
        (
            Box::new(|c| c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"})),
            r#"linux.sysctl["net.ipv4.ip_forward"]: needs a network namespace of the sandbox's own"#
                .into(),
        ),
        (
            Box::new(|c| {
                let net = json!({"type": "network"});
                c["linux"]["namespaces"].as_array_mut().unwrap().push(net);
                c["linux"]["sysctl"] = json!({"net..x": "1"});
            }),
            r#"linux.sysctl["net..x"]: not a sysctl name"#.into(),
        ),
        (
            Box::new(|c| {
                without(c, "pid");
                c["linux"]["sysctl"] = json!({"kernel.shmmax": "1"});
            }),
            r#"linux.sysctl["kernel.shmmax"]: needs a PID namespace of the sandbox's own ({"type": "pid"} in linux.namespaces)"#
                .into(),
        ),
        (
            Box::new(|c| {
                without(c, "uts");
                c["domainname"] = json!("d");
            }),
            "domainname: needs a UTS namespace of the sandbox's own".into(),
        ),
    ];
    let Some(dir) = bundle("ocimap-rules", &rootless("echo OUT ran")) else {
        return skip_or_fail(
            "a_broken_rule_names_the_configs_json_path",
            "no busybox (install busybox-static)",
        );
    };
    let state = scratch("ocimap-rules-state");
    chown_to_test_user(&state);
    let root = state.join("root");
    for (i, (edit, want)) in cases.iter().enumerate() {
        let mut config = rootless("echo OUT ran");
        edit(&mut config);
        write(&dir.join("config.json"), &config.to_string());
        let log = state.join(format!("log{i}.json"));
        let o = as_user(runc_link())
            .arg("--root")
            .arg(&root)
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json", "run", "--bundle"])
            .arg(&dir)
            .arg(format!("rule{i}"))
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{want}: {err}");
        assert!(stdout(&o).is_empty(), "{want}: {}", stdout(&o));
        assert_eq!(err.lines().count(), 1, "{err}");
        let line = err.trim_end();
        assert!(
            line.starts_with(&format!("sbox-runc: config.json: {want}")),
            "{line}\nwant: {want}"
        );
        assert!(!line.contains("--"), "an sbox option named: {line}");
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let rec: Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(rec["level"], "error");
        assert_eq!(rec["msg"], line.strip_prefix("sbox-runc: ").unwrap());
        let left = std::fs::read_dir(&root).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "{want}: state left in {}", root.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
