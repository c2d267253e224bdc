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
        self.as_micros() as f64 / 1e6
    }

    /// Microseconds since the epoch, rounded half up (as [`Timestamp::as_secs_f64_us`] rounds).
    pub fn as_micros(self) -> i64 {
        self.0.div_euclid(1_000) + i64::from(self.0.rem_euclid(1_000) >= 500)
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

/// Seconds with all nine decimals, as tshark's `frame.time_epoch` prints them; a time before
/// the epoch is the negated magnitude (`-0.000000001` for -1 ns, never `-1.999999999`).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        // unsigned_abs: i64::MIN has no positive i64.
        let ns = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
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

    /// The nanoseconds a Display string stands for, by plain decimal arithmetic.
    fn value_of(shown: &str) -> i128 {
        let (neg, digits) = match shown.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, shown),
        };
        let (secs, frac) = digits.split_once('.').expect("a decimal point");
        assert_eq!(frac.len(), 9, "nine decimals: {shown}");
        let all_digits = secs.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
        assert!(all_digits && !secs.is_empty(), "{shown}");
        let v = secs.parse::<i128>().unwrap() * 1_000_000_000 + frac.parse::<i128>().unwrap();
        if neg {
            -v
        } else {
            v
        }
    }

    #[test]
    fn display_keeps_nanoseconds() {
        for (ns, shown) in [
            (0, "0.000000000"),
            (1, "0.000000001"),
            (1_500_000_001, "1.500000001"),
            (1_795_617_765_276_078_594, "1795617765.276078594"),
            (-1, "-0.000000001"),
            (-999_999_999, "-0.999999999"),
            (-1_000_000_000, "-1.000000000"),
            (-1_500_000_000, "-1.500000000"),
            (-1_500_000_001, "-1.500000001"),
            (i64::MAX, "9223372036.854775807"),
            (i64::MIN, "-9223372036.854775808"),
        ] {
            assert_eq!(Timestamp(ns).to_string(), shown, "{ns} ns");
        }
    }

    #[test]
    fn display_is_the_value_for_every_sign_and_size() {
        let mut values = vec![i64::MIN, i64::MIN + 1, i64::MAX, 0];
        for k in 0..=18 {
            let p = 10i64.pow(k);
            values.extend([p, -p, p - 1, 1 - p, p + 1, -p - 1, p * 3 / 2, -p * 3 / 2]);
        }
        for ns in values {
            let shown = Timestamp(ns).to_string();
            assert_eq!(value_of(&shown), i128::from(ns), "{ns} ns shown as {shown}");
            // The sign is there exactly when the time is before the epoch.
            assert_eq!(shown.starts_with('-'), ns < 0, "{ns} ns shown as {shown}");
        }
    }
}
