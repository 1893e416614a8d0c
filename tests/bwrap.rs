//! bubblewrap 0.11 compatibility: every option of its interface, checked by its effect, as
//! an unprivileged user. Wrappers are written in Python, the way real ones drive bwrap.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// Run a Python wrapper as the test user; `SBOX` in its environment is the binary.
fn wrapper(code: &str) -> std::process::Output {
    as_user("python3")
        .args(["-c", code])
        .env("SBOX", bin())
        .output()
        .unwrap()
}

#[track_caller]
fn wrapper_ok(code: &str) -> String {
    let o = wrapper(code);
    assert!(
        o.status.success(),
        "wrapper failed: {}\n{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// A `bwrap` link to sbox, for programs written for bubblewrap (made once: tests run in
/// parallel).
fn bwrap_link() -> PathBuf {
    static LINK: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LINK.get_or_init(|| {
        let link = scratch("bwrap-link").join("bwrap");
        std::os::unix::fs::symlink(bin(), &link).unwrap();
        link
    })
    .clone()
}

const PY_PRELUDE: &str = "import os, sys, json, subprocess, time\nS = os.environ['SBOX']\n";

#[test]
fn args_fd_supplies_arguments() {
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}r, w = os.pipe()\nos.write(w, b'--ro-bind\\0/\\0/\\0--setenv\\0X\\0from args\\0'); os.close(w)\n\
         p = subprocess.run([S, '--args', str(r), 'sh', '-c', 'echo $X'], pass_fds=[r], capture_output=True, text=True)\n\
         print(p.stdout.strip(), p.returncode)"
    ));
    assert_eq!(out.trim(), "from args 0");
}

#[test]
fn info_and_json_status_fds() {
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}ir, iw = os.pipe(); sr, sw = os.pipe()\n\
         p = subprocess.Popen([S, '--ro-bind', '/', '/', '--unshare-net', '--info-fd', str(iw), '--json-status-fd', str(sw), 'sh', '-c', 'readlink /proc/self/ns/mnt /proc/self/ns/net; exit 7'], pass_fds=[iw, sw], stdout=subprocess.PIPE, text=True)\n\
         os.close(iw); os.close(sw)\n\
         info = json.loads(os.fdopen(ir).read())\n\
         lines = os.fdopen(sr).read().splitlines()\n\
         out = p.stdout.read().split(); p.wait()\n\
         start, end = json.loads(lines[0]), json.loads(lines[1])\n\
         assert info == start, (info, start)\n\
         assert out == ['mnt:[%d]' % info['mnt-namespace'], 'net:[%d]' % info['net-namespace']], (out, info)\n\
         assert 'ipc-namespace' not in info and 'user-namespace' not in info\n\
         print(sorted(info), end, p.returncode)"
    ));
    assert_eq!(
        out.trim(),
        "['child-pid', 'mnt-namespace', 'net-namespace'] {'exit-code': 7} 7"
    );
}

/// The status records name the namespaces of a command that is over before the supervisor
/// gets to them (strace holds the supervisor at its clone for 0.3 s while the command runs
/// `true`): the supervisor reads them while the child waits.
#[test]
fn info_fd_names_the_namespaces_of_a_command_over_at_once() {
    if !have("strace") {
        skip_or_fail(
            "info_fd_names_the_namespaces_of_a_command_over_at_once",
            "no strace (Debian: strace)",
        );
        return;
    }
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}ir, iw = os.pipe()\n\
         held = ['strace', '-qq', '-o', '/dev/null', '-f', '-e', 'trace=clone,clone3', '-e', 'inject=clone,clone3:delay_exit=300000']\n\
         p = subprocess.Popen(held + [S, '--ro-bind', '/', '/', '--unshare-net', '--info-fd', str(iw), 'true'], pass_fds=[iw])\n\
         os.close(iw)\n\
         print(sorted(json.loads(os.fdopen(ir).read())), p.wait())"
    ));
    assert_eq!(
        out.trim(),
        "['child-pid', 'mnt-namespace', 'net-namespace'] 0"
    );
}

#[test]
fn json_status_reports_what_landlock_enforced() {
    // sbox's extra record between start and exit: what the command runs under, as JSON that
    // a reader parses (typed on its way from the sandbox, serialized by serde).
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}sr, sw = os.pipe()\n\
         p = subprocess.run([S, '--ro-bind', '/', '/', '--landlock-ro', '/', '--json-status-fd', str(sw), 'true'], pass_fds=[sw])\n\
         os.close(sw)\n\
         lines = [json.loads(l) for l in os.fdopen(sr).read().splitlines()]\n\
         ll = lines[1]['landlock']\n\
         assert ll['abi'] >= 1 and ll['fs_rules'] == 1 and ll['net_rules'] == 0 and ll['scoped'] in (True, False), ll\n\
         print(len(lines), sorted(ll), lines[2], p.returncode)"
    ));
    assert_eq!(
        out.trim(),
        "3 ['abi', 'fs_rules', 'net_rules', 'scoped'] {'exit-code': 0} 0"
    );
}

#[test]
fn sync_fd_is_held_until_the_sandbox_ends() {
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}r, w = os.pipe()\n\
         p = subprocess.Popen([S, '--ro-bind', '/', '/', '--unshare-pid', '--proc', '/proc', '--dev', '/dev', '--sync-fd', str(w), 'sh', '-c', 'ls /proc/self/fd/%d >/dev/null && echo held; read x' % w], pass_fds=[w], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)\n\
         os.close(w)\n\
         print(p.stdout.readline().strip())\n\
         p.stdin.write('go\\n'); p.stdin.close(); p.wait()\n\
         print(os.read(r, 1) == b'')"
    ));
    assert_eq!(out, "held\nTrue\n");
}

#[test]
fn block_fd_holds_the_sandbox_back() {
    let d = scratch("block");
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}r, w = os.pipe()\n\
         p = subprocess.Popen([S, '--bind', '{d}', '{d}', '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--block-fd', str(r), 'touch', '{d}/started'], pass_fds=[r])\n\
         os.close(r); time.sleep(0.5)\n\
         before = os.path.exists('{d}/started')\n\
         os.write(w, b'x'); p.wait()\n\
         print(before, os.path.exists('{d}/started'), p.returncode)",
        d = d.display()
    ));
    assert_eq!(out.trim(), "False True 0");
}

#[test]
fn userns_block_fd_lets_the_caller_write_the_maps() {
    let (uid, gid) = ids();
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}ir, iw = os.pipe(); br, bw = os.pipe()\n\
         p = subprocess.Popen([S, '--unshare-user', '--ro-bind', '/', '/', '--info-fd', str(iw), '--userns-block-fd', str(br), 'sh', '-c', 'cat /proc/self/uid_map; id -u'], pass_fds=[iw, br], stdout=subprocess.PIPE, text=True)\n\
         os.close(iw); os.close(br)\n\
         pid = json.loads(os.fdopen(ir).read())['child-pid']\n\
         open('/proc/%d/setgroups' % pid, 'w').write('deny')\n\
         open('/proc/%d/uid_map' % pid, 'w').write('0 {uid} 1')\n\
         open('/proc/%d/gid_map' % pid, 'w').write('0 {gid} 1')\n\
         os.write(bw, b'1'); out = p.stdout.read().split(); p.wait()\n\
         print(out, p.returncode)"
    ));
    assert_eq!(out.trim(), format!("['0', '{uid}', '1', '0'] 0"));
    // Its requirements, as bubblewrap's.
    let o = sbox(&["--userns-block-fd", "5", "--ro-bind", "/", "/", "true"]);
    assert_one_line_error(&o, "--userns-block-fd: needs --unshare-user");
}

#[test]
fn lock_file_is_held_while_running() {
    let d = scratch("lock");
    let f = d.join("lockme");
    std::fs::write(&f, "").unwrap();
    chown_to_test_user(&f);
    for extra in ["--unshare-pid", "--share-net"] {
        let out = wrapper_ok(&format!(
            "{PY_PRELUDE}import fcntl\n\
             p = subprocess.Popen([S, '--ro-bind', '/', '/', '{extra}', '--lock-file', '{f}', 'sh', '-c', 'echo up; read x'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)\n\
             p.stdout.readline()\n\
             fd = os.open('{f}', os.O_RDWR)\n\
             try:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); held = False\n\
             except OSError:\n    held = True\n\
             p.stdin.write('x\\n'); p.stdin.close(); p.wait()\n\
             fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
             print(held)",
            f = f.display()
        ));
        assert_eq!(out.trim(), "True", "{extra}");
    }
}

/// The command also gets a descriptor of the lock file (inherited as `bwrap`, --keep-fd as
/// sbox): init closing its copy of that descriptor must not drop the lock it holds.
#[test]
fn lock_file_is_held_while_a_passed_descriptor_of_it_is_closed() {
    let d = scratch("lock-passed");
    let f = d.join("lockme");
    std::fs::write(&f, "").unwrap();
    chown_to_test_user(&f);
    for (prog, keep) in [
        (bwrap_link().display().to_string(), ""),
        (bin().display().to_string(), "'--keep-fd', str(g), "),
    ] {
        let out = wrapper_ok(&format!(
            "{PY_PRELUDE}import fcntl\n\
             g = os.open('{f}', os.O_RDONLY)\n\
             p = subprocess.Popen(['{prog}', {keep}'--ro-bind', '/', '/', '--unshare-pid', '--lock-file', '{f}', 'sh', '-c', 'echo up; read x'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, pass_fds=[g])\n\
             p.stdout.readline(); time.sleep(0.2)\n\
             fd = os.open('{f}', os.O_RDWR)\n\
             try:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); held = False\n\
             except OSError:\n    held = True\n\
             p.stdin.write('x\\n'); p.stdin.close(); p.wait()\n\
             print(held)",
            f = f.display()
        ));
        assert_eq!(out.trim(), "True", "{prog}");
    }
}

#[test]
fn file_and_bind_data() {
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}fds = []\n\
         for data in (b'plain', b'bound', b'readonly'):\n    r, w = os.pipe(); os.write(w, data); os.close(w); fds.append(r)\n\
         cmd = 'cat /mnt/f /mnt/b /mnt/r; echo; stat -c %a /mnt/f /mnt/b /mnt/p; echo more >> /mnt/b && cat /mnt/b; echo x > /mnt/r || echo ro-refused'\n\
         p = subprocess.run([S, '--ro-bind', '/', '/', '--tmpfs', '/mnt', '--file', str(fds[0]), '/mnt/f', '--bind-data', str(fds[1]), '/mnt/b', '--ro-bind-data', str(fds[2]), '/mnt/r', '--perms', '0640', '--file', str(os.open('/dev/null', os.O_RDONLY)), '/mnt/p', 'sh', '-c', cmd], pass_fds=fds + [fds[-1] + 1], capture_output=True, text=True)\n\
         print(p.stdout, end='')"
    ));
    assert_eq!(
        out,
        "plainboundreadonly\n666\n600\n640\nboundmore\nro-refused\n"
    );
}

#[test]
fn bind_fd_and_ro_bind_fd() {
    let d = scratch("bindfd");
    std::fs::write(d.join("inside"), "x").unwrap();
    chown_to_test_user(&d.join("inside"));
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}fd = os.open('{d}', os.O_PATH | os.O_DIRECTORY)\n\
         for opt in ('--bind-fd', '--ro-bind-fd'):\n    p = subprocess.run([S, '--ro-bind', '/', '/', '--tmpfs', '/mnt', opt, str(fd), '/mnt/d', 'sh', '-c', 'ls /mnt/d; touch /mnt/d/new && echo wrote || echo refused'], pass_fds=[fd], capture_output=True, text=True)\n    print(p.stdout.split())",
        d = d.display()
    ));
    assert_eq!(out, "['inside', 'wrote']\n['inside', 'new', 'refused']\n");
}

/// A classic BPF program: `uname` (63) → errno `e1`, and with `e2`, `getcwd` (79) → `e2`.
fn bpf(deny: &[(u32, u32)]) -> Vec<u8> {
    let mut prog: Vec<(u16, u8, u8, u32)> = vec![(0x20, 0, 0, 0)]; // ld [nr]
    for (i, (nr, _)) in deny.iter().enumerate() {
        // jeq nr → the i-th return below
        let ret_at = deny.len() + 2 + i; // index of its ret
        let here = 1 + i;
        prog.push((0x15, (ret_at - here - 1) as u8, 0, *nr));
    }
    prog.push((0x06, 0, 0, 0x7fff_0000)); // ret ALLOW
    for (_, errno) in deny {
        prog.push((0x06, 0, 0, 0x0005_0000 | errno)); // ret ERRNO(errno)
    }
    prog.iter()
        .flat_map(|(code, jt, jf, k)| {
            let mut b = code.to_ne_bytes().to_vec();
            b.extend([*jt, *jf]);
            b.extend(k.to_ne_bytes());
            b
        })
        .collect()
}

#[test]
fn seccomp_and_add_seccomp_fd_install_programs() {
    let d = scratch("bpf");
    for (name, prog) in [("uname", bpf(&[(63, 99)])), ("getcwd", bpf(&[(79, 98)]))] {
        let p = d.join(name);
        std::fs::write(&p, prog).unwrap();
        chown_to_test_user(&p);
    }
    let probe = "import os\nfor f in (os.uname, os.getcwd):\n    try:\n        f(); print('ok')\n    except OSError as e:\n        print(e.errno)";
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}a = os.open('{d}/uname', os.O_RDONLY); b = os.open('{d}/getcwd', os.O_RDONLY)\n\
         p = subprocess.run([S, '--ro-bind', '/', '/', '--seccomp', str(a), 'python3', '-c', '''{probe}'''], pass_fds=[a], capture_output=True, text=True)\n\
         print(p.stdout.split())\n\
         a = os.open('{d}/uname', os.O_RDONLY)\n\
         p = subprocess.run([S, '--ro-bind', '/', '/', '--add-seccomp-fd', str(a), '--add-seccomp-fd', str(b), 'python3', '-c', '''{probe}'''], pass_fds=[a, b], capture_output=True, text=True)\n\
         print(p.stdout.split())",
        d = d.display()
    ));
    assert_eq!(out, "['99', 'ok']\n['99', '98']\n");
    let o = sbox(&["--seccomp", "5", "--add-seccomp-fd", "6", "true"]);
    assert_one_line_error(&o, "--seccomp: cannot be combined with --add-seccomp-fd");

    // A program the kernel refuses (a jump past its end) is the caller's: named as --seccomp.
    let bad = d.join("bad");
    let insns: [(u16, u8, u8, u32); 2] = [(0x15, 200, 0, 0), (0x06, 0, 0, 0x7fff_0000)];
    let bytes: Vec<u8> = insns
        .iter()
        .flat_map(|(c, jt, jf, k)| [&c.to_ne_bytes()[..], &[*jt, *jf], &k.to_ne_bytes()].concat())
        .collect();
    std::fs::write(&bad, bytes).unwrap();
    chown_to_test_user(&bad);
    let script = format!(
        "exec 5<{}; exec {} --ro-bind / / --seccomp 5 true",
        bad.display(),
        bin().display()
    );
    let o = as_user("sh").args(["-c", &script]).output().unwrap();
    assert_one_line_error(&o, "--seccomp: the kernel refused the program");
}

fn ns_of(args: &[&str], ns: &str) -> String {
    let mut a = vec!["--ro-bind", "/", "/"];
    a.extend_from_slice(args);
    let path = format!("/proc/self/ns/{ns}");
    a.extend_from_slice(&["readlink", &path]);
    ok(&a).trim().to_string()
}

#[test]
fn try_variants_create_namespaces() {
    let host = |ns: &str| std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
    assert_ne!(
        ns_of(&["--unshare-user-try"], "user"),
        host("user").to_string_lossy()
    );
    assert_ne!(
        ns_of(&["--unshare-cgroup-try"], "cgroup"),
        host("cgroup").to_string_lossy()
    );
}

#[test]
fn userns_userns2_and_pidns_join_a_running_sandbox() {
    // Sandbox A: its init's user and PID namespaces, and a nested user namespace below them
    // (the sleep's), found through A's --info-fd and the host's /proc/*/stat.
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}ir, iw = os.pipe()\n\
         a = subprocess.Popen([S, '--ro-bind', '/', '/', '--unshare-pid', '--proc', '/proc', '--die-with-parent', '--allow-userns', '--info-fd', str(iw), 'sh', '-c', 'exec unshare -U sh -c \"echo ready; exec sleep 60\"'], pass_fds=[iw], stdout=subprocess.PIPE, text=True)\n\
         os.close(iw); init = json.load(os.fdopen(ir))['child-pid']; a.stdout.readline()\n\
         def ppid(p):\n    try:\n        return int(open('/proc/%s/stat' % p).read().rsplit(')', 1)[1].split()[1])\n    except (OSError, IndexError, ValueError):\n        return -1  # gone meanwhile\n\
         sleep = [p for p in os.listdir('/proc') if p.isdigit() and ppid(p) == init][0]\n\
         u2 = os.open('/proc/%s/ns/user' % sleep, os.O_RDONLY)\n\
         # A's first user namespace: the parent of the sleep's (ioctl NS_GET_PARENT = 0xb702)\n\
         import fcntl\n\
         u1 = fcntl.ioctl(u2, 0xb702)\n\
         pn = os.open('/proc/%s/ns/pid' % sleep, os.O_RDONLY)\n\
         p = subprocess.run([S, '--userns', str(u1), '--userns2', str(u2), '--pidns', str(pn), '--ro-bind', '/', '/', '--proc', '/proc', 'sh', '-c', 'readlink /proc/self/ns/user; ls /proc | grep -c \"^[0-9]\"'], pass_fds=[u1, u2, pn], capture_output=True, text=True)\n\
         got = p.stdout.split()\n\
         a.kill(); a.wait()\n\
         print(got and got[0] == os.readlink('/proc/%s/ns/user' % sleep), got and int(got[1]) >= 3, p.returncode, p.stderr)"
    ));
    assert_eq!(out.trim(), "True True 0");
    let o = sbox(&["--userns", "5", "--unshare-all", "true"]);
    assert_one_line_error(&o, "--userns: conflicts with");
}

#[test]
fn disable_and_assert_userns_disabled() {
    let link = bwrap_link();
    let l = link.to_str().unwrap();
    let unshare = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint('created' if libc.unshare(0x10000000) == 0 else ctypes.get_errno())";
    // As bwrap, nested user namespaces are allowed unless --disable-userns.
    let run = |extra: &[&str]| {
        let mut c = as_user(l);
        c.args(["--ro-bind", "/", "/"])
            .args(extra)
            .args(["python3", "-c", unshare]);
        stdout(&c.output().unwrap()).trim().to_string()
    };
    assert_eq!(run(&[]), "created");
    assert_eq!(
        run(&["--unshare-user", "--disable-userns"]),
        libc::ENOSPC.to_string()
    );
    // --assert-userns-disabled passes where it is disabled and fails where it is not.
    assert!(
        sbox(&["--ro-bind", "/", "/", "--assert-userns-disabled", "true"])
            .status
            .success()
    );
    let o = as_user(l)
        .args(["--ro-bind", "/", "/", "--assert-userns-disabled", "true"])
        .output()
        .unwrap();
    // In bubblewrap's words, as bwrap.
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "bwrap: creation of new user namespaces was not disabled as requested\n"
    );
}

#[test]
fn chmod_mqueue_argv0() {
    let out = ok(&[
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/mnt",
        "--dir",
        "/mnt/d",
        "--chmod",
        "0710",
        "/mnt/d",
        "--unshare-ipc",
        "--mqueue",
        "/mnt/mq",
        "--argv0",
        "renamed",
        "sh",
        "-c",
        "stat -c %a /mnt/d; stat -f -c %T /mnt/mq; echo $0",
    ]);
    assert_eq!(out, "710\nmqueue\nrenamed\n");
    let o = sbox(&["--argv0", "a", "--argv0", "b", "true"]);
    assert_one_line_error(&o, "--argv0: used multiple times");
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--chmod",
        "0700",
        "/nonexistent",
        "true",
    ]);
    assert_one_line_error(&o, "--chmod: /nonexistent:");
}

#[test]
fn level_prefix_marks_errors_and_warnings() {
    let o = sbox(&["--level-prefix", "--ro-bind", "/nonexistent", "/x", "true"]);
    assert!(
        stderr(&o).starts_with("<3>sbox: --ro-bind: /nonexistent"),
        "{}",
        stderr(&o)
    );
    let o = sbox(&[
        "--level-prefix",
        "--ro-bind",
        "/",
        "/",
        "--chdir",
        "/",
        "--chdir",
        "/etc",
        "pwd",
    ]);
    assert_eq!(stdout(&o).trim(), "/etc", "the last --chdir wins");
    assert_eq!(
        stderr(&o).trim(),
        "<4>sbox: warning: Only the last --chdir option will take effect"
    );
}

fn layers(name: &str) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let d = scratch(name);
    let mk = |p: &Path| {
        std::fs::create_dir_all(p).unwrap();
        chown_to_test_user(p);
    };
    let (l1, l2, up, wk) = (d.join("l1"), d.join("l2"), d.join("up"), d.join("wk"));
    for p in [&l1, &l2, &up, &wk] {
        mk(p);
    }
    std::fs::write(l1.join("c"), "bottom").unwrap();
    std::fs::write(l2.join("c"), "top").unwrap();
    std::fs::write(l1.join("only1"), "1").unwrap();
    (l1, l2, up, wk)
}

#[test]
fn overlays() {
    let (l1, l2, up, wk) = layers("overlay");
    let (l1, l2, ups, wks) = (
        l1.to_str().unwrap(),
        l2.to_str().unwrap(),
        up.to_str().unwrap(),
        wk.to_str().unwrap(),
    );
    let src = ["--overlay-src", l1, "--overlay-src", l2];
    let run = |op: &[&str], cmd: &str| {
        let mut a = vec!["--ro-bind", "/", "/"];
        a.extend_from_slice(&src);
        a.extend_from_slice(op);
        a.extend_from_slice(&["sh", "-c", cmd]);
        sbox(&a)
    };
    // The last --overlay-src is the top layer.
    let o = run(
        &["--tmp-overlay", "/mnt"],
        "cat /mnt/c; echo new > /mnt/n && cat /mnt/n; ls /mnt | tr '\\n' ' '",
    );
    assert_eq!(stdout(&o), "topnew\nc n only1 ", "{}", stderr(&o));
    assert!(!Path::new(l1).join("n").exists() && !Path::new(l2).join("n").exists());
    let o = run(
        &["--ro-overlay", "/mnt"],
        "cat /mnt/c; touch /mnt/x 2>/dev/null || echo refused",
    );
    assert_eq!(stdout(&o), "toprefused\n", "{}", stderr(&o));
    let o = run(&["--overlay", ups, wks, "/mnt"], "echo kept > /mnt/k");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(up.join("k")).unwrap(), "kept\n");
    // Each overlay needs its sources, and sources need an overlay.
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--overlay-src",
        l1,
        "--ro-overlay",
        "/mnt",
        "true",
    ]);
    assert_one_line_error(&o, "--ro-overlay: needs at least 2 --overlay-src");
    let o = sbox(&["--overlay-src", l1, "--tmpfs", "/mnt", "true"]);
    assert_one_line_error(&o, "--overlay-src: must be followed by");
}

#[test]
fn labels_need_selinux() {
    if Path::new("/sys/fs/selinux/enforce").exists() {
        return skip_or_fail(
            "labels_need_selinux",
            "SELinux is enabled here; the test checks the refusal without it",
        );
    }
    let o = sbox(&[
        "--ro-bind",
        "/",
        "/",
        "--exec-label",
        "system_u:system_r:x:s0",
        "true",
    ]);
    assert_one_line_error(&o, "--exec-label: labeling not supported");
}

#[test]
fn as_bwrap_the_defaults_are_bubblewraps() {
    let link = bwrap_link();
    let status = |prog: &Path| {
        let o = as_user(prog)
            .args([
                "--ro-bind",
                "/",
                "/",
                "grep",
                "^Seccomp:",
                "/proc/self/status",
            ])
            .output()
            .unwrap();
        stdout(&o)
            .split_whitespace()
            .last()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(status(&link), "0", "no default seccomp policy as bwrap");
    assert_eq!(status(bin()), "2", "sbox's default policy");
    // --remount-ro leaves submounts writable as bwrap, not as sbox.
    let d = scratch("remount-sub");
    let ds = d.to_str().unwrap();
    let args = [
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/mnt",
        "--bind",
        ds,
        "/mnt/sub",
        "--remount-ro",
        "/mnt",
        "sh",
        "-c",
        "touch /mnt/sub/f && echo writable || echo read-only",
    ];
    let o = as_user(&link).args(args).output().unwrap();
    assert_eq!(stdout(&o).trim(), "writable");
    assert_eq!(stdout(&sbox(&args)).trim(), "read-only");
}

#[test]
fn a_wrapper_written_for_bwrap_works_with_sbox() {
    // The pattern of sandboxing wrappers: arguments through --args, the child pid and
    // namespaces from --info-fd, start and exit through --json-status-fd, and the sandbox held
    // back with --block-fd until the wrapper has looked at it.
    let link = bwrap_link();
    let out = as_user("python3")
        .env("BWRAP", &link)
        .args(["-c", r#"
import os, json, subprocess
args = [b'--ro-bind', b'/', b'/', b'--unshare-pid', b'--unshare-net', b'--proc', b'/proc', b'--dev', b'/dev',
        b'--die-with-parent', b'--new-session', b'--setenv', b'GREETING', b'hello from bwrap']
a_r, a_w = os.pipe(); os.write(a_w, b'\0'.join(args) + b'\0'); os.close(a_w)
i_r, i_w = os.pipe(); s_r, s_w = os.pipe(); b_r, b_w = os.pipe()
p = subprocess.Popen([os.environ['BWRAP'], '--args', str(a_r), '--info-fd', str(i_w), '--json-status-fd', str(s_w),
                      '--block-fd', str(b_r), 'sh', '-c', 'echo "$GREETING"; ls /sys/class/net 2>/dev/null | wc -l >/dev/null; exit 3'],
                     pass_fds=[a_r, i_w, s_w, b_r], stdout=subprocess.PIPE, text=True)
for fd in (a_r, i_w, s_w, b_r):
    os.close(fd)
info = json.load(os.fdopen(i_r))
status = os.fdopen(s_r)
start = json.loads(status.readline())
assert info['child-pid'] == start['child-pid'] and 'net-namespace' in info and 'pid-namespace' in info
assert os.path.exists('/proc/%d' % info['child-pid'])
os.write(b_w, b'go'); os.close(b_w)
out = p.stdout.read()
end = json.loads(status.readline())
print(out.strip(), end['exit-code'], p.wait())
"#])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out).trim(),
        "hello from bwrap 3 3",
        "{}",
        stderr(&out)
    );
}

/// Whether this bubblewrap knows an option (0.8.0 predates --argv0 and the overlays).
fn knows(bwrap: &Path, opt: &str) -> bool {
    let o = as_user(bwrap).arg("--help").output().unwrap();
    stdout(&o).contains(&format!("{opt} "))
}

/// A root from the host's /usr, writable at its top (`/` is a tmpfs).
const USR_ROOT: &[&str] = &[
    "--tmpfs",
    "/",
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/bin",
    "/bin",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--tmpfs",
    "/tmp",
];

#[test]
fn option_values_may_start_with_a_hyphen() {
    // (option and values, shell command printing the effect, expected output)
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["--setenv", "FOO", "-javaagent:x"],
            "printenv FOO",
            "-javaagent:x\n",
        ),
        (
            &["--setenv", "MAKEFLAGS", "-j4"],
            "printenv MAKEFLAGS",
            "-j4\n",
        ),
        (&["--setenv", "FOO", "--"], "printenv FOO", "--\n"),
        (&["--unsetenv", "-x"], "env | grep -c '^-x=' || true", "0\n"),
        (&["--symlink", "-t", "/tmp/l"], "readlink /tmp/l", "-t\n"),
        (&["--dir", "-d"], "ls -d /-d", "/-d\n"),
        (&["--dir", "-d", "--chdir", "-d"], "pwd", "/-d\n"),
        (&["--tmpfs", "-t"], "stat -f -c %T /-t", "tmpfs\n"),
        (&["--unshare-uts", "--hostname", "-h"], "hostname", "-h\n"),
        (&["--argv0", "-sh"], "echo \"$0\"", "-sh\n"),
        // Sources relative to the working directory, which holds `-src/f`.
        (&["--bind", "-src", "/tmp/b"], "cat /tmp/b/f", "inside\n"),
        (&["--ro-bind", "-src", "/tmp/b"], "cat /tmp/b/f", "inside\n"),
        (&["--dev-bind-try", "-nope", "/tmp/n"], "ls /tmp", ""),
        (
            &["--dir", "/tmp/-d", "--chmod", "0700", "/tmp/-d"],
            "stat -c %a /tmp/-d",
            "700\n",
        ),
        (
            &["--bind", "-src", "/tmp/b", "--remount-ro", "/tmp/b"],
            "touch /tmp/b/x 2>/dev/null || echo ro",
            "ro\n",
        ),
    ];
    let cwd = scratch("hyphen-cwd");
    std::fs::create_dir(cwd.join("-src")).unwrap();
    std::fs::write(cwd.join("-src/f"), "inside\n").unwrap();
    let link = bwrap_link();
    let real = real_bwrap("option_values_may_start_with_a_hyphen");
    let mut progs: Vec<(&str, PathBuf)> = vec![("sbox", bin().to_path_buf()), ("link", link)];
    if let Some(b) = &real {
        progs.push(("bwrap", b.clone()));
    }
    for (opts, cmd, want) in cases {
        for (name, prog) in &progs {
            let option = |o: &&&str| o.starts_with("--") && o.len() > 2;
            if *name == "bwrap" && !opts.iter().filter(option).all(|o| knows(prog, o)) {
                continue;
            }
            let o = as_user(prog)
                .args(USR_ROOT)
                .args(*opts)
                .args(["sh", "-c", cmd])
                .env("-x", "1")
                .current_dir(&cwd)
                .output()
                .unwrap();
            assert_eq!(
                (stdout(&o).as_str(), o.status.code()),
                (*want, Some(0)),
                "{name} {opts:?}: {}",
                stderr(&o)
            );
        }
    }
    // A value missing at the end is still an error.
    for (name, prog) in &progs {
        let o = as_user(prog)
            .args(["--ro-bind", "/", "/", "--setenv", "FOO"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
    }
}

/// `sh -c SCRIPT` as the test user, with `$SB` the program under test.
fn shell(prog: &Path, script: &str) -> std::process::Output {
    as_user("sh")
        .args(["-c", script])
        .env("SB", prog)
        .output()
        .unwrap()
}

#[test]
fn inherited_descriptors_reach_the_command_as_bwrap_and_on_request() {
    let host = std::fs::read_to_string("/etc/hostname").unwrap();
    let cat3 = "exec 3</etc/hostname; exec $SB --ro-bind / / ARGS sh -c 'cat <&3'";
    let run = |prog: &Path, args: &str| shell(prog, &cat3.replace("ARGS", args));
    let mut progs = vec![bwrap_link()];
    progs.extend(real_bwrap("inherited_descriptors_reach_the_command"));
    for prog in &progs {
        for args in ["", "--unshare-pid", "--unshare-pid --as-pid-1"] {
            let o = run(prog, args);
            assert_eq!(stdout(&o), host, "{prog:?} {args}: {}", stderr(&o));
        }
    }
    // As sbox, only on request.
    let o = run(bin(), "");
    assert_ne!(o.status.code(), Some(0), "sbox passed fd 3 unasked");
    assert!(stderr(&o).contains("Bad file descriptor"), "{}", stderr(&o));
    for args in ["--keep-fd 3", "--keep-fds", "--unshare-pid --keep-fd 3"] {
        let o = run(bin(), args);
        assert_eq!(stdout(&o), host, "sbox {args}: {}", stderr(&o));
    }
    // 0, 1 and 2 pass anyway; a descriptor that an option consumes stays the option's.
    let o = sbox(&["--keep-fd", "1", "--ro-bind", "/", "/", "echo", "out"]);
    assert_eq!(stdout(&o), "out\n", "{}", stderr(&o));
    let o = wrapper_ok(&format!(
        "{PY_PRELUDE}r, w = os.pipe()\n\
         p = subprocess.run([S, '--keep-fd', str(w), '--info-fd', str(w), '--ro-bind', '/', '/', 'sh', '-c', '[ -e /proc/self/fd/%d ] && echo leaked; exit 0' % w], pass_fds=[w], capture_output=True, text=True)\n\
         os.close(w); print(p.stdout.strip(), 'child-pid' in os.fdopen(r).read(), p.returncode)"
    ));
    assert_eq!(o.trim(), "True 0");
    // --keep-fd names an open descriptor.
    let o = sbox(&["--keep-fd", "77", "--ro-bind", "/", "/", "true"]);
    assert_one_line_error(&o, "--keep-fd: 77: not an open file descriptor");
}

#[test]
fn descriptors_consumed_by_options_do_not_reach_the_command() {
    // As bubblewrap: --args, --info-fd, --json-status-fd, --block-fd, --file are sbox's to
    // read or write; only the plain pipe reaches the command.
    let mut progs = vec![bwrap_link()];
    progs.extend(real_bwrap("descriptors_consumed_by_options"));
    for prog in progs {
        let out = wrapper_ok(&format!(
            "{PY_PRELUDE}r, w = os.pipe(); i_r, i_w = os.pipe(); s_r, s_w = os.pipe()\n\
             a_r, a_w = os.pipe(); os.write(a_w, b'--ro-bind\\0/\\0/\\0'); os.close(a_w)\n\
             d_r, d_w = os.pipe(); os.write(d_w, b'data'); os.close(d_w)\n\
             b_r, b_w = os.pipe(); os.write(b_w, b'x')\n\
             fds = dict(pipe=w, info=i_w, status=s_w, args=a_r, file=d_r, block=b_r)\n\
             test = '; '.join('[ -e /proc/self/fd/%d ] && echo %s' % (fd, n) for n, fd in fds.items())\n\
             p = subprocess.run(['{prog}', '--args', str(a_r), '--info-fd', str(i_w), '--json-status-fd', str(s_w), '--block-fd', str(b_r), '--tmpfs', '/tmp', '--file', str(d_r), '/tmp/f', '--unshare-pid', 'sh', '-c', test + '; cat /tmp/f; echo'], pass_fds=list(fds.values()), capture_output=True, text=True)\n\
             print(p.stdout.split(), p.stderr)",
            prog = prog.display()
        ));
        assert_eq!(out.trim(), "['pipe', 'data']", "{prog:?}");
    }
}

#[test]
fn a_passed_pipe_is_held_by_the_command_only() {
    // The command closes the pipe and goes on: its reader sees the end at once, not when the
    // sandbox ends (sbox's supervisor and init hold no copy).
    let mut progs = vec![bwrap_link()];
    progs.extend(real_bwrap("a_passed_pipe_is_held_by_the_command_only"));
    for prog in progs {
        for pid in ["--unshare-pid", "--share-net"] {
            let out = wrapper_ok(&format!(
                "{PY_PRELUDE}r, w = os.pipe()\n\
                 p = subprocess.Popen(['{prog}', '--ro-bind', '/', '/', '{pid}', '--die-with-parent', 'sh', '-c', 'exec %d>&-; sleep 5' % w], pass_fds=[w], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n\
                 os.close(w); t = time.time(); os.read(r, 1); waited = time.time() - t\n\
                 p.kill(); p.wait()\n\
                 print(waited < 4)",
                prog = prog.display()
            ));
            assert_eq!(out.trim(), "True", "{prog:?} {pid}");
        }
    }
}

#[test]
fn passing_inherited_descriptors_leaks_none_of_sboxs_own() {
    // Every setup step that opens descriptors of its own, with inherited ones passed on: the
    // command has 0, 1, 2, the caller's one, and the one listdir opened.
    let code = "import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd')))";
    for (prog, args) in [
        (bin(), "'--keep-fds', '--seccomp-profile', 'strict', "),
        (bwrap_link().as_path(), ""),
    ] {
        let out = wrapper_ok(&format!(
            "{PY_PRELUDE}f = os.open('/etc/hostname', os.O_RDONLY); os.dup2(f, 9); os.close(f)\n\
             p = subprocess.run(['{prog}', {args}'--ro-bind', '/', '/', '--unshare-all', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--dir', '/tmp/d', '--lock-file', '/etc/hostname', 'python3', '-c', \"{code}\"], pass_fds=[9], capture_output=True, text=True)\n\
             print(p.stdout.strip(), p.stderr)",
            prog = prog.display()
        ));
        assert_eq!(out.trim(), "[0, 1, 2, 3, 9]", "{prog:?}");
    }
}

#[test]
fn bind_fd_destination_errors_say_what_the_descriptor_was() {
    // The phrase depends on whether the descriptor is a directory, known after sbox has
    // consumed (closed) it: a directory must not read as a file.
    let run = |prog: &std::path::Path| {
        wrapper_ok(&format!(
            "{PY_PRELUDE}for src, dst in (('/etc/hostname', '/newfile'), ('/etc', '/newdir')):\n\
             \x20   fd = os.open(src, os.O_RDONLY)\n\
             \x20   p = subprocess.run(['{prog}', '--ro-bind', '/', '/', '--bind-fd', str(fd), dst, 'true'], pass_fds=[fd], capture_output=True, text=True)\n\
             \x20   print(p.returncode, p.stderr.strip())",
            prog = prog.display()
        ))
    };
    let ours = run(&bwrap_link());
    assert_eq!(
        ours,
        "1 bwrap: Can't create file at /newfile: Read-only file system\n\
         1 bwrap: Can't mkdir /newdir: Read-only file system\n"
    );
    if let Some(real) = real_bwrap("bind_fd_destination_errors_say_what_the_descriptor_was") {
        assert_eq!(ours, run(&real));
    }
}

#[test]
fn sync_fd_may_share_its_descriptor_as_in_bubblewrap() {
    // bubblewrap accepts --sync-fd and --info-fd naming the same pipe: the info record is
    // written, and the pipe's end comes when the sandbox ends. (sbox itself refuses it:
    // tests/diagnostics.rs.)
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}r, w = os.pipe()\n\
         p = subprocess.Popen(['{link}', '--ro-bind', '/', '/', '--info-fd', str(w), '--sync-fd', str(w), 'true'], pass_fds=[w], stderr=subprocess.PIPE, text=True)\n\
         os.close(w)\n\
         info = json.loads(os.fdopen(r).read())\n\
         print(p.wait(), 'child-pid' in info, p.stderr.read())",
        link = bwrap_link().display()
    ));
    assert_eq!(out.trim(), "0 True", "{out}");
}

/// How a message must match: all of it, or its start (the rest is an errno's text or a path
/// that bubblewrap words differently).
#[derive(Clone, Copy, Debug)]
enum Says {
    Exactly(&'static str),
    StartsWith(&'static str),
}

/// Bad input under the `bwrap` link gets bubblewrap's message (`bwrap: ` and its phrase) and
/// status 1. `true` in the last column: Debian's bwrap 0.8.0 says the same, and is run to
/// check it; `false`: the phrase of bubblewrap 0.11 (newer options and rules).
const BWRAP_MESSAGES: &[(&[&str], Says, bool)] = &[
    (
        &["--frob", "true"],
        Says::Exactly("Unknown option --frob"),
        true,
    ),
    (
        &["--bind", "/tmp"],
        Says::Exactly("--bind takes two arguments"),
        true,
    ),
    (
        &["--tmpfs"],
        Says::Exactly("--tmpfs takes an argument"),
        true,
    ),
    (
        &["--setenv", "A"],
        Says::Exactly("--setenv takes two arguments"),
        true,
    ),
    (
        &["--chdir"],
        Says::Exactly("--chdir takes one argument"),
        true,
    ),
    (
        &["--overlay", "/a", "/b"],
        Says::Exactly("--overlay takes three arguments"),
        false,
    ),
    (
        &["--uid", "abc", "true"],
        Says::Exactly("Invalid uid: abc"),
        true,
    ),
    (
        &["--gid", "-1", "true"],
        Says::Exactly("Invalid gid: -1"),
        true,
    ),
    (
        &["--file", "abc", "/x", "true"],
        Says::Exactly("Invalid fd: abc"),
        true,
    ),
    (
        &["--args", "77", "true"],
        Says::Exactly("Can't read --args data: Bad file descriptor"),
        true,
    ),
    (
        &["--ro-bind", "/nonexistent", "/x", "true"],
        Says::Exactly("Can't find source path /nonexistent: No such file or directory"),
        true,
    ),
    (
        &["--ro-bind", "/", "/", "--chdir", "/nonexistent", "true"],
        Says::Exactly("Can't chdir to /nonexistent: No such file or directory"),
        true,
    ),
    (
        &["--ro-bind", "/", "/", "/etc/passwd"],
        Says::Exactly("execvp /etc/passwd: Permission denied"),
        true,
    ),
    (
        &["--tmpfs", "/", "sh"],
        Says::Exactly("execvp sh: No such file or directory"),
        true,
    ),
    (
        &["--size", "0", "--tmpfs", "/x", "true"],
        Says::Exactly("--size takes a non-zero number of bytes"),
        true,
    ),
    (
        &["--size", "9223372036854775809", "--tmpfs", "/x", "true"],
        Says::Exactly("--size (for tmpfs) is limited to 9223372036854775807"),
        true,
    ),
    (
        &["--size", "1", "--dir", "/x", "true"],
        Says::Exactly("--size must be followed by --tmpfs"),
        true,
    ),
    (
        &["--size", "1", "--size", "1", "--tmpfs", "/x", "true"],
        Says::Exactly("--size given twice for the same action"),
        true,
    ),
    (
        &["--perms", "999", "--dir", "/x", "true"],
        Says::Exactly("--perms takes an octal argument <= 07777"),
        true,
    ),
    (
        &["--perms", "0755", "--perms", "0755", "--dir", "/x", "true"],
        Says::Exactly("--perms given twice for the same action"),
        true,
    ),
    (
        &["--perms", "0755", "true"],
        Says::Exactly("--perms must be followed by an option that creates a file"),
        false,
    ),
    (
        &["--chmod", "8", "/x", "true"],
        Says::Exactly("--chmod takes an octal argument <= 07777"),
        true,
    ),
    (
        &[
            "--ro-bind",
            "/",
            "/",
            "--chmod",
            "0700",
            "/nonexistent",
            "true",
        ],
        Says::Exactly("Can't chmod 0700 /nonexistent: No such file or directory"),
        true,
    ),
    (
        &[
            "--ro-bind",
            "/",
            "/",
            "--tmpfs",
            "/mnt",
            "--symlink",
            "a",
            "/mnt/l",
            "--symlink",
            "b",
            "/mnt/l",
            "true",
        ],
        Says::Exactly("Can't make symlink at /mnt/l: existing destination is a"),
        false,
    ),
    (
        &[
            "--ro-bind",
            "/",
            "/",
            "--tmpfs",
            "/mnt",
            "--dir",
            "/mnt/d",
            "--symlink",
            "b",
            "/mnt/d",
            "true",
        ],
        Says::Exactly("Can't make symlink at /mnt/d: destination exists and is not a symlink"),
        false,
    ),
    (
        &["--ro-bind", "/", "/", "--symlink", "a", "/etc", "true"],
        Says::StartsWith("Can't make symlink at /etc: "),
        true,
    ),
    (
        &["--ro-bind", "/", "/", "--dir", "/x", "true"],
        Says::Exactly("Can't mkdir /x: Read-only file system"),
        true,
    ),
    (
        &["--ro-bind", "/", "/", "--tmpfs", "/x", "true"],
        Says::Exactly("Can't mkdir /x: Read-only file system"),
        true,
    ),
    (
        &["--ro-bind", "/", "/", "--bind", "/tmp", "/x", "true"],
        Says::Exactly("Can't mkdir /x: Read-only file system"),
        true,
    ),
    (
        &[
            "--ro-bind",
            "/",
            "/",
            "--bind",
            "/etc/hostname",
            "/x",
            "true",
        ],
        Says::Exactly("Can't create file at /x: Read-only file system"),
        true,
    ),
    (
        &["--ro-bind", "/", "/", "--bind-data", "0", "/x", "true"],
        Says::Exactly("Can't create file at /x: Read-only file system"),
        true,
    ),
    (
        &[
            "--ro-bind",
            "/",
            "/",
            "--bind",
            "/tmp",
            "/etc/hostname/x",
            "true",
        ],
        Says::Exactly("Can't mkdir parents for /etc/hostname/x: Not a directory"),
        true,
    ),
    (
        &["--ro-bind", "/", "/", "--file", "0", "/x", "true"],
        Says::Exactly("Can't create file /x: Read-only file system"),
        true,
    ),
    (
        &[
            "--ro-bind",
            "/",
            "/",
            "--remount-ro",
            "/nonexistent",
            "true",
        ],
        Says::StartsWith("Can't remount readonly on "),
        true,
    ),
    (
        &["--hostname", "h", "true"],
        Says::Exactly("Specifying --hostname requires --unshare-uts"),
        true,
    ),
    (
        &["--as-pid-1", "true"],
        Says::Exactly("Specifying --as-pid-1 requires --unshare-pid"),
        true,
    ),
    (
        &["--argv0", "a", "--argv0", "b", "true"],
        Says::Exactly("--argv0 used multiple times"),
        false,
    ),
    (
        &["--cap-add", "CAP_FLY", "true"],
        Says::Exactly("unknown cap: CAP_FLY"),
        true,
    ),
    (
        &["--seccomp", "0", "--add-seccomp-fd", "0", "true"],
        Says::Exactly("--add-seccomp-fd cannot be combined with --seccomp"),
        true,
    ),
    (
        &["--add-seccomp-fd", "0", "--seccomp", "0", "true"],
        Says::Exactly("--seccomp cannot be combined with --add-seccomp-fd"),
        true,
    ),
    (
        &["--userns-block-fd", "0", "--ro-bind", "/", "/", "true"],
        Says::Exactly("--userns-block-fd requires --unshare-user"),
        true,
    ),
    (
        &["--ro-bind", "/", "/", "--assert-userns-disabled", "true"],
        Says::Exactly("creation of new user namespaces was not disabled as requested"),
        true,
    ),
    (
        &["--tmp-overlay", "/x", "true"],
        Says::Exactly("--tmp-overlay requires at least one --overlay-src"),
        false,
    ),
    (
        &["--overlay-src", "/tmp", "--ro-overlay", "/x", "true"],
        Says::Exactly("--ro-overlay requires at least two --overlay-src"),
        false,
    ),
    (
        &["--overlay-src", "/tmp", "--tmpfs", "/x", "true"],
        Says::Exactly(
            "--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay",
        ),
        false,
    ),
];

#[test]
fn as_bwrap_bad_input_gets_bubblewraps_messages() {
    let link = bwrap_link();
    let real = real_bwrap("as_bwrap_bad_input_gets_bubblewraps_messages");
    let mut failures = Vec::new();
    for (args, says, same_in_0_8) in BWRAP_MESSAGES {
        let mut progs = vec![("link", link.clone())];
        if *same_in_0_8 {
            progs.extend(real.iter().map(|b| ("bwrap", b.clone())));
        }
        for (name, prog) in progs {
            let o = as_user(&prog).args(*args).output().unwrap();
            let err = stderr(&o);
            let ok = match says {
                Says::Exactly(m) => err == format!("bwrap: {m}\n"),
                Says::StartsWith(m) => {
                    err.starts_with(&format!("bwrap: {m}")) && err.lines().count() == 1
                }
            };
            if !ok || o.status.code() != Some(1) {
                failures.push(format!(
                    "{name} {args:?}: {:?} {err:?}, want {says:?}",
                    o.status.code()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Warnings too: bubblewrap's words, no "warning:".
    let args = [
        "--ro-bind",
        "/",
        "/",
        "--chdir",
        "/",
        "--chdir",
        "/tmp",
        "true",
    ];
    let mut progs = vec![link];
    progs.extend(real);
    for prog in progs {
        let o = as_user(&prog).args(args).output().unwrap();
        assert_eq!(
            stderr(&o),
            "bwrap: Only the last --chdir option will take effect\n",
            "{prog:?}"
        );
        assert!(o.status.success());
    }
}

#[test]
fn help_starts_with_bubblewraps_usage_line_and_the_name_as_invoked() {
    let mut progs = vec![bin().to_path_buf(), bwrap_link()];
    progs.extend(real_bwrap("help_starts_with_bubblewraps_usage_line"));
    for prog in progs {
        let o = as_user(&prog).arg("--help").output().unwrap();
        assert!(o.status.success(), "{prog:?}");
        let want = format!(
            "usage: {} [OPTIONS...] [--] COMMAND [ARGS...]",
            prog.display()
        );
        assert_eq!(stdout(&o).lines().next(), Some(want.as_str()), "{prog:?}");
    }
}

#[test]
fn as_bwrap_the_session_is_the_callers_unless_new_session() {
    let code = "import os; print(os.getsid(0) == os.getpid())";
    let mut progs = vec![bwrap_link()];
    progs.extend(real_bwrap(
        "as_bwrap_the_session_is_the_callers_unless_new_session",
    ));
    for prog in progs {
        for (extra, want) in [(&[][..], "False"), (&["--new-session"][..], "True")] {
            let mut args = vec!["--ro-bind", "/", "/"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["python3", "-c", code]);
            let o = as_user(&prog).args(&args).output().unwrap();
            assert_eq!(stdout(&o).trim(), want, "{prog:?} {extra:?} {}", stderr(&o));
        }
    }
}

#[test]
fn die_with_parent_follows_the_caller_as_bubblewrap() {
    let mut progs = vec![bwrap_link()];
    progs.extend(real_bwrap(
        "die_with_parent_follows_the_caller_as_bubblewrap",
    ));
    for (i, prog) in progs.iter().enumerate() {
        for (j, extra) in [&[][..], &["--unshare-pid"][..]].iter().enumerate() {
            let mut args = vec!["--ro-bind", "/", "/", "--die-with-parent"];
            args.extend_from_slice(extra);
            let marker = format!("1414.{i}{j}");
            assert!(
                killing_the_caller_ends_the_sandbox(prog, &args, &marker),
                "{prog:?} {extra:?}: the sandbox outlived the caller"
            );
        }
    }
}

#[test]
fn a_signal_that_ends_bwrap_ends_the_sandbox() {
    use std::os::unix::process::ExitStatusExt;
    use std::time::{Duration, Instant};
    let mut progs = vec![bwrap_link()];
    progs.extend(real_bwrap("a_signal_that_ends_bwrap_ends_the_sandbox"));
    for prog in &progs {
        // The agent wrapper's case: killed at 1 s, bash's `sleep 3` with it.
        let t = Instant::now();
        let o = as_user("timeout")
            .args(["-s", "INT", "1"])
            .arg(prog)
            .args(["--die-with-parent", "--unshare-pid", "--new-session"])
            .args([
                "--ro-bind",
                "/",
                "/",
                "bash",
                "-c",
                "sleep 3; echo after-sleep",
            ])
            .output()
            .unwrap();
        assert!(t.elapsed() < Duration::from_millis(2500), "{prog:?}");
        assert_eq!(stdout(&o), "", "{prog:?}");
        assert_eq!(o.status.code(), Some(124), "{prog:?}");
    }
    // The build farm's case: SIGTERM on an action timeout reads 143 whatever the command's
    // trap does. Without --die-with-parent bubblewrap orphans the sandbox; sbox ends it first.
    for prog in &progs {
        for dwp in [true, false] {
            if !dwp && prog != &bwrap_link() {
                continue;
            }
            let mut args = vec!["--unshare-pid", "--ro-bind", "/", "/", "--dev", "/dev"];
            if dwp {
                args.push("--die-with-parent");
            }
            let marker = format!("1732.{}{}", dwp as u8, progs.len());
            let script = format!("trap 'exit 7' TERM; echo ready; sleep {marker} & wait");
            args.extend_from_slice(&["sh", "-c", &script]);
            let mut child = as_user(prog)
                .args(&args)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            std::io::BufRead::read_line(&mut out, &mut line).unwrap();
            assert_eq!(line.trim(), "ready", "{prog:?}");
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
            let st = child.wait().unwrap();
            assert_eq!(
                st.signal(),
                Some(15),
                "{prog:?} --die-with-parent {dwp}: {st:?}"
            );
            assert!(
                gone_within(&format!("sleep\0{marker}"), Duration::from_secs(1)),
                "{prog:?} --die-with-parent {dwp}: the sandbox is still running"
            );
        }
    }
}

#[test]
fn as_bwrap_init_ignores_a_signal_sent_from_inside() {
    let mut progs = vec![bwrap_link()];
    progs.extend(real_bwrap(
        "as_bwrap_init_ignores_a_signal_sent_from_inside",
    ));
    for prog in progs {
        let o = as_user(&prog)
            .args(["--ro-bind", "/", "/", "--unshare-pid", "sh", "-c"])
            .arg("set -e; kill -TERM 1; sleep 1; echo alive")
            .output()
            .unwrap();
        // `set -e`: kill itself succeeds, as bubblewrap's init takes the signal and ignores it.
        assert_eq!(stdout(&o).trim(), "alive", "{prog:?} {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{prog:?}");
        assert_eq!(o.status.code(), Some(0), "{prog:?}");
    }
}

#[test]
fn die_with_parent_holds_after_a_uid_switch_in_a_joined_userns() {
    // --userns FD --uid N: setresuid clears the parent-death signal; sbox arms it again.
    // A user namespace with two ids needs a privileged map writer (newuidmap on a real
    // system): the test, as root, writes the maps of one the test user created.
    if !is_root() {
        skip_or_fail(
            "die_with_parent_holds_after_a_uid_switch_in_a_joined_userns",
            "needs root to write a two-id map (as newuidmap would)",
        );
        return;
    }
    let mut holder = as_user("unshare")
        .args(["-U", "sleep", "60"])
        .spawn()
        .unwrap();
    let ns = format!("/proc/{}/ns/user", holder.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::read_link(&ns).ok() == std::fs::read_link("/proc/self/ns/user").ok() {
        assert!(std::time::Instant::now() < deadline, "unshare -U never ran");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (u, g) = ids();
    for (file, id) in [("uid_map", u), ("gid_map", g)] {
        let path = format!("/proc/{}/{file}", holder.id());
        std::fs::write(&path, format!("0 {id} 1\n1 {} 1\n", id + 1)).unwrap();
    }
    let marker = "1618.03";
    let script = format!(
        "exec 3<{ns}; exec \"$0\" --userns 3 --uid 1 --gid 1 --die-with-parent --ro-bind / / sleep {marker}"
    );
    let mut sb = as_user("sh")
        .args(["-c", &script])
        .arg(bin())
        .spawn()
        .unwrap();
    let sleep = format!("sleep\0{marker}");
    wait_for(&sleep);
    sb.kill().unwrap();
    sb.wait().unwrap();
    let gone = gone_within(&sleep, std::time::Duration::from_secs(1));
    for pid in pids_running(&sleep) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(gone, "the command outlived sbox after switching to uid 1");
}

#[test]
fn the_info_fd_child_pid_can_be_entered() {
    // flatpak enter: nsenter into --info-fd's child-pid (init, with a PID namespace), as the
    // same unprivileged user; a signal from there to pid 1 is one from inside: ignored.
    if !Path::new("/usr/bin/nsenter").exists() {
        skip_or_fail(
            "the_info_fd_child_pid_can_be_entered",
            "no /usr/bin/nsenter (Debian: util-linux)",
        );
        return;
    }
    let mut progs = vec![bwrap_link(), bin().to_path_buf()];
    progs.extend(real_bwrap("the_info_fd_child_pid_can_be_entered"));
    for prog in progs {
        let out = as_user("python3")
            .env("SBOX", &prog)
            .args(["-c", &format!("{PY_PRELUDE}{}", r#"
r, w = os.pipe()
a = subprocess.Popen([S, '--ro-bind', '/', '/', '--unshare-pid', '--proc', '/proc', '--info-fd', str(w),
                      'sh', '-c', 'readlink /proc/self/ns/mnt; sleep 1; echo alive'],
                     pass_fds=[w], stdout=subprocess.PIPE, text=True)
os.close(w)
pid = str(json.load(os.fdopen(r))['child-pid'])
mnt = a.stdout.readline().strip()
enter = ['nsenter', '-t', pid, '-U', '-m', '-p', '--preserve-credentials']
p = subprocess.run(enter + ['sh', '-c', 'readlink /proc/self/ns/mnt; kill -TERM 1'], capture_output=True, text=True)
print(p.stdout.split()[:1] == [mnt], p.returncode, a.stdout.read().strip(), a.wait(), p.stderr.strip())
"#)])
            .output()
            .unwrap();
        assert_eq!(
            stdout(&out).trim(),
            "True 0 alive 0",
            "{prog:?} {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_nested_sandbox_mounts_its_own_procfs() {
    if !have("unshare") || !have("ps") {
        return skip_or_fail(
            "a_nested_sandbox_mounts_its_own_procfs",
            "needs unshare and ps",
        );
    }
    let link = bwrap_link();
    let nested = "unshare -Urpf --mount-proc ps -o pid=,comm=";
    // Under the link (nested user namespaces allowed, as bubblewrap) and as sbox, with what
    // sbox's own mode needs for it: user namespaces and mount(2).
    let sbox_mode = ["--allow-userns", "--seccomp-allow", "mount"];
    for (prog, extra) in [(link.as_path(), &[][..]), (bin(), &sbox_mode[..])] {
        let mut c = as_user(prog);
        c.args(extra).args(BASE).args(["sh", "-c", nested]);
        let o = c.output().unwrap();
        assert_eq!(
            stdout(&o).split_whitespace().collect::<Vec<_>>(),
            ["1", "ps"],
            "{prog:?}: {}",
            stderr(&o)
        );
        // /proc/sys stays read-only for the command itself.
        let mut c = as_user(prog);
        c.args(extra).args(BASE).args([
            "python3",
            "-c",
            &errno_of("open('/proc/sys/kernel/hostname', 'w').write('x')"),
        ]);
        assert_eq!(stdout(&c.output().unwrap()).trim(), "EROFS", "{prog:?}");
    }
}

#[test]
fn pidns_with_unshare_pid_nests_a_pid_namespace() {
    // Sandbox A; B joins A's user and PID namespaces with --pidns and asks for --unshare-pid:
    // B gets a PID namespace of its own, whose parent is A's, and its own init.
    let out = wrapper_ok(&format!(
        "{PY_PRELUDE}import fcntl\n\
         ir, iw = os.pipe()\n\
         a = subprocess.Popen([S, '--ro-bind', '/', '/', '--unshare-pid', '--proc', '/proc', '--die-with-parent', '--info-fd', str(iw), 'sh', '-c', 'echo ready; exec sleep 60'], pass_fds=[iw], stdout=subprocess.PIPE, text=True)\n\
         os.close(iw); init = json.load(os.fdopen(ir))['child-pid']; a.stdout.readline()\n\
         def ppid(p):\n    try:\n        return int(open('/proc/%s/stat' % p).read().rsplit(')', 1)[1].split()[1])\n    except (OSError, IndexError, ValueError):\n        return -1  # gone meanwhile\n\
         # A's command (its init is not dumpable, so its namespaces can't be opened)\n\
         cmd = [p for p in os.listdir('/proc') if p.isdigit() and ppid(p) == init][0]\n\
         u = os.open('/proc/%s/ns/user' % cmd, os.O_RDONLY)\n\
         pn = os.open('/proc/%s/ns/pid' % cmd, os.O_RDONLY)\n\
         ir, iw = os.pipe()\n\
         b = subprocess.Popen([S, '--userns', str(u), '--pidns', str(pn), '--unshare-pid', '--ro-bind', '/', '/', '--proc', '/proc', '--info-fd', str(iw), 'sh', '-c', 'cat /proc/1/comm; ls /proc | grep -c \"^[0-9]\"; read x || true'], pass_fds=[u, pn, iw], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)\n\
         os.close(iw); info = os.fdopen(ir).read()\n\
         ok = False\n\
         if info:\n\
         \x20   child = json.loads(info)['child-pid']\n\
         \x20   bns = os.open('/proc/%s/ns/pid' % child, os.O_RDONLY)\n\
         \x20   parent = fcntl.ioctl(bns, 0xb702)  # NS_GET_PARENT\n\
         \x20   ok = (os.fstat(parent).st_ino == os.fstat(pn).st_ino, os.fstat(bns).st_ino != os.fstat(pn).st_ino)\n\
         out, err = b.communicate('')\n\
         a.kill(); a.wait()\n\
         # pid 1 is B's init; B's command, ls and grep are all that run there\n\
         print(ok, out.split()[:1], int((out.split() or [9, 9])[-1]) <= 4, b.returncode, err)"
    ));
    assert_eq!(out.trim(), "(True, True) ['sbox'] True 0", "{out}");
}

/// Run `prog args...` as the test user on a new pseudo-terminal; returns what it printed.
fn on_a_terminal(prog: &Path, args: &[&str]) -> String {
    let o = as_user("python3")
        .arg("-c")
        .arg(
            "import os, pty, sys\npid, master = pty.fork()\nif pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\nout = b''\nwhile True:\n    try:\n        chunk = os.read(master, 4096)\n    except OSError:\n        break\n    if not chunk:\n        break\n    out += chunk\nos.waitpid(pid, 0)\nsys.stdout.write(out.decode())",
        )
        .arg(prog)
        .args(args)
        .output()
        .unwrap();
    stdout(&o).replace("\r\n", "\n")
}

#[test]
fn dev_has_a_console_and_allows_exec_as_bubblewrap() {
    let real = Path::new("/usr/bin/bwrap");
    if !real.exists() {
        return skip_or_fail(
            "dev_has_a_console_and_allows_exec_as_bubblewrap",
            "no /usr/bin/bwrap",
        );
    }
    // On a terminal: /dev/console is the terminal (a pts node), `tty` names it; /dev/shm has
    // bubblewrap's mode and allows exec and PROT_EXEC mappings.
    let probe = "stat -c '%a %F' /dev/console; tty; stat -c %a /dev/shm; \
                 cp /bin/true /dev/shm/t && /dev/shm/t && echo exec-ok; \
                 python3 -c \"import mmap; f = open('/dev/shm/t', 'rb'); mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC); print('mmap-ok')\"";
    let args = ["--ro-bind", "/", "/", "--dev", "/dev", "sh", "-c", probe];
    let want = on_a_terminal(real, &args);
    assert_eq!(
        want, "600 character special file\n/dev/console\n755\nexec-ok\nmmap-ok\n",
        "bubblewrap itself"
    );
    assert_eq!(
        on_a_terminal(&bwrap_link(), &args),
        want,
        "through the link"
    );
    assert_eq!(on_a_terminal(bin(), &args), want, "as sbox");
    // Without a terminal on stdout, no console.
    let none = [
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "sh",
        "-c",
        "ls /dev/console 2>/dev/null; tty",
    ];
    for prog in [real, &bwrap_link(), bin()] {
        let o = as_user(prog).args(none).output().unwrap();
        assert_eq!(stdout(&o), "not a tty\n", "{prog:?}");
    }
}

#[test]
fn created_mount_points_and_parents_have_bubblewraps_modes() {
    let real = Path::new("/usr/bin/bwrap");
    if !real.exists() {
        return skip_or_fail(
            "created_mount_points_and_parents_have_bubblewraps_modes",
            "no /usr/bin/bwrap",
        );
    }
    // Everything is created in a host directory bound in, and looked at from the host after.
    let paths = [
        "a", "a/b", "a/b/f", "c", "c/d", "c/d/e", "t1", "t1/t2", "t1/t2/t3", "s1", "s1/s2", "f1",
        "f1/f2", "f1/f2/f3", "g1", "g1/g2", "g1/g2/g3", "h1", "h1/h2", "h1/h2/h3", "p1", "p1/p2",
        "d1", "d1/d2", "m1", "m1/m2", "r1", "r1/r2", "r1/r2/r3",
    ];
    let dir_cases = ["1777", "0750", "0710", "0640", "0600", "0604", "0000"];
    let modes = |prog: &Path, as_sbox: bool| -> Vec<String> {
        let d = scratch(if as_sbox { "modes-sbox" } else { "modes-bwrap" });
        let at = |p: &str| d.join(p).to_str().unwrap().to_string();
        let data = d.parent().unwrap().join(format!("{}-data", d.display()));
        std::fs::write(&data, "x").unwrap();
        let mut args: Vec<String> = ["--unshare-ipc", "--unshare-pid", "--ro-bind", "/", "/"]
            .map(String::from)
            .to_vec();
        let mut op = |v: &[&str], p: &str| {
            args.extend(v.iter().map(|s| s.to_string()));
            args.push(at(p));
        };
        op(&["--bind", d.to_str().unwrap()], "");
        op(&["--ro-bind", "/etc/hostname"], "a/b/f");
        op(&["--bind", "/usr"], "c/d/e");
        op(&["--tmpfs"], "t1/t2/t3");
        op(&["--symlink", "foo"], "s1/s2/s3");
        op(&["--file", "3"], "f1/f2/f3");
        op(&["--bind-data", "4"], "g1/g2/g3");
        op(&["--ro-bind-data", "5"], "h1/h2/h3");
        op(&["--proc"], "p1/p2");
        op(&["--dev"], "d1/d2");
        op(&["--mqueue"], "m1/m2");
        op(&["--dir"], "r1/r2/r3");
        for m in dir_cases {
            op(&["--perms", m, "--dir"], &format!("x{m}/y/z"));
        }
        args.push("true".into());
        let mut c = as_user("sh");
        c.args(["-c", "exec \"$@\" 3<\"$D\" 4<\"$D\" 5<\"$D\"", "sh"])
            .env("D", &data)
            .arg(prog)
            .args(if as_sbox {
                &["--seccomp-profile", "default"][..]
            } else {
                &[][..]
            })
            .args(&args);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{prog:?}: {}", stderr(&o));
        let extra: Vec<String> = dir_cases
            .iter()
            .flat_map(|m| [format!("x{m}"), format!("x{m}/y"), format!("x{m}/y/z")])
            .collect();
        paths
            .iter()
            .map(|p| p.to_string())
            .chain(extra)
            .map(|p| {
                use std::os::unix::fs::PermissionsExt;
                let m = std::fs::symlink_metadata(d.join(&p))
                    .unwrap()
                    .permissions()
                    .mode();
                format!("{p} {:o}", m & 0o7777)
            })
            .collect()
    };
    let want = modes(real, false);
    // Spot checks of bubblewrap's rules, then the link and sbox's own mode.
    for line in [
        "a 700",
        "a/b/f 444",
        "t1 755",
        "g1/g2/g3 444",
        "x1777 755",
        "x0604 705",
        "x0000/y 700",
    ] {
        assert!(
            want.iter().any(|l| l == line),
            "bubblewrap: {line} in {want:?}"
        );
    }
    assert_eq!(modes(&bwrap_link(), false), want, "through the link");
    assert_eq!(modes(bin(), true), want, "as sbox");
}
