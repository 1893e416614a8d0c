//! The build profiles against a hostile build (issue 12): a run plants something in what its
//! profile lets it write, and the next run must not be steered by it. Every attack is made
//! from inside a sandbox, as the unprivileged test user, and the host is checked afterwards.
//! The profiles are the ones compiled into the binary (the test binary has no share/).

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Secrets in the home that no profile may expose, with their contents.
const SECRETS: [(&str, &str); 3] = [
    (".ssh/id_rsa", "PRIVATE KEY"),
    (".npmrc", "//registry/:_authToken=secret"),
    (".bashrc", "# the user's shell setup\n"),
];

struct Fx {
    home: PathBuf,
    project: PathBuf,
    runtime: PathBuf,
}

/// A home with secrets, a runtime directory with an agent socket, and an empty project.
fn fixture(name: &str) -> Fx {
    let home = scratch(&format!("{name}-home"));
    for (f, text) in SECRETS {
        write(&home.join(f), text);
    }
    let runtime = scratch(&format!("{name}-run"));
    std::os::unix::net::UnixListener::bind(runtime.join("agent.sock")).unwrap();
    let project = scratch(&format!("{name}-project"));
    chown_tree(&home);
    chown_tree(&runtime);
    Fx {
        home,
        project,
        runtime,
    }
}

impl Fx {
    /// sbox as the test user from `dir`, with the fixture's home and runtime directory.
    fn sbox(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = as_user(bin());
        c.current_dir(dir)
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env_remove("SBOX_PROFILE_PATH")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_CACHE_HOME")
            .args(args);
        c.output().unwrap()
    }

    /// The secrets are intact, the runtime directory holds only its socket, and nothing
    /// leaked into the project.
    #[track_caller]
    fn check_host(&self) {
        for (f, text) in SECRETS {
            let got = std::fs::read_to_string(self.home.join(f)).unwrap();
            assert_eq!(got, text, "~/{f} changed on the host");
        }
        let names: Vec<_> = std::fs::read_dir(&self.runtime)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["agent.sock"], "the runtime directory changed");
        assert!(!self.project.join("leak").exists(), "a secret leaked");
    }
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

/// What a second, hostile run does with whatever the planted link exposed.
const STEAL: &str = "cat .git/.ssh/id_rsa .git/.npmrc out/.ssh/id_rsa Cargo.lock/.ssh/id_rsa > leak 2>/dev/null; \
     ls .git/agent.sock >> leak 2>/dev/null; echo pwned >> out/.bashrc; echo pwned >> Cargo.lock/.bashrc; \
     [ -s leak ] || rm -f leak; true";

#[track_caller]
fn assert_link_refused(o: &Output, link: &Path, to: &Path) {
    let want = format!(
        "{}: is a symbolic link (to {}), which a previous sandbox could have planted",
        link.display(),
        to.display()
    );
    assert_one_line_error(o, "--profile: ");
    assert!(stderr(o).contains(&want), "{want:?} not in {:?}", stderr(o));
}

/// Each planted link of the issue, planted by a first run from inside its sandbox: the
/// second run is refused with the link named, and the home and sockets stay untouched.
#[test]
fn planted_symlinks_are_refused() {
    // (fixture, link, the profile it targets, whether it points at the runtime directory)
    let cases = [
        ("git-home", ".git", "make", false),
        ("out-home", "out", "python", false),
        ("lock-home", "Cargo.lock", "cargo-fetch", false),
        ("git-run", ".git", "make", true),
    ];
    for (name, link, victim, runtime) in cases {
        let fx = fixture(name);
        let to = if runtime { &fx.runtime } else { &fx.home };
        write(&fx.project.join("Cargo.toml"), "[package]\n");
        chown_tree(&fx.project);
        // Run 1: a build under `make` (the project writable) plants the link.
        let plant = format!("rm -rf {link} && ln -s {} {link}", to.display());
        success(&fx.sbox(
            &fx.project,
            &["--profile", "make", "--", "sh", "-c", &plant],
        ));
        assert!(fx.project.join(link).is_symlink(), "{name}: not planted");
        // Run 2: the profile the link was meant for.
        let o = fx.sbox(&fx.project, &["--profile", victim, "--", "sh", "-c", STEAL]);
        assert_link_refused(&o, &fx.project.join(link), to);
        fx.check_host();
    }
}

/// `src/.git -> ~/.ssh` in a real repository, then a run from src/: ${PROJECT} is found only
/// through a real `.git`.
#[test]
fn a_planted_git_link_in_a_subdirectory_is_refused() {
    let fx = fixture("subgit");
    write(&fx.project.join(".git/HEAD"), "ref: refs/heads/main\n");
    write(&fx.project.join("src/main.c"), "int main;\n");
    chown_tree(&fx.project);
    let ssh = fx.home.join(".ssh");
    let plant = format!("ln -s {} src/.git", ssh.display());
    success(&fx.sbox(
        &fx.project,
        &["--profile", "make", "--", "sh", "-c", &plant],
    ));
    let src = fx.project.join("src");
    let o = fx.sbox(
        &src,
        &[
            "--profile",
            "make",
            "--",
            "sh",
            "-c",
            "cat .git/id_rsa > ../leak",
        ],
    );
    assert_link_refused(&o, &src.join(".git"), &ssh);
    fx.check_host();
}

/// A profile's destinations are resolved in the new root following no symlink either: a link
/// in the bound project can't redirect a later mount of the same profile.
#[test]
fn a_link_on_a_profile_destination_is_refused_at_launch() {
    let fx = fixture("dstlink");
    let elsewhere = scratch("dstlink-elsewhere");
    std::os::unix::fs::symlink(&elsewhere, fx.project.join("x")).unwrap();
    write(
        &fx.project.join(".sbox/p.toml"),
        "extends = [\"make\"]\n[[mounts]]\nkind = \"ro-bind\"\nsrc = \"${PROJECT}/.sbox\"\n\
         [[mounts]]\nkind = \"tmpfs\"\ndst = \"${PROJECT}/x/t\"\n",
    );
    chown_tree(&fx.project);
    let o = fx.sbox(&fx.project, &["--profile", ".sbox/p.toml", "--", "true"]);
    assert_one_line_error(&o, "--tmpfs: ");
    assert!(
        stderr(&o).contains("a symbolic link on the way"),
        "{}",
        stderr(&o)
    );
}

/// Run from the home, from /, or below a dotfiles repository in the home: the project would
/// be the whole home (or everything), refused; --project names it instead.
#[test]
fn the_project_is_never_the_home_or_the_root() {
    let fx = fixture("wholehome");
    let refused = |o: &Output, project: &Path| {
        assert_one_line_error(o, "--profile: ");
        let want = format!("{}: the project would be", project.display());
        assert!(stderr(o).contains(&want), "{want:?} not in {:?}", stderr(o));
        assert!(stderr(o).contains("--project DIR"), "{}", stderr(o));
    };
    let steal = ["--", "sh", "-c", "echo pwned >> .bashrc"];
    let o = fx.sbox(&fx.home, &[&["--profile", "make"][..], &steal].concat());
    refused(&o, &fx.home);
    let o = fx.sbox(Path::new("/"), &["--profile", "make", "true"]);
    refused(&o, Path::new("/"));
    // A profile without ${PROJECT} runs from anywhere.
    success(&fx.sbox(Path::new("/"), &["--profile", "curl", "true"]));
    // A dotfiles repository: ~/.git, and a run from a directory below it.
    write(&fx.home.join(".git/HEAD"), "ref: refs/heads/main\n");
    write(&fx.home.join("notes/todo"), "x");
    chown_tree(&fx.home);
    let o = fx.sbox(&fx.home.join("notes"), &["--profile", "make", "true"]);
    refused(&o, &fx.home);
    let home = fx.home.display().to_string();
    let o = fx.sbox(
        &fx.project,
        &["--profile", "make", "--project", &home, "true"],
    );
    refused(&o, &fx.home);
    fx.check_host();

    // --project from the home: that directory is the project, writable.
    let project = fx.project.display().to_string();
    let o = fx.sbox(
        &fx.home,
        &[
            "--profile",
            "make",
            "--project",
            &project,
            "--",
            "sh",
            "-c",
            &format!("touch {project}/made"),
        ],
    );
    success(&o);
    assert!(fx.project.join("made").exists());
}

/// README's `--profile ./ci.toml` in a writable project: run 1 (under `make`) rewrites it to
/// give itself the host network, no seccomp and a writable home; run 2 must refuse it.
#[test]
fn a_profile_its_sandbox_can_rewrite_is_refused() {
    let fx = fixture("rewrite");
    write(&fx.project.join("ci.toml"), "extends = [\"make\"]\n");
    chown_tree(&fx.project);
    let evil = "extends = [\"make\"]\n[namespaces]\nnet = \"host\"\n[seccomp]\nprofile = \"none\"\n\
                [[mounts]]\nkind = \"bind\"\nsrc = \"${HOME}\"\n";
    let rewrite = format!("printf '%s' '{evil}' > ci.toml");
    success(&fx.sbox(
        &fx.project,
        &["--profile", "make", "--", "sh", "-c", &rewrite],
    ));
    assert!(
        std::fs::read_to_string(fx.project.join("ci.toml"))
            .unwrap()
            .contains("net = \"host\"")
    );
    let o = fx.sbox(
        &fx.project,
        &[
            "--profile",
            "./ci.toml",
            "--",
            "sh",
            "-c",
            "echo pwned >> ~/.bashrc",
        ],
    );
    assert_one_line_error(&o, "--profile: ");
    let want = format!(
        "{}: the sandbox could rewrite it (--bind ",
        fx.project.join("ci.toml").display()
    );
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    fx.check_host();
}

/// A profile kept in the project under a read-only bind of its own directory is fine, and
/// the sandbox can't change it.
#[test]
fn a_profile_under_a_read_only_bind_is_accepted() {
    let fx = fixture("covered");
    let text = "extends = [\"make\"]\n[[mounts]]\nkind = \"ro-bind\"\nsrc = \"${PROJECT}/.sbox\"\n";
    write(&fx.project.join(".sbox/ci.toml"), text);
    chown_tree(&fx.project);
    let probe = "echo x >> .sbox/ci.toml || echo refused; touch built";
    let out = success(&fx.sbox(
        &fx.project,
        &["--profile", ".sbox/ci.toml", "--", "sh", "-c", probe],
    ));
    assert!(out.contains("refused"), "{out}");
    assert!(fx.project.join("built").exists());
    let now = std::fs::read_to_string(fx.project.join(".sbox/ci.toml")).unwrap();
    assert_eq!(now, text);
}

/// A search-path directory the sandbox can write could shadow the profile next time: refused,
/// whether it exists yet or not.
#[test]
fn a_writable_search_path_directory_is_refused() {
    let fx = fixture("searchpath");
    let dir = fx.project.join("profiles");
    std::fs::create_dir(&dir).unwrap();
    chown_tree(&fx.project);
    let mut c = as_user(bin());
    c.current_dir(&fx.project)
        .env("HOME", &fx.home)
        .env("SBOX_PROFILE_PATH", &dir)
        .args(["--profile", "make", "true"]);
    let o = c.output().unwrap();
    assert_one_line_error(&o, "--profile: ");
    assert!(
        stderr(&o).contains(&format!("{}: the sandbox could rewrite", dir.display())),
        "{}",
        stderr(&o)
    );
    let config = fx.project.join("config");
    let mut c = as_user(bin());
    c.current_dir(&fx.project)
        .env("HOME", &fx.home)
        .env("XDG_CONFIG_HOME", &config)
        .args(["--profile", "make", "true"]);
    let o = c.output().unwrap();
    assert_one_line_error(&o, "--profile: ");
    let want = format!(
        "{}: the sandbox could rewrite",
        config.join("sbox/profiles").display()
    );
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
}

/// The shipped profiles are part of the binary, and a user's profile of the same name
/// extends the shipped one with `builtin:` (no cycle).
#[test]
fn built_in_profiles_and_extending_the_shipped_one() {
    let fx = fixture("builtin");
    let out = success(&fx.sbox(&fx.project, &["--list-profiles"]));
    for name in ["base", "make", "cargo-build", "python"] {
        let want = format!("{name} (built in)");
        assert!(out.lines().any(|l| l == want), "{want} not in:\n{out}");
    }
    let own = fx.home.join(".config/sbox/profiles/make.toml");
    write(
        &own,
        "extends = [\"builtin:make\"]\n[env]\nset = { MINE = \"yes\" }\n",
    );
    chown_tree(&fx.home);
    let out = success(&fx.sbox(
        &fx.project,
        &[
            "--profile",
            "make",
            "--",
            "sh",
            "-c",
            "echo $MINE; touch built",
        ],
    ));
    assert_eq!(out.trim(), "yes");
    assert!(fx.project.join("built").exists());
    // Without `builtin:` it extends itself: a cycle, and the error says what to write.
    write(&own, "extends = [\"make\"]\n");
    let o = fx.sbox(&fx.project, &["--profile", "make", "true"]);
    assert_one_line_error(&o, "--profile: ");
    assert!(stderr(&o).contains("'builtin:make'"), "{}", stderr(&o));
}

fn git(dir: &Path, home: &Path, args: &[&str]) -> Output {
    let mut c = as_user("git");
    c.current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args);
    c.output().unwrap()
}

/// A git worktree works read-only inside (its gitdir and the main repository's are bound),
/// and a gitfile rewritten to point at the home exposes nothing.
#[test]
fn git_worktrees_work_and_a_rewritten_gitfile_exposes_nothing() {
    if Command::new("git").arg("--version").output().is_err() {
        skip_or_fail("git_worktrees", "no git");
        return;
    }
    let fx = fixture("worktree");
    let main = fx.project.join("main");
    write(&main.join("a.txt"), "a\n");
    chown_tree(&fx.project);
    for args in [
        &["init", "-q"][..],
        &["add", "a.txt"],
        &["commit", "-qm", "one"],
        &["worktree", "add", "-q", "../wt"],
    ] {
        success(&git(&main, &fx.home, args));
    }
    let wt = fx.project.join("wt");
    let out = success(&fx.sbox(
        &wt,
        &[
            "--profile",
            "make",
            "--",
            "sh",
            "-c",
            "git log --format=%s; git status --porcelain; echo x > new.txt",
        ],
    ));
    assert!(out.lines().next() == Some("one"), "{out}");
    assert!(wt.join("new.txt").exists());
    // Run 1, in a sandbox that can write the worktree: the gitfile now points at ~/.ssh.
    let gitfile = wt.join(".git");
    let wtp = wt.display().to_string();
    let plant = format!("echo 'gitdir: {}' > .git", fx.home.join(".ssh").display());
    success(&fx.sbox(
        &wt,
        &[
            "--ro-bind",
            "/",
            "/",
            "--bind",
            &wtp,
            &wtp,
            "--",
            "sh",
            "-c",
            &plant,
        ],
    ));
    assert!(std::fs::read_to_string(&gitfile).unwrap().contains(".ssh"));
    // Run 2: the fake gitdir is not bound; the secrets stay out of reach.
    let steal = format!("cat {}/.ssh/id_rsa > leak", fx.home.display());
    let o = fx.sbox(&wt, &["--profile", "make", "--", "sh", "-c", &steal]);
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(!wt.join("leak").exists() || std::fs::read(wt.join("leak")).unwrap().is_empty());
    fx.check_host();
}

/// $HOME spelled through a link (Fedora Silverblue: /home -> var/home): the profile mounts the
/// real home, and $HOME as given still leads there inside.
#[test]
fn a_home_spelled_through_a_link_still_works() {
    let fx = fixture("homelink");
    let link = scratch("homelink-links").join("home");
    std::os::unix::fs::symlink(&fx.home, &link).unwrap();
    let mut c = as_user(bin());
    c.current_dir(&fx.project)
        .env("HOME", &link)
        .env_remove("SBOX_PROFILE_PATH")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_CACHE_HOME")
        .args([
            "--profile",
            "make",
            "--",
            "sh",
            "-c",
            "cd && touch made && pwd -P",
        ]);
    let out = success(&c.output().unwrap());
    assert_eq!(out.trim(), fx.home.display().to_string());
    assert!(
        !fx.home.join("made").exists(),
        "the home is a private tmpfs"
    );
    fx.check_host();
}

/// A profile whose allowlist lies in the project it lets the build write.
const FETCH: &str =
    "extends = [\"make\"]\n[network]\nallowlist = \"${PROJECT}/.sbox/net-allow.toml\"\n";

/// Run 1 rewrites the project's network allowlist from inside (as a hostile build would, to
/// widen the next run's): the profile that reads that list from a place its sandbox can write
/// is refused at run 2, before anything runs, with one line.
#[test]
fn an_allowlist_its_sandbox_can_rewrite_is_refused() {
    let fx = fixture("allowlist");
    write(&fx.home.join(".config/sbox/profiles/fetch.toml"), FETCH);
    write(
        &fx.project.join(".sbox/net-allow.toml"),
        "allow = [\"registry.test:443\"]\n",
    );
    chown_tree(&fx.home);
    chown_tree(&fx.project);
    let widen =
        "printf 'allow = [\"registry.test:443\", \"evil.test:443\"]\\n' > .sbox/net-allow.toml";
    success(&fx.sbox(&fx.project, &["--profile", "make", "--", "sh", "-c", widen]));
    let list = fx.project.join(".sbox/net-allow.toml");
    assert!(
        std::fs::read_to_string(&list)
            .unwrap()
            .contains("evil.test")
    );
    let o = fx.sbox(
        &fx.project,
        &[
            "--profile",
            "fetch",
            "--",
            "sh",
            "-c",
            "echo pwned >> ~/.bashrc",
        ],
    );
    assert_one_line_error(&o, "--profile: ");
    let want = format!("{}: the sandbox could rewrite it (--bind ", list.display());
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    // Missing, it is refused the same: a build could create it for the next run.
    std::fs::remove_file(&list).unwrap();
    let o = fx.sbox(&fx.project, &["--profile", "fetch", "--", "true"]);
    assert_one_line_error(&o, "--profile: ");
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    fx.check_host();
}

/// npm-install writes the project but keeps .sbox read-only (made when missing): the build
/// can neither create nor change the allowlist, and the next run accepts it. An optional
/// read-only cover whose directory is missing covers nothing (it is skipped at launch).
#[test]
fn a_read_only_sbox_directory_keeps_the_allowlist() {
    let fx = fixture("allowlist-ro");
    let plant = "mkdir -p .sbox; printf 'allow = [\"evil.test:443\"]\\n' > .sbox/net-allow.toml \
                 || echo refused; touch built";
    let out = success(&fx.sbox(
        &fx.project,
        &["--profile", "npm-install", "--", "sh", "-c", plant],
    ));
    assert!(out.contains("refused"), "{out}");
    assert!(fx.project.join("built").exists());
    assert!(fx.project.join(".sbox").is_dir());
    assert!(!fx.project.join(".sbox/net-allow.toml").exists());
    success(&fx.sbox(&fx.project, &["--profile", "npm-install", "--", "true"]));
    // The same cover without `create`: refused while .sbox is missing, fine once it exists.
    let optional = format!(
        "{FETCH}[[mounts]]\nkind = \"ro-bind\"\nsrc = \"${{PROJECT}}/.sbox\"\noptional = true\n"
    );
    write(&fx.home.join(".config/sbox/profiles/fetch.toml"), &optional);
    chown_tree(&fx.home);
    std::fs::remove_dir(fx.project.join(".sbox")).unwrap();
    let o = fx.sbox(&fx.project, &["--profile", "fetch", "--", "true"]);
    assert_one_line_error(&o, "--profile: ");
    assert!(
        stderr(&o).contains("the sandbox could rewrite it"),
        "{}",
        stderr(&o)
    );
    std::fs::create_dir(fx.project.join(".sbox")).unwrap();
    chown_tree(&fx.project);
    success(&fx.sbox(&fx.project, &["--profile", "fetch", "--", "true"]));
    fx.check_host();
}

/// A link planted where the allowlist is read (the list of another project, or anything the
/// build chose) is refused as a profile's mount source would be.
#[test]
fn a_planted_link_on_the_allowlist_path_is_refused() {
    let fx = fixture("allowlist-link");
    let elsewhere = fx.home.join("wide.toml");
    write(&elsewhere, "allow = [\"evil.test:443\"]\n");
    write(&fx.home.join(".config/sbox/profiles/fetch.toml"), FETCH);
    chown_tree(&fx.home);
    let link = fx.project.join(".sbox/net-allow.toml");
    let plant = format!(
        "mkdir -p .sbox && ln -s {} .sbox/net-allow.toml",
        elsewhere.display()
    );
    success(&fx.sbox(
        &fx.project,
        &["--profile", "make", "--", "sh", "-c", &plant],
    ));
    assert!(link.is_symlink());
    let o = fx.sbox(&fx.project, &["--profile", "fetch", "--", "true"]);
    assert_link_refused(&o, &link, &elsewhere);
    fx.check_host();
}

/// A project `.npmrc` naming another registry is what a hostile build plants: npm-install asks
/// npm for its registry from outside the project, so the planted one is not allowed.
#[test]
fn a_planted_npmrc_does_not_choose_the_allowed_registry() {
    if !Path::new("/usr/bin/npm").exists() || !have("curl") {
        return skip_or_fail(
            "a_planted_npmrc_does_not_choose_the_allowed_registry",
            "no /usr/bin/npm (Debian: npm) or curl",
        );
    }
    let fx = fixture("npmrc");
    write(
        &fx.project.join("package.json"),
        "{\"name\": \"p\", \"version\": \"1.0.0\"}\n",
    );
    write(
        &fx.project.join(".npmrc"),
        "registry=http://planted.test:8080/\n",
    );
    chown_tree(&fx.project);
    // npm itself, run in the project, would take the planted registry.
    let o = as_user("/usr/bin/npm")
        .current_dir(&fx.project)
        .env("HOME", &fx.home)
        .args(["config", "get", "registry"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&o).trim(),
        "http://planted.test:8080/",
        "{}",
        stderr(&o)
    );
    let o = fx.sbox(
        &fx.project,
        &[
            "--profile",
            "npm-install",
            "--",
            "curl",
            "-fsS",
            "--max-time",
            "5",
            "http://planted.test:8080/",
        ],
    );
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("sbox: network: refused planted.test:8080 (not in the allowlist)\n"),
        "{}",
        stderr(&o)
    );
    fx.check_host();
}

/// allow_registry runs the tool on the host: an `npm` the sandbox could have planted (in a
/// PATH directory it can write) would run outside it at the next start. Refused, not run.
#[test]
fn a_registry_tool_the_sandbox_could_plant_is_not_run() {
    let fx = fixture("planted-npm");
    let dir = fx.project.join("bin");
    let marker = fx.home.join("ran-outside");
    write(
        &dir.join("npm"),
        &format!(
            "#!/bin/sh\ntouch {}\necho https://planted.test/\n",
            marker.display()
        ),
    );
    std::fs::set_permissions(
        dir.join("npm"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    chown_tree(&fx.project);
    let mut c = as_user(bin());
    c.current_dir(&fx.project)
        .env("HOME", &fx.home)
        .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
        .env_remove("SBOX_PROFILE_PATH")
        .env_remove("XDG_CONFIG_HOME")
        .args(["--profile", "npm-install", "--", "true"]);
    let o = c.output().unwrap();
    assert_one_line_error(&o, "--profile: allow_registry npm: ");
    assert!(
        stderr(&o).contains(&format!("{}: the sandbox could rewrite it", dir.display())),
        "{}",
        stderr(&o)
    );
    assert!(!marker.exists(), "the planted npm ran outside the sandbox");
    fx.check_host();
}
