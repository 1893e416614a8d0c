//! The shipped profiles used for real, as an unprivileged user: a C project built with make, a
//! Rust workspace built with cargo, a Python script. From inside each, a probe checks what the
//! profile promises (no network, the rest of home invisible, .git read-only), and afterwards
//! the host is checked for writes outside the project.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Install the repository's profiles beside the test binary, as `make install` would
/// (`<exe dir>/../share/sbox/profiles`): the tests find them the way users do.
fn install_profiles() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = bin()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("share/sbox/profiles");
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/profiles")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        let mut d = dir.as_path();
        for _ in 0..3 {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
            d = d.parent().unwrap();
        }
    });
}

/// A home directory holding credentials and a private file, and a project with a .git.
struct Fixture {
    home: PathBuf,
    project: PathBuf,
}

fn fixture(name: &str, files: &[(&str, &str)]) -> Fixture {
    let home = scratch(&format!("{name}-home"));
    for (f, text) in [
        (".ssh/id_ed25519", "PRIVATE KEY"),
        (".aws/credentials", "aws_secret_access_key = x"),
        (".gnupg/private-keys-v1.d/k.key", "gpg"),
        (".cargo/credentials.toml", "token = \"x\""),
        (".npmrc", "//npm.registry.invalid/:_authToken=x"),
        (".netrc", "machine example.com password x"),
        ("notes.txt", "private notes"),
    ] {
        write(&home.join(f), text);
    }
    let project = scratch(&format!("{name}-project"));
    write(&project.join(".git/hooks/README"), "hooks");
    write(&project.join(".git/HEAD"), "ref: refs/heads/main\n");
    for (f, text) in files {
        write(&project.join(f), text);
    }
    chown_tree(&home);
    chown_tree(&project);
    Fixture { home, project }
}

/// `sbox --profile NAME ARGS...` as the test user, from the project, with the fixture's home.
fn sbox_in(fx: &Fixture, profile: &str, args: &[&str]) -> Command {
    install_profiles();
    let mut c = as_user(bin());
    c.current_dir(&fx.project)
        .env("HOME", &fx.home)
        .env_remove("SBOX_PROFILE_PATH")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_CACHE_HOME")
        .args(["--profile", profile])
        .args(args);
    c
}

#[track_caller]
fn success(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Python run inside the sandbox after the build: one `name: result` line per promise.
const PROBE: &str = r#"
import errno, os, socket
def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
home = os.environ["HOME"]
s = socket.socket()
s.settimeout(5)
print("net:", attempt(lambda: s.connect(("192.0.2.1", 80))))
print("home:", " ".join(sorted(n for n in os.listdir(home) if not n.startswith(".")) or ["-"]))
for f in [".ssh/id_ed25519", ".aws/credentials", ".gnupg", ".cargo/credentials.toml", ".npmrc", ".netrc", "notes.txt"]:
    print("secret " + f + ":", attempt(lambda: open(os.path.join(home, f)).read()))
print("git hook:", attempt(lambda: open(".git/hooks/pre-commit", "w")))
print("git config:", attempt(lambda: open(".git/config", "a")))
# Private places: writable inside, invisible on the host afterwards.
for p in [home + "/planted", "/tmp/planted", os.path.dirname(os.getcwd()) + "/planted"]:
    print("private " + p + ":", attempt(lambda: open(p, "w").write("x")))
"#;

/// Check the probe's lines and that the host saw no write outside the project.
#[track_caller]
fn check_probe(fx: &Fixture, out: &str, net: &str) {
    let line = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("no '{key}' in:\n{out}"))
            .to_string()
    };
    assert_eq!(line("net"), net, "{out}");
    assert_eq!(line("home"), "-", "the rest of home is visible:\n{out}");
    for f in [
        ".ssh/id_ed25519",
        ".aws/credentials",
        ".gnupg",
        ".cargo/credentials.toml",
        ".npmrc",
        ".netrc",
        "notes.txt",
    ] {
        assert_eq!(line(&format!("secret {f}")), "ENOENT", "{f}:\n{out}");
    }
    assert_eq!(line("git hook"), "EROFS", "{out}");
    assert_eq!(line("git config"), "EROFS", "{out}");
    let parent = fx.project.parent().unwrap().join("planted");
    for p in [
        fx.home.join("planted"),
        PathBuf::from("/tmp/planted"),
        parent,
    ] {
        assert_eq!(line(&format!("private {}", p.display())), "ok", "{out}");
        assert!(!p.exists(), "{} was written on the host", p.display());
    }
    assert!(!fx.project.join(".git/hooks/pre-commit").exists());
}

/// Every file under `dir` (path, size, mtime), to compare before and after a run.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = p.symlink_metadata().unwrap();
            if m.is_dir() {
                stack.push(p.clone());
            }
            out.push((p, m.size(), m.mtime_nsec() + m.mtime() * 1_000_000_000));
        }
    }
    out.sort();
    out
}

#[test]
fn make_builds_a_c_project() {
    let fx = fixture(
        "make",
        &[
            (
                "Makefile",
                "hello: main.o greet.o\n\t$(CC) -o $@ $^\n%.o: %.c\n\t$(CC) -c -o $@ $<\n",
            ),
            (
                "main.c",
                "const char *greet(void);\n#include <stdio.h>\nint main(void) { puts(greet()); return 0; }\n",
            ),
            (
                "greet.c",
                "const char *greet(void) { return \"hello from make\"; }\n",
            ),
        ],
    );
    let before = snapshot(&fx.home);
    let script = format!("make -j2 && ./hello && python3 -c '{PROBE}'");
    let out = success(
        &sbox_in(&fx, "make", &["--", "sh", "-c", &script])
            .output()
            .unwrap(),
    );
    assert!(out.contains("hello from make"), "{out}");
    check_probe(&fx, &out, "ENETUNREACH");
    assert!(fx.project.join("hello").exists());
    assert_eq!(snapshot(&fx.home), before, "the home directory changed");
}

/// A Rust toolchain the test user can read. As root, the machine's (under /root, 0700) is
/// copied once under /tmp, hard-linked where possible (the files are world-readable, only
/// /root is not), keyed by the compiler's commit; as a normal user, the user's own is used.
/// Returns (RUSTUP_HOME, directory of the rustup proxies, toolchain name), or `None` for a
/// toolchain under /usr, which every profile shows as it is.
fn toolchain() -> Result<Option<(PathBuf, PathBuf, String)>, String> {
    // The binary's copy must be finished before this thread forks: a child holding its
    // write descriptor until exec would make running it fail (ETXTBSY).
    install_profiles();
    let run = |args: &[&str]| -> Result<String, String> {
        let o = Command::new(args[0])
            .args(&args[1..])
            .output()
            .map_err(|e| format!("{args:?}: {e}"))?;
        if !o.status.success() {
            return Err(format!("{args:?}: {}", stderr(&o)));
        }
        Ok(stdout(&o).trim().to_string())
    };
    let sysroot = PathBuf::from(run(&["rustc", "--print", "sysroot"])?);
    if sysroot.starts_with("/usr") {
        return Ok(None);
    }
    let name = sysroot.file_name().unwrap().to_string_lossy().into_owned();
    let rustup_home = sysroot
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf();
    if !rustup_home.join("settings.toml").exists() {
        return Err(format!(
            "{} is neither under /usr nor a rustup toolchain",
            sysroot.display()
        ));
    }
    let proxies = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|d| d.join("rustup").exists())
        .ok_or("no rustup in PATH")?;
    if !is_root() {
        return Ok(Some((rustup_home, proxies, name)));
    }
    let commit = run(&["rustc", "-vV"])?
        .lines()
        .find_map(|l| l.strip_prefix("commit-hash: ").map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let dst = PathBuf::from(format!("/tmp/sbox-test-toolchain-{commit}"));
    if !dst.exists() {
        let tmp = PathBuf::from(format!("{}.{}", dst.display(), std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("rustup/toolchains")).unwrap();
        let cp = |flags: &str, from: &Path, to: &Path| {
            Command::new("cp")
                .args([flags, from.to_str().unwrap(), to.to_str().unwrap()])
                .status()
                .is_ok_and(|s| s.success())
        };
        let tc = tmp.join("rustup/toolchains");
        if !cp("-al", &sysroot, &tc) && !cp("-a", &sysroot, &tc) {
            return Err(format!("could not copy {}", sysroot.display()));
        }
        // rustup's proxies want settings.toml and an existing update-hashes directory.
        for f in ["settings.toml", "update-hashes"] {
            cp("-a", &rustup_home.join(f), &tmp.join("rustup"));
        }
        cp("-a", &proxies, &tmp.join("cargo-bin"));
        for d in [&tmp, &tmp.join("rustup"), &tc] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // Another test process may have won the race: its copy is as good.
        if std::fs::rename(&tmp, &dst).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    Ok(Some((dst.join("rustup"), dst.join("cargo-bin"), name)))
}

/// The profile binds ~/.rustup and ~/.cargo/bin: the options that bind the readable toolchain
/// there from the command line (a profile's mounts follow no symlink in the home), the PATH
/// that finds its proxies, and the toolchain's name.
fn toolchain_args(
    fx: &Fixture,
    toolchain: Option<(PathBuf, PathBuf, String)>,
) -> (Vec<String>, String, Option<String>) {
    let mut path = String::from("/usr/bin:/bin");
    let mut args = Vec::new();
    let mut name = None;
    if let Some((rustup_home, proxies, n)) = toolchain {
        for (from, to) in [(rustup_home, ".rustup"), (proxies, ".cargo/bin")] {
            args.extend(["--ro-bind".into(), from.display().to_string()]);
            args.push(fx.home.join(to).display().to_string());
        }
        path = format!("{}/.cargo/bin:{path}", fx.home.display());
        name = Some(n);
    }
    (args, path, name)
}

#[test]
fn cargo_build_builds_a_workspace_offline() {
    let toolchain = toolchain().expect("a Rust toolchain the test user can read");
    let fx = fixture(
        "cargo",
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"app\", \"greet\"]\nresolver = \"2\"\n",
            ),
            (
                "app/Cargo.toml",
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ngreet = { path = \"../greet\" }\n",
            ),
            (
                "app/src/main.rs",
                "fn main() {\n    println!(\"{}\", greet::greet());\n}\n",
            ),
            (
                "greet/Cargo.toml",
                "[package]\nname = \"greet\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            (
                "greet/src/lib.rs",
                "pub fn greet() -> &'static str {\n    \"hello from cargo\"\n}\n",
            ),
        ],
    );
    let script = format!("cargo build --offline && ./target/debug/app && python3 -c '{PROBE}'");
    let (mut args, path, toolchain_name) = toolchain_args(&fx, toolchain);
    args.extend(["--", "sh", "-c", &script].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = sbox_in(&fx, "cargo-build", &args);
    if let Some(n) = toolchain_name {
        cmd.env("RUSTUP_TOOLCHAIN", n);
    }
    chown_tree(&fx.home);
    let before = snapshot(&fx.home);
    let out = success(&cmd.env("PATH", path).output().unwrap());
    assert!(out.contains("hello from cargo"), "{out}");
    check_probe(&fx, &out, "ENETUNREACH");
    assert!(fx.project.join("target/debug/app").exists());
    assert_eq!(snapshot(&fx.home), before, "the home directory changed");
}

#[test]
fn python_reads_the_project_and_writes_only_out() {
    let script = format!(
        "{PROBE}\nprint('project:', attempt(lambda: open('new.txt', 'w')))\n\
         open('out/result.txt', 'w').write(open('data.txt').read().upper())\n"
    );
    let fx = fixture(
        "python",
        &[
            ("data.txt", "some data"),
            ("out/.keep", ""),
            ("job.py", &script),
        ],
    );
    let before = snapshot(&fx.home);
    let out = success(
        &sbox_in(&fx, "python", &["--", "python3", "job.py"])
            .output()
            .unwrap(),
    );
    check_probe(&fx, &out, "ENETUNREACH");
    assert!(out.contains("project: EROFS"), "{out}");
    assert_eq!(
        std::fs::read_to_string(fx.project.join("out/result.txt")).unwrap(),
        "SOME DATA"
    );
    assert!(!fx.project.join("new.txt").exists());
    assert_eq!(snapshot(&fx.home), before, "the home directory changed");
}

#[test]
fn a_malformed_profile_is_a_one_line_error_with_its_position() {
    let fx = fixture("malformed", &[]);
    let bad = fx.project.join("bad.toml");
    write(&bad, "extends = [\"base\"]\n\n[env]\nclear = \"yes\"\n");
    let unknown = fx.project.join("unknown.toml");
    write(
        &unknown,
        "[[mounts]]\nkind = \"ro-bind\"\nsource = \"/usr\"\n",
    );
    chown_tree(&fx.project);
    let o = sbox_in(&fx, bad.to_str().unwrap(), &["true"])
        .output()
        .unwrap();
    assert_one_line_error(
        &o,
        &format!("--profile: {}:4:9: invalid type", bad.display()),
    );
    let o = sbox_in(&fx, "unknown.toml", &["true"]).output().unwrap();
    assert_one_line_error(&o, "--profile: unknown.toml:3:1: unknown field `source`");
    let o = sbox_in(&fx, "no-such-profile", &["true"]).output().unwrap();
    assert_one_line_error(&o, "--profile: 'no-such-profile': no such profile");
}

#[test]
fn list_and_explain() {
    let fx = fixture("list", &[]);
    install_profiles();
    let out = success(
        &as_user(bin())
            .arg("--list-profiles")
            .env_remove("SBOX_PROFILE_PATH")
            .output()
            .unwrap(),
    );
    let share = bin().parent().unwrap().join("../share/sbox/profiles");
    for name in ["make", "cargo-build", "python", "curl"] {
        let want = format!("{name} {}", share.join(format!("{name}.toml")).display());
        assert!(out.lines().any(|l| l == want), "{want} not in:\n{out}");
    }
    let out = success(&sbox_in(&fx, "make", &["--explain"]).output().unwrap());
    let project = fx.project.display().to_string();
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("mount {project} ")) && l.ends_with("[project]")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("namespaces.net ") && l.ends_with("[base]"))
    );
}

/// Issue 12 item 4: what a hostile build plants for programs run later outside the sandbox
/// (a `.git` in a subdirectory whose core.fsmonitor git would run, .envrc, .cargo/config.toml,
/// .npmrc, .vscode/tasks.json) is reported after the run, one warning line each; the project's
/// own files, what the build makes, and the read-only top-level .git are not.
#[test]
fn planted_files_are_reported_after_the_run() {
    let fx = fixture(
        "planted",
        &[
            ("src/main.c", "int main(void) { return 0; }\n"),
            (".vscode/settings.json", "{}"),
            (".idea/workspace.xml", "<x/>"),
        ],
    );
    // Birth and change times are compared with the start of the run (a coarse clock).
    std::thread::sleep(std::time::Duration::from_millis(30));
    let script = "set -e
mkdir -p src/.git && printf '[core]\\n\\tfsmonitor = touch /tmp/pwned\\n' > src/.git/config
touch .envrc && mkdir .cargo && echo '[build]' > .cargo/config.toml && touch .npmrc
echo '{}' > .vscode/tasks.json
touch src/main.o out.bin
{ echo x >> .git/config; } 2>/dev/null || true";
    let o = sbox_in(&fx, "make", &["--", "sh", "-c", script])
        .output()
        .unwrap();
    success(&o);
    let err = stderr(&o);
    let mut reported: Vec<String> = err
        .lines()
        .map(|l| {
            let rest = l
                .strip_prefix("sbox: warning: ")
                .unwrap_or_else(|| panic!("not a warning line: {l:?}\n{err}"));
            let path = rest.split(": ").next().unwrap();
            Path::new(path)
                .strip_prefix(&fx.project)
                .unwrap_or_else(|_| panic!("outside the project: {l}"))
                .display()
                .to_string()
        })
        .collect();
    reported.sort();
    assert_eq!(
        reported,
        [
            ".cargo",
            ".envrc",
            ".npmrc",
            ".vscode/tasks.json",
            "src/.git"
        ],
        "{err}"
    );
    assert!(err.contains("core.fsmonitor"), "says why: {err}");
    // A run that plants nothing says nothing.
    let o = sbox_in(&fx, "make", &["--", "sh", "-c", "touch src/main.o"])
        .output()
        .unwrap();
    success(&o);
    assert_eq!(stderr(&o), "", "nothing planted, nothing said");
}

/// Mode bits of a host path.
fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_fresh_home_gets_the_cache_directories_a_profile_writes() {
    // A fresh account: no ~/.cargo/registry, no ~/.cache at all.
    let fx = fixture("fresh", &[("Cargo.toml", "[workspace]\n")]);
    assert!(!fx.home.join(".cargo/registry").exists() && !fx.home.join(".cache").exists());
    // What `cargo fetch` would download, written from a shell (no network needed).
    let o = sbox_in(
        &fx,
        "cargo-fetch",
        &[
            "-v",
            "--",
            "sh",
            "-c",
            "echo crate > ~/.cargo/registry/index && echo git > ~/.cargo/git/db",
        ],
    )
    .output()
    .unwrap();
    success(&o);
    let reg = fx.home.join(".cargo/registry");
    assert_eq!(
        std::fs::read_to_string(reg.join("index")).unwrap(),
        "crate\n"
    );
    assert_eq!(
        std::fs::read_to_string(fx.home.join(".cargo/git/db")).unwrap(),
        "git\n"
    );
    assert_eq!(mode(&reg), 0o700);
    let err = stderr(&o);
    assert!(
        err.lines()
            .any(|l| l == format!("sbox: create {}: made (mode 0700)", reg.display())),
        "{err}"
    );
    // -v names each optional mount it skipped (here ~/.rustup and ~/.cargo/bin).
    let rustup = fx.home.join(".rustup");
    assert!(
        err.lines().any(|l| l
            == format!(
                "sbox: --ro-bind-try {}: skipped, {} does not exist",
                rustup.display(),
                rustup.display()
            )),
        "{err}"
    );
    // A cache under ~/.cache, which doesn't exist either: both made, 0700.
    let o = sbox_in(
        &fx,
        "pip-install",
        &["--", "sh", "-c", "echo w > ~/.cache/pip/wheel"],
    )
    .output()
    .unwrap();
    success(&o);
    assert_eq!(
        std::fs::read_to_string(fx.home.join(".cache/pip/wheel")).unwrap(),
        "w\n"
    );
    assert_eq!(mode(&fx.home.join(".cache")), 0o700);
    // --explain says which optional mounts are skipped now, one line each.
    let out = success(
        &sbox_in(&fx, "cargo-build", &["--explain"])
            .output()
            .unwrap(),
    );
    assert!(
        out.lines().any(|l| l
            == format!(
                "# skipped: mount {}: {} does not exist",
                rustup.display(),
                rustup.display()
            )),
        "{out}"
    );
    let out = success(
        &sbox_in(&fx, "npm-install", &["--explain"])
            .output()
            .unwrap(),
    );
    let npm = fx.home.join(".npm").display().to_string();
    assert!(
        out.lines().any(|l| l.starts_with(&format!("mount {npm} "))
            && l.contains(&format!("bind from {npm}, created if missing"))),
        "{out}"
    );
    assert!(!out.contains(&format!("skipped: mount {npm}:")), "{out}");
}

#[test]
fn create_refuses_a_planted_symlink() {
    // Run 1 under make (the project writable) plants `out -> $HOME`; run 2 under python, whose
    // ./out is created and writable, must not bind the home through it.
    let fx = fixture(
        "planted-out",
        &[("job.py", "open('out/.bashrc', 'w').write('evil')\n")],
    );
    let home = fx.home.display().to_string();
    success(
        &sbox_in(&fx, "make", &["--", "ln", "-s", &home, "out"])
            .output()
            .unwrap(),
    );
    assert!(fx.project.join("out").is_symlink());
    let o = sbox_in(&fx, "python", &["--", "python3", "job.py"])
        .output()
        .unwrap();
    let out = fx.project.join("out");
    // Refused before anything is created or mounted (the profile path rule).
    assert_one_line_error(
        &o,
        &format!(
            "--profile: {}: is a symbolic link (to {home})",
            out.display()
        ),
    );
    assert!(!fx.home.join(".bashrc").exists(), "the home was written");
    // A parent that is the caller's own place, such as ~/.cache moved to another disk
    // behind a link (no build profile can write the home itself), is the caller's choice:
    // ${XDG_CACHE_HOME} is its real path, and the cache is made there.
    let elsewhere = scratch("linked-cache-target");
    std::os::unix::fs::symlink(&elsewhere, fx.home.join(".cache")).unwrap();
    chown_to_test_user(&fx.home.join(".cache"));
    let o = sbox_in(&fx, "pip-install", &["--", "true"])
        .output()
        .unwrap();
    success(&o);
    assert!(elsewhere.join("pip").is_dir());
}

#[test]
fn python_creates_out_and_its_writes_stay() {
    let fx = fixture(
        "python-out",
        &[
            ("data.txt", "abc"),
            (
                "job.py",
                "open('out/r.txt', 'w').write(open('data.txt').read().upper())\n",
            ),
        ],
    );
    assert!(!fx.project.join("out").exists());
    success(
        &sbox_in(&fx, "python", &["--", "python3", "job.py"])
            .output()
            .unwrap(),
    );
    assert_eq!(
        std::fs::read_to_string(fx.project.join("out/r.txt")).unwrap(),
        "ABC"
    );
    assert_eq!(mode(&fx.project.join("out")), 0o700);
}

#[test]
fn share_net_drops_the_offline_switches() {
    let fx = fixture("offline", &[]);
    let show = "for v in CARGO_NET_OFFLINE npm_config_offline GOPROXY; do echo $v=$(printenv $v || echo unset); done";
    for (profile, var) in [
        ("cargo-build", "CARGO_NET_OFFLINE=true"),
        ("npm-build", "npm_config_offline=true"),
        ("go-build", "GOPROXY=off"),
    ] {
        let name = var.split('=').next().unwrap();
        let without = success(
            &sbox_in(&fx, profile, &["--", "sh", "-c", show])
                .output()
                .unwrap(),
        );
        assert!(without.lines().any(|l| l == var), "{profile}: {without}");
        let with = success(
            &sbox_in(&fx, profile, &["--share-net", "--", "sh", "-c", show])
                .output()
                .unwrap(),
        );
        assert!(
            with.lines().any(|l| l == format!("{name}=unset")),
            "{profile} --share-net: {with}"
        );
    }
    // A profile that gives the network: cargo-fetch (extends cargo-build) has no switch, and
    // --unshare-net on top of it brings it back.
    let out = success(
        &sbox_in(&fx, "cargo-fetch", &["--", "sh", "-c", show])
            .output()
            .unwrap(),
    );
    assert!(out.lines().any(|l| l == "CARGO_NET_OFFLINE=unset"), "{out}");
    let out = success(
        &sbox_in(
            &fx,
            "cargo-fetch",
            &["--unshare-net", "--", "sh", "-c", show],
        )
        .output()
        .unwrap(),
    );
    assert!(out.lines().any(|l| l == "CARGO_NET_OFFLINE=true"), "{out}");
}

#[test]
fn a_working_directory_hidden_by_a_profile_mount_is_an_error() {
    // From /tmp itself, make's fresh /tmp replaces the project's bind of /tmp: the command
    // would run in an empty directory of the same name.
    install_profiles();
    let o = as_user(bin())
        .current_dir("/tmp")
        .env("HOME", "/nonexistent")
        .args(["--profile", "make", "--", "touch", "built"])
        .output()
        .unwrap();
    assert_one_line_error(
        &o,
        "working directory: /tmp: another directory in the sandbox (the mount on /tmp hides it): run from the project directory, or give --chdir DIR",
    );
    // From the home directory, whose place every profile takes with an empty tmpfs, the
    // command runs in that empty home, as when the directory is missing in the sandbox.
    let fx = fixture("home-cwd", &[]);
    let o = sbox_in(&fx, "curl", &["--", "pwd"])
        .current_dir(&fx.home)
        .output()
        .unwrap();
    assert_eq!(success(&o), format!("{}\n", fx.home.display()));
    // Given --chdir, the caller decided: it runs there.
    let o = as_user(bin())
        .current_dir("/tmp")
        .env("HOME", "/nonexistent")
        .args(["--profile", "make", "--chdir", "/tmp", "--", "pwd"])
        .output()
        .unwrap();
    assert_eq!(success(&o), "/tmp\n");
}

#[test]
fn a_command_outside_the_sandbox_is_named_with_the_bind_that_would_expose_it() {
    let fx = fixture("not-found", &[]);
    let tool = fx.home.join("bin/mytool");
    write(&tool, "#!/bin/sh\necho mine\n");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown_tree(&fx.home);
    let bin_dir = fx.home.join("bin").display().to_string();
    let o = sbox_in(&fx, "make", &["--", "mytool"])
        .env("PATH", format!("{bin_dir}:/usr/bin:/bin"))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_one_line_error(&o, "exec: mytool: command not found in the sandbox (PATH=");
    assert!(
        err.trim_end().ends_with(&format!(
            "; it is {bin_dir}/mytool on the host: expose it with --ro-bind {bin_dir} {bin_dir}, or use a profile that binds it"
        )),
        "{err}"
    );
    // An empty root says it is empty.
    let o = sbox(&["--proc", "/proc", "ls"]);
    assert_one_line_error(&o, "exec: ls: command not found in the sandbox");
    assert!(
        stderr(&o).contains("; the sandbox's root is empty (nothing is bound into it)"),
        "{}",
        stderr(&o)
    );
}

/// `sbox --profile cargo-...` with the readable toolchain (see `toolchain`), from `dir`.
fn cargo_in(fx: &Fixture, profile: &str, dir: &Path, script: &str) -> Output {
    let toolchain = toolchain().expect("a Rust toolchain the test user can read");
    let (mut args, path, name) = toolchain_args(fx, toolchain);
    args.extend(["--", "sh", "-c", script].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = sbox_in(fx, profile, &args);
    cmd.current_dir(dir);
    if let Some(n) = name {
        cmd.env("RUSTUP_TOOLCHAIN", n);
    }
    chown_tree(&fx.home);
    cmd.env("PATH", path).output().unwrap()
}

#[test]
fn cargo_update_writes_only_the_manifests_and_the_lock() {
    let fx = fixture(
        "cargo-update",
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"app\", \"greet\"]\nresolver = \"2\"\n",
            ),
            (
                "app/Cargo.toml",
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            ("app/src/main.rs", "fn main() {}\n"),
            (
                "greet/Cargo.toml",
                "[package]\nname = \"greet\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            ("greet/src/lib.rs", "pub fn greet() {}\n"),
        ],
    );
    let lock = fx.project.join("Cargo.lock");
    // No Cargo.lock yet: it can't be bound, and sbox says what to do in one line.
    let o = cargo_in(
        &fx,
        "cargo-update",
        &fx.project,
        "cargo generate-lockfile --offline",
    );
    assert!(!o.status.success());
    let want = format!(
        "sbox: {}: not bound, {} does not exist: cargo can't create it in the read-only project: run `touch Cargo.lock` first",
        lock.display(),
        lock.display()
    );
    assert!(
        stderr(&o).lines().any(|l| l.starts_with(&want)),
        "{}",
        stderr(&o)
    );
    assert!(!lock.exists());
    write(&lock, "");
    chown_tree(&lock);
    // Then generate-lockfile fills it; nothing else of the project is writable.
    let o = cargo_in(
        &fx,
        "cargo-update",
        &fx.project.join("app"),
        "cargo generate-lockfile --offline && \
         if touch src/planted ../build.rs 2>/dev/null; then echo WRITABLE; fi",
    );
    let out = success(&o);
    assert!(!out.contains("WRITABLE"), "{out}");
    assert!(!fx.project.join("app/src/planted").exists() && !fx.project.join("build.rs").exists());
    let lock_text = std::fs::read_to_string(&lock).unwrap();
    assert!(lock_text.contains("name = \"app\""), "{lock_text}");
    assert!(!lock_text.contains("dependencies"), "{lock_text}");
    // A dependency added to the manifest by hand: `cargo update` records it in the lock.
    let manifest = fx.project.join("app/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    write(
        &manifest,
        &format!("{text}\n[dependencies]\ngreet = {{ path = \"../greet\" }}\n"),
    );
    chown_tree(&manifest);
    success(&cargo_in(
        &fx,
        "cargo-update",
        &fx.project,
        "cargo update --offline",
    ));
    let lock_text = std::fs::read_to_string(&lock).unwrap();
    assert!(
        lock_text.contains("dependencies = [\n \"greet\",\n]"),
        "{lock_text}"
    );
    // The mount set, as --explain shows it.
    let out = success(
        &sbox_in(&fx, "cargo-update", &["--explain"])
            .output()
            .unwrap(),
    );
    let p = fx.project.display().to_string();
    for (dst, value) in [
        (p.clone(), format!("ro-bind from {p}")),
        (
            format!("{p}/Cargo.lock"),
            format!("bind-try from {p}/Cargo.lock"),
        ),
        (format!("{p}/.git"), format!("ro-bind-try from {p}/.git")),
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("mount {dst} "))
                    && l.contains(&format!(" {value} "))),
            "{dst}: {value}\n{out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("namespaces.net ") && l.contains(" host ")),
        "{out}"
    );
}

#[test]
fn npm_install_runs_no_install_script_and_npm_build_runs_them() {
    if !Path::new("/usr/bin/npm").exists() {
        return skip_or_fail(
            "npm_install_runs_no_install_script_and_npm_build_runs_them",
            "no /usr/bin/npm (Debian: npm)",
        );
    }
    let script = |name: &str| {
        format!(
            "{{\"name\": \"{name}\", \"version\": \"1.0.0\", \"scripts\": {{\"postinstall\": \"echo ran > {name}-ran\"}}}}\n"
        )
    };
    let fx = fixture(
        "npm",
        &[
            ("package.json", &script("app")),
            ("vendor/dep/package.json", &script("dep")),
        ],
    );
    let quiet = [
        "--setenv",
        "npm_config_update_notifier",
        "false",
        "--setenv",
        "npm_config_fund",
        "false",
        "--setenv",
        "npm_config_audit",
        "false",
    ];
    let ran = || {
        ["app-ran", "vendor/dep/dep-ran"]
            .iter()
            .filter(|f| fx.project.join(f).exists())
            .count()
    };
    // `npm install PKG` (a local package: no registry): the manifest and the lock are
    // written, ~/.npm is created, and no install script runs.
    let mut args = quiet.to_vec();
    args.extend(["--", "npm", "install", "--offline", "./vendor/dep"]);
    success(&sbox_in(&fx, "npm-install", &args).output().unwrap());
    let manifest = std::fs::read_to_string(fx.project.join("package.json")).unwrap();
    let compact: String = manifest.split_whitespace().collect();
    assert!(
        compact.contains("\"dep\":\"file:vendor/dep\""),
        "{manifest}"
    );
    assert!(fx.project.join("package-lock.json").exists());
    assert!(fx.home.join(".npm").is_dir());
    assert_eq!(ran(), 0, "an install script ran under npm-install");
    // Later, without network: `npm rebuild` runs them.
    let mut args = quiet.to_vec();
    args.extend(["--", "npm", "rebuild", "--offline"]);
    success(&sbox_in(&fx, "npm-build", &args).output().unwrap());
    assert!(ran() > 0, "npm rebuild ran no install script");
}

#[test]
fn go_mod_writes_only_go_mod_go_sum_and_the_module_cache() {
    // go itself may be missing: the mount set is what this test checks, through --explain.
    let fx = fixture("go-mod", &[("go.mod", "module example.com/m\n\ngo 1.21\n")]);
    let out = success(&sbox_in(&fx, "go-mod", &["--explain"]).output().unwrap());
    let p = fx.project.display().to_string();
    let modcache = fx.home.join("go/pkg/mod").display().to_string();
    for (dst, value) in [
        (p.clone(), format!("ro-bind from {p}")),
        (format!("{p}/go.mod"), format!("bind-try from {p}/go.mod")),
        (format!("{p}/go.sum"), format!("bind-try from {p}/go.sum")),
        (
            modcache.clone(),
            format!("bind from {modcache}, created if missing"),
        ),
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("mount {dst} "))
                    && l.contains(&format!(" {value} "))),
            "{dst}: {value}\n{out}"
        );
    }
    assert!(
        out.lines().any(|l| l.starts_with(&format!(
            "# skipped: mount {p}/go.sum: {p}/go.sum does not exist (go can't create it"
        ))),
        "{out}"
    );
    for line in ["env.set GOFLAGS ", "namespaces.net "] {
        assert!(out.lines().any(|l| l.starts_with(line)), "{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("namespaces.net ") && l.contains(" host ")),
        "{out}"
    );
    assert!(
        !out.contains("env.set GOPROXY") && !out.contains("env.offline GOPROXY"),
        "{out}"
    );
}

#[test]
fn create_makes_directories_only_in_the_callers_own() {
    let fx = fixture("create-owner", &[]);
    let profile = |name: &str, dir: &str| {
        let p = fx.project.join(format!("{name}.toml"));
        write(
            &p,
            &format!(
                "extends = [\"base\"]\n[[mounts]]\nkind = \"ro-bind\"\nsrc = \"${{XDG_CACHE_HOME}}/{dir}\"\ncreate = true\n"
            ),
        );
        chown_tree(&p);
        p.display().to_string()
    };
    // An existing directory of another user (a root-owned cache left by `sudo`) is bound.
    let o = sbox_in(
        &fx,
        &profile("existing", "doc"),
        &["--", "test", "-d", "/usr/share/doc"],
    )
    .env("XDG_CACHE_HOME", "/usr/share")
    .output()
    .unwrap();
    success(&o);
    // A missing one is not made inside another user's directory.
    let o = sbox_in(
        &fx,
        &profile("missing", "sbox-no-such-dir"),
        &["--", "true"],
    )
    .env("XDG_CACHE_HOME", "/usr/share")
    .output()
    .unwrap();
    assert_one_line_error(
        &o,
        "create: /usr/share/sbox-no-such-dir: /usr/share belongs to another user: sbox creates directories only in your own",
    );
    assert!(!Path::new("/usr/share/sbox-no-such-dir").exists());
}
