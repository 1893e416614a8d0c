//! The value vocabulary of a `Spec`: sizes, octal modes, CPU shares, process counts,
//! capability names, syscall names and `NAME[:ERRNO]` deny rules, errnos. Every front end
//! (the command line, profiles) parses values with these, so the same value means the same
//! thing, and is refused with the same words, wherever it is given.

use super::syscalls;
use std::fmt;

/// A value that doesn't parse, worded as `<option>: '<value>': <why>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub opt: String,
    pub value: String,
    pub why: Why,
}

/// What the value is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    Octal,
    Size,
    Pids,
    Percent,
    Capability,
    /// No seccomp profile of that name.
    SeccompProfile,
    /// A syscall name (part of the value) unknown on x86_64.
    Syscall(String),
    /// An errno (part of the value) that is neither a name nor 1-4095.
    Errno(String),
    /// Not of the form an OCI-process option takes (`--rlimit`, `--join-ns`, `--uid-map`,
    /// `--sysctl`, `--oom-score-adj`): what it should look like.
    Form(&'static str),
    /// An --rlimit resource that setrlimit(2) doesn't have.
    Rlimit,
    /// An --rlimit limit that is neither a number nor `unlimited`.
    Limit,
    /// A --join-ns kind that is no namespace kind.
    NsKind,
    /// A network rule (`--net-allow`, `--net-deny`): what is wrong with it.
    NetRule(String),
}

impl ValueError {
    fn new(opt: &str, value: &str, why: Why) -> ValueError {
        ValueError {
            opt: opt.into(),
            value: value.into(),
            why,
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: '{}': ", self.opt, self.value)?;
        match &self.why {
            Why::Octal => f.write_str("not an octal mode (e.g. 0755)"),
            Why::Size => f.write_str("not a size (bytes, or a number with K, M, G or T)"),
            Why::Pids => f.write_str("not a process count (a whole number, at least 1)"),
            Why::Percent => {
                f.write_str("not a CPU share (a percent of one CPU from 1% to 100000%, e.g. 150%)")
            }
            Why::Capability => {
                f.write_str("unknown capability (see capabilities(7), e.g. CAP_NET_RAW)")
            }
            Why::SeccompProfile => {
                write!(f, "unknown profile ({})", super::SeccompProfile::names())
            }
            Why::Syscall(name) => {
                write!(f, "'{name}' is not a syscall on x86_64 (see syscalls(2))")
            }
            Why::Errno(e) => write!(f, "'{e}' is not an errno (a name like EACCES, or 1-4095)"),
            Why::Form(form) => write!(f, "not {form}"),
            Why::Rlimit => {
                let names: Vec<&str> = super::RlimitKind::ALL.iter().map(|k| k.name()).collect();
                write!(f, "unknown resource (one of {})", names.join(", "))
            }
            Why::Limit => f.write_str("a limit is a number or unlimited"),
            Why::NsKind => f.write_str("unknown kind (user, mnt, pid, net, ipc, uts or cgroup)"),
            Why::NetRule(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ValueError {}

/// Parse an octal mode such as `0755`.
pub fn parse_octal(opt: &str, s: &str) -> Result<u32, ValueError> {
    match u32::from_str_radix(s, 8) {
        Ok(v) if v <= 0o7777 && !s.is_empty() => Ok(v),
        _ => Err(ValueError::new(opt, s, Why::Octal)),
    }
}

/// Parse a size in bytes with an optional K, M, G or T suffix (powers of 1024).
pub fn parse_size(opt: &str, s: &str) -> Result<u64, ValueError> {
    let bad = || ValueError::new(opt, s, Why::Size);
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(bad()),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    match n.checked_mul(mult) {
        Some(v) if v > 0 => Ok(v),
        _ => Err(bad()),
    }
}

/// Parse a process count for `--pids`: a whole number, at least 1.
pub fn parse_pids(opt: &str, s: &str) -> Result<u64, ValueError> {
    match s.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ValueError::new(opt, s, Why::Pids)),
    }
}

/// Parse a CPU share such as `150%` (or `150`): percent of one CPU, at least 1.
pub fn parse_percent(opt: &str, s: &str) -> Result<u32, ValueError> {
    let t = s.trim();
    let num = t.strip_suffix('%').unwrap_or(t);
    match num.parse::<u32>() {
        // cpu.max takes a quota in microseconds per 100 ms period: keep it well inside u64.
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err(ValueError::new(opt, s, Why::Percent)),
    }
}

/// Parse a capability name: `CAP_NET_RAW`, `net_raw` and `NET_RAW` all work.
pub fn parse_cap(opt: &str, s: &str) -> Result<caps::Capability, ValueError> {
    let up = s.to_ascii_uppercase();
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    full.parse()
        .map_err(|_| ValueError::new(opt, s, Why::Capability))
}

/// A seccomp profile by name.
pub fn parse_seccomp_profile(opt: &str, s: &str) -> Result<super::SeccompProfile, ValueError> {
    super::SeccompProfile::from_name(s).ok_or_else(|| ValueError::new(opt, s, Why::SeccompProfile))
}

/// A syscall name known on x86_64; `value` is the whole option value, for the message.
pub fn parse_syscall(opt: &str, value: &str, name: &str) -> Result<String, ValueError> {
    match syscalls::nr(name) {
        Some(_) => Ok(name.to_string()),
        None => Err(ValueError::new(opt, value, Why::Syscall(name.into()))),
    }
}

/// `SYSCALL[:ERRNO]` of --seccomp-deny: the errno is a name or a number, EPERM by default.
pub fn parse_deny(opt: &str, v: &str) -> Result<(String, i32), ValueError> {
    let (name, errno) = match v.split_once(':') {
        Some((n, e)) => {
            let errno =
                parse_errno(e).ok_or_else(|| ValueError::new(opt, v, Why::Errno(e.into())))?;
            (n, errno)
        }
        None => (v, nix::errno::Errno::EPERM as i32),
    };
    Ok((parse_syscall(opt, v, name)?, errno))
}

/// An errno by name (`EPERM`) or number (1..=4095, what SECCOMP_RET_ERRNO carries).
pub fn parse_errno(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=4095).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    (1..4096).find(|n| format!("{:?}", nix::errno::Errno::from_raw(*n)) == up)
}

/// The name of an errno (`EPERM`), or its number when it has none.
pub fn errno_name(e: i32) -> String {
    match nix::errno::Errno::from_raw(e) {
        nix::errno::Errno::UnknownErrno => e.to_string(),
        n => format!("{n:?}"),
    }
}

/// `--rlimit NAME=SOFT[:HARD]`: a limit is a number or `unlimited`; HARD defaults to SOFT.
pub fn parse_rlimit(opt: &str, s: &str) -> Result<super::Rlimit, ValueError> {
    let bad = |why| ValueError::new(opt, s, why);
    let (name, limits) = (s.split_once('='))
        .ok_or_else(|| bad(Why::Form("NAME=SOFT[:HARD] (e.g. NOFILE=1024:4096)")))?;
    let kind = super::RlimitKind::from_name(name).ok_or_else(|| bad(Why::Rlimit))?;
    let value = |v: &str| match v {
        "unlimited" | "infinity" => Ok(u64::MAX),
        v => v.parse::<u64>().map_err(|_| bad(Why::Limit)),
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((a, b)) => (value(a)?, value(b)?),
        None => (value(limits)?, value(limits)?),
    };
    Ok(super::Rlimit { kind, soft, hard })
}

/// `--join-ns KIND:PATH`.
pub fn parse_join(opt: &str, s: &str) -> Result<super::NsJoin, ValueError> {
    let bad = |why| ValueError::new(opt, s, why);
    let (kind, path) = (s.split_once(':'))
        .ok_or_else(|| bad(Why::Form("KIND:PATH (e.g. net:/proc/1234/ns/net)")))?;
    let kind = super::NsKind::from_name(kind).ok_or_else(|| bad(Why::NsKind))?;
    Ok(super::NsJoin {
        kind,
        path: path.into(),
    })
}

/// `--uid-map INSIDE:OUTSIDE:COUNT` (a line of uid_map, with colons).
pub fn parse_id_range(opt: &str, s: &str) -> Result<super::IdRange, ValueError> {
    let n: Vec<Option<u32>> = s.split(':').map(|v| v.parse().ok()).collect();
    match n[..] {
        [Some(inside), Some(outside), Some(count)] => Ok(super::IdRange {
            inside,
            outside,
            count,
        }),
        _ => Err(ValueError::new(
            opt,
            s,
            Why::Form("INSIDE:OUTSIDE:COUNT (e.g. 0:100000:65536)"),
        )),
    }
}

/// `--sysctl KEY=VALUE` (the key with dots; which keys are allowed is `validate`'s rule).
pub fn parse_sysctl(opt: &str, s: &str) -> Result<(String, String), ValueError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(ValueError::new(
            opt,
            s,
            Why::Form("KEY=VALUE (e.g. net.ipv4.ping_group_range=0 0)"),
        )),
    }
}

/// `--oom-score-adj N`, -1000 to 1000.
pub fn parse_oom_score_adj(opt: &str, s: &str) -> Result<i32, ValueError> {
    match s.parse::<i32>() {
        Ok(v) if (-1000..=1000).contains(&v) => Ok(v),
        _ => Err(ValueError::new(
            opt,
            s,
            Why::Form("a number from -1000 to 1000"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("x", "512K").unwrap(), 512 * 1024);
        assert_eq!(parse_size("x", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("x", "100").unwrap(), 100);
        for bad in ["", "K", "1X", "-1", "0", "99999999999T"] {
            assert!(parse_size("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errnos() {
        assert_eq!(parse_errno("EPERM"), Some(1));
        assert_eq!(parse_errno("eacces"), Some(13));
        assert_eq!(parse_errno("EAFNOSUPPORT"), Some(97));
        assert_eq!(parse_errno("38"), Some(38));
        for bad in ["0", "4096", "-1", "EFOO", ""] {
            assert_eq!(parse_errno(bad), None, "{bad}");
        }
    }

    #[test]
    fn rlimits_and_joins() {
        let r = super::parse_rlimit("--rlimit", "nofile=10:unlimited").unwrap();
        assert_eq!(
            (r.kind, r.soft, r.hard),
            (crate::spec::RlimitKind::Nofile, 10, u64::MAX)
        );
        let r = super::parse_rlimit("--rlimit", "RLIMIT_CORE=0").unwrap();
        assert_eq!((r.soft, r.hard), (0, 0));
        for bad in ["NOFILE", "FLY=1", "NOFILE=x", "NOFILE=1:2:3"] {
            assert!(super::parse_rlimit("--rlimit", bad).is_err(), "{bad}");
        }
        let j = super::parse_join("--join-ns", "net:/proc/1/ns/net").unwrap();
        assert_eq!(j.kind, crate::spec::NsKind::Net);
        assert!(super::parse_join("--join-ns", "time:/x").is_err());
        assert!(super::parse_sysctl("--sysctl", "=1").is_err());
        assert!(super::parse_oom_score_adj("--oom", "-1001").is_err());
    }
}
