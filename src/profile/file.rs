//! One profile file: its TOML schema, and how its values change a `Spec`. No I/O here: the
//! text comes from the loader, variables from `Vars`.

use super::merge;
use super::{ProfileError, Vars};
use crate::spec::options::{self, Op};
use crate::spec::validate;
use crate::spec::values::{self, ValueError};
use crate::spec::{BindExtra, BindKind, EnvOp, FsOp, OverlayUpper, Spec, net};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

type Str = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub extends: Vec<Str>,
    hostname: Option<Str>,
    chdir: Option<Str>,
    #[serde(default)]
    caps: Vec<Str>,
    #[serde(default)]
    mounts: Vec<Spanned<Mount>>,
    #[serde(default)]
    namespaces: Namespaces,
    #[serde(default)]
    env: Env,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    seccomp: Seccomp,
    #[serde(default)]
    landlock: Landlock,
    #[serde(default)]
    network: Network,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Mount {
    kind: Kind,
    src: Option<Str>,
    dst: Option<Str>,
    #[serde(default)]
    optional: bool,
    /// Warn after the run of files planted in the source for programs run outside later.
    #[serde(default)]
    report_planted: bool,
    /// Binds: make the source directory on the host when it is missing.
    #[serde(default)]
    create: bool,
    /// Optional binds: what to do when the source is missing, said in one line.
    missing: Option<Str>,
    perms: Option<Str>,
    size: Option<Str>,
    #[serde(default)]
    lower: Vec<Str>,
    upper: Option<Str>,
    work: Option<Str>,
}

/// A mount's `kind`: named after the option with the same operation (the option table's
/// `profile_kind`), or `mask`, a profile's own.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Bind,
    RoBind,
    DevBind,
    Tmpfs,
    Proc,
    Dev,
    Dir,
    Symlink,
    Mask,
    Overlay,
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        if name == MASK {
            return Some(Kind::Mask);
        }
        Kind::from_op(
            options::profile_kinds()
                .find(|o| o.profile_kind == Some(name))?
                .op?,
        )
    }

    fn from_op(op: Op) -> Option<Kind> {
        Some(match op {
            Op::Bind(BindKind::Rw, false) => Kind::Bind,
            Op::Bind(BindKind::Ro, false) => Kind::RoBind,
            Op::Bind(BindKind::Dev, false) => Kind::DevBind,
            Op::Tmpfs => Kind::Tmpfs,
            Op::Proc => Kind::Proc,
            Op::Dev => Kind::Dev,
            Op::Dir => Kind::Dir,
            Op::Symlink => Kind::Symlink,
            Op::Overlay(_) => Kind::Overlay,
            _ => return None,
        })
    }

    /// Every kind's name: the table's, then `mask`.
    fn names() -> impl Iterator<Item = &'static str> {
        options::profile_kinds()
            .filter_map(|o| o.profile_kind)
            .chain([MASK])
    }

    /// Its name, for messages.
    fn name(self) -> &'static str {
        options::profile_kinds()
            .find(|o| o.op.and_then(Kind::from_op) == Some(self))
            .and_then(|o| o.profile_kind)
            .unwrap_or(MASK)
    }
}

const MASK: &str = "mask";

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let s = String::deserialize(d)?;
        Kind::of(&s).ok_or_else(|| {
            let names: Vec<String> = Kind::names().map(|n| format!("`{n}`")).collect();
            serde::de::Error::custom(format!(
                "unknown variant `{s}`, expected one of {}",
                names.join(", ")
            ))
        })
    }
}

#[derive(Deserialize)]
enum Net {
    #[serde(rename = "none")]
    Isolated,
    #[serde(rename = "host")]
    Host,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Namespaces {
    net: Option<Net>,
    pid: Option<bool>,
    ipc: Option<bool>,
    uts: Option<bool>,
    cgroup: Option<bool>,
    allow_userns: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Env {
    clear: Option<bool>,
    #[serde(default)]
    keep: Vec<Str>,
    #[serde(default)]
    set: BTreeMap<String, Str>,
    #[serde(default)]
    unset: Vec<Str>,
    /// Set only when the sandbox ends up without network.
    #[serde(default)]
    offline: BTreeMap<String, Str>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Limits {
    memory: Option<Str>,
    pids: Option<Spanned<u64>>,
    cpu: Option<Str>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Seccomp {
    profile: Option<Str>,
    #[serde(default)]
    allow: Vec<Str>,
    #[serde(default)]
    deny: Vec<Str>,
    allow_32bit: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Landlock {
    /// Derive the rules from the mounts, as `--landlock`.
    mounts: Option<bool>,
    #[serde(default)]
    ro: Vec<Str>,
    #[serde(default)]
    rw: Vec<Str>,
    #[serde(default)]
    tcp_connect: Vec<u16>,
    #[serde(default)]
    tcp_bind: Vec<u16>,
}

/// `[network]`: the egress allowlist, as `--net-allow` and `--net-deny`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Network {
    #[serde(default)]
    allow: Vec<Str>,
    #[serde(default)]
    deny: Vec<Str>,
    /// An allowlist file (profile::allowlist), used when it exists instead of the host
    /// network; a later layer's replaces it.
    allowlist: Option<Str>,
    /// Tools whose configured registry is allowed (profile::registry).
    #[serde(default)]
    allow_registry: Vec<Str>,
    /// `--net-record FILE`: a trusted run that allows public destinations and writes them.
    record: Option<Str>,
}

pub fn parse(path: &Path, text: &str) -> Result<File, ProfileError> {
    toml::from_str(text).map_err(|e| toml_error(path, text, e))
}

/// The TOML reader's error, on one line, at its position.
pub(super) fn toml_error(path: &Path, text: &str, e: toml::de::Error) -> ProfileError {
    let why = e.message().trim().replace('\n', " ");
    ProfileError::at(
        path,
        text,
        e.span().unwrap_or(0..0),
        ProfileError::Toml(why),
    )
}

/// Apply one parsed file on top of `spec` (the merge rule is in the module comment).
pub fn apply(
    f: &File,
    path: &Path,
    text: &str,
    vars: &Vars,
    spec: &mut Spec,
) -> Result<(), ProfileError> {
    let at = |span: Range<usize>, why: ProfileError| ProfileError::at(path, text, span, why);
    let bad = |span: Range<usize>, e: ValueError| {
        ProfileError::at(path, text, span, ProfileError::Value(e))
    };
    // Unlocated (for `mount`, which locates its own errors) and located forms.
    let raw_expand = |s: &Str| vars.expand(s.get_ref());
    let raw_abs = |s: &Str| absolute(&vars.expand(s.get_ref())?);
    let expand = |s: &Str| raw_expand(s).map_err(|e| at(s.span(), e));
    let abs = |s: &Str| raw_abs(s).map_err(|e| at(s.span(), e));

    for m in &f.mounts {
        let op = mount(m, &raw_abs, &raw_expand).map_err(|(span, why)| at(span, why))?;
        // A mount replacing one on the same path replaces its report_planted too.
        if let Some(FsOp::Bind { src, .. }) = spec.ops.iter().find(|o| o.dst() == op.dst()) {
            spec.report_planted.retain(|p| p != src);
        }
        if let FsOp::Bind { src, .. } = &op
            && m.get_ref().report_planted
            && !spec.report_planted.contains(src)
        {
            spec.report_planted.push(src.clone());
        }
        let extra = bind_extra(m.get_ref(), op.dst(), vars).map_err(|(span, why)| at(span, why))?;
        // A later layer's mount on the same path replaces this one's extras too.
        spec.bind_extras
            .retain(|e| e.dst.as_os_str() != op.dst().as_os_str());
        spec.bind_extras.extend(extra);
        merge::put_mount(spec, op);
    }

    let ns = &f.namespaces;
    if let Some(net) = &ns.net {
        spec.ns.net = matches!(net, Net::Isolated);
    }
    for (v, field) in [
        (ns.pid, &mut spec.ns.pid),
        (ns.ipc, &mut spec.ns.ipc),
        (ns.uts, &mut spec.ns.uts),
        (ns.cgroup, &mut spec.ns.cgroup),
        (ns.allow_userns, &mut spec.allow_userns),
        (f.env.clear, &mut spec.clearenv),
        (f.seccomp.allow_32bit, &mut spec.seccomp.allow_32bit),
        (f.landlock.mounts, &mut spec.landlock.from_mounts),
    ] {
        if let Some(v) = v {
            *field = v;
        }
    }
    if let Some(h) = &f.hostname {
        spec.hostname = Some(h.get_ref().clone());
    }
    if let Some(d) = &f.chdir {
        spec.chdir = Some(abs(d)?);
    }

    // Environment: keep, then set, then unset, after the earlier layers' edits.
    // The rule is spec::validate's; checked here too to say where.
    let var_name = |k: &str, span: Range<usize>| {
        validate::env_name(k.as_ref()).map_err(|why| at(span, ProfileError::EnvName(why)))
    };
    for k in &f.env.keep {
        var_name(k.get_ref(), k.span())?;
        spec.env.push(EnvOp::Keep(k.get_ref().clone()));
    }
    for (k, v) in &f.env.set {
        var_name(k, v.span())?;
        spec.env.push(EnvOp::Set(k.into(), expand(v)?.into()));
    }
    for k in &f.env.unset {
        var_name(k.get_ref(), k.span())?;
        spec.env.push(EnvOp::Unset(k.get_ref().into()));
    }
    for (k, v) in &f.env.offline {
        var_name(k, v.span())?;
        spec.env.push(EnvOp::Offline(k.into(), expand(v)?.into()));
    }

    let l = &f.limits;
    if let Some(m) = &l.memory {
        spec.limits.memory =
            Some(values::parse_size("memory", m.get_ref()).map_err(|e| bad(m.span(), e))?);
    }
    if let Some(p) = &l.pids {
        let s = p.get_ref().to_string();
        spec.limits.pids = Some(values::parse_pids("pids", &s).map_err(|e| bad(p.span(), e))?);
    }
    if let Some(c) = &l.cpu {
        spec.limits.cpu_percent =
            Some(values::parse_percent("cpu", c.get_ref()).map_err(|e| bad(c.span(), e))?);
    }

    for c in &f.caps {
        let cap = values::parse_cap("caps", c.get_ref()).map_err(|e| bad(c.span(), e))?;
        if !spec.caps.contains(&cap) {
            spec.caps.push(cap);
        }
    }
    spec.caps.sort_by_key(|c| c.index());

    let s = &f.seccomp;
    if let Some(p) = &s.profile {
        spec.seccomp.profile = values::parse_seccomp_profile("seccomp.profile", p.get_ref())
            .map_err(|e| at(p.span(), ProfileError::Value(e)))?;
    }
    for a in &s.allow {
        let name = values::parse_syscall("seccomp.allow", a.get_ref(), a.get_ref())
            .map_err(|e| bad(a.span(), e))?;
        spec.seccomp.allow.push(name);
    }
    for d in &s.deny {
        let rule = values::parse_deny("seccomp.deny", d.get_ref()).map_err(|e| bad(d.span(), e))?;
        spec.seccomp.deny.push(rule);
    }

    let ll = &f.landlock;
    for (list, into) in [
        (&ll.ro, &mut spec.landlock.ro),
        (&ll.rw, &mut spec.landlock.rw),
    ] {
        for p in list {
            into.push(abs(p)?);
        }
    }
    spec.landlock.tcp_connect.extend(&ll.tcp_connect);
    spec.landlock.tcp_bind.extend(&ll.tcp_bind);

    // The allowlist appends to the earlier layers'; an allow rule means a network namespace.
    let n = &f.network;
    for (key, list, deny) in [
        ("network.allow", &n.allow, false),
        ("network.deny", &n.deny, true),
    ] {
        for v in list {
            let rule = net::parse_rule(key, v.get_ref()).map_err(|e| bad(v.span(), e))?;
            let into = if deny {
                &mut spec.net.deny
            } else {
                &mut spec.net.allow
            };
            if !into.contains(&rule) {
                into.push(rule);
            }
        }
    }
    if let Some(first) = n.allow.first() {
        if matches!(ns.net, Some(Net::Host)) {
            return Err(at(first.span(), ProfileError::AllowWithHostNet));
        }
        spec.ns.net = true;
    }
    // A scalar: a later layer's file replaces an earlier one's (cargo-fetch's the net one's).
    if let Some(a) = &n.allowlist {
        spec.net_offer.files = vec![abs(a)?];
    }
    for t in &n.allow_registry {
        let name = super::registry::Tool::from_name(t.get_ref()).map_err(|e| at(t.span(), e))?;
        let name = name.name().to_string();
        if !spec.net_offer.tools.contains(&name) {
            spec.net_offer.tools.push(name);
        }
    }
    if let Some(r) = &n.record {
        spec.net.record = Some(abs(r)?);
    }
    Ok(())
}

/// An absolute path without `..` (a mount's key is its lexical path), normalized.
pub(super) fn absolute(s: &str) -> Result<PathBuf, ProfileError> {
    if !s.starts_with('/') {
        return Err(ProfileError::NotAbsolute(s.to_string()));
    }
    // What Path::components would keep of an absolute path, on the string (every profile
    // path passes here at every start): no empty or "." components.
    let mut out = String::with_capacity(s.len());
    for c in s.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if c == ".." {
            return Err(ProfileError::DotDot(s.to_string()));
        }
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out.into())
}

type Located = (Range<usize>, ProfileError);

/// One `[[mounts]]` entry as a filesystem operation, refusing fields its kind doesn't take.
fn mount(
    m: &Spanned<Mount>,
    abs: &dyn Fn(&Str) -> Result<PathBuf, ProfileError>,
    expand: &dyn Fn(&Str) -> Result<String, ProfileError>,
) -> Result<FsOp, Located> {
    let whole = m.span();
    let m = m.get_ref();
    let takes: &[&str] = match m.kind {
        Kind::Bind | Kind::DevBind => &[
            "src",
            "dst",
            "optional",
            "create",
            "missing",
            "report_planted",
        ],
        Kind::RoBind => &["src", "dst", "optional", "create", "missing"],
        Kind::Tmpfs => &["dst", "perms", "size"],
        Kind::Dir => &["dst", "perms"],
        Kind::Symlink => &["src", "dst"],
        Kind::Overlay => &["lower", "upper", "work", "dst"],
        Kind::Proc | Kind::Dev | Kind::Mask => &["dst"],
    };
    let given: [(&str, Option<Range<usize>>); 11] = [
        ("src", m.src.as_ref().map(Spanned::span)),
        ("dst", m.dst.as_ref().map(Spanned::span)),
        ("optional", m.optional.then(|| whole.clone())),
        ("report_planted", m.report_planted.then(|| whole.clone())),
        ("create", m.create.then(|| whole.clone())),
        ("missing", m.missing.as_ref().map(Spanned::span)),
        ("perms", m.perms.as_ref().map(Spanned::span)),
        ("size", m.size.as_ref().map(Spanned::span)),
        ("lower", m.lower.first().map(Spanned::span)),
        ("upper", m.upper.as_ref().map(Spanned::span)),
        ("work", m.work.as_ref().map(Spanned::span)),
    ];
    for (field, span) in given {
        if let Some(span) = span
            && !takes.contains(&field)
        {
            return Err((
                span,
                ProfileError::MountTakesNo {
                    kind: m.kind.name(),
                    field,
                    takes,
                },
            ));
        }
    }
    let loc = |s: &Str| {
        let span = s.span();
        move |e: ProfileError| (span, e)
    };
    let need = |v: &Option<Str>, field: &'static str| {
        v.clone().ok_or_else(|| {
            (
                whole.clone(),
                ProfileError::MountNeeds {
                    kind: m.kind.name(),
                    field,
                },
            )
        })
    };
    // The destination defaults to the source for binds: the same path inside as outside.
    let dst = match (&m.dst, m.kind) {
        (Some(d), _) => abs(d).map_err(loc(d))?,
        (None, Kind::Bind | Kind::RoBind | Kind::DevBind) => {
            let s = need(&m.src, "src")?;
            abs(&s).map_err(loc(&s))?
        }
        _ => {
            return Err((
                whole.clone(),
                ProfileError::MountNeeds {
                    kind: m.kind.name(),
                    field: "dst",
                },
            ));
        }
    };
    let perms = match &m.perms {
        Some(p) => Some(
            values::parse_octal("perms", p.get_ref())
                .map_err(|e| (p.span(), ProfileError::Value(e)))?,
        ),
        None => None,
    };
    Ok(match m.kind {
        Kind::Bind | Kind::RoBind | Kind::DevBind => {
            let s = need(&m.src, "src")?;
            FsOp::Bind {
                kind: match m.kind {
                    Kind::Bind => BindKind::Rw,
                    Kind::RoBind => BindKind::Ro,
                    _ => BindKind::Dev,
                },
                src: abs(&s).map_err(loc(&s))?,
                dst,
                optional: m.optional,
            }
        }
        Kind::Tmpfs => FsOp::Tmpfs {
            dst,
            perms,
            size: match &m.size {
                Some(s) => Some(
                    values::parse_size("size", s.get_ref())
                        .map_err(|e| (s.span(), ProfileError::Value(e)))?,
                ),
                None => None,
            },
        },
        Kind::Dir => FsOp::Dir { dst, perms },
        Kind::Proc => FsOp::Proc { dst },
        Kind::Dev => FsOp::Dev { dst },
        Kind::Mask => FsOp::Mask { dst },
        Kind::Symlink => {
            let s = need(&m.src, "src")?;
            FsOp::Symlink {
                target: expand(&s).map_err(loc(&s))?.into(),
                dst,
            }
        }
        Kind::Overlay => {
            let upper = match (&m.upper, &m.work) {
                (Some(u), Some(w)) => OverlayUpper::Dir {
                    upper: abs(u).map_err(loc(u))?,
                    work: abs(w).map_err(loc(w))?,
                },
                (None, None) => OverlayUpper::Tmp,
                _ => {
                    return Err((whole.clone(), ProfileError::OverlayUpperWithoutWork));
                }
            };
            // The rule of spec::validate, said here with the mount's place in the file.
            if m.lower.len() < validate::layers_needed(&upper) {
                return Err((whole.clone(), ProfileError::OverlayNeedsLower));
            }
            let mut lower = Vec::new();
            // The command line's --overlay-src order is bottom first; `lower` reads topmost first.
            for l in m.lower.iter().rev() {
                lower.push(abs(l).map_err(loc(l))?);
            }
            FsOp::Overlay { lower, upper, dst }
        }
    })
}

/// The variables below which `create = true` may make directories: the caller's own.
const CREATE_UNDER: [&str; 4] = ["HOME", "XDG_CACHE_HOME", "CWD", "PROJECT"];

/// A bind's `create` and `missing` keys. `create` needs a source below one of CREATE_UNDER;
/// creation starts from that variable's directory (from $HOME for a cache directory inside
/// the home, which may not exist yet on a fresh account).
fn bind_extra(m: &Mount, dst: &Path, vars: &Vars) -> Result<Option<BindExtra>, Located> {
    if !m.create && m.missing.is_none() {
        return Ok(None);
    }
    let mut create_from = None;
    if let (true, Some(src)) = (m.create, &m.src) {
        let raw = src.get_ref();
        let var = CREATE_UNDER
            .into_iter()
            .find(|v| raw.starts_with(&format!("${{{v}}}/")))
            .ok_or_else(|| (src.span(), ProfileError::CreateOutsideVars))?;
        let value = vars
            .expand(&format!("${{{var}}}"))
            .map_err(|e| (src.span(), e))?;
        let home = vars.values.get("HOME").cloned().flatten();
        create_from = Some(match home {
            Some(h) if var == "XDG_CACHE_HOME" && Path::new(&value).starts_with(&h) => h.into(),
            _ => PathBuf::from(value),
        });
    }
    Ok(Some(BindExtra {
        dst: dst.to_path_buf(),
        create_from,
        missing: m.missing.as_ref().map(|t| t.get_ref().clone()),
    }))
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn mount_kinds_are_named_by_the_option_table() {
        let names: Vec<&str> = Kind::names().collect();
        assert_eq!(
            names,
            [
                "bind", "ro-bind", "dev-bind", "tmpfs", "proc", "dev", "dir", "symlink", "overlay",
                "mask"
            ]
        );
        for n in names {
            assert_eq!(Kind::of(n).map(Kind::name), Some(n));
        }
        assert_eq!(Kind::of("remount-ro"), None);
    }
}
