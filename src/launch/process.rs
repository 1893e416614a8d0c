//! The command's process attributes from the Spec that an OCI config brings: rlimits,
//! oom_score_adj, additional groups, umask, capability sets, sysctls.

use crate::error::SetupError;
use crate::spec::Spec;

/// The Spec fields this build of launch does not apply yet: refused in one line rather than
/// ignored.
pub fn refuse_unsupported(spec: &Spec) -> Result<(), SetupError> {
    let unsupported = [
        (!spec.ns.join.is_empty(), "joining namespaces by path"),
        (spec.ns.no_userns, "no user namespace"),
        (
            !spec.uid_map.is_empty() || !spec.gid_map.is_empty(),
            "id maps",
        ),
        (!spec.rlimits.is_empty(), "rlimits"),
        (spec.oom_score_adj.is_some(), "oom_score_adj"),
        (!spec.groups.is_empty(), "additional gids"),
        (spec.umask.is_some(), "umask"),
        (spec.cap_sets.is_some(), "capability sets"),
        (spec.allow_new_privs, "no_new_privs off"),
        (!spec.sysctl.is_empty(), "sysctl"),
    ];
    match unsupported.iter().find(|(on, _)| *on) {
        Some((_, what)) => Err(SetupError::new(*what, "", "not supported yet")),
        None => Ok(()),
    }
}
