//! The wall clock as a UTC civil date, for the few timestamps sbox writes (a recorded
//! allowlist's header, sbox-runc's JSON log). A leaf module: no time-zone data, no crate.

/// UTC date and time of the system clock, with the nanoseconds.
pub struct Utc {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub nanos: u32,
}

impl Utc {
    pub fn now() -> Utc {
        Utc::at(std::time::SystemTime::now())
    }

    pub fn at(t: std::time::SystemTime) -> Utc {
        let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs() as i64;
        let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm: eras of 400
        // years, years starting in March so that the leap day comes last).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Utc {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day: doy - (153 * mp + 2) / 5 + 1,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            nanos: d.subsec_nanos(),
        }
    }

    /// `2026-12-01 11:43:14 UTC`
    pub fn human(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// RFC 3339 to the nanosecond: `2026-12-01T11:44:16.123456789Z`.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.nanos
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Utc;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn dates() {
        let at = |s, n| Utc::at(UNIX_EPOCH + Duration::new(s, n));
        assert_eq!(at(0, 0).human(), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400, 0).human(), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_796_125_394, 0).human(), "2026-12-01 11:43:14 UTC");
        assert_eq!(
            at(1_796_125_456, 5).rfc3339(),
            "2026-12-01T11:44:16.000000005Z"
        );
    }
}
