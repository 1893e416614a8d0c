//! A bundle: its directory, config.json, and the `Spec` it describes. The only place the
//! runtime touches the mapping of config.json onto a `Spec`.
// TODO(ocimap): a minimal stand-in until ocimap's `oci::config` and `oci::spec::to_spec` land.

use crate::error::SetupError;
use crate::spec::{BindKind, EnvOp, FsOp, SeccompProfile, Spec};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
    pub rootfs: PathBuf,
}

pub fn load(dir: &Path) -> Result<Bundle, SetupError> {
    let dir = std::path::absolute(dir)
        .map_err(|e| SetupError::new("--bundle", dir.display().to_string(), e.to_string()))?;
    let p = dir.join("config.json");
    let text = std::fs::read_to_string(&p)
        .map_err(|e| SetupError::new("config.json", p.display().to_string(), e.to_string()))?;
    let config: Value = serde_json::from_str(&text).map_err(|e| {
        SetupError::new(
            "config.json",
            p.display().to_string(),
            format!("malformed: {e}"),
        )
    })?;
    let root = config
        .pointer("/root/path")
        .and_then(Value::as_str)
        .ok_or_else(|| SetupError::new("root.path", p.display().to_string(), "missing"))?;
    let rootfs = dir.join(root);
    if !rootfs.is_dir() {
        return Err(SetupError::new(
            "root.path",
            rootfs.display().to_string(),
            "no such directory (the container's root file system)",
        ));
    }
    Ok(Bundle {
        dir,
        config,
        rootfs,
    })
}

fn strs(v: Option<&Value>) -> Vec<String> {
    (v.and_then(Value::as_array).into_iter().flatten())
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

impl Bundle {
    pub fn annotations(&self) -> serde_json::Map<String, Value> {
        (self.config.get("annotations").and_then(Value::as_object))
            .cloned()
            .unwrap_or_default()
    }

    pub fn hooks(&self) -> Value {
        self.config.get("hooks").cloned().unwrap_or(Value::Null)
    }

    pub fn terminal(&self) -> bool {
        (self.config.pointer("/process/terminal"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn to_spec(&self) -> Result<Spec, SetupError> {
        let c = &self.config;
        let mut spec = Spec::default();
        let ro = c.pointer("/root/readonly").and_then(Value::as_bool) == Some(true);
        spec.ops.push(FsOp::Bind {
            kind: if ro { BindKind::Ro } else { BindKind::Dev },
            src: self.rootfs.clone(),
            dst: "/".into(),
            optional: false,
        });
        for m in c
            .get("mounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let dst = PathBuf::from(m.get("destination").and_then(Value::as_str).unwrap_or("/"));
            match m.get("type").and_then(Value::as_str).unwrap_or_default() {
                "proc" => spec.ops.push(FsOp::Proc { dst }),
                "tmpfs" if dst == Path::new("/dev") => spec.ops.push(FsOp::Dev { dst }),
                "tmpfs" => spec.ops.push(FsOp::Tmpfs {
                    dst,
                    perms: None,
                    size: None,
                }),
                _ => {}
            }
        }
        for ns in c
            .pointer("/linux/namespaces")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match ns.get("type").and_then(Value::as_str).unwrap_or_default() {
                "pid" => spec.ns.pid = true,
                "ipc" => spec.ns.ipc = true,
                "uts" => spec.ns.uts = true,
                "network" => spec.ns.net = true,
                "cgroup" => spec.ns.cgroup = true,
                "mount" | "user" => {}
                other => {
                    return Err(SetupError::new(
                        "linux.namespaces",
                        other,
                        "unknown namespace type",
                    ));
                }
            }
        }
        spec.hostname = c
            .get("hostname")
            .and_then(Value::as_str)
            .map(str::to_string);
        spec.clearenv = true;
        for kv in strs(c.pointer("/process/env")) {
            if let Some((k, v)) = kv.split_once('=') {
                spec.env.push(EnvOp::Set(k.into(), v.into()));
            }
        }
        spec.chdir = c
            .pointer("/process/cwd")
            .and_then(Value::as_str)
            .map(PathBuf::from);
        spec.uid = c
            .pointer("/process/user/uid")
            .and_then(Value::as_u64)
            .map(|u| u as u32);
        spec.gid = c
            .pointer("/process/user/gid")
            .and_then(Value::as_u64)
            .map(|u| u as u32);
        spec.command = strs(c.pointer("/process/args"))
            .into_iter()
            .map(Into::into)
            .collect();
        if spec.command.is_empty() {
            return Err(SetupError::new(
                "process.args",
                "",
                "missing: the program to run",
            ));
        }
        spec.seccomp.profile = SeccompProfile::None;
        spec.userns_unlimited = true;
        Ok(spec)
    }
}

/// `spec`: a config.json for a `rootfs` directory beside it.
pub fn template(rootless: bool) -> String {
    let _ = rootless;
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    let v = serde_json::json!({
        "ociVersion": super::OCI_VERSION,
        "process": {"terminal": true, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/", "noNewPrivileges": true},
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "sbox",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
        ],
        "linux": {
            "uidMappings": [{"containerID": 0, "hostID": uid, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": gid, "size": 1}],
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}]
        }
    });
    format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
}
