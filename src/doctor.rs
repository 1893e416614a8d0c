//! `sbox --doctor`: what this host supports, and the fix for what it doesn't. One line per
//! check, PASS, WARN (a feature is missing) or FAIL (the basic sandbox can't run).
//!
//! The probes are small on purpose: sysctls are read, and what can simply be tried (a user
//! and mount namespace with a tmpfs and an overlay) is tried in a forked child, by the launch
//! code itself (`launch::probe`), so that it is tried the way a sandbox is built.

use crate::cgroup::{self, Layout};
use crate::error::StepError;
use crate::launch::probe;
use std::io::Write;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Pass,
    Warn,
    Fail,
}

struct Report {
    failed: bool,
}

impl Report {
    fn line(&mut self, status: Status, topic: &str, text: impl AsRef<str>) {
        let tag = match status {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        self.failed |= status == Status::Fail;
        // A closed stdout (`sbox --doctor | head`) is not an error worth a panic.
        let _ = writeln!(std::io::stdout(), "{tag}  {topic}: {}", text.as_ref());
    }
}

/// Runs every check and prints one line each; the exit status is 1 when the basic sandbox
/// can't run here.
pub fn run() -> i32 {
    let mut r = Report { failed: false };
    if nix::unistd::geteuid().is_root() {
        r.line(
            Status::Warn,
            "user",
            "running as root: some restrictions apply only to normal users; fix: run \
             'sbox --doctor' as the user who will run sbox",
        );
    }
    kernel(&mut r);
    user_namespaces(&mut r);
    seccomp(&mut r);
    let abi = probe::landlock_abi();
    if abi >= 1 {
        r.line(Status::Pass, "Landlock", format!("ABI {abi}"));
    } else {
        r.line(
            Status::Warn,
            "Landlock",
            "not available, so --landlock* options fail; fix: Linux 5.13+ with 'landlock' in \
             the lsm= boot parameter",
        );
    }
    syscalls(&mut r);
    network(&mut r);
    limits(&mut r);
    i32::from(r.failed)
}

/// Kernel release as (major, minor).
fn release() -> (u32, u32, String) {
    let rel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut nums = rel
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse().unwrap_or(0));
    (nums.next().unwrap_or(0), nums.next().unwrap_or(0), rel)
}

fn kernel(r: &mut Report) {
    let (major, minor, rel) = release();
    if (major, minor) >= (5, 12) {
        r.line(
            Status::Pass,
            "kernel",
            format!("Linux {rel} (the new mount API sbox uses needs 5.12)"),
        );
    } else {
        r.line(
            Status::Fail,
            "kernel",
            format!(
                "Linux {rel}: sbox builds mounts with the new mount API (open_tree, \
                 move_mount, mount_setattr), which needs 5.12; fix: upgrade the kernel"
            ),
        );
    }
}

fn sysctl(name: &str) -> Option<String> {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn user_namespaces(r: &mut Report) {
    match sysctl("user.max_user_namespaces").as_deref() {
        Some("0") => r.line(
            Status::Fail,
            "user.max_user_namespaces",
            "0: no user namespace can be created; fix: sysctl -w user.max_user_namespaces=15000",
        ),
        Some(n) => r.line(Status::Pass, "user.max_user_namespaces", n),
        None => r.line(
            Status::Fail,
            "user.max_user_namespaces",
            "missing: this kernel has no user namespaces; fix: a kernel with CONFIG_USER_NS=y",
        ),
    }
    // Debian's and Ubuntu's older kernels gate unprivileged user namespaces with this.
    match sysctl("kernel.unprivileged_userns_clone").as_deref() {
        Some("0") => r.line(
            Status::Fail,
            "kernel.unprivileged_userns_clone",
            "0: normal users can't create user namespaces; fix: sysctl -w \
             kernel.unprivileged_userns_clone=1",
        ),
        Some(v) => r.line(Status::Pass, "kernel.unprivileged_userns_clone", v),
        None => r.line(
            Status::Pass,
            "kernel.unprivileged_userns_clone",
            "not present (no such restriction)",
        ),
    }
    // Ubuntu 24.04+: a user namespace gets no capabilities unless an AppArmor profile allows it.
    match sysctl("kernel.apparmor_restrict_unprivileged_userns").as_deref() {
        Some("1") => r.line(
            Status::Warn,
            "kernel.apparmor_restrict_unprivileged_userns",
            "1: sbox needs an AppArmor profile with 'userns,'; fix: install the one shipped \
             in share/sbox/apparmor/sbox into /etc/apparmor.d/ and run \
             'apparmor_parser -r /etc/apparmor.d/sbox'",
        ),
        Some(v) => r.line(
            Status::Pass,
            "kernel.apparmor_restrict_unprivileged_userns",
            v,
        ),
        None => r.line(
            Status::Pass,
            "kernel.apparmor_restrict_unprivileged_userns",
            "not present (no such restriction)",
        ),
    }
    match probe::namespaces() {
        Ok(()) => {
            r.line(
                Status::Pass,
                "user namespaces",
                "a user and mount namespace with a tmpfs works",
            );
            r.line(Status::Pass, "overlayfs", "mounts in a user namespace");
        }
        Err(e) if e.starts_with("overlay") => r.line(
            Status::Warn,
            "overlayfs",
            format!(
                "{e}: --overlay, --tmp-overlay and --ro-overlay fail; fix: Linux 5.11+ with \
                 CONFIG_OVERLAY_FS (modprobe overlay)"
            ),
        ),
        Err(e) => r.line(
            Status::Fail,
            "user namespaces",
            format!(
                "{e}: the sandbox can't be built; fix: the sysctls above (and on Ubuntu the \
                 AppArmor profile)"
            ),
        ),
    }
}

fn seccomp(r: &mut Report) {
    let mode = probe::seccomp_mode();
    let actions =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    if mode < 0 || !actions.split_whitespace().any(|a| a == "errno") {
        r.line(
            Status::Fail,
            "seccomp",
            "no seccomp filters, so sbox's default policy can't be installed; fix: a kernel \
             with CONFIG_SECCOMP_FILTER, or --seccomp-profile none (no syscall filtering)",
        );
    } else if mode > 0 {
        r.line(
            Status::Pass,
            "seccomp",
            "filters available (sbox itself already runs under one: nested filters stack)",
        );
    } else {
        r.line(Status::Pass, "seccomp", "filters available");
    }
}

/// clone3 and pidfd_open.
fn syscalls(r: &mut Report) {
    for (name, since, available) in probe::optional_syscalls() {
        if available {
            r.line(Status::Pass, name, "available");
        } else {
            r.line(
                Status::Warn,
                name,
                format!("missing (Linux {since}); sbox doesn't need it, programs inside fall back"),
            );
        }
    }
}

/// The network allowlist (`--net-allow`, `--net-record`, the fetch profiles' allowlists):
/// its steps inside a namespace, then the host's resolver that the supervisor asks. Both are
/// warnings: without them only the allowlist mode fails, `--unshare-net` and the host
/// network still work.
fn network(r: &mut Report) {
    match probe::network() {
        Ok(()) => r.line(
            Status::Pass,
            "network allowlist",
            "a network namespace with its DNS responder (port 53), proxy and port listeners, passed out",
        ),
        Err(e) => r.line(
            Status::Warn,
            "network allowlist",
            format!(
                "{e}: --net-allow and --net-record fail (--unshare-net and the host network \
                 work); fix: the user namespace checks above"
            ),
        ),
    }
    match probe::host_dns() {
        Ok(server) => r.line(
            Status::Pass,
            "host DNS",
            format!("{server} answers (allowed names are resolved on the host)"),
        ),
        Err(e) => r.line(
            Status::Warn,
            "host DNS",
            format!(
                "{e}: allowed names can't be resolved, only address rules work; fix: a \
                 nameserver in /etc/resolv.conf that answers"
            ),
        ),
    }
}

fn limits(r: &mut Report) {
    match cgroup::layout() {
        Layout::Unified(mnt) => r.line(
            Status::Pass,
            "cgroup layout",
            format!("cgroup v2 only ({})", mnt.display()),
        ),
        Layout::Hybrid(mnt) => r.line(
            Status::Warn,
            "cgroup layout",
            format!(
                "hybrid: cgroup v2 at {}, controllers on cgroup v1; fix: boot with \
                 systemd.unified_cgroup_hierarchy=1",
                mnt.display()
            ),
        ),
        Layout::V1 => r.line(
            Status::Warn,
            "cgroup layout",
            "cgroup v1 only; fix: boot with systemd.unified_cgroup_hierarchy=1",
        ),
    }
    match cgroup::systemd::user_manager_version() {
        Ok(v) => r.line(
            Status::Pass,
            "systemd user instance",
            format!("systemd {v} answers on the user bus"),
        ),
        Err(e) => r.line(
            Status::Warn,
            "systemd user instance",
            format!("{}: {e}", e.path()),
        ),
    }
    let delegated = cgroup::delegation();
    match &delegated {
        Some((cg, have)) => r.line(
            if have.is_empty() {
                Status::Warn
            } else {
                Status::Pass
            },
            "delegated controllers",
            format!(
                "{} in {}",
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(" ")
                },
                cg.display()
            ),
        ),
        None => r.line(
            Status::Warn,
            "delegated controllers",
            "none: no systemd user manager cgroup, and your own cgroup is not writable; fix: \
             log in through systemd (or enable lingering: loginctl enable-linger), or run \
             sbox in a delegated cgroup v2 subtree",
        ),
    }
    for (opt, name, what) in [
        ("--mem", "memory", "memory limits"),
        ("--pids", "pids", "process limits"),
        ("--cpu", "cpu", "CPU limits"),
    ] {
        let topic = format!("{what} ({opt})");
        match cgroup::layout_allows(opt) {
            Err(e) => r.line(Status::Warn, &topic, format!("unavailable: {e}")),
            Ok(()) => match &delegated {
                Some((_, have)) if have.iter().any(|h| h == name) => {
                    r.line(Status::Pass, &topic, "available")
                }
                _ => r.line(
                    Status::Warn,
                    &topic,
                    format!(
                        "unavailable: the {name} controller is not delegated to you; fix: \
                         'systemctl edit user@.service', add [Service] Delegate=cpu memory \
                         pids, and log in again"
                    ),
                ),
            },
        }
    }
}
