//! sbox: an unprivileged, rootless sandbox for Linux.
//!
//! Data flows one way: the command line (and profiles) produce a [`spec::Spec`]; [`launch`]
//! is the only code that calls the kernel to build the sandbox from it.

pub mod cgroup;
pub mod cli;
pub mod doctor;
pub mod error;
pub mod launch;
pub mod mkroot;
pub mod nss;
pub mod profile;
pub mod spec;
