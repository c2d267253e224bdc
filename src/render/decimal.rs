//! Times and lengths written as `{:.N}` of a float writes them, as integers where that gives
//! the same text (the float's exact formatting takes bignums: it was most of a summary row's
//! cost and much of the SVG's).

/// `ns` in units of `per_digit` ns (even), rounded as the float `ns / per_digit` rounds in
/// `{:.N}` to its last digit: `None` where it could round otherwise (a tie, or from 2^50 ns,
/// where floats of the quotient lie farther apart than a nanosecond's part).
pub(crate) fn rounded(ns: u64, per_digit: u64) -> Option<u64> {
    let (q, r) = (ns / per_digit, ns % per_digit);
    (2 * r != per_digit && ns < 1 << 50).then_some(q + u64::from(2 * r > per_digit))
}

/// `n` with its last `decimals` digits after a decimal point, appended to `s`.
pub(crate) fn push_decimal(s: &mut String, n: u64, decimals: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n);
    if decimals == 0 {
        s.push_str(digits);
    } else if digits.len() > decimals {
        let (whole, frac) = digits.split_at(digits.len() - decimals);
        s.push_str(whole);
        s.push('.');
        s.push_str(frac);
    } else {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', decimals - digits.len()));
        s.push_str(digits);
    }
}

/// `t.round()` (half away from zero), without its library call below 2^52, where the fraction
/// `t - trunc(t)` is exact.
pub(crate) fn round_half_away(t: f64) -> i64 {
    if t.abs() < (1u64 << 52) as f64 {
        let i = t as i64;
        let frac = t - i as f64;
        i + i64::from(frac >= 0.5) - i64::from(frac <= -0.5)
    } else {
        t.round() as i64
    }
}

/// `{:.3}` of `ns` in milliseconds as a float (`ns as f64 / 1e6`), appended to `s`.
pub(crate) fn push_ms3(s: &mut String, ns: i64) {
    match rounded(ns.unsigned_abs(), 1000) {
        Some(us) => {
            if ns < 0 {
                s.push('-');
            }
            push_decimal(s, us, 3);
        }
        None => {
            use std::fmt::Write;
            let _ = write!(s, "{:.3}", ns as f64 / 1e6);
        }
    }
}

/// `{:.3}` of `x`, appended to `s`; as integers when `x` is the float nearest a whole number
/// of thousandths (as the tracker makes a handshake's RTT in ms: `µs as f64 / 1000.0`), the
/// float's own formatting otherwise.
pub(crate) fn push_thousandths(s: &mut String, x: f64) {
    let t = x * 1000.0;
    if t.abs() < (1u64 << 50) as f64 {
        let n = round_half_away(t);
        // The nearest float to n/1000 is x: its `{:.3}` is n/1000's digits.
        if n as f64 / 1000.0 == x {
            if x.is_sign_negative() {
                s.push('-');
            }
            push_decimal(s, n.unsigned_abs(), 3);
            return;
        }
    }
    use std::fmt::Write;
    let _ = write!(s, "{x:.3}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms3(ns: i64) -> String {
        let mut s = String::new();
        push_ms3(&mut s, ns);
        s
    }

    fn thousandths(x: f64) -> String {
        let mut s = String::new();
        push_thousandths(&mut s, x);
        s
    }

    proptest! {
        /// The integer path writes what `{:.3}` of the float wrote, ties and all (the tie
        /// `x.xxx5` ms, exact in a float at 62,500 ns, rounds to even there).
        #[test]
        fn milliseconds_are_the_floats_text(
            ns in prop_oneof![
                any::<i64>(),
                -(1i64 << 50)..(1i64 << 50),
                (-(1i64 << 40)..(1i64 << 40)).prop_map(|n| n / 1000 * 1000 + 500),
                -10_000_000i64..10_000_000,
            ]
        ) {
            prop_assert_eq!(ms3(ns), format!("{:.3}", ns as f64 / 1e6));
        }

        /// An RTT as the tracker makes it (microseconds over 1000), or any float at all.
        #[test]
        fn thousandths_are_the_floats_text(
            x in prop_oneof![
                (-(1i64 << 52)..(1i64 << 52)).prop_map(|us| us as f64 / 1000.0),
                (-10_000_000i64..10_000_000).prop_map(|ns| (ns as f64 / 1_000.0).round() / 1_000.0),
                any::<f64>(),
                -1e6f64..1e6,
            ]
        ) {
            prop_assert_eq!(thousandths(x), format!("{x:.3}"));
        }
    }

    #[test]
    fn thousandths_keep_the_sign_of_zero_and_the_odd_floats() {
        for x in [
            0.0,
            -0.0,
            -0.0004,
            0.0005,
            0.0015,
            2.0,
            1e300,
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
        ] {
            assert_eq!(thousandths(x), format!("{x:.3}"), "{x}");
        }
    }
}
