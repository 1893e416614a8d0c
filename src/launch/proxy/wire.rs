//! What the proxy reads and writes, parsed by hand (no I/O): DNS queries and answers, the
//! SOCKS5 greeting and request, the head of an HTTP CONNECT or absolute-URI request. Every
//! parser takes the bytes received so far and answers `Need` (wait for more), `Bad` (answer
//! with this error and close) or `Done` with how many bytes it used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The most a request head may take (a head that does not end by then is refused).
pub const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Parse<T> {
    Need,
    Bad(Bad),
    /// The value, and the bytes of the buffer it used.
    Done(T, usize),
}

/// Why a request is refused before any policy is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Not a request sbox understands (HTTP 400, SOCKS general failure).
    Malformed,
    /// SOCKS5: a command other than CONNECT (UDP ASSOCIATE, BIND).
    Command,
    /// SOCKS5: an address type it does not know.
    AddressType,
    /// HTTP: the head is longer than `MAX_HEAD`.
    TooLong,
    /// HTTP: an `https://` URI without CONNECT (sbox does not speak TLS).
    Scheme,
}

/// Where a client wants to go: a name (as it wrote it) or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Name(String),
    Addr(IpAddr),
}

impl Target {
    /// A name that is an address literal is that address.
    fn of(host: &str) -> Option<Target> {
        if host.is_empty() || host.len() > 253 {
            return None;
        }
        if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return v6.parse::<Ipv6Addr>().ok().map(|a| Target::Addr(a.into()));
        }
        if let Ok(a) = host.parse::<Ipv4Addr>() {
            return Some(Target::Addr(a.into()));
        }
        let ok = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        ok.then(|| Target::Name(host.to_string()))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Name(n) => f.write_str(n),
            Target::Addr(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Target::Addr(a) => write!(f, "{a}"),
        }
    }
}

// ------------------------------------------------------------------------------------------
// SOCKS5 (RFC 1928), CONNECT only, no authentication.

/// The greeting: version 5, then the methods offered. `Done(true)` when "no authentication"
/// is among them.
pub fn socks_greeting(b: &[u8]) -> Parse<bool> {
    match b {
        [] | [5] => Parse::Need,
        [5, n, methods @ ..] => {
            let n = *n as usize;
            if methods.len() < n {
                return Parse::Need;
            }
            Parse::Done(methods[..n].contains(&0), 2 + n)
        }
        _ => Parse::Bad(Bad::Malformed),
    }
}

/// The request after the greeting: `05 01 00 ATYP ADDR PORT`.
pub fn socks_request(b: &[u8]) -> Parse<(Target, u16)> {
    if b.len() < 5 {
        return Parse::Need;
    }
    if b[0] != 5 || b[2] != 0 {
        return Parse::Bad(Bad::Malformed);
    }
    if b[1] != 1 {
        return Parse::Bad(Bad::Command);
    }
    let (addr_len, start) = match b[3] {
        1 => (4, 4),
        4 => (16, 4),
        3 => (b[4] as usize, 5),
        _ => return Parse::Bad(Bad::AddressType),
    };
    let end = start + addr_len + 2;
    if b.len() < end {
        return Parse::Need;
    }
    let a = &b[start..start + addr_len];
    let target = match b[3] {
        1 => Target::Addr(Ipv4Addr::new(a[0], a[1], a[2], a[3]).into()),
        4 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(a);
            Target::Addr(Ipv6Addr::from(o).into())
        }
        _ => match std::str::from_utf8(a).ok().and_then(Target::of) {
            Some(t) => t,
            None => return Parse::Bad(Bad::Malformed),
        },
    };
    let port = u16::from_be_bytes([b[end - 2], b[end - 1]]);
    if port == 0 {
        return Parse::Bad(Bad::Malformed);
    }
    Parse::Done((target, port), end)
}

/// SOCKS5 reply codes sbox uses.
pub mod socks_reply {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const NOT_ALLOWED: u8 = 2;
    pub const HOST_UNREACHABLE: u8 = 4;
    pub const REFUSED: u8 = 5;
    pub const TIMED_OUT: u8 = 6;
    pub const COMMAND: u8 = 7;
    pub const ADDRESS_TYPE: u8 = 8;
}

/// The reply to a request: the code, and an unspecified bound address.
pub fn socks_reply(code: u8) -> [u8; 10] {
    [5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

// ------------------------------------------------------------------------------------------
// HTTP proxy requests: CONNECT host:port, or METHOD http://host[:port]/path.

#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub target: Target,
    pub port: u16,
    /// For a plain HTTP request, the head to send upstream (origin-form, `Connection:
    /// close`); `None` for CONNECT.
    pub upstream_head: Option<Vec<u8>>,
}

/// An HTTP request head, complete once `\r\n\r\n` is seen.
pub fn http_request(b: &[u8]) -> Parse<Request> {
    let Some(end) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if b.len() >= MAX_HEAD {
            Parse::Bad(Bad::TooLong)
        } else {
            Parse::Need
        };
    };
    if end + 4 > MAX_HEAD {
        return Parse::Bad(Bad::TooLong);
    }
    let Ok(head) = std::str::from_utf8(&b[..end]) else {
        return Parse::Bad(Bad::Malformed);
    };
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parse::Bad(Bad::Malformed);
    };
    if method.is_empty() || !method.bytes().all(|c| c.is_ascii_uppercase()) {
        return Parse::Bad(Bad::Malformed);
    }
    if !version.starts_with("HTTP/1.") {
        return Parse::Bad(Bad::Malformed);
    }
    if method == "CONNECT" {
        return match authority(uri, None) {
            Some((target, port)) => Parse::Done(
                Request {
                    target,
                    port,
                    upstream_head: None,
                },
                end + 4,
            ),
            None => Parse::Bad(Bad::Malformed),
        };
    }
    let lower = uri
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if lower.starts_with("https://") {
        return Parse::Bad(Bad::Scheme);
    }
    if !lower.starts_with("http://") {
        return Parse::Bad(Bad::Malformed);
    }
    let rest = &uri[7..];
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, path) = rest.split_at(cut);
    let Some((target, port)) = authority(auth, Some(80)) else {
        return Parse::Bad(Bad::Malformed);
    };
    let path = match path {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    let mut out = format!("{method} {path} {version}\r\n");
    for line in lines {
        let name = line.split(':').next().unwrap_or("").trim();
        // Hop-by-hop: meant for the proxy. The connection closes after one exchange, so a
        // second request on it can't name another host.
        if [
            "connection",
            "proxy-connection",
            "proxy-authorization",
            "keep-alive",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
        {
            continue;
        }
        out += line;
        out += "\r\n";
    }
    out += "Connection: close\r\n\r\n";
    Parse::Done(
        Request {
            target,
            port,
            upstream_head: Some(out.into_bytes()),
        },
        end + 4,
    )
}

/// `host[:port]` or `[v6][:port]`; without a port, `default` (or an error when `None`).
fn authority(s: &str, default: Option<u16>) -> Option<(Target, u16)> {
    if s.contains('@') {
        return None;
    }
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']')?;
        let (h, rest) = s.split_at(close + 1);
        (h, rest.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
        None => default?,
    };
    if port == 0 {
        return None;
    }
    Some((Target::of(host)?, port))
}

/// A short HTTP answer that ends the exchange.
pub fn http_status(code: u16, reason: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub const HTTP_ESTABLISHED: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";

// ------------------------------------------------------------------------------------------
// DNS (RFC 1035): one question per query, answered A-only.

pub const TYPE_A: u16 = 1;
pub const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;

pub const NOERROR: u8 = 0;
pub const FORMERR: u8 = 1;
pub const NXDOMAIN: u8 = 3;
pub const NOTIMP: u8 = 4;
pub const REFUSED: u8 = 5;

#[derive(Debug, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    pub flags: u16,
    /// Lower case, without the final dot; `None` when a label has a byte no rule can match.
    pub name: Option<String>,
    pub qtype: u16,
    pub qclass: u16,
    /// The end of the question in the query (copied into the answer).
    pub end: usize,
}

/// Parse a query; `Err(Some(id))` when it deserves a FORMERR (or NOTIMP) answer, `Err(None)`
/// when it deserves none (too short, or itself an answer).
pub fn dns_query(m: &[u8]) -> Result<Query, Option<(u16, u16, u8)>> {
    if m.len() < 12 {
        return Err(None);
    }
    let id = u16::from_be_bytes([m[0], m[1]]);
    let flags = u16::from_be_bytes([m[2], m[3]]);
    if flags & 0x8000 != 0 {
        return Err(None);
    }
    if (flags >> 11) & 0xf != 0 {
        return Err(Some((id, flags, NOTIMP)));
    }
    let formerr = Err(Some((id, flags, FORMERR)));
    if u16::from_be_bytes([m[4], m[5]]) != 1 {
        return formerr;
    }
    let mut i = 12;
    let mut name = String::new();
    let mut clean = true;
    loop {
        let Some(&len) = m.get(i) else {
            return formerr;
        };
        i += 1;
        if len == 0 {
            break;
        }
        // Compression pointers (0xc0) have no place in a question; 0x40 and 0x80 are unused.
        if len > 63 {
            return formerr;
        }
        let Some(label) = m.get(i..i + len as usize) else {
            return formerr;
        };
        i += len as usize;
        if !name.is_empty() {
            name.push('.');
        }
        for &b in label {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                name.push(b.to_ascii_lowercase() as char);
            } else {
                clean = false;
            }
        }
        if i - 12 > 255 {
            return formerr;
        }
    }
    let Some(t) = m.get(i..i + 4) else {
        return formerr;
    };
    Ok(Query {
        id,
        flags,
        name: (clean && !name.is_empty()).then_some(name),
        qtype: u16::from_be_bytes([t[0], t[1]]),
        qclass: u16::from_be_bytes([t[2], t[3]]),
        end: i + 4,
    })
}

impl Query {
    /// Whether an A record answers it (type A or ANY, class IN).
    pub fn wants_a(&self) -> bool {
        self.qclass == CLASS_IN && (self.qtype == TYPE_A || self.qtype == TYPE_ANY)
    }
}

/// The answer to `q` (parsed from `query`): `rcode`, and one A record when `a` is given.
pub fn dns_answer(query: &[u8], q: &Query, rcode: u8, a: Option<Ipv4Addr>) -> Vec<u8> {
    let mut out = dns_header(q.id, q.flags, rcode, 1, a.is_some() as u16);
    out.extend(&query[12..q.end]);
    if let Some(a) = a {
        // The name by a pointer to the question's (offset 12), type A, class IN, TTL 60 s.
        out.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        out.extend(a.octets());
    }
    out
}

/// An answer with no question, for a query that can't be parsed.
pub fn dns_error(id: u16, flags: u16, rcode: u8) -> Vec<u8> {
    dns_header(id, flags, rcode, 0, 0)
}

fn dns_header(id: u16, flags: u16, rcode: u8, qd: u16, an: u16) -> Vec<u8> {
    // QR, the query's opcode and RD, AA (sbox is the authority here), RA.
    let f = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | u16::from(rcode & 0xf);
    let mut out = Vec::with_capacity(64);
    for v in [id, f, qd, an, 0, 0] {
        out.extend(v.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            m.push(l.len() as u8);
            m.extend(l.as_bytes());
        }
        m.push(0);
        m.extend(qtype.to_be_bytes());
        m.extend([0, 1]);
        m
    }

    #[test]
    fn dns_a_query_gets_one_record_at_the_question_name() {
        let m = query("Pkg.Example.org", TYPE_A);
        let q = dns_query(&m).unwrap();
        assert_eq!(q.name.as_deref(), Some("pkg.example.org"));
        assert!(q.wants_a());
        let a = dns_answer(&m, &q, NOERROR, Some(Ipv4Addr::new(127, 1, 0, 5)));
        assert_eq!(&a[..2], &[0x12, 0x34]);
        assert_eq!(a[2] & 0x80, 0x80, "an answer");
        assert_eq!(a[3] & 0x0f, NOERROR);
        assert_eq!(&a[6..8], &[0, 1], "one answer");
        assert_eq!(&a[a.len() - 4..], &[127, 1, 0, 5]);
        let aaaa = query("pkg.example.org", 28);
        let q = dns_query(&aaaa).unwrap();
        assert!(!q.wants_a());
        let a = dns_answer(&aaaa, &q, NXDOMAIN, None);
        assert_eq!(a[3] & 0x0f, NXDOMAIN);
        assert_eq!(a.len(), aaaa.len());
    }

    #[test]
    fn dns_bad_queries() {
        assert_eq!(dns_query(&[0; 5]), Err(None));
        let mut answer = query("a.b", TYPE_A);
        answer[2] |= 0x80;
        assert_eq!(dns_query(&answer), Err(None));
        let mut two = query("a.b", TYPE_A);
        two[5] = 2;
        assert!(matches!(dns_query(&two), Err(Some((_, _, FORMERR)))));
        let mut ptr = query("a.b", TYPE_A);
        ptr[12] = 0xc0;
        assert!(matches!(dns_query(&ptr), Err(Some((_, _, FORMERR)))));
        let m = query("a b.c", TYPE_A);
        assert_eq!(dns_query(&m).unwrap().name, None);
        let short = &query("a.b", TYPE_A)[..16];
        assert!(matches!(dns_query(short), Err(Some((_, _, FORMERR)))));
    }

    #[test]
    fn socks5_name_and_address_forms() {
        assert_eq!(socks_greeting(&[5]), Parse::Need);
        assert_eq!(socks_greeting(&[5, 2, 2, 0]), Parse::Done(true, 4));
        assert_eq!(socks_greeting(&[5, 1, 2]), Parse::Done(false, 3));
        assert_eq!(socks_greeting(&[4, 1]), Parse::Bad(Bad::Malformed));
        let mut r = vec![5, 1, 0, 3, 9];
        r.extend(b"localhost");
        r.extend(8080u16.to_be_bytes());
        assert_eq!(
            socks_request(&r),
            Parse::Done((Target::Name("localhost".into()), 8080), r.len())
        );
        assert_eq!(socks_request(&r[..r.len() - 1]), Parse::Need);
        let v4 = [5, 1, 0, 1, 127, 0, 0, 1, 0, 80];
        assert_eq!(
            socks_request(&v4),
            Parse::Done((Target::Addr([127, 0, 0, 1].into()), 80), 10)
        );
        assert_eq!(socks_request(&[5, 3, 0, 1, 0]), Parse::Bad(Bad::Command));
        assert_eq!(
            socks_request(&[5, 1, 0, 9, 0]),
            Parse::Bad(Bad::AddressType)
        );
    }

    #[test]
    fn http_connect_and_absolute_uris() {
        let r = http_request(b"CONNECT example.org:443 HTTP/1.1\r\nHost: x\r\n\r\nTLS");
        assert_eq!(
            r,
            Parse::Done(
                Request {
                    target: Target::Name("example.org".into()),
                    port: 443,
                    upstream_head: None
                },
                45
            )
        );
        assert_eq!(
            http_request(b"CONNECT example.org:443 HTTP/1.1\r\n"),
            Parse::Need
        );
        let Parse::Done(r, _) = http_request(
            b"GET http://localhost:8080/a?b HTTP/1.1\r\nHost: localhost:8080\r\nProxy-Connection: keep-alive\r\n\r\n",
        ) else {
            panic!()
        };
        assert_eq!((r.target, r.port), (Target::Name("localhost".into()), 8080));
        assert_eq!(
            String::from_utf8(r.upstream_head.unwrap()).unwrap(),
            "GET /a?b HTTP/1.1\r\nHost: localhost:8080\r\nConnection: close\r\n\r\n"
        );
        let Parse::Done(r, _) = http_request(b"HEAD http://[::1] HTTP/1.0\r\n\r\n") else {
            panic!()
        };
        assert_eq!(
            (r.target, r.port),
            (Target::Addr("::1".parse().unwrap()), 80)
        );
        for (bad, why) in [
            (&b"GET https://a/ HTTP/1.1\r\n\r\n"[..], Bad::Scheme),
            (b"GET /local HTTP/1.1\r\n\r\n", Bad::Malformed),
            (b"CONNECT a HTTP/1.1\r\n\r\n", Bad::Malformed),
            (b"CONNECT a:0 HTTP/1.1\r\n\r\n", Bad::Malformed),
            (b"CONNECT u@a:1 HTTP/1.1\r\n\r\n", Bad::Malformed),
            (b"CONNECT a\x01b:1 HTTP/1.1\r\n\r\n", Bad::Malformed),
            (b"get http://a/ HTTP/1.1\r\n\r\n", Bad::Malformed),
        ] {
            assert_eq!(http_request(bad), Parse::Bad(why), "{bad:?}");
        }
        assert_eq!(http_request(&[b'A'; MAX_HEAD]), Parse::Bad(Bad::TooLong));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever arrives, the parsers answer without panicking, and never use more than
        /// they were given.
        #[test]
        fn parsers_take_anything(b in prop::collection::vec(any::<u8>(), 0..600)) {
            if let Parse::Done(_, n) = socks_greeting(&b) { prop_assert!(n <= b.len()); }
            if let Parse::Done(_, n) = socks_request(&b) { prop_assert!(n <= b.len()); }
            if let Parse::Done(_, n) = http_request(&b) { prop_assert!(n <= b.len()); }
            match dns_query(&b) {
                Ok(q) => {
                    prop_assert!(q.end <= b.len());
                    let a = dns_answer(&b, &q, NOERROR, Some(Ipv4Addr::LOCALHOST));
                    prop_assert!(dns_query(&a).is_err(), "an answer is not a query");
                }
                Err(Some((id, f, rc))) => { dns_error(id, f, rc); }
                Err(None) => {}
            }
        }

        /// Generated queries round-trip their name.
        #[test]
        fn queries_round_trip(labels in prop::collection::vec("[a-z0-9_-]{1,20}", 1..6), t: u16) {
            let name = labels.join(".");
            let m = query(&name, t);
            let q = dns_query(&m).unwrap();
            prop_assert_eq!(q.name, Some(name));
            prop_assert_eq!(q.qtype, t);
        }
    }
}
