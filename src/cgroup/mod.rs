//! Resource limits (--mem, --pids, --cpu) through a cgroup v2 subtree the user owns.
//!
//! Where the subtree comes from: the user's systemd, asked over the user D-Bus for a transient
//! scope with Delegate=yes holding the supervisor ([`systemd`]); or, without D-Bus, the caller's
//! own cgroup when it is already delegated to it ([`delegated`]). Inside it sbox makes two leaves:
//!
//! ```text
//! <group>/supervisor   sbox and the sandbox's init/setup processes: not limited
//! <group>/payload      the command, joined just before exec: every limit is set here
//! ```
//!
//! so that namespace and mount setup is never charged to a tiny limit, and the supervisor,
//! outside the limit, survives an OOM kill to read `payload/memory.events` and report it.
//! Every limit is read back: a controller that is not delegated is an error, never ignored.
//!
//! A session normally lives as long as its supervisor ([`Session::finish`] removes it). For
//! `sbox-runc create` it is kept ([`Session::keep`]): the [`Kept`] record, in the container's
//! state.json, is what `delete` undoes later ([`Kept::remove`]).
//!
//! Every file of that subtree belongs to the user, so file permissions can't keep the command
//! from lifting its own limit. What does: the command's cgroup namespace, rooted at payload/
//! (on systemd's nsdelegate mount the kernel refuses a move out of it, and writes to its own
//! limits), and every cgroup2 mount of the sandbox made read-only (no write to any cgroup file
//! through them). The host's own mount stays out of reach: `/proc/PID/root` of the user's
//! other processes is refused to a process in a child user namespace.

mod bus;
pub mod delegated;
mod error;
pub mod events;
pub mod systemd;

pub use events::Report;

use crate::error::SetupError;
use crate::spec::Limits;
pub use error::CgroupError;
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// cpu.max period in microseconds: the quota is `percent * PERIOD / 100`.
const CPU_PERIOD: u64 = 100_000;

/// A cgroup v2 controller and the option that needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ctl {
    name: &'static str,
    opt: &'static str,
}

fn wanted(l: &Limits) -> Vec<Ctl> {
    let mut v = Vec::new();
    if l.memory.is_some() {
        v.push(Ctl {
            name: "memory",
            opt: "--mem",
        });
    }
    if l.pids.is_some() {
        v.push(Ctl {
            name: "pids",
            opt: "--pids",
        });
    }
    if l.cpu_percent.is_some() {
        v.push(Ctl {
            name: "cpu",
            opt: "--cpu",
        });
    }
    v
}

fn io_err(opt: &str, p: &Path, err: io::Error) -> CgroupError {
    CgroupError::Io {
        opt: opt.into(),
        path: p.to_path_buf(),
        err,
    }
}

fn read(p: &Path) -> io::Result<String> {
    fs::read_to_string(p)
}

fn write(p: &Path, v: &str) -> io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .open(p)
        .and_then(|mut f| io::Write::write_all(&mut f, v.as_bytes()))
}

/// The cgroup2 mount (mount point, root of the mount) and the cgroup v1 mounts' options.
struct Mounts {
    v2: Option<(PathBuf, String)>,
    v1_options: Vec<String>,
}

fn parse_mountinfo(text: &str) -> Mounts {
    let mut m = Mounts {
        v2: None,
        v1_options: Vec::new(),
    };
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        match r[0] {
            "cgroup2" if m.v2.is_none() => {
                let text = |f: &str| String::from_utf8_lossy(&unescape(f.as_bytes())).into_owned();
                m.v2 = Some((PathBuf::from(text(l[4])), text(l[3])))
            }
            "cgroup" => m.v1_options.push(r[2].to_string()),
            _ => {}
        }
    }
    m
}

/// A mountinfo field with its octal escapes (`\040` for a space...) decoded.
fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The mount points of the cgroup2 mounts in `mountinfo` at or below `under` (what the new
/// root, attached there, holds; see launch::mounts::protect_cgroups).
/// Bytes, not text: a mount point need not be UTF-8.
pub fn cgroup2_mounts_under(mountinfo: &[u8], under: &Path) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    mountinfo
        .split(|&c| c == b'\n')
        .filter_map(|line| {
            let sep = line.windows(3).position(|w| w == b" - ")?;
            if !line[sep + 3..].starts_with(b"cgroup2 ") {
                return None;
            }
            let field = line[..sep].split(|&c| c == b' ').nth(4)?;
            let mnt = PathBuf::from(std::ffi::OsString::from_vec(unescape(field)));
            mnt.starts_with(under).then_some(mnt)
        })
        .collect()
}

/// Is the controller bound to a cgroup v1 hierarchy? (/proc/cgroups column 2, or the options
/// of a mounted v1 hierarchy.)
fn bound_to_v1(name: &str, proc_cgroups: &str, m: &Mounts) -> bool {
    let listed = proc_cgroups.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 2 && f[0] == name && f[1] != "0"
    });
    listed || m.v1_options.iter().any(|o| o.split(',').any(|x| x == name))
}

/// Refuse a cgroup v1 or hybrid layout for the controllers asked: return the cgroup2 mount.
fn check_layout(
    ctls: &[Ctl],
    mountinfo: &str,
    proc_cgroups: &str,
) -> Result<(PathBuf, String), CgroupError> {
    let m = parse_mountinfo(mountinfo);
    for c in ctls {
        if bound_to_v1(c.name, proc_cgroups, &m) {
            return Err(match &m.v2 {
                Some((mnt, _)) => CgroupError::BoundToV1 {
                    opt: c.opt.into(),
                    mount: mnt.clone(),
                    controller: c.name,
                },
                None => v1_layout(c.opt),
            });
        }
    }
    m.v2.ok_or_else(|| v1_layout(ctls[0].opt))
}

/// Where systemd mounts the cgroup2 hierarchy.
const UNIFIED_MOUNT: &str = "/sys/fs/cgroup";

/// The common case without reading /proc/self/mountinfo (a tenth of the cgroup set-up in the
/// VM): cgroup2 mounted at /sys/fs/cgroup with its root there, no controller asked for bound to
/// v1. Returns what `own_cgroup` does; None sends the caller to the full check (and its error
/// messages).
fn unified_fast_path(ctls: &[Ctl], proc_cgroups: &str) -> Option<(PathBuf, bool)> {
    let mnt = Path::new(UNIFIED_MOUNT);
    let fs = nix::sys::statfs::statfs(mnt).ok()?;
    if fs.filesystem_type() != nix::sys::statfs::CGROUP2_SUPER_MAGIC {
        return None;
    }
    let no_v1 = Mounts {
        v2: None,
        v1_options: Vec::new(),
    };
    if ctls
        .iter()
        .any(|c| bound_to_v1(c.name, proc_cgroups, &no_v1))
    {
        return None;
    }
    // The mount's root is the hierarchy's (or the cgroup namespace's) root when this process's
    // own cgroup is found under it by its /proc/self/cgroup path.
    let (own, ns_root) = own_cgroup("", mnt, "/").ok()?;
    own.join("cgroup.controllers")
        .exists()
        .then_some((own, ns_root))
}

fn v1_layout(opt: &str) -> CgroupError {
    CgroupError::V1Layout { opt: opt.into() }
}

/// The cgroup layout of this host, as `sbox --doctor` reports it.
#[derive(Debug, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v2 only, mounted here.
    Unified(PathBuf),
    /// cgroup v2 mounted here, controllers on v1 hierarchies beside it.
    Hybrid(PathBuf),
    /// No cgroup v2.
    V1,
}

fn read_layout() -> (String, String) {
    (
        read(Path::new("/proc/self/mountinfo")).unwrap_or_default(),
        read(Path::new("/proc/cgroups")).unwrap_or_default(),
    )
}

pub fn layout() -> Layout {
    let (mountinfo, proc_cgroups) = read_layout();
    let m = parse_mountinfo(&mountinfo);
    let on_v1 = !m.v1_options.is_empty()
        || ["memory", "pids", "cpu"]
            .iter()
            .any(|c| bound_to_v1(c, &proc_cgroups, &m));
    match m.v2 {
        Some((mnt, _)) if on_v1 => Layout::Hybrid(mnt),
        Some((mnt, _)) => Layout::Unified(mnt),
        None => Layout::V1,
    }
}

/// memory.swap.max: none unless asked (an OCI config's memory.swap).
fn swap_max(limits: &Limits) -> String {
    match limits.swap {
        None => "0".to_string(),
        Some(u64::MAX) => "max".to_string(),
        Some(n) => n.to_string(),
    }
}

/// For `sbox --doctor`: can the layout serve `opt` (--mem, --pids or --cpu)? The error is the
/// one that option would fail with.
pub fn layout_allows(opt: &str) -> Result<(), CgroupError> {
    let all = wanted(&Limits {
        memory: Some(1),
        pids: Some(1),
        cpu_percent: Some(1),
        ..Limits::default()
    });
    let ctls: Vec<Ctl> = all.into_iter().filter(|c| c.opt == opt).collect();
    let (mountinfo, proc_cgroups) = read_layout();
    check_layout(&ctls, &mountinfo, &proc_cgroups).map(drop)
}

/// For `sbox --doctor`: the cgroup limits would be built under, and the controllers it
/// offers: the systemd user manager's (user@UID.service), else the caller's own cgroup when
/// it is writable. None when there is neither.
pub fn delegation() -> Option<(PathBuf, Vec<String>)> {
    let (mountinfo, _) = read_layout();
    let (mnt, mnt_root) = parse_mountinfo(&mountinfo).v2?;
    let uid = nix::unistd::getuid();
    let manager = mnt.join(format!("user.slice/user-{uid}.slice/user@{uid}.service"));
    if manager.is_dir() {
        let have = controllers(&manager);
        return Some((manager, have));
    }
    let (own, ns_root) = own_cgroup("", &mnt, &mnt_root).ok()?;
    let usable = delegated::standing(&own, ns_root) != delegated::Standing::Foreign;
    usable.then(|| {
        let have = controllers(&own);
        (own, have)
    })
}

/// This process's cgroup v2 directory, and whether it is the root of its cgroup namespace.
fn own_cgroup(opt: &str, mnt: &Path, mnt_root: &str) -> Result<(PathBuf, bool), CgroupError> {
    let text = read(Path::new("/proc/self/cgroup"))
        .map_err(|e| io_err(opt, Path::new("/proc/self/cgroup"), e))?;
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| CgroupError::NoCgroupV2 { opt: opt.into() })?;
    let inside = rel
        .strip_prefix(mnt_root)
        .unwrap_or(rel)
        .trim_start_matches('/');
    Ok((mnt.join(inside), rel == "/"))
}

fn controllers(cg: &Path) -> Vec<String> {
    read(&cg.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn random_suffix() -> String {
    let mut b = [0u8; 4];
    // SAFETY: the kernel fills at most b.len() bytes of b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        b = t.subsec_nanos().to_ne_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Where the limits live.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Origin {
    /// A transient scope from the user's systemd: the group is the scope; at the end the
    /// supervisor returns into it and systemd collects the scope when sbox exits.
    Scope,
    /// A subdirectory of the caller's delegated cgroup `parent`; the controllers sbox had to
    /// enable there are disabled again, and everyone moved out of `parent` goes back.
    Delegated {
        parent: PathBuf,
        enabled_in_parent: Vec<String>,
    },
}

/// A prepared cgroup for one sandbox. Built before clone; [`Session::finish`] after the wait.
#[derive(Debug)]
pub struct Session {
    origin: Origin,
    group: PathBuf,
    ctls: Vec<Ctl>,
    /// Written by the command process ("0") just before exec.
    procs: Option<OwnedFd>,
    /// memory.max as read back.
    limit: Option<u64>,
    /// `finish` ran: nothing left to undo.
    done: bool,
}

/// Make the cgroups for `limits`, move the supervisor into `supervisor/`, set every limit on
/// `payload/` and check it. `None` when no limit was asked. Single-threaded; may use D-Bus.
pub fn prepare(limits: &Limits) -> Result<Option<Session>, SetupError> {
    let ctls = wanted(limits);
    let Some(first) = ctls.first() else {
        return Ok(None);
    };
    let proc_cgroups = read(Path::new("/proc/cgroups")).unwrap_or_default();
    let ((mnt, mnt_root), (cg, ns_root)) = match unified_fast_path(&ctls, &proc_cgroups) {
        Some(own) => ((PathBuf::from(UNIFIED_MOUNT), "/".to_string()), own),
        None => {
            let mountinfo = read(Path::new("/proc/self/mountinfo"))
                .map_err(|e| io_err(first.opt, Path::new("/proc/self/mountinfo"), e))?;
            let (mnt, mnt_root) = check_layout(&ctls, &mountinfo, &proc_cgroups)?;
            let own = own_cgroup(first.opt, &mnt, &mnt_root)?;
            ((mnt, mnt_root), own)
        }
    };

    let name = format!("sbox-{}-{}", std::process::id(), random_suffix());
    let have = controllers(&cg);
    let standing = if ctls.iter().all(|c| have.iter().any(|h| h == c.name)) {
        delegated::standing(&cg, ns_root)
    } else {
        delegated::Standing::Foreign
    };
    let in_place = |cg: PathBuf, ctls: Vec<Ctl>| Session {
        origin: Origin::Delegated {
            parent: cg.clone(),
            enabled_in_parent: Vec::new(),
        },
        group: cg.join(&name),
        ctls,
        procs: None,
        limit: None,
        done: false,
    };
    // A scope asked for by name (linux.cgroupsPath) is made by systemd or not at all.
    let wish = limits.scope.as_ref();
    let mut s = if standing == delegated::Standing::Delegated && wish.is_none() {
        in_place(cg, ctls)
    } else {
        let (opt, unit, slice) = match wish {
            Some(w) => ("linux.cgroupsPath", w.unit.clone(), Some(w.slice.as_str())),
            None => (first.opt, format!("{name}.scope"), None),
        };
        match systemd::start_scope(opt, &unit, slice) {
            Ok(()) => {}
            // No systemd to ask, but this cgroup is ours with the controllers: use it.
            Err(e)
                if e.unreachable && standing == delegated::Standing::Writable && wish.is_none() =>
            {
                let mut s = in_place(cg, ctls);
                s.build(limits)?;
                return Ok(Some(s));
            }
            Err(e) => return Err(e.error),
        }
        let (scope, _) = own_cgroup(opt, &mnt, &mnt_root)?;
        if scope.file_name().and_then(|n| n.to_str()) != Some(unit.as_str()) {
            return Err(CgroupError::NotInScope {
                opt: opt.into(),
                scope,
                unit,
            }
            .into());
        }
        Session {
            origin: Origin::Scope,
            group: scope,
            ctls,
            procs: None,
            limit: None,
            done: false,
        }
    };
    // On error, dropping the session removes what was made.
    s.build(limits)?;
    Ok(Some(s))
}

impl Session {
    fn leaf(&self, name: &str) -> PathBuf {
        self.group.join(name)
    }

    fn not_delegated(&self, c: Ctl) -> CgroupError {
        CgroupError::NotDelegated {
            opt: c.opt.into(),
            group: self.group.clone(),
            controller: c.name,
            scope: matches!(self.origin, Origin::Scope),
        }
    }

    fn build(&mut self, limits: &Limits) -> Result<(), CgroupError> {
        let opt = self.ctls[0].opt;
        let mkdir = |p: &Path| fs::create_dir(p).map_err(|e| io_err(opt, p, e));
        if let Origin::Delegated { .. } = self.origin {
            mkdir(&self.group)?;
        }
        let sup = self.leaf("supervisor");
        mkdir(&sup)?;
        mkdir(&self.leaf("payload"))?;
        let sup_procs = sup.join("cgroup.procs");
        write(&sup_procs, "0").map_err(|e| io_err(opt, &sup_procs, e))?;

        if let Origin::Delegated {
            parent,
            enabled_in_parent,
        } = &mut self.origin
        {
            // The parent must hold no process once it enables controllers for its children
            // (cgroup v2 "no internal processes"): move the others next to the supervisor.
            let have: Vec<String> = read(&parent.join("cgroup.subtree_control"))
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            for c in &self.ctls {
                if have.iter().any(|h| h == c.name) {
                    continue;
                }
                let ctl = parent.join("cgroup.subtree_control");
                let plus = format!("+{}", c.name);
                let mut r = write(&ctl, &plus);
                if r.as_ref().err().and_then(io::Error::raw_os_error) == Some(libc::EBUSY) {
                    move_all(parent, &sup);
                    r = write(&ctl, &plus);
                }
                r.map_err(|e| io_err(c.opt, &ctl, e))?;
                enabled_in_parent.push(c.name.to_string());
            }
        }

        let ctl = self.group.join("cgroup.subtree_control");
        let plus: Vec<String> = self.ctls.iter().map(|c| format!("+{}", c.name)).collect();
        if let Err(e) = write(&ctl, &plus.join(" ")) {
            // Which controller this cgroup lacks (only read when the write failed).
            let have = controllers(&self.group);
            if let Some(c) = self.ctls.iter().find(|c| !have.iter().any(|h| h == c.name)) {
                return Err(self.not_delegated(*c));
            }
            return Err(io_err(opt, &ctl, e));
        }

        if let Some(bytes) = limits.memory {
            let c = self.ctls[0];
            // The kernel keeps whole pages.
            let page = page_size();
            let want = bytes / page * page;
            self.limit = Some(self.set(c, "memory.max", &bytes.to_string(), &want.to_string())?);
            // Kept as written (no read-back, unlike the limits the kernel may round); no
            // memory.swap.max means no swap accounting, so nothing to turn off.
            let swap = self.leaf("payload").join("memory.swap.max");
            match write(&swap, &swap_max(limits)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                r => r.map_err(|e| io_err(c.opt, &swap, e))?,
            }
            // An OOM kill takes the whole command down, not one of its processes at random.
            let group = self.leaf("payload").join("memory.oom.group");
            match write(&group, "1") {
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.not_delegated(c)),
                r => r.map_err(|e| io_err(c.opt, &group, e))?,
            }
        }
        if let Some(n) = limits.pids {
            let c = *self
                .ctls
                .iter()
                .find(|c| c.name == "pids")
                .unwrap_or(&self.ctls[0]);
            self.set(c, "pids.max", &n.to_string(), &n.to_string())?;
        }
        if let Some(pct) = limits.cpu_percent {
            let c = *self
                .ctls
                .iter()
                .find(|c| c.name == "cpu")
                .unwrap_or(&self.ctls[0]);
            let v = format!("{} {CPU_PERIOD}", u64::from(pct) * CPU_PERIOD / 100);
            self.set(c, "cpu.max", &v, &v)?;
        }

        let procs = self.leaf("payload").join("cgroup.procs");
        let f = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&procs)
            .map_err(|e| io_err(opt, &procs, e))?;
        self.procs = Some(f.into());
        Ok(())
    }

    /// Write a limit on the payload leaf and read it back; returns the value read as a number
    /// (0 when it is not one).
    fn set(&self, c: Ctl, file: &str, value: &str, expect: &str) -> Result<u64, CgroupError> {
        let p = self.leaf("payload").join(file);
        match write(&p, value) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.not_delegated(c)),
            r => r.map_err(|e| io_err(c.opt, &p, e))?,
        }
        let got = read(&p).map_err(|e| io_err(c.opt, &p, e))?;
        let got = got.trim();
        if got != expect {
            return Err(CgroupError::NotInForce {
                opt: c.opt.into(),
                file: p,
                wrote: value.into(),
                got: got.into(),
            });
        }
        Ok(got.parse().unwrap_or(0))
    }

    /// The payload leaf's cgroup.procs, open for writing. The command process writes "0" to it
    /// just before exec (the open file carries the supervisor's permission, so this works from
    /// inside the user namespace), then closes it. Then it unshares its cgroup namespace so
    /// that the payload leaf is its root.
    pub fn payload_procs_fd(&self) -> BorrowedFd<'_> {
        self.procs
            .as_ref()
            .expect("a prepared session has the payload's cgroup.procs open")
            .as_fd()
    }

    /// The option that asked for the first limit (--mem, --pids or --cpu), for error lines.
    pub fn option(&self) -> &'static str {
        self.ctls[0].opt
    }

    /// The cgroup directory the command runs in (for --verbose and tests).
    pub fn payload_path(&self) -> PathBuf {
        self.leaf("payload")
    }

    /// After the sandbox exited: read what happened, kill what the command left behind, and
    /// remove the cgroups sbox made in a delegated subtree. A scope's are systemd's to remove:
    /// it collects the scope, leaves included, once sbox, its last process, exits.
    /// `peak`: read memory.peak too (for --json-status-fd; an OOM report always has it).
    pub fn finish(mut self, peak: bool) -> Report {
        self.procs = None;
        let memory = self.ctls.iter().any(|c| c.name == "memory");
        let r = read_report(&self.leaf("payload"), memory, self.limit, peak);
        self.teardown();
        self.done = true;
        r
    }

    /// Undo everything `build` did, as far as it got; errors are ignored (best effort).
    fn teardown(&mut self) {
        let names: Vec<&str> = self.ctls.iter().map(|c| c.name).collect();
        undo(&self.group, &self.origin, &names);
    }

    /// The session outlives this process (`sbox-runc create`): nothing is undone when it is
    /// dropped; the record says what `delete` must undo ([`Kept::remove`]). With a scope,
    /// systemd collects it once its last process is gone (this one leaves, the container's
    /// stay in payload/).
    pub fn keep(mut self) -> Kept {
        self.procs = None;
        self.done = true;
        Kept {
            origin: self.origin.clone(),
            group: self.group.clone(),
            controllers: self.ctls.iter().map(|c| c.name.to_string()).collect(),
            limit: self.limit,
        }
    }
}

/// Kill what is left in `group`'s payload leaf, then remove what sbox made there: for a
/// delegated subtree every directory (depth first: sub-cgroups the command may have made
/// included), the controllers enabled, and the processes moved out of the parent moved back.
/// A scope's cgroups are systemd's to remove once it is empty. Best effort.
fn undo(group: &Path, origin: &Origin, ctls: &[&str]) {
    let payload = group.join("payload");
    if payload.exists() {
        // Processes the command left behind (no PID namespace) must not outlive sbox.
        kill_all(&payload);
    }
    if let Origin::Scope = origin {
        // systemd removes the scope's cgroup, leaves included, once its last process (sbox)
        // has exited. Moving sbox out of its leaf first would cost a migration (a wait for
        // an RCU grace period) for nothing.
        return;
    }
    remove_tree(&payload);
    let minus: Vec<String> = ctls.iter().map(|c| format!("-{c}")).collect();
    let _ = write(&group.join("cgroup.subtree_control"), &minus.join(" "));
    let sup = group.join("supervisor");
    if let Origin::Delegated {
        parent,
        enabled_in_parent,
    } = origin
    {
        let minus: Vec<String> = enabled_in_parent.iter().map(|c| format!("-{c}")).collect();
        if minus.is_empty()
            || write(&parent.join("cgroup.subtree_control"), &minus.join(" ")).is_ok()
        {
            move_all(&sup, parent);
        }
    }
    let _ = fs::remove_dir(&sup);
    let _ = fs::remove_dir(group);
}

/// Kill every process of cgroup `cg` and its descendants, and wait (a little) until it is
/// empty: cgroup.kill (Linux 5.14), else SIGKILL to each process, a few rounds (they may
/// fork meanwhile).
fn kill_all(cg: &Path) {
    if !populated(cg) {
        return;
    }
    let killed = write(&cg.join("cgroup.kill"), "1").is_ok();
    let deadline = Instant::now() + Duration::from_secs(2);
    while populated(cg) && Instant::now() < deadline {
        if !killed {
            for pid in procs_under(cg) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The processes of cgroup `cg` and of every cgroup below it.
fn procs_under(cg: &Path) -> Vec<i32> {
    let mut pids: Vec<i32> = read(&cg.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for sub in subdirs(cg) {
        pids.extend(procs_under(&sub));
    }
    pids
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// rmdir `dir` and every directory below it, deepest first (a cgroup can only be removed
/// once it has no children; its files go with it). Not through symbolic links.
fn remove_tree(dir: &Path) {
    for sub in subdirs(dir) {
        remove_tree(&sub);
    }
    let _ = fs::remove_dir(dir);
}

/// memory.events (and memory.peak on an OOM kill, or when `peak`) of the payload leaf.
fn read_report(payload: &Path, memory: bool, limit: Option<u64>, peak: bool) -> Report {
    let mut r = Report {
        limit,
        ..Report::default()
    };
    if memory {
        let ev = read(&payload.join("memory.events")).unwrap_or_default();
        r.oom_kill = events::keyed(&ev, "oom_kill").unwrap_or(0);
        if peak || r.oom_kill > 0 {
            r.memory_peak = read(&payload.join("memory.peak"))
                .ok()
                .and_then(|s| s.trim().parse().ok());
        }
    }
    r
}

/// A cgroup session kept past the process that made it (`sbox-runc create` returns while the
/// container runs): what `state`, `kill --all`, `run` and `delete` need, stored in the
/// container's state.json.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Kept {
    /// A systemd scope, or the delegated parent with the controllers sbox enabled in it.
    pub origin: Origin,
    /// The group sbox made (the scope's cgroup, or its directory in the delegated parent).
    pub group: PathBuf,
    /// The controllers enabled in the group's cgroup.subtree_control.
    pub controllers: Vec<String>,
    /// memory.max as read back.
    pub limit: Option<u64>,
}

impl Kept {
    /// The record names a cgroup as sbox makes them (state.json is only a file: nothing
    /// else is killed or removed through it): `sbox-*`, or a scope named by the config.
    fn ours(&self) -> bool {
        let name = self.group.file_name().unwrap_or_default().to_string_lossy();
        let named =
            name.starts_with("sbox-") || (self.origin == Origin::Scope && name.ends_with(".scope"));
        self.group.is_absolute() && named
    }

    /// The leaf the container's processes are in; every limit is set there.
    fn payload(&self) -> PathBuf {
        self.group.join("payload")
    }

    fn check(&self, opt: &str) -> Result<(), CgroupError> {
        match self.ours() {
            true => Ok(()),
            false => Err(io_err(
                opt,
                &self.group,
                io::Error::new(io::ErrorKind::InvalidData, "not a cgroup sbox made"),
            )),
        }
    }

    /// Every process of the container's cgroup (sub-cgroups it made included).
    pub fn pids(&self) -> Vec<i32> {
        if !self.ours() {
            return Vec::new();
        }
        procs_under(&self.payload())
    }

    /// What the kernel says happened in the payload leaf: OOM kills, and the peak then.
    pub fn report(&self) -> Report {
        let memory = self.controllers.iter().any(|c| c == "memory");
        read_report(&self.payload(), memory, self.limit, false)
    }

    /// Move this process into the payload leaf (`sbox-runc exec`: what it starts is then one
    /// of the container's processes, under its limits): directly where cgroup permissions
    /// allow it, else, for a scope, through systemd.
    pub fn enter(&self, opt: &str) -> Result<(), CgroupError> {
        self.check(opt)?;
        let procs = self.payload().join("cgroup.procs");
        match (write(&procs, "0"), &self.origin) {
            (Ok(()), _) => Ok(()),
            (Err(_), Origin::Scope) => {
                let unit = self.group.file_name().unwrap_or_default().to_string_lossy();
                systemd::attach(opt, &unit, "/payload", std::process::id())
            }
            (Err(e), _) => Err(io_err(opt, &procs, e)),
        }
    }

    /// Freeze (`true`) or thaw the container's processes (cgroup.freeze), and wait until the
    /// kernel says it is done.
    pub fn freeze(&self, frozen: bool) -> Result<(), CgroupError> {
        let f = self.payload().join("cgroup.freeze");
        let step = if frozen { "pause" } else { "resume" };
        self.check(step)?;
        write(&f, if frozen { "1" } else { "0" }).map_err(|e| io_err(step, &f, e))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.frozen() == frozen {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(io_err(
            step,
            &self.payload().join("cgroup.events"),
            io::Error::from(io::ErrorKind::TimedOut),
        ))
    }

    /// Whether the payload leaf is frozen (cgroup.events).
    pub fn frozen(&self) -> bool {
        let ev = read(&self.payload().join("cgroup.events")).unwrap_or_default();
        events::keyed(&ev, "frozen") == Some(1)
    }

    /// Kill everything left in the payload leaf and remove what sbox made (see `undo`).
    pub fn remove(&self) {
        if !self.ours() {
            return;
        }
        let names: Vec<&str> = self.controllers.iter().map(String::as_str).collect();
        undo(&self.group, &self.origin, &names);
    }
}

fn populated(cg: &Path) -> bool {
    read(&cg.join("cgroup.events"))
        .ok()
        .and_then(|t| events::keyed(&t, "populated"))
        .unwrap_or(0)
        != 0
}

impl Drop for Session {
    /// A session abandoned on an error path still removes what it made.
    fn drop(&mut self) {
        if !self.done {
            self.teardown();
        }
    }
}

/// In the command process, just before exec: join the payload leaf through the descriptor the
/// supervisor opened (from here on, memory and processes count against the limits), then make
/// that leaf the root of a new cgroup namespace, asked for or not: the kernel then refuses to
/// move the command out of it or to write its limits from inside. It needs CAP_SYS_ADMIN in the
/// sandbox's user namespace: call this before capabilities are dropped. `opt` is the option an
/// error names.
pub fn enter_payload(procs: BorrowedFd, opt: &str) -> Result<(), CgroupError> {
    let fail = |opt: &str, what, errno| CgroupError::Errno {
        opt: opt.into(),
        what,
        errno,
    };
    // "0" is the writing process itself; the open file carries the supervisor's credentials.
    nix::unistd::write(procs, b"0").map_err(|e| fail("limits", "payload/cgroup.procs", e))?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        .map_err(|e| fail(opt, "cgroup namespace", e))
}

/// Move every process of cgroup `from` into `to` (a few rounds: they may fork meanwhile).
fn move_all(from: &Path, to: &Path) {
    let dst = to.join("cgroup.procs");
    for _ in 0..10 {
        let pids = read(&from.join("cgroup.procs")).unwrap_or_default();
        if pids.trim().is_empty() {
            return;
        }
        for pid in pids.split_whitespace() {
            let _ = write(&dst, pid);
        }
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as u64 } else { 4096 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SetupError;

    fn err<T: std::fmt::Debug>(r: Result<T, CgroupError>) -> SetupError {
        SetupError::from(r.unwrap_err())
    }

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const UNIFIED: &str = "\
25 20 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";
    const V1: &str = "\
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
";
    const PROC_V2: &str =
        "#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t0\t80\t1\npids\t0\t80\t1\n";

    fn limits(mem: bool, pids: bool, cpu: bool) -> Vec<Ctl> {
        wanted(&Limits {
            memory: mem.then_some(1 << 20),
            pids: pids.then_some(10),
            cpu_percent: cpu.then_some(50),
            ..Limits::default()
        })
    }

    #[test]
    fn swap_is_none_unless_asked() {
        let with = |swap| {
            swap_max(&Limits {
                swap,
                ..Limits::default()
            })
        };
        assert_eq!(with(None), "0");
        assert_eq!(with(Some(1 << 20)), "1048576");
        assert_eq!(with(Some(u64::MAX)), "max");
    }

    #[test]
    fn hybrid_layout_is_refused_naming_the_option() {
        let e = err(check_layout(&limits(true, false, false), HYBRID, ""));
        assert_eq!(e.step, "--mem");
        assert_eq!(e.path, "/sys/fs/cgroup/unified");
        assert!(
            e.why
                .contains("memory controller is bound to cgroup v1 (hybrid"),
            "{e}"
        );
        let e = err(check_layout(&limits(false, true, false), HYBRID, ""));
        assert_eq!(e.step, "--pids");
        let e = err(check_layout(&limits(false, false, true), HYBRID, ""));
        assert_eq!(e.step, "--cpu");
        assert!(e.why.contains("cpu controller"));
    }

    #[test]
    fn proc_cgroups_reveals_v1_binding_without_a_mount() {
        let pc = "#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t4\t26\t1\n";
        let e = err(check_layout(&limits(true, false, false), UNIFIED, pc));
        assert!(e.why.contains("hybrid"));
    }

    #[test]
    fn v1_and_unified_layouts() {
        let e = err(check_layout(&limits(true, false, false), V1, ""));
        assert!(e.why.contains("cgroup v1 layout"), "{e}");
        let e = err(check_layout(&limits(false, true, false), "", ""));
        assert_eq!(
            (e.step.as_str(), e.path.as_str()),
            ("--pids", "/sys/fs/cgroup")
        );
        let (mnt, root) = check_layout(&limits(true, true, true), UNIFIED, PROC_V2).unwrap();
        assert_eq!((mnt, root.as_str()), (PathBuf::from("/sys/fs/cgroup"), "/"));
    }

    #[test]
    fn cgroup2_mounts_in_the_new_root() {
        let mi = "\
25 20 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
90 80 0:40 / /tmp rw - tmpfs tmpfs rw
91 90 0:22 / /tmp/sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
92 90 0:22 /user.slice /tmp/my\\040cg rw - cgroup2 cgroup2 rw
93 90 0:41 / /tmp/sys/fs/cgroup/x rw - tmpfs tmpfs rw
94 20 0:22 / /tmpx rw - cgroup2 cgroup2 rw
";
        assert_eq!(
            cgroup2_mounts_under(mi.as_bytes(), Path::new("/tmp")),
            [
                PathBuf::from("/tmp/sys/fs/cgroup"),
                PathBuf::from("/tmp/my cg")
            ]
        );
        assert_eq!(unescape(b"a\\011b\\134c\\0\xff"), b"a\tb\\c\\0\xff");
    }

    #[test]
    fn remove_tree_goes_depth_first() {
        let d = std::env::temp_dir().join(format!("sbox-cg-tree-{}", std::process::id()));
        fs::create_dir_all(d.join("payload/a/b/c")).unwrap();
        fs::create_dir_all(d.join("payload/x")).unwrap();
        remove_tree(&d.join("payload"));
        assert!(!d.join("payload").exists());
        fs::remove_dir(&d).unwrap();
    }

    #[test]
    fn kept_record_round_trips() {
        let k = Kept {
            origin: Origin::Delegated {
                parent: "/sys/fs/cgroup/ci".into(),
                enabled_in_parent: vec!["memory".into()],
            },
            group: "/sys/fs/cgroup/ci/sbox-1-ab".into(),
            controllers: vec!["memory".into(), "pids".into()],
            limit: Some(1 << 20),
        };
        let text = serde_json::to_string(&k).unwrap();
        assert_eq!(serde_json::from_str::<Kept>(&text).unwrap(), k);
        let scope: Kept = serde_json::from_str(&text.replace(
            r#"{"Delegated":{"parent":"/sys/fs/cgroup/ci","enabled_in_parent":["memory"]}}"#,
            r#""Scope""#,
        ))
        .unwrap();
        assert_eq!(scope.origin, Origin::Scope);
        assert!(k.ours() && scope.ours());
        let other = Kept {
            group: "/sys/fs/cgroup/user.slice".into(),
            ..k.clone()
        };
        assert!(!other.ours());
        assert!(other.pids().is_empty());
        // A scope named by linux.cgroupsPath is one sbox made; a directory so named is not.
        let named = Kept {
            origin: Origin::Scope,
            group: "/sys/fs/cgroup/user.slice/libpod-1.scope".into(),
            ..other.clone()
        };
        assert!(named.ours());
        assert!(
            !Kept {
                origin: k.origin.clone(),
                ..named
            }
            .ours()
        );
    }

    #[test]
    fn no_limits_no_session() {
        assert!(prepare(&Limits::default()).unwrap().is_none());
    }
}
