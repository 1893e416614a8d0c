//! What a profile's paths may be on this host. A build sandbox runs a hostile build again
//! and again under the same profile, so nothing the previous run could write (a symlink in
//! the project, a profile file, the project's `.git`) may steer the next one.

use super::ProfileError;
use crate::spec::{BindKind, FsOp, OverlayUpper, Spec};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// The one-line refusal for a symlink on a profile's path.
pub fn link_error(link: &Path, fix: &'static str) -> ProfileError {
    let to = std::fs::read_link(link)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|_| "?".into());
    ProfileError::PlantedLink {
        link: link.to_path_buf(),
        to,
        fix,
    }
}

/// The rule for a host path a profile mounts; returns it with no symlink left in it. What
/// follows one of `trusted` (the caller's own locations, already canonical) may pass through
/// no symlink at all: the sandbox may have written there. Any other path (`/bin`, `/lib64`)
/// may pass through a link owned by root when the caller is not root (merged /usr), never
/// through one the caller could have made. A missing component ends the walk: whether a
/// missing source is an error is decided when it is opened.
pub fn real_path(
    path: &Path,
    trusted: &[PathBuf],
    caller_is_root: bool,
) -> Result<PathBuf, ProfileError> {
    let fix = "give that mount on the command line (where links are followed)";
    let prefix = trusted
        .iter()
        .filter(|t| path.starts_with(t))
        .max_by_key(|t| t.components().count());
    let (mut cur, rest, links_ok) = match prefix {
        Some(t) => (t.clone(), path.strip_prefix(t).unwrap_or(path), false),
        None => (PathBuf::from("/"), path, !caller_is_root),
    };
    let mut rest: Vec<PathBuf> = rest
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    rest.reverse();
    let mut hops = 0;
    while let Some(name) = rest.pop() {
        let next = cur.join(&name);
        let Ok(md) = next.symlink_metadata() else {
            let mut missing = next;
            while let Some(n) = rest.pop() {
                missing.push(n);
            }
            return Ok(missing);
        };
        if !md.file_type().is_symlink() {
            cur = next;
            continue;
        }
        hops += 1;
        if prefix.is_none() && caller_is_root && md.uid() == 0 {
            // Never advise root to remove /bin: say why it can't be told apart.
            let to = std::fs::read_link(&next).unwrap_or_default();
            return Err(ProfileError::RootLink {
                link: next,
                to,
                fix,
            });
        }
        if !links_ok || md.uid() != 0 || hops > 40 {
            return Err(link_error(&next, fix));
        }
        // A root-owned link: continue from its target (`cur` has no link, so `..` is lexical).
        let target = std::fs::read_link(&next).map_err(|error| ProfileError::Read {
            path: next.clone(),
            error,
        })?;
        let mut at = if target.is_absolute() {
            PathBuf::from("/")
        } else {
            cur.clone()
        };
        let mut parts: Vec<PathBuf> = Vec::new();
        for c in target.components() {
            match c {
                Component::ParentDir => {
                    at.pop();
                }
                Component::Normal(n) => parts.push(PathBuf::from(n)),
                _ => {}
            }
        }
        cur = at;
        rest.extend(parts.into_iter().rev());
    }
    Ok(cur)
}

/// The project: the nearest parent of `cwd` (or itself) holding a `.git` directory or a
/// gitfile (a worktree's or a submodule's `gitdir: ...`), else `cwd`. A `.git` that is a
/// symlink is refused: the previous run could have planted `src/.git -> ~/.ssh`.
pub fn find_project(cwd: &Path) -> Result<PathBuf, ProfileError> {
    for d in cwd.ancestors() {
        let git = d.join(".git");
        match git.symlink_metadata() {
            Ok(md) if md.file_type().is_symlink() => {
                return Err(link_error(&git, "name the project with --project DIR"));
            }
            Ok(md) if md.is_dir() || md.is_file() => return Ok(d.to_path_buf()),
            _ => {}
        }
    }
    Ok(cwd.to_path_buf())
}

/// Refuse a project that would expose the whole home (or all of `/`).
pub fn check_project(project: &Path, home: Option<&Path>) -> Result<(), ProfileError> {
    let root = project == Path::new("/");
    if root || home.is_some_and(|h| h.starts_with(project)) {
        return Err(ProfileError::WholeProject {
            project: project.to_path_buf(),
            root,
        });
    }
    Ok(())
}

/// The git directory a sandbox on `project` needs read-only. For a worktree, whose `.git`
/// file says `gitdir: <main>/.git/worktrees/<name>`, that is `<main>/.git` (it holds the
/// worktree's own directory too), but only when the link is real: `<main>/.git` a directory
/// reached through no symlink, and its `worktrees/<name>/gitdir` pointing back at this `.git`
/// file. The gitfile lies in the writable project, so a build could rewrite it to
/// `gitdir: ~/.ssh`: anything else gets only the project's own `.git` (git then fails
/// inside, as it would without sbox knowing about worktrees).
pub fn git_common_dir(project: &Path) -> PathBuf {
    let own = project.join(".git");
    worktree_common(&own).unwrap_or(own)
}

fn worktree_common(gitfile: &Path) -> Option<PathBuf> {
    if !gitfile.symlink_metadata().ok()?.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(gitfile).ok()?;
    let target = PathBuf::from(text.strip_prefix("gitdir:")?.trim());
    let names: Vec<Component> = target.components().collect();
    let n = names.len();
    if !target.is_absolute()
        || n < 4
        || names
            .iter()
            .any(|c| !matches!(c, Component::Normal(_) | Component::RootDir))
        || names[n - 2].as_os_str() != "worktrees"
        || names[n - 3].as_os_str() != ".git"
    {
        return None;
    }
    let common: PathBuf = names[..n - 2].iter().collect();
    // No symlink anywhere: the real path is the path itself.
    if std::fs::canonicalize(&target).ok()? != target {
        return None;
    }
    let back = std::fs::read_to_string(target.join("gitdir")).ok()?;
    (Path::new(back.trim()) == gitfile).then_some(common)
}

/// The real path of `p`, or of its longest existing parent with the rest appended.
fn canonical(p: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut at = p;
    loop {
        // One stat per missing level: realpath(3) reads every component's link each time.
        if at.symlink_metadata().is_ok()
            && let Ok(c) = std::fs::canonicalize(at)
        {
            return rest.iter().rev().fold(c, |acc: PathBuf, n| acc.join(n));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                at = parent;
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// Refuse a sandbox that could rewrite a profile it was built from (or a file shadowing it
/// next time): a path in `spec.protect` under the host source of a writable bind (or of an
/// overlay's upper directory) where, at the path it has inside, no later mount covers it.
/// tmpfs mounts don't count: nothing written there persists.
pub fn check_writable(spec: &Spec) -> Result<(), ProfileError> {
    if spec.protect.is_empty() {
        return Ok(());
    }
    let protect: Vec<(&PathBuf, PathBuf)> =
        spec.protect.iter().map(|p| (p, canonical(p))).collect();
    // The writable mounts with their host sources, resolved as launch will.
    let mut writable = Vec::new();
    for (i, op) in spec.ops.iter().enumerate() {
        let (src, dst) = match op {
            FsOp::Bind {
                kind: BindKind::Rw | BindKind::Dev,
                src,
                dst,
                ..
            } => (src.clone(), dst),
            FsOp::Overlay {
                upper: OverlayUpper::Dir { upper, .. },
                dst,
                ..
            } => (upper.clone(), dst),
            FsOp::BindFd { fd, ro: false, dst } => {
                match std::fs::read_link(format!("/proc/self/fd/{fd}")) {
                    Ok(p) => (p, dst),
                    Err(_) => continue,
                }
            }
            _ => continue,
        };
        if let Ok(src) = std::fs::canonicalize(&src) {
            writable.push((i, op, src, dst));
        }
    }
    // In the order the profiles were found: the first one named is the first reported.
    for (given, real) in &protect {
        for (i, op, src, dst) in &writable {
            let Ok(below) = real.strip_prefix(src) else {
                continue;
            };
            let inside = dst.join(below);
            // An optional bind whose source is missing is skipped at launch: it covers
            // nothing (unless `create = true` makes its source first).
            let covered = spec.ops[i + 1..].iter().any(|later| {
                inside.starts_with(later.dst())
                    && match later {
                        FsOp::Bind {
                            optional: true,
                            src,
                            dst,
                            ..
                        } => {
                            src.symlink_metadata().is_ok()
                                || spec
                                    .bind_extras
                                    .iter()
                                    .any(|e| e.dst == *dst && e.create_from.is_some())
                        }
                        _ => true,
                    }
            });
            if !covered {
                return Err(ProfileError::Rewritable {
                    given: given.to_path_buf(),
                    option: op.option(),
                    src: src.clone(),
                    dst: dst.to_path_buf(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sbox-host-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::canonicalize(d).unwrap()
    }

    #[test]
    fn below_a_location_no_link_at_all() {
        let d = tmp("loc");
        std::fs::create_dir_all(d.join("p/real")).unwrap();
        symlink(d.join("p/real"), d.join("p/link")).unwrap();
        let trusted = [d.join("p")];
        assert_eq!(
            real_path(&d.join("p/real/x"), &trusted, false).unwrap(),
            d.join("p/real/x")
        );
        // Owned by root here (the tests run as root in CI) and still refused: it is below
        // one of the caller's places.
        let e = real_path(&d.join("p/link/x"), &trusted, false)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!(
            "{}: is a symbolic link (to ",
            d.join("p/link").display()
        )));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn elsewhere_only_root_links_for_a_user() {
        let d = tmp("sys");
        std::fs::create_dir_all(d.join("usr/bin")).unwrap();
        symlink("usr/bin", d.join("bin")).unwrap();
        let root_owned = nix::unistd::geteuid().is_root();
        let got = real_path(&d.join("bin/sh"), &[], false);
        if root_owned {
            // merged /usr: followed, and the result has no link left.
            assert_eq!(got.unwrap(), d.join("usr/bin/sh"));
            // The same link for a root caller could be its own: refused.
            assert!(real_path(&d.join("bin/sh"), &[], true).is_err());
            // A link owned by someone else than root: refused.
            std::os::unix::fs::lchown(d.join("bin"), Some(4321), Some(4321)).unwrap();
        }
        assert!(real_path(&d.join("bin/sh"), &[], false).is_err());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn the_project_is_not_the_home_or_above() {
        let home = Path::new("/home/u");
        assert!(check_project(Path::new("/home/u/src/p"), Some(home)).is_ok());
        for p in ["/home/u", "/home", "/"] {
            assert!(check_project(Path::new(p), Some(home)).is_err(), "{p}");
        }
        assert!(check_project(Path::new("/"), None).is_err());
    }
}
