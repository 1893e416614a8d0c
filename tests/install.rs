//! ./install.sh PREFIX installs the documented layout, and what it installs works.

use std::path::Path;
use std::process::Command;

#[test]
fn install_into_a_prefix() {
    let prefix = std::env::temp_dir().join(format!("sbox-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&prefix);
    let repo = env!("CARGO_MANIFEST_DIR");
    let o = Command::new("sh")
        .arg(Path::new(repo).join("install.sh"))
        .arg(&prefix)
        .env("SBOX_BIN", env!("CARGO_BIN_EXE_sbox"))
        .env_remove("DESTDIR")
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    for f in [
        "bin/sbox",
        "share/man/man1/sbox.1",
        "share/sbox/apparmor/sbox",
        "share/bash-completion/completions/sbox",
        "share/zsh/site-functions/_sbox",
        "share/fish/vendor_completions.d/sbox.fish",
    ] {
        let meta = std::fs::metadata(prefix.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(meta.len() > 0, "{f} is empty");
    }
    assert!(prefix.join("share/sbox/profiles").is_dir());

    let sbox = prefix.join("bin/sbox");
    let v = Command::new(&sbox).arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&v.stdout).starts_with("sbox "),
        "{v:?}"
    );
    let page = std::fs::read(prefix.join("share/man/man1/sbox.1")).unwrap();
    assert_eq!(
        page,
        std::fs::read(Path::new(repo).join("man/sbox.1")).unwrap()
    );
    let apparmor = std::fs::read_to_string(prefix.join("share/sbox/apparmor/sbox")).unwrap();
    let line = format!("profile sbox {} flags=(unconfined) {{", sbox.display());
    assert!(apparmor.contains(&line), "{apparmor}");
    assert!(apparmor.contains("  userns,"), "{apparmor}");
    let fish =
        std::fs::read_to_string(prefix.join("share/fish/vendor_completions.d/sbox.fish")).unwrap();
    assert!(fish.contains("complete -c sbox"), "{fish}");
    // The bash completion loads.
    let bash = prefix.join("share/bash-completion/completions/sbox");
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' && complete -p sbox", bash.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    std::fs::remove_dir_all(&prefix).unwrap();
}
