//! sbox as an OCI runtime: config.json read into a `Spec` (a third front end).

pub mod config;
pub mod seccomp;
pub mod spec;
pub mod template;
