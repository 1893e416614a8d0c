//! glibc's name service in a static sbox.
//!
//! sbox is linked statically (.cargo/config.toml). For a name that isn't in the /etc files,
//! glibc's NSS would load the system's service modules (systemd, sss, ldap), which need the
//! shared libc: in a static program that crashes (seen: SIGSEGV in getpwuid_r for a uid with
//! no passwd line). So only the services built into libc are used, and such a name is simply
//! not found (${USER} and ${HOME} then come from the environment).

/// Call before anything that may look up a user, group or host (nix's `User`/`Group`, or
/// libdbus). Not at every start: configuring reads /etc/nsswitch.conf, work that a sandbox
/// start needing no lookup should not pay.
pub fn builtin_only() {
    #[cfg(target_feature = "crt-static")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(configure);
    }
}

#[cfg(target_feature = "crt-static")]
fn configure() {
    for (db, services) in [
        (c"passwd", c"files"),
        (c"group", c"files"),
        (c"shadow", c"files"),
        (c"initgroups", c"files"),
        (c"hosts", c"files dns"),
        (c"services", c"files"),
        (c"protocols", c"files"),
        (c"networks", c"files"),
    ] {
        crate::sys::nss_configure_lookup(db, services);
    }
}
