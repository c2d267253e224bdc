//! `Timestamp`: nanoseconds since the Unix epoch, the one clock every layer shares.
//!
//! Capture timestamps (pcap µs or ns, pcapng any resolution, the kernel's `SIOCGSTAMPNS`) and
//! the demo's observed call times (`CLOCK_REALTIME`) all become this type, so live capture,
//! replay and the demo share one code path. No clock is read here.

use std::fmt;

/// Nanoseconds since the Unix epoch (may be negative for broken captures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From whole seconds and nanoseconds.
    pub fn from_secs_nanos(secs: i64, nanos: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch as `f64`, rounded to the microsecond first so that the JSON
    /// number prints as the exact µs decimal.
    pub fn as_secs_f64_us(self) -> f64 {
        let us = self.0.div_euclid(1_000) + i64::from(self.0.rem_euclid(1_000) >= 500);
        us as f64 / 1e6
    }

    /// `self - earlier` in nanoseconds (saturating).
    pub fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + ns` (saturating).
    pub fn plus_nanos(self, ns: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ns))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0.div_euclid(1_000_000_000),
            self.0.rem_euclid(1_000_000_000)
        )
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_secs_f64_us())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_number_is_the_exact_microsecond_decimal() {
        let t = Timestamp::from_secs_nanos(1_764_072_000, 123_456_789);
        assert_eq!(serde_json::to_string(&t).unwrap(), "1764072000.123457");
        let t = Timestamp::from_secs_nanos(1_764_072_000, 100_000);
        assert_eq!(serde_json::to_string(&t).unwrap(), "1764072000.0001");
    }

    #[test]
    fn display_keeps_nanoseconds() {
        assert_eq!(Timestamp(1_500_000_001).to_string(), "1.500000001");
        assert_eq!(Timestamp(-1).to_string(), "-1.999999999");
    }
}
