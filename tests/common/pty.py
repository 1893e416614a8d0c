# The caller's side of a program on a real pseudo-terminal, playing the caller's shell.
# The shell prints `OUTER <its terminal>`, runs ARGS (a JSON argv) in the foreground, prints
# `RUNTIME <pid>`, then `STATUS <code> SAME|CHANGED NEXT <bytes>`: its terminal's foreground
# group and modes compared with before, and what it reads from its terminal next (a byte
# pushed into it from inside would be there). The other end does each of STEPS (a JSON list)
# after the next `ready` in the output: types it, or `WINCH` (resize to 40x100, then a
# newline), `SIG...` (that signal to the program), `KILL` (runs the argv KILLCMD).
# Prints what the terminal showed.
import os, pty, sys, time, select, fcntl, termios, struct, subprocess, json, signal, re
args = json.loads(os.environ['ARGS'])
steps = json.loads(os.environ['STEPS'])
# Held: the caller's terminal is then not the host's /dev/pts/0 (a container's is its pts/0).
hold = os.openpty()
pid, m = pty.fork()
if pid == 0:
    print('OUTER', os.ttyname(0), flush=True)
    before = (os.tcgetpgrp(0), termios.tcgetattr(0))
    p = subprocess.Popen(args)
    print('RUNTIME', p.pid, flush=True)
    rc = p.wait()
    after = (os.tcgetpgrp(0), termios.tcgetattr(0))
    t = termios.tcgetattr(0)
    t[3] &= ~termios.ICANON
    t[6][termios.VMIN] = 0
    t[6][termios.VTIME] = 0
    termios.tcsetattr(0, termios.TCSANOW, t)
    time.sleep(0.3)
    left = os.read(0, 100)
    print('\nSTATUS', rc, 'SAME' if before == after else 'CHANGED', 'NEXT', repr(left), flush=True)
    os._exit(0)
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack('HHHH', 33, 111, 0, 0))
out = b''
sent = 0
end = time.time() + 20
while time.time() < end:
    r, _, _ = select.select([m], [], [], 0.1)
    if r:
        try:
            d = os.read(m, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    if sent < len(steps) and out.count(b'ready') > sent:
        time.sleep(0.3)
        t = steps[sent]
        if t == 'WINCH':
            fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 100, 0, 0))
            os.write(m, b'\n')
        elif t.startswith('SIG'):
            os.kill(int(re.search(rb'RUNTIME (\d+)', out).group(1)), getattr(signal, t))
        elif t == 'KILL':
            subprocess.call(json.loads(os.environ['KILLCMD']))
        else:
            os.write(m, t.encode())
        sent += 1
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace').replace('\r', ''))
