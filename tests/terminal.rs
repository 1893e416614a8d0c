//! The terminal: in sbox's mode a command whose 0-2 include a terminal gets a pseudo-terminal
//! of its own, relayed by sbox, and can't read or drive the caller's (issue 12 item 5). Each
//! test runs sbox, as the unprivileged user, on a real pseudo-terminal made by a Python
//! harness that plays the caller's shell.

mod common;
use common::*;
use std::time::{Duration, Instant};

/// `prog ARGS` on a real pseudo-terminal (tests/common/pty.py plays the caller's shell),
/// typing each of TYPED after the next `ready`: what the terminal showed, ending in
/// `STATUS <code> SAME|CHANGED ...` (the terminal's foreground group and modes after).
fn on_pty(prog: &std::path::Path, args: &[&str], typed: &[&str]) -> String {
    let mut argv = vec![prog.display().to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    common::on_pty(&argv, typed, &[])
}

#[test]
fn a_typed_line_reaches_the_command() {
    let out = on_pty(
        bin(),
        &[
            "--ro-bind",
            "/",
            "/",
            "sh",
            "-c",
            "echo ready; read l; echo got:$l",
        ],
        &["hello\n"],
    );
    assert!(out.contains("got:hello"), "{out}");
    assert!(out.contains("STATUS 0 SAME"), "{out}");
}

#[test]
fn ctrl_c_reaches_the_command_through_its_terminal() {
    for extra in [&[][..], &["--unshare-pid"][..]] {
        let mut args = vec!["--ro-bind", "/", "/"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["bash", "-c", "echo ready; sleep 30; echo after-sleep"]);
        let t = Instant::now();
        let out = on_pty(bin(), &args, &["\x03"]);
        assert!(t.elapsed() < Duration::from_secs(10), "{extra:?}: {out}");
        assert!(out.contains("STATUS 130 SAME"), "{extra:?}: {out}");
        assert!(!out.contains("after-sleep"), "{extra:?}: {out}");
    }
}

#[test]
fn the_terminal_size_is_the_callers_and_follows_it() {
    let out = on_pty(
        bin(),
        &[
            "--ro-bind",
            "/",
            "/",
            "sh",
            "-c",
            "stty size; echo ready; read x; stty size",
        ],
        &["WINCH"],
    );
    assert!(out.contains("33 111\n"), "{out}");
    assert!(out.contains("40 100\n"), "{out}");
    assert!(out.contains("STATUS 0 SAME"), "{out}");
}

#[test]
fn without_a_terminal_among_0_2_the_callers_is_still_out_of_reach() {
    // sbox has a controlling terminal, the command's 0-2 are not terminals: a new session,
    // so /dev/tty opens nothing.
    let code = "import os, errno\ntry:\n    os.open('/dev/tty', os.O_RDWR); print('opened')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])\nprint(os.getsid(0) == os.getpid())";
    let script = "\"$SBOX\" --ro-bind / / --dev /dev python3 -c \"$CODE\" </dev/null 2>&1 | cat";
    let argv = ["/bin/sh", "-c", script].map(String::from);
    let out = common::on_pty(
        &argv,
        &[],
        &[("SBOX", bin().display().to_string()), ("CODE", code.into())],
    );
    assert!(out.contains("ENXIO\nTrue\n"), "{out}");
    assert!(out.contains("STATUS 0 SAME"), "{out}");
}

#[test]
fn as_bwrap_the_command_has_the_callers_terminal() {
    let link = scratch("term-bwrap-link").join("bwrap");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    let code = "import os; print('tty', os.ttyname(0), os.getsid(0) == os.getpid())";
    let out = on_pty(&link, &["--ro-bind", "/", "/", "python3", "-c", code], &[]);
    // The harness's pty, not one of sbox's: bubblewrap's behaviour.
    let line = out.lines().find(|l| l.starts_with("tty ")).unwrap_or("");
    assert!(line.ends_with(" False"), "{out}");
    let sbox_out = on_pty(bin(), &["--ro-bind", "/", "/", "python3", "-c", code], &[]);
    let sbox_line = sbox_out
        .lines()
        .find(|l| l.starts_with("tty "))
        .unwrap_or("");
    assert!(sbox_line.ends_with(" True"), "{sbox_out}");
    assert_ne!(line, sbox_line);
}

/// The attack of issue 12 item 5, from inside: a child that ignores SIGHUP/SIGTTOU/SIGTTIN,
/// moves to a process group of its own and tcsetpgrp()s itself into the foreground of
/// /dev/tty and of 0-2, then (when it outlives sbox, without a PID namespace) reads what the
/// user types next. REC gets its findings, and the device of its fd 0.
const ATTACK: &str = r#"
import os, sys, signal, errno, time, select
rec = sys.argv[1]
for s in (signal.SIGTTOU, signal.SIGTTIN, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
r, w = os.pipe()
if os.fork() > 0:
    os.read(r, 1)
    os._exit(0)
out = ['rdev:%d' % os.fstat(0).st_rdev]
try:
    os.setpgid(0, 0)
except OSError:
    pass
fds = [(str(i), i) for i in range(3)]
try:
    fds.append(('tty', os.open('/dev/tty', os.O_RDWR)))
except OSError as e:
    out.append('open-tty:' + errno.errorcode[e.errno])
for name, fd in fds:
    try:
        os.tcsetpgrp(fd, os.getpgrp())
        out.append('tcsetpgrp-%s:ok' % name)
    except OSError as e:
        out.append('tcsetpgrp-%s:%s' % (name, errno.errorcode[e.errno]))
open(rec, 'w').write(' '.join(out) + '\n')
os.write(w, b'x')
time.sleep(0.5)
got = b''
end = time.time() + 2
while time.time() < end:
    try:
        if select.select([0], [], [], 0.1)[0]:
            d = os.read(0, 100)
            if not d:
                break
            got += d
    except OSError as e:
        got += b'<' + errno.errorcode[e.errno].encode() + b'>'
        break
open(rec, 'a').write('read:' + repr(got) + '\n')
"#;

/// The caller's side of the attack: runs sbox, then reads the next line the user types.
const VICTIM: &str = r#"
import os, pty, sys, time, select, termios, subprocess
S, rec = os.environ['SBOX'], os.environ['REC']
pid, m = pty.fork()
if pid == 0:
    print('rdev:%d' % os.fstat(0).st_rdev, flush=True)
    before = (os.tcgetpgrp(0), termios.tcgetattr(0))
    rc = subprocess.call([S] + sys.argv[1:] + ['python3', '-c', os.environ['ATTACK'], rec])
    after = (os.tcgetpgrp(0), termios.tcgetattr(0))
    print('STATUS', rc, 'SAME' if before == after else 'CHANGED', flush=True)
    print('NEXT:' + sys.stdin.readline().strip(), flush=True)
    os._exit(0)
out = b''
typed = False
end = time.time() + 15
while time.time() < end:
    if select.select([m], [], [], 0.1)[0]:
        try:
            d = os.read(m, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    if not typed and b'STATUS' in out:
        time.sleep(0.7)
        os.write(m, b'secret\n')
        typed = True
os.waitpid(pid, 0)
time.sleep(2.5)
sys.stdout.write(out.decode(errors='replace').replace('\r', ''))
"#;

#[test]
fn the_callers_terminal_cannot_be_stolen() {
    for (i, extra) in [&[][..], &["--unshare-pid"][..]].iter().enumerate() {
        let d = scratch(&format!("term-attack-{i}"));
        let rec = d.join("rec");
        let ds = d.to_str().unwrap();
        let mut args = vec!["--ro-bind", "/", "/", "--bind", ds, ds];
        args.extend_from_slice(extra);
        let o = as_user("python3")
            .args(["-c", VICTIM])
            .args(&args)
            .env("SBOX", bin())
            .env("REC", &rec)
            .env("ATTACK", ATTACK)
            .output()
            .unwrap();
        let out = stdout(&o);
        let found = std::fs::read_to_string(&rec).unwrap_or_default();
        let msg = format!(
            "{extra:?}\nterminal: {out}\nattacker: {found}\n{}",
            stderr(&o)
        );
        assert!(out.contains("STATUS 0 SAME"), "{msg}");
        // The user's next line goes to the caller's shell, not to the sandbox.
        assert!(out.contains("NEXT:secret"), "{msg}");
        assert!(!found.contains("secret"), "{msg}");
        // Whatever the attacker holds is not the caller's terminal.
        let caller = out.lines().find(|l| l.starts_with("rdev:")).unwrap();
        let inside = found.split_whitespace().find(|w| w.starts_with("rdev:"));
        assert!(inside.is_some(), "{msg}");
        assert_ne!(inside, Some(caller), "{msg}");
    }
}

#[test]
fn in_a_background_job_sbox_stops_instead_of_taking_the_terminal() {
    // `sbox … &` from an interactive shell: like ssh, sbox stops (SIGTTOU) at the terminal
    // instead of changing its modes or reading it, and burns no CPU while stopped.
    let d = scratch("term-bg");
    let ds = d.to_str().unwrap();
    let code = format!(
        r#"
import os, pty, sys, time, termios, subprocess
S = os.environ['SBOX']
pid, m = pty.fork()
if pid == 0:
    before = (os.tcgetpgrp(0), termios.tcgetattr(0))
    p = subprocess.Popen([S, '--die-with-parent', '--ro-bind', '/', '/', '--bind', '{ds}', '{ds}',
                          'sh', '-c', 'echo started > {ds}/started; sleep 31.25'],
                         preexec_fn=os.setpgrp)
    end = time.time() + 10
    while not os.path.exists('{ds}/started') and time.time() < end:
        time.sleep(0.05)
    time.sleep(1)
    st = open('/proc/%d/stat' % p.pid).read().rsplit(')', 1)[1].split()
    after = (os.tcgetpgrp(0), termios.tcgetattr(0))
    print('STATE', st[0], 'CPU', int(st[11]) + int(st[12]), 'SAME' if before == after else 'CHANGED', flush=True)
    os.killpg(p.pid, 9)
    p.wait()
    os._exit(0)
out = b''
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace').replace('\r', ''))
"#
    );
    let o = as_user("python3")
        .args(["-c", &code])
        .env("SBOX", bin())
        .output()
        .unwrap();
    let out = stdout(&o);
    let line = out.lines().find(|l| l.starts_with("STATE")).unwrap_or("");
    let w: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        w.get(1),
        Some(&"T"),
        "sbox is stopped: {out} {}",
        stderr(&o)
    );
    assert!(
        w.get(3).and_then(|c| c.parse::<u32>().ok()).unwrap_or(99) < 20,
        "{out}"
    );
    assert_eq!(w.get(4), Some(&"SAME"), "{out}");
    assert!(gone_within("sleep\x0031.25", Duration::from_secs(2)));
}

#[test]
fn the_callers_terminal_modes_come_back_when_the_caller_dies() {
    // --die-with-parent with a terminal: the caller (a shell on the pty) is killed while sbox
    // holds the terminal raw; sbox puts the modes back before it and the sandbox go.
    let code = r#"
import os, pty, sys, time, termios, signal
S = os.environ['SBOX']
shell, m = pty.fork()
if shell == 0:
    os.execv('/bin/sh', ['sh', '-c', '"$0" "$@"; exit 0', S, '--die-with-parent',
                         '--ro-bind', '/', '/', 'sh', '-c', 'echo ready; sleep 32.75'])
before = termios.tcgetattr(m)
out = b''
end = time.time() + 10
while b'ready' not in out and time.time() < end:
    out += os.read(m, 100)
time.sleep(0.3)
print('RAW', termios.tcgetattr(m) != before, flush=True)
os.kill(shell, signal.SIGKILL)
os.waitpid(shell, 0)
end = time.time() + 3
while termios.tcgetattr(m) != before and time.time() < end:
    time.sleep(0.05)
print('RESTORED', termios.tcgetattr(m) == before, flush=True)
"#;
    let o = as_user("python3")
        .args(["-c", code])
        .env("SBOX", bin())
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.contains("RAW True"), "{out} {}", stderr(&o));
    assert!(out.contains("RESTORED True"), "{out} {}", stderr(&o));
    assert!(
        gone_within("sleep\x0032.75", Duration::from_secs(2)),
        "{out}"
    );
}

#[test]
fn the_relay_does_not_spin_once_the_command_closes_its_terminal() {
    let code = r#"
import os, pty, sys
S = os.environ['SBOX']
pid, m = pty.fork()
if pid == 0:
    os.execv(S, [S, '--ro-bind', '/', '/', 'sh', '-c', 'echo hi; exec >&- 2>&- <&-; sleep 1.5'])
out = b''
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, st, ru = os.wait4(pid, 0)
print(out.decode().strip(), os.waitstatus_to_exitcode(st), ru.ru_utime + ru.ru_stime < 0.3)
"#;
    let o = as_user("python3")
        .args(["-c", code])
        .env("SBOX", bin())
        .output()
        .unwrap();
    assert_eq!(stdout(&o).trim(), "hi 0 True", "{}", stderr(&o));
}

#[test]
fn after_a_stop_sbox_takes_the_terminal_raw_again() {
    // While sbox was stopped the shell put its own modes back; on SIGCONT sbox goes raw again
    // (as ssh), so keys keep going to the sandbox's line discipline.
    let code = r#"
import os, pty, sys, time, termios, signal, select
S = os.environ['SBOX']
pid, m = pty.fork()
if pid == 0:
    os.execv(S, [S, '--ro-bind', '/', '/', 'sh', '-c', 'echo ready; read x; echo got:$x'])
cooked = termios.tcgetattr(m)
out = b''
while b'ready' not in out:
    out += os.read(m, 100)
time.sleep(0.2)
raw1 = termios.tcgetattr(m) != cooked
os.kill(pid, signal.SIGSTOP)
time.sleep(0.2)
termios.tcsetattr(m, termios.TCSANOW, cooked)
os.kill(pid, signal.SIGCONT)
time.sleep(0.3)
raw2 = termios.tcgetattr(m) != cooked
os.write(m, b'again\r')
end = time.time() + 5
while b'got:' not in out and time.time() < end:
    if select.select([m], [], [], 0.1)[0]:
        out += os.read(m, 100)
os.waitpid(pid, 0)
print(raw1, raw2, b'got:again' in out)
"#;
    let o = as_user("python3")
        .args(["-c", code])
        .env("SBOX", bin())
        .output()
        .unwrap();
    assert_eq!(stdout(&o).trim(), "True True True", "{}", stderr(&o));
}

#[test]
fn only_the_terminal_descriptors_are_replaced() {
    // stdin a pipe, stdout and stderr the terminal: the pipe reaches the command untouched,
    // and the terminal shows exactly what it would without sbox's pty (no doubled \r).
    let code = r#"
import os, pty, sys, subprocess
S = os.environ['SBOX']
pid, m = pty.fork()
if pid == 0:
    p = subprocess.run([S, '--ro-bind', '/', '/', 'sh', '-c', 'cat; test -t 1 && echo tty1; test -t 0 || echo pipe0'],
                       input=b'hi\nthere\n')
    os._exit(p.returncode)
out = b''
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
os.waitpid(pid, 0)
print(repr(out))
"#;
    let o = as_user("python3")
        .args(["-c", code])
        .env("SBOX", bin())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&o).trim(),
        r"b'hi\r\nthere\r\ntty1\r\npipe0\r\n'",
        "{}",
        stderr(&o)
    );
}
