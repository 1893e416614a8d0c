//! The allowlist built without guessing (issue 14): a recording run (`--net-record`) writes
//! the destinations used, a profile replays that file (`[network] allowlist`), an emptied file
//! refuses everything with the one line. As the unprivileged test user, against a local
//! server on 127.0.0.1 (the only address a test contacts).

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

/// An HTTP server on 127.0.0.1 that answers every request with `hello`; its port.
fn hello_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut head: Vec<u8> = Vec::new();
            let mut b = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend(&b[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        }
    });
    port
}

fn run(args: &[&str]) -> std::process::Output {
    sbox(&[BASE, args].concat())
}

/// A profile that reads `list` as its allowlist (from a directory the sandbox can't write).
fn replay_profile(dir: &Path, list: &Path) -> String {
    let p = dir.join("replay.toml");
    write(
        &p,
        &format!(
            "extends = [\"base\"]\n[network]\nallowlist = \"{}\"\n",
            list.display()
        ),
    );
    p.display().to_string()
}

#[test]
fn a_recorded_allowlist_is_replayed_and_an_emptied_one_refuses() {
    if !have("curl") {
        return skip_or_fail("a_recorded_allowlist_is_replayed", "curl is not installed");
    }
    let port = hello_server();
    let dir = scratch("netrecord");
    let list = dir.join("net-allow.toml");
    let url = format!("http://localhost:{port}/");
    let curl = ["curl", "-fsS", "--max-time", "10", url.as_str()];
    // Recording: the loopback server needs its address rule, as always; the name is learnt.
    let addr_rule = format!("127.0.0.1:{port}");
    let record = list.display().to_string();
    let o = run(&[
        &["--net-record", &record, "--net-allow", &addr_rule, "--"],
        &curl[..],
    ]
    .concat());
    assert_eq!(stdout(&o), "hello", "{}", stderr(&o));
    let text = std::fs::read_to_string(&list).unwrap();
    assert!(
        text.starts_with("# Network allowlist recorded by sbox on "),
        "{text}"
    );
    assert!(text.contains(&format!("--net-record {record}")), "{text}");
    assert!(
        text.ends_with(&format!(
            "allow = [\n    \"127.0.0.1:{port}\",\n    \"localhost:{port}\",\n]\n"
        )),
        "{text}"
    );
    // Replayed by a profile, with no rule on the command line: reached.
    let profile = replay_profile(&dir, &list);
    chown_tree(&dir);
    let o = sbox(&[&["--profile", profile.as_str(), "--"], &curl[..]].concat());
    assert_eq!(stdout(&o), "hello", "{}", stderr(&o));
    // The list emptied: still an allowlist, so refused, with the one line.
    write(&list, "allow = []\n");
    chown_tree(&dir);
    let o = sbox(&[&["--profile", profile.as_str(), "--"], &curl[..]].concat());
    assert!(
        !o.status.success() && stdout(&o).is_empty(),
        "{}",
        stdout(&o)
    );
    // (The line is written whole; the client's own message may be split around it.)
    assert!(
        stderr(&o).contains(&format!(
            "sbox: network: refused localhost:{port} (not in the allowlist)\n"
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn recording_still_refuses_loopback_and_private_destinations() {
    if !have("curl") {
        return skip_or_fail("recording_still_refuses", "curl is not installed");
    }
    let port = hello_server();
    let dir = scratch("netrecord-private");
    let list = dir.join("net-allow.toml");
    let record = list.display().to_string();
    for url in [
        format!("http://localhost:{port}/"),
        format!("http://127.0.0.1:{port}/"),
        "http://169.254.169.254/".to_string(),
        "http://10.1.2.3/".to_string(),
    ] {
        let o = run(&[
            "--net-record",
            &record,
            "--",
            "curl",
            "-fsS",
            "--max-time",
            "10",
            &url,
        ]);
        assert!(!o.status.success(), "{url}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("sbox: network: refused "),
            "{url}: {}",
            stderr(&o)
        );
        // Nothing refused is recorded.
        let text = std::fs::read_to_string(&list).unwrap();
        assert!(text.ends_with("allow = [\n]\n"), "{url}: {text}");
    }
    // The file's directory must exist: one line before anything starts.
    let o = run(&["--net-record", "/nonexistent/dir/list.toml", "true"]);
    assert_one_line_error(
        &o,
        "--net-record: /nonexistent/dir/list.toml: /nonexistent/dir: ",
    );
}

/// The shipped `curl` profile (through `net`): the host network and one line saying how to
/// record while ~/.config/sbox/net-allow.toml is missing; recorded, only what it lists.
#[test]
fn the_curl_profile_uses_the_users_allowlist_once_recorded() {
    if !have("curl") {
        return skip_or_fail(
            "the_curl_profile_uses_the_users_allowlist",
            "curl is not installed",
        );
    }
    let port = hello_server();
    let home = scratch("netrecord-home");
    std::fs::create_dir(home.join(".config")).unwrap();
    chown_tree(&home);
    let list = home.join(".config/sbox/net-allow.toml");
    let url = format!("http://localhost:{port}/");
    let curl = |extra: &[&str], url: &str| {
        let mut c = as_user(bin());
        c.env("HOME", &home)
            .env_remove("SBOX_PROFILE_PATH")
            .env_remove("XDG_CONFIG_HOME")
            .args(["--profile", "curl"])
            .args(extra)
            .args(["--", "curl", "-fsS", "--max-time", "10", url]);
        c.output().unwrap()
    };
    // No list: the host network, as before, and the line naming --net-record and the path.
    let o = curl(&[], &format!("http://127.0.0.1:{port}/"));
    assert_eq!(stdout(&o), "hello", "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "sbox: warning: network: no allowlist at {}: this run has the host network; record one with `sbox --profile curl --net-record {} -- curl ",
            list.display(),
            list.display()
        )),
        "{}",
        stderr(&o)
    );
    // Recorded (the loopback server needs its address rule), then replayed by the profile.
    let rule = format!("127.0.0.1:{port}");
    let record = list.display().to_string();
    let o = curl(&["--net-allow", &rule, "--net-record", &record], &url);
    assert_eq!(stdout(&o), "hello", "{}", stderr(&o));
    let o = curl(&[], &url);
    assert_eq!(stdout(&o), "hello", "{}", stderr(&o));
    assert!(!stderr(&o).contains("no allowlist"), "{}", stderr(&o));
    // Nothing else: another port of the same host is refused, with the one line.
    let other = format!("http://localhost:{}/", port ^ 1);
    let o = curl(&[], &other);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!(
            "sbox: network: refused localhost:{} (not in the allowlist)\n",
            port ^ 1
        )),
        "{}",
        stderr(&o)
    );
}
