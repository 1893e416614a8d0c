//! The diagnostics catalogue: bad input of every kind gets one line, `sbox: ` first, naming
//! the culprit, a non-zero status, and leaves nothing running or mounted.

mod common;
use common::*;

/// The host's mount table, as the test process sees it.
fn mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// (arguments, what the one line must contain after `sbox: `). `MARK` becomes a marker
/// unique to the case, placed in the command line, to find leftover processes.
const CASES: &[(&[&str], &str)] = &[
    // Missing or invalid option arguments.
    (&["--bind", "/tmp"], "--bind: missing argument"),
    (&["--ro-bind"], "--ro-bind: missing argument"),
    (&["--tmpfs"], "--tmpfs: missing argument"),
    (
        &["--uid", "abc", "true", "MARK"],
        "--uid: 'abc': not a whole number",
    ),
    (&["--gid", "-1", "true", "MARK"], "--gid: '-1'"),
    (
        &["--frobnicate", "true", "MARK"],
        "--frobnicate: unknown option",
    ),
    (
        &["--completions", "tcsh"],
        "--completions: 'tcsh': not one of bash",
    ),
    (&[], "no command given"),
    // A value or path with a newline: still one line (the newline escaped).
    (
        &["--perms", "0\n9", "--dir", "/x", "true", "MARK"],
        "--perms: '0\\n9': not an octal mode",
    ),
    (
        &["--ro-bind", "/no\nsbox: such", "/x", "true", "MARK"],
        "--ro-bind: /no\\nsbox: such: No such file or directory",
    ),
    (
        &["--mkroot", "/nonexistent/root", "no-such\nsbox: program"],
        "--mkroot: no-such\\nsbox: program: not found",
    ),
    // Nonexistent or unreadable sources.
    (
        &["--ro-bind", "/nonexistent", "/x", "true", "MARK"],
        "--ro-bind: /nonexistent: No such file or directory (use --ro-bind-try",
    ),
    (
        &["--bind", "/root/.bashrc", "/x", "true", "MARK"],
        "--bind: /root/.bashrc: Permission denied",
    ),
    (
        &[
            "--ro-bind",
            "/",
            "/",
            "--chdir",
            "/nonexistent",
            "true",
            "MARK",
        ],
        "--chdir: /nonexistent: No such file or directory",
    ),
    (
        &[
            "--ro-bind",
            "/",
            "/",
            "--remount-ro",
            "/nonexistent",
            "true",
            "MARK",
        ],
        "--remount-ro: /nonexistent: No such file or directory",
    ),
    // Bad octal and bad sizes.
    (
        &["--perms", "0999", "--dir", "/x", "true", "MARK"],
        "--perms: '0999': not an octal mode",
    ),
    (
        &["--chmod", "8", "/x", "true", "MARK"],
        "--chmod: '8': not an octal mode",
    ),
    (
        &["--size", "12Q", "--tmpfs", "/x", "true", "MARK"],
        "--size: '12Q': not a size",
    ),
    (&["--mem", "0", "true", "MARK"], "--mem: '0': not a size"),
    (
        &["--pids", "0", "true", "MARK"],
        "--pids: '0': not a process count",
    ),
    (
        &["--cpu", "0%", "true", "MARK"],
        "--cpu: '0%': not a CPU share",
    ),
    // Conflicting or incomplete options.
    (
        &["--hostname", "h", "true", "MARK"],
        "--hostname: needs a UTS namespace: add --unshare-uts",
    ),
    (
        &["--as-pid-1", "true", "MARK"],
        "--as-pid-1: needs a PID namespace: add --unshare-pid",
    ),
    (
        &["--userns2", "3", "true", "MARK"],
        "--userns2: needs --userns",
    ),
    (
        &[
            "--disable-userns",
            "--assert-userns-disabled",
            "true",
            "MARK",
        ],
        "--assert-userns-disabled: conflicts with --disable-userns",
    ),
    (
        &["--seccomp", "0", "--add-seccomp-fd", "0", "true", "MARK"],
        "--seccomp: cannot be combined with --add-seccomp-fd",
    ),
    (
        &["--tmp-overlay", "/x", "true", "MARK"],
        "--tmp-overlay: needs at least 1 --overlay-src",
    ),
    (
        &["--doctor", "--ro-bind", "/", "/"],
        "--doctor: cannot be combined with --ro-bind",
    ),
    (
        &["--busybox", "true", "MARK"],
        "--busybox: only with --mkroot DIR",
    ),
    (
        &[
            "--ro-bind",
            "/",
            "/",
            "--mqueue",
            "/dev/mqueue",
            "true",
            "MARK",
        ],
        "--mqueue: /dev/mqueue: Operation not permitted: a new mqueue needs its own IPC namespace",
    ),
    // Unknown capability, syscall, errno, profile names.
    (
        &["--cap-add", "CAP_FLY", "true", "MARK"],
        "--cap-add: 'CAP_FLY': unknown capability",
    ),
    (
        &["--cap-drop", "nope", "true", "MARK"],
        "--cap-drop: 'nope': unknown capability",
    ),
    (
        &["--seccomp-deny", "nosuchcall", "true", "MARK"],
        "--seccomp-deny: 'nosuchcall': 'nosuchcall' is not a syscall",
    ),
    (
        &["--seccomp-allow", "frob", "true", "MARK"],
        "--seccomp-allow: 'frob': 'frob' is not a syscall",
    ),
    (
        &["--seccomp-deny", "keyctl:EFOO", "true", "MARK"],
        "--seccomp-deny: 'keyctl:EFOO': 'EFOO' is not an errno",
    ),
    (
        &["--seccomp-profile", "lax", "true", "MARK"],
        "--seccomp-profile: 'lax': unknown profile",
    ),
    (
        &["--landlock-ro", "usr", "true", "MARK"],
        "--landlock-ro: 'usr': not an absolute path",
    ),
    (
        &["--landlock-tcp-bind", "70000", "true", "MARK"],
        "--landlock-tcp-bind: '70000'",
    ),
    (
        &[
            "--ro-bind",
            "/",
            "/",
            "--landlock-ro",
            "/nonexistent",
            "true",
            "MARK",
        ],
        "--landlock-ro: /nonexistent: no such path inside the sandbox",
    ),
    (
        &["--setenv", "A=B", "1", "true", "MARK"],
        "--setenv: 'A=B': not a variable name",
    ),
    // Commands that can't run inside the new root.
    (
        &["--ro-bind", "/", "/", "sbox-no-such-command", "MARK"],
        "exec: sbox-no-such-command: command not found in the sandbox",
    ),
    (
        &["--tmpfs", "/", "sh", "MARK"],
        "exec: sh: command not found in the sandbox",
    ),
    (
        &["--ro-bind", "/", "/", "/etc/passwd", "MARK"],
        "exec: /etc/passwd: Permission denied",
    ),
    // Bad descriptors.
    (
        &["--args", "77", "true", "MARK"],
        "--args: 77: not an open file descriptor",
    ),
    (
        &["--info-fd", "77", "--ro-bind", "/", "/", "true", "MARK"],
        "--info-fd: 77: not an open file descriptor",
    ),
    (
        &["--bind-data", "77", "/x", "true", "MARK"],
        "--bind-data: 77: not an open file descriptor",
    ),
    // One descriptor named by two options: the first would consume or close it under the
    // second.
    (
        &["--file", "0", "/a", "--file", "0", "/b", "true", "MARK"],
        "--file: 0: descriptor 0 is already used by --file",
    ),
    (
        &["--info-fd", "0", "--json-status-fd", "0", "true", "MARK"],
        "--json-status-fd: 0: descriptor 0 is already used by --info-fd",
    ),
    (
        &["--sync-fd", "0", "--info-fd", "0", "true", "MARK"],
        "--info-fd: 0: descriptor 0 is already used by --sync-fd",
    ),
    (
        &["--seccomp", "0", "--bind-data", "0", "/x", "true", "MARK"],
        "--bind-data: 0: descriptor 0 is already used by --seccomp",
    ),
    (
        &["--file", "abc", "/x", "true", "MARK"],
        "--file: 'abc': not a file descriptor number",
    ),
    (
        &["--userns", "77", "true", "MARK"],
        "--userns: 77: not an open file descriptor",
    ),
    // A mode with a bad argument.
    (
        &["--mkroot", "/proc/sbox-nope", "sh"],
        "--mkroot: /proc/sbox-nope",
    ),
];

#[test]
fn every_bad_input_gets_one_line_and_leaves_nothing() {
    assert!(CASES.len() >= 30);
    let before = mounts();
    let mut failures = Vec::new();
    for (n, (args, want)) in CASES.iter().enumerate() {
        let mark = format!("sbox-diag-marker-{}-{n}", std::process::id());
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "MARK" { mark.as_str() } else { a })
            .collect();
        let o = sbox(&args);
        let err = stderr(&o);
        let line_ok = err.lines().count() == 1 && err.starts_with(&format!("sbox: {want}"));
        if o.status.success() || !line_ok {
            failures.push(format!("{args:?}: status {:?}, stderr {err:?}", o.status));
        }
        let left = pids_with(&mark);
        if !left.is_empty() {
            failures.push(format!("{args:?}: left processes {left:?}"));
        }
        if mounts() != before {
            failures.push(format!("{args:?}: host mounts changed"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_profiles_get_one_line_with_their_position() {
    let d = scratch("bad-profiles");
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        chown_to_test_user(&p);
        p.to_str().unwrap().to_string()
    };
    let unknown_key = write("key.toml", "hostname = \"x\"\nbogus = 1\n");
    let wrong_type = write("type.toml", "hostname = 5\n");
    let variable = write(
        "var.toml",
        "[[mounts]]\nkind = \"bind\"\nsrc = \"${NOPE}\"\ndst = \"/x\"\n",
    );
    let cycle = write("loop.toml", "extends = [\"loop\"]\n");
    let before = mounts();
    for (args, want) in [
        (
            vec!["--profile", unknown_key.as_str()],
            format!("--profile: {unknown_key}:2:1: unknown field `bogus`"),
        ),
        (
            vec!["--profile", wrong_type.as_str()],
            format!("--profile: {wrong_type}:1:12:"),
        ),
        (
            vec!["--profile", variable.as_str()],
            format!("--profile: {variable}:3:"),
        ),
        (
            vec!["--profile", "no-such-profile-sbox"],
            "--profile: 'no-such-profile-sbox': no such profile".into(),
        ),
    ] {
        let mut a = args.clone();
        a.push("true");
        let o = sbox(&a);
        assert_one_line_error(&o, &want);
    }
    let o = sbox_cmd(&["--profile", "loop", "true"])
        .env("SBOX_PROFILE_PATH", &d)
        .output()
        .unwrap();
    assert_one_line_error(&o, &format!("--profile: {cycle}:1:"));
    assert_eq!(mounts(), before);
}

/// sbox is a static binary: a user that no /etc file knows (the test uid has no passwd line)
/// must not send glibc to the system's NSS modules, which crash a static program. ${USER} and
/// ${HOME} then come from the environment.
#[test]
fn a_user_without_a_passwd_line_gets_user_and_home_from_the_environment() {
    let d = scratch("nss");
    let p = d.join("who.toml");
    std::fs::write(
        &p,
        "[[mounts]]\nkind = \"ro-bind\"\nsrc = \"/\"\ndst = \"/\"\n\
         [[mounts]]\nkind = \"tmpfs\"\ndst = \"${HOME}\"\n\
         [[mounts]]\nkind = \"dir\"\ndst = \"${HOME}/${USER}\"\n",
    )
    .unwrap();
    chown_to_test_user(&p);
    let o = sbox_cmd(&[
        "--profile",
        p.to_str().unwrap(),
        "sh",
        "-c",
        "ls /var/tmp; test -w /var/tmp && echo home-writable",
    ])
    .env("USER", "envuser")
    .env("HOME", "/var/tmp")
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "envuser\nhome-writable\n");
}
