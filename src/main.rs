// No Rust runtime start-up: it reads /proc/self/maps (glibc's pthread_getattr_np, to place a
// stack guard) and installs overflow handlers at each sandbox start, for nothing sbox needs.
// `main` below keeps what sbox relies on: SIGPIPE ignored (write errors become EPIPE) and
// descriptors 0-2 open. bench/README.md has the measurement.
#![cfg_attr(not(test), no_main)]

use sbox::cli::{self, Mode, Parsed};
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
    // Messages go to stderr, with their syslog level first when asked (journald reads it).
    let prefix = if args.iter().any(|a| a == "--level-prefix") {
        "<3>"
    } else {
        ""
    };
    // Invoked through a link named bwrap: bubblewrap's defaults, exactly, and its messages:
    // its name first, and its phrases where it has them (programs match them).
    let bwrap = std::path::Path::new(&argv0).file_name() == Some("bwrap".as_ref());
    let name = if bwrap { "bwrap" } else { "sbox" };
    let parsed = cli::expand_args(args).and_then(|a| {
        // --doctor, --completions, --mkroot do something else than start a sandbox.
        if let Some(mode) = cli::mode(&a)? {
            std::process::exit(run_mode(mode, prefix));
        }
        cli::parse_named(&argv0.to_string_lossy(), bwrap, a, &sbox::profile::Host)
    });
    let spec = match parsed {
        Ok(Parsed::Run(s)) => s,
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("{prefix}{name}: {}", e.render(bwrap));
            std::process::exit(1)
        }
    };
    let warning = if bwrap { "" } else { "warning: " };
    for w in &spec.warnings {
        eprintln!(
            "{}{name}: {warning}{w}",
            if prefix.is_empty() { "" } else { "<4>" }
        );
    }
    let code = match sbox::launch::run(&spec) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{prefix}{name}: {}", e.render(bwrap));
            1
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// Runs a mode; returns the exit status.
fn run_mode(mode: Mode, prefix: &str) -> i32 {
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
                    let e = sbox::error::one_line(&e.to_string()).into_owned();
                    eprintln!("{prefix}sbox: --mkroot: {e}");
                    1
                }
            }
        }
    }
}

/// The process entry point (see the top of this file).
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: single-threaded start-up; plain libc calls on our own descriptors and signals.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        // A closed 0, 1 or 2 would be taken by the next open (a file could receive messages
        // meant for stderr): hold /dev/null there instead, as Rust's runtime does.
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        if libc::poll(fds.as_mut_ptr(), 3, 0) >= 0 {
            for p in fds {
                if p.revents & libc::POLLNVAL != 0
                    && libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) < 0
                {
                    libc::abort();
                }
            }
        }
    }
    sbox_main();
    0
}
