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
