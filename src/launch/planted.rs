//! After the run: files the sandbox planted for programs that run later outside it.
//!
//! A build may write a `.git` (whose config can name a program: `core.fsmonitor` runs at the
//! next `git status` there), an `.envrc`, a `.cargo/config.toml`, an `.npmrc` anywhere in the
//! project it can write. The kernel offers no way to refuse a file by name, so sbox reports
//! them instead: one walk of each watched directory once the sandbox is gone, comparing each
//! such entry's ctime (which no unprivileged program can set back) with the start of the run.

use crate::spec::{BindKind, FsOp, Spec};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Names that a program run later outside the sandbox obeys, and what it would do.
const WATCHED: &[(&str, &str)] = &[
    (
        ".git",
        "git obeys its config and hooks there (core.fsmonitor runs at git status)",
    ),
    (".hg", "Mercurial runs the hooks of its hgrc there"),
    (".envrc", "direnv runs it on entering the directory"),
    (
        ".cargo",
        "cargo obeys its config there (build.rustc-wrapper, runners)",
    ),
    (".npmrc", "npm obeys it there (script-shell, registry)"),
    (".yarnrc", "yarn obeys it there"),
    (".yarnrc.yml", "yarn runs its yarnPath"),
    (".pnpmfile.cjs", "pnpm runs it"),
    (".vscode", "VS Code runs its tasks and applies its settings"),
    (".idea", "JetBrains IDEs run its run configurations"),
    (".mise.toml", "mise runs its tasks and hooks"),
    ("mise.toml", "mise runs its tasks and hooks"),
    (
        ".tool-versions",
        "asdf and mise install and run what it names",
    ),
];

/// A hostile run could make the walk endless; past this many entries it stops and says so.
const BUDGET: usize = 200_000;

/// What the supervisor notes before the clone: the start of the run, and which paths under
/// the watched directories were mounted over inside (the sandbox could not change those).
pub struct Watch {
    start: (i64, i64),
    roots: Vec<PathBuf>,
    /// Host paths that existed at the start and were covered by another mount inside.
    covered: Vec<PathBuf>,
}

/// `None` when nothing is watched: no cost at all then.
pub fn prepare(spec: &Spec) -> Option<Watch> {
    if spec.report_planted.is_empty() {
        return None;
    }
    let mut covered = Vec::new();
    for op in &spec.ops {
        let FsOp::Bind {
            kind: BindKind::Rw | BindKind::Dev | BindKind::Suid,
            src,
            dst,
            ..
        } = op
        else {
            continue;
        };
        if !spec.report_planted.contains(src) {
            continue;
        }
        for other in &spec.ops {
            if let Ok(rel) = other.dst().strip_prefix(dst)
                && !rel.as_os_str().is_empty()
            {
                let host = src.join(rel);
                if host.symlink_metadata().is_ok() {
                    covered.push(host);
                }
            }
        }
    }
    Some(Watch {
        start: coarse_now(),
        roots: spec.report_planted.clone(),
        covered,
    })
}

/// File times come from the coarse clock, so any ctime set after this call is at least this.
fn coarse_now() -> (i64, i64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec that we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    (ts.tv_sec, ts.tv_nsec)
}

/// One finding: the path, and why it matters.
#[derive(Debug, PartialEq, Eq)]
pub struct Planted {
    pub path: PathBuf,
    pub why: &'static str,
}

impl Watch {
    fn changed(&self, m: &std::fs::Metadata) -> bool {
        (m.ctime(), m.ctime_nsec()) >= self.start
    }

    /// Made during the run (birth time, where the filesystem keeps one).
    fn born(&self, m: &std::fs::Metadata) -> bool {
        let start = std::time::UNIX_EPOCH
            + std::time::Duration::new(self.start.0 as u64, self.start.1 as u32);
        m.created().is_ok_and(|t| t >= start)
    }

    /// One watched entry: new, or changed, or (an old directory) with changes inside.
    fn check(
        &self,
        path: PathBuf,
        dir: bool,
        why: &'static str,
        found: &mut Vec<Planted>,
        seen: &mut usize,
    ) {
        let Ok(m) = path.symlink_metadata() else {
            return;
        };
        if self.born(&m) || (!dir && self.changed(&m)) {
            found.push(Planted { path, why });
        } else if dir {
            let before = found.len();
            self.changed_under(&path, why, found, seen);
            if found.len() == before && self.changed(&m) {
                found.push(Planted { path, why });
            }
        }
    }

    /// Walk every watched directory; returns the findings and whether the budget ran out.
    pub fn scan(&self) -> (Vec<Planted>, Option<PathBuf>) {
        let mut found = Vec::new();
        let mut seen = 0usize;
        for root in &self.roots {
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for e in entries.flatten() {
                    seen += 1;
                    if seen > BUDGET {
                        return (found, Some(root.clone()));
                    }
                    let path = e.path();
                    if self.covered.contains(&path) {
                        continue;
                    }
                    let name = e.file_name();
                    let watched = WATCHED.iter().find(|(n, _)| name == *n);
                    let Ok(ft) = e.file_type() else { continue };
                    match watched {
                        Some((_, why)) => self.check(path, ft.is_dir(), why, &mut found, &mut seen),
                        None if ft.is_dir() => stack.push(path),
                        None => {}
                    }
                }
            }
        }
        (found, None)
    }

    /// Entries under a watched directory that changed during the run, one finding each.
    fn changed_under(
        &self,
        dir: &Path,
        why: &'static str,
        found: &mut Vec<Planted>,
        seen: &mut usize,
    ) {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                *seen += 1;
                if *seen > BUDGET {
                    return;
                }
                let Ok(m) = e.path().symlink_metadata() else {
                    continue;
                };
                if self.changed(&m) {
                    found.push(Planted {
                        path: e.path(),
                        why,
                    });
                } else if m.is_dir() {
                    stack.push(e.path());
                }
            }
        }
    }
}

/// Say what was found, one warning line per planted path.
pub fn report(spec: &Spec, w: &Watch) {
    let t = std::time::Instant::now();
    let (found, stopped) = w.scan();
    let warn = |line: String| crate::output::sbox_warning(&line);
    for p in &found {
        warn(format!(
            "{}: planted by the sandbox for a program run later outside it ({}): check it before",
            p.path.display(),
            p.why
        ));
    }
    if let Some(root) = stopped {
        warn(format!(
            "{}: stopped looking for planted files after {BUDGET} entries",
            root.display()
        ));
    }
    if spec.verbose {
        crate::output::verbose(&format!(
            "planted files ({} found): {:.3} ms",
            found.len(),
            t.elapsed().as_secs_f64() * 1e3
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(root: &Path, covered: Vec<PathBuf>) -> Watch {
        Watch {
            start: coarse_now(),
            roots: vec![root.to_path_buf()],
            covered,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sbox-planted-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn new_entries_are_found_old_ones_are_not() {
        let d = tmp("new");
        std::fs::create_dir_all(d.join("old/.vscode")).unwrap();
        std::fs::write(d.join("old/.vscode/tasks.json"), "{}").unwrap();
        std::fs::write(d.join(".envrc"), "").unwrap();
        // Coarse clock ticks are at most 10 ms apart.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let w = watch(&d, vec![]);
        std::fs::create_dir_all(d.join("src/.git")).unwrap();
        std::fs::write(d.join("src/deep.c"), "").unwrap();
        std::fs::write(d.join("old/.vscode/settings.json"), "{}").unwrap();
        let (mut found, stopped) = w.scan();
        found.sort_by(|a, b| a.path.cmp(&b.path));
        let paths: Vec<_> = found.iter().map(|p| p.path.clone()).collect();
        assert_eq!(
            paths,
            vec![d.join("old/.vscode/settings.json"), d.join("src/.git")]
        );
        assert!(stopped.is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn covered_paths_are_skipped_and_links_not_followed() {
        let d = tmp("covered");
        std::fs::create_dir_all(d.join(".git")).unwrap();
        let outside = tmp("outside");
        std::thread::sleep(std::time::Duration::from_millis(30));
        let w = watch(&d, vec![d.join(".git")]);
        std::fs::write(d.join(".git/FETCH_HEAD"), "").unwrap();
        std::fs::create_dir_all(outside.join("x/.envrc")).unwrap();
        std::os::unix::fs::symlink(&outside, d.join("link")).unwrap();
        let (found, _) = w.scan();
        assert_eq!(found, vec![]);
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }
}
