//! Capabilities: everything cleared except what --cap-add kept, which stays usable inside the
//! user namespace only (ambient, so that it survives exec as a non-root uid), or the five
//! sets an OCI config gives.

use crate::error::SetupError;
use crate::spec::CapSets;
use caps::{CapSet, Capability, CapsHashSet};
use nix::errno::Errno;

fn fail(what: &str, e: impl std::fmt::Display) -> SetupError {
    SetupError::new("capabilities", "", format!("{what}: {e}"))
}

/// Everything dropped but `keep`, in all five sets (sbox's own processes: init keeps none).
pub fn restrict_to(keep: &[Capability]) -> Result<(), SetupError> {
    restrict(&CapSets::all_of(keep))
}

/// The command's five sets, exactly. Bounding first (by number, up to the kernel's last one,
/// so that capabilities newer than the caps crate are dropped too), ambient last: it must be
/// permitted and inheritable.
pub fn restrict(sets: &CapSets) -> Result<(), SetupError> {
    for n in 0..64u32 {
        if sets.bounding.iter().any(|c| c.index() as u32 == n) {
            continue;
        }
        // SAFETY: plain prctl call.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, n as libc::c_ulong, 0, 0, 0) } < 0 {
            match Errno::last() {
                Errno::EINVAL => break,
                e => return Err(fail("drop from the bounding set", e)),
            }
        }
    }
    let set = |s: &[Capability]| -> CapsHashSet { s.iter().copied().collect() };
    caps::clear(None, CapSet::Ambient).map_err(|e| fail("clear ambient", e))?;
    caps::set(None, CapSet::Inheritable, &set(&sets.inheritable))
        .map_err(|e| fail("set inheritable", e))?;
    caps::set(None, CapSet::Effective, &set(&sets.effective))
        .map_err(|e| fail("set effective", e))?;
    caps::set(None, CapSet::Permitted, &set(&sets.permitted))
        .map_err(|e| fail("set permitted", e))?;
    for c in &sets.ambient {
        caps::raise(None, CapSet::Ambient, *c).map_err(|e| fail("raise ambient", e))?;
    }
    Ok(())
}

/// no_new_privs: no setuid bit or file capability can raise privileges after this.
pub fn no_new_privs() -> Result<(), SetupError> {
    // SAFETY: plain prctl call.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
        return Err(fail("no_new_privs", Errno::last()));
    }
    Ok(())
}

/// Refuse to run setuid, setgid or with file capabilities: sbox is meant to need no privilege,
/// and a privileged copy would hand it to every user.
pub fn refuse_privileged_binary() -> Result<(), SetupError> {
    use nix::unistd::{getegid, geteuid, getgid, getuid};
    if getuid() != geteuid() || getgid() != getegid() {
        return Err(SetupError::new(
            "startup",
            "",
            "sbox is installed setuid or setgid; it needs no privilege: remove the bit (chmod u-s,g-s)",
        ));
    }
    let permitted = caps::read(None, CapSet::Permitted).map_err(|e| fail("read", e))?;
    if !getuid().is_root() && !permitted.is_empty() {
        return Err(SetupError::new(
            "startup",
            "",
            "sbox has file capabilities; it needs none: remove them (setcap -r)",
        ));
    }
    Ok(())
}
