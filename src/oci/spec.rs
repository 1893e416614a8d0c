//! config.json → `Spec`: the third front end, beside the command line and profiles. Pure: the
//! facts about the host that the mapping needs come in `Facts`; the result goes through
//! `spec::validate` like any other `Spec`.

use super::config::{Config, Mount, OciError, err};
use crate::spec::values::{parse_cap, parse_octal, parse_size};
use crate::spec::{
    BindKind, CapSets, EnvOp, FsOp, IdRange, NsJoin, NsKind, Rlimit, RlimitKind, ScopeUnit,
    SeccompProfile, Spec,
};
use std::path::{Component, Path, PathBuf};

/// What the mapping needs to know about the runtime's situation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The runtime's uid and gid (in its own user namespace).
    pub uid: u32,
    pub gid: u32,
    /// The runtime holds CAP_SYS_ADMIN in its own user namespace (podman runs it as uid 0 in
    /// podman's): a config without a user namespace then gets none (the sandbox stays in
    /// the runtime's). Otherwise sbox makes one anyway, mapping the runtime's ids to the
    /// process's, since nothing can be built without privilege.
    pub privileged: bool,
}

/// A refusal worded by the value vocabulary or `spec::validate`, as config.json's (one line:
/// it may quote the config's strings).
fn said(e: impl std::fmt::Display) -> OciError {
    OciError(crate::error::one_line(&format!("config.json: {e}")).into_owned())
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

/// What `spec::validate`'s refusals call a config's fields: their JSON paths.
#[derive(Default)]
pub struct ConfigNames {
    /// The config has `domainname`: the first sysctl is its (see `to_spec`).
    pub domainname: bool,
}

impl crate::spec::validate::Names for ConfigNames {
    fn hostname(&self) -> &'static str {
        "hostname"
    }
    fn create_ns(&self, kind: NsKind) -> String {
        let kind = match kind {
            NsKind::Net => "network",
            k => k.name(),
        };
        format!("{{\"type\": \"{kind}\"}} in linux.namespaces")
    }
    fn env(&self, at: usize, _: &EnvOp) -> String {
        format!("process.env[{at}]")
    }
    fn id_map(&self, uid: bool) -> &'static str {
        if uid {
            "linux.uidMappings"
        } else {
            "linux.gidMappings"
        }
    }
    fn own_id(&self, uid: bool) -> &'static str {
        if uid {
            "process.user.uid"
        } else {
            "process.user.gid"
        }
    }
    fn rlimit(&self, at: usize, kind: RlimitKind) -> String {
        format!("process.rlimits[{at}] (RLIMIT_{})", kind.name())
    }
    fn oom_score_adj(&self) -> &'static str {
        "process.oomScoreAdj"
    }
    fn umask(&self) -> &'static str {
        "process.user.umask"
    }
    fn cap_set(&self, set: &'static str) -> String {
        format!("process.capabilities.{set}")
    }
    fn groups(&self) -> &'static str {
        "process.user.additionalGids"
    }
    fn sysctl(&self, at: usize, key: &str) -> String {
        match self.domainname && at == 0 {
            true => "domainname".into(),
            false => format!("linux.sysctl[{key:?}]"),
        }
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
    for (i, r) in p.rlimits.iter().enumerate() {
        let kind = RlimitKind::from_name(&r.kind).filter(|_| r.kind.starts_with("RLIMIT_"));
        let kind = kind.ok_or_else(|| {
            err(
                &format!("process.rlimits[{i}].type"),
                format!(
                    "{:?}: not a resource of setrlimit(2) (e.g. RLIMIT_NOFILE)",
                    r.kind
                ),
            )
        })?;
        spec.rlimits.push(Rlimit {
            kind,
            soft: r.soft,
            hard: r.hard,
        });
    }
    spec.allow_new_privs = !p.no_new_privileges;
    spec.oom_score_adj = p.oom_score_adj;
    spec.umask = p.user.umask;
    spec.groups = p.user.additional_gids.clone();
    // SELinux labels, as --exec-label and --file-label (an empty one is none).
    spec.exec_label = p.selinux_label.clone().filter(|l| !l.is_empty());
    spec.file_label = (c.linux.as_ref())
        .and_then(|l| l.mount_label.clone())
        .filter(|l| !l.is_empty());

    namespaces(c, &mut spec)?;
    ids(c, facts, &mut spec)?;
    spec.hostname = c.hostname.clone();
    if let Some(d) = &c.domainname {
        // The UTS namespace's other name, written as its sysctl (validate: needs a UTS
        // namespace and /proc).
        spec.sysctl.push(("kernel.domainname".into(), d.clone()));
    }

    let root = c
        .root
        .as_ref()
        .ok_or_else(|| err("root", "missing (required to run)"))?;
    spec.ops.push(FsOp::Bind {
        // Setuid programs and file capabilities only where privileges may be gained at all
        // (with no_new_privs they are inert: the root is then nosuid, nodev as other binds).
        kind: match spec.allow_new_privs {
            true => BindKind::Suid,
            false => BindKind::Rw,
        },
        src: in_bundle(bundle, &root.path),
        dst: "/".into(),
        optional: false,
    });
    let mut dev = false;
    for (i, m) in c.mounts.iter().enumerate() {
        mount(&format!("mounts[{i}]"), m, bundle, &mut dev, &mut spec)?;
    }
    // The runtime spec's default devices are there whatever the mounts say: sbox's /dev
    // (tmpfs, null, zero, full, random, urandom, tty, ptmx, pts, shm, fd, stdio links) when
    // no mount is made on /dev itself, before the mounts below it.
    if !spec.ops[1..].iter().any(|o| o.dst() == Path::new("/dev")) {
        spec.ops.insert(1, FsOp::Dev { dst: "/dev".into() });
    }
    if let Some(l) = &c.linux {
        // After the mounts, as runc makes them: the host's node at the same path.
        for (i, d) in l.devices.iter().enumerate() {
            let dst = inside(&format!("linux.devices[{i}].path"), &d.path)?;
            spec.ops.push(FsOp::Bind {
                kind: BindKind::Dev,
                src: dst.clone(),
                dst,
                optional: false,
            });
        }
        for (i, m) in l.masked_paths.iter().enumerate() {
            let dst = inside(&format!("linux.maskedPaths[{i}]"), m)?;
            spec.ops.push(FsOp::Mask { dst });
        }
        for (i, m) in l.readonly_paths.iter().enumerate() {
            let dst = inside(&format!("linux.readonlyPaths[{i}]"), m)?;
            spec.ops.push(FsOp::ReadOnlyPath { dst });
        }
        (spec.sysctl).extend(l.sysctl.iter().map(|(k, v)| (k.clone(), v.clone())));
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
    let names = ConfigNames {
        domainname: c.domainname.is_some(),
    };
    crate::spec::validate::validate_as(&spec, &names).map_err(|e| said(e.message))?;
    Ok(spec)
}

fn caps(c: &Config, spec: &mut Spec) -> Result<(), OciError> {
    let Some(cs) = c.process.as_ref().and_then(|p| p.capabilities.as_ref()) else {
        return Ok(());
    };
    let set = |name: &str, list: &Option<Vec<String>>| -> Result<Vec<caps::Capability>, OciError> {
        let mut v = Vec::new();
        for (i, s) in list.iter().flatten().enumerate() {
            let path = format!("process.capabilities.{name}[{i}]");
            let cap = parse_cap(&path, s).map_err(said)?;
            if !v.contains(&cap) {
                v.push(cap);
            }
        }
        Ok(v)
    };
    let mut sets = CapSets {
        bounding: set("bounding", &cs.bounding)?,
        effective: set("effective", &cs.effective)?,
        permitted: set("permitted", &cs.permitted)?,
        inheritable: set("inheritable", &cs.inheritable)?,
        ambient: set("ambient", &cs.ambient)?,
    };
    // The kernel raises an ambient capability only if it is inheritable (and permitted):
    // runc's template lists ambient ones without inheritable, and runc, whose raise then
    // fails, goes on without them. So does sbox.
    let (inh, per) = (&sets.inheritable, &sets.permitted);
    sets.ambient = (sets.ambient.iter())
        .filter(|c| inh.contains(c) && per.contains(c))
        .copied()
        .collect();
    spec.cap_sets = Some(sets);
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
        let kind = match n.kind.as_str() {
            "pid" => NsKind::Pid,
            "network" => NsKind::Net,
            "ipc" => NsKind::Ipc,
            "uts" => NsKind::Uts,
            "cgroup" => NsKind::Cgroup,
            "mount" => NsKind::Mount,
            "user" => NsKind::User,
            "time" => return Err(err(&format!("{path}.type"), "\"time\": not supported")),
            other => {
                return Err(err(
                    &format!("{path}.type"),
                    format!(
                        "{other:?}: not a namespace type (pid, network, ipc, uts, mount, user, cgroup)"
                    ),
                ));
            }
        };
        if let Some(p) = &n.path {
            let file = inside(&format!("{path}.path"), p)?;
            spec.ns.join.push(NsJoin { kind, path: file });
            continue;
        }
        let ns = &mut spec.ns;
        match kind {
            NsKind::Pid => ns.pid = true,
            NsKind::Net => ns.net = true,
            NsKind::Ipc => ns.ipc = true,
            NsKind::Uts => ns.uts = true,
            NsKind::Cgroup => ns.cgroup = true,
            // sbox always makes a mount namespace, and a user namespace unless `ids` says.
            NsKind::Mount | NsKind::User => {}
        }
    }
    // The process is the container's pid 1.
    spec.as_pid_1 = spec.ns.pid;
    Ok(())
}

/// The process's uid and gid, and the user namespace: none when the config has none and the
/// runtime is privileged in its own; else one of the sandbox's own (or joined by path, see
/// `namespaces`), with the config's id maps.
fn ids(c: &Config, facts: &Facts, spec: &mut Spec) -> Result<(), OciError> {
    let Some(p) = &c.process else { return Ok(()) };
    let listed = (c.linux.iter())
        .flat_map(|l| &l.namespaces)
        .any(|n| n.kind == "user");
    if !listed && facts.privileged {
        spec.ns.no_userns = true;
    }
    let maps = c.linux.as_ref().map(|l| (&l.uid_mappings, &l.gid_mappings));
    for (name, map, host, want) in [
        ("uidMappings", maps.map(|m| m.0), facts.uid, p.user.uid),
        ("gidMappings", maps.map(|m| m.1), facts.gid, p.user.gid),
    ] {
        let map = map.map(|m| m.as_slice()).unwrap_or_default();
        if !map.is_empty() && !listed {
            return Err(err(
                &format!("linux.{name}"),
                "needs a user namespace (add {\"type\": \"user\"} to linux.namespaces)",
            ));
        }
        let ranges = map.iter().map(|r| IdRange {
            inside: r.container_id,
            outside: r.host_id,
            count: r.size,
        });
        let out = match name {
            "uidMappings" => &mut spec.uid_map,
            _ => &mut spec.gid_map,
        };
        match map {
            // The runtime's own id as the process's: what sbox writes by itself, cheaply.
            [m] if m.host_id == host && m.size == 1 && m.container_id == want => {}
            _ => *out = ranges.collect(),
        }
    }
    spec.uid = Some(p.user.uid);
    spec.gid = Some(p.user.gid);
    Ok(())
}

/// The mount options `mount` takes (by mount type there), for `features`.
pub const MOUNT_OPTIONS: &[&str] = &[
    "bind",
    "rbind",
    "ro",
    "rw",
    "nosuid",
    "nodev",
    "dev",
    "suid",
    "exec",
    "noexec",
    "private",
    "rprivate",
    "slave",
    "rslave",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "noatime",
    "atime",
    "nodiratime",
    "diratime",
    "mode=",
    "size=",
    "tmpcopyup",
    "newinstance",
    "ptmxmode=0666",
    "mode=0620",
    "gid=5",
];

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
    // A relative destination is relative to "/" (runtime-spec 1.1, for older configs).
    let abs = match m.destination.starts_with('/') {
        true => m.destination.clone(),
        false => format!("/{}", m.destination),
    };
    let dst = inside(&format!("{path}.destination"), &abs)?;
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
    let (mut ro, mut noexec, mut copy_up) = (false, false, false);
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
            ("bind" | "tmpfs", "noexec") => noexec = true,
            // The tmpfs starts with a copy of what it covers (podman's --read-only).
            ("tmpfs", "tmpcopyup") => copy_up = true,
            ("bind", "bind" | "rbind" | "dev" | "suid" | "exec") => {}
            ("tmpfs", o) if o.starts_with("mode=") => {
                perms = Some(parse_octal(&format!("{path}.options[{j}]"), &o[5..]).map_err(said)?)
            }
            ("tmpfs", o) if o.starts_with("size=") => {
                size = Some(parse_size(&format!("{path}.options[{j}]"), &o[5..]).map_err(said)?)
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
        "tmpfs" if copy_up => spec.ops.push(FsOp::TmpfsCopyUp { dst, perms, size }),
        "tmpfs" => spec.ops.push(FsOp::Tmpfs { dst, perms, size }),
        // /dev's own devpts instance (newinstance, ptmxmode=0666, mode=0620) is there already.
        "devpts" if *dev && dst == Path::new("/dev/pts") => {}
        "devpts" => {
            return Err(err(
                &format!("{path}.destination"),
                format!("{abs:?}: a devpts is supported at /dev/pts, after a tmpfs on /dev"),
            ));
        }
        "mqueue" => spec.ops.push(FsOp::Mqueue { dst }),
        // A sysfs of its own in a network namespace of its own, else the host's, read-only.
        "sysfs" => spec.ops.push(FsOp::Sysfs { dst }),
        // Its own cgroup2 where it can be, else the host's hierarchy, read-only.
        "cgroup" | "cgroup2" => spec.ops.push(FsOp::Cgroup { dst }),
        "bind" => {
            let src = src.ok_or_else(|| {
                err(
                    &format!("{path}.source"),
                    "missing (required for a bind mount)",
                )
            })?;
            let has = |o: &str| m.options.iter().any(|x| x == o);
            if ro && (has("suid") || has("dev")) {
                return Err(err(
                    &format!("{path}.options"),
                    "ro with suid or dev: not supported (sbox's read-only binds are nosuid, nodev)",
                ));
            }
            spec.ops.push(FsOp::Bind {
                kind: match (ro, has("suid"), has("dev")) {
                    (true, ..) => BindKind::Ro,
                    (false, true, _) => BindKind::Suid,
                    (false, false, true) => BindKind::Dev,
                    (false, false, false) => BindKind::Rw,
                },
                src: in_bundle(bundle, src),
                dst,
                optional: false,
            });
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
    let dst = PathBuf::from(abs);
    if ro && !made_ro && kind != "devpts" {
        spec.ops.push(FsOp::RemountRo { dst: dst.clone() });
    }
    if noexec {
        spec.ops.push(FsOp::NoExec { dst });
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
            l if l > 0 => {
                spec.limits.memory = Some(l as u64);
                // OCI's swap counts memory and swap together; cgroup v2 limits swap alone.
                match r.memory.as_ref().and_then(|m| m.swap) {
                    None => {}
                    Some(-1) => spec.limits.swap = Some(u64::MAX),
                    Some(s) if s >= l => spec.limits.swap = Some((s - l) as u64),
                    Some(s) => {
                        return Err(err(
                            "linux.resources.memory.swap",
                            format!("{s}: below the memory limit {l} (it counts memory and swap)"),
                        ));
                    }
                }
            }
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

/// The cgroup manager the engine chose on the runtime's command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupManager {
    /// `--systemd-cgroup` or `--cgroup-manager systemd`.
    Systemd,
    /// cgroupfs (the default), or `--cgroup-manager disabled`.
    Other,
}

/// linux.cgroupsPath, for a container that gets a cgroup (`spec.limits` has a limit). With the
/// systemd manager the path is runc's "slice:prefix:name": the scope is that unit in that
/// slice (checked even without a limit, as runc does). With cgroupfs a rootless runtime can
/// only make a cgroup where systemd or a delegation lets it, never at a path of the engine's
/// choosing: refused when there is a limit to place, ignored otherwise (as runc, rootless).
pub fn cgroups_path(c: &Config, manager: CgroupManager, spec: &mut Spec) -> Result<(), OciError> {
    let Some(path) = (c.linux.as_ref())
        .and_then(|l| l.cgroups_path.as_deref())
        .filter(|p| !p.is_empty())
    else {
        return Ok(());
    };
    let why = |why: String| err("linux.cgroupsPath", format!("{path:?}: {why}"));
    match manager {
        CgroupManager::Systemd => {
            let unit = systemd_scope(path).map_err(why)?;
            if spec.limits.any() {
                spec.limits.scope = Some(unit);
            }
            Ok(())
        }
        CgroupManager::Other if spec.limits.any() => Err(why(
            "a rootless runtime can't make a cgroup at a cgroupfs path; pass --systemd-cgroup \
             with a \"slice:prefix:name\" path, or leave cgroupsPath out"
                .into(),
        )),
        CgroupManager::Other => Ok(()),
    }
}

/// Characters systemd allows in a unit name.
fn unit_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.\\@".contains(c))
}

/// runc's systemd form "slice:prefix:name" → the unit `prefix-name.scope` in `slice` (empty:
/// user.slice, a rootless runtime's default). A slice name ends in ".slice", its dash-separated
/// parts are not empty ("-.slice" is the root slice), and it has no "/". A name ending in
/// ".slice" asks runc for a slice unit: refused, sbox's processes live in a scope.
pub fn systemd_scope(path: &str) -> Result<ScopeUnit, String> {
    let parts: Vec<&str> = path.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(
            "not of the form \"slice:prefix:name\" (such as \"user.slice:libpod:ID\") \
                    that the systemd cgroup manager needs"
                .into(),
        );
    };
    let slice = match slice {
        "" => "user.slice",
        s => {
            let base = s.strip_suffix(".slice").unwrap_or("");
            let parts_ok = base == "-" || base.split('-').all(|p| !p.is_empty());
            if !s.ends_with(".slice") || !parts_ok || !unit_chars(s) {
                return Err(format!(
                    "{s:?}: not a slice name (such as user.slice or my-app.slice)"
                ));
            }
            s
        }
    };
    if name.is_empty() {
        return Err("no name after the last \":\"".into());
    }
    if name.ends_with(".slice") {
        return Err(format!(
            "{name:?}: a slice unit holds no processes (sbox puts the container in a scope: \
             give a name without .slice)"
        ));
    }
    let unit = format!("{prefix}-{name}.scope");
    if !unit_chars(&unit) {
        return Err(format!("{unit:?}: not a systemd unit name"));
    }
    Ok(ScopeUnit {
        unit,
        slice: slice.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::config::parse;

    fn facts(privileged: bool) -> Facts {
        Facts {
            uid: 1000,
            gid: 1000,
            privileged,
        }
    }

    /// A config around `process` and `linux` (JSON fragments), read and mapped.
    fn map(process: &str, linux: &str, f: &Facts) -> Result<Spec, String> {
        let text = format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
            "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}}],
            "process":{{"user":{{"uid":0,"gid":0}},"args":["sh"],"cwd":"/"{process}}},
            "linux":{{{linux}}}}}"#
        );
        let c = parse(&text).map_err(|e| e.0)?;
        to_spec(&c, Path::new("/b"), f).map_err(|e| e.0)
    }

    #[test]
    fn cgroups_path_in_runcs_systemd_form() {
        let ok = |p: &str| systemd_scope(p).map(|u| (u.unit, u.slice));
        let s = |a: &str, b: &str| Ok((a.to_string(), b.to_string()));
        assert_eq!(
            ok("user.slice:libpod:abc"),
            s("libpod-abc.scope", "user.slice")
        );
        // An empty slice is a rootless runtime's default; an empty prefix is kept, as runc does.
        assert_eq!(ok(":test:c1"), s("test-c1.scope", "user.slice"));
        assert_eq!(ok("user.slice::c1"), s("-c1.scope", "user.slice"));
        assert_eq!(ok("-.slice:p:n"), s("p-n.scope", "-.slice"));
        assert_eq!(ok("my-app.slice:p:n@1"), s("p-n@1.scope", "my-app.slice"));
        let bad = |p: &str| systemd_scope(p).unwrap_err();
        for p in ["", "c1", "user.slice:c1", "a:b:c:d", "/user.slice/x"] {
            assert!(bad(p).contains("\"slice:prefix:name\""), "{p}: {}", bad(p));
        }
        for slice in [
            "user",
            ".slice",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            "a/b.slice",
        ] {
            let e = bad(&format!("{slice}:p:n"));
            assert!(e.contains("not a slice name"), "{slice}: {e}");
        }
        assert!(bad("user.slice:p:").contains("no name"));
        assert!(bad("user.slice:p:sub.slice").contains("a slice unit holds no processes"));
        assert!(bad("user.slice:p q:n").contains("not a systemd unit name"));
        assert!(bad("user.slice:p:../n").contains("not a systemd unit name"));
    }

    #[test]
    fn cgroups_path_places_the_scope_only_with_a_limit() {
        let with = |path: &str, res: &str, m| {
            let linux = format!(r#""cgroupsPath":"{path}"{res}"#);
            let text = format!(
                r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
                "process":{{"user":{{"uid":0,"gid":0}},"args":["sh"],"cwd":"/"}},
                "linux":{{{linux}}}}}"#
            );
            let c = parse(&text).unwrap();
            let mut spec = to_spec(&c, Path::new("/b"), &facts(false)).unwrap();
            cgroups_path(&c, m, &mut spec)
                .map(|()| spec.limits.scope)
                .map_err(|e| e.0)
        };
        let mem = r#","resources":{"memory":{"limit":1048576}}"#;
        let sd = CgroupManager::Systemd;
        assert_eq!(
            with("user.slice:test:c1", mem, sd),
            Ok(Some(ScopeUnit {
                unit: "test-c1.scope".into(),
                slice: "user.slice".into()
            }))
        );
        // No limit, no cgroup: nothing to place (but a malformed path is still one).
        assert_eq!(with("user.slice:test:c1", "", sd), Ok(None));
        assert_eq!(
            with("/x", "", sd).unwrap_err(),
            "config.json: linux.cgroupsPath: \"/x\": not of the form \"slice:prefix:name\" \
             (such as \"user.slice:libpod:ID\") that the systemd cgroup manager needs"
        );
        // cgroupfs: a path refused only when there is a limit to place.
        let other = CgroupManager::Other;
        assert_eq!(with("/x/c1", "", other), Ok(None));
        let e = with("/x/c1", mem, other).unwrap_err();
        assert!(
            e.starts_with("config.json: linux.cgroupsPath: \"/x/c1\": a rootless runtime")
                && e.contains("pass --systemd-cgroup"),
            "{e}"
        );
        assert_eq!(with("", mem, other), Ok(None));
    }

    /// podman's situation: uid 0 in its own user namespace, no user namespace in the config,
    /// eleven capabilities, its rlimits, a sysctl for the network namespace.
    #[test]
    fn podmans_config_maps_onto_the_process_fields() {
        let s = map(
            r#","capabilities":{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL"],"permitted":["CAP_KILL","CAP_CHOWN"]},
            "rlimits":[{"type":"RLIMIT_NOFILE","hard":20000,"soft":20000},{"type":"RLIMIT_NPROC","hard":32768,"soft":32768}],
            "oomScoreAdj":100,"user":{"uid":0,"gid":0,"umask":18,"additionalGids":[10]}"#,
            r#""namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}],
            "sysctl":{"net.ipv4.ping_group_range":"0 0"}"#,
            &facts(true),
        )
        .unwrap();
        assert!(s.ns.no_userns && s.ns.net && s.ns.pid && s.as_pid_1);
        let sets = s.cap_sets.unwrap();
        assert_eq!(sets.effective, [caps::Capability::CAP_KILL]);
        assert_eq!(sets.bounding.len(), 2);
        assert_eq!(s.rlimits.len(), 2);
        assert_eq!(s.rlimits[0].kind, RlimitKind::Nofile);
        assert_eq!(s.oom_score_adj, Some(100));
        assert_eq!(s.umask, Some(0o22));
        assert_eq!(s.groups, [10]);
        assert!(s.allow_new_privs, "noNewPrivileges absent is false");
        assert_eq!(
            s.sysctl,
            [("net.ipv4.ping_group_range".into(), "0 0".into())]
        );
    }

    #[test]
    fn id_maps_and_joined_namespaces() {
        // The runtime's own id as root: the plain single map, written by sbox itself.
        let one = r#""namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}]"#;
        let s = map("", one, &facts(false)).unwrap();
        assert!(s.uid_map.is_empty() && !s.ns.no_userns);
        assert_eq!((s.uid, s.gid), (Some(0), Some(0)));
        // podman's --userns keep-id: three ranges.
        let keep = r#""namespaces":[{"type":"user"}],
            "uidMappings":[{"containerID":0,"hostID":1,"size":1000},{"containerID":1000,"hostID":0,"size":1},{"containerID":1001,"hostID":1001,"size":64535}],
            "gidMappings":[{"containerID":0,"hostID":1,"size":1000},{"containerID":1000,"hostID":0,"size":1},{"containerID":1001,"hostID":1001,"size":64535}]"#;
        let s = map(r#","user":{"uid":1000,"gid":1000}"#, keep, &facts(true)).unwrap();
        assert_eq!(s.uid_map.len(), 3);
        assert_eq!(
            s.uid_map[1],
            IdRange {
                inside: 1000,
                outside: 0,
                count: 1
            }
        );
        assert!(!s.ns.no_userns);
        let e = map(
            "",
            r#""uidMappings":[{"containerID":0,"hostID":1000,"size":1}]"#,
            &facts(false),
        );
        assert!(
            e.unwrap_err()
                .starts_with("config.json: linux.uidMappings: needs a user namespace")
        );
        let s = map(
            "",
            r#""namespaces":[{"type":"network","path":"/proc/7/ns/net"},{"type":"pid"}]"#,
            &facts(false),
        )
        .unwrap();
        assert_eq!(
            s.ns.join,
            [NsJoin {
                kind: NsKind::Net,
                path: "/proc/7/ns/net".into()
            }]
        );
        assert!(!s.ns.net);
    }

    #[test]
    fn bad_values_are_named_by_path() {
        let e = |p: &str, l: &str| map(p, l, &facts(false)).unwrap_err();
        assert_eq!(
            e(
                r#","rlimits":[{"type":"RLIMIT_FOO","hard":1,"soft":1}]"#,
                ""
            ),
            "config.json: process.rlimits[0].type: \"RLIMIT_FOO\": not a resource of setrlimit(2) (e.g. RLIMIT_NOFILE)"
        );
        assert!(
            e(r#","capabilities":{"bounding":["CAP_FLY"]}"#, "").starts_with(
                "config.json: process.capabilities.bounding[0]: 'CAP_FLY': unknown capability"
            )
        );
        assert!(
            e("", r#""namespaces":[{"type":"time"}]"#)
                .starts_with("config.json: linux.namespaces[0].type: \"time\": not supported")
        );
        assert!(e("", r#""namespaces":[{"type":"pid"},{"type":"pid"}]"#).contains("listed twice"));
        // The config's strings are quoted escaped: one line whatever they hold.
        let m = e(r#","capabilities":{"bounding":["CAP_\n\u001b[31m"]}"#, "");
        assert!(!m.contains(char::is_control), "{m:?}");
        let m = e(r#","env":["\n\u001b"]"#, "");
        assert!(!m.contains(char::is_control), "{m:?}");
        assert!(
            e(r#","env":["NOEQUALS"]"#, "")
                .starts_with("config.json: process.env[0]: \"NOEQUALS\": not NAME=VALUE")
        );
        assert!(e("", r#""maskedPaths":["proc/kcore"]"#).starts_with(
            "config.json: linux.maskedPaths[0]: \"proc/kcore\": not an absolute path"
        ));
        assert!(
            e("", r#""resources":{"memory":{"limit":-5}}"#)
                .starts_with("config.json: linux.resources.memory.limit: -5")
        );
        assert!(
            e("", r#""resources":{"memory":{"limit":100,"swap":50}}"#)
                .contains("below the memory limit 100")
        );
        // OCI's swap is memory + swap; cgroup v2's swap alone.
        let swap = |json: &str| map("", json, &facts(false)).unwrap().limits.swap;
        let with = |s: i64| format!(r#""resources":{{"memory":{{"limit":100,"swap":{s}}}}}"#);
        assert_eq!(swap(&with(300)), Some(200));
        assert_eq!(swap(&with(100)), Some(0));
        assert_eq!(swap(&with(-1)), Some(u64::MAX));
        assert_eq!(swap(r#""resources":{"memory":{"limit":100}}"#), None);
        let label = r#","selinuxLabel":"system_u:system_r:container_t:s0""#;
        let s = map(label, r#""mountLabel":"""#, &facts(false)).unwrap();
        assert_eq!(
            s.exec_label.as_deref(),
            Some("system_u:system_r:container_t:s0")
        );
        assert_eq!(s.file_label, None);
        assert!(
            parse(r#"{"ociVersion":"1.0.2","hooks":{"prestart":[{"path":"rel"}]}}"#)
                .unwrap_err()
                .0
                .starts_with("config.json: hooks.prestart[0].path: \"rel\": not an absolute path")
        );
    }

    #[test]
    fn domainname_and_personality() {
        let s = map(
            "",
            r#""namespaces":[{"type":"uts"}],"personality":{"domain":"LINUX"}"#,
            &facts(false),
        );
        assert!(s.unwrap().sysctl.is_empty());
        let text = r#"{"ociVersion":"1.1.0","root":{"path":"r"},"domainname":"d",
            "mounts":[{"destination":"/proc","type":"proc","source":"proc"}],
            "process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/"},
            "linux":{"namespaces":[{"type":"uts"},{"type":"pid"}],"sysctl":{"kernel.hostname":"h"}}}"#;
        let s = to_spec(&parse(text).unwrap(), Path::new("/b"), &facts(false)).unwrap();
        assert_eq!(s.sysctl.len(), 2);
        assert_eq!(s.sysctl[0], ("kernel.domainname".into(), "d".into()));
        let e = map("", r#""personality":{"domain":"LINUX32"}"#, &facts(false)).unwrap_err();
        assert!(
            e.starts_with("config.json: linux.personality: \"LINUX32\""),
            "{e}"
        );
    }

    /// Each option `features` lists is taken by some mount type.
    #[test]
    fn the_listed_mount_options_are_taken() {
        for o in MOUNT_OPTIONS {
            let o = match o.strip_suffix('=') {
                Some(k) => format!("{k}=755"),
                None => o.to_string(),
            };
            let ok = [
                r#"{"destination":"/x","type":"bind","source":"/s","options":["rbind","O"]}"#,
                r#"{"destination":"/x","type":"tmpfs","source":"t","options":["O"]}"#,
                r#"{"destination":"/dev/pts","type":"devpts","source":"d","options":["O"]}"#,
            ]
            .iter()
            .any(|m| {
                let text = format!(
                    r#"{{"ociVersion":"1.0.2","root":{{"path":"r"}},"process":{{"user":{{"uid":0,"gid":0}},"args":["sh"],"cwd":"/"}},
                    "mounts":[{{"destination":"/dev","type":"tmpfs","source":"t"}},{}]}}"#,
                    m.replace('O', &o)
                );
                to_spec(&parse(&text).unwrap(), Path::new("/b"), &facts(false)).is_ok()
            });
            assert!(ok, "{o}");
        }
    }

    /// Deprecated but allowed (runtime-spec 1.1): a relative destination is under "/".
    #[test]
    fn relative_mount_destinations_are_under_the_root() {
        let text = r#"{"ociVersion":"1.1.0","root":{"path":"r"},
            "process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/"},
            "mounts":[{"destination":"tmp","type":"tmpfs","source":"tmpfs"}]}"#;
        let s = to_spec(&parse(text).unwrap(), Path::new("/b"), &facts(false)).unwrap();
        assert!(s.ops.contains(&FsOp::Tmpfs {
            dst: "/tmp".into(),
            perms: None,
            size: None
        }));
    }

    #[test]
    fn mounts_limits_and_paths() {
        let text = r#"{"ociVersion":"1.0.2","root":{"path":"/abs/root","readonly":false},
            "process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/"},
            "mounts":[
              {"destination":"/data","type":"bind","source":"vol","options":["rbind","ro","nosuid"]},
              {"destination":"/run","type":"tmpfs","source":"tmpfs","options":["mode=700","size=1m","noexec"]},
              {"destination":"/sys","type":"sysfs","source":"sysfs","options":["noexec","ro"]}],
            "linux":{"namespaces":[{"type":"ipc"}],"readonlyPaths":["/proc/sys"],"maskedPaths":["/proc/kcore"],
              "resources":{"memory":{"limit":1048576},"pids":{"limit":10},"cpu":{"quota":50000,"period":100000}}}}"#;
        let s = to_spec(&parse(text).unwrap(), Path::new("/b"), &facts(false)).unwrap();
        let bind = |kind, src: &str, dst: &str| FsOp::Bind {
            kind,
            src: src.into(),
            dst: dst.into(),
            optional: false,
        };
        assert_eq!(
            s.ops,
            [
                // noNewPrivileges is false: setuid programs may work.
                bind(BindKind::Suid, "/abs/root", "/"),
                FsOp::Dev { dst: "/dev".into() },
                bind(BindKind::Ro, "/b/vol", "/data"),
                FsOp::Tmpfs {
                    dst: "/run".into(),
                    perms: Some(0o700),
                    size: Some(1 << 20)
                },
                FsOp::NoExec { dst: "/run".into() },
                FsOp::Sysfs { dst: "/sys".into() },
                FsOp::RemountRo { dst: "/sys".into() },
                FsOp::Mask {
                    dst: "/proc/kcore".into()
                },
                FsOp::ReadOnlyPath {
                    dst: "/proc/sys".into()
                },
            ]
        );
        assert_eq!(s.limits.memory, Some(1 << 20));
        assert_eq!(s.limits.pids, Some(10));
        assert_eq!(s.limits.cpu_percent, Some(50));
        assert!(s.clearenv && s.remount_ro_shallow && s.caller_terminal);
        assert_eq!(s.seccomp.profile, SeccompProfile::None);
        let bad = text.replace("\"nosuid\"]", "\"shared\"]");
        let e = to_spec(&parse(&bad).unwrap(), Path::new("/b"), &facts(false)).unwrap_err();
        assert_eq!(
            e.0,
            "config.json: mounts[0].options[2]: \"shared\": not supported for a bind mount"
        );
    }
}
