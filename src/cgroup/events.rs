//! What the kernel says happened in the payload cgroup, and the one-line OOM report.

use std::fmt;

/// The outcome of a limited run, read after the sandbox exited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// How many processes of the command the kernel's OOM killer killed (memory.events).
    pub oom_kill: u64,
    /// Highest memory use of the command in bytes (memory.peak; kernels from 5.19).
    pub memory_peak: Option<u64>,
    /// The memory limit in force (memory.max as read back), when --mem was given.
    pub limit: Option<u64>,
}

impl Report {
    /// True when the kernel OOM-killed (part of) the command: sbox then exits 137.
    pub fn oom_killed(&self) -> bool {
        self.oom_kill > 0
    }
}

impl fmt::Display for Report {
    /// The line printed (after "sbox: ") when the command was OOM-killed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = |v: Option<u64>| v.map_or_else(|| "unknown".to_string(), human);
        write!(
            f,
            "--mem: the kernel killed the command: out of memory (limit {}, peak {})",
            size(self.limit),
            size(self.memory_peak)
        )
    }
}

/// Bytes in the units --mem takes: exact when they divide, else one decimal.
pub fn human(b: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (size, unit) in UNITS {
        if b >= size {
            return if b.is_multiple_of(size) {
                format!("{}{unit}", b / size)
            } else {
                format!("{:.1}{unit}", b as f64 / size as f64)
            };
        }
    }
    format!("{b} bytes")
}

/// The value of `key` in a flat keyed file such as memory.events ("oom_kill 1\n").
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_memory_events() {
        let t = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(keyed(t, "oom_kill"), Some(1));
        assert_eq!(keyed(t, "oom"), Some(1));
        assert_eq!(keyed(t, "max"), Some(12));
        assert_eq!(keyed(t, "nope"), None);
        assert_eq!(keyed("populated 0\nfrozen 0\n", "populated"), Some(0));
    }

    #[test]
    fn report_line() {
        let r = Report {
            oom_kill: 1,
            memory_peak: Some(520192),
            limit: Some(512 * 1024),
        };
        assert!(r.oom_killed());
        assert_eq!(
            r.to_string(),
            "--mem: the kernel killed the command: out of memory (limit 512K, peak 508K)"
        );
        assert!(!Report::default().oom_killed());
        assert_eq!(human(1536), "1.5K");
        assert_eq!(human(64 << 20), "64M");
        assert_eq!(human(100), "100 bytes");
    }
}
