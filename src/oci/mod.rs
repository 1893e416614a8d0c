//! sbox as a rootless OCI runtime (issue 15): an OCI bundle is a third front end to `Spec`,
//! and `runtime` speaks runc's command line (the `sbox-runc` link) so that engines can drive it.
//! config.json is read with every refusal naming its JSON path (`config`), mapped to a `Spec`
//! (`spec`), its linux.seccomp compiled to BPF (`seccomp`); `template` is `spec`'s output.

pub mod config;
pub mod runtime;
pub mod seccomp;
pub mod spec;
pub mod template;
