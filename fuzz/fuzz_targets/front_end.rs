//! The command line and profile front end, fed whatever the fuzzer makes, as `main` runs it
//! (`--args` expansion, the modes, the sandbox command line) with profiles from memory and
//! nothing started. It must never panic, and an error must be one line naming its option.
//!
//! Input: `PROFILE 0xFF ARGV [0xFF ARGS]`. PROFILE is the text of profile `t` (used through
//! `--profile t` when not empty); ARGV the arguments, NUL-separated; ARGS, when present, the
//! NUL-separated contents of an `--args` descriptor put first on the command line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sbox::cli::{self, CliError};
use sbox::profile::{Loader, Mem, Vars};
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;


macro_rules! shipped {
    ($($n:literal),*) => {
        [$(($n, include_str!(concat!("../../profiles/", $n, ".toml")))),*]
    };
}
const SHIPPED: [(&str, &str); 4] = shipped!("base", "project", "net", "shell");

fn loader(profile: &str) -> Loader<Mem> {
    let mut files = BTreeMap::from([(PathBuf::from("/p/t.toml"), profile.to_string())]);
    for (n, t) in SHIPPED {
        files.insert(PathBuf::from(format!("/shipped/{n}.toml")), t.to_string());
    }
    Loader {
        source: Mem {
            dirs: vec!["/p".into(), "/shipped".into()],
            files,
        },
        vars: Vars::example(),
    }
}

/// NUL-separated words, without `--args`: only the descriptor made here may be read.
fn words(b: &[u8]) -> Vec<OsString> {
    b.split(|c| *c == 0)
        .map(|w| OsStr::from_bytes(w).to_os_string())
        .filter(|w| w != "--args")
        .collect()
}

/// The `--args` descriptor: a pipe holding `data`, at a number nothing else uses.
const ARGS_FD: i32 = 900;

fn args_fd(data: &[u8]) -> i32 {
    let (r, mut w) = std::io::pipe().expect("pipe");
    // More than a pipe holds would block: the rest is cut.
    let data = &data[..data.len().min(60_000)];
    std::io::Write::write_all(&mut w, data).expect("write");
    drop(w);
    // SAFETY: plain descriptor calls on our own pipe and our reserved number.
    unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&r), ARGS_FD) };
    ARGS_FD
}

fn check(e: &CliError) {
    let m = e.render(false);
    assert!(
        !m.contains(char::is_control) && !m.is_empty(),
        "not one line: {m:?}"
    );
    let names_option =
        m.starts_with('-') && m.split_once(": ").is_some_and(|(opt, _)| opt.len() > 1);
    assert!(
        names_option || m.starts_with("no command given"),
        "names no option: {m:?}"
    );
    let b = e.render(true);
    assert!(
        !b.contains(char::is_control) && !b.is_empty(),
        "not one line: {b:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0xFF);
    let profile = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let mut args = Vec::new();
    if !profile.is_empty() {
        args.extend(["--profile", "t"].map(OsString::from));
    }
    let argv = parts.next().unwrap_or_default();
    let bwrap = argv.first().is_some_and(|b| b & 1 == 1);
    if let Some(extra) = parts.next() {
        let mut bytes = Vec::new();
        for w in words(extra) {
            bytes.extend_from_slice(w.as_bytes());
            bytes.push(0);
        }
        args.extend(["--args".into(), args_fd(&bytes).to_string().into()]);
    }
    args.extend(words(argv));
    let l = loader(&profile);
    let r = cli::expand_args(args).and_then(|a| {
        if cli::mode(&a)?.is_some() {
            return Ok(());
        }
        let name = if bwrap { "bwrap" } else { "sbox" };
        cli::parse_named(name, bwrap, a, &l).map(drop)
    });
    // SAFETY: our reserved number; closed already when --args read it.
    unsafe { libc::close(ARGS_FD) };
    if let Err(e) = r {
        check(&e);
    }
});
