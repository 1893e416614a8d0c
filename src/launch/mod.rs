//! The launch sequence: the only code that calls the kernel.

pub mod error;
pub mod landlock;
pub mod seccomp;

pub use error::SetupError;

use crate::spec::Spec;

/// Start the sandbox and wait for it; returns the exit status sbox should exit with.
pub fn run(_spec: &Spec) -> Result<i32, SetupError> {
    Err(SetupError::new("launch", "", "not yet"))
}
