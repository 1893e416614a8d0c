//! The merge of layers, and `--explain`. Provenance is found by difference: the policy is
//! flattened into `key = value` entries before and after each layer, and every entry a layer
//! changed or added is credited to it.

use crate::spec::{EnvOp, FsOp, OverlayUpper, Spec};
use std::collections::BTreeMap;

/// Add a profile mount: it replaces an earlier layer's mount on the same destination, and the
/// list stays sorted parents before children (stable, so siblings keep their layer order).
pub fn put_mount(spec: &mut Spec, op: FsOp) {
    // The list is kept sorted: a replacement has the same depth, a new mount goes after
    // every mount of its depth or less (what a stable sort after a push would do).
    // Profile paths are normalized (file::absolute): bytes compare as paths, and faster.
    let dst = op.dst().as_os_str();
    match spec.ops.iter().position(|o| o.dst().as_os_str() == dst) {
        Some(i) => spec.ops[i] = op,
        None => {
            let depth = op.dst().components().count();
            let at = spec
                .ops
                .partition_point(|o| o.dst().components().count() <= depth);
            spec.ops.insert(at, op);
        }
    }
}

fn onoff(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn mount_value(op: &FsOp) -> String {
    let opt = op.option().trim_start_matches("--");
    match op {
        FsOp::Bind { src, .. } => format!("{opt} from {}", src.display()),
        FsOp::Tmpfs { perms, size, .. } => {
            let mut v = opt.to_string();
            if let Some(p) = perms {
                v += &format!(" mode {p:o}");
            }
            if let Some(s) = size {
                v += &format!(" size {s}");
            }
            v
        }
        FsOp::Dir { perms: Some(p), .. } => format!("{opt} mode {p:o}"),
        FsOp::Symlink { target, .. } => format!("{opt} to {}", target.display()),
        FsOp::Overlay { lower, upper, .. } => {
            let lower: Vec<String> = lower
                .iter()
                .rev()
                .map(|p| p.display().to_string())
                .collect();
            let upper = match upper {
                OverlayUpper::Dir { upper, work } => {
                    format!(", writes to {} (work {})", upper.display(), work.display())
                }
                OverlayUpper::Tmp => ", writes to a private tmpfs".into(),
                OverlayUpper::ReadOnly => String::new(),
            };
            format!("{opt} of {}{upper}", lower.join(":"))
        }
        FsOp::Chmod { mode, .. } => format!("{opt} {mode:o}"),
        _ => opt.to_string(),
    }
}

/// The policy as `(key, value)` entries, in the order `--explain` prints them. Repeated keys
/// (a destination mounted twice on the command line) get a count.
pub fn entries(spec: &Spec) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut add = |key: String, value: String| {
        let n = seen.entry(key.clone()).or_default();
        *n += 1;
        let key = if *n > 1 { format!("{key} ({n})") } else { key };
        out.push((key, value));
    };
    for op in &spec.ops {
        let mut value = mount_value(op);
        let extra = spec.bind_extras.iter().find(|e| e.dst == op.dst());
        if extra.is_some_and(|e| e.create_from.is_some()) {
            value += ", created if missing";
        }
        add(format!("mount {}", op.dst().display()), value);
    }
    let ns = &spec.ns;
    let net = if ns.net {
        "none (loopback only)"
    } else {
        "host"
    };
    add("namespaces.net".into(), net.into());
    for (k, v) in [
        ("pid", ns.pid),
        ("ipc", ns.ipc),
        ("uts", ns.uts),
        ("cgroup", ns.cgroup),
    ] {
        add(format!("namespaces.{k}"), onoff(v));
    }
    add("namespaces.allow_userns".into(), onoff(spec.allow_userns));
    if let Some(h) = &spec.hostname {
        add("hostname".into(), h.clone());
    }
    if let Some(d) = &spec.chdir {
        add("chdir".into(), d.display().to_string());
    }
    add("env.clear".into(), onoff(spec.clearenv));
    for op in &spec.env {
        match op {
            EnvOp::Keep(g) => add(format!("env.keep {g}"), "kept".into()),
            EnvOp::Set(k, v) => add(
                format!("env.set {}", k.to_string_lossy()),
                v.to_string_lossy().into(),
            ),
            EnvOp::Unset(k) => add(
                format!("env.unset {}", k.to_string_lossy()),
                "removed".into(),
            ),
            EnvOp::Offline(k, v) => add(
                format!("env.offline {}", k.to_string_lossy()),
                if spec.ns.net && !spec.net.active() {
                    v.to_string_lossy().into()
                } else {
                    "not set: the sandbox has the network".into()
                },
            ),
        }
    }
    let l = &spec.limits;
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "no limit".into());
    add(
        "limits.memory".into(),
        or_none(l.memory.map(|m| format!("{m} bytes"))),
    );
    add("limits.pids".into(), or_none(l.pids.map(|p| p.to_string())));
    add(
        "limits.cpu".into(),
        or_none(l.cpu_percent.map(|c| format!("{c}%"))),
    );
    for c in &spec.caps {
        add(format!("caps {c}"), "kept".into());
    }
    add("seccomp.profile".into(), spec.seccomp.profile.name().into());
    for a in &spec.seccomp.allow {
        add(format!("seccomp.allow {a}"), "allowed".into());
    }
    for (d, errno) in &spec.seccomp.deny {
        add(format!("seccomp.deny {d}"), format!("errno {errno}"));
    }
    add(
        "seccomp.allow_32bit".into(),
        onoff(spec.seccomp.allow_32bit),
    );
    let ll = &spec.landlock;
    add("landlock.mounts".into(), onoff(ll.from_mounts));
    for p in &ll.ro {
        add(format!("landlock.ro {}", p.display()), "read".into());
    }
    for p in &ll.rw {
        add(format!("landlock.rw {}", p.display()), "read-write".into());
    }
    for p in &ll.tcp_connect {
        add(format!("landlock.tcp_connect {p}"), "allowed".into());
    }
    for p in &ll.tcp_bind {
        add(format!("landlock.tcp_bind {p}"), "allowed".into());
    }
    for r in &spec.net.allow {
        add(format!("network.allow {r}"), "allowed".into());
    }
    for r in &spec.net.deny {
        add(format!("network.deny {r}"), "denied".into());
    }
    // An allowlist file's rules, before they are settled into the policy (the same keys).
    for r in &spec.net_offer.allow {
        add(format!("network.allow {r}"), "allowed".into());
    }
    for r in &spec.net_offer.deny {
        add(format!("network.deny {r}"), "denied".into());
    }
    // While loading, the offer holds the files; once settled, the policy does.
    for f in spec.net.lists.iter().chain(&spec.net_offer.files) {
        add(format!("network.allowlist {}", f.display()), "read".into());
    }
    for f in &spec.net_offer.missing {
        add(
            format!("network.allowlist {}", f.display()),
            "missing (record one with --net-record)".into(),
        );
    }
    for t in &spec.net_offer.tools {
        add(
            format!("network.allow_registry {t}"),
            "asked on the host at run time".into(),
        );
    }
    if let Some(r) = &spec.net.record {
        add("network.record".into(), r.display().to_string());
    }
    out
}

/// Credit `layer` with every entry that differs from `before`.
pub fn attribute(before: &[(String, String)], spec: &mut Spec, layer: &str) {
    let before: BTreeMap<&str, &str> = before
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for (k, v) in entries(spec) {
        if before.get(k.as_str()) != Some(&v.as_str()) {
            spec.origins.by_key.insert(k, layer.to_string());
        }
    }
}

/// `--explain`: the merged policy, one value per line with the layer it came from.
pub fn explain(spec: &Spec) -> String {
    let mut out = String::from("# layers, later wins: built-in defaults");
    for (name, _) in &spec.origins.layers {
        out += &format!(" < {name}");
    }
    out += " < command line\n";
    for (name, path) in &spec.origins.layers {
        out += &format!("# {name} = {}\n", path.display());
    }
    out += "# mounts are applied in the order listed\n";
    let rows = entries(spec);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let vwidth = rows.iter().map(|(_, v)| v.len()).max().unwrap_or(0).min(48);
    for (k, v) in rows {
        let from = spec
            .origins
            .by_key
            .get(&k)
            .map_or("default", String::as_str);
        out += &format!("{k:width$}  {v:vwidth$}  [{from}]\n");
    }
    out + &skipped(spec)
}

/// One line per optional bind that would be skipped now, its source missing.
fn skipped(spec: &Spec) -> String {
    let mut out = String::new();
    for op in &spec.ops {
        let FsOp::Bind {
            src,
            dst,
            optional: true,
            ..
        } = op
        else {
            continue;
        };
        let extra = spec.bind_extras.iter().find(|e| e.dst == *dst);
        if extra.is_some_and(|e| e.create_from.is_some()) || src.exists() {
            continue;
        }
        out += &format!(
            "# skipped: mount {}: {} does not exist",
            dst.display(),
            src.display()
        );
        if let Some(m) = extra.and_then(|e| e.missing.as_deref()) {
            out += &format!(" ({m})");
        }
        out += "\n";
    }
    out
}
