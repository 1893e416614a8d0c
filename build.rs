// Release builds for x86_64 glibc (linked by rust-lld, Rust's default there since 1.90): put the
// functions a plain start runs (bench/hot-symbols.txt, made by bench/hot-symbols.sh) together at
// the start of .text: the kernel maps text by fault-around windows, and with the hot code
// spread over all of them the supervisor's peak RSS (bench/run.sh f) was much higher.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=bench/hot-symbols.txt");
    builtin_profiles();
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let target = std::env::var("TARGET").unwrap_or_default();
    if release && target == "x86_64-unknown-linux-gnu" {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={dir}/bench/hot-symbols.txt"
        );
        // Names that no longer exist (renamed, inlined) are simply not placed.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
        // No DT_INIT: glibc's crti `_init` only calls __gmon_start__ (gprof), but it sits after
        // .text, so calling it mapped one more window of text (lld omits DT_INIT when the
        // symbol named here is not defined; constructors run from .init_array as before).
        println!("cargo:rustc-link-arg-bins=-Wl,-init=sbox_no_dt_init");
        // Packed relative relocations (DT_RELR, glibc >= 2.36): a far smaller .rela.dyn, which
        // the loader reads whole at every start, so less resident memory (bench/run.sh f).
        // The static-pie build relocates itself with the libc.a it was linked with, which only
        // knows DT_RELR from 2.36 on (an older one would start with nothing relocated), so
        // there it needs that glibc here.
        let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
        let static_pie = features.split(',').any(|f| f == "crt-static");
        if !static_pie || glibc_at_least(2, 36) {
            println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        }
    }
}

/// The glibc being linked against (this is a native build: `getconf` describes it).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut v = text
        .trim()
        .trim_start_matches("glibc ")
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0)) >= (major, minor)
}

/// The shipped profiles (profiles/*.toml) compiled in, as `PROFILES: [(name, text)]`: the last
/// search-path entry, so that a binary installed without share/ still has them.
fn builtin_profiles() {
    let dir = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("profiles");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("profiles/")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".toml").map(str::to_string)
        })
        .collect();
    names.sort();
    let mut out = String::from("pub const PROFILES: &[(&str, &str)] = &[\n");
    for n in names {
        let path = dir.join(format!("{n}.toml"));
        println!("cargo:rerun-if-changed={}", path.display());
        out += &format!(
            "    ({n:?}, include_str!({:?})),\n",
            path.display().to_string()
        );
    }
    out += "];\n";
    let dst = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_profiles.rs");
    std::fs::write(dst, out).unwrap();
}
