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
    assert_one_line_error(&o, "--assert-userns-disabled:");
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
        return;
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
