#!/usr/bin/env python3
"""The egress allowlist's costs (issue 14), all in one run, medians. Local servers on
127.0.0.1 only. Called by bench/net.sh (which runs it as a normal user):

    net.py SBOX [--quick]

  start   `--net-allow localhost:PORT true` against `--unshare-net true` (goal <= 1.15)
  bulk    a 1 GiB download (curl) through the proxy against the same download on the host
          (goal >= 0.90)
  connect connect + one byte back, through a port listener against direct: the median added
          (goal <= 0.2 ms)
  rss     VmRSS of sbox (the supervisor) holding 200 open connections (goal < 8 MB)

Prints one line per figure and exits non-zero when a goal is missed. With NET_BENCH_GROSS=1
(bench/ci.sh) only a gross miss fails: start > 2x, bulk < 0.4x, connect > +1 ms,
rss >= 16 MB (CI shares its machine; the goals above are for a quiet one)."""
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

sbox = sys.argv[1]
quick = "--quick" in sys.argv
here = os.path.dirname(os.path.abspath(__file__))
BASE = [sbox, "--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--dev", "/dev"]
SIZE = (256 if quick else 1024) << 20


def serve(handler):
    """A threaded TCP server on 127.0.0.1; its port."""
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", 0))
    l.listen(512)

    def loop():
        while True:
            c, _ = l.accept()
            threading.Thread(target=handler, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return l.getsockname()[1]


def bulk(c):
    """Read a request head, answer SIZE bytes (sendfile from a sparse file)."""
    head = b""
    while b"\r\n\r\n" not in head:
        b = c.recv(4096)
        if not b:
            return
        head += b
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % SIZE)
    with open(blob, "rb") as f:
        off = 0
        while off < SIZE:
            n = os.sendfile(c.fileno(), f.fileno(), off, SIZE - off)
            if n == 0:
                break
            off += n
    c.close()


def echo(c):
    while True:
        b = c.recv(64)
        if not b:
            break
        c.sendall(b)
    c.close()


held = []


def hold(c):
    held.append(c)


gross = os.environ.get("NET_BENCH_GROSS") == "1"
GOAL = {"start": 2.0, "bulk": 0.4, "connect": 1.0, "rss": 16384} if gross else \
    {"start": 1.15, "bulk": 0.90, "connect": 0.2, "rss": 8192}
kind = "gross-miss limit" if gross else "goal"

blob = f"/tmp/sbox-net-bench-{os.getpid()}"
with open(blob, "wb") as f:
    f.truncate(SIZE)
failed = []

try:
    # start: round robin, as interleave.py.
    port = serve(echo)
    rounds = 40 if quick else 200
    cmds = {
        "unshare-net": BASE + ["--unshare-net", "true"],
        "net-allow": BASE + ["--net-allow", f"localhost:{port}", "true"],
    }
    times = {k: [] for k in cmds}
    for r in range(rounds + 5):
        for k, argv in (cmds.items() if r % 2 else reversed(cmds.items())):
            t = time.perf_counter()
            subprocess.run(argv, check=True)
            if r >= 5:
                times[k].append(time.perf_counter() - t)
    a, b = (statistics.median(times[k]) for k in cmds)
    ratio = b / a
    print(f"start    --unshare-net {a * 1e3:.3f} ms, --net-allow {b * 1e3:.3f} ms: {ratio:.3f}x ({kind} <= {GOAL['start']})")
    if ratio > GOAL["start"]:
        failed.append("start")

    # bulk: curl on the host against curl in a sandbox through the proxy.
    bport = serve(bulk)
    url = f"http://127.0.0.1:{bport}/blob"
    curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download}"]
    host, boxed = [], []
    for _ in range(3 if quick else 5):
        host.append(float(subprocess.run(curl + [url], capture_output=True, check=True).stdout))
        out = subprocess.run(BASE + ["--net-allow", f"127.0.0.1:{bport}"] + curl + [url],
                             capture_output=True, check=True).stdout
        boxed.append(float(out))
    h, s = statistics.median(host), statistics.median(boxed)
    print(f"bulk     {SIZE >> 20} MiB: host {h / 1e6:.0f} MB/s, through sbox {s / 1e6:.0f} MB/s: {s / h:.3f}x ({kind} >= {GOAL['bulk']})")
    if s / h < GOAL["bulk"]:
        failed.append("bulk")

    # connect: the same client on the host and in a sandbox (port listener).
    n = 200 if quick else 1000
    client = (
        "import socket, time, statistics, sys\n"
        "port, n = int(sys.argv[1]), int(sys.argv[2])\n"
        "t = []\n"
        "for _ in range(n):\n"
        "    a = time.perf_counter()\n"
        "    s = socket.create_connection(('127.0.0.1', port))\n"
        "    s.sendall(b'x'); s.recv(1)\n"
        "    t.append(time.perf_counter() - a)\n"
        "    s.close()\n"
        "print(statistics.median(t))\n"
    )
    args = ["python3", "-c", client, str(port), str(n)]
    direct = float(subprocess.run(args, capture_output=True, check=True).stdout)
    boxed = float(subprocess.run(BASE + ["--net-allow", f"127.0.0.1:{port}"] + args,
                                 capture_output=True, check=True).stdout)
    added = (boxed - direct) * 1e3
    print(f"connect  direct {direct * 1e3:.3f} ms, through sbox {boxed * 1e3:.3f} ms: +{added:.3f} ms ({kind} <= {GOAL['connect']})")
    if added > GOAL["connect"]:
        failed.append("connect")

    # rss: 200 connections held open through one sandbox.
    hport = serve(hold)
    opener = (
        "import socket, sys, time\n"
        f"s = [socket.create_connection(('127.0.0.1', {hport})) for _ in range(200)]\n"
        "print('ready', flush=True)\n"
        "time.sleep(2)\n"
    )
    p = subprocess.Popen(BASE + ["--net-allow", f"127.0.0.1:{hport}", "python3", "-c", opener],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    with open(f"/proc/{p.pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    p.wait()
    print(f"rss      sbox with 200 connections: {rss} kB ({kind} < {GOAL['rss']} kB), {len(held)} held by the server")
    if rss >= GOAL["rss"] or len(held) < 200:
        failed.append("rss")
finally:
    os.unlink(blob)

if failed:
    print("MISSED: " + ", ".join(failed))
    sys.exit(1)
