//! man/sbox.1 is generated from the clap definitions; this test fails when it is stale.
//! Regenerate with: SBOX_BLESS=1 cargo test --test manpage

#[test]
fn man_page_is_current() {
    let mut out = Vec::new();
    clap_mangen::Man::new(sbox::cli::command())
        .render(&mut out)
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/sbox.1");
    if std::env::var_os("SBOX_BLESS").is_some() {
        std::fs::write(path, &out).unwrap();
    }
    let committed = std::fs::read(path).unwrap_or_default();
    assert!(
        committed == out,
        "man/sbox.1 is stale: run SBOX_BLESS=1 cargo test --test manpage"
    );
}
