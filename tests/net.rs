//! The egress allowlist (--net-allow, issue 14), as the unprivileged test user: local
//! upstream servers on 127.0.0.1 (the only address a test contacts), reached from inside the
//! sandbox through sbox, or refused.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// An HTTP server on 127.0.0.1 that answers every request with `hello`; its port.
fn hello_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut head: Vec<u8> = Vec::new();
                let mut b = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut b) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend(&b[..n]),
                    }
                }
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
            });
        }
    });
    port
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn have_tools(test: &str) -> bool {
    for p in ["curl", "python3"] {
        if !have(p) {
            skip_or_fail(test, &format!("{p} is not installed"));
            return false;
        }
    }
    true
}

/// BASE, the rules, then the command.
fn net(rules: &[String], cmd: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = BASE.iter().map(|s| s.to_string()).collect();
    args.extend(rules.iter().cloned());
    args.extend(cmd.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sbox(&args)
}

fn allow(rules: &[&str]) -> Vec<String> {
    rules
        .iter()
        .flat_map(|r| ["--net-allow".to_string(), r.to_string()])
        .collect()
}

fn refused_lines(o: &std::process::Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.starts_with("sbox: network: refused"))
        .map(str::to_string)
        .collect()
}

#[test]
fn proxy_aware_clients_reach_an_allowed_name_by_http_connect_and_socks5() {
    if !have_tools("proxy_aware_clients") {
        return;
    }
    let port = hello_server();
    let url = format!("http://localhost:{port}/");
    // The name is checked; it resolves (on the host) to loopback, which needs its own rule.
    let rules = allow(&[&format!("localhost:{port}"), &format!("127.0.0.1:{port}")]);
    let script = format!(
        "set -e; curl -sS {url}; echo; curl -sS -p {url}; echo; curl -sS -x \"$ALL_PROXY\" {url}; echo; echo \"$HTTPS_PROXY $ALL_PROXY $no_proxy.\""
    );
    let o = net(&rules, &["sh", "-c", &script]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..3],
        ["hello"; 3],
        "plain HTTP, CONNECT, SOCKS5: {out}"
    );
    assert!(
        lines[3].starts_with("http://127.0.0.1:") && lines[3].contains(" socks5h://127.0.0.1:"),
        "{out}"
    );
    assert!(lines[3].ends_with(" ."), "NO_PROXY is empty: {out}");
    assert!(refused_lines(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn a_proxy_ignoring_client_reaches_an_allowed_name_after_a_dns_lookup() {
    if !have_tools("proxy_ignoring_client") {
        return;
    }
    let port = hello_server();
    let rules = allow(&[&format!("localhost:{port}"), &format!("127.0.0.1:{port}")]);
    // Without /etc/hosts inside, `localhost` goes to the resolver resolv.conf names, which
    // sbox answers inside the sandbox with an address of its own for the name.
    let code = format!(
        "import socket\n\
         ai = socket.getaddrinfo('localhost', {port}, socket.AF_INET, socket.SOCK_STREAM)\n\
         addr = ai[0][4]\n\
         s = socket.create_connection(addr, timeout=10)\n\
         s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n\
         data = b''\n\
         while True:\n    b = s.recv(4096)\n    if not b: break\n    data += b\n\
         print(addr[0], data.split(b'\\r\\n\\r\\n')[1].decode())\n"
    );
    let mut cmd: Vec<String> = vec!["--ro-bind".into(), "/dev/null".into(), "/etc/hosts".into()];
    cmd.extend(rules);
    let mut args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    args.extend([
        "env",
        "-u",
        "http_proxy",
        "-u",
        "HTTP_PROXY",
        "-u",
        "ALL_PROXY",
    ]);
    args.extend(["-u", "all_proxy", "python3", "-c", &code]);
    let o = net(&[], &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("127.1.") && out.trim_end().ends_with(" hello"),
        "{out}"
    );
}

#[test]
fn a_name_not_allowed_is_refused_with_one_line() {
    if !have_tools("a_name_not_allowed") {
        return;
    }
    let port = hello_server();
    let rules = allow(&[&format!("localhost:{port}"), &format!("127.0.0.1:{port}")]);
    // Through the proxy (the name as asked), and by DNS (no address given).
    let script = format!(
        "curl -sS -o /dev/null -w '%{{http_code}}\\n' http://other.test:{port}/; \
         python3 -c \"import socket\ntry: socket.getaddrinfo('other.test', 80)\nexcept OSError: print('no address')\"; \
         curl -sS -o /dev/null -w '%{{http_code}}\\n' http://localhost:{}/",
        port + 1
    );
    let o = net(&rules, &["sh", "-c", &script]);
    assert_eq!(stdout(&o), "403\nno address\n403\n");
    let got = refused_lines(&o);
    assert_eq!(
        got,
        [
            format!("sbox: network: refused other.test:{port} (not in the allowlist)"),
            "sbox: network: refused other.test (not in the allowlist)".to_string(),
            format!(
                "sbox: network: refused localhost:{} (not in the allowlist)",
                port + 1
            ),
        ],
        "{}",
        stderr(&o)
    );
}

#[test]
fn loopback_link_local_and_private_addresses_are_refused_unless_named() {
    if !have_tools("loopback_refused") {
        return;
    }
    let port = hello_server();
    // The name is allowed, its address (127.0.0.1) is not: loopback needs an address rule.
    let script = format!(
        "curl -sS -o /dev/null -w '%{{http_code}}\\n' http://localhost:{port}/; \
         curl -sS -o /dev/null -w '%{{http_code}}\\n' http://169.254.169.254/; \
         curl -sS -o /dev/null -w '%{{http_code}}\\n' http://10.1.2.3/; \
         curl -sS -o /dev/null -w '%{{http_code}}\\n' http://127.0.0.1:{port}/"
    );
    let o = net(
        &allow(&[&format!("localhost:{port}"), "*.example.org"]),
        &["sh", "-c", &script],
    );
    assert_eq!(stdout(&o), "403\n403\n403\n403\n", "{}", stderr(&o));
    assert_eq!(
        refused_lines(&o),
        [
            format!(
                "sbox: network: refused localhost:{port} (loopback address 127.0.0.1; allow it explicitly)"
            ),
            "sbox: network: refused 169.254.169.254:80 (not in the allowlist)".to_string(),
            "sbox: network: refused 10.1.2.3:80 (not in the allowlist)".to_string(),
            format!("sbox: network: refused 127.0.0.1:{port} (not in the allowlist)"),
        ]
    );
    // Named, it is reached.
    let o = net(
        &allow(&[&format!("127.0.0.1:{port}")]),
        &["curl", "-sS", &format!("http://127.0.0.1:{port}/")],
    );
    assert_eq!(stdout(&o), "hello", "{}", stderr(&o));
}

#[test]
fn deny_wins_over_allow() {
    if !have_tools("deny_wins") {
        return;
    }
    let port = hello_server();
    let mut rules = allow(&[&format!("localhost:{port}"), &format!("127.0.0.1:{port}")]);
    rules.extend(["--net-deny".to_string(), "localhost".to_string()]);
    let o = net(
        &rules,
        &[
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://localhost:{port}/"),
        ],
    );
    assert_eq!(stdout(&o), "403");
    assert_eq!(
        refused_lines(&o),
        [format!(
            "sbox: network: refused localhost:{port} (denied by the rule localhost)"
        )]
    );
    // An address deny rule covers the name's resolved address too.
    let mut rules = allow(&[&format!("localhost:{port}"), &format!("127.0.0.0/8:{port}")]);
    rules.extend(["--net-deny".to_string(), format!("127.0.0.1:{port}")]);
    let o = net(
        &rules,
        &[
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://localhost:{port}/"),
        ],
    );
    assert_eq!(stdout(&o), "403", "{}", stderr(&o));
}

#[test]
fn a_destination_that_refuses_is_refused_to_the_client_quickly() {
    if !have_tools("destination_refuses") {
        return;
    }
    let port = closed_port();
    let rules = allow(&[&format!("127.0.0.1:{port}")]);
    let code = format!(
        "import socket, time, subprocess\n\
         t = time.time()\n\
         try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=20)\n    print('connected')\n\
         except OSError as e: print(type(e).__name__)\n\
         r = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{{http_code}}', 'http://127.0.0.1:{port}/'], capture_output=True)\n\
         print(r.stdout.decode())\n\
         r = subprocess.run(['curl', '-s', '-x', __import__('os').environ['ALL_PROXY'], 'http://127.0.0.1:{port}/'])\n\
         print(r.returncode)\n\
         print(time.time() - t < 5)\n"
    );
    let o = net(&rules, &["python3", "-c", &code]);
    let out = stdout(&o);
    // The port listener resets (the connection looked accepted inside: the client sees the
    // reset when it reads or as a refusal); the proxy answers 502, SOCKS5 "refused" (curl 97).
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out} {}", stderr(&o));
    assert!(
        [
            "connected",
            "ConnectionResetError",
            "ConnectionRefusedError"
        ]
        .contains(&lines[0])
    );
    assert_eq!(&lines[1..], ["502", "97", "True"], "{out}");
}

#[test]
fn the_port_listener_resets_a_refused_destination() {
    if !have_tools("port_listener_resets") {
        return;
    }
    let port = closed_port();
    let code = format!(
        "import socket\n\
         try:\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=10)\n    s.sendall(b'x'); print(s.recv(10))\n\
         except OSError as e: print(type(e).__name__)\n"
    );
    let o = net(
        &allow(&[&format!("127.0.0.1:{port}")]),
        &["python3", "-c", &code],
    );
    assert_eq!(stdout(&o).trim(), "ConnectionResetError", "{}", stderr(&o));
}

/// VmRSS of a process, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_client_that_floods_a_server_that_does_not_read_keeps_sbox_small() {
    if !have_tools("flood") {
        return;
    }
    // The server accepts and never reads.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let held = std::thread::spawn(move || l.accept().map(|(s, _)| s));
    let code = format!(
        "import socket\n\
         s = socket.create_connection(('127.0.0.1', {port}))\n\
         s.settimeout(4)\n\
         sent = 0\n\
         chunk = b'x' * (1 << 20)\n\
         try:\n    while sent < (1 << 30):\n        sent += s.send(chunk)\n\
         except OSError: pass\n\
         print(sent)\n"
    );
    let mut args: Vec<String> = BASE.iter().map(|s| s.to_string()).collect();
    args.extend(allow(&[&format!("127.0.0.1:{port}")]));
    args.extend(["python3".into(), "-c".into(), code]);
    let child = sbox_cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        peak = peak.max(rss_kb(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    let sent: u64 = stdout(&o)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}", stderr(&o)));
    drop(held);
    // What was accepted sits in kernel socket buffers and a pipe: a few MB at most.
    assert!(sent < 64 << 20, "the flood was not held back: {sent} bytes");
    assert!(peak > 0 && peak < 16 * 1024, "sbox's RSS reached {peak} kB");
}

#[test]
fn killing_the_sandbox_mid_transfer_leaves_nothing_behind() {
    if !have_tools("kill_mid_transfer") {
        return;
    }
    // The server sends without end; its write fails once sbox is gone.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
        let chunk = vec![b'y'; 1 << 16];
        let t = Instant::now();
        while s.write_all(&chunk).is_ok() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = tx.send(t.elapsed());
    });
    let marker = "sbox-net-kill-marker";
    let mut args: Vec<String> = BASE.iter().map(|s| s.to_string()).collect();
    args.extend(allow(&[&format!("127.0.0.1:{port}")]));
    args.extend(
        [
            "sh",
            "-c",
            &format!(
                "exec curl -s -o /dev/null -x \"$ALL_PROXY\" http://127.0.0.1:{port}/{marker}"
            ),
        ]
        .map(String::from),
    );
    let mut child = sbox_cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let curl = || {
        pids_with(marker)
            .into_iter()
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.starts_with(b"curl\0"))
            })
            .count()
    };
    let t = Instant::now();
    while curl() == 0 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(curl(), 1, "the download never started");
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    // Its sockets went with sbox: the download inside ends, and so does the upstream side.
    let t = Instant::now();
    while !pids_with(marker).is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = pids_with(marker);
    for pid in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(left.is_empty(), "left running: {left:?}");
    let ended = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server still writes");
    assert!(
        ended < Duration::from_secs(15),
        "the upstream connection stayed open"
    );
}

#[test]
fn two_hundred_concurrent_connections_all_complete() {
    if !have_tools("two_hundred") {
        return;
    }
    let port = hello_server();
    // All open at once through the port listener, then all asked, then all read.
    let code = format!(
        "import socket\n\
         socks = [socket.create_connection(('127.0.0.1', {port}), timeout=20) for _ in range(200)]\n\
         for s in socks: s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n\
         ok = 0\n\
         for s in socks:\n    d = b''\n    while True:\n        b = s.recv(4096)\n        if not b: break\n        d += b\n    ok += d.endswith(b'hello')\n\
         import sys; print(ok, file=sys.stderr)\n"
    );
    let mut args: Vec<String> = BASE.iter().map(|s| s.to_string()).collect();
    args.extend(allow(&[&format!("127.0.0.1:{port}")]));
    // (Descriptor 1 is sbox's then: the command's result goes to stderr.)
    args.extend(["--json-status-fd".into(), "1".into()]);
    args.extend(["python3".into(), "-c".into(), code]);
    let o = sbox(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let out = stdout(&o);
    assert!(
        stderr(&o).lines().any(|l| l == "200"),
        "{out} {}",
        stderr(&o)
    );
    let exit = out.lines().last().unwrap_or("");
    assert!(
        exit.contains("\"network\": {\"connections\": 200, \"refused\": 0}"),
        "{exit}"
    );
}

#[test]
fn without_rules_nothing_changes() {
    let o = sbox(&["--ro-bind", "/", "/", "--unshare-net", "--clearenv", "env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stdout(&o).to_ascii_lowercase().contains("proxy"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_rules_are_one_line_errors() {
    for (rule, why) in [
        (":99999", "'99999' is not a port"),
        ("*.", "no host name"),
        ("a..b", "empty label"),
        ("10.0.0.0/8", "needs a port"),
        ("", "empty rule"),
    ] {
        let o = sbox(&["--ro-bind", "/", "/", "--net-allow", rule, "true"]);
        assert_one_line_error(&o, &format!("--net-allow: '{rule}': "));
        assert!(stderr(&o).contains(why), "{}", stderr(&o));
    }
    let o = sbox(&[
        "--unshare-all",
        "--share-net",
        "--net-allow",
        "a.test",
        "true",
    ]);
    assert_one_line_error(&o, "--share-net: conflicts with --net-allow");
}

#[test]
fn nothing_but_sbox_leads_out() {
    // No route from the sandbox's namespace: a direct TCP connection or a UDP datagram (other
    // than DNS to sbox) has nowhere to go. (192.0.2.1 is a documentation address: nothing is
    // contacted, the namespace has no route to it.)
    let code = "import socket\n\
         for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):\n    s = socket.socket(socket.AF_INET, kind)\n    s.settimeout(5)\n    try:\n        s.connect(('192.0.2.1', 123)); s.send(b'x'); print('sent')\n    except OSError as e: print(e.errno == 101)\n";
    let o = net(&allow(&["localhost:1"]), &["python3", "-c", code]);
    assert_eq!(stdout(&o), "True\nTrue\n", "{}", stderr(&o));
}

#[test]
fn landlock_tcp_rules_leave_the_proxy_reachable() {
    if !have_tools("landlock_proxy") {
        return;
    }
    let port = hello_server();
    let mut rules = allow(&[&format!("127.0.0.1:{port}")]);
    rules.extend(["--landlock", "--landlock-tcp-connect", "443"].map(String::from));
    let o = net(
        &rules,
        &["curl", "-sS", &format!("http://127.0.0.1:{port}/")],
    );
    if stderr(&o).contains("landlock") && !o.status.success() {
        return skip_or_fail(
            "landlock_proxy",
            &format!("no Landlock TCP rules: {}", stderr(&o)),
        );
    }
    assert_eq!(stdout(&o), "hello", "{}", stderr(&o));
}

#[test]
fn an_allowlist_is_a_network_for_offline_switches() {
    // cargo-build sets CARGO_NET_OFFLINE only where there is no network; an allowlist is one.
    let project = scratch("net-offline");
    let p = project.to_str().unwrap();
    let echo = ["sh", "-c", "echo ${CARGO_NET_OFFLINE-unset}"];
    let mut args = vec!["--profile", "cargo-build", "--project", p];
    args.extend(echo);
    let mut c = sbox_cmd(&args);
    c.current_dir(&project);
    let o = c.output().unwrap();
    assert_eq!(stdout(&o), "true\n", "{}", stderr(&o));
    let mut args = vec![
        "--profile",
        "cargo-build",
        "--project",
        p,
        "--net-allow",
        "localhost:1",
    ];
    args.extend(echo);
    let mut c = sbox_cmd(&args);
    c.current_dir(&project);
    let o = c.output().unwrap();
    assert_eq!(stdout(&o), "unset\n", "{}", stderr(&o));
}

#[test]
fn an_address_from_sbox_dns_given_to_the_proxy_is_its_name() {
    if !have_tools("dns_address_to_proxy") {
        return;
    }
    let port = hello_server();
    // socks5:// (not socks5h://): curl resolves the name itself, through sbox's DNS, and
    // asks the proxy for that address, which sbox maps back to the name.
    let mut args: Vec<String> = ["--ro-bind", "/dev/null", "/etc/hosts"]
        .map(String::from)
        .to_vec();
    args.extend(allow(&[
        &format!("localhost:{port}"),
        &format!("127.0.0.1:{port}"),
    ]));
    args.push("sh".into());
    args.push("-c".into());
    args.push(format!(
        "curl -sS -x \"socks5://${{ALL_PROXY#socks5h://}}\" http://localhost:{port}/"
    ));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = net(&[], &a);
    assert_eq!(stdout(&o), "hello", "{}", stderr(&o));
}
