//! `[network] allow_registry = ["npm", "pip", "cargo"]`: the registry a package tool uses,
//! taken from that tool's own configuration on the host at run time, so that no registry name
//! is written in sbox or its profiles (registries are mirrored; the user's configuration is
//! the truth).
//!
//! What is trusted: the caller's environment and their own configuration files (~/.npmrc,
//! pip's user and global files, $CARGO_HOME/config.toml). What is not: anything in the
//! project, which a previous sandbox could have planted (a project `.npmrc`, a venv's
//! `pip.conf`, `.cargo/config.toml`): the tools are asked from `/` (no project around), and
//! the program asked, with every PATH directory searched before it, must lie outside what the
//! sandbox can write (the loader adds them to `Spec.protect`; `check_writable` refuses).
//! Inside the sandbox the tool may still read a project file that names another registry:
//! that one is then refused by the allowlist, which is the point.
//!
//! - npm: `npm config get registry` (its default when nothing is configured).
//! - pip: `PIP_INDEX_URL` and `PIP_EXTRA_INDEX_URL`, else `install.`/`global.` `index-url`
//!   and `extra-index-url` from `pip config list`. pip's built-in default gives no rule: its
//!   index sends the downloads to another host that pip doesn't name, so the profile needs a
//!   recorded allowlist for it.
//! - cargo: the source replacement of crates-io in `$CARGO_HOME/config.toml` (a mirror).
//!   Cargo can't be asked for its default index without naming it, so without a replacement
//!   there is no rule (a recorded allowlist then). A sparse mirror may serve its downloads
//!   from a host its config.json names: record once to learn it.

use super::{ProfileError, ToolFailure};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A tool whose registry can be asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Npm,
    Pip,
    Cargo,
}

impl Tool {
    pub const ALL: [Tool; 3] = [Tool::Npm, Tool::Pip, Tool::Cargo];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Npm => "npm",
            Tool::Pip => "pip",
            Tool::Cargo => "cargo",
        }
    }

    pub fn from_name(n: &str) -> Result<Tool, ProfileError> {
        Tool::ALL
            .into_iter()
            .find(|t| t.name() == n)
            .ok_or_else(|| ProfileError::UnknownTool(n.to_string()))
    }
}

/// `host:port` of a registry URL (`https://host[:port]/...`, cargo's `sparse+` and
/// `registry+` prefixes, user info dropped), as an allow rule.
pub fn rule_of_url(url: &str) -> Result<String, ProfileError> {
    let bad = |why: &'static str| ProfileError::Url {
        url: url.to_string(),
        why,
    };
    let u = url.trim();
    let u = u
        .strip_prefix("sparse+")
        .or_else(|| u.strip_prefix("registry+"))
        .unwrap_or(u);
    let (scheme, rest) = u
        .split_once("://")
        .ok_or_else(|| bad("not a URL (scheme://host/...)"))?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => 443,
        "http" => 80,
        "file" => return Err(bad("a local registry: no network needed")),
        _ => return Err(bad("only http and https registries can be reached")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("no host"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("bad port"))?,
        None => default,
    };
    Ok(format!("{}:{port}", host.to_ascii_lowercase()))
}

/// The URL npm printed for `npm config get registry`.
pub fn npm_url(out: &str) -> Option<String> {
    let first = out.lines().next()?.trim();
    (!first.is_empty() && first != "undefined").then(|| first.to_string())
}

/// pip's index URLs: the environment's first, else `pip config list` output
/// (`section.key='value'` lines), `install.` before `global.`.
pub fn pip_urls(index: Option<&str>, extra: Option<&str>, config_list: &str) -> Vec<String> {
    let conf = |key: &str| {
        ["install", "global"].iter().find_map(|section| {
            config_list.lines().find_map(|l| {
                let v = l.strip_prefix(&format!("{section}.{key}="))?;
                Some(v.trim().trim_matches(['\'', '"']).to_string())
            })
        })
    };
    let index = index.map(str::to_string).or_else(|| conf("index-url"));
    let extra = extra
        .map(str::to_string)
        .or_else(|| conf("extra-index-url"));
    let mut urls: Vec<String> = index.into_iter().collect();
    for e in extra.iter().flat_map(|e| e.split_whitespace()) {
        urls.push(e.to_string());
    }
    urls
}

/// The registry URL that replaces crates-io in a cargo config file, following a chain of
/// `replace-with`; `None` without a replacement (or for a local or directory source).
pub fn cargo_url(config: &str) -> Result<Option<String>, ProfileError> {
    let v: toml::Table =
        toml::from_str(config).map_err(|e| ProfileError::Toml(e.message().replace('\n', " ")))?;
    let sources = v.get("source").and_then(|s| s.as_table());
    let Some(sources) = sources else {
        return Ok(None);
    };
    let mut name = "crates-io".to_string();
    for _ in 0..8 {
        let Some(src) = sources.get(&name).and_then(|s| s.as_table()) else {
            return Ok(None);
        };
        match src.get("replace-with").and_then(|r| r.as_str()) {
            Some(next) => name = next.to_string(),
            None if name == "crates-io" => return Ok(None),
            None => {
                return Ok(src
                    .get("registry")
                    .and_then(|r| r.as_str())
                    .map(String::from));
            }
        }
    }
    Err(ProfileError::ReplaceCycle)
}

/// The executable `name` would run as, searched in `path` ($PATH), with every directory
/// searched up to and including the one it was found in (a file planted in an earlier one
/// would be run instead next time).
pub fn find_program(name: &str, path: &str) -> (Option<PathBuf>, Vec<PathBuf>) {
    use std::os::unix::fs::PermissionsExt;
    let mut searched = Vec::new();
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        searched.push(dir.clone());
        let p = dir.join(name);
        if let Ok(md) = std::fs::metadata(&p)
            && md.is_file()
            && md.permissions().mode() & 0o111 != 0
        {
            return (Some(std::fs::canonicalize(&p).unwrap_or(p)), searched);
        }
    }
    (None, searched)
}

/// What to run or read on the host to learn `tool`'s registry, before it is done: the loader
/// protects these paths first (they must lie outside what the sandbox can write).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub tool: Tool,
    /// The program to run (npm, pip) or the config file to read (cargo); `None`: not there.
    pub file: Option<PathBuf>,
    /// Everything whose change would change the answer: PATH directories, the file.
    pub protect: Vec<PathBuf>,
}

/// Where `tool` would be asked, on this host (`home`: the caller's home).
pub fn plan(tool: Tool, home: Option<&Path>) -> Query {
    let path = std::env::var("PATH").unwrap_or_default();
    let (file, mut protect) = match tool {
        Tool::Npm => find_program("npm", &path),
        // Debian's python3-pip may install only pip3.
        Tool::Pip => match find_program("pip", &path) {
            (None, mut searched) => {
                let (found, more) = find_program("pip3", &path);
                searched.extend(more);
                (found, searched)
            }
            found => found,
        },
        Tool::Cargo => {
            let dir = std::env::var_os("CARGO_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| home.map(|h| h.join(".cargo")));
            let file = dir.map(|d| {
                let legacy = d.join("config");
                if legacy.is_file() && !d.join("config.toml").exists() {
                    legacy
                } else {
                    d.join("config.toml")
                }
            });
            (file, Vec::new())
        }
    };
    protect.extend(file.clone());
    Query {
        tool,
        file,
        protect,
    }
}

/// Run the planned query: the allow rules for the tool's registries (none when the tool is
/// missing or has no registry to ask for).
pub fn ask(q: &Query) -> Result<Vec<String>, ProfileError> {
    let Some(file) = &q.file else {
        return Ok(Vec::new());
    };
    let name = q.tool.name();
    let urls = match q.tool {
        Tool::Npm => npm_url(&run(file, &["config", "get", "registry"])?)
            .into_iter()
            .collect(),
        Tool::Pip => {
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let (index, extra) = (env("PIP_INDEX_URL"), env("PIP_EXTRA_INDEX_URL"));
            let list = if index.is_some() {
                String::new()
            } else {
                run(file, &["config", "list"])?
            };
            pip_urls(index.as_deref(), extra.as_deref(), &list)
        }
        Tool::Cargo => match std::fs::read_to_string(file) {
            Ok(text) => cargo_url(&text)
                .map_err(|e| ProfileError::key(file.display().to_string(), e))?
                .into_iter()
                .collect(),
            // Missing or not yours to read (a CARGO_HOME of another user): no mirror.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                Vec::new()
            }
            Err(error) => {
                return Err(ProfileError::Read {
                    path: file.clone(),
                    error,
                });
            }
        },
    };
    let mut rules = Vec::new();
    for u in urls {
        match rule_of_url(&u) {
            Ok(r) => rules.push(r),
            // A local mirror needs no network: nothing to allow.
            Err(_) if u.trim_start().starts_with("file:") => {}
            Err(e) => {
                return Err(ProfileError::key(format!("allow_registry {name}"), e));
            }
        }
    }
    Ok(rules)
}

/// Seconds a registry tool has to answer.
const ANSWER_WITHIN: u64 = 20;

/// `prog ARGS` from `/` with the caller's environment, its stdout; a few seconds at most.
fn run(prog: &Path, args: &[&str]) -> Result<String, ProfileError> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let fail = |failure| ProfileError::Tool {
        prog: prog.to_path_buf(),
        args: args.iter().map(|a| a.to_string()).collect(),
        failure,
    };
    let mut child = Command::new(prog)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(ToolFailure::Spawn(e)))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() < Duration::from_secs(ANSWER_WITHIN) => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(ToolFailure::Timeout(ANSWER_WITHIN)));
            }
        }
    };
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    // pip exits 1 when a key is unset; only the output matters then.
    if !status.success() && out.trim().is_empty() && matches!(status.code(), None | Some(2..)) {
        return Err(fail(ToolFailure::Failed(status)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_rules() {
        for (url, rule) in [
            ("https://registry.test/", "registry.test:443"),
            ("http://mirror.test:8080/npm/", "mirror.test:8080"),
            ("sparse+https://Index.Mirror.test/", "index.mirror.test:443"),
            (
                "https://user:pw@pypi.mirror.test/simple",
                "pypi.mirror.test:443",
            ),
            ("https://[fd00::1]:4873", "[fd00::1]:4873"),
            ("https://10.1.2.3:4873/?x", "10.1.2.3:4873"),
        ] {
            assert_eq!(rule_of_url(url).unwrap(), rule, "{url}");
        }
        for url in [
            "registry.test",
            "ftp://a.test/",
            "https:///x",
            "https://a.test:0/",
            "https://a.test:99999/",
            "file:///srv/mirror",
        ] {
            assert!(rule_of_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn npm_and_pip_answers() {
        assert_eq!(
            npm_url("https://registry.test/\n").as_deref(),
            Some("https://registry.test/")
        );
        assert_eq!(npm_url("\n"), None);
        let list = "global.index-url='https://global.test/simple'\ninstall.extra-index-url='https://x1.test/ https://x2.test/'\n";
        assert_eq!(
            pip_urls(None, None, list),
            [
                "https://global.test/simple",
                "https://x1.test/",
                "https://x2.test/"
            ]
        );
        let list = "global.index-url='https://global.test/simple'\ninstall.index-url='https://install.test/simple'\n";
        assert_eq!(pip_urls(None, None, list), ["https://install.test/simple"]);
        // The environment wins; nothing configured: nothing (pip's built-in default).
        assert_eq!(
            pip_urls(Some("https://env.test/"), None, list),
            ["https://env.test/"]
        );
        assert!(pip_urls(None, None, "").is_empty());
    }

    #[test]
    fn cargo_source_replacement() {
        let c = "[source.crates-io]\nreplace-with = \"mirror\"\n[source.mirror]\nregistry = \"sparse+https://cargo.mirror.test/index/\"\n";
        assert_eq!(
            cargo_url(c).unwrap().as_deref(),
            Some("sparse+https://cargo.mirror.test/index/")
        );
        let chain = "[source.crates-io]\nreplace-with = \"a\"\n[source.a]\nreplace-with = \"b\"\n[source.b]\nregistry = \"https://git.mirror.test/index\"\n";
        assert_eq!(
            cargo_url(chain).unwrap().as_deref(),
            Some("https://git.mirror.test/index")
        );
        // No replacement, a vendored directory: no rule.
        assert_eq!(cargo_url("[build]\njobs = 2\n").unwrap(), None);
        let vendored =
            "[source.crates-io]\nreplace-with = \"v\"\n[source.v]\ndirectory = \"vendor\"\n";
        assert_eq!(cargo_url(vendored).unwrap(), None);
        let cycle =
            "[source.crates-io]\nreplace-with = \"a\"\n[source.a]\nreplace-with = \"crates-io\"\n";
        assert!(cargo_url(cycle).is_err());
        assert!(cargo_url("[source").is_err());
    }

    #[test]
    fn a_fake_tool_is_asked_from_the_root_directory() {
        let dir = std::env::temp_dir().join(format!("sbox-registry-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let npm = dir.join("bin/npm");
        // Answers with its working directory in the URL's path: it must be `/`.
        std::fs::write(
            &npm,
            "#!/bin/sh\necho \"https://registry.test:4873$(pwd)\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("/nonexistent:{}", dir.join("bin").display());
        let (found, searched) = find_program("npm", &path);
        assert_eq!(found.as_deref(), Some(npm.as_path()));
        assert_eq!(searched, [PathBuf::from("/nonexistent"), dir.join("bin")]);
        let q = Query {
            tool: Tool::Npm,
            file: found,
            protect: Vec::new(),
        };
        assert_eq!(
            run(&npm, &["config", "get", "registry"]).unwrap(),
            "https://registry.test:4873/\n"
        );
        assert_eq!(ask(&q).unwrap(), ["registry.test:4873"]);
        assert_eq!(find_program("npm", "/nonexistent").0, None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A tool that fails says which run, and how, as data.
    #[test]
    fn a_failing_tool_is_named_with_its_arguments() {
        let e = run(Path::new("/bin/sh"), &["-c", "exit 3"]).unwrap_err();
        assert!(
            matches!(&e, ProfileError::Tool { failure: ToolFailure::Failed(st), args, .. }
                if st.code() == Some(3) && args == &["-c", "exit 3"]),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "allow_registry: /bin/sh -c exit 3: failed (exit status: 3)"
        );
        let e = run(Path::new("/nonexistent/npm"), &["config"]).unwrap_err();
        assert!(
            matches!(
                &e,
                ProfileError::Tool {
                    failure: ToolFailure::Spawn(_),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(matches!(Tool::from_name("gem"), Err(ProfileError::UnknownTool(n)) if n == "gem"));
        assert!(matches!(
            rule_of_url("ftp://m.test/"),
            Err(ProfileError::Url { url, why: "only http and https registries can be reached" })
                if url == "ftp://m.test/"
        ));
    }
}
