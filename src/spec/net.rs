//! The network allowlist: its rules (`--net-allow`, `--net-deny`, a profile's `[network]`),
//! how they are written, and the decisions taken on them. No I/O: the supervisor passes in
//! what it learns (the name a client asked for, the addresses it resolved to, the host's own
//! addresses).
//!
//! A rule is `HOST[:PORT]`, `*.DOMAIN[:PORT]` (every name below DOMAIN, not DOMAIN itself), or
//! an address or CIDR with a port (`127.0.0.1:8080`, `10.0.0.0/8:443`, `[::1]:443`). A name
//! without a port means ports 443 and 80 in an allow rule (what a download uses; any other
//! port is named), and every port in a deny rule (a deny rule may only be wider). A name
//! rule matches the name the client asked for; an address rule matches the address sbox
//! connects to. Deny wins.

use super::values::{ValueError, Why};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// The ports a name rule without one allows.
pub const DEFAULT_PORTS: [u16; 2] = [443, 80];

/// What a rule's host part matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// One name, lower case, without a final dot.
    Name(String),
    /// `*.DOMAIN`: the names below DOMAIN (kept without `*.`).
    Below(String),
    /// An address (prefix 32 or 128) or a CIDR block; its host bits are zero.
    Net { addr: IpAddr, prefix: u8 },
}

/// One allow or deny rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub host: Host,
    /// `None` only for names: 443 and 80 when allowing, every port when denying.
    pub port: Option<u16>,
}

/// The allowlist of a sandbox. With any allow rule (or a recording) the sandbox gets its
/// own network namespace and reaches the outside only through sbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetPolicy {
    pub allow: Vec<Rule>,
    pub deny: Vec<Rule>,
    /// `--net-record`: every public destination is allowed, and those used are written here
    /// at the end (launch/record.rs).
    pub record: Option<PathBuf>,
    /// The allowlist files in use (profile::allowlist): with one, even an empty one, the
    /// sandbox's network goes through sbox (and an emptied list refuses everything, saying so).
    pub lists: Vec<PathBuf>,
}

/// Why a destination is refused; `Display` is the parenthesised reason of the stderr line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No allow rule matches.
    NotAllowed,
    /// A deny rule matches.
    Denied(Rule),
    /// An allowed name resolved to an address that only an address rule may open.
    Special { addr: IpAddr, kind: &'static str },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAllowed => f.write_str("not in the allowlist"),
            Refusal::Denied(r) => write!(f, "denied by the rule {r}"),
            Refusal::Special { addr, kind } => {
                write!(f, "{kind} {addr}; allow it explicitly")
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = |f: &mut fmt::Formatter<'_>| match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        };
        match &self.host {
            Host::Name(n) => f.write_str(n)?,
            Host::Below(d) => write!(f, "*.{d}")?,
            Host::Net { addr, prefix } => {
                let full = if addr.is_ipv4() { 32 } else { 128 };
                let cidr = if *prefix == full {
                    addr.to_string()
                } else {
                    format!("{addr}/{prefix}")
                };
                if addr.is_ipv6() {
                    write!(f, "[{cidr}]")?
                } else {
                    f.write_str(&cidr)?
                }
            }
        }
        port(f)
    }
}

const SHAPES: &str =
    "HOST[:PORT], *.DOMAIN[:PORT], ADDRESS:PORT or ADDRESS/PREFIX:PORT, IPv6 in brackets";

/// Add a rule to a list, once (lists merge across profiles and the command line).
pub fn add(list: &mut Vec<Rule>, rule: Rule) -> Result<(), ValueError> {
    if !list.contains(&rule) {
        list.push(rule);
    }
    Ok(())
}

/// Parse one rule as `opt` (`--net-allow`, `network.deny` ...) gives it.
pub fn parse_rule(opt: &str, s: &str) -> Result<Rule, ValueError> {
    let err = |why: String| ValueError {
        opt: opt.into(),
        value: s.into(),
        why: Why::NetRule(why),
    };
    if s.is_empty() {
        return Err(err(format!("empty rule ({SHAPES})")));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| err("no ']' after the IPv6 address".into()))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p).map_err(err)?),
            None if after.is_empty() => None,
            None => return Err(err(format!("'{after}' after ']': expected :PORT"))),
        };
        let (a, prefix) = split_prefix(inside, 128).map_err(err)?;
        let addr: Ipv6Addr = a
            .parse()
            .map_err(|_| err(format!("'{a}' is not an IPv6 address")))?;
        (net(IpAddr::V6(addr), prefix).map_err(err)?, port)
    } else {
        let (h, port) = match s.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err(err(
                    "an IPv6 address goes in brackets: [ADDRESS]:PORT".into()
                ));
            }
            Some((h, p)) => (h, Some(parse_port(p).map_err(err)?)),
            None => (s, None),
        };
        (host_part(h).map_err(err)?, port)
    };
    if port.is_none() && matches!(host, Host::Net { .. }) {
        return Err(err(
            "an address or CIDR needs a port (e.g. 10.0.0.0/8:443)".into()
        ));
    }
    Ok(Rule { host, port })
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("'{p}' is not a port (1-65535)")),
    }
}

/// `ADDR[/PREFIX]`, the prefix at most `max`.
fn split_prefix(s: &str, max: u8) -> Result<(&str, u8), String> {
    match s.split_once('/') {
        None => Ok((s, max)),
        Some((a, p)) => match p.parse::<u8>() {
            Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => Ok((a, n)),
            _ => Err(format!("'/{p}' is not a prefix length (0-{max})")),
        },
    }
}

fn net(addr: IpAddr, prefix: u8) -> Result<Host, String> {
    if masked(addr, prefix) != addr {
        return Err(format!(
            "host bits set after /{prefix} (the block is {}/{prefix})",
            masked(addr, prefix)
        ));
    }
    Ok(Host::Net { addr, prefix })
}

fn host_part(h: &str) -> Result<Host, String> {
    if h.contains('/') || h.parse::<Ipv4Addr>().is_ok() {
        let (a, prefix) = split_prefix(h, 32)?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("'{a}' is not an IPv4 address"))?;
        return net(IpAddr::V4(addr), prefix);
    }
    if let Some(d) = h.strip_prefix("*.") {
        return Ok(Host::Below(name(d)?));
    }
    Ok(Host::Name(name(h)?))
}

/// A DNS name as a rule writes it: labels of letters, digits, `-` and `_`, lower-cased.
fn name(h: &str) -> Result<String, String> {
    if h.is_empty() {
        return Err("no host name".into());
    }
    if h.contains('*') {
        return Err("'*' only as a whole first label: *.DOMAIN".into());
    }
    if h.len() > 253 {
        return Err("name longer than 253 characters".into());
    }
    let labels: Vec<&str> = h.split('.').collect();
    for l in &labels {
        if l.is_empty() {
            return Err("empty label (two dots, or a dot at an end)".into());
        }
        if l.len() > 63 {
            return Err(format!("label '{l}' longer than 63 characters"));
        }
        if let Some(c) = l
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "'{}' in a name (letters, digits, '-' and '_' only; IDN in its xn-- form)",
                c.escape_default()
            ));
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err(format!("label '{l}' starts or ends with '-'"));
        }
    }
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("not a name, nor an IPv4 address".into());
    }
    Ok(h.to_ascii_lowercase())
}

/// `addr` with the bits after `prefix` cleared.
fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// A name as a client wrote it, as rules compare it: lower case, no final dot.
pub fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl Rule {
    fn port_matches(&self, port: u16, deny: bool) -> bool {
        match self.port {
            Some(p) => p == port,
            None => deny || DEFAULT_PORTS.contains(&port),
        }
    }

    /// Whether the host part matches `name` (normalized), whatever the port.
    fn name_matches(&self, name: &str) -> bool {
        match &self.host {
            Host::Name(n) => n == name,
            Host::Below(d) => name
                .strip_suffix(d.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            Host::Net { .. } => false,
        }
    }

    fn addr_matches(&self, addr: IpAddr) -> bool {
        match self.host {
            Host::Net { addr: a, prefix } => {
                let addr = canonical(addr);
                a.is_ipv4() == addr.is_ipv4() && masked(addr, prefix) == a
            }
            _ => false,
        }
    }

    /// Whether this is an address rule.
    pub fn is_addr(&self) -> bool {
        matches!(self.host, Host::Net { .. })
    }
}

impl NetPolicy {
    /// The sandbox's network goes through sbox.
    pub fn active(&self) -> bool {
        !self.allow.is_empty() || self.record.is_some() || !self.lists.is_empty()
    }

    fn denied(&self, m: impl Fn(&Rule) -> bool) -> Result<(), Refusal> {
        match self.deny.iter().find(|r| m(r)) {
            Some(r) => Err(Refusal::Denied(r.clone())),
            None => Ok(()),
        }
    }

    /// A connection to `name:port`, as the client asked for it (a CONNECT or SOCKS5 name, or
    /// the name a DNS answer gave the address of); its addresses are checked once resolved.
    pub fn check_name(&self, name: &str, port: u16) -> Result<(), Refusal> {
        let name = normalize(name);
        self.denied(|r| r.name_matches(&name) && r.port_matches(port, true))?;
        // Recording: every name (its addresses are still checked once resolved).
        if self.record.is_some()
            || self
                .allow
                .iter()
                .any(|r| r.name_matches(&name) && r.port_matches(port, false))
        {
            return Ok(());
        }
        Err(Refusal::NotAllowed)
    }

    /// Whether DNS answers for `name`: an allow rule names it (on some port) and no deny rule
    /// refuses it on every port. The connection is checked again with its port.
    pub fn resolves(&self, name: &str) -> bool {
        let name = normalize(name);
        !self
            .deny
            .iter()
            .any(|r| r.port.is_none() && r.name_matches(&name))
            && (self.record.is_some() || self.allow.iter().any(|r| r.name_matches(&name)))
    }

    /// A connection to an address the client gave itself: only an address rule opens it.
    pub fn check_literal(&self, addr: IpAddr, port: u16) -> Result<(), Refusal> {
        self.denied(|r| r.addr_matches(addr) && r.port_matches(port, true))?;
        if self.allowed_addr(addr, port) {
            return Ok(());
        }
        Err(Refusal::NotAllowed)
    }

    fn allowed_addr(&self, addr: IpAddr, port: u16) -> bool {
        self.allow
            .iter()
            .any(|r| r.addr_matches(addr) && r.port_matches(port, false))
    }

    /// An address an allowed name resolved to. Loopback, private, link-local (the cloud
    /// metadata address), other special ranges and the host's own addresses (`own`) are
    /// refused unless an allow rule names the address; a deny rule on it refuses it.
    pub fn check_resolved(&self, addr: IpAddr, port: u16, own: &[IpAddr]) -> Result<(), Refusal> {
        let addr = canonical(addr);
        self.denied(|r| r.addr_matches(addr) && r.port_matches(port, true))?;
        if self.allowed_addr(addr, port) {
            return Ok(());
        }
        let kind = special(addr).or_else(|| {
            own.iter()
                .any(|o| canonical(*o) == addr)
                .then_some("address of this host")
        });
        match kind {
            Some(kind) => Err(Refusal::Special { addr, kind }),
            None => Ok(()),
        }
    }

    /// The ports that get a listener for programs that ignore the proxy variables: every
    /// allow rule's, 443 and 80 for names without one; sorted, once each.
    pub fn ports(&self) -> Vec<u16> {
        let mut out: Vec<u16> = Vec::new();
        // Recording: the download ports, for programs that ignore the proxy variables.
        if self.record.is_some() {
            out.extend(DEFAULT_PORTS);
        }
        for r in &self.allow {
            match r.port {
                Some(p) => out.push(p),
                None => out.extend(DEFAULT_PORTS),
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// What an address is, when it is not an ordinary public one.
pub fn special(addr: IpAddr) -> Option<&'static str> {
    match canonical(addr) {
        IpAddr::V4(a) => {
            let o = a.octets();
            Some(if a.is_loopback() {
                "loopback address"
            } else if a.is_link_local() {
                "link-local address"
            } else if a.is_private() {
                "private address"
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                "shared (carrier NAT) address"
            } else if o[0] == 0 {
                "'this network' address"
            } else if a.is_multicast() || a.is_broadcast() || o[0] >= 240 {
                "reserved or multicast address"
            } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
                "IETF reserved address"
            } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
                "benchmarking address"
            } else {
                return None;
            })
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            Some(if a.is_loopback() {
                "loopback address"
            } else if a.is_unspecified() {
                "unspecified address"
            } else if (s[0] & 0xffc0) == 0xfe80 {
                "link-local address"
            } else if (s[0] & 0xfe00) == 0xfc00 {
                "private address"
            } else if a.is_multicast() {
                "multicast address"
            } else if (s[0] & 0xffc0) == 0xfec0 {
                "site-local address"
            } else if s[0] == 0x64 && s[1] == 0xff9b {
                // NAT64 reaches IPv4 addresses, private ones included.
                "NAT64 address"
            } else if s[0] == 0 {
                // ::/96 (IPv4-compatible) and the rest of ::/16.
                "reserved address"
            } else {
                return None;
            })
        }
    }
}

/// The allowlist file (profile::allowlist) that `--net-record` writes: `header` as comment
/// lines, then the rules one per line (already deduplicated and sorted by the caller).
pub fn render_allowlist(header: &[String], allow: &[String]) -> String {
    let mut out = String::new();
    for h in header {
        for line in h.lines() {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("allow = [\n");
    for r in allow {
        out.push_str("    ");
        out.push_str(&quote(r));
        out.push_str(",\n");
    }
    out.push_str("]\n");
    out
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => q.push_str(&format!("\\u{:04X}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// What a profile offers instead of the host network (`[network] allowlist` files and
/// `allow_registry` tools): used, with `allow` and `deny` joined to the policy and a network
/// namespace, unless the command line gives the host network back (`--share-net`) or records
/// (`--net-record` learns the list). With nothing found the profile's network stays as it
/// is, and `missing` says where a recording would go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetOffer {
    pub allow: Vec<Rule>,
    pub deny: Vec<Rule>,
    /// `allow_registry`: tools asked for their registry on the host, once the sandbox is
    /// known (what it can write decides whether the tool may be run).
    pub tools: Vec<String>,
    /// Allowlist files named by the profiles, in order (the loader reads them, and keeps
    /// those that exist, by their real path).
    pub files: Vec<PathBuf>,
    /// Those that do not exist (yet).
    pub missing: Vec<PathBuf>,
    /// The profiles named on the command line, for the hint that names a recording command.
    pub profiles: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Rule {
        parse_rule("--net-allow", s).unwrap()
    }

    fn policy(allow: &[&str], deny: &[&str]) -> NetPolicy {
        NetPolicy {
            allow: allow.iter().map(|s| r(s)).collect(),
            deny: deny.iter().map(|s| r(s)).collect(),
            record: None,
            lists: Vec::new(),
        }
    }

    #[test]
    fn rules_parse_and_print_back() {
        for (given, shown) in [
            ("example.org", "example.org"),
            ("Example.ORG:8080", "example.org:8080"),
            ("*.example.org", "*.example.org"),
            ("*.example.org:443", "*.example.org:443"),
            ("localhost:3000", "localhost:3000"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("10.0.0.0/8:443", "10.0.0.0/8:443"),
            ("[::1]:443", "[::1]:443"),
            ("[fd00::/8]:22", "[fd00::/8]:22"),
            ("10.1.2.3/32:1", "10.1.2.3:1"),
            ("a_b.c-d.org", "a_b.c-d.org"),
        ] {
            assert_eq!(r(given).to_string(), shown, "{given}");
            assert_eq!(r(shown), r(given), "{given}");
        }
    }

    #[test]
    fn malformed_rules_are_one_line_naming_the_option() {
        for (bad, why) in [
            ("", "empty rule"),
            (":99999", "'99999' is not a port"),
            ("a:0", "'0' is not a port"),
            ("a:+1", "'+1' is not a port"),
            ("a:", "'' is not a port"),
            (":443", "no host name"),
            ("*.", "no host name"),
            ("*", "'*' only"),
            ("a.*.org", "'*' only"),
            ("*example.org", "'*' only"),
            ("a..b", "empty label"),
            ("a.b.", "empty label"),
            ("-a.org", "starts or ends with '-'"),
            ("a b.org", "' ' in a name"),
            ("a\n.org", "'\\n' in a name"),
            ("10.0.0.0/8", "needs a port"),
            ("127.0.0.1", "needs a port"),
            ("[::1]", "needs a port"),
            ("::1:443", "in brackets"),
            ("[::1:443", "no ']'"),
            ("[::1]443", "expected :PORT"),
            ("[1.2.3.4]:1", "not an IPv6"),
            ("10.0.0.1/8:1", "host bits set"),
            ("10.0.0.0/33:1", "'/33' is not a prefix"),
            ("1.2.3.256:1", "not a name, nor an IPv4"),
            ("123:80", "not a name"),
        ] {
            let e = parse_rule("--net-deny", bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("--net-deny: '{bad}': ")),
                "{bad}: {e}"
            );
            assert!(e.contains(why), "{bad}: {e}");
        }
        let long = format!("{}.org", "a".repeat(64));
        assert!(parse_rule("x", &long).is_err());
    }

    #[test]
    fn names_match_what_the_client_asked_for() {
        let p = policy(&["example.org", "*.example.com", "api.test:8443"], &[]);
        assert_eq!(p.check_name("example.org", 443), Ok(()));
        assert_eq!(p.check_name("EXAMPLE.org.", 80), Ok(()));
        assert_eq!(p.check_name("example.org", 22), Err(Refusal::NotAllowed));
        assert_eq!(
            p.check_name("www.example.org", 443),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(p.check_name("a.b.example.com", 443), Ok(()));
        // Subdomains only, and a whole label.
        assert_eq!(p.check_name("example.com", 443), Err(Refusal::NotAllowed));
        assert_eq!(
            p.check_name("badexample.com", 443),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(p.check_name("api.test", 8443), Ok(()));
        assert_eq!(p.check_name("api.test", 443), Err(Refusal::NotAllowed));
        assert!(p.resolves("x.example.com") && p.resolves("api.test"));
        assert!(!p.resolves("example.com"));
        assert_eq!(p.ports(), [80, 443, 8443]);
    }

    #[test]
    fn deny_wins_and_without_a_port_covers_every_port() {
        let p = policy(
            &["*.example.org", "*.example.org:22"],
            &["evil.example.org"],
        );
        let denied = Err(Refusal::Denied(r("evil.example.org")));
        assert_eq!(p.check_name("evil.example.org", 443), denied);
        assert_eq!(p.check_name("evil.example.org", 22), denied);
        assert!(!p.resolves("evil.example.org"));
        assert_eq!(p.check_name("good.example.org", 22), Ok(()));
        let p = policy(&["example.org"], &["example.org:80"]);
        assert!(p.resolves("example.org"));
        assert_eq!(p.check_name("example.org", 443), Ok(()));
        assert!(p.check_name("example.org", 80).is_err());
    }

    #[test]
    fn resolved_addresses_that_are_not_public_need_an_address_rule() {
        let p = policy(&["example.org", "127.0.0.1:8080", "10.0.0.0/8:443"], &[]);
        let own = ["192.0.2.7".parse().unwrap()];
        let check = |a: &str, port| p.check_resolved(a.parse().unwrap(), port, &own);
        assert_eq!(check("93.184.215.14", 443), Ok(()));
        assert_eq!(check("2606:2800::1", 443), Ok(()));
        assert_eq!(check("127.0.0.1", 8080), Ok(()));
        assert_eq!(check("::ffff:127.0.0.1", 8080), Ok(()));
        assert_eq!(check("10.200.0.1", 443), Ok(()));
        for (a, port, kind) in [
            ("127.0.0.1", 443, "loopback"),
            ("127.1.2.3", 80, "loopback"),
            ("::1", 443, "loopback"),
            ("169.254.169.254", 80, "link-local"),
            ("fe80::1", 443, "link-local"),
            ("10.1.2.3", 80, "private"),
            ("172.16.0.1", 443, "private"),
            ("192.168.1.1", 443, "private"),
            ("fd00::1", 443, "private"),
            ("100.64.0.1", 443, "shared"),
            ("0.0.0.0", 443, "'this network'"),
            ("::", 443, "unspecified"),
            ("::ffff:10.0.0.1", 80, "private"),
            ("64:ff9b::a00:1", 443, "NAT64"),
            ("192.0.2.7", 443, "address of this host"),
        ] {
            match check(a, port) {
                Err(e @ Refusal::Special { .. }) => {
                    let text = e.to_string();
                    assert!(text.starts_with(kind), "{a}: {text}");
                    assert!(text.ends_with("; allow it explicitly"), "{a}: {text}");
                }
                other => panic!("{a}:{port}: {other:?}"),
            }
        }
        let p = policy(&["example.org"], &["93.184.0.0/16:443"]);
        assert!(matches!(
            p.check_resolved("93.184.215.14".parse().unwrap(), 443, &[]),
            Err(Refusal::Denied(_))
        ));
    }

    #[test]
    fn literal_addresses_need_an_address_rule() {
        let p = policy(
            &["example.org", "127.0.0.1:8080", "[::1]:9"],
            &["127.0.0.1:9"],
        );
        let check = |a: &str, port| p.check_literal(a.parse().unwrap(), port);
        assert_eq!(check("127.0.0.1", 8080), Ok(()));
        assert_eq!(check("::1", 9), Ok(()));
        assert_eq!(check("93.184.215.14", 443), Err(Refusal::NotAllowed));
        assert_eq!(check("127.0.0.1", 80), Err(Refusal::NotAllowed));
        assert!(matches!(check("127.0.0.1", 9), Err(Refusal::Denied(_))));
        assert_eq!(p.check_name("127.0.0.1", 8080), Err(Refusal::NotAllowed));
    }

    #[test]
    fn recording_allows_public_destinations_only() {
        let mut p = policy(&["127.0.0.1:8080"], &["bad.test"]);
        p.record = Some("/r.toml".into());
        assert!(p.active());
        assert_eq!(p.check_name("any.test", 443), Ok(()));
        assert!(p.resolves("any.test"));
        assert!(!p.resolves("bad.test"));
        assert!(p.check_name("bad.test", 443).is_err());
        let public: IpAddr = "8.8.4.4".parse().unwrap();
        assert_eq!(p.check_resolved(public, 443, &[]), Ok(()));
        // (A literal address is checked as a resolved one while recording: launch/proxy.)
        assert!(p.check_resolved(public, 443, &[public]).is_err());
        for special in ["127.0.0.1", "10.1.2.3", "169.254.169.254"] {
            let a: IpAddr = special.parse().unwrap();
            assert!(p.check_resolved(a, 443, &[]).is_err(), "{special}");
        }
        // Named explicitly, a special address is reached (and recorded) as usual.
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(p.check_literal(lo, 8080), Ok(()));
        assert_eq!(p.check_resolved(lo, 8080, &[]), Ok(()));
        // An empty list that exists is an allowlist: the sandbox goes through sbox.
        let mut empty = NetPolicy::default();
        assert!(!empty.active());
        empty.lists.push("/p/.sbox/net-allow.toml".into());
        assert!(empty.active());
        assert!(empty.check_name("a.test", 443).is_err());
    }
}
