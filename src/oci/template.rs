//! `spec [--rootless]`: a starting config.json, with what `runc spec` writes (engines and
//! tutorials expect that shape): a shell on a terminal, three capabilities, a read-only
//! `rootfs`, the usual kernel filesystems and the /proc and /sys paths a container should
//! not see or change.

use super::config::{
    Capabilities, Config, IdMap, Linux, Mount, Namespace, Process, Rlimit, Root, User,
};
use super::spec::Facts;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn mount(dst: &str, kind: &str, src: &str, options: &[&str]) -> Mount {
    Mount {
        destination: dst.into(),
        kind: Some(kind.into()),
        source: Some(src.into()),
        options: strings(options),
    }
}

/// The template; `rootless`: for a user without privilege (`facts` gives their ids), which
/// adds a user namespace mapping them to root and leaves out what needs privilege.
pub fn template(rootless: bool, facts: &Facts) -> Config {
    let caps = strings(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let sys = match rootless {
        // Only a sysfs's owner may mount one: the host's, read-only.
        true => mount(
            "/sys",
            "none",
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", "ro"],
        ),
        false => mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
    };
    // A devpts's gid=5 (tty) exists only when the host's groups are mapped.
    let devpts: &[&str] = match rootless {
        true => &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
        ],
        false => &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ],
    };
    let mut namespaces: Vec<Namespace> = ["pid", "ipc", "uts", "mount"]
        .iter()
        .map(|k| Namespace {
            kind: k.to_string(),
            path: None,
        })
        .collect();
    let one = |id| {
        vec![IdMap {
            container_id: 0,
            host_id: id,
            size: 1,
        }]
    };
    let (uid_mappings, gid_mappings) = match rootless {
        true => {
            namespaces.push(Namespace {
                kind: "user".into(),
                path: None,
            });
            (one(facts.uid), one(facts.gid))
        }
        false => {
            namespaces.insert(
                1,
                Namespace {
                    kind: "network".into(),
                    path: None,
                },
            );
            (Vec::new(), Vec::new())
        }
    };
    Config {
        oci_version: "1.0.2".into(),
        process: Some(Process {
            terminal: true,
            user: User::default(),
            args: strings(&["sh"]),
            env: strings(&[
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ]),
            cwd: "/".into(),
            capabilities: Some(Capabilities {
                bounding: Some(caps.clone()),
                effective: Some(caps.clone()),
                permitted: Some(caps.clone()),
                ambient: Some(caps),
                inheritable: None,
            }),
            rlimits: vec![Rlimit {
                kind: "RLIMIT_NOFILE".into(),
                hard: 1024,
                soft: 1024,
            }],
            no_new_privileges: true,
            ..Process::default()
        }),
        root: Some(Root {
            path: "rootfs".into(),
            readonly: true,
        }),
        hostname: Some("sbox".into()),
        mounts: vec![
            mount("/proc", "proc", "proc", &[]),
            mount(
                "/dev",
                "tmpfs",
                "tmpfs",
                &["nosuid", "strictatime", "mode=755", "size=65536k"],
            ),
            mount("/dev/pts", "devpts", "devpts", devpts),
            mount(
                "/dev/shm",
                "tmpfs",
                "shm",
                &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            ),
            mount(
                "/dev/mqueue",
                "mqueue",
                "mqueue",
                &["nosuid", "noexec", "nodev"],
            ),
            sys,
            mount(
                "/sys/fs/cgroup",
                "cgroup",
                "cgroup",
                &["nosuid", "noexec", "nodev", "relatime", "ro"],
            ),
        ],
        linux: Some(Linux {
            namespaces,
            uid_mappings,
            gid_mappings,
            masked_paths: strings(&[
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
            ]),
            readonly_paths: strings(&[
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ]),
            ..Linux::default()
        }),
        ..Config::default()
    }
}

/// The template as `spec` writes it: pretty JSON and a final newline.
pub fn to_json(c: &Config) -> String {
    let mut s = serde_json::to_string_pretty(c).expect("plain data serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::config::parse;
    use crate::oci::spec::to_spec;
    use crate::spec::FsOp;
    use std::path::Path;

    fn facts() -> Facts {
        Facts {
            uid: 4321,
            gid: 4321,
            privileged: false,
        }
    }

    /// What `spec` writes reads back as the same config, and runs: both templates.
    #[test]
    fn templates_round_trip_to_a_spec() {
        for rootless in [true, false] {
            let t = template(rootless, &facts());
            let text = to_json(&t);
            let back = parse(&text).unwrap();
            assert_eq!(back, t, "{text}");
            let f = match rootless {
                true => facts(),
                false => Facts {
                    uid: 0,
                    gid: 0,
                    privileged: true,
                },
            };
            let s = to_spec(&back, Path::new("/b"), &f).unwrap();
            assert_eq!(s.command, ["sh"]);
            assert!(s.ns.pid && s.ns.ipc && s.ns.uts && s.as_pid_1);
            assert_eq!(s.ns.net, !rootless);
            assert_eq!(s.hostname.as_deref(), Some("sbox"));
            assert_eq!(s.uid, Some(0));
            assert_eq!(
                s.ops.first(),
                Some(&FsOp::Bind {
                    kind: crate::spec::BindKind::Rw,
                    src: "/b/rootfs".into(),
                    dst: "/".into(),
                    optional: false,
                })
            );
            assert_eq!(s.ops.last(), Some(&FsOp::RemountRo { dst: "/".into() }));
            assert!(s.ops.contains(&FsOp::Dev { dst: "/dev".into() }));
            assert!(s.ops.contains(&FsOp::Mask {
                dst: "/proc/kcore".into()
            }));
        }
    }

    #[test]
    fn rootless_maps_the_callers_ids() {
        let text = to_json(&template(true, &facts()));
        assert!(text.contains("\"hostID\": 4321"), "{text}");
        assert!(text.contains("\"type\": \"user\""));
        assert!(!text.contains("\"network\""));
        assert!(!text.contains("gid=5"));
        assert!(text.ends_with("}\n"));
    }
}
