//! Property tests: no input can crash a front end (issue 13, item 7). Generated command lines
//! (with `--args` contents), profile texts and option values go through the real parsers, with
//! profiles from memory and no sandbox started. Whatever the input, the answer is a `Spec`,
//! text to print (--help, --explain), or one error line that starts with the option or step
//! it is about. Bounded: the whole file runs in a few seconds.

use proptest::prelude::*;
use sbox::cli::{self, CliError};
use sbox::profile::{Loader, Mem, Profiles, Vars};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The value parsers, by one path (should they move, only these lines follow them).
mod values {
    pub use sbox::cli::parse_fd;
    pub use sbox::spec::net::parse_rule;
    pub use sbox::spec::values::{
        parse_cap, parse_deny, parse_octal, parse_percent, parse_pids, parse_size, parse_syscall,
    };
}

/// Few cases per property, so that `cargo test` stays fast; `PROPTEST_CASES` asks for more.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Failures are printed with their input; no file is written into the checkout.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// An error message is one line: no newline (a second line could pose as another message),
/// nor any other control character (a terminal's escape sequences).
fn assert_one_line(m: &str) {
    assert!(!m.contains(char::is_control), "not one line: {m:?}");
    assert!(!m.is_empty(), "an empty error message");
}

/// sbox's wording starts with what it is about: `--option: `, or a step named by its own
/// words. `what` lists the accepted beginnings.
fn assert_names(m: &str, what: &[&str]) {
    assert_one_line(m);
    assert!(
        what.iter().any(|w| m.starts_with(w)),
        "does not start with one of {what:?}: {m:?}"
    );
}

/// The beginnings of a command-line error: an option, or the missing command.
fn assert_cli_error(e: &CliError) {
    let m = e.render(false);
    let m = &*m;
    // An option as given: `--bind`, `-x` (unknown), `--profile`.
    let names_option =
        m.starts_with('-') && m.split_once(": ").is_some_and(|(opt, _)| opt.len() > 1);
    assert_one_line(m);
    assert!(
        names_option || m.starts_with("no command given"),
        "does not start with an option: {m:?}"
    );
    // bubblewrap's phrase (the `bwrap` link): one line as well.
    assert_one_line(&e.render(true));
}

// ---------------------------------------------------------------------------------------
// Values

/// Strings near the values' own shapes, and anything at all.
fn value_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t]?[0-9]{0,22}[ \t]?[kKmMgGtTbB%x:]?[ \t]?",
        "[0-7]{0,6}",
        "(CAP_|cap_)?[A-Za-z_]{0,16}",
        "[a-z_0-9]{0,16}(:[A-Za-z0-9]{0,8})?",
        "[-+]?[0-9]{0,5}[\n\r\0]?[0-9a-z]{0,3}",
    ]
}

/// Strings near the shapes of network rules: names, wildcards, addresses, CIDRs, ports.
fn rule_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(\\*\\.)?[a-zA-Z0-9_*-]{0,6}(\\.[a-zA-Z0-9_-]{0,4}){0,3}\\.?(:[0-9+-]{0,6})?",
        "[0-9]{1,3}(\\.[0-9]{1,3}){0,4}(/[0-9]{0,3})?(:[0-9]{0,6})?",
        "\\[?[0-9a-fA-F:.]{0,20}(/[0-9]{0,3})?\\]?(:[0-9]{0,6})?",
    ]
}

/// A value's error, as the command line words it (profiles add their file and position).
fn check_value<T, E: Into<CliError>>(opt: &str, r: Result<T, E>) {
    if let Err(e) = r {
        let e = e.into();
        assert_names(&e.render(false), &[&format!("{opt}: ")]);
        assert_one_line(&e.render(true));
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn value_parsers_answer_one_line(s in value_text()) {
        check_value("--size", values::parse_size("--size", &s));
        check_value("--perms", values::parse_octal("--perms", &s));
        check_value("--pids", values::parse_pids("--pids", &s));
        check_value("--cpu", values::parse_percent("--cpu", &s));
        check_value("--cap-add", values::parse_cap("--cap-add", &s));
        check_value("--seccomp-allow", values::parse_syscall("--seccomp-allow", &s, &s));
        check_value("--seccomp-deny", values::parse_deny("--seccomp-deny", &s));
        check_value("--file", values::parse_fd("--file", &s));
        check_value("--net-allow", values::parse_rule("--net-allow", &s));
    }

    #[test]
    fn net_rules_answer_one_line_or_print_back(s in rule_text()) {
        match values::parse_rule("--net-deny", &s) {
            Err(e) => check_value("--net-deny", Err::<(), _>(e)),
            // What a rule prints (--explain, refusals) parses back to the same rule.
            Ok(r) => prop_assert_eq!(values::parse_rule("x", &r.to_string()), Ok(r)),
        }
    }

    #[test]
    fn size_round_trips_with_suffixes(n in 1u64..(1 << 24), i in 0usize..5, lower: bool) {
        let (suffix, shift) = [("", 0), ("K", 10), ("M", 20), ("G", 30), ("T", 40)][i];
        let text = format!("{n}{}", if lower { suffix.to_lowercase() } else { suffix.into() });
        prop_assert_eq!(values::parse_size("--mem", &text), Ok(n << shift));
    }

    #[test]
    fn size_without_suffix_is_bytes(n in 1u64..) {
        prop_assert_eq!(values::parse_size("--mem", &n.to_string()), Ok(n));
    }

    #[test]
    fn octal_round_trips(m in 0u32..=0o7777, zeros in 0usize..3) {
        let text = format!("{}{m:o}", "0".repeat(zeros));
        prop_assert_eq!(values::parse_octal("--perms", &text), Ok(m));
        prop_assert_eq!(values::parse_octal("--perms", &format!("{m:04o}")), Ok(m));
    }

    #[test]
    fn octal_refuses_more_than_a_mode(m in 0o10000u32..) {
        let text = format!("{m:o}");
        prop_assert!(values::parse_octal("--perms", &text).is_err());
    }

    #[test]
    fn counts_and_shares_round_trip(n in 1u64.., p in 1u32..=100_000, pct: bool) {
        prop_assert_eq!(values::parse_pids("--pids", &n.to_string()), Ok(n));
        let text = if pct { format!("{p}%") } else { p.to_string() };
        prop_assert_eq!(values::parse_percent("--cpu", &text), Ok(p));
    }

    #[test]
    fn fd_round_trips(fd in 0i32..) {
        prop_assert_eq!(values::parse_fd("--file", &fd.to_string()), Ok(fd));
    }
}

#[test]
fn every_capability_round_trips() {
    for cap in caps::all() {
        let full = cap.to_string();
        let short = full.strip_prefix("CAP_").unwrap().to_lowercase();
        for text in [&full, &short, &full.to_lowercase()] {
            assert_eq!(values::parse_cap("--cap-add", text), Ok(cap), "{text}");
        }
    }
}

#[test]
fn syscalls_and_errnos_round_trip() {
    for name in [
        "read",
        "openat",
        "ptrace",
        "mount",
        "acct",
        "syslog",
        "io_uring_setup",
    ] {
        assert_eq!(
            values::parse_syscall("--seccomp-allow", name, name),
            Ok(name.to_string())
        );
        assert_eq!(
            values::parse_deny("--seccomp-deny", name),
            Ok((name.to_string(), libc::EPERM))
        );
        for (errno, n) in [
            ("EACCES", libc::EACCES),
            ("ENOSYS", libc::ENOSYS),
            ("4095", 4095),
        ] {
            assert_eq!(
                values::parse_deny("--seccomp-deny", &format!("{name}:{errno}")),
                Ok((name.to_string(), n))
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Profiles from memory

fn vars() -> Vars {
    let mut v = Vars::example();
    v.refused
        .insert("TMPDIR", "refused for the test".to_string());
    v
}

/// The shipped profiles, in memory under /shipped.
fn shipped() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// A loader whose search path is /p (the given files) then /shipped.
fn loader(files: &[(&str, &str)]) -> Loader<Mem> {
    thread_local!(static SHIPPED: Vec<(String, String)> = shipped());
    let mut map: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(n, t)| (PathBuf::from(format!("/p/{n}.toml")), t.to_string()))
        .collect();
    SHIPPED.with(|s| {
        for (n, t) in s {
            map.insert(PathBuf::from(format!("/shipped/{n}.toml")), t.clone());
        }
    });
    Loader {
        source: Mem {
            dirs: vec!["/p".into(), "/shipped".into()],
            files: map,
        },
        vars: vars(),
    }
}

/// The front end as `main` runs it, without running anything: `--args` expansion, the modes,
/// then the sandbox command line.
fn front_end(bwrap: bool, args: Vec<OsString>, profiles: &dyn Profiles) -> Result<(), CliError> {
    let args = cli::expand_args(args)?;
    if cli::mode(&args)?.is_some() {
        return Ok(());
    }
    let name = if bwrap { "bwrap" } else { "sbox" };
    cli::parse_named(name, bwrap, args, profiles).map(drop)
}

/// Loading profile `t` (text `text`) as `--profile t true`: a spec, or one line that starts
/// with `--profile: /p/t.toml` (or the file it extends), or names the option of a
/// whole-sandbox rule.
fn load_profile(text: &str, bwrap: bool) {
    let l = loader(&[("t", text), ("u", "extends = [\"t\"]\n")]);
    let args = ["--profile", "t", "true"].map(OsString::from).to_vec();
    if let Err(e) = front_end(bwrap, args, &l) {
        assert_cli_error(&e);
        // A rule on the whole sandbox (spec::validate) names its option, as from the command
        // line: a hostname without a UTS namespace.
        assert_names(&e.render(false), &["--profile: ", "--hostname: "]);
    }
}

/// Pieces of TOML: keys and values of the profile schema, and a few that are not.
fn toml_piece() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "extends",
        "hostname",
        "chdir",
        "caps",
        "kind",
        "src",
        "dst",
        "optional",
        "create",
        "missing",
        "perms",
        "size",
        "lower",
        "upper",
        "work",
        "net",
        "pid",
        "clear",
        "keep",
        "set",
        "unset",
        "offline",
        "memory",
        "pids",
        "cpu",
        "profile",
        "allow",
        "deny",
        "allow_32bit",
        "mounts",
        "ro",
        "rw",
        "tcp_connect",
        "tcp_bind",
        "report_planted",
    ]);
    let value = prop::sample::select(vec![
        "\"x\"",
        "\"/a\"",
        "\"${HOME}/x\"",
        "\"${NOPE}\"",
        "\"${TMPDIR}\"",
        "\"${XDG_RUNTIME_DIR}\"",
        "\"..\"",
        "true",
        "1",
        "-1",
        "99999999999999999999",
        "1.5",
        "[]",
        "[\"a\"]",
        "{}",
        "\"ro-bind\"",
        "\"tmpfs\"",
        "\"overlay\"",
        "\"none\"",
        "\"0755\"",
        "\"1M\"",
        "\"\"",
        "\"t\"",
        "\"u\"",
        "\"builtin:base\"",
        "\"base\"",
        "\"./t.toml\"",
        "\"\u{e9}\"",
    ]);
    prop_oneof![
        (key.clone(), value).prop_map(|(k, v)| format!("{k} = {v}\n")),
        prop::sample::select(vec![
            "[[mounts]]\n",
            "[namespaces]\n",
            "[env]\n",
            "[limits]\n",
            "[seccomp]\n",
            "[landlock]\n",
            "[env.set]\n",
            "\n",
            "#\n",
            "[",
            "\"",
            "=",
            "\u{0}",
            "\r\n",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_profile_text_loads_or_gives_one_line(text in any::<String>(), bwrap: bool) {
        load_profile(&text, bwrap);
    }

    #[test]
    fn profile_pieces_load_or_give_one_line(pieces in prop::collection::vec(toml_piece(), 0..16)) {
        load_profile(&pieces.concat(), false);
    }

    #[test]
    fn schema_profiles_load_or_give_one_line(p in schema_profile()) {
        load_profile(&p, false);
    }

    /// An allowlist file (`[network] allowlist`) of any text, or of rules of any shape: a
    /// sandbox, or one line naming the profile option (the file, its line and column).
    #[test]
    fn any_allowlist_file_loads_or_gives_one_line(
        text in any::<String>(),
        rules in prop::collection::vec(rule_text(), 0..6),
        as_rules: bool,
    ) {
        let list = if as_rules {
            let quoted: Vec<String> = rules.iter().map(|r| format!("{r:?}")).collect();
            format!("# recorded\nallow = [\n  {},\n]\ndeny = [{}]\n", quoted.join(",\n  "), quoted.first().cloned().unwrap_or_default())
        } else {
            text
        };
        let mut l = loader(&[("t", "extends = [\"net\"]\n[network]\nallowlist = \"/p/list.toml\"\n")]);
        l.source.files.insert("/p/list.toml".into(), list);
        let args = ["--profile", "t", "true"].map(OsString::from).to_vec();
        if let Err(e) = front_end(false, args, &l) {
            assert_cli_error(&e);
            assert_names(&e.render(false), &["--profile: /p/list.toml:", "--net-deny: "]);
        }
    }
}

/// A profile from the schema: every section, values valid or not.
fn schema_profile() -> impl Strategy<Value = String> {
    let q = |v: Vec<&'static str>| prop::sample::select(v).prop_map(|s| format!("{s:?}"));
    let path = || {
        q(vec![
            "/usr",
            "/a",
            "/a/b",
            "${HOME}",
            "${PROJECT}/out",
            "${CWD}",
            "${XDG_CACHE_HOME}/x",
            "${XDG_RUNTIME_DIR}",
            "${TMPDIR}",
            "${UNKNOWN}",
            "rel",
            "/a/../b",
            "/",
            "",
            "~/x",
            "/\n",
            "${HOME",
        ])
    };
    let kind = q(vec![
        "bind", "ro-bind", "dev-bind", "tmpfs", "proc", "dev", "dir", "symlink", "mask", "overlay",
        "nope",
    ]);
    let mount = (
        kind,
        prop::option::of(path()),
        prop::option::of(path()),
        prop::option::of(value_text().prop_map(|s| format!("{s:?}"))),
        any::<(bool, bool)>(),
        prop::collection::vec(path(), 0..3),
        prop::option::of(path()),
    )
        .prop_map(
            |(kind, src, dst, value, (optional, create), lower, upper)| {
                let mut m = format!("[[mounts]]\nkind = {kind}\noptional = {optional}\n");
                for (k, v) in [
                    ("src", src),
                    ("dst", dst),
                    ("upper", upper.clone()),
                    ("work", upper),
                ] {
                    if let Some(v) = v {
                        m += &format!("{k} = {v}\n");
                    }
                }
                if let Some(v) = value {
                    m += &format!("{} = {v}\n", if create { "perms" } else { "size" });
                }
                if create {
                    m += "create = true\nmissing = \"ignore\"\n";
                }
                if !lower.is_empty() {
                    m += &format!("lower = [{}]\n", lower.join(", "));
                }
                m
            },
        );
    let text = || value_text().prop_map(|s| format!("{s:?}"));
    let rules = || {
        prop::collection::vec(rule_text().prop_map(|s| format!("{s:?}")), 0..3)
            .prop_map(|v| format!("[{}]", v.join(", ")))
    };
    let list = || prop::collection::vec(text(), 0..3).prop_map(|v| format!("[{}]", v.join(", ")));
    (
        prop::option::of(q(vec![
            "t",
            "u",
            "base",
            "builtin:base",
            "builtin:nope",
            "/p/u.toml",
        ])),
        prop::option::of(text()),
        list(),
        prop::collection::vec(mount, 0..4),
        (
            any::<(bool, bool, bool)>(),
            prop::option::of(q(vec!["none", "host", "other"])),
        ),
        (list(), list(), text()),
        (
            prop::option::of(text()),
            prop::option::of(any::<i64>()),
            prop::option::of(text()),
        ),
        (
            prop::option::of(q(vec!["default", "strict", "none", "x"])),
            list(),
            list(),
        ),
        (
            any::<bool>(),
            prop::collection::vec(path(), 0..3),
            prop::collection::vec(any::<i32>(), 0..2),
        ),
        (rules(), rules()),
    )
        .prop_map(
            |(
                extends,
                hostname,
                caps,
                mounts,
                (ns, net),
                (keep, unset, setv),
                limits,
                sec,
                ll,
                rules,
            )| {
                let mut p = String::new();
                if let Some(e) = extends {
                    p += &format!("extends = [{e}]\n");
                }
                if let Some(h) = hostname {
                    p += &format!("hostname = {h}\n");
                }
                p += &format!("caps = {caps}\n");
                p += &mounts.concat();
                p += &format!(
                    "[namespaces]\npid = {}\nipc = {}\nuts = {}\n",
                    ns.0, ns.1, ns.2
                );
                if let Some(n) = net {
                    p += &format!("net = {n}\n");
                }
                p += &format!("[env]\nkeep = {keep}\nunset = {unset}\nset = {{ A = {setv} }}\n");
                p += "[limits]\n";
                if let Some(m) = limits.0 {
                    p += &format!("memory = {m}\n");
                }
                if let Some(n) = limits.1 {
                    p += &format!("pids = {n}\n");
                }
                if let Some(c) = limits.2 {
                    p += &format!("cpu = {c}\n");
                }
                p += "[seccomp]\n";
                if let Some(s) = sec.0 {
                    p += &format!("profile = {s}\n");
                }
                p += &format!("allow = {}\ndeny = {}\n", sec.1, sec.2);
                let ro: Vec<String> = ll.1;
                let ports: Vec<String> = ll.2.iter().map(i32::to_string).collect();
                p += &format!(
                    "[landlock]\nmounts = {}\nro = [{}]\ntcp_connect = [{}]\n",
                    ll.0,
                    ro.join(", "),
                    ports.join(", ")
                );
                p += &format!("[network]\nallow = {}\ndeny = {}\n", rules.0, rules.1);
                p
            },
        )
}

// ---------------------------------------------------------------------------------------
// Command lines

/// Every long option of the command line but `--args` (its descriptor is generated below,
/// never a number of this process's own).
fn options() -> Vec<String> {
    let mut cmd = cli::command();
    cmd.build();
    cmd.get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| *l != "args")
        .map(|l| format!("--{l}"))
        .collect()
}

/// One word of a command line: an option, a value of the kind options take, or anything.
fn word() -> impl Strategy<Value = String> {
    thread_local!(static OPTIONS: Vec<String> = options());
    let opts = OPTIONS.with(Clone::clone);
    prop_oneof![
        4 => prop::sample::select(opts),
        3 => prop::sample::select(vec![
            "/", "/a", "/a/b", "/tmp", "rel", "..", "-", "--", "-x", "0", "1", "3", "9", "-1",
            "0755", "1M", "150%", "CAP_NET_RAW", "ptrace", "acct:EACCES", "t", "u", "base",
            "none", "host", "true", "=", "--bind=/a", "--uid=x", "\u{0}", "a\nb",
            "localhost:8080", "*.example.org", "10.0.0.0/8:443", "[::1]:443", ":99999",
        ])
        .prop_map(str::to_string),
        1 => value_text(),
    ]
    .prop_filter("only generated --args", |w| w != "--args")
}

/// A command line: words, and `--args` with the words it reads (which may hold `--args`).
fn argv() -> impl Strategy<Value = Vec<Word>> {
    let item = word()
        .prop_map(Word::Plain)
        .prop_recursive(2, 32, 8, |inner| {
            prop_oneof![
                8 => word().prop_map(Word::Plain),
                1 => prop::collection::vec(inner, 0..8).prop_map(Word::Args),
            ]
        });
    prop::collection::vec(item, 0..12)
}

#[derive(Debug, Clone)]
enum Word {
    Plain(String),
    /// `--args FD`, FD reading these words NUL-separated.
    Args(Vec<Word>),
}

/// Descriptors for `--args` are placed at this number and up, far above what the test
/// process opens, so that closing the unread ones afterwards closes nothing else. Tests that
/// make them hold `ARGS_LOCK`.
const ARGS_FD: i32 = 900;
static ARGS_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The command line with a pipe behind each `--args`; `fds` gets the descriptors made.
fn materialize(words: &[Word], fds: &mut Vec<i32>) -> Vec<OsString> {
    let mut out = Vec::new();
    for w in words {
        match w {
            Word::Plain(s) => out.push(OsString::from(s)),
            Word::Args(v) => {
                let mut data = Vec::new();
                for s in materialize(v, fds) {
                    data.extend_from_slice(s.as_encoded_bytes());
                    data.push(0);
                }
                let (r, mut wr) = std::io::pipe().unwrap();
                std::io::Write::write_all(&mut wr, &data).unwrap();
                drop(wr);
                let want = ARGS_FD + fds.len() as i32;
                let fd = std::os::fd::AsRawFd::as_raw_fd(&r);
                // SAFETY: plain descriptor calls on our own pipe and our reserved numbers.
                let got = unsafe { libc::dup2(fd, want) };
                assert_eq!(got, want);
                drop(r);
                fds.push(want);
                out.push("--args".into());
                out.push(want.to_string().into());
            }
        }
    }
    out
}

/// Bytes, not text: an option, or anything (invalid UTF-8 as often as not).
fn os_word() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        word().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..12),
    ]
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn any_command_line_parses_or_gives_one_line(words in argv(), bwrap: bool) {
        let _fds = ARGS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let l = loader(&[("t", "hostname = \"t\"\n"), ("bad", "hostname = 1\n")]);
        let mut fds = Vec::new();
        let args = materialize(&words, &mut fds);
        let r = front_end(bwrap, args, &l);
        for fd in fds {
            // SAFETY: our reserved numbers; those --args read are already closed.
            unsafe { libc::close(fd) };
        }
        if let Err(e) = r {
            assert_cli_error(&e);
        }
    }

    #[test]
    fn any_os_strings_parse_or_give_one_line(
        words in prop::collection::vec(os_word(), 0..8),
        bwrap: bool,
    ) {
        use std::os::unix::ffi::OsStringExt;
        let args: Vec<OsString> = words
            .into_iter()
            .map(OsString::from_vec)
            .filter(|a| a != "--args")
            .collect();
        // No --args remains: nothing is read.
        if let Err(e) = front_end(bwrap, args, &loader(&[])) {
            assert_cli_error(&e);
        }
    }
}

/// The generated `--args` descriptors reach the parser, nested too (the harness works).
#[test]
fn generated_args_are_read() {
    let p = |s: &str| Word::Plain(s.into());
    let words = [
        Word::Args(vec![
            p("--hostname"),
            p("h"),
            Word::Args(vec![p("--unshare-uts")]),
        ]),
        p("true"),
    ];
    let _fds = ARGS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut fds = Vec::new();
    let args = cli::expand_args(materialize(&words, &mut fds)).unwrap();
    assert_eq!(fds.len(), 2);
    let s = cli::parse_as(false, args, &loader(&[]))
        .unwrap()
        .spec()
        .unwrap();
    assert_eq!(s.hostname.as_deref(), Some("h"));
}

// --- config.json (the OCI front end) ---------------------------------------------------------

use sbox::oci::{config as oci_config, seccomp as oci_seccomp, spec as oci_spec, template};

/// The reader, the mapping and the seccomp compiler on one text: a Spec, or one line that
/// starts with `config.json: `.
fn read_config(text: &str) {
    let facts = oci_spec::Facts {
        uid: 1000,
        gid: 1000,
        privileged: text.len().is_multiple_of(2),
    };
    let r = oci_config::parse(text).and_then(|c| {
        if let Some(s) = c.linux.as_ref().and_then(|l| l.seccomp.as_ref()) {
            oci_seccomp::compile(s)?;
        }
        oci_spec::to_spec(&c, Path::new("/bundle"), &facts)
    });
    if let Err(e) = r {
        assert_names(&e.0, &["config.json: "]);
    }
}

/// Words a config.json is made of: its keys, and values of each kind, valid or not.
const OCI_WORDS: &[&str] = &[
    "ociVersion",
    "process",
    "root",
    "path",
    "readonly",
    "hostname",
    "mounts",
    "destination",
    "type",
    "source",
    "options",
    "linux",
    "namespaces",
    "uidMappings",
    "gidMappings",
    "containerID",
    "hostID",
    "size",
    "user",
    "uid",
    "gid",
    "umask",
    "additionalGids",
    "args",
    "env",
    "cwd",
    "terminal",
    "capabilities",
    "bounding",
    "effective",
    "permitted",
    "ambient",
    "inheritable",
    "rlimits",
    "hard",
    "soft",
    "noNewPrivileges",
    "oomScoreAdj",
    "sysctl",
    "resources",
    "memory",
    "limit",
    "pids",
    "cpu",
    "quota",
    "period",
    "maskedPaths",
    "readonlyPaths",
    "seccomp",
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "syscalls",
    "names",
    "action",
    "errnoRet",
    "index",
    "value",
    "valueTwo",
    "op",
    "flags",
    "hooks",
    "prestart",
    "poststop",
    "timeout",
    "annotations",
    "intelRdt",
    "devices",
    "cgroupsPath",
    "rootfsPropagation",
    "1.0.2",
    "1.2.0",
    "9.9",
    "rootfs",
    "/",
    "/proc",
    "/dev",
    "/dev/pts",
    "/sys",
    "/tmp",
    "../x",
    "rel",
    "proc",
    "tmpfs",
    "bind",
    "rbind",
    "devpts",
    "sysfs",
    "mqueue",
    "cgroup",
    "none",
    "ro",
    "rw",
    "noexec",
    "mode=755",
    "size=1k",
    "mode=x",
    "newinstance",
    "pid",
    "network",
    "ipc",
    "uts",
    "mount",
    "time",
    "CAP_KILL",
    "CAP_FLY",
    "RLIMIT_NOFILE",
    "NOFILE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_NOTIFY",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_AARCH64",
    "SCMP_CMP_EQ",
    "SCMP_CMP_MASKED_EQ",
    "read",
    "getpid",
    "frobnicate",
    "net.ipv4.ip_forward",
    "kernel.panic",
    "A=b",
    "NOEQ",
    "",
    "\n",
    "\u{1b}[31m",
];

fn oci_word() -> impl Strategy<Value = String> {
    prop::sample::select(OCI_WORDS).prop_map(str::to_string)
}

/// A JSON value built from those words, numbers at the edges of each type, and nesting.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![
            0i64,
            1,
            -1,
            5,
            65535,
            65536,
            4096,
            i32::MAX as i64,
            u32::MAX as i64,
            i64::MIN,
            i64::MAX
        ])
        .prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        Just(Value::from(1.5)),
        oci_word().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec((oci_word(), inner), 0..6)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Every path to a value in `v` (keys and indices), to pick one to replace.
fn json_paths(v: &serde_json::Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    let children: Vec<(String, &serde_json::Value)> = match v {
        serde_json::Value::Object(m) => m.iter().map(|(k, c)| (k.clone(), c)).collect(),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c))
            .collect(),
        _ => return,
    };
    for (k, c) in children {
        let mut p = at.clone();
        p.push(k);
        json_paths(c, p, out);
    }
}

/// Both templates, each with one value anywhere replaced by a generated one: configs that
/// are right but for one place.
fn near_template() -> impl Strategy<Value = String> {
    let f = oci_spec::Facts {
        uid: 1000,
        gid: 1000,
        privileged: false,
    };
    let bases: Vec<serde_json::Value> = [true, false]
        .iter()
        .map(|r| serde_json::from_str(&template::to_json(&template::template(*r, &f))).unwrap())
        .collect();
    (
        prop::sample::select(bases),
        any::<prop::sample::Index>(),
        json_value(),
        any::<bool>(),
    )
        .prop_map(|(mut base, at, v, add)| {
            let mut paths = Vec::new();
            json_paths(&base, Vec::new(), &mut paths);
            let path = at.get(&paths).clone();
            let mut slot = &mut base;
            for k in &path {
                slot = match slot {
                    serde_json::Value::Object(m) => m.get_mut(k).unwrap(),
                    serde_json::Value::Array(a) => &mut a[k.parse::<usize>().unwrap()],
                    _ => unreachable!(),
                };
            }
            match (add, slot) {
                // Or a key added beside the others.
                (true, serde_json::Value::Object(m)) => {
                    m.insert("seccomp".into(), v);
                }
                (_, slot) => *slot = v,
            }
            base.to_string()
        })
}

/// Both templates with one string anywhere replaced by a word (a bad name, a control
/// character, a path): every string field meets the words.
fn template_words() -> impl Strategy<Value = String> {
    let f = oci_spec::Facts {
        uid: 1000,
        gid: 1000,
        privileged: true,
    };
    let bases: Vec<serde_json::Value> = [true, false]
        .iter()
        .map(|r| serde_json::from_str(&template::to_json(&template::template(*r, &f))).unwrap())
        .collect();
    (
        prop::sample::select(bases),
        any::<prop::sample::Index>(),
        oci_word(),
    )
        .prop_map(|(mut base, at, word)| {
            let mut paths = Vec::new();
            json_paths(&base, Vec::new(), &mut paths);
            paths.retain(|p| base.pointer(&pointer(p)).is_some_and(|v| v.is_string()));
            let p = pointer(at.get::<Vec<String>>(&paths));
            *base.pointer_mut(&p).unwrap() = serde_json::Value::String(word);
            base.to_string()
        })
}

/// A JSON pointer (RFC 6901) to a path of keys and indices.
fn pointer(path: &[String]) -> String {
    path.iter()
        .map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1")))
        .collect()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_config_text_reads_or_gives_one_line(text in any::<String>()) {
        read_config(&text);
    }

    #[test]
    fn generated_configs_map_or_give_one_line(v in json_value()) {
        read_config(&v.to_string());
        let mut top = serde_json::json!({"ociVersion": "1.0.2"});
        top["linux"] = serde_json::json!({"seccomp": v.clone()});
        read_config(&top.to_string());
        top["process"] = v;
        read_config(&top.to_string());
    }

    #[test]
    fn templates_changed_in_one_place_map_or_give_one_line(text in near_template()) {
        read_config(&text);
    }

    #[test]
    fn templates_with_a_word_anywhere_map_or_give_one_line(text in template_words()) {
        read_config(&text);
    }
}

/// The generators reach the mapping: an unchanged template maps.
#[test]
fn templates_map() {
    let f = oci_spec::Facts {
        uid: 1000,
        gid: 1000,
        privileged: false,
    };
    let text = template::to_json(&template::template(true, &f));
    let c = oci_config::parse(&text).unwrap();
    assert!(oci_spec::to_spec(&c, Path::new("/b"), &f).is_ok());
}
