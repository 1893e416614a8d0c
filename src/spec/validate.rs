//! The rules that relate one part of a `Spec` to another, checked once on the finished `Spec`
//! whichever front end built it (command line, profiles, both), before anything starts. What
//! a front end can say better (a profile's file and line) it checks too, with the same rule
//! from here.

use super::{EnvOp, FsOp, IdRange, NsKind, OverlayUpper, RlimitKind, Spec};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A broken rule, as a front end reports it: sbox's one line, and bubblewrap's phrase where
/// it has one (programs that drive bwrap match it).
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub bwrap: Option<&'static str>,
}

impl From<Broken> for Invalid {
    fn from(b: Broken) -> Invalid {
        Invalid {
            message: b.to_string(),
            bwrap: b.bwrap(),
        }
    }
}

/// Which rule is broken, with the values concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum Broken {
    Userns2WithoutUserns,
    DisableUsernsJoined,
    AssertConflictsWithDisable,
    UsernsBlockWithoutInfo,
    UsernsBlockConflictsWithDisable,
    PlantedNotAbsolute(PathBuf),
    /// A hostname (`hostname`: its option or key) without a UTS namespace (`uts`: how to
    /// get one).
    HostnameWithoutUts {
        hostname: &'static str,
        uts: String,
    },
    AsPid1WithoutPid,
    /// An environment name (`opt`: the option, profile key or config field) that is no
    /// variable name.
    EnvName {
        opt: String,
        name: OsString,
    },
    /// An overlay (`option`) with fewer lower layers than it needs.
    TooFewLayers {
        option: &'static str,
        upper: Upper,
    },
    /// A Landlock path (`opt`) that is not a plain absolute path inside.
    InsidePath {
        opt: &'static str,
        why: PathRule,
    },
    /// --disable-userns with a user namespace joined by path.
    DisableUsernsJoinedByPath,
    /// A namespace kind joined by path twice.
    JoinedTwice(Joined),
    /// A namespace joined by path that an option (`created`) also creates.
    JoinedAndCreated {
        join: Joined,
        created: &'static str,
    },
    /// A namespace joined by a relative path.
    JoinNotAbsolute(Joined),
    /// --share-userns with an option (`what`) that needs a user namespace of sbox's own.
    ShareUsernsConflicts(&'static str),
    /// An id map (`opt`: --uid-map, --gid-map) without a user namespace of sbox's own.
    MapNeedsOwnUserns(&'static str),
    /// An id map with --userns-block-fd.
    MapConflictsWithBlock(&'static str),
    /// An id map's range that is empty or leaves 32-bit ids.
    MapNotARange {
        opt: &'static str,
        range: IdRange,
    },
    /// Two ranges of one id map overlapping (inside or outside).
    MapOverlap {
        opt: &'static str,
        range: IdRange,
        other: IdRange,
    },
    /// An id map that leaves the sandbox's own id (`who`: the front end's name for its uid or
    /// gid) unmapped.
    MapMissesId {
        opt: &'static str,
        who: &'static str,
        id: u32,
    },
    /// An rlimit (`name`: as the front end names it) whose soft limit is above its hard one.
    SoftAboveHard {
        name: String,
        soft: u64,
        hard: u64,
    },
    /// An rlimit (its name) of a kind given before.
    RlimitTwice(String),
    /// An OOM score adjustment (`name`: its option or field) out of -1000..1000.
    OomScoreAdj {
        name: &'static str,
        adj: i32,
    },
    /// A umask (`name`: its option or field) above 0777.
    Umask {
        name: &'static str,
        mask: u32,
    },
    /// --cap-add with capability sets given one by one.
    CapAddWithSets,
    /// A capability of one set (`set`) missing from the set it must be within (`within`),
    /// the sets as the front end names them.
    CapNotWithin {
        cap: caps::Capability,
        set: String,
        within: String,
    },
    /// Additional gids (`name`) with an unprivileged user namespace (setgroups denied);
    /// `map`: what gives a gid map written with privilege.
    GroupsNeedPrivilegedMap {
        name: &'static str,
        map: &'static str,
    },
    /// A sysctl (its name as the front end gives it: `--sysctl KEY`, a config's field) that
    /// no namespace of the sandbox makes its own.
    SysctlNotNamespaced(String),
    /// A sysctl (`name`) of a namespace kind (`kind`) the sandbox does not create.
    SysctlNeedsNs {
        name: String,
        kind: &'static str,
    },
    /// A sysctl (its name) whose key is no sysctl name.
    SysctlNotAName(String),
    /// A sysctl (`name`) without a PID namespace of the sandbox's own (`pid`: how to get one).
    SysctlNeedsPid {
        name: String,
        pid: String,
    },
    /// An allowlist without a network namespace of the sandbox's own.
    AllowlistSharesNet,
    /// More distinct allowed ports than listeners can be handed over.
    TooManyPorts(usize),
    /// Deny rules without any allow rule.
    DenyWithoutAllow,
}

/// A namespace joined by path (`--join-ns KIND:PATH`), as the rules name it.
#[derive(Debug, PartialEq, Eq)]
pub struct Joined {
    pub kind: NsKind,
    pub path: PathBuf,
}

impl fmt::Display for Joined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--join-ns {}:{}",
            self.kind.proc_name(),
            self.path.display()
        )
    }
}

/// What a front end calls the fields the rules concern, so that a broken rule names what its
/// user wrote: sbox's options and profile keys (`Options`: every method's default), or the
/// JSON paths of an OCI config (oci/spec.rs). Only the fields a config can set have a name
/// here; the other rules concern options only.
pub trait Names {
    /// What sets the hostname.
    fn hostname(&self) -> &'static str {
        "--hostname"
    }
    /// How to get a namespace of `kind` of the sandbox's own.
    fn create_ns(&self, kind: NsKind) -> String {
        match kind {
            NsKind::Uts => "--unshare-uts (in a profile: uts = true under [namespaces])".into(),
            k => format!("--unshare-{}", k.name()),
        }
    }
    /// The `at`th environment operation `op`.
    fn env(&self, at: usize, op: &EnvOp) -> String {
        let _ = at;
        match op {
            EnvOp::Set(..) => "--setenv",
            EnvOp::Unset(_) => "--unsetenv",
            EnvOp::Keep(_) => "env.keep",
            EnvOp::Offline(..) => "env.offline",
        }
        .into()
    }
    /// The uid map (`uid`) or the gid map.
    fn id_map(&self, uid: bool) -> &'static str {
        if uid { "--uid-map" } else { "--gid-map" }
    }
    /// The sandbox's uid (`uid`) or gid, that its map must map.
    fn own_id(&self, uid: bool) -> &'static str {
        let _ = uid;
        "the sandbox's id"
    }
    /// The `at`th rlimit, of `kind`.
    fn rlimit(&self, at: usize, kind: RlimitKind) -> String {
        let _ = at;
        format!("--rlimit {}", kind.name())
    }
    fn oom_score_adj(&self) -> &'static str {
        "--oom-score-adj"
    }
    fn umask(&self) -> &'static str {
        "--umask"
    }
    /// A capability set: bounding, effective, permitted, inheritable or ambient.
    fn cap_set(&self, set: &'static str) -> String {
        format!("{set} capabilities")
    }
    /// The additional gids.
    fn groups(&self) -> &'static str {
        "additional gids"
    }
    /// The `at`th sysctl, `key`.
    fn sysctl(&self, at: usize, key: &str) -> String {
        let _ = at;
        format!("--sysctl {key}")
    }
}

/// The command line's and profiles' names.
pub struct Options;

impl Names for Options {}

/// `INSIDE:OUTSIDE:COUNT`, as the command line gives it.
impl fmt::Display for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.inside, self.outside, self.count)
    }
}

/// An overlay's kind of upper layer, as the rule words it.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Upper {
    Dir,
    Tmp,
    ReadOnly,
}

impl Upper {
    fn of(upper: &OverlayUpper) -> Upper {
        match upper {
            OverlayUpper::Dir { .. } => Upper::Dir,
            OverlayUpper::Tmp => Upper::Tmp,
            OverlayUpper::ReadOnly => Upper::ReadOnly,
        }
    }
}

/// What is wrong with a path as seen inside the sandbox.
#[derive(Debug, PartialEq, Eq)]
pub enum PathRule {
    NotAbsolute(PathBuf),
    DotDot(PathBuf),
}

/// An environment name that is no variable name.
#[derive(Debug, PartialEq, Eq)]
pub struct NotAName(pub OsString);

impl fmt::Display for NotAName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}': not a variable name", self.0.to_string_lossy())
    }
}

impl fmt::Display for PathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathRule::NotAbsolute(p) => write!(
                f,
                "'{}': not an absolute path (paths are as seen inside the sandbox)",
                p.display()
            ),
            PathRule::DotDot(p) => write!(f, "'{}': '..' is not allowed", p.display()),
        }
    }
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Broken::*;
        match self {
            Userns2WithoutUserns => f.write_str("--userns2: needs --userns"),
            DisableUsernsJoined => f.write_str(
                "--disable-userns: needs a user namespace of sbox's own, not one joined with \
                 --userns",
            ),
            AssertConflictsWithDisable => {
                f.write_str("--assert-userns-disabled: conflicts with --disable-userns")
            }
            UsernsBlockWithoutInfo => {
                f.write_str("--userns-block-fd: needs --info-fd (to learn the child pid)")
            }
            UsernsBlockConflictsWithDisable => {
                f.write_str("--userns-block-fd: conflicts with --disable-userns")
            }
            PlantedNotAbsolute(dir) => write!(
                f,
                "--report-planted: {}: not an absolute path",
                dir.display()
            ),
            HostnameWithoutUts { hostname, uts } => {
                write!(f, "{hostname}: needs a UTS namespace: add {uts}")
            }
            AsPid1WithoutPid => f.write_str("--as-pid-1: needs a PID namespace: add --unshare-pid"),
            EnvName { opt, name } => write!(f, "{opt}: {}", NotAName(name.clone())),
            TooFewLayers { option, upper } => write!(
                f,
                "{option}: needs at least {} --overlay-src before it",
                match upper {
                    Upper::ReadOnly => 2,
                    Upper::Dir | Upper::Tmp => 1,
                }
            ),
            InsidePath { opt, why } => write!(f, "{opt}: {why}"),
            DisableUsernsJoinedByPath => f.write_str(
                "--disable-userns: needs a user namespace of sbox's own, not one joined with \
                 --join-ns user:",
            ),
            JoinedTwice(j) => write!(f, "{j}: a {} namespace is joined twice", j.kind.name()),
            JoinedAndCreated { join, created } => write!(
                f,
                "{join}: conflicts with {created} (a namespace is either joined or created)"
            ),
            JoinNotAbsolute(j) => write!(f, "{j}: not an absolute path"),
            ShareUsernsConflicts(what) => write!(
                f,
                "--share-userns: conflicts with {what} (it needs a user namespace of the \
                 sandbox's own)"
            ),
            MapNeedsOwnUserns(opt) => write!(
                f,
                "{opt}: needs a user namespace of the sandbox's own, not a joined one"
            ),
            MapConflictsWithBlock(opt) => write!(f, "{opt}: conflicts with --userns-block-fd"),
            MapNotARange { opt, range } => write!(f, "{opt}: {range}: not a range of 32-bit ids"),
            MapOverlap { opt, range, other } => write!(f, "{opt}: {range}: overlaps {other}"),
            MapMissesId { opt, who, id } => write!(f, "{opt}: does not map {who} {id}"),
            SoftAboveHard { name, soft, hard } => write!(
                f,
                "{name}: the soft limit {soft} is above the hard limit {hard}"
            ),
            RlimitTwice(name) => write!(f, "{name}: given twice"),
            OomScoreAdj { name, adj } => write!(f, "{name}: {adj}: not in -1000..1000"),
            Umask { name, mask } => write!(f, "{name}: {mask:o}: not a mode (0 to 777, octal)"),
            CapAddWithSets => f.write_str(
                "capabilities: --cap-add conflicts with capability sets given one by one",
            ),
            CapNotWithin { cap, set, within } => {
                write!(f, "{set}: {cap}: must also be in {within}")
            }
            GroupsNeedPrivilegedMap { name, map } => write!(
                f,
                "{name}: need a gid map written with privilege ({map}, newgidmap) or no user \
                 namespace of the sandbox's own (an unprivileged one denies setgroups)"
            ),
            SysctlNotNamespaced(name) => write!(
                f,
                "{name}: not a namespaced sysctl (only net.*, kernel.shm*, kernel.msg*, \
                 kernel.sem, fs.mqueue.*, kernel.hostname, kernel.domainname can be set in a \
                 sandbox)"
            ),
            SysctlNeedsNs { name, kind } => {
                write!(f, "{name}: needs a {kind} namespace of the sandbox's own")
            }
            SysctlNotAName(name) => write!(f, "{name}: not a sysctl name"),
            SysctlNeedsPid { name, pid } => write!(
                f,
                "{name}: needs a PID namespace of the sandbox's own ({pid})"
            ),
            AllowlistSharesNet => f.write_str(
                "--net-allow: needs a network namespace of the sandbox's own (conflicts with \
                 --share-net and a profile's net = \"host\")",
            ),
            TooManyPorts(n) => write!(
                f,
                "--net-allow: {n} ports allowed: at most {MAX_PORTS} (each gets a listener)"
            ),
            DenyWithoutAllow => f.write_str(
                "--net-deny: refines an allowlist: add --net-allow rules (without one the \
                 sandbox has the host's network or none)",
            ),
        }
    }
}

impl Broken {
    /// bubblewrap's phrase, where it has one.
    pub fn bwrap(&self) -> Option<&'static str> {
        match self {
            Broken::UsernsBlockWithoutInfo => Some("--userns-block-fd requires --info-fd"),
            Broken::HostnameWithoutUts { .. } => {
                Some("Specifying --hostname requires --unshare-uts")
            }
            Broken::AsPid1WithoutPid => Some("Specifying --as-pid-1 requires --unshare-pid"),
            Broken::TooFewLayers { upper, .. } => Some(match upper {
                Upper::Dir => "--overlay requires at least one --overlay-src",
                Upper::Tmp => "--tmp-overlay requires at least one --overlay-src",
                Upper::ReadOnly => "--ro-overlay requires at least two --overlay-src",
            }),
            _ => None,
        }
    }
}

/// The most distinct ports an allowlist may name.
pub const MAX_PORTS: usize = 200;

/// Every cross-option rule of a `Spec`, worded with sbox's option names.
pub fn validate(spec: &Spec) -> Result<(), Invalid> {
    validate_as(spec, &Options)
}

/// The same rules, worded with a front end's names for the fields (an OCI config's JSON
/// paths).
pub fn validate_as(spec: &Spec, names: &dyn Names) -> Result<(), Invalid> {
    check(spec, names).map_err(Invalid::from)
}

fn check(spec: &Spec, n: &dyn Names) -> Result<(), Broken> {
    let ns = &spec.ns;
    if ns.userns2.is_some() && ns.userns.is_none() {
        return Err(Broken::Userns2WithoutUserns);
    }
    if ns.disable_userns && ns.userns.is_some() {
        return Err(Broken::DisableUsernsJoined);
    }
    if ns.disable_userns && ns.joined(super::NsKind::User).is_some() {
        return Err(Broken::DisableUsernsJoinedByPath);
    }
    if ns.disable_userns && ns.assert_userns_disabled {
        return Err(Broken::AssertConflictsWithDisable);
    }
    if spec.fds.userns_block.is_some() {
        if spec.fds.info.is_none() {
            return Err(Broken::UsernsBlockWithoutInfo);
        }
        if ns.disable_userns {
            return Err(Broken::UsernsBlockConflictsWithDisable);
        }
    }
    namespaces(spec, n)?;
    process(spec, n)?;
    if let Some(dir) = spec.report_planted.iter().find(|d| !d.is_absolute()) {
        return Err(Broken::PlantedNotAbsolute(dir.clone()));
    }
    // A hostname is only private in a UTS namespace of the sandbox's own: from a profile as
    // from the command line, it is asked for, not implied.
    if spec.hostname.is_some() && !ns.uts {
        return Err(Broken::HostnameWithoutUts {
            hostname: n.hostname(),
            uts: n.create_ns(NsKind::Uts),
        });
    }
    if spec.as_pid_1 && !ns.pid {
        return Err(Broken::AsPid1WithoutPid);
    }
    for op in &spec.ops {
        if let FsOp::Overlay { lower, upper, .. } = op
            && lower.len() < layers_needed(upper)
        {
            return Err(Broken::TooFewLayers {
                option: op.option(),
                upper: Upper::of(upper),
            });
        }
    }
    if spec.net.active() && !ns.net {
        return Err(Broken::AllowlistSharesNet);
    }
    // One listener per allowed port, all handed over in one message (the kernel passes at
    // most 253 descriptors at a time).
    if spec.net.ports().len() > MAX_PORTS {
        return Err(Broken::TooManyPorts(spec.net.ports().len()));
    }
    if !spec.net.deny.is_empty() && !spec.net.active() {
        return Err(Broken::DenyWithoutAllow);
    }
    for (i, op) in spec.env.iter().enumerate() {
        let name = match op {
            EnvOp::Set(k, _) | EnvOp::Unset(k) | EnvOp::Offline(k, _) => k.as_os_str(),
            EnvOp::Keep(k) => OsStr::new(k),
        };
        env_name(name).map_err(|NotAName(name)| Broken::EnvName {
            opt: n.env(i, op),
            name,
        })?;
    }
    for (opt, list) in [
        ("--landlock-ro", &spec.landlock.ro),
        ("--landlock-rw", &spec.landlock.rw),
    ] {
        for p in list {
            inside_path(p).map_err(|why| Broken::InsidePath { opt, why })?;
        }
    }
    Ok(())
}

/// Joined, created and absent namespaces, and the id maps, agree.
fn namespaces(spec: &Spec, n: &dyn Names) -> Result<(), Broken> {
    let ns = &spec.ns;
    for (i, j) in ns.join.iter().enumerate() {
        let join = || Joined {
            kind: j.kind,
            path: j.path.clone(),
        };
        if ns.join[..i].iter().any(|o| o.kind == j.kind) {
            return Err(Broken::JoinedTwice(join()));
        }
        let created = match j.kind {
            NsKind::User => {
                (ns.userns.is_some() || ns.no_userns).then_some("--userns or --share-userns")
            }
            NsKind::Mount => None,
            NsKind::Pid => (ns.pid || ns.pidns.is_some()).then_some("--unshare-pid or --pidns"),
            NsKind::Net => ns.net.then_some("--unshare-net"),
            NsKind::Ipc => ns.ipc.then_some("--unshare-ipc"),
            NsKind::Uts => ns.uts.then_some("--unshare-uts"),
            NsKind::Cgroup => (ns.cgroup || ns.cgroup_try).then_some("--unshare-cgroup"),
        };
        if let Some(created) = created {
            return Err(Broken::JoinedAndCreated {
                join: join(),
                created,
            });
        }
        if !j.path.is_absolute() {
            return Err(Broken::JoinNotAbsolute(join()));
        }
    }
    if ns.no_userns {
        for (set, what) in [
            (ns.userns.is_some(), "--userns"),
            (ns.disable_userns, "--disable-userns"),
            (spec.fds.userns_block.is_some(), "--userns-block-fd"),
            (
                !spec.uid_map.is_empty() || !spec.gid_map.is_empty(),
                "--uid-map/--gid-map",
            ),
        ] {
            if set {
                return Err(Broken::ShareUsernsConflicts(what));
            }
        }
    }
    for (uid, map, id) in [
        (true, &spec.uid_map, spec.uid),
        (false, &spec.gid_map, spec.gid),
    ] {
        let opt = n.id_map(uid);
        if map.is_empty() {
            continue;
        }
        if !spec.own_userns() {
            return Err(Broken::MapNeedsOwnUserns(opt));
        }
        if spec.fds.userns_block.is_some() {
            return Err(Broken::MapConflictsWithBlock(opt));
        }
        for (i, r) in map.iter().enumerate() {
            let end = |start: u32| start as u64 + r.count as u64;
            if r.count == 0 || end(r.inside) > 1 << 32 || end(r.outside) > 1 << 32 {
                return Err(Broken::MapNotARange { opt, range: *r });
            }
            for o in &map[..i] {
                if ranges_overlap(r.inside, r.count, o.inside, o.count)
                    || ranges_overlap(r.outside, r.count, o.outside, o.count)
                {
                    return Err(Broken::MapOverlap {
                        opt,
                        range: *r,
                        other: *o,
                    });
                }
            }
        }
        if let Some(id) = id
            && !map.iter().any(|r| ranges_overlap(id, 1, r.inside, r.count))
        {
            return Err(Broken::MapMissesId {
                opt,
                who: n.own_id(uid),
                id,
            });
        }
    }
    Ok(())
}

fn ranges_overlap(a: u32, n: u32, b: u32, m: u32) -> bool {
    (a as u64) < b as u64 + m as u64 && (b as u64) < a as u64 + n as u64
}

/// The command's process attributes: rlimits, capability sets, groups, umask, sysctls.
fn process(spec: &Spec, n: &dyn Names) -> Result<(), Broken> {
    for (i, r) in spec.rlimits.iter().enumerate() {
        if r.soft > r.hard {
            return Err(Broken::SoftAboveHard {
                name: n.rlimit(i, r.kind),
                soft: r.soft,
                hard: r.hard,
            });
        }
        if spec.rlimits[..i].iter().any(|o| o.kind == r.kind) {
            return Err(Broken::RlimitTwice(n.rlimit(i, r.kind)));
        }
    }
    if let Some(adj) = spec.oom_score_adj
        && !(-1000..=1000).contains(&adj)
    {
        return Err(Broken::OomScoreAdj {
            name: n.oom_score_adj(),
            adj,
        });
    }
    if let Some(mask) = spec.umask
        && mask > 0o777
    {
        return Err(Broken::Umask {
            name: n.umask(),
            mask,
        });
    }
    if let Some(sets) = &spec.cap_sets {
        if !spec.caps.is_empty() {
            return Err(Broken::CapAddWithSets);
        }
        let within = |a: &[caps::Capability], b: &[caps::Capability]| {
            a.iter().find(|c| !b.contains(c)).copied()
        };
        for (small, big, set, of) in [
            (&sets.ambient, &sets.permitted, "ambient", "permitted"),
            (&sets.ambient, &sets.inheritable, "ambient", "inheritable"),
            (&sets.effective, &sets.permitted, "effective", "permitted"),
            (&sets.permitted, &sets.bounding, "permitted", "bounding"),
        ] {
            if let Some(c) = within(small, big) {
                return Err(Broken::CapNotWithin {
                    cap: c,
                    set: n.cap_set(set),
                    within: n.cap_set(of),
                });
            }
        }
    }
    if !spec.groups.is_empty() && spec.own_userns() && spec.gid_map.is_empty() {
        return Err(Broken::GroupsNeedPrivilegedMap {
            name: n.groups(),
            map: n.id_map(false),
        });
    }
    for (i, (key, _)) in spec.sysctl.iter().enumerate() {
        let ns = &spec.ns;
        let name = || n.sysctl(i, key);
        let (own, kind) = if key.starts_with("net.") {
            (ns.net, "network")
        } else if ["kernel.shm", "kernel.msg", "fs.mqueue."]
            .iter()
            .any(|p| key.starts_with(p))
            || key == "kernel.sem"
        {
            (ns.ipc, "IPC")
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            (ns.uts, "UTS")
        } else {
            return Err(Broken::SysctlNotNamespaced(name()));
        };
        if !own {
            return Err(Broken::SysctlNeedsNs { name: name(), kind });
        }
        if key.contains('/') || key.split('.').any(|p| p.is_empty() || p == "..") {
            return Err(Broken::SysctlNotAName(name()));
        }
        if !ns.pid {
            return Err(Broken::SysctlNeedsPid {
                name: name(),
                pid: n.create_ns(NsKind::Pid),
            });
        }
    }
    Ok(())
}

/// The lower layers an overlay needs: two when none is writable (overlayfs has nothing to
/// merge otherwise), else one.
pub fn layers_needed(upper: &OverlayUpper) -> usize {
    match upper {
        OverlayUpper::ReadOnly => 2,
        OverlayUpper::Dir { .. } | OverlayUpper::Tmp => 1,
    }
}

/// An environment variable's name (or a profile's `keep` pattern): not empty, no `=`.
pub fn env_name(name: &OsStr) -> Result<(), NotAName> {
    if name.is_empty() || name.as_encoded_bytes().contains(&b'=') {
        return Err(NotAName(name.to_os_string()));
    }
    Ok(())
}

/// A path as seen inside the sandbox, for a rule that compares paths (Landlock): absolute,
/// and without `..`, which would name something else than it seems once resolved.
pub fn inside_path(p: &Path) -> Result<(), PathRule> {
    if !p.is_absolute() {
        return Err(PathRule::NotAbsolute(p.to_path_buf()));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(PathRule::DotDot(p.to_path_buf()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> crate::spec::net::Rule {
        crate::spec::net::parse_rule("--net-allow", s).unwrap()
    }

    /// Whatever built the Spec (a future OCI front end too), the rules hold.
    #[test]
    fn a_spec_built_by_any_front_end_is_checked() {
        let ok = Spec::default();
        assert_eq!(validate(&ok), Ok(()));
        type Break = fn(&mut Spec);
        let broken: [(Break, &str); 11] = [
            (
                |s| s.net.allow.push(rule("localhost:1")),
                "--net-allow: needs a network namespace",
            ),
            (
                |s| s.net.deny.push(rule("localhost")),
                "--net-deny: refines an allowlist",
            ),
            (
                |s| {
                    s.ops.push(FsOp::Overlay {
                        lower: vec!["/a".into()],
                        upper: OverlayUpper::ReadOnly,
                        dst: "/o".into(),
                    })
                },
                "--ro-overlay: needs at least 2 --overlay-src before it",
            ),
            (
                |s| {
                    s.ops.push(FsOp::Overlay {
                        lower: vec![],
                        upper: OverlayUpper::Tmp,
                        dst: "/o".into(),
                    })
                },
                "--tmp-overlay: needs at least 1 --overlay-src before it",
            ),
            (|s| s.hostname = Some("h".into()), "--hostname: needs a UTS"),
            (|s| s.as_pid_1 = true, "--as-pid-1: needs a PID"),
            (|s| s.ns.userns2 = Some(3), "--userns2: needs --userns"),
            (
                |s| s.fds.userns_block = Some(3),
                "--userns-block-fd: needs --info-fd",
            ),
            (
                |s| s.env.push(EnvOp::Keep(String::new())),
                "env.keep: '': not",
            ),
            (
                |s| s.landlock.rw.push("tmp".into()),
                "--landlock-rw: 'tmp': not an absolute",
            ),
            (
                |s| s.report_planted.push("rel".into()),
                "--report-planted: rel:",
            ),
        ];
        for (breaks, want) in broken {
            let mut s = Spec::default();
            breaks(&mut s);
            let e = validate(&s).unwrap_err();
            assert!(e.message.starts_with(want), "{e:?}");
        }
        let join = |kind, path: &str| crate::spec::NsJoin {
            kind,
            path: path.into(),
        };
        let range = |inside, outside, count| crate::spec::IdRange {
            inside,
            outside,
            count,
        };
        let rlimit = |soft, hard| crate::spec::Rlimit {
            kind: crate::spec::RlimitKind::Nofile,
            soft,
            hard,
        };
        let sysctl = |k: &str| vec![(k.to_string(), "1".to_string())];
        type Case<'a> = (Box<dyn Fn(&mut Spec)>, &'a str);
        let oci: Vec<Case> = vec![
            (
                Box::new(move |s| {
                    s.ns.net = true;
                    s.ns.join.push(join(NsKind::Net, "/proc/1/ns/net"))
                }),
                "--join-ns net:/proc/1/ns/net: conflicts with --unshare-net",
            ),
            (
                Box::new(move |s| s.ns.join.push(join(NsKind::Uts, "ns/uts"))),
                "--join-ns uts:ns/uts: not an absolute",
            ),
            (
                Box::new(move |s| {
                    s.ns.join.push(join(NsKind::Ipc, "/a"));
                    s.ns.join.push(join(NsKind::Ipc, "/b"))
                }),
                "--join-ns ipc:/b: a ipc namespace is joined twice",
            ),
            (
                Box::new(move |s| {
                    s.ns.disable_userns = true;
                    s.ns.join.push(join(NsKind::User, "/proc/1/ns/user"))
                }),
                "--disable-userns: needs a user namespace of sbox's own, not one joined with --join-ns",
            ),
            (
                Box::new(|s| {
                    s.ns.no_userns = true;
                    s.ns.disable_userns = true
                }),
                "--share-userns: conflicts with --disable-userns",
            ),
            (
                Box::new(move |s| s.uid_map = vec![range(0, 1000, 1), range(0, 100000, 10)]),
                "--uid-map: 0:100000:10: overlaps 0:1000:1",
            ),
            (
                Box::new(move |s| s.gid_map = vec![range(0, 1000, 0)]),
                "--gid-map: 0:1000:0: not a range",
            ),
            (
                Box::new(move |s| {
                    s.uid = Some(5);
                    s.uid_map = vec![range(0, 1000, 1)]
                }),
                "--uid-map: does not map the sandbox's id 5",
            ),
            (
                Box::new(move |s| s.rlimits = vec![rlimit(10, 5)]),
                "--rlimit NOFILE: the soft limit 10 is above",
            ),
            (
                Box::new(move |s| s.rlimits = vec![rlimit(1, 5), rlimit(2, 5)]),
                "--rlimit NOFILE: given twice",
            ),
            (Box::new(|s| s.umask = Some(0o1777)), "--umask: 1777"),
            (
                Box::new(|s| s.oom_score_adj = Some(1001)),
                "--oom-score-adj: 1001",
            ),
            (Box::new(|s| s.groups = vec![5]), "additional gids: need"),
            (
                Box::new(|s| {
                    s.cap_sets = Some(crate::spec::CapSets {
                        effective: vec![caps::Capability::CAP_KILL],
                        ..Default::default()
                    })
                }),
                "effective capabilities: CAP_KILL: must also be in permitted capabilities",
            ),
            (
                Box::new(move |s| s.sysctl = sysctl("kernel.panic")),
                "--sysctl kernel.panic: not a namespaced sysctl",
            ),
            (
                Box::new(move |s| s.sysctl = sysctl("net.ipv4.ip_forward")),
                "--sysctl net.ipv4.ip_forward: needs a network namespace",
            ),
            (
                Box::new(move |s| {
                    s.ns.ipc = true;
                    s.sysctl = sysctl("kernel.shmmax")
                }),
                "--sysctl kernel.shmmax: needs a PID namespace",
            ),
        ];
        for (breaks, want) in oci {
            let mut s = Spec::default();
            breaks(&mut s);
            let e = validate(&s).unwrap_err();
            assert!(e.message.starts_with(want), "{e:?} {want}");
        }
        // Defaults keep today's behaviour; a consistent OCI-style Spec passes.
        let mut s = Spec::default();
        s.ns.no_userns = true;
        s.ns.join.push(join(NsKind::Net, "/proc/1/ns/net"));
        s.groups = vec![5, 6];
        s.ns.ipc = true;
        s.ns.pid = true;
        s.sysctl = sysctl("fs.mqueue.msg_max");
        s.rlimits = vec![rlimit(5, 5)];
        assert_eq!(validate(&s), Ok(()));
        assert!(!s.userns_disabled() && !s.own_userns());
        assert!(Spec::default().userns_disabled() && Spec::default().own_userns());
        assert_eq!(NsKind::from_name("network"), Some(NsKind::Net));
        assert_eq!(NsKind::from_name("mnt"), Some(NsKind::Mount));
        assert_eq!(
            crate::spec::RlimitKind::from_name("RLIMIT_NOFILE"),
            Some(crate::spec::RlimitKind::Nofile)
        );
        let mut s = Spec {
            hostname: Some("h".into()),
            ..Spec::default()
        };
        s.ns.uts = true;
        assert_eq!(validate(&s), Ok(()));
        s.ns.net = true;
        s.net.allow.push(rule("localhost:1"));
        s.net.deny.push(rule("localhost"));
        assert_eq!(validate(&s), Ok(()));
    }

    /// The OCI-process rules say which rule and the values concerned, not a sentence.
    #[test]
    fn process_rules_are_data() {
        let r = |inside, outside, count| IdRange {
            inside,
            outside,
            count,
        };
        let s = Spec {
            uid_map: vec![r(0, 1000, 1), r(0, 100000, 10)],
            ..Spec::default()
        };
        assert_eq!(
            check(&s, &Options),
            Err(Broken::MapOverlap {
                opt: "--uid-map",
                range: r(0, 100000, 10),
                other: r(0, 1000, 1),
            })
        );
        let mut s = Spec::default();
        s.ns.join.push(crate::spec::NsJoin {
            kind: NsKind::Uts,
            path: "ns/uts".into(),
        });
        assert_eq!(
            check(&s, &Options),
            Err(Broken::JoinNotAbsolute(Joined {
                kind: NsKind::Uts,
                path: "ns/uts".into(),
            }))
        );
        let s = Spec {
            cap_sets: Some(crate::spec::CapSets {
                effective: vec![caps::Capability::CAP_KILL],
                ..Default::default()
            }),
            ..Spec::default()
        };
        assert_eq!(
            check(&s, &Options),
            Err(Broken::CapNotWithin {
                cap: caps::Capability::CAP_KILL,
                set: "effective capabilities".into(),
                within: "permitted capabilities".into(),
            })
        );
        let mut s = Spec::default();
        s.ns.net = true;
        s.sysctl = vec![("net.a..b".into(), "1".into())];
        assert_eq!(
            check(&s, &Options),
            Err(Broken::SysctlNotAName("--sysctl net.a..b".into()))
        );
    }
}
