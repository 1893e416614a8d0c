use sbox::cli::{self, CliError};
use std::io::Write;

fn main() {
    let spec = match cli::parse(std::env::args_os().skip(1)) {
        Ok(s) => s,
        Err(CliError::Display(text)) => {
            print!("{text}");
            std::process::exit(0)
        }
        Err(CliError::Invalid(msg)) => {
            eprintln!("sbox: {msg}");
            std::process::exit(1)
        }
    };
    let code = match sbox::launch::run(&spec) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sbox: {e}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}
