//! config.json (OCI runtime-spec 1.0-1.2): the part sbox supports, as plain structs, and its
//! reader. The reader walks the parsed JSON itself, so that every error names the JSON path
//! of what it refuses (`linux.intelRdt: not supported`), and no field goes unread: a field
//! sbox does not know is an error, never ignored. (The runtime spec asks runtimes to ignore
//! properties they don't know, for extensions; a runtime that silently does less than a
//! config says is the worse failure, so sbox refuses. Only `annotations` are free-form.) The
//! `oci-spec` crate's types accept every field of the spec, which would hide the unsupported
//! ones. Serialised (`Serialize`) for the `spec` template.

use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// A config.json that sbox can't run: one line, `config.json: <JSON path>: <why>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciError(pub String);

impl fmt::Display for OciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OciError {}

/// An error about the value at `path`.
pub fn err(path: &str, why: impl fmt::Display) -> OciError {
    OciError(crate::error::one_line(&format!("config.json: {path}: {why}")).into_owned())
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub oci_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<Root>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
    /// Kept for `state`; their keys and values are the engine's business.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linux: Option<Linux>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    pub terminal: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<ConsoleSize>,
    pub user: User,
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    pub cwd: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// SELinux label of the process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux_label: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ConsoleSize {
    pub height: u32,
    pub width: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub umask: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
}

/// The five capability sets, names as in capabilities(7) (`CAP_KILL`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Capabilities {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounding: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inheritable: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permitted: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ambient: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Rlimit {
    #[serde(rename = "type")]
    pub kind: String,
    pub hard: u64,
    pub soft: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Root {
    pub path: String,
    pub readonly: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Mount {
    pub destination: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hooks {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prestart: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub create_runtime: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub create_container: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_container: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub poststart: Vec<Hook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<Hook>,
}

/// A program the runtime runs at one point of the container's life, the state on its stdin.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Hook {
    pub path: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Seconds; at least 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<Namespace>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uid_mappings: Vec<IdMap>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gid_mappings: Vec<IdMap>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctl: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Where the engine wants the container's cgroup (oci::spec::cgroups_path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroups_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<Seccomp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rootfs_propagation: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub masked_paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readonly_paths: Vec<String>,
    /// SELinux label of the container's mounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_label: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
}

/// A device node the container gets. Rootless, no node can be made: the host's node at the
/// same path is bound instead (as rootless runc does), so its mode and owner are the host's.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub major: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minor: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Namespace {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMap {
    #[serde(rename = "containerID")]
    pub container_id: u32,
    #[serde(rename = "hostID")]
    pub host_id: u32,
    pub size: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<Pids>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Memory {
    /// Bytes; -1 (or absent) is no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Memory plus swap, bytes; -1 is no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Pids {
    /// 0 or -1: no limit.
    pub limit: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Cpu {
    /// Microseconds per period; -1 (or absent) is no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    /// Microseconds (100000 when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
}

/// linux.seccomp, compiled by oci::seccomp.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Seccomp {
    pub default_action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgRule {
    pub index: u32,
    pub value: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_two: Option<u64>,
    pub op: String,
}

// --- Reading -------------------------------------------------------------------------------

/// Parse config.json's text. A malformed text is one line with serde_json's position; every
/// field sbox does not support is one line naming its JSON path.
pub fn parse(text: &str) -> Result<Config, OciError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| OciError(crate::error::one_line(&format!("config.json: {e}")).into_owned()))?;
    Config::read(&v, "")
}

/// One JSON object being read: each key read is ticked off, and `done` refuses the rest.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
    read: Vec<&'static str>,
}

/// `a.b` (or `b` at the top).
fn join(path: &str, key: &str) -> String {
    match path {
        "" => key.to_string(),
        _ => format!("{path}.{key}"),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expected(path: &str, what: &str, v: &Value) -> OciError {
    err(path, format!("expected {what}, found {}", kind(v)))
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, path: &str) -> Result<Obj<'a>, OciError> {
        match v {
            Value::Object(map) => Ok(Obj {
                map,
                path: path.to_string(),
                read: Vec::new(),
            }),
            _ => Err(expected(
                if path.is_empty() { "(top)" } else { path },
                "an object",
                v,
            )),
        }
    }

    /// The value of `key`, read; `null` counts as absent (some generators write it).
    fn get(&mut self, key: &'static str) -> Option<(&'a Value, String)> {
        self.read.push(key);
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some((v, join(&self.path, key))),
        }
    }

    fn opt<T: Read>(&mut self, key: &'static str) -> Result<Option<T>, OciError> {
        self.get(key).map(|(v, p)| T::read(v, &p)).transpose()
    }

    fn or_default<T: Read + Default>(&mut self, key: &'static str) -> Result<T, OciError> {
        Ok(self.opt(key)?.unwrap_or_default())
    }

    fn required<T: Read>(&mut self, key: &'static str) -> Result<T, OciError> {
        match self.get(key) {
            Some((v, p)) => T::read(v, &p),
            None => Err(err(&join(&self.path, key), "missing (required)")),
        }
    }

    /// The first key not read: sbox does not support it.
    fn done(self) -> Result<(), OciError> {
        match self.map.keys().find(|k| !self.read.contains(&k.as_str())) {
            Some(k) => Err(err(&join(&self.path, k), "not supported")),
            None => Ok(()),
        }
    }
}

/// A value read from JSON at a path.
trait Read: Sized {
    fn read(v: &Value, path: &str) -> Result<Self, OciError>;
}

impl Read for String {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| expected(path, "a string", v))
    }
}

impl Read for bool {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        v.as_bool()
            .ok_or_else(|| expected(path, "true or false", v))
    }
}

impl Read for i64 {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        v.as_i64().ok_or_else(|| expected(path, "an integer", v))
    }
}

impl Read for u64 {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        v.as_u64()
            .ok_or_else(|| expected(path, "a non-negative integer", v))
    }
}

impl Read for u32 {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        u64::read(v, path)?
            .try_into()
            .map_err(|_| err(path, format!("{v}: out of range (at most {})", u32::MAX)))
    }
}

impl Read for i32 {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        i64::read(v, path)?
            .try_into()
            .map_err(|_| err(path, format!("{v}: out of range")))
    }
}

impl<T: Read> Read for Vec<T> {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let a = v.as_array().ok_or_else(|| expected(path, "an array", v))?;
        a.iter()
            .enumerate()
            .map(|(i, e)| T::read(e, &format!("{path}[{i}]")))
            .collect()
    }
}

impl Read for BTreeMap<String, String> {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let o = v
            .as_object()
            .ok_or_else(|| expected(path, "an object", v))?;
        o.iter()
            .map(|(k, e)| Ok((k.clone(), String::read(e, &join(path, k))?)))
            .collect()
    }
}

impl Config {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let c = Config {
            oci_version: o.required("ociVersion")?,
            process: o.opt("process")?,
            root: o.opt("root")?,
            hostname: o.opt("hostname")?,
            domainname: o.opt("domainname")?,
            mounts: o.or_default("mounts")?,
            hooks: o.opt("hooks")?,
            annotations: o.or_default("annotations")?,
            linux: o.opt("linux")?,
        };
        version(&c.oci_version)?;
        o.done()?;
        Ok(c)
    }
}

/// 1.0.x to 1.2.x (what this reader knows); a pre-release suffix (`1.0.2-dev`) is fine.
fn version(v: &str) -> Result<(), OciError> {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0] == "1"
        && matches!(parts[1], "0" | "1" | "2");
    match ok {
        true => Ok(()),
        false => Err(err(
            "ociVersion",
            format!("{v:?}: not supported (sbox reads 1.0.x to 1.2.x)"),
        )),
    }
}

impl Read for Process {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let p = Process {
            terminal: o.or_default("terminal")?,
            console_size: o.opt("consoleSize")?,
            user: o.required("user")?,
            args: o.required("args")?,
            env: o.or_default("env")?,
            cwd: o.required("cwd")?,
            capabilities: o.opt("capabilities")?,
            rlimits: o.or_default("rlimits")?,
            no_new_privileges: o.or_default("noNewPrivileges")?,
            oom_score_adj: o.opt("oomScoreAdj")?,
            selinux_label: o.opt("selinuxLabel")?,
        };
        // AppArmor: none is all sbox can do (an empty name is none).
        if let Some((v, p)) = o.get("apparmorProfile")
            && !String::read(v, &p)?.is_empty()
        {
            return Err(err(&p, "not supported (sbox applies no AppArmor profile)"));
        }
        o.done()?;
        Ok(p)
    }
}

impl Read for ConsoleSize {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let c = ConsoleSize {
            height: o.required("height")?,
            width: o.required("width")?,
        };
        o.done()?;
        Ok(c)
    }
}

impl Read for User {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let u = User {
            uid: o.required("uid")?,
            gid: o.required("gid")?,
            umask: o.opt("umask")?,
            additional_gids: o.or_default("additionalGids")?,
        };
        o.done()?;
        Ok(u)
    }
}

impl Read for Capabilities {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let c = Capabilities {
            bounding: o.opt("bounding")?,
            effective: o.opt("effective")?,
            inheritable: o.opt("inheritable")?,
            permitted: o.opt("permitted")?,
            ambient: o.opt("ambient")?,
        };
        o.done()?;
        Ok(c)
    }
}

impl Read for Rlimit {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let r = Rlimit {
            kind: o.required("type")?,
            hard: o.required("hard")?,
            soft: o.required("soft")?,
        };
        o.done()?;
        Ok(r)
    }
}

impl Read for Root {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let r = Root {
            path: o.required("path")?,
            readonly: o.or_default("readonly")?,
        };
        o.done()?;
        Ok(r)
    }
}

impl Read for Mount {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let m = Mount {
            destination: o.required("destination")?,
            kind: o.opt("type")?,
            source: o.opt("source")?,
            options: o.or_default("options")?,
        };
        o.done()?;
        Ok(m)
    }
}

impl Read for Hooks {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let h = Hooks {
            prestart: o.or_default("prestart")?,
            create_runtime: o.or_default("createRuntime")?,
            create_container: o.or_default("createContainer")?,
            start_container: o.or_default("startContainer")?,
            poststart: o.or_default("poststart")?,
            poststop: o.or_default("poststop")?,
        };
        o.done()?;
        Ok(h)
    }
}

impl Read for Hook {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let h = Hook {
            path: o.required("path")?,
            args: o.or_default("args")?,
            env: o.or_default("env")?,
            timeout: o.opt("timeout")?,
        };
        if !h.path.starts_with('/') {
            return Err(err(
                &join(path, "path"),
                format!("{:?}: not an absolute path", h.path),
            ));
        }
        if h.timeout == Some(0) {
            return Err(err(&join(path, "timeout"), "must be at least 1 (seconds)"));
        }
        o.done()?;
        Ok(h)
    }
}

impl Read for Linux {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let l = Linux {
            namespaces: o.or_default("namespaces")?,
            uid_mappings: o.or_default("uidMappings")?,
            gid_mappings: o.or_default("gidMappings")?,
            sysctl: o.or_default("sysctl")?,
            resources: o.opt("resources")?,
            cgroups_path: o.opt("cgroupsPath")?,
            seccomp: o.opt("seccomp")?,
            rootfs_propagation: o.opt("rootfsPropagation")?,
            masked_paths: o.or_default("maskedPaths")?,
            readonly_paths: o.or_default("readonlyPaths")?,
            mount_label: o.opt("mountLabel")?,
            devices: o.or_default("devices")?,
        };
        // The execution domain: Linux's own is what a process has anyway.
        if let Some((v, p)) = o.get("personality") {
            let mut pers = Obj::new(v, &p)?;
            let domain: String = pers.required("domain")?;
            let flags: Vec<String> = pers.or_default("flags")?;
            pers.done()?;
            if domain != "LINUX" || !flags.is_empty() {
                return Err(err(
                    &p,
                    format!(
                        "{domain:?} with flags {flags:?}: not supported (only LINUX, no flags)"
                    ),
                ));
            }
        }
        o.done()?;
        Ok(l)
    }
}

impl Read for Device {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let d = Device {
            path: o.required("path")?,
            kind: o.required("type")?,
            major: o.opt("major")?,
            minor: o.opt("minor")?,
        };
        // What a node made by the runtime would have; a bound host node keeps its own.
        let _: Option<u32> = o.opt("fileMode")?;
        let _: Option<u32> = o.opt("uid")?;
        let _: Option<u32> = o.opt("gid")?;
        if !matches!(d.kind.as_str(), "c" | "b" | "u" | "p") {
            return Err(err(
                &join(path, "type"),
                format!("{:?}: not a device type (c, b, u or p)", d.kind),
            ));
        }
        o.done()?;
        Ok(d)
    }
}

impl Read for Value {
    fn read(v: &Value, _: &str) -> Result<Self, OciError> {
        Ok(v.clone())
    }
}

impl Read for Namespace {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let n = Namespace {
            kind: o.required("type")?,
            path: o.opt("path")?,
        };
        o.done()?;
        Ok(n)
    }
}

impl Read for IdMap {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let m = IdMap {
            container_id: o.required("containerID")?,
            host_id: o.required("hostID")?,
            size: o.required("size")?,
        };
        if m.size == 0 {
            return Err(err(&join(path, "size"), "must be at least 1"));
        }
        o.done()?;
        Ok(m)
    }
}

impl Read for Resources {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let r = Resources {
            memory: o.opt("memory")?,
            pids: o.opt("pids")?,
            cpu: o.opt("cpu")?,
        };
        // The device cgroup, which a rootless runtime can't set up (runc skips it too). What
        // the container reaches is what is bound (linux.devices and mounts), with the host's
        // permissions, and no node can be made: an allow rule grants nothing more, and a deny
        // rule for every device (podman's first) says what holds already. A deny rule for one
        // device would not be kept: refused.
        if let Some((d, p)) = o.get("devices") {
            for (i, rule) in Vec::<Value>::read(d, &p)?.iter().enumerate() {
                let rp = format!("{p}[{i}]");
                let mut r = Obj::new(rule, &rp)?;
                let allow: bool = r.required("allow")?;
                let kind: Option<String> = r.opt("type")?;
                let major: Option<i64> = r.opt("major")?;
                let minor: Option<i64> = r.opt("minor")?;
                let _: Option<String> = r.opt("access")?;
                r.done()?;
                let every = matches!(kind.as_deref(), None | Some("a"))
                    && major.is_none_or(|m| m < 0)
                    && minor.is_none_or(|m| m < 0);
                if !allow && !every {
                    return Err(err(
                        &rp,
                        "a deny rule for some devices: not supported (a rootless sandbox has no device cgroup; don't bind the device)",
                    ));
                }
            }
        }
        o.done()?;
        Ok(r)
    }
}

impl Read for Memory {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let m = Memory {
            limit: o.opt("limit")?,
            swap: o.opt("swap")?,
        };
        o.done()?;
        Ok(m)
    }
}

impl Read for Pids {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let p = Pids {
            limit: o.required("limit")?,
        };
        o.done()?;
        Ok(p)
    }
}

impl Read for Cpu {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let c = Cpu {
            quota: o.opt("quota")?,
            period: o.opt("period")?,
        };
        o.done()?;
        Ok(c)
    }
}

impl Read for Seccomp {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let s = Seccomp {
            default_action: o.required("defaultAction")?,
            default_errno_ret: o.opt("defaultErrnoRet")?,
            architectures: o.or_default("architectures")?,
            flags: o.or_default("flags")?,
            syscalls: o.or_default("syscalls")?,
        };
        o.done()?;
        Ok(s)
    }
}

impl Read for SyscallRule {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let s = SyscallRule {
            names: o.required("names")?,
            action: o.required("action")?,
            errno_ret: o.opt("errnoRet")?,
            args: o.or_default("args")?,
        };
        // Free text for people, as in Docker's profiles.
        let _: Option<String> = o.opt("comment")?;
        o.done()?;
        Ok(s)
    }
}

impl Read for ArgRule {
    fn read(v: &Value, path: &str) -> Result<Self, OciError> {
        let mut o = Obj::new(v, path)?;
        let a = ArgRule {
            index: o.required("index")?,
            value: o.required("value")?,
            value_two: o.opt("valueTwo")?,
            op: o.required("op")?,
        };
        if a.index > 5 {
            return Err(err(&join(path, "index"), format!("{}: at most 5", a.index)));
        }
        o.done()?;
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(text: &str) -> String {
        parse(text).unwrap_err().0
    }

    #[test]
    fn malformed_text_is_one_line_with_its_position() {
        let m = e("{\n  \"ociVersion\": \"1.0.2\",\n  oops\n}");
        assert!(
            m.starts_with("config.json: key must be a string at line 3 column 3"),
            "{m}"
        );
        assert!(!m.contains('\n'));
    }

    #[test]
    fn unsupported_fields_are_named_by_path() {
        let m = e(r#"{"ociVersion":"1.0.2","linux":{"intelRdt":{}}}"#);
        assert_eq!(m, "config.json: linux.intelRdt: not supported");
        let m = e(
            r#"{"ociVersion":"1.0.2","mounts":[{"destination":"/a"},{"destination":"/b","uidMappings":[]}]}"#,
        );
        assert_eq!(m, "config.json: mounts[1].uidMappings: not supported");
        let m = e(
            r#"{"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":"x"},"args":[],"cwd":"/"}}"#,
        );
        assert_eq!(
            m,
            "config.json: process.user.gid: expected a non-negative integer, found a string"
        );
        let m =
            e(r#"{"ociVersion":"1.0.2","linux":{"devices":[{"path":"/dev/fuse","type":"x"}]}}"#);
        assert!(
            m.starts_with("config.json: linux.devices[0].type: \"x\": not a device type"),
            "{m}"
        );
        let m = e(r#"{"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":0},"cwd":"/"}}"#);
        assert_eq!(m, "config.json: process.args: missing (required)");
    }

    #[test]
    fn an_empty_apparmor_profile_is_none() {
        let p = |v: &str| {
            parse(&format!(
                r#"{{"ociVersion":"1.0.2","process":{{"user":{{"uid":0,"gid":0}},"args":["sh"],"cwd":"/","apparmorProfile":"{v}"}}}}"#
            ))
        };
        assert!(p("").is_ok());
        assert_eq!(
            p("containers-default").unwrap_err().0,
            "config.json: process.apparmorProfile: not supported (sbox applies no AppArmor profile)"
        );
    }

    #[test]
    fn versions() {
        for ok in ["1.0.0", "1.0.2-dev", "1.1.0", "1.2.0", "1.2.1+x"] {
            assert_eq!(version(ok), Ok(()), "{ok}");
        }
        for bad in ["0.5.0", "1.3.0", "2.0.0", "1.0", "", "1.a.0"] {
            assert!(version(bad).is_err(), "{bad}");
        }
        assert_eq!(
            e(r#"{"ociVersion":"1.3.0"}"#),
            "config.json: ociVersion: \"1.3.0\": not supported (sbox reads 1.0.x to 1.2.x)"
        );
    }

    #[test]
    fn null_is_absent_and_annotations_are_kept() {
        let c =
            parse(r#"{"ociVersion":"1.0.2","hostname":null,"annotations":{"a.b":"c"}}"#).unwrap();
        assert_eq!(c.hostname, None);
        assert_eq!(c.annotations["a.b"], "c");
        assert!(parse(r#"{"ociVersion":"1.0.2","linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]}}}"#).is_ok());
        assert!(parse(r#"{"ociVersion":"1.0.2","linux":{"resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rwm"}]}}}"#).is_ok());
        assert!(
            e(r#"{"ociVersion":"1.0.2","linux":{"resources":{"devices":[{"allow":false,"type":"c","major":1,"minor":3}]}}}"#)
                .starts_with("config.json: linux.resources.devices[0]: a deny rule for some devices: not supported")
        );
    }
}
