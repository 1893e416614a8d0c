use sbox::cli::{self, CliError};
use std::io::Write;

fn main() {
    let mut argv = std::env::args_os();
    let argv0 = argv.next().unwrap_or_default();
    let args: Vec<_> = argv.collect();
    // Messages go to stderr, with their syslog level first when asked (journald reads it).
    let prefix = if args.iter().any(|a| a == "--level-prefix") {
        "<3>"
    } else {
        ""
    };
    // Invoked through a link named bwrap: bubblewrap's defaults, exactly.
    let bwrap = std::path::Path::new(&argv0).file_name() == Some("bwrap".as_ref());
    let parsed = cli::expand_args(args).and_then(|a| cli::parse_as(bwrap, a, &sbox::profile::Host));
    let spec = match parsed {
        Ok(s) => s,
        Err(CliError::Display(text)) => {
            print!("{text}");
            std::process::exit(0)
        }
        Err(CliError::Invalid(msg)) => {
            eprintln!("{prefix}sbox: {msg}");
            std::process::exit(1)
        }
    };
    for w in &spec.warnings {
        eprintln!(
            "{}sbox: warning: {w}",
            if prefix.is_empty() { "" } else { "<4>" }
        );
    }
    let code = match sbox::launch::run(&spec) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{prefix}sbox: {e}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}
