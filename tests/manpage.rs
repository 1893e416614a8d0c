//! man/sbox.1 is generated: NAME, SYNOPSIS, DESCRIPTION and every option from the clap
//! definitions (clap_mangen), then the hand-written sections below. This test fails when the
//! committed page is stale. Regenerate with: SBOX_BLESS=1 cargo test --test manpage

use roff::{Inline, Roff, bold, italic, roman};

/// A paragraph of running text; `*word*` is bold, `_word_` italic.
fn para(r: &mut Roff, text: &str) {
    r.control("PP", []);
    r.text(inlines(text));
}

/// A tagged paragraph: `tag` (bold) with `text` indented below it.
fn item(r: &mut Roff, tag: &str, text: &str) {
    r.control("TP", []);
    r.text([bold(tag)]);
    r.text(inlines(text));
}

/// Literal lines, indented, not filled.
fn example(r: &mut Roff, lines: &[&str]) {
    r.control("PP", []);
    r.control("RS", ["4"]);
    r.control("nf", []);
    for l in lines {
        r.text([roman(*l)]);
    }
    r.control("fi", []);
    r.control("RE", []);
}

fn inlines(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        let sep = if i == 0 { "" } else { " " };
        out.push(roman(sep));
        // Trailing punctuation after a marked word stays roman.
        let end = word.trim_end_matches([',', '.', ';', ')', ':']);
        let (mark, tail) = word.split_at(end.len());
        match (mark.strip_prefix('*'), mark.strip_prefix('_')) {
            (Some(w), _) if w.ends_with('*') => out.push(bold(&w[..w.len() - 1])),
            (_, Some(w)) if w.ends_with('_') && w.len() > 1 => out.push(italic(&w[..w.len() - 1])),
            _ => out.push(roman(mark)),
        }
        out.push(roman(tail));
    }
    out
}

fn extra_sections() -> String {
    let mut r = Roff::new();
    r.control("SH", ["OPERATION"]);
    para(
        &mut r,
        "Options come first; the first argument that is not an option (or everything after \
         *--*) is the command. Filesystem operations are applied in the order given, on a new \
         root that starts as an empty tmpfs; a later operation can mount on top of an earlier \
         one. Destinations are resolved inside the new root without following symlinks out of \
         it.",
    );
    para(
        &mut r,
        "A user and a mount namespace are always created; only the caller's uid and gid are \
         mapped. Before the command starts, every capability is dropped (except *--cap-add*), \
         no_new_privs is set, descriptors other than 0, 1 and 2 are closed (except those \
         passed with *--keep-fd*, *--keep-fds* or *--sync-fd*), then Landlock and the seccomp \
         policy are installed, seccomp last. SIGINT, SIGTERM, SIGHUP, SIGQUIT, \
         SIGUSR1 and SIGUSR2 sent to sbox reach every process of the sandbox: with \
         *--unshare-pid* its init (pid 1), which reaps orphans and ignores signals sent to it \
         from inside, passes them to all the others; without, the command's process group gets \
         them.",
    );
    para(
        &mut r,
        "When standard input, output or error is a terminal, the command gets a \
         pseudo-terminal of its own, relayed by sbox (your terminal is raw meanwhile, and its \
         modes are restored at the end): nothing inside can read or drive your terminal. \
         Otherwise the command starts a new session when sbox has a controlling terminal, and \
         leads a process group of its own when it has none. Under the *bwrap* link: no \
         pseudo-terminal, and the caller's session unless *--new-session*, as bubblewrap.",
    );
    para(
        &mut r,
        "Invoked through a link named *bwrap*, sbox keeps bubblewrap's defaults exactly where \
         its own are stricter: no seccomp policy unless one is named, no limit on nested user \
         namespaces, non-recursive *--remount-ro*, and every descriptor the caller left open \
         (not close-on-exec) passed on to the command, as with *--keep-fds*. Its messages are \
         then bubblewrap's: bwrap: first, and bubblewrap's phrases where it has them \
         (Unknown option, Can't find source path, ...), which programs that drive bwrap match.",
    );

    r.control("SH", ["INHERITED DESCRIPTORS"]);
    para(
        &mut r,
        "As *sbox*, the command gets only descriptors 0, 1 and 2 unless more are asked for: \
         *--keep-fd* _N_ passes one (repeatable), *--keep-fds* every one the caller left open \
         without close-on-exec. Neither sbox's own descriptors nor those that options consume \
         reach the command: those of *--args*, *--info-fd*, *--json-status-fd*, *--block-fd*, \
         *--userns-block-fd*, *--seccomp*, *--file*, *--bind-data*, *--bind-fd*, *--userns* and \
         *--pidns*. Neither sbox nor the sandbox's init keeps a copy of a passed descriptor, \
         so the command's closing it is seen at once.",
    );
    para(
        &mut r,
        "A make jobserver (MAKEFLAGS=--jobserver-auth=R,W, from a recipe marked + or running \
         $(MAKE)): *--keep-fd* _R_ *--keep-fd* _W_, or *--keep-fds*; make 4.4's fifo jobserver \
         needs the fifo bound instead. Socket activation (LISTEN_FDS=N): *--keep-fd* 3 and \
         the following, and LISTEN_PID set to the command's pid inside.",
    );

    r.control("SH", ["PROFILES"]);
    para(
        &mut r,
        "*--profile* _NAME_ loads a TOML profile: the same options, written down. It is looked \
         for in each directory of *$SBOX_PROFILE_PATH* (colon-separated), then \
         _~/.config/sbox/profiles_, _/etc/sbox/profiles_, the profiles installed with sbox in \
         _PREFIX/share/sbox/profiles_, then the same shipped profiles compiled into sbox; in \
         *extends*, _builtin:NAME_ names the compiled-in one.",
    );
    para(
        &mut r,
        "A profile's mounts pass through no symlink below the caller's own places (the home, \
         the project, the working directory, the cache and runtime directories): a previous \
         sandbox could have planted one. The project is never the home, a parent of it or /: \
         name it with *--project* _DIR_. A profile that its own sandbox could rewrite (under a \
         writable bind not covered by a later read-only one) is refused.",
    );
    para(
        &mut r,
        "In a profile's [network] table, *allowlist* = _PATH_ names an allowlist file (TOML: *allow* and \
         *deny* lists, one rule per entry); while it exists, even empty, the sandbox reaches \
         only what it and the profile's rules allow, through sbox; while it is missing the \
         profile's network is kept and one line says how to record it. *allow_registry* = \
         [\"npm\", \"pip\", \"cargo\"] allows the registry that tool is configured with, \
         asked on the host from /. *--net-record* _FILE_ writes such a file: a trusted run, \
         whatever it reaches is listed. An allowlist, or a tool asked, that the sandbox could \
         rewrite is refused, as a profile is. *--share-net* and *--unshare-net* set the file \
         aside.",
    );

    r.control("SH", ["LIMITS"]);
    para(
        &mut r,
        "*--mem*, *--pids* and *--cpu* limit the command (not sbox's own setup) through a \
         cgroup v2 subtree the user owns: sbox asks the user's systemd instance, over the user \
         D-Bus, for a transient scope with Delegate=yes, or uses the cgroup it already runs in \
         when that is a delegated cgroup v2 subtree (a container, a unit with Delegate=yes). \
         Every limit is written and read back; when the command is killed for exceeding \
         *--mem*, sbox says so and exits with status 137. The command can't lift them: it runs \
         in a cgroup namespace of its own, rooted at its limited cgroup, and every cgroup2 \
         mount the sandbox sees is read-only inside.",
    );
    para(
        &mut r,
        "They need the unified cgroup v2 layout (on a hybrid or v1 host, boot with \
         systemd.unified_cgroup_hierarchy=1) and the memory, pids and cpu controllers \
         delegated to the user's systemd instance (systemd 252 and later do it by default; \
         otherwise add Delegate=cpu memory pids to user@.service). Without them, sbox refuses \
         to start and names the fix; *sbox* *--doctor* reports what this host offers.",
    );

    r.control("SH", ["EXIT STATUS"]);
    item(
        &mut r,
        "the command's status",
        "Its exit code, or 128 plus the number of the signal that killed it.",
    );
    item(
        &mut r,
        "1",
        "sbox failed before the command started: a bad command line, a missing source, a \
         refused namespace, a limit that can't be set, or a command not found in the sandbox. \
         The reason is one line on stderr, sbox: <option or step>: <path>: <why>, and nothing \
         is left running or mounted.",
    );
    item(
        &mut r,
        "137",
        "The command was killed for going over *--mem* (sbox prints the limit and the peak).",
    );
    item(
        &mut r,
        "--doctor",
        "0 when the basic sandbox can run on this host (warnings mean a feature is missing), 1 \
         when it can't.",
    );

    r.control("SH", ["ENVIRONMENT"]);
    item(
        &mut r,
        "SBOX_PROFILE_PATH",
        "Directories searched first for *--profile* names, colon-separated.",
    );
    item(
        &mut r,
        "DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR",
        "Where the user D-Bus is (else $XDG_RUNTIME_DIR/bus); needed by the limits.",
    );
    item(
        &mut r,
        "PATH",
        "Searched inside the sandbox for the command; searched on the host for *--mkroot* \
         programs.",
    );
    item(
        &mut r,
        "HOME",
        "The working directory inside when neither *--chdir* nor the current directory is \
         available there.",
    );

    r.control("SH", ["FILES"]);
    item(
        &mut r,
        "~/.config/sbox/profiles/, /etc/sbox/profiles/, PREFIX/share/sbox/profiles/",
        "Profiles, in search order.",
    );
    item(
        &mut r,
        "PROJECT/.sbox/net-allow.toml, ~/.config/sbox/net-allow.toml",
        "The network allowlists of the fetch profiles (cargo-fetch, npm-install, pip-install; \
         net and curl), recorded with *--net-record*.",
    );
    item(
        &mut r,
        "/proc/sys/user/max_user_namespaces, /proc/sys/kernel/unprivileged_userns_clone",
        "Must allow unprivileged user namespaces.",
    );
    item(
        &mut r,
        "/etc/apparmor.d/sbox",
        "On Ubuntu 24.04 and later (kernel.apparmor_restrict_unprivileged_userns=1), the \
         AppArmor profile that lets sbox use user namespaces; installed by ./install.sh as \
         PREFIX/share/sbox/apparmor/sbox.",
    );

    r.control("SH", ["EXAMPLES"]);
    para(
        &mut r,
        "A shell on a read-only view of the host, alone in its namespaces:",
    );
    example(
        &mut r,
        &["sbox --ro-bind / / --unshare-all --proc /proc --dev /dev --tmpfs /tmp sh"],
    );
    para(
        &mut r,
        "A minimal root built from host programs, then a shell in it, with 512 KiB of memory:",
    );
    example(
        &mut r,
        &[
            "sbox --mkroot rootfs sh ls",
            "sbox --ro-bind rootfs / --mem 512K sh",
        ],
    );
    para(
        &mut r,
        "The same with busybox, with a PID namespace and its own /proc:",
    );
    example(
        &mut r,
        &[
            "sbox --mkroot rootfs --busybox",
            "sbox --ro-bind rootfs / --unshare-pid --proc /proc sh",
        ],
    );
    para(
        &mut r,
        "No network, writes only to the current directory, strict seccomp, and Landlock from \
         the mounts:",
    );
    example(
        &mut r,
        &[
            "sbox --ro-bind / / --bind \"$PWD\" \"$PWD\" --unshare-net \\",
            "     --seccomp-profile strict --landlock make",
        ],
    );
    para(&mut r, "What this host supports, and completions for bash:");
    example(
        &mut r,
        &[
            "sbox --doctor",
            "sbox --completions bash > ~/.local/share/bash-completion/completions/sbox",
        ],
    );

    r.control("SH", ["SEE ALSO"]);
    r.text([roman(
        "bwrap(1), namespaces(7), user_namespaces(7), capabilities(7), seccomp(2), \
         landlock(7), cgroups(7), systemd.resource-control(5)",
    )]);
    r.to_roff()
}

#[test]
fn man_page_is_current() {
    let mut page = Vec::new();
    clap_mangen::Man::new(sbox::cli::command())
        .render(&mut page)
        .unwrap();
    let mut page = String::from_utf8(page).unwrap();
    // The hand-written sections go after the options, before VERSION.
    let at = page.find(".SH VERSION").unwrap_or(page.len());
    page.insert_str(at, &extra_sections());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/sbox.1");
    if std::env::var_os("SBOX_BLESS").is_some() {
        std::fs::write(path, &page).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == page,
        "man/sbox.1 is stale: run SBOX_BLESS=1 cargo test --test manpage"
    );
}

/// `man` renders the page without a warning (needs man-db, installed by .ci/run).
#[test]
fn man_page_renders_cleanly() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/sbox.1");
    let out = std::process::Command::new("man")
        .args(["--warnings", "-l", path])
        .env("MANWIDTH", "80")
        .output()
        .expect("man (man-db) is installed");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "man warnings");
    let text = String::from_utf8_lossy(&out.stdout);
    for heading in [
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "EXAMPLES",
        "PROFILES",
    ] {
        assert!(text.contains(heading), "{heading} missing");
    }
    assert!(text.contains("sbox --ro-bind rootfs / --mem 512K sh"));
}
