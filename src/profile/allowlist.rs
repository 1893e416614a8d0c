//! The network allowlist file a profile names (`[network] allowlist = PATH`) and that
//! `--net-record FILE` writes: TOML like the profiles, one rule per array entry, comments
//! allowed, so that it can be reviewed and committed like a lock file:
//!
//! ```toml
//! # Recorded ... by: sbox --net-record .sbox/net-allow.toml --profile cargo-fetch -- cargo fetch
//! allow = [
//!     "index.registry.test:443",
//! ]
//! deny = []   # optional: deny wins over allow
//! ```
//!
//! Pure: the text comes from the loader (which refuses a file the sandbox could rewrite);
//! `spec::net::render_allowlist` writes the format (the supervisor records with it).

use super::ProfileError;
use super::file::toml_error;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// The parsed file: its rules, each with the byte range it was written at (for errors).
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    #[serde(default)]
    pub deny: Vec<Spanned<String>>,
}

pub fn parse(path: &Path, text: &str) -> Result<Allowlist, ProfileError> {
    toml::from_str(text).map_err(|e| toml_error(path, text, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: &[Spanned<String>]) -> Vec<&str> {
        v.iter().map(|s| s.get_ref().as_str()).collect()
    }

    #[test]
    fn rules_with_comments() {
        let text = "# reviewed\nallow = [\n  \"a.test:443\", # the index\n  \"*.b.test:80\",\n]\ndeny = [\"c.a.test:443\"]\n";
        let a = parse(Path::new("/p/l.toml"), text).unwrap();
        assert_eq!(rules(&a.allow), ["a.test:443", "*.b.test:80"]);
        assert_eq!(rules(&a.deny), ["c.a.test:443"]);
        // Each rule keeps its place, for an error that names the line.
        let at = ProfileError::at(
            Path::new("/p/l.toml"),
            text,
            a.allow[1].span(),
            ProfileError::Unset("X".into()),
        );
        assert_eq!(
            at.to_string(),
            "/p/l.toml:4:3: ${X} has no value here (not set)"
        );
        assert!(parse(Path::new("/p/l.toml"), "").unwrap().allow.is_empty());
    }

    #[test]
    fn unknown_keys_and_bad_toml_are_one_located_line() {
        let e = parse(Path::new("/p/l.toml"), "allow = []\nhosts = [\"a\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/p/l.toml:2:1: unknown field `hosts`"), "{e}");
        let e = parse(Path::new("/p/l.toml"), "allow = [\"a.test:443\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/p/l.toml:") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn what_is_written_reads_back() {
        let header = vec!["Recorded by: sbox \"x\"\nline two".to_string()];
        let allow = vec!["a.test:443".to_string(), "[::1]:8080".to_string()];
        let text = crate::spec::net::render_allowlist(&header, &allow);
        assert!(text.starts_with("# Recorded by: sbox \"x\"\n# line two\nallow = [\n"));
        let back = parse(Path::new("/r.toml"), &text).unwrap();
        assert_eq!(rules(&back.allow), ["a.test:443", "[::1]:8080"]);
        let odd = vec!["a\"b\\c\u{1}".to_string()];
        let back = parse(
            Path::new("/r.toml"),
            &crate::spec::net::render_allowlist(&[], &odd),
        )
        .unwrap();
        assert_eq!(rules(&back.allow), ["a\"b\\c\u{1}"]);
    }
}
