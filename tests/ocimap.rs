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
    // Without the program the same calls succeed (or fail for the kernel's own reasons).
    assert_eq!(run_probe(&dir, None), "ok ok EFAULT ok ok");
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
    assert_eq!(
        run_probe(&dir, Some(&bytes(&prog))),
        "ok ENOSYS EPERM ok ok"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
