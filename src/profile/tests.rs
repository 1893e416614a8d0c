//! Profiles without a filesystem: files come from a map, variables are fixed.

use super::*;
use crate::cli::{CliError, Parsed, parse_as};
use crate::spec::{BindKind, EnvOp, FsOp};
use std::ffi::OsString;

fn vars() -> Vars {
    Vars::example()
}

/// A loader whose search path is /p (the given files) then /shipped (the repository's).
fn loader(files: &[(&str, &str)]) -> Loader<Mem> {
    let mut map: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(n, t)| (PathBuf::from(format!("/p/{n}.toml")), t.to_string()))
        .collect();
    for (n, t) in SHIPPED {
        map.insert(PathBuf::from(format!("/shipped/{n}.toml")), t.to_string());
    }
    Loader {
        source: Mem {
            dirs: vec!["/p".into(), "/shipped".into()],
            files: map,
        },
        vars: vars(),
    }
}

macro_rules! shipped {
    ($($n:literal),*) => {
        [$(($n, include_str!(concat!("../../profiles/", $n, ".toml")))),*]
    };
}
const SHIPPED: [(&str, &str); 15] = shipped!(
    "base",
    "project",
    "net",
    "shell",
    "make",
    "cargo-build",
    "cargo-fetch",
    "npm-install",
    "npm-build",
    "pip-install",
    "python",
    "go-build",
    "curl",
    "cargo-update",
    "go-mod"
);

fn parsed(l: &Loader<Mem>, args: &[&str]) -> Result<Parsed, CliError> {
    parse_as(false, args.iter().map(OsString::from), l)
}

fn run(l: &Loader<Mem>, args: &[&str]) -> Result<Spec, CliError> {
    parsed(l, args).map(|o| o.spec().expect("a sandbox, not output"))
}

fn spec(l: &Loader<Mem>, args: &[&str]) -> Spec {
    run(l, args).unwrap()
}

fn error(l: &Loader<Mem>, args: &[&str]) -> String {
    match run(l, args) {
        Err(CliError::Invalid(e)) => {
            assert!(!e.contains('\n'), "one line: {e:?}");
            e
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

fn dsts(s: &Spec) -> Vec<String> {
    s.ops
        .iter()
        .map(|o| o.dst().display().to_string())
        .collect()
}

fn bind(kind: BindKind, src: &str, dst: &str, optional: bool) -> FsOp {
    FsOp::Bind {
        kind,
        src: src.into(),
        dst: dst.into(),
        optional,
    }
}

const LOWER: &str = r#"
hostname = "lower"
[namespaces]
net = "none"
pid = true
uts = true
[env]
clear = true
keep = ["PATH"]
set = { A = "lower" }
[seccomp]
allow = ["syslog"]
[[mounts]]
kind = "tmpfs"
dst = "/a/b"
[[mounts]]
kind = "ro-bind"
src = "/x"
dst = "/m"
"#;

const UPPER: &str = r#"
extends = ["lower"]
hostname = "upper"
[env]
set = { A = "upper" }
[seccomp]
allow = ["acct"]
[[mounts]]
kind = "bind"
src = "${PROJECT}"
dst = "/m"
[[mounts]]
kind = "dir"
dst = "/a"
"#;

#[test]
fn merge_rule_scalars_lists_and_mounts() {
    let l = loader(&[("lower", LOWER), ("upper", UPPER)]);
    let s = spec(&l, &["--profile", "upper", "true"]);
    // Scalars: the later layer wins.
    assert_eq!(s.hostname.as_deref(), Some("upper"));
    assert!(s.ns.net && s.ns.pid && s.ns.uts && s.clearenv);
    // Lists append, in layer order.
    assert_eq!(s.seccomp.allow, ["syslog", "acct"]);
    assert_eq!(
        s.env,
        [
            EnvOp::Keep("PATH".into()),
            EnvOp::Set("A".into(), "lower".into()),
            EnvOp::Set("A".into(), "upper".into()),
        ]
    );
    // Mounts: keyed by destination (upper's /m replaced lower's, in its place), parents
    // before children.
    assert_eq!(dsts(&s), ["/m", "/a", "/a/b"]);
    assert_eq!(s.ops[0], bind(BindKind::Rw, "/home/u/src/p", "/m", false));

    // The command line comes last: its scalars win, its lists and operations append.
    let s = spec(
        &l,
        &[
            "--profile",
            "upper",
            "--hostname",
            "cli",
            "--share-net",
            "--setenv",
            "A",
            "cli",
            "--tmpfs",
            "/a",
            "true",
        ],
    );
    assert_eq!(s.hostname.as_deref(), Some("cli"));
    assert!(!s.ns.net, "--share-net gives the network back");
    assert_eq!(s.env.last(), Some(&EnvOp::Set("A".into(), "cli".into())));
    assert_eq!(dsts(&s), ["/m", "/a", "/a/b", "/a"]);
}

#[test]
fn composition_order_does_not_change_the_mounts() {
    let x = "[[mounts]]\nkind = \"tmpfs\"\ndst = \"/a/b/c\"\n";
    let y =
        "[[mounts]]\nkind = \"tmpfs\"\ndst = \"/a\"\n[[mounts]]\nkind = \"dir\"\ndst = \"/a/b\"\n";
    let l = loader(&[
        ("x", x),
        ("y", y),
        ("xy", "extends = [\"x\", \"y\"]"),
        ("yx", "extends = [\"y\", \"x\"]"),
    ]);
    let a = spec(&l, &["--profile", "xy", "true"]);
    let b = spec(&l, &["--profile", "yx", "true"]);
    assert_eq!(dsts(&a), ["/a", "/a/b", "/a/b/c"]);
    assert_eq!(a.ops, b.ops);
    // Two --profile options compose the same way.
    assert_eq!(
        spec(&l, &["--profile", "y", "--profile", "x", "true"]).ops,
        a.ops
    );
}

#[test]
fn a_profile_reached_twice_is_applied_once() {
    let l = loader(&[
        ("b", "[seccomp]\nallow = [\"acct\"]"),
        ("l", "extends = [\"b\"]"),
        ("r", "extends = [\"b\"]"),
        ("top", "extends = [\"l\", \"r\"]"),
    ]);
    assert_eq!(
        spec(&l, &["--profile", "top", "true"]).seccomp.allow,
        ["acct"]
    );
}

#[test]
fn errors_name_file_line_and_column() {
    let l = loader(&[
        (
            "unknown-key",
            "hostname = \"h\"\n\n[env]\n  frobnicate = true\n",
        ),
        ("wrong-type", "[namespaces]\npid = \"yes\"\n"),
        ("bad-net", "[namespaces]\nnet = \"some\"\n"),
        (
            "bad-var",
            "[[mounts]]\nkind = \"tmpfs\"\ndst = \"${HOME}/${SHELL}\"\n",
        ),
        (
            "unset-var",
            "[[mounts]]\nkind = \"tmpfs\"\ndst = \"${XDG_RUNTIME_DIR}/x\"\n",
        ),
        (
            "relative",
            "[[mounts]]\nkind = \"ro-bind\"\nsrc = \"usr\"\n",
        ),
        (
            "dotdot",
            "[[mounts]]\nkind = \"tmpfs\"\ndst = \"/a/../b\"\n",
        ),
        ("bad-kind", "[[mounts]]\nkind = \"loop\"\ndst = \"/a\"\n"),
        (
            "extra-field",
            "[[mounts]]\nkind = \"proc\"\ndst = \"/proc\"\nsize = \"1M\"\n",
        ),
        ("no-src", "[[mounts]]\nkind = \"bind\"\n"),
        ("bad-cap", "caps = [\"CAP_FLY\"]\n"),
        ("bad-syscall", "[seccomp]\ndeny = [\"frob\"]\n"),
        ("bad-size", "[limits]\nmemory = \"12Q\"\n"),
        ("syntax", "hostname = \n"),
        ("missing", "extends = [\"base\", \"nope\"]\n"),
        ("cycle-a", "extends = [\"cycle-b\"]\n"),
        ("cycle-b", "\nextends = [\"cycle-a\"]\n"),
    ]);
    for (name, want) in [
        (
            "unknown-key",
            "/p/unknown-key.toml:4:3: unknown field `frobnicate`",
        ),
        (
            "wrong-type",
            "/p/wrong-type.toml:2:7: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "bad-net",
            "/p/bad-net.toml:2:7: unknown variant `some`, expected `none` or `host`",
        ),
        (
            "bad-var",
            "/p/bad-var.toml:3:7: ${SHELL}: unknown variable (known: ${HOME}, ",
        ),
        (
            "unset-var",
            "/p/unset-var.toml:3:7: ${XDG_RUNTIME_DIR} has no value here",
        ),
        (
            "relative",
            "/p/relative.toml:3:7: 'usr': not an absolute path",
        ),
        (
            "dotdot",
            "/p/dotdot.toml:3:7: '/a/../b': '..' is not allowed",
        ),
        ("bad-kind", "/p/bad-kind.toml:2:8: unknown variant `loop`"),
        (
            "extra-field",
            "/p/extra-field.toml:4:8: a proc mount takes no 'size'",
        ),
        ("no-src", "/p/no-src.toml:1:1: a bind mount needs 'src'"),
        (
            "bad-cap",
            "/p/bad-cap.toml:1:9: caps: 'CAP_FLY': unknown capability",
        ),
        (
            "bad-syscall",
            "/p/bad-syscall.toml:2:9: seccomp.deny: 'frob': 'frob' is not a syscall",
        ),
        (
            "bad-size",
            "/p/bad-size.toml:2:10: memory: '12Q': not a size",
        ),
        ("syntax", "/p/syntax.toml:1:12: "),
        (
            "missing",
            "/p/missing.toml:1:20: 'nope': no such profile (searched /p:/shipped;",
        ),
        (
            "cycle-a",
            "/p/cycle-b.toml:2:12: extends 'cycle-a': a cycle (cycle-a -> cycle-b -> cycle-a)",
        ),
    ] {
        let e = error(&l, &["--profile", name, "true"]);
        let want = format!("--profile: {want}");
        assert!(e.starts_with(&want), "{name}: {e:?}\n    wanted {want:?}");
    }
    assert!(
        error(&l, &["--profile", "nope", "true"]).starts_with("--profile: 'nope': no such profile")
    );
    assert!(
        error(&l, &["--profile", "./nope.toml", "true"])
            .starts_with("--profile: './nope.toml': no such file")
    );
}

#[test]
fn explain_names_the_layer_of_each_value() {
    let l = loader(&[("lower", LOWER), ("upper", UPPER)]);
    let out = match parsed(
        &l,
        &[
            "--profile",
            "upper",
            "--explain",
            "--tmpfs",
            "/a",
            "--mem",
            "1M",
        ],
    ) {
        Ok(Parsed::Print(s)) => s,
        other => panic!("{other:?}"),
    };
    assert!(
        out.contains("built-in defaults < lower < upper < command line"),
        "{out}"
    );
    assert!(out.contains("# upper = /p/upper.toml"), "{out}");
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in {out}"))
            .to_string()
    };
    assert!(line("mount /a/b").ends_with("[lower]"));
    assert!(line("mount /m").ends_with("[upper]"));
    assert!(line("mount /a (2)").ends_with("[command line]"));
    assert!(line("hostname").ends_with("[upper]"));
    assert!(line("namespaces.net").ends_with("[lower]"));
    assert!(line("limits.memory").ends_with("[command line]"));
    assert!(line("seccomp.profile").ends_with("[default]"));
}

#[test]
fn list_shows_every_file_in_search_order() {
    let l = loader(&[("make", "")]);
    let out = l.list();
    assert!(out.starts_with("make /p/make.toml\n"), "{out}");
    assert!(
        out.contains("make /shipped/make.toml (shadowed)\n"),
        "{out}"
    );
    assert!(out.contains("curl /shipped/curl.toml\n"), "{out}");
    assert_eq!(parsed(&l, &["--list-profiles"]), Ok(Parsed::Print(out)));
}

#[test]
fn variables() {
    let v = vars();
    assert_eq!(v.expand("${HOME}/x-${UID}").unwrap(), "/home/u/x-1000");
    assert_eq!(v.expand("$HOME ${USER}").unwrap(), "$HOME u");
    assert!(
        v.expand("${HOME")
            .unwrap_err()
            .to_string()
            .contains("without a closing")
    );
}

fn shipped(name: &str) -> Spec {
    spec(&loader(&[]), &["--profile", name, "true"])
}

fn has_op(s: &Spec, want: &FsOp) -> bool {
    s.ops.contains(want)
}

#[test]
fn shipped_profiles_load_and_keep_their_promises() {
    let home = "/home/u";
    let project = "/home/u/src/p";
    for (name, _) in SHIPPED {
        let s = shipped(name);
        // Every profile: an empty home, the credential files masked, a fresh /tmp.
        assert!(
            s.ops
                .iter()
                .any(|o| matches!(o, FsOp::Tmpfs { dst, .. } if dst.as_os_str() == home)),
            "{name}: home is not an empty tmpfs"
        );
        for c in [
            ".ssh",
            ".gnupg",
            ".aws",
            ".cargo/credentials",
            ".cargo/credentials.toml",
            ".npmrc",
            ".netrc",
        ] {
            let mask = FsOp::Mask {
                dst: format!("{home}/{c}").into(),
            };
            assert!(has_op(&s, &mask), "{name}: {c} not masked");
        }
        // Nothing under home is bound read-write but the caches the profile is for.
        for op in &s.ops {
            if let FsOp::Bind {
                kind: BindKind::Rw,
                dst,
                ..
            } = op
                && dst.starts_with(home)
                && !dst.starts_with(project)
            {
                assert!(
                    [
                        "cargo-fetch",
                        "cargo-update",
                        "npm-install",
                        "pip-install",
                        "go-build",
                        "go-mod"
                    ]
                    .contains(&name),
                    "{name}: {} writable",
                    dst.display()
                );
            }
        }
        // Where the project is bound, its .git is read-only, after it.
        if let Some(i) = s.ops.iter().position(|o| o.dst() == Path::new(project)) {
            let git = bind(
                BindKind::Ro,
                &format!("{project}/.git"),
                &format!("{project}/.git"),
                true,
            );
            let j = s.ops.iter().position(|o| *o == git);
            assert!(j.is_some_and(|j| j > i), "{name}: .git not read-only");
            // Planted files are looked for where the project is writable, only there.
            let rw = matches!(
                &s.ops[i],
                FsOp::Bind {
                    kind: BindKind::Rw,
                    ..
                }
            );
            assert_eq!(
                s.report_planted.contains(&PathBuf::from(project)),
                rw,
                "{name}: report_planted {:?}",
                s.report_planted
            );
        }
    }
    let net = |n: &str| !shipped(n).ns.net;
    for n in [
        "cargo-fetch",
        "cargo-update",
        "npm-install",
        "pip-install",
        "curl",
        "go-mod",
    ] {
        assert!(net(n), "{n} should have the network");
    }
    for n in [
        "base",
        "shell",
        "make",
        "cargo-build",
        "npm-build",
        "python",
        "go-build",
    ] {
        assert!(!net(n), "{n} should have no network");
    }
    let rw = |n: &str| has_op(&shipped(n), &bind(BindKind::Rw, project, project, false));
    assert!(
        rw("make")
            && rw("cargo-build")
            && rw("shell")
            && !rw("python")
            && !rw("cargo-fetch")
            && !rw("curl")
    );
    let python = shipped("python");
    assert!(has_op(
        &python,
        &bind(BindKind::Ro, project, project, false)
    ));
    assert!(has_op(
        &python,
        &bind(
            BindKind::Rw,
            "/home/u/src/p/sub/out",
            "/home/u/src/p/sub/out",
            false
        )
    ));
    let curl = shipped("curl");
    assert!(!curl.ops.iter().any(|o| matches!(
        o,
        FsOp::Bind {
            kind: BindKind::Rw | BindKind::Dev,
            ..
        }
    )));
}

#[test]
fn project_option_refused_values_and_profile_ops() {
    let l = loader(&[]);
    // --project names ${PROJECT}; it means nothing without a profile.
    let s = spec(&l, &["--profile", "project", "--project", "/q", "true"]);
    assert!(has_op(&s, &bind(BindKind::Rw, "/q", "/q", false)));
    let e = error(&l, &["--project", "/q", "true"]);
    assert!(e.starts_with("--project: only profiles use it"), "{e}");
    // Every profile op is marked (launch follows no symlink for them), the command line's not.
    let s = spec(&l, &["--profile", "make", "--tmpfs", "/x", "true"]);
    assert_eq!(s.profile_ops, s.ops.len() - 1);
    // A refused variable is an error only where a profile uses it.
    let mut l = loader(&[(
        "uses",
        "[[mounts]]\nkind = \"bind\"\nsrc = \"${PROJECT}\"\n",
    )]);
    l.vars.values.insert("PROJECT", None);
    l.vars
        .refused
        .insert("PROJECT", "/home/u: the project would be your home".into());
    let e = error(&l, &["--profile", "uses", "true"]);
    assert!(
        e.ends_with("${PROJECT}: /home/u: the project would be your home"),
        "{e}"
    );
    assert!(run(&l, &["--profile", "base", "true"]).is_ok());
}

#[test]
fn profiles_and_earlier_search_dirs_are_protected() {
    let l = loader(&[("mine", "extends = [\"make\"]\n")]);
    let s = spec(&l, &["--profile", "mine", "true"]);
    for p in ["/p/mine.toml", "/p", "/shipped/make.toml", "/shipped"] {
        assert!(
            s.protect.contains(&PathBuf::from(p)),
            "{p}: {:?}",
            s.protect
        );
    }
    // A name found in /shipped: /p, consulted first, could shadow it.
    let s = spec(&l, &["--profile", "make", "true"]);
    assert!(s.protect.contains(&PathBuf::from("/p")), "{:?}", s.protect);
}

fn explain_of(l: &Loader<Mem>, args: &[&str]) -> String {
    match parsed(l, args) {
        Ok(Parsed::Print(s)) => s,
        other => panic!("{other:?}"),
    }
}

fn value_of(out: &str, key: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
        .to_string()
}

#[test]
fn create_and_missing_are_kept_by_destination() {
    let l = loader(&[
        (
            "c",
            "[[mounts]]\nkind = \"bind\"\nsrc = \"${XDG_CACHE_HOME}/pip\"\ncreate = true\n\
             [[mounts]]\nkind = \"bind\"\nsrc = \"${CWD}/out\"\ncreate = true\n\
             [[mounts]]\nkind = \"bind\"\nsrc = \"${HOME}/.npm\"\ncreate = true\n\
             [[mounts]]\nkind = \"bind\"\nsrc = \"${PROJECT}/x.lock\"\noptional = true\nmissing = \"touch it\"\n",
        ),
        (
            "d",
            "extends = [\"c\"]\n[[mounts]]\nkind = \"ro-bind\"\nsrc = \"${HOME}/.npm\"\noptional = true\n",
        ),
        (
            "bad",
            "[[mounts]]\nkind = \"bind\"\nsrc = \"/var/cache/x\"\ncreate = true\n",
        ),
        (
            "bad-kind",
            "[[mounts]]\nkind = \"tmpfs\"\ndst = \"/x\"\ncreate = true\n",
        ),
    ]);
    let s = spec(&l, &["--profile", "c", "true"]);
    let from = |dst: &str| {
        s.bind_extras
            .iter()
            .find(|e| e.dst == Path::new(dst))
            .map(|e| (e.create_from.clone(), e.missing.clone()))
    };
    // A cache below $HOME is created from $HOME (~/.cache may not exist yet either).
    assert_eq!(
        from("/home/u/.cache/pip"),
        Some((Some("/home/u".into()), None))
    );
    assert_eq!(
        from("/home/u/src/p/sub/out"),
        Some((Some("/home/u/src/p/sub".into()), None))
    );
    assert_eq!(
        from("/home/u/src/p/x.lock"),
        Some((None, Some("touch it".into())))
    );
    // A later layer's mount on the same path drops the earlier one's create.
    let s = spec(&l, &["--profile", "d", "true"]);
    assert!(
        !s.bind_extras
            .iter()
            .any(|e| e.dst == Path::new("/home/u/.npm"))
    );
    assert!(
        error(&l, &["--profile", "bad", "true"])
            .contains("bad.toml:3:7: create = true needs a src below ${HOME}"),
    );
    assert!(
        error(&l, &["--profile", "bad-kind", "true"]).contains("a tmpfs mount takes no 'create'")
    );
    let out = explain_of(&l, &["--profile", "c", "--explain"]);
    assert!(
        value_of(&out, "mount /home/u/.npm").contains("bind from /home/u/.npm, created if missing"),
        "{out}"
    );
    // The optional bind whose source is missing is listed as skipped, with what to do.
    assert!(
        out.lines().any(|l| l
            == "# skipped: mount /home/u/src/p/x.lock: /home/u/src/p/x.lock does not exist (touch it)"),
        "{out}"
    );
    assert!(!out.contains("skipped: mount /home/u/.npm"), "{out}");
}

#[test]
fn offline_switches_follow_the_final_network() {
    let l = loader(&[]);
    let offline = |s: &Spec, k: &str| {
        s.env
            .iter()
            .any(|e| matches!(e, EnvOp::Offline(n, _) if n == k))
    };
    for (profile, var) in [
        ("cargo-build", "CARGO_NET_OFFLINE"),
        ("npm-build", "npm_config_offline"),
        ("go-build", "GOPROXY"),
    ] {
        let s = spec(&l, &["--profile", profile, "true"]);
        assert!(s.ns.net && offline(&s, var), "{profile}");
        // Never set unconditionally, so --share-net can drop it.
        assert!(
            !s.env
                .iter()
                .any(|e| matches!(e, EnvOp::Set(n, _) if n == var)),
            "{profile}"
        );
        let out = explain_of(&l, &["--profile", profile, "--explain"]);
        assert!(
            value_of(&out, &format!("env.offline {var}")).ends_with(&format!("[{profile}]")),
            "{out}"
        );
        let out = explain_of(&l, &["--profile", profile, "--share-net", "--explain"]);
        let line = value_of(&out, &format!("env.offline {var}"));
        assert!(
            line.contains("not set: the sandbox has the network")
                && line.ends_with("[command line]"),
            "{line}"
        );
    }
    // A profile that gives the network: cargo-fetch has cargo-build's switch, not in force.
    let out = explain_of(&l, &["--profile", "cargo-fetch", "--explain"]);
    assert!(
        value_of(&out, "env.offline CARGO_NET_OFFLINE").contains("not set"),
        "{out}"
    );
}

#[test]
fn dependency_profiles_write_only_the_manifests() {
    let project = "/home/u/src/p";
    let rw = |s: &Spec| -> Vec<String> {
        let mut v: Vec<String> = s
            .ops
            .iter()
            .filter_map(|o| match o {
                FsOp::Bind {
                    kind: BindKind::Rw,
                    dst,
                    ..
                } => Some(dst.display().to_string()),
                _ => None,
            })
            .collect();
        v.sort();
        v
    };
    let s = shipped("cargo-update");
    assert!(!s.ns.net);
    assert!(has_op(&s, &bind(BindKind::Ro, project, project, false)));
    assert_eq!(
        rw(&s),
        [
            "/home/u/.cargo/git",
            "/home/u/.cargo/registry",
            "/home/u/src/p/Cargo.lock",
        ]
    );
    let s = shipped("go-mod");
    assert!(!s.ns.net);
    assert!(has_op(&s, &bind(BindKind::Ro, project, project, false)));
    assert_eq!(
        rw(&s),
        [
            "/home/u/go/pkg/mod",
            "/home/u/src/p/sub/go.mod",
            "/home/u/src/p/sub/go.sum"
        ]
    );
    assert!(
        s.env
            .contains(&EnvOp::Set("GOFLAGS".into(), "-mod=mod".into()))
    );
    let s = shipped("npm-install");
    assert!(s.env.contains(&EnvOp::Set(
        "npm_config_ignore_scripts".into(),
        "true".into()
    )));
    assert!(!shipped("npm-build").env.iter().any(
        |e| matches!(e, EnvOp::Set(k, _) | EnvOp::Offline(k, _) if k == "npm_config_ignore_scripts")
    ));
}

#[test]
fn absolute_paths_are_normalized_as_components_would() {
    for (s, want) in [
        ("/", "/"),
        ("/usr", "/usr"),
        ("//usr//lib/", "/usr/lib"),
        ("/a/./b/.", "/a/b"),
        ("/./", "/"),
    ] {
        assert_eq!(file::absolute(s).unwrap(), Path::new(want), "{s}");
        let by_components: PathBuf = Path::new(s)
            .components()
            .filter(|c| *c != std::path::Component::CurDir)
            .collect();
        assert_eq!(file::absolute(s).unwrap(), by_components, "{s}");
    }
    assert!(file::absolute("usr").is_err() && file::absolute("/a/../b").is_err());
}

/// Issue 13: the rules that differed between the command line and profiles are spec::validate's
/// now, and agree.
#[test]
fn command_line_and_profiles_follow_the_same_rules() {
    let l = loader(&[
        ("host-only", "hostname = \"h\"\n"),
        ("host-uts", "hostname = \"h\"\n[namespaces]\nuts = true\n"),
        ("ll-dotdot", "[landlock]\nro = [\"/usr/../etc\"]\n"),
        ("env-eq", "[env]\nset = { \"A=B\" = \"1\" }\n"),
        ("keep-empty", "[env]\nkeep = [\"\"]\n"),
        ("lax", "[seccomp]\nprofile = \"lax\"\n"),
        ("strict", "[seccomp]\nprofile = \"strict\"\n"),
    ]);
    let fails = |args: &[&str]| match run(&l, args) {
        Err(e) => e.render(false).to_string(),
        Ok(_) => panic!("{args:?} was accepted"),
    };
    // A hostname without a UTS namespace: refused from both (it used to turn UTS on silently
    // from a profile); a profile or the command line asks for the namespace.
    let cli = fails(&["--hostname", "h", "true"]);
    let prof = fails(&["--profile", "host-only", "true"]);
    assert!(
        cli.starts_with("--hostname: needs a UTS namespace"),
        "{cli}"
    );
    assert_eq!(cli, prof);
    for args in [
        &["--profile", "host-uts", "true"][..],
        &["--profile", "host-only", "--unshare-uts", "true"],
        &["--hostname", "h", "--unshare-uts", "true"],
    ] {
        assert_eq!(spec(&l, args).hostname.as_deref(), Some("h"));
    }
    // The shipped profiles set a hostname with uts = true.
    assert!(spec(&l, &["--profile", "base", "true"]).ns.uts);
    // Landlock paths with `..`: refused from both (the command line used to take them).
    let cli = fails(&["--landlock-ro", "/usr/../etc", "true"]);
    assert_eq!(cli, "--landlock-ro: '/usr/../etc': '..' is not allowed");
    let prof = fails(&["--profile", "ll-dotdot", "true"]);
    assert!(
        prof.ends_with("'/usr/../etc': '..' is not allowed"),
        "{prof}"
    );
    // Variable names: one rule, one wording.
    let cli = fails(&["--setenv", "A=B", "1", "true"]);
    assert_eq!(cli, "--setenv: 'A=B': not a variable name");
    let prof = fails(&["--profile", "env-eq", "true"]);
    assert!(prof.ends_with(": 'A=B': not a variable name"), "{prof}");
    let prof = fails(&["--profile", "keep-empty", "true"]);
    assert!(prof.ends_with(": '': not a variable name"), "{prof}");
    // Seccomp profile names: one list.
    let cli = fails(&["--seccomp-profile", "lax", "true"]);
    assert_eq!(
        cli,
        "--seccomp-profile: 'lax': unknown profile (default, strict or none)"
    );
    let prof = fails(&["--profile", "lax", "true"]);
    assert_eq!(
        prof,
        "--profile: /p/lax.toml:2:11: seccomp.profile: 'lax': unknown profile (default, strict or none)"
    );
    let s = spec(&l, &["--profile", "strict", "true"]);
    assert_eq!(s.seccomp.profile, crate::spec::SeccompProfile::Strict);
}

/// The number of layers an overlay needs is one rule (spec::validate::layers_needed), moved
/// out of the command line's parser: both front ends refuse an overlay without a lower layer
/// and build the same operation from one.
#[test]
fn overlay_layers_follow_one_rule_from_both_front_ends() {
    let l = loader(&[
        ("no-lower", "[[mounts]]\nkind = \"overlay\"\ndst = \"/o\"\n"),
        (
            "one-lower",
            "[[mounts]]\nkind = \"overlay\"\nlower = [\"/a\"]\ndst = \"/o\"\n",
        ),
    ]);
    let fails = |args: &[&str]| match run(&l, args) {
        Err(e) => e.render(false).to_string(),
        Ok(_) => panic!("{args:?} was accepted"),
    };
    assert_eq!(
        fails(&["--tmp-overlay", "/o", "true"]),
        "--tmp-overlay: needs at least 1 --overlay-src before it"
    );
    let prof = fails(&["--profile", "no-lower", "true"]);
    assert!(
        prof.ends_with("an overlay mount needs 'lower' (a list of directories, topmost first)"),
        "{prof}"
    );
    let cli = spec(&l, &["--overlay-src", "/a", "--tmp-overlay", "/o", "true"]);
    let prof = spec(&l, &["--profile", "one-lower", "true"]);
    let overlay = FsOp::Overlay {
        lower: vec!["/a".into()],
        upper: crate::spec::OverlayUpper::Tmp,
        dst: "/o".into(),
    };
    assert_eq!(cli.ops.last(), Some(&overlay));
    assert_eq!(prof.ops.last(), Some(&overlay));
    // Whatever built it, a Spec with too few layers is refused, in the command line's words.
    let mut s = prof.clone();
    s.ops.push(FsOp::Overlay {
        lower: vec!["/a".into()],
        upper: crate::spec::OverlayUpper::ReadOnly,
        dst: "/r".into(),
    });
    let e = crate::spec::validate(&s).unwrap_err();
    assert_eq!(
        e.message,
        "--ro-overlay: needs at least 2 --overlay-src before it"
    );
    assert_eq!(
        e.bwrap,
        Some("--ro-overlay requires at least two --overlay-src")
    );
}

#[test]
fn network_rules_merge_like_lists_and_imply_a_network_namespace() {
    let l = loader(&[
        (
            "a",
            "[network]\nallow = [\"a.test\", \"127.0.0.1:8080\"]\ndeny = [\"x.a.test\"]\n",
        ),
        (
            "b",
            "extends = [\"a\"]\n[network]\nallow = [\"a.test\", \"*.b.test:8443\"]\n",
        ),
        (
            "host",
            "[namespaces]\nnet = \"host\"\n[network]\nallow = [\"a.test\"]\n",
        ),
        (
            "later-host",
            "extends = [\"a\"]\n[namespaces]\nnet = \"host\"\n",
        ),
        ("bad", "[network]\nallow = [\"ok.test\", \"a..b\"]\n"),
    ]);
    let s = spec(&l, &["--profile", "b", "--net-allow", "c.test", "true"]);
    assert!(s.ns.net);
    let shown: Vec<String> = s.net.allow.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        shown,
        ["a.test", "127.0.0.1:8080", "*.b.test:8443", "c.test"]
    );
    assert_eq!(s.net.deny.len(), 1);
    let out = explain_of(&l, &["--profile", "b", "--explain"]);
    assert!(
        value_of(&out, "network.allow *.b.test:8443").contains("allowed"),
        "{out}"
    );
    assert!(
        value_of(&out, "network.deny x.a.test").contains("denied"),
        "{out}"
    );
    let e = error(&l, &["--profile", "host", "true"]);
    assert!(
        e.starts_with("--profile: /p/host.toml:4:")
            && e.contains("network.allow: conflicts with net = \"host\""),
        "{e}"
    );
    // An allowlist from any layer keeps the sandbox off the host network.
    assert!(spec(&l, &["--profile", "later-host", "true"]).ns.net);
    let e = error(&l, &["--profile", "bad", "true"]);
    assert!(
        e.starts_with("--profile: /p/bad.toml:2:")
            && e.contains("network.allow: 'a..b': empty label"),
        "{e}"
    );
    let e = error(&l, &["--profile", "a", "--share-net", "true"]);
    assert!(
        e.starts_with("--share-net: conflicts with --net-allow"),
        "{e}"
    );
}

#[test]
fn an_allowlist_file_replaces_the_host_network_when_it_exists() {
    let list = "/home/u/src/p/.sbox/net-allow.toml";
    let mut l = loader(&[(
        "fetch",
        "extends = [\"net\"]\n[network]\nallowlist = \"${PROJECT}/.sbox/net-allow.toml\"\nallow = [\"own.test:8080\"]\n",
    )]);
    // Missing: the profile's own rules only (the file may still be made: it is protected).
    let s = spec(&l, &["--profile", "fetch", "true"]);
    assert!(s.ns.net && s.net.lists.is_empty(), "{:?}", s.net);
    assert!(s.protect.contains(&PathBuf::from(list)), "{:?}", s.protect);
    assert!(s.protect.contains(&PathBuf::from("/home/u/src/p/.sbox")));
    l.source.files.insert(
        list.into(),
        "# reviewed\nallow = [\n  \"a.test:443\",  # the index\n  \"*.cdn.test:443\",\n]\ndeny = [\"x.cdn.test\"]\n".into(),
    );
    let s = spec(&l, &["--profile", "fetch", "true"]);
    assert!(s.ns.net);
    let shown: Vec<String> = s.net.allow.iter().map(|r| r.to_string()).collect();
    assert_eq!(shown, ["own.test:8080", "a.test:443", "*.cdn.test:443"]);
    assert_eq!(s.net.deny.len(), 1);
    assert_eq!(s.net.lists, [PathBuf::from(list)]);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let out = explain_of(&l, &["--profile", "fetch", "--explain"]);
    assert!(
        value_of(&out, &format!("network.allowlist {list}")).contains("read"),
        "{out}"
    );
    assert!(
        value_of(&out, "network.allow *.cdn.test:443").ends_with(&format!("[{list}]")),
        "{out}"
    );
    // --share-net gives the host network back: the file is not used.
    let base = loader(&[(
        "fetch",
        "extends = [\"net\"]\n[network]\nallowlist = \"${PROJECT}/.sbox/net-allow.toml\"\n",
    )]);
    let mut with_file = loader(&[(
        "fetch",
        "extends = [\"net\"]\n[network]\nallowlist = \"${PROJECT}/.sbox/net-allow.toml\"\n",
    )]);
    with_file
        .source
        .files
        .insert(list.into(), "allow = [\"a.test:443\"]\n".into());
    let s = spec(&with_file, &["--profile", "fetch", "--share-net", "true"]);
    assert!(!s.ns.net && !s.net.active(), "{:?}", s.net);
    // --unshare-net: no network at all, the file is not used either.
    let s = spec(&with_file, &["--profile", "fetch", "--unshare-net", "true"]);
    assert!(s.ns.net && !s.net.active(), "{:?}", s.net);
    // An emptied file is still an allowlist: the sandbox goes through sbox, which refuses all.
    with_file
        .source
        .files
        .insert(list.into(), "allow = []\n".into());
    let s = spec(&with_file, &["--profile", "fetch", "true"]);
    assert!(s.ns.net && s.net.active() && s.net.allow.is_empty());
    // No file: the host network, and one line naming --net-record and the path.
    let s = spec(&base, &["--profile", "fetch", "true"]);
    assert!(!s.ns.net && !s.net.active());
    assert_eq!(
        s.warnings,
        [format!(
            "network: no allowlist at {list}: this run has the host network; record one with `sbox --profile fetch --net-record {list} -- true`, review it, and run again"
        )]
    );
    // A bad rule in the file: one line naming the file, line and column.
    with_file.source.files.insert(
        list.into(),
        "allow = [\n  \"ok.test\",\n  \"a..b\",\n]\n".into(),
    );
    let e = error(&with_file, &["--profile", "fetch", "true"]);
    assert!(
        e.starts_with(&format!("--profile: {list}:3:3: allow: 'a..b': ")),
        "{e}"
    );
    with_file
        .source
        .files
        .insert(list.into(), "hosts = [\"a.test\"]\n".into());
    let e = error(&with_file, &["--profile", "fetch", "true"]);
    assert!(
        e.starts_with(&format!("--profile: {list}:1:1: unknown field `hosts`")),
        "{e}"
    );
}

#[test]
fn a_registry_from_the_tools_configuration_is_allowed() {
    let mut l = loader(&[]);
    let s = spec(&l, &["--profile", "npm-install", "true"]);
    // No answer (npm missing): the host network, and the line saying how to record.
    assert!(!s.ns.net && s.warnings.len() == 1, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("--net-record /home/u/src/p/.sbox/net-allow.toml"));
    l.source
        .files
        .insert("/registry/npm".into(), "registry.test:4873\n".into());
    let s = spec(&l, &["--profile", "npm-install", "true"]);
    assert!(s.ns.net && s.warnings.is_empty(), "{:?}", s.warnings);
    let shown: Vec<String> = s.net.allow.iter().map(|r| r.to_string()).collect();
    assert_eq!(shown, ["registry.test:4873"]);
    let out = explain_of(&l, &["--profile", "npm-install", "--explain"]);
    assert!(
        value_of(&out, "network.allow_registry npm").contains("asked on the host"),
        "{out}"
    );
    // Recording learns the list: neither the file nor the registry restricts it.
    let s = spec(
        &l,
        &[
            "--profile",
            "npm-install",
            "--net-record",
            "/tmp/r.toml",
            "true",
        ],
    );
    assert!(s.ns.net && s.net.allow.is_empty() && s.net.record.is_some());
    let e = error(
        &loader(&[("t", "[network]\nallow_registry = [\"gem\"]\n")]),
        &["--profile", "t", "true"],
    );
    assert!(
        e.starts_with("--profile: /p/t.toml:2:19: allow_registry: 'gem': unknown tool"),
        "{e}"
    );
}

#[test]
fn a_profile_can_record() {
    let l = loader(&[(
        "rec",
        "extends = [\"net\"]\n[network]\nrecord = \"${PROJECT}/.sbox/net-allow.toml\"\nallowlist = \"${PROJECT}/.sbox/net-allow.toml\"\n",
    )]);
    let s = spec(&l, &["--profile", "rec", "true"]);
    assert_eq!(
        s.net.record.as_deref(),
        Some(Path::new("/home/u/src/p/.sbox/net-allow.toml"))
    );
    // A recording run has a network namespace and learns the list: no hint, no file used.
    assert!(s.ns.net && s.net.active() && s.net.lists.is_empty() && s.warnings.is_empty());
    let out = explain_of(&l, &["--profile", "rec", "--explain"]);
    assert!(
        value_of(&out, "network.record").contains("/home/u/src/p/.sbox/net-allow.toml"),
        "{out}"
    );
    let e = error(
        &loader(&[("rec", "[network]\nrecord = \"relative.toml\"\n")]),
        &["--profile", "rec", "true"],
    );
    assert!(e.contains("not an absolute path"), "{e}");
}

#[test]
fn a_later_layers_allowlist_replaces_an_earlier_ones() {
    let home_list = "/home/u/.config/sbox/net-allow.toml";
    let mut l = loader(&[]);
    l.source
        .files
        .insert(home_list.into(), "allow = [\"home.test:443\"]\n".into());
    // net (and curl) read the user's list.
    for p in ["net", "curl"] {
        let s = spec(&l, &["--profile", p, "true"]);
        assert_eq!(s.net.lists, [PathBuf::from(home_list)], "{p}");
        assert!(s.ns.net && s.net.allow.len() == 1, "{p}");
    }
    // cargo-fetch names the project's instead: the user's list is not used.
    let s = spec(&l, &["--profile", "cargo-fetch", "true"]);
    assert!(s.net.lists.is_empty() && !s.net.active(), "{:?}", s.net);
    assert!(!s.protect.contains(&PathBuf::from(home_list)));
    assert!(s.warnings[0].contains("no allowlist at /home/u/src/p/.sbox/net-allow.toml"));
}

#[test]
fn profile_errors_carry_their_place_and_reason_as_data() {
    let l = loader(&[
        ("a", "extends = [\"nosuch\"]\n"),
        ("m", "[limits]\nmemory = \"12q\"\n"),
        ("v", "[[mounts]]\nkind = \"tmpfs\"\ndst = \"${NOPE}/x\"\n"),
        ("r", "[[mounts]]\nkind = \"tmpfs\"\ndst = \"rel\"\n"),
        (
            "t",
            "[[mounts]]\nkind = \"tmpfs\"\ndst = \"/x\"\nsrc = \"/y\"\n",
        ),
    ]);
    let e = l.load(&["a".into()], None, Spec::default()).unwrap_err();
    let ProfileError::At {
        file,
        line,
        col,
        why,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (file.as_path(), *line, *col),
        (Path::new("/p/a.toml"), 1, 12)
    );
    let ProfileError::NoSuchProfile { given, searched } = why.as_ref() else {
        panic!("{why:?}")
    };
    assert_eq!(given, "nosuch");
    assert_eq!(searched, &[PathBuf::from("/p"), PathBuf::from("/shipped")]);
    assert_eq!(
        e.to_string(),
        "/p/a.toml:1:12: 'nosuch': no such profile (searched /p:/shipped; see sbox --list-profiles)"
    );
    let e = l.load(&["m".into()], None, Spec::default()).unwrap_err();
    let ProfileError::At { line: 2, why, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(matches!(why.as_ref(), ProfileError::Value(_)), "{why:?}");
    let e = l.load(&["../x".into()], None, Spec::default()).unwrap_err();
    assert!(
        matches!(&e, ProfileError::NoSuchFile(r) if r == "../x"),
        "{e:?}"
    );
    let e = l.load(&["a b".into()], None, Spec::default()).unwrap_err();
    assert!(
        matches!(&e, ProfileError::NotAName(r) if r == "a b"),
        "{e:?}"
    );
}
