//! sbox as a rootless OCI runtime (issue 15): an OCI bundle is a third front end to `Spec`,
//! and `runtime` speaks runc's command line (the `sbox-runc` link) so that engines can drive it.

pub mod runtime;
