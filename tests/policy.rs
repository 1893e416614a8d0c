//! Seccomp and Landlock through the real binary, as an unprivileged user.

mod common;
use common::*;

/// Python printing the errno of a raw libc call returning -1, or "ok".
fn libc_call(call: &str) -> String {
    format!(
        "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         r = libc.{call}\nprint('ok' if r >= 0 else errno.errorcode[ctypes.get_errno()])"
    )
}

const NEWUSER: &str = "unshare(0x10000000)";

#[test]
fn default_profile_refuses_nested_user_namespaces() {
    assert_eq!(py_ok(&[], &libc_call(NEWUSER)).trim(), "EPERM");
    assert_eq!(py_ok(&["--allow-userns"], &libc_call(NEWUSER)).trim(), "ok");
    // Without seccomp the second layer holds: the user-namespace limit.
    let none = ["--seccomp-profile", "none"];
    assert_eq!(py_ok(&none, &libc_call(NEWUSER)).trim(), "ENOSPC");
    let none_allowed = ["--seccomp-profile", "none", "--allow-userns"];
    assert_eq!(py_ok(&none_allowed, &libc_call(NEWUSER)).trim(), "ok");
    // With a capability kept, the command sits in a nested namespace below the limit.
    let kept = ["--seccomp-profile", "none", "--cap-add", "CAP_SYS_RESOURCE"];
    assert_eq!(py_ok(&kept, &libc_call(NEWUSER)).trim(), "ENOSPC");

    // Mounting stays refused with --allow-userns.
    let mount = "mount(b'none', b'/tmp', b'tmpfs', 0, None)";
    assert_eq!(
        py_ok(&["--allow-userns"], &libc_call(mount)).trim(),
        "EPERM"
    );
}

#[test]
fn strict_profile_runs_ordinary_programs() {
    let strict = ["--seccomp-profile", "strict"];
    let packet = errno_of("socket.socket(socket.AF_PACKET, socket.SOCK_RAW)");
    assert_eq!(py_ok(&strict, &packet).trim(), "EAFNOSUPPORT");
    assert_eq!(py_ok(&strict, &libc_call(NEWUSER)).trim(), "ENOSYS");
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend(strict);
    args.extend(["--tmpfs", "/tmp", "sh", "-c"]);
    args.push(
        "cd /tmp && printf 'int main(void){return 0;}\\n' > t.c && \
         printf 'all:\\n\\tcc -o t t.c\\n' > Makefile && make -s && ./t && ls | sort | tr '\\n' ' '",
    );
    assert_eq!(ok(&args), "Makefile t t.c ");
}

#[test]
fn seccomp_deny_with_an_errno() {
    let deny = ["--seccomp-deny", "sched_getaffinity:EACCES"];
    assert_eq!(
        py_ok(&deny, &errno_of("os.sched_getaffinity(0)")).trim(),
        "EACCES"
    );
}

#[test]
fn landlock_limits_writes_to_the_listed_trees() {
    let data = scratch("landlock-data");
    let d = data.to_str().unwrap();
    let write = errno_of("open('/mnt/x', 'w').write('1')");
    let base = ["--bind", d, "/mnt", "--tmpfs", "/tmp"];
    assert_eq!(py_ok(&base, &write).trim(), "ok");
    let mut ll = base.to_vec();
    ll.extend(["--landlock-ro", "/", "--landlock-rw", "/tmp"]);
    assert_eq!(py_ok(&ll, &write).trim(), "EACCES");
    let tmp = errno_of("open('/tmp/x', 'w').write('1')");
    assert_eq!(py_ok(&ll, &tmp).trim(), "ok");
    // --landlock alone: the rw bind stays writable, as its mount says.
    let mut derived = base.to_vec();
    derived.push("--landlock");
    assert_eq!(py_ok(&derived, &write).trim(), "ok");
}

#[test]
fn verbose_reports_the_policy() {
    let o = py(&["-v", "--landlock"], "pass");
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("sbox: landlock: ABI "), "{err}");
    assert!(err.contains("sbox: seccomp: default ("), "{err}");
}

#[test]
fn landlock_path_missing_inside_is_one_line_error() {
    let o = py(&["--landlock-ro", "/no/such/dir"], "pass");
    assert_one_line_error(&o, "--landlock-ro: /no/such/dir: ");
}
