//! TOML profiles: a `Spec` written down. This module finds profile files (the search path),
//! follows `extends`, and knows the variables; `file` turns one parsed file into changes of a
//! `Spec` (pure), and `merge` holds the merge rule and `--explain`.
//!
//! The merge rule: built-in defaults < each `extends`, in order < the profile < command-line
//! flags. A later layer's scalar wins, lists append, mounts are keyed by destination (a later
//! layer's mount replaces an earlier one on the same path) and applied parents before children,
//! so the order of composition can't change the result. Command-line filesystem operations
//! come after the profile's mounts, in their own order, as in bubblewrap.

mod allowlist;
mod error;
mod file;
mod host;
mod merge;
pub mod registry;

pub use error::{ProfileError, ToolFailure};
pub use host::check_writable;
pub use merge::{attribute, entries, explain};

use crate::spec::{FsOp, OverlayUpper, Spec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The only variables a profile may use; anything else is an error.
pub const VARIABLES: [&str; 8] = [
    "HOME",
    "UID",
    "USER",
    "PROJECT",
    "CWD",
    "XDG_RUNTIME_DIR",
    "XDG_CACHE_HOME",
    "GIT_COMMON_DIR",
];

/// The variables that name the caller's own places: their values are real paths (no
/// symlink), and what a profile appends to them may pass through no symlink either.
const LOCATIONS: [&str; 6] = [
    "HOME",
    "PROJECT",
    "CWD",
    "XDG_RUNTIME_DIR",
    "XDG_CACHE_HOME",
    "GIT_COMMON_DIR",
];

/// Values of the variables, read once from the caller's environment; `None` when this host
/// has no value (using it is then an error).
#[derive(Clone, Debug, Default)]
pub struct Vars {
    pub values: BTreeMap<&'static str, Option<String>>,
    /// Variables whose value is refused, with why (using one is then that error).
    pub refused: BTreeMap<&'static str, String>,
    /// `$HOME` as the caller spells it, when that is not its real path (`/home/u` with
    /// `/home -> var/home`): the sandbox gets a link from there to the real one.
    pub home_alias: Option<PathBuf>,
}

impl Vars {
    /// The caller's values. PROJECT is `project` when given (--project), else the top of the
    /// git work tree holding the working directory (the nearest parent with a real `.git`
    /// directory or gitfile), else the working directory; never the home or a parent of it.
    pub fn from_host(project: Option<&Path>) -> Vars {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        // The real path, so that a symlink on the way can't be swapped later.
        let real = |p: String| {
            std::fs::canonicalize(&p)
                .map(|r| r.display().to_string())
                .unwrap_or(p)
        };
        let uid = nix::unistd::getuid();
        // The passwd entry only when $HOME is unset; ${USER} looks it up when used (expand).
        let given = env("HOME").or_else(|| passwd().map(|u| u.dir.display().to_string()));
        let home = given.clone().map(real);
        let home_alias = given
            .filter(|g| Some(g) != home.as_ref())
            .map(PathBuf::from);
        let cache = env("XDG_CACHE_HOME").or_else(|| home.as_ref().map(|h| format!("{h}/.cache")));
        let cwd = std::env::current_dir().ok();
        let mut refused = BTreeMap::new();
        let found = match (project, &cwd) {
            (Some(p), _) => {
                std::fs::canonicalize(p).map_err(|e| format!("--project: {}: {e}", p.display()))
            }
            (None, Some(c)) => host::find_project(c).map_err(|e| e.to_string()),
            (None, None) => Err("the current directory is gone".into()),
        };
        let found = found.and_then(|p| {
            host::check_project(&p, home.as_deref().map(Path::new)).map_err(|e| e.to_string())?;
            Ok(p)
        });
        let (project, git) = match found {
            Ok(p) => {
                let git = host::git_common_dir(&p).display().to_string();
                (Some(p.display().to_string()), Some(git))
            }
            Err(e) => {
                refused.insert("PROJECT", e.clone());
                refused.insert("GIT_COMMON_DIR", e);
                (None, None)
            }
        };
        Vars {
            values: BTreeMap::from([
                ("HOME", home),
                ("UID", Some(uid.to_string())),
                ("USER", None),
                ("PROJECT", project),
                ("CWD", cwd.map(|c| c.display().to_string())),
                ("XDG_RUNTIME_DIR", env("XDG_RUNTIME_DIR").map(real)),
                ("XDG_CACHE_HOME", cache.map(real)),
                ("GIT_COMMON_DIR", git),
            ]),
            refused,
            home_alias,
        }
    }

    /// The caller's places, as prefixes below which no symlink is followed. `/` (a HOME of
    /// `/`, a run from `/`) is no such place: system paths keep their own rule there.
    fn locations(&self) -> Vec<PathBuf> {
        LOCATIONS
            .iter()
            .filter_map(|k| self.values.get(k).cloned().flatten())
            .map(PathBuf::from)
            .filter(|p| p != Path::new("/"))
            .collect()
    }

    /// Replace every `${NAME}` in `s`. Errors name the variable.
    pub fn expand(&self, s: &str) -> Result<String, ProfileError> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| ProfileError::Unclosed(s.to_string()))?;
            let name = &after[..end];
            if let Some(why) = self.refused.get(name) {
                return Err(ProfileError::Refused {
                    name: name.to_string(),
                    why: why.clone(),
                });
            }
            let unset = || ProfileError::Unset(name.to_string());
            match self.values.get(name) {
                Some(Some(v)) => out.push_str(v),
                // Looked up only when used (from_host).
                Some(None) if name == "USER" => out.push_str(&user().ok_or_else(unset)?),
                Some(None) => return Err(unset()),
                None => return Err(ProfileError::UnknownVariable(name.to_string())),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The caller's passwd entry, from /etc only (see nss.rs).
fn passwd() -> Option<nix::unistd::User> {
    crate::nss::builtin_only();
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
}

/// ${USER} on this host: the name in /etc/passwd, else $USER. Looked up only when a profile
/// uses it (a passwd lookup reads two files at every start otherwise).
fn user() -> Option<String> {
    passwd()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok().filter(|v| !v.is_empty()))
}

/// Where profile files are read from. The real one reads the filesystem; tests use a map.
pub trait Source {
    /// The directories searched by name, first match wins.
    fn dirs(&self) -> &[PathBuf];
    /// The file's text, `None` when it does not exist.
    fn read(&self, path: &Path) -> Result<Option<String>, ProfileError>;
    /// Profile names (file stems of `*.toml`) in one directory, sorted.
    fn names(&self, dir: &Path) -> Vec<String>;
    /// A host path a profile mounts, checked against the symlink rule (`host::real_path`)
    /// and returned with no symlink in it. `trusted`: the caller's places.
    fn real_path(&self, path: &Path, _trusted: &[PathBuf]) -> Result<PathBuf, ProfileError> {
        Ok(path.to_path_buf())
    }
    /// Where `tool`'s registry would be asked (`allow_registry`); the host's by default.
    fn registry_plan(&self, tool: registry::Tool) -> registry::Query {
        registry::plan(tool, std::env::var_os("HOME").map(PathBuf::from).as_deref())
    }
    /// The allow rules of the planned query, run on the host by default.
    fn registry_ask(&self, q: &registry::Query) -> Result<Vec<String>, ProfileError> {
        registry::ask(q)
    }
}

/// The search-path entry of the profiles compiled into sbox: last, so that any file of the
/// same name wins. Not a directory: `Fs` answers for it from memory.
pub const BUILTIN_DIR: &str = "(built in)";

/// `extends = ["builtin:NAME"]`: the compiled-in profile NAME, whatever shadows it.
const BUILTIN_PREFIX: &str = "builtin:";

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_profiles.rs"));
}

/// The search path on this host: $SBOX_PROFILE_PATH (colon-separated), the user's
/// ~/.config/sbox/profiles, /etc/sbox/profiles, the profiles installed with sbox
/// (`<exe dir>/../share/sbox/profiles`), then the copies compiled into the binary (which
/// also serve a source checkout: its `profiles/` lies in the project a sandbox may write).
pub struct Fs(Vec<PathBuf>);

impl Fs {
    pub fn from_env() -> Fs {
        let mut dirs: Vec<PathBuf> = std::env::var_os("SBOX_PROFILE_PATH")
            .map(|v| {
                std::env::split_paths(&v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        dirs.extend(config.map(|c| c.join("sbox/profiles")));
        dirs.push(PathBuf::from("/etc/sbox/profiles"));
        if let Some(bin) = std::env::current_exe()
            .ok()
            .as_deref()
            .and_then(Path::parent)
        {
            dirs.push(bin.join("../share/sbox/profiles"));
        }
        dirs.push(PathBuf::from(BUILTIN_DIR));
        Fs(dirs)
    }
}

impl Source for Fs {
    fn dirs(&self) -> &[PathBuf] {
        &self.0
    }

    fn read(&self, path: &Path) -> Result<Option<String>, ProfileError> {
        if let Ok(file) = path.strip_prefix(BUILTIN_DIR) {
            let name = file.to_str().and_then(|f| f.strip_suffix(".toml"));
            let found = builtin::PROFILES.iter().find(|(n, _)| Some(*n) == name);
            return Ok(found.map(|(_, t)| t.to_string()));
        }
        match std::fs::read_to_string(path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(ProfileError::Read {
                path: path.to_path_buf(),
                error,
            }),
        }
    }

    fn names(&self, dir: &Path) -> Vec<String> {
        if dir == Path::new(BUILTIN_DIR) {
            return builtin::PROFILES
                .iter()
                .map(|(n, _)| n.to_string())
                .collect();
        }
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".toml").map(str::to_string)
            })
            .collect();
        v.sort();
        v
    }

    fn real_path(&self, path: &Path, trusted: &[PathBuf]) -> Result<PathBuf, ProfileError> {
        host::real_path(path, trusted, nix::unistd::geteuid().is_root())
    }
}

/// Profiles from memory, for tests and fuzzing: the files in a map, searched in `dirs`.
pub struct Mem {
    pub dirs: Vec<PathBuf>,
    pub files: BTreeMap<PathBuf, String>,
}

impl Source for Mem {
    fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
    fn read(&self, path: &Path) -> Result<Option<String>, ProfileError> {
        Ok(self.files.get(path).cloned())
    }
    /// Nothing is run: the answer is the file /registry/TOOL, one rule a line.
    fn registry_plan(&self, tool: registry::Tool) -> registry::Query {
        let file = PathBuf::from(format!("/registry/{}", tool.name()));
        registry::Query {
            tool,
            file: self.files.contains_key(&file).then(|| file.clone()),
            protect: vec![file],
        }
    }
    fn registry_ask(&self, q: &registry::Query) -> Result<Vec<String>, ProfileError> {
        let text = q.file.as_ref().and_then(|f| self.files.get(f));
        Ok(text
            .into_iter()
            .flat_map(|t| t.lines().map(String::from))
            .collect())
    }
    fn names(&self, dir: &Path) -> Vec<String> {
        self.files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
            .collect()
    }
}

impl Vars {
    /// Fixed values (a user `u` in /home/u, working in /home/u/src/p/sub of a project
    /// /home/u/src/p), for tests and fuzzing.
    pub fn example() -> Vars {
        let v = |s: &str| Some(s.to_string());
        Vars {
            values: BTreeMap::from([
                ("HOME", v("/home/u")),
                ("UID", v("1000")),
                ("USER", v("u")),
                ("PROJECT", v("/home/u/src/p")),
                ("CWD", v("/home/u/src/p/sub")),
                ("XDG_RUNTIME_DIR", None),
                ("XDG_CACHE_HOME", v("/home/u/.cache")),
                ("GIT_COMMON_DIR", v("/home/u/src/p/.git")),
            ]),
            refused: BTreeMap::new(),
            home_alias: None,
        }
    }
}

/// What the command line needs from profiles: loading happens outside the parser.
pub trait Profiles {
    /// `defaults` with the named profiles (and what they extend) merged on top, in order.
    /// `project`: --project, the directory ${PROJECT} names.
    fn load(
        &self,
        names: &[String],
        project: Option<&Path>,
        defaults: Spec,
    ) -> Result<Spec, ProfileError>;
    /// `--list-profiles`: one line per profile file found, `NAME PATH`.
    fn list(&self) -> String;
    /// Once the sandbox is known (after `check_writable`): the registries of the profiles'
    /// `allow_registry` tools into the allowlist, or the line saying how to record one.
    fn registries(&self, spec: &mut Spec) -> Result<(), ProfileError>;
}

/// A profile reference is a path when it contains '/' or ends in .toml, else a name.
fn is_path(r: &str) -> bool {
    r.contains('/') || r.ends_with(".toml")
}

pub struct Loader<S: Source> {
    pub source: S,
    pub vars: Vars,
}

impl<S: Source> Loader<S> {
    /// The file a reference points at. Paths in `extends` are relative to the extending file.
    fn find(
        &self,
        r: &str,
        from: Option<&Path>,
    ) -> Result<Option<(PathBuf, String)>, ProfileError> {
        if is_path(r) {
            let p = match from.and_then(Path::parent) {
                Some(dir) if Path::new(r).is_relative() => dir.join(r),
                _ => PathBuf::from(r),
            };
            return Ok(self.source.read(&p)?.map(|t| (p, t)));
        }
        let (r, dirs) = match r.strip_prefix(BUILTIN_PREFIX) {
            Some(name) => (name, &[PathBuf::from(BUILTIN_DIR)][..]),
            None => (r, self.source.dirs()),
        };
        if r.is_empty()
            || !r
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(ProfileError::NotAName(r.to_string()));
        }
        for dir in dirs {
            let p = dir.join(format!("{r}.toml"));
            if let Some(t) = self.source.read(&p)? {
                return Ok(Some((p, t)));
            }
        }
        Ok(None)
    }

    /// What must stay out of the sandbox's reach for `r`, found at `p`, to mean the same next
    /// time: the file, its directory and, for a name, every search-path directory consulted
    /// before (a file planted there would shadow it). The compiled-in copies need nothing.
    fn protect(&self, r: &str, p: &Path, spec: &mut Spec) {
        let mut add = |q: &Path| {
            if !q.starts_with(BUILTIN_DIR) {
                let q = std::path::absolute(q).unwrap_or_else(|_| q.to_path_buf());
                if !spec.protect.contains(&q) {
                    spec.protect.push(q);
                }
            }
        };
        add(p);
        let dir = p.parent().unwrap_or(Path::new("."));
        add(dir);
        if !is_path(r) && !r.starts_with(BUILTIN_PREFIX) {
            for d in self.source.dirs().iter().take_while(|d| *d != dir) {
                add(d);
            }
        }
    }

    fn not_found(&self, r: &str) -> ProfileError {
        if let Some(name) = r.strip_prefix(BUILTIN_PREFIX) {
            ProfileError::NoBuiltin {
                given: r.to_string(),
                name: name.to_string(),
            }
        } else if is_path(r) {
            ProfileError::NoSuchFile(r.to_string())
        } else {
            ProfileError::NoSuchProfile {
                given: r.to_string(),
                searched: self.source.dirs().to_vec(),
            }
        }
    }

    /// Apply `path` after everything it extends. A file reached twice (two profiles
    /// extending the same base) is applied once, at its first place.
    fn visit(
        &self,
        vars: &Vars,
        label: &str,
        path: PathBuf,
        text: String,
        stack: &mut Vec<(String, PathBuf)>,
        spec: &mut Spec,
    ) -> Result<(), ProfileError> {
        if spec.origins.layers.iter().any(|(_, p)| *p == path) {
            return Ok(());
        }
        let parsed = file::parse(&path, &text)?;
        stack.push((label.to_string(), path.clone()));
        for ext in &parsed.extends {
            let at = |why: ProfileError| ProfileError::at(&path, &text, ext.span(), why);
            let r = ext.get_ref();
            let (p, t) = self
                .find(r, Some(&path))
                .map_err(at)?
                .ok_or_else(|| at(self.not_found(r)))?;
            if stack.iter().any(|(_, s)| *s == p) {
                let chain: Vec<&str> = stack.iter().map(|(l, _)| l.as_str()).collect();
                // Extending the shipped profile one shadows is what `builtin:` is for.
                let shipped = Path::new(BUILTIN_DIR).join(format!("{r}.toml"));
                let shipped = matches!(self.source.read(&shipped), Ok(Some(_))) && !is_path(r);
                return Err(at(ProfileError::Cycle {
                    given: r.to_string(),
                    chain: chain.iter().map(|l| l.to_string()).collect(),
                    shipped,
                }));
            }
            self.protect(r, &p, spec);
            self.visit(vars, r, p, t, stack, spec)?;
        }
        stack.pop();
        if spec.origins.wanted {
            let before = entries(spec);
            file::apply(&parsed, &path, &text, vars, spec)?;
            attribute(&before, spec, label);
        } else {
            file::apply(&parsed, &path, &text, vars, spec)?;
        }
        spec.origins.layers.push((label.to_string(), path));
        Ok(())
    }
}

impl<S: Source> Loader<S> {
    /// Check every host path of the profile's mounts against the symlink rule, and mark the
    /// operations as a profile's (launch opens them following no symlink).
    fn real_paths(&self, vars: &Vars, spec: &mut Spec) -> Result<(), ProfileError> {
        let trusted = vars.locations();
        let real = |p: &mut PathBuf| -> Result<(), ProfileError> {
            *p = self.source.real_path(p, &trusted)?;
            Ok(())
        };
        for op in &mut spec.ops {
            match op {
                FsOp::Bind { src, .. } => real(src)?,
                FsOp::Overlay { lower, upper, .. } => {
                    for l in lower {
                        real(l)?;
                    }
                    if let OverlayUpper::Dir { upper, work } = upper {
                        real(upper)?;
                        real(work)?;
                    }
                }
                _ => {}
            }
        }
        // $HOME as the caller spells it leads to the real one, where the profile put it.
        if let (Some(alias), Some(Some(home))) = (&vars.home_alias, vars.values.get("HOME")) {
            // Not into a mount of host files (it would be made there, or fail read-only).
            let taken = spec.ops.iter().any(|o| {
                alias.starts_with(o.dst()) && !matches!(o, FsOp::Tmpfs { .. } | FsOp::Dir { .. })
            });
            if !taken && alias.is_absolute() {
                spec.ops.push(FsOp::Symlink {
                    target: PathBuf::from(home),
                    dst: alias.clone(),
                });
            }
        }
        spec.profile_ops = spec.ops.len();
        Ok(())
    }
}

impl<S: Source> Loader<S> {
    /// Read the allowlist files the profiles name into the offer. Each path follows the
    /// symlink rule of a profile's mount sources (a previous sandbox could have planted a
    /// link), and the file and its directory are protected whether the file exists yet or
    /// not: one created or rewritten by a build would widen the next run's allowlist.
    fn allowlists(&self, vars: &Vars, spec: &mut Spec) -> Result<(), ProfileError> {
        let trusted = vars.locations();
        for given in std::mem::take(&mut spec.net_offer.files) {
            let at = |e| ProfileError::key("network.allowlist", e);
            let real = self.source.real_path(&given, &trusted).map_err(at)?;
            let dir = real.parent().unwrap_or(Path::new("/")).to_path_buf();
            for q in [real.clone(), dir] {
                if !spec.protect.contains(&q) {
                    spec.protect.push(q);
                }
            }
            let Some(text) = self.source.read(&real).map_err(at)? else {
                spec.net_offer.missing.push(real);
                continue;
            };
            spec.net_offer.files.push(real.clone());
            let list = allowlist::parse(&real, &text)?;
            for (key, rules, deny) in [("allow", &list.allow, false), ("deny", &list.deny, true)] {
                for r in rules {
                    let rule = crate::spec::net::parse_rule(key, r.get_ref()).map_err(|e| {
                        ProfileError::at(&real, &text, r.span(), ProfileError::Value(e))
                    })?;
                    let into = if deny {
                        &mut spec.net_offer.deny
                    } else {
                        &mut spec.net_offer.allow
                    };
                    if spec.origins.wanted {
                        let key = format!("network.{key} {rule}");
                        let from = real.display().to_string();
                        spec.origins.by_key.insert(key, from);
                    }
                    if !into.contains(&rule) {
                        into.push(rule);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Once the command line is applied: use the profiles' allowlists instead of the host
/// network, unless the command line chose the network itself (`chosen`: `--share-net` gives
/// the host's back, `--unshare-net` none at all) or the run records (it learns the list).
pub fn settle_offer(spec: &mut Spec, chosen: bool) {
    let offer = std::mem::take(&mut spec.net_offer);
    if chosen || spec.net.record.is_some() {
        return;
    }
    for (from, into) in [
        (offer.allow, &mut spec.net.allow),
        (offer.deny, &mut spec.net.deny),
    ] {
        for r in from {
            if !into.contains(&r) {
                into.push(r);
            }
        }
    }
    // A file that exists is an allowlist even when empty: everything is refused, and said.
    spec.net.lists = offer.files;
    if spec.net.active() {
        spec.ns.net = true;
    }
    spec.net_offer.tools = offer.tools;
    spec.net_offer.missing = offer.missing;
    spec.net_offer.profiles = offer.profiles;
}

/// After `check_writable`: ask the offered tools for their registries (profile::registry)
/// and allow them. A tool is run only when neither it nor a PATH directory searched before
/// it lies where the sandbox can write (it would run outside the sandbox next time).
/// Then, with no allowlist at all, the one line that says how to record one.
fn ask_registries(source: &dyn Source, spec: &mut Spec) -> Result<(), ProfileError> {
    for name in std::mem::take(&mut spec.net_offer.tools) {
        let tool = registry::Tool::from_name(&name)?;
        let q = source.registry_plan(tool);
        let probe = Spec {
            protect: q.protect.clone(),
            ..spec.clone()
        };
        // (A program planted there would run outside the sandbox, at the next start.)
        check_writable(&probe)
            .map_err(|e| ProfileError::key(format!("allow_registry {name}"), e))?;
        for r in source.registry_ask(&q)? {
            let rule = crate::spec::net::parse_rule(&format!("allow_registry {name}"), &r)
                .map_err(ProfileError::Value)?;
            if !spec.net.allow.contains(&rule) {
                spec.net.allow.push(rule);
            }
        }
    }
    if spec.net.active() {
        spec.ns.net = true;
    } else if let Some(file) = spec.net_offer.missing.last()
        && !spec.ns.net
    {
        let profiles: Vec<String> = spec
            .net_offer
            .profiles
            .iter()
            .map(|p| format!("--profile {p}"))
            .collect();
        let command: Vec<String> = spec
            .command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        spec.warnings.push(format!(
            "network: no allowlist at {}: this run has the host network; record one with `sbox {} --net-record {} -- {}`, review it, and run again",
            file.display(),
            profiles.join(" "),
            file.display(),
            command.join(" ")
        ));
    }
    Ok(())
}

impl<S: Source> Profiles for Loader<S> {
    fn load(
        &self,
        names: &[String],
        project: Option<&Path>,
        defaults: Spec,
    ) -> Result<Spec, ProfileError> {
        // Tests only: the host's loader resolves --project into its variables.
        let given;
        let vars = match project {
            Some(p) => {
                let mut v = self.vars.clone();
                v.values.insert("PROJECT", Some(p.display().to_string()));
                given = v;
                &given
            }
            None => &self.vars,
        };
        let mut spec = defaults;
        for r in names {
            let (p, t) = self.find(r, None)?.ok_or_else(|| self.not_found(r))?;
            self.protect(r, &p, &mut spec);
            self.visit(vars, r, p, t, &mut Vec::new(), &mut spec)?;
        }
        self.real_paths(vars, &mut spec)?;
        self.allowlists(vars, &mut spec)?;
        spec.net_offer.profiles = names.to_vec();
        Ok(spec)
    }

    fn registries(&self, spec: &mut Spec) -> Result<(), ProfileError> {
        ask_registries(&self.source, spec)
    }

    fn list(&self) -> String {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = String::new();
        for dir in self.source.dirs() {
            for name in self.source.names(dir) {
                let shadowed = if seen.insert(name.clone()) {
                    ""
                } else {
                    " (shadowed)"
                };
                let at = if dir == Path::new(BUILTIN_DIR) {
                    BUILTIN_DIR.to_string()
                } else {
                    dir.join(format!("{name}.toml")).display().to_string()
                };
                out.push_str(&format!("{name} {at}{shadowed}\n"));
            }
        }
        out
    }
}

/// The host's profiles: the search path and variables are read only when a profile is used.
pub struct Host;

impl Profiles for Host {
    fn load(
        &self,
        names: &[String],
        project: Option<&Path>,
        defaults: Spec,
    ) -> Result<Spec, ProfileError> {
        let l = Loader {
            source: Fs::from_env(),
            vars: Vars::from_host(project),
        };
        l.load(names, None, defaults)
    }

    fn registries(&self, spec: &mut Spec) -> Result<(), ProfileError> {
        if spec.net_offer.tools.is_empty() && spec.net_offer.missing.is_empty() {
            return Ok(());
        }
        ask_registries(&Fs::from_env(), spec)
    }

    fn list(&self) -> String {
        Loader {
            source: Fs::from_env(),
            vars: Vars::default(),
        }
        .list()
    }
}

#[cfg(test)]
pub mod tests;
