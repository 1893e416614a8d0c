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
}
