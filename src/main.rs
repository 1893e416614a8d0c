// No Rust runtime start-up (sbox::sys::start says why and what it keeps instead): the entry
// point is sbox::entry!, at the end of this file.
#![cfg_attr(not(test), no_main)]

use sbox::cli::{self, Front, Mode};
use sbox::error::SetupError;
use sbox::output::{self, Level, Name};
use std::io::Write;

#[cfg_attr(test, allow(dead_code))]
fn sbox_main() {
    let mut argv = std::env::args_os();
    let argv0 = argv.next().unwrap_or_default();
    let args: Vec<_> = argv.collect();
    // Invoked through a link named sbox-runc: an OCI runtime with runc's command line.
    if std::path::Path::new(&argv0).file_name() == Some("sbox-runc".as_ref()) {
        let code = sbox::oci::runtime::main(args);
        let _ = std::io::stdout().flush();
        std::process::exit(code)
    }
    // Invoked through a link named bwrap: bubblewrap's defaults, exactly, and its messages:
    // its name first, and its phrases where it has them (programs match them).
    let bwrap = std::path::Path::new(&argv0).file_name() == Some("bwrap".as_ref());
    output::set_bwrap(bwrap);
    let spec = match cli::front(&argv0.to_string_lossy(), bwrap, args, &sbox::profile::Host) {
        Ok(Front::Run(s)) => s,
        Ok(Front::Print(text)) => {
            print!("{text}");
            std::process::exit(0)
        }
        // --doctor, --completions, --mkroot do something else than start a sandbox.
        Ok(Front::Mode { mode, level_prefix }) => {
            output::set_level_prefix(level_prefix);
            std::process::exit(run_mode(mode))
        }
        Err(refused) => {
            output::set_level_prefix(refused.level_prefix);
            output::error(&refused.error.render(bwrap));
            std::process::exit(1)
        }
    };
    output::set_level_prefix(spec.level_prefix);
    for w in &spec.warnings {
        output::warning(w);
    }
    let code = match sbox::launch::run(&spec) {
        Ok(code) => code,
        Err(e) => {
            output::error(&e.render(bwrap));
            1
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// Runs a mode; returns the exit status.
fn run_mode(mode: Mode) -> i32 {
    match mode {
        Mode::Doctor => sbox::doctor::run(),
        Mode::Completions(shell) => {
            clap_complete::generate(shell, &mut cli::command(), "sbox", &mut std::io::stdout());
            0
        }
        Mode::Mkroot {
            dir,
            busybox,
            programs,
        } => {
            // What to suggest running first: busybox's shell, or the first program named.
            let first = match &busybox {
                Some(_) => "sh".into(),
                None => programs[0].to_string_lossy().into_owned(),
            };
            let built = match busybox {
                Some(b) => sbox::mkroot::resolve_program(&b)
                    .and_then(|b| sbox::mkroot::build_busybox(&dir, &b)),
                None => sbox::mkroot::build(&dir, &programs),
            };
            match built {
                Ok(paths) => {
                    let dir = dir.display();
                    println!(
                        "{dir}: {} files installed; try: sbox --ro-bind {dir} / --unshare-pid \
                         --proc /proc {first}",
                        paths.len()
                    );
                    0
                }
                Err(e) => {
                    // sbox's own mode: its name even under the `bwrap` link.
                    let e = SetupError::from(e);
                    output::say(Level::Error, Name::Sbox, &e.to_string());
                    1
                }
            }
        }
    }
}

sbox::entry!(sbox_main);
