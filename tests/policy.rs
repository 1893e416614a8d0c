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
fn verbose_lines_take_the_debug_level() {
    // Under --level-prefix every stderr line carries its syslog level: -v lines are <7>.
    let o = py(&["-v", "--level-prefix", "--landlock"], "pass");
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("<7>sbox: landlock: ABI "), "{err}");
    assert!(err.lines().all(|l| l.starts_with("<7>sbox: ")), "{err}");
}

#[test]
fn landlock_path_missing_inside_is_one_line_error() {
    let o = py(&["--landlock-ro", "/no/such/dir"], "pass");
    assert_one_line_error(&o, "--landlock-ro: /no/such/dir: ");
}

/// Python making syscalls both ways: `x64(nr, a, b)` through libc, `i386(nr, a, b)` through
/// `int 0x80` from this x86_64 process (the kernel takes it as an i386 call: the way a
/// sandboxed program reaches the i386 table without being a 32-bit binary). Each prints the
/// errno's name or "ok".
const BOTH_ARCHES: &str = r#"import ctypes, errno, mmap
libc = ctypes.CDLL(None, use_errno=True)
# push rbx; mov eax, edi; mov ebx, esi; mov ecx, edx; int 0x80; pop rbx; ret
code = bytes([0x53, 0x89, 0xf8, 0x89, 0xf3, 0x89, 0xd1, 0xcd, 0x80, 0x5b, 0xc3])
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
int80 = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int)(addr)
def x64(nr, a=0, b=0):
    r = libc.syscall(ctypes.c_long(nr), ctypes.c_long(a), ctypes.c_long(b))
    print('ok' if r >= 0 else errno.errorcode[ctypes.get_errno()])
def i386(nr, a=0, b=0):
    r = int80(nr, a, b)
    print('ok' if r >= 0 or r < -4095 else errno.errorcode[-r])
"#;

#[test]
fn i386_calls_meet_the_same_policy() {
    // ptrace(PTRACE_TRACEME) and getpid: x86_64 101 and 39, i386 26 and 20.
    let code = format!(
        "{BOTH_ARCHES}x64(101); i386(26); x64(39); i386(20)\n\
         # socket(AF_PACKET): x86_64 41, i386 359; and through socketcall (102), whose\n\
         # arguments are in memory: SYS_SOCKET (1) is refused, SYS_GETSOCKNAME (6) reaches\n\
         # the kernel (EFAULT: its argument block is a null pointer).\n\
         x64(41, 17, 3); i386(359, 17, 3); i386(102, 1, 0); i386(102, 6, 0)"
    );
    let strict = [
        "--seccomp-profile",
        "strict",
        "--seccomp-allow-32bit",
        "--seccomp-deny",
        "getpid:EACCES",
    ];
    let out = py_ok(&strict, &code);
    let got: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        got,
        [
            "ENOSYS",
            "ENOSYS",
            "EACCES",
            "EACCES",
            "EAFNOSUPPORT",
            "EAFNOSUPPORT",
            "EAFNOSUPPORT",
            "EFAULT"
        ],
        "{out}"
    );
    // The default profile with a deny: getpid refused on both, and unshare(CLONE_NEWUSER).
    let default = ["--seccomp-allow-32bit", "--seccomp-deny", "getpid:EPERM"];
    let out = py_ok(
        &default,
        &format!("{BOTH_ARCHES}x64(39); i386(20); x64(272, 0x10000000); i386(310, 0x10000000)"),
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["EPERM", "EPERM", "EPERM", "EPERM"],
        "{out}"
    );
}
