//! Capabilities: everything cleared except what --cap-add kept, which stays usable inside the
//! user namespace only (ambient, so that it survives exec as a non-root uid), or the five
//! sets an OCI config gives.

use crate::error::StepError;
use crate::spec::CapSets;
use caps::{CapSet, Capability, CapsHashSet};
use nix::errno::Errno;
use std::borrow::Cow;
use std::fmt;

#[derive(Debug)]
pub enum CapsError {
    /// A prctl failed; `what`: the change asked.
    Prctl { what: &'static str, errno: Errno },
    /// Reading or changing a capability set failed.
    Set {
        what: &'static str,
        err: caps::errors::CapsError,
    },
    /// sbox runs setuid or setgid.
    SetId,
    /// sbox has file capabilities.
    FileCaps,
}

impl fmt::Display for CapsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapsError::Prctl { what, errno } => write!(f, "{what}: {errno}"),
            CapsError::Set { what, err } => write!(f, "{what}: {err}"),
            CapsError::SetId => f.write_str(
                "sbox is installed setuid or setgid; it needs no privilege: remove the bit \
                 (chmod u-s,g-s)",
            ),
            CapsError::FileCaps => {
                f.write_str("sbox has file capabilities; it needs none: remove them (setcap -r)")
            }
        }
    }
}

impl StepError for CapsError {
    fn step(&self) -> Cow<'_, str> {
        match self {
            CapsError::SetId | CapsError::FileCaps => "startup".into(),
            _ => "capabilities".into(),
        }
    }
}

fn fail(what: &'static str, err: caps::errors::CapsError) -> CapsError {
    CapsError::Set { what, err }
}

/// Everything dropped but `keep`, in all five sets (sbox's own processes: init keeps none).
pub fn restrict_to(keep: &[Capability]) -> Result<(), CapsError> {
    restrict(&CapSets::all_of(keep))
}

/// The command's five sets, exactly. Bounding first (by number, up to the kernel's last one,
/// so that capabilities newer than the caps crate are dropped too), ambient last: it must be
/// permitted and inheritable.
pub fn restrict(sets: &CapSets) -> Result<(), CapsError> {
    for n in 0..64u32 {
        if sets.bounding.iter().any(|c| c.index() as u32 == n) {
            continue;
        }
        // SAFETY: plain prctl call.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, n as libc::c_ulong, 0, 0, 0) } < 0 {
            match Errno::last() {
                Errno::EINVAL => break,
                errno => {
                    return Err(CapsError::Prctl {
                        what: "drop from the bounding set",
                        errno,
                    });
                }
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
pub fn no_new_privs() -> Result<(), CapsError> {
    // SAFETY: plain prctl call.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
        return Err(CapsError::Prctl {
            what: "no_new_privs",
            errno: Errno::last(),
        });
    }
    Ok(())
}

/// Refuse to run setuid, setgid or with file capabilities: sbox is meant to need no privilege,
/// and a privileged copy would hand it to every user.
pub fn refuse_privileged_binary() -> Result<(), CapsError> {
    use nix::unistd::{getegid, geteuid, getgid, getuid};
    if getuid() != geteuid() || getgid() != getegid() {
        return Err(CapsError::SetId);
    }
    let permitted = caps::read(None, CapSet::Permitted).map_err(|e| fail("read", e))?;
    if !getuid().is_root() && !permitted.is_empty() {
        return Err(CapsError::FileCaps);
    }
    Ok(())
}
