//! The layers of src/ point one way: no top-level module imports one that (through others)
//! imports it back, and launch shows only `run` and its probes for --doctor. Read from the
//! sources; test-only code (`mod tests`) may reach across.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            rust_files(&e.unwrap().path(), out);
        }
    } else if p.is_file()
        && p.extension().is_some_and(|e| e == "rs")
        && p.file_name().unwrap() != "tests.rs"
    {
        out.push(p.to_path_buf());
    }
}

/// Each top-level module of the library and the other top-level modules it names.
fn imports() -> BTreeMap<String, Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: Vec<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let mut graph = BTreeMap::new();
    for m in &modules {
        let mut files = Vec::new();
        rust_files(&src.join(format!("{m}.rs")), &mut files);
        rust_files(&src.join(m), &mut files);
        let mut uses = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
            for other in modules.iter().filter(|o| *o != m) {
                let named = code.contains(&format!("crate::{other}::"))
                    || code.contains(&format!("crate::{other};"));
                if named && !uses.contains(other) {
                    uses.push(other.clone());
                }
            }
        }
        graph.insert(m.clone(), uses);
    }
    graph
}

#[test]
fn no_import_cycle_among_top_level_modules() {
    let graph = imports();
    assert!(graph.len() >= 8, "{graph:?}");
    // Depth-first: a module met again while still on the path closes a cycle.
    fn visit<'a>(
        m: &'a str,
        graph: &'a BTreeMap<String, Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) {
        if done.contains(&m) {
            return;
        }
        assert!(!path.contains(&m), "import cycle: {path:?} -> {m}");
        path.push(m);
        for d in &graph[m] {
            visit(d, graph, path, done);
        }
        path.pop();
        done.push(m);
    }
    let mut done = Vec::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
    // The pure half never reaches the kernel half.
    for pure in ["spec", "error", "profile", "cli"] {
        assert!(
            !graph[pure].iter().any(|d| d == "launch" || d == "cgroup"),
            "{pure} imports {:?}",
            graph[pure]
        );
    }
}

#[test]
fn launch_exposes_run_and_probes_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/launch/mod.rs");
    let text = std::fs::read_to_string(src).unwrap();
    let public: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("pub ") && !l.starts_with("pub(crate)"))
        .collect();
    assert_eq!(
        public,
        [
            "pub mod probe;",
            "pub fn run(spec: &Spec) -> Result<i32, SetupError> {",
            // sbox-runc create: the command's pid, and its cgroup kept for `delete`.
            "pub fn run_gated(spec: &Spec) -> Result<(i32, Option<crate::cgroup::Kept>), SetupError> {"
        ]
    );
}

/// Raw calls (`libc::`, `unsafe`) only in the kernel half (launch/, cgroup/, mkroot) and
/// src/sys.rs, the one place for those the rest needs. Comments don't count; tests do.
#[test]
fn raw_calls_only_in_the_kernel_half_and_sys() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // rust_files leaves out tests.rs files: they are code too.
    files.push(src.join("profile/tests.rs"));
    let allowed = |f: &Path| {
        let rel = f.strip_prefix(&src).unwrap();
        ["launch", "cgroup", "mkroot", "mkroot.rs", "sys.rs"]
            .iter()
            .any(|a| rel.starts_with(a))
    };
    let mut found = Vec::new();
    for f in files.iter().filter(|f| !allowed(f)) {
        for (n, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            let code = line.split("//").next().unwrap();
            let words = code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'));
            if words.clone().any(|w| w.starts_with("libc::"))
                || words.clone().any(|w| w == "unsafe")
            {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(files.len() > 30, "{files:?}");
    assert!(
        found.is_empty(),
        "raw calls outside launch/, cgroup/, mkroot and sys.rs:\n{}",
        found.join("\n")
    );
}

/// Preparing a filesystem operation and applying it match exhaustively: a new `FsOp` (or
/// `Prepared`) variant does not compile until both handle it.
#[test]
fn filesystem_ops_are_prepared_and_applied_without_a_wildcard() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/launch/mounts/mod.rs");
    let text = std::fs::read_to_string(src).unwrap();
    for start in ["pub fn prepare<", "    fn apply("] {
        let from = text
            .find(start)
            .unwrap_or_else(|| panic!("{start} not found"));
        // The function ends at the first line closing it at its own indentation.
        let indent = &start[..start.len() - start.trim_start().len()];
        let end = text[from..].find(&format!("\n{indent}}}\n")).unwrap();
        let body = &text[from..from + end];
        for bad in ["_ =>", "unreachable!", "matches!"] {
            assert!(!body.contains(bad), "{start}...: {bad}");
        }
    }
}

/// Every message on stderr goes through src/output.rs (the program's name, the level prefix,
/// one line): no other code writes to stderr itself. Test-only code may.
#[test]
fn stderr_only_through_the_output_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for f in files.iter().filter(|f| !f.ends_with("output.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (n, line) in code.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            if ["eprintln!", "eprint!", "stderr()"]
                .iter()
                .any(|w| code.contains(w))
            {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "stderr written outside src/output.rs:\n{}",
        found.join("\n")
    );
}
