//! TOML profiles: a `Spec` written down. This module finds profile files (the search path),
//! follows `extends`, and knows the variables; `file` turns one parsed file into changes of a
//! `Spec` (pure), and `merge` holds the merge rule and `--explain`.
//!
//! The merge rule: built-in defaults < each `extends`, in order < the profile < command-line
//! flags. A later layer's scalar wins, lists append, mounts are keyed by destination (a later
//! layer's mount replaces an earlier one on the same path) and applied parents before children,
//! so the order of composition can't change the result. Command-line filesystem operations
//! come after the profile's mounts, in their own order, as in bubblewrap.

mod file;
mod merge;

pub use merge::{attribute, entries, explain};

use crate::spec::Spec;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The only variables a profile may use; anything else is an error.
pub const VARIABLES: [&str; 7] = [
    "HOME",
    "UID",
    "USER",
    "PROJECT",
    "CWD",
    "XDG_RUNTIME_DIR",
    "XDG_CACHE_HOME",
];

/// Values of the variables, read once from the caller's environment; `None` when this host
/// has no value (using it is then an error).
#[derive(Clone, Debug, Default)]
pub struct Vars(pub BTreeMap<&'static str, Option<String>>);

impl Vars {
    /// The caller's values. PROJECT is the top of the git work tree holding the working
    /// directory (the nearest parent with a `.git`), else the working directory.
    pub fn from_host() -> Vars {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let uid = nix::unistd::getuid();
        // The passwd entry only when $HOME is unset; ${USER} looks it up when used (expand).
        let home = env("HOME").or_else(|| passwd().map(|u| u.dir.display().to_string()));
        let cwd = std::env::current_dir().ok();
        let project = cwd.as_deref().map(|c| {
            c.ancestors()
                .find(|d| d.join(".git").symlink_metadata().is_ok())
                .unwrap_or(c)
                .display()
                .to_string()
        });
        let cache = env("XDG_CACHE_HOME").or_else(|| home.as_ref().map(|h| format!("{h}/.cache")));
        Vars(BTreeMap::from([
            ("HOME", home),
            ("UID", Some(uid.to_string())),
            ("USER", None),
            ("PROJECT", project),
            ("CWD", cwd.map(|c| c.display().to_string())),
            ("XDG_RUNTIME_DIR", env("XDG_RUNTIME_DIR")),
            ("XDG_CACHE_HOME", cache),
        ]))
    }

    /// Replace every `${NAME}` in `s`. Errors name the variable.
    pub fn expand(&self, s: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("'{s}': '${{' without a closing '}}'"))?;
            let name = &after[..end];
            let unset = || format!("${{{name}}} has no value here (not set)");
            match self.0.get(name) {
                Some(Some(v)) => out.push_str(v),
                // Looked up only when used (from_host).
                Some(None) if name == "USER" => out.push_str(&user().ok_or_else(unset)?),
                Some(None) => return Err(unset()),
                None => {
                    let known: Vec<String> =
                        VARIABLES.iter().map(|v| format!("${{{v}}}")).collect();
                    return Err(format!(
                        "${{{name}}}: unknown variable (known: {})",
                        known.join(", ")
                    ));
                }
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
    fn read(&self, path: &Path) -> Result<Option<String>, String>;
    /// Profile names (file stems of `*.toml`) in one directory, sorted.
    fn names(&self, dir: &Path) -> Vec<String>;
}

/// The search path on this host: $SBOX_PROFILE_PATH (colon-separated), the user's
/// ~/.config/sbox/profiles, /etc/sbox/profiles, then the profiles installed with sbox
/// (`<exe dir>/../share/sbox/profiles`; in a source checkout, its `profiles/`).
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
        if let Ok(exe) = std::env::current_exe() {
            if let Some(bin) = exe.parent() {
                dirs.push(bin.join("../share/sbox/profiles"));
            }
            // Run from a source checkout (target/debug/sbox): the repository's profiles.
            let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
            if exe.starts_with(repo) {
                dirs.push(repo.join("profiles"));
            }
        }
        Fs(dirs)
    }
}

impl Source for Fs {
    fn dirs(&self) -> &[PathBuf] {
        &self.0
    }

    fn read(&self, path: &Path) -> Result<Option<String>, String> {
        match std::fs::read_to_string(path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    fn names(&self, dir: &Path) -> Vec<String> {
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
}

/// What the command line needs from profiles: loading happens outside the parser.
pub trait Profiles {
    /// `defaults` with the named profiles (and what they extend) merged on top, in order.
    fn load(&self, names: &[String], defaults: Spec) -> Result<Spec, String>;
    /// `--list-profiles`: one line per profile file found, `NAME PATH`.
    fn list(&self) -> String;
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
    fn find(&self, r: &str, from: Option<&Path>) -> Result<Option<(PathBuf, String)>, String> {
        if is_path(r) {
            let p = match from.and_then(Path::parent) {
                Some(dir) if Path::new(r).is_relative() => dir.join(r),
                _ => PathBuf::from(r),
            };
            return Ok(self.source.read(&p)?.map(|t| (p, t)));
        }
        if r.is_empty()
            || !r
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(format!(
                "'{r}': not a profile name (letters, digits, . _ -)"
            ));
        }
        for dir in self.source.dirs() {
            let p = dir.join(format!("{r}.toml"));
            if let Some(t) = self.source.read(&p)? {
                return Ok(Some((p, t)));
            }
        }
        Ok(None)
    }

    fn not_found(&self, r: &str) -> String {
        if is_path(r) {
            format!("'{r}': no such file")
        } else {
            let dirs: Vec<String> = self
                .source
                .dirs()
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            format!(
                "'{r}': no such profile (searched {}; see sbox --list-profiles)",
                dirs.join(":")
            )
        }
    }

    /// Apply `path` after everything it extends. A file reached twice (two profiles
    /// extending the same base) is applied once, at its first place.
    fn visit(
        &self,
        label: &str,
        path: PathBuf,
        text: String,
        stack: &mut Vec<(String, PathBuf)>,
        spec: &mut Spec,
    ) -> Result<(), String> {
        if spec.origins.layers.iter().any(|(_, p)| *p == path) {
            return Ok(());
        }
        let parsed = file::parse(&path, &text)?;
        stack.push((label.to_string(), path.clone()));
        for ext in &parsed.extends {
            let at = |why: String| file::located(&path, &text, ext.span(), why);
            let r = ext.get_ref();
            let (p, t) = self
                .find(r, Some(&path))
                .map_err(at)?
                .ok_or_else(|| at(self.not_found(r)))?;
            if stack.iter().any(|(_, s)| *s == p) {
                let chain: Vec<&str> = stack.iter().map(|(l, _)| l.as_str()).collect();
                return Err(at(format!(
                    "extends '{r}': a cycle ({} -> {r})",
                    chain.join(" -> ")
                )));
            }
            self.visit(r, p, t, stack, spec)?;
        }
        stack.pop();
        if spec.origins.wanted {
            let before = entries(spec);
            file::apply(&parsed, &path, &text, &self.vars, spec)?;
            attribute(&before, spec, label);
        } else {
            file::apply(&parsed, &path, &text, &self.vars, spec)?;
        }
        spec.origins.layers.push((label.to_string(), path));
        Ok(())
    }
}

impl<S: Source> Profiles for Loader<S> {
    fn load(&self, names: &[String], defaults: Spec) -> Result<Spec, String> {
        let mut spec = defaults;
        for r in names {
            let (p, t) = self.find(r, None)?.ok_or_else(|| self.not_found(r))?;
            self.visit(r, p, t, &mut Vec::new(), &mut spec)?;
        }
        Ok(spec)
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
                out.push_str(&format!(
                    "{name} {}{shadowed}\n",
                    dir.join(format!("{name}.toml")).display()
                ));
            }
        }
        out
    }
}

/// The host's profiles: the search path and variables are read only when a profile is used.
pub struct Host;

impl Profiles for Host {
    fn load(&self, names: &[String], defaults: Spec) -> Result<Spec, String> {
        let l = Loader {
            source: Fs::from_env(),
            vars: Vars::from_host(),
        };
        l.load(names, defaults)
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
