//! config.json → `Spec`: the third front end, beside the command line and profiles. Pure: the
//! facts about the host that the mapping needs come in `Facts`; the result goes through
//! `spec::validate` like any other `Spec`.

use super::config::{Config, Mount, OciError, err};
use crate::spec::values::{parse_cap, parse_octal, parse_size};
use crate::spec::{BindKind, EnvOp, FsOp, SeccompProfile, Spec};
use std::path::{Component, Path, PathBuf};

/// What the mapping needs to know about the runtime's situation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The runtime's uid and gid (in its own user namespace).
    pub uid: u32,
    pub gid: u32,
}

/// A path inside the container: absolute, without `..` (it would name something else once
/// resolved inside the root).
fn inside(path: &str, p: &str) -> Result<PathBuf, OciError> {
    let pb = PathBuf::from(p);
    if !pb.is_absolute() {
        return Err(err(path, format!("{p:?}: not an absolute path")));
    }
    if pb.components().any(|c| c == Component::ParentDir) {
        return Err(err(path, format!("{p:?}: '..' is not allowed")));
    }
    Ok(pb)
}

/// A host path of the bundle: relative ones are relative to the bundle directory.
fn in_bundle(bundle: &Path, p: &str) -> PathBuf {
    match Path::new(p).is_absolute() {
        true => PathBuf::from(p),
        false => bundle.join(p),
    }
}

/// The Spec that runs `c` (bundle: the bundle directory, absolute).
pub fn to_spec(c: &Config, bundle: &Path, facts: &Facts) -> Result<Spec, OciError> {
    let mut spec = Spec {
        // runc's read-only remounts (root, readonlyPaths) leave the mounts below alone.
        remount_ro_shallow: true,
        // The engine owns the terminal (console socket) and stdio: no pty of sbox's own.
        caller_terminal: true,
        // A container may make user namespaces, as under runc; the config's own seccomp
        // program is the policy (none without one).
        allow_userns: true,
        userns_unlimited: true,
        clearenv: true,
        ..Spec::default()
    };
    spec.seccomp.profile = SeccompProfile::None;

    let p = c
        .process
        .as_ref()
        .ok_or_else(|| err("process", "missing (required to run)"))?;
    if p.args.is_empty() {
        return Err(err(
            "process.args",
            "empty (the first is the program to run)",
        ));
    }
    spec.command = p.args.iter().map(Into::into).collect();
    for (i, kv) in p.env.iter().enumerate() {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            err(
                &format!("process.env[{i}]"),
                format!("{kv:?}: not NAME=VALUE"),
            )
        })?;
        spec.env.push(EnvOp::Set(k.into(), v.into()));
    }
    spec.chdir = Some(inside("process.cwd", &p.cwd)?);
    caps(c, &mut spec)?;
    if !p.rlimits.is_empty() {
        spec.warnings
            .push("config.json: process.rlimits: not applied yet".into());
    }
    if !p.no_new_privileges {
        spec.warnings
            .push("config.json: process.noNewPrivileges: false: sbox sets it anyway".into());
    }

    namespaces(c, &mut spec)?;
    ids(c, facts, &mut spec)?;
    spec.hostname = c.hostname.clone();

    let root = c
        .root
        .as_ref()
        .ok_or_else(|| err("root", "missing (required to run)"))?;
    spec.ops.push(FsOp::Bind {
        kind: BindKind::Rw,
        src: in_bundle(bundle, &root.path),
        dst: "/".into(),
        optional: false,
    });
    let mut dev = false;
    for (i, m) in c.mounts.iter().enumerate() {
        mount(&format!("mounts[{i}]"), m, bundle, &mut dev, &mut spec)?;
    }
    if let Some(l) = &c.linux {
        for (i, m) in l.masked_paths.iter().enumerate() {
            let dst = inside(&format!("linux.maskedPaths[{i}]"), m)?;
            spec.ops.push(FsOp::Mask { dst });
        }
        for (i, m) in l.readonly_paths.iter().enumerate() {
            let dst = inside(&format!("linux.readonlyPaths[{i}]"), m)?;
            spec.ops.push(FsOp::ReadOnlyPath { dst });
        }
        if let Some((k, _)) = l.sysctl.iter().next() {
            return Err(err(&format!("linux.sysctl.{k}"), "not supported yet"));
        }
        if let Some(r) = &l.resources {
            resources(r, &mut spec)?;
        }
        if let Some(prop) = &l.rootfs_propagation {
            // sbox makes every mount of the sandbox private; "slave" ones would only differ
            // by receiving the host's later mounts.
            if !matches!(prop.as_str(), "private" | "rprivate" | "slave" | "rslave") {
                return Err(err(
                    "linux.rootfsPropagation",
                    format!("{prop:?}: not supported (sbox's mounts are private)"),
                ));
            }
        }
        if let Some(s) = &l.seccomp {
            spec.seccomp.programs.push(super::seccomp::compile(s)?);
        }
    }
    if root.readonly {
        spec.ops.push(FsOp::RemountRo { dst: "/".into() });
    }
    crate::spec::validate(&spec).map_err(|e| OciError(format!("config.json: {}", e.message)))?;
    Ok(spec)
}

fn caps(c: &Config, spec: &mut Spec) -> Result<(), OciError> {
    let Some(cs) = c.process.as_ref().and_then(|p| p.capabilities.as_ref()) else {
        return Ok(());
    };
    let sets = [
        ("bounding", &cs.bounding),
        ("effective", &cs.effective),
        ("permitted", &cs.permitted),
        ("inheritable", &cs.inheritable),
        ("ambient", &cs.ambient),
    ];
    let mut parsed = Vec::new();
    for (name, set) in sets {
        let mut v = Vec::new();
        for (i, s) in set.iter().flatten().enumerate() {
            let path = format!("process.capabilities.{name}[{i}]");
            let cap = parse_cap(&path, s).map_err(|e| OciError(format!("config.json: {e}")))?;
            if !v.contains(&cap) {
                v.push(cap);
            }
        }
        parsed.push((name, v));
    }
    // Until launch sets the five sets one by one: the permitted set, everywhere.
    spec.caps = parsed[2].1.clone();
    Ok(())
}

fn namespaces(c: &Config, spec: &mut Spec) -> Result<(), OciError> {
    let Some(l) = &c.linux else { return Ok(()) };
    let mut seen: Vec<&str> = Vec::new();
    for (i, n) in l.namespaces.iter().enumerate() {
        let path = format!("linux.namespaces[{i}]");
        if seen.contains(&n.kind.as_str()) {
            return Err(err(&path, format!("{:?}: listed twice", n.kind)));
        }
        seen.push(&n.kind);
        if n.path.is_some() {
            return Err(err(
                &format!("{path}.path"),
                "joining a namespace: not supported yet",
            ));
        }
        let ns = &mut spec.ns;
        match n.kind.as_str() {
            "pid" => ns.pid = true,
            "network" => ns.net = true,
            "ipc" => ns.ipc = true,
            "uts" => ns.uts = true,
            "cgroup" => ns.cgroup = true,
            // sbox always makes both.
            "mount" | "user" => {}
            "time" => return Err(err(&format!("{path}.type"), "\"time\": not supported")),
            other => {
                return Err(err(
                    &format!("{path}.type"),
                    format!(
                        "{other:?}: not a namespace type (pid, network, ipc, uts, mount, user, cgroup)"
                    ),
                ));
            }
        }
    }
    // The process is the container's pid 1.
    spec.as_pid_1 = spec.ns.pid;
    Ok(())
}

/// The process's uid and gid. sbox maps the runtime's own ids to them (one id each).
fn ids(c: &Config, facts: &Facts, spec: &mut Spec) -> Result<(), OciError> {
    let Some(p) = &c.process else { return Ok(()) };
    let maps = c.linux.as_ref().map(|l| (&l.uid_mappings, &l.gid_mappings));
    for (name, map, host, want) in [
        ("uidMappings", maps.map(|m| m.0), facts.uid, p.user.uid),
        ("gidMappings", maps.map(|m| m.1), facts.gid, p.user.gid),
    ] {
        match map.map(|m| m.as_slice()).unwrap_or_default() {
            [] => {}
            [m] if m.host_id == host && m.size == 1 && m.container_id == want => {}
            _ => {
                return Err(err(
                    &format!("linux.{name}"),
                    format!(
                        "not supported yet: only the runtime's own id ({host}) mapped to the process's ({want})"
                    ),
                ));
            }
        }
    }
    spec.uid = Some(p.user.uid);
    spec.gid = Some(p.user.gid);
    if !p.user.additional_gids.is_empty() {
        return Err(err("process.user.additionalGids", "not supported yet"));
    }
    Ok(())
}

/// Options every mount type accepts: sbox's mounts are private, nosuid and (but binds of
/// devices) nodev already; access-time options change nothing a container can rely on.
fn common_option(o: &str) -> bool {
    matches!(
        o,
        "nosuid"
            | "nodev"
            | "private"
            | "rprivate"
            | "slave"
            | "rslave"
            | "relatime"
            | "norelatime"
            | "strictatime"
            | "nostrictatime"
            | "noatime"
            | "atime"
            | "nodiratime"
            | "diratime"
            | "rw"
    )
}

fn mount(
    path: &str,
    m: &Mount,
    bundle: &Path,
    dev: &mut bool,
    spec: &mut Spec,
) -> Result<(), OciError> {
    let dst = inside(&format!("{path}.destination"), &m.destination)?;
    let bind = m.options.iter().any(|o| o == "bind" || o == "rbind");
    // A mount with a bind option is a bind whatever its type says ("none" in runc's template).
    let kind = match bind {
        true => "bind",
        false => m.kind.as_deref().unwrap_or(""),
    };
    let bad = |j: usize, o: &str| {
        err(
            &format!("{path}.options[{j}]"),
            format!("{o:?}: not supported for a {kind} mount"),
        )
    };
    // Options sbox can't honour yet (a noexec that isn't applied is no protection).
    let mut ro = false;
    let mut perms = None;
    let mut size = None;
    for (j, o) in m.options.iter().enumerate() {
        match (kind, o.as_str()) {
            (_, "ro") => ro = true,
            (_, o) if common_option(o) => {}
            // What sbox applies anyway to proc, mqueue, devpts and sysfs.
            ("proc" | "mqueue" | "devpts", "noexec") => {}
            // Kernel filesystems without programs: noexec changes nothing there.
            ("sysfs" | "cgroup" | "cgroup2", "noexec") => {}
            ("bind", "noexec") if sysfs_source(m.source.as_deref()) => {}
            (_, "noexec") => spec.warnings.push(format!(
                "config.json: {path}.options[{j}]: noexec: not applied yet"
            )),
            ("bind", "bind" | "rbind" | "dev") => {}
            ("tmpfs", o) if o.starts_with("mode=") => {
                perms = Some(
                    parse_octal(&format!("{path}.options[{j}]"), &o[5..])
                        .map_err(|e| OciError(format!("config.json: {e}")))?,
                )
            }
            ("tmpfs", o) if o.starts_with("size=") => {
                size = Some(
                    parse_size(&format!("{path}.options[{j}]"), &o[5..])
                        .map_err(|e| OciError(format!("config.json: {e}")))?,
                )
            }
            // sbox's devpts has these; gid=5 (tty) is rarely mapped in a rootless container,
            // and runc's rootless template drops it: its terminals get the process's group.
            ("devpts", "newinstance" | "ptmxmode=0666" | "mode=0620" | "mode=620" | "gid=5") => {}
            _ => return Err(bad(j, o)),
        }
    }
    let src = m.source.as_deref();
    match kind {
        "proc" => spec.ops.push(FsOp::Proc { dst }),
        // sbox's /dev: a tmpfs with the devices the runtime spec requires (null, zero, full,
        // random, urandom, tty, ptmx → pts/ptmx, fd, stdin/out/err links) and a devpts.
        "tmpfs" if dst == Path::new("/dev") => {
            spec.ops.push(FsOp::Dev { dst });
            *dev = true;
        }
        "tmpfs" => spec.ops.push(FsOp::Tmpfs { dst, perms, size }),
        // /dev's own devpts instance (newinstance, ptmxmode=0666, mode=0620) is there already.
        "devpts" if *dev && dst == Path::new("/dev/pts") => {}
        "devpts" => {
            return Err(err(
                &format!("{path}.destination"),
                format!(
                    "{:?}: a devpts is supported at /dev/pts, after a tmpfs on /dev",
                    m.destination
                ),
            ));
        }
        "mqueue" => spec.ops.push(FsOp::Mqueue { dst }),
        // A rootless sandbox can't mount a sysfs: the host's, read-only, as rootless runc does.
        "sysfs" => spec.ops.push(FsOp::Bind {
            kind: BindKind::Ro,
            src: "/sys".into(),
            dst,
            optional: false,
        }),
        "cgroup" | "cgroup2" => spec.ops.push(FsOp::Bind {
            kind: BindKind::Ro,
            src: "/sys/fs/cgroup".into(),
            dst,
            optional: false,
        }),
        "bind" => {
            let src = src.ok_or_else(|| {
                err(
                    &format!("{path}.source"),
                    "missing (required for a bind mount)",
                )
            })?;
            let dev_nodes = m.options.iter().any(|o| o == "dev");
            spec.ops.push(FsOp::Bind {
                kind: match (ro, dev_nodes) {
                    (true, _) => BindKind::Ro,
                    (false, true) => BindKind::Dev,
                    (false, false) => BindKind::Rw,
                },
                src: in_bundle(bundle, src),
                dst,
                optional: false,
            });
            return Ok(());
        }
        other => {
            return Err(err(
                &format!("{path}.type"),
                format!(
                    "{other:?}: not supported (bind, proc, tmpfs, devpts, mqueue, sysfs, cgroup)"
                ),
            ));
        }
    }
    // Binds are read-only as they are made; the others are remounted.
    let made_ro = matches!(
        spec.ops.last(),
        Some(FsOp::Bind {
            kind: BindKind::Ro,
            ..
        })
    );
    if ro && !made_ro && kind != "devpts" {
        spec.ops.push(FsOp::RemountRo {
            dst: m.destination.clone().into(),
        });
    }
    Ok(())
}

/// The host's /sys or a path below it (what runc's rootless template binds for a sysfs).
fn sysfs_source(src: Option<&str>) -> bool {
    src.is_some_and(|s| Path::new(s).starts_with("/sys"))
}

fn resources(r: &super::config::Resources, spec: &mut Spec) -> Result<(), OciError> {
    if let Some(l) = r.memory.as_ref().and_then(|m| m.limit) {
        match l {
            -1 => {}
            l if l > 0 => spec.limits.memory = Some(l as u64),
            _ => {
                return Err(err(
                    "linux.resources.memory.limit",
                    format!("{l}: not a limit (bytes, or -1)"),
                ));
            }
        }
    }
    if let Some(p) = &r.pids {
        match p.limit {
            -1 | 0 => {}
            l if l > 0 => spec.limits.pids = Some(l as u64),
            l => {
                return Err(err(
                    "linux.resources.pids.limit",
                    format!("{l}: not a limit"),
                ));
            }
        }
    }
    if let Some(c) = &r.cpu {
        let period = c.period.unwrap_or(100_000);
        match c.quota {
            None | Some(-1) => {}
            Some(q) if q > 0 && period > 0 => {
                // sbox's limit is a percent of one CPU: rounded up, never below 1%.
                let pct = (q as u64 * 100).div_ceil(period).clamp(1, 100_000);
                spec.limits.cpu_percent = Some(pct as u32);
            }
            Some(q) => {
                return Err(err(
                    "linux.resources.cpu.quota",
                    format!("{q}: not a quota (microseconds, or -1)"),
                ));
            }
        }
    }
    Ok(())
}
