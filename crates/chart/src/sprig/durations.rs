//! `duration` and `durationRound`: Go's `time.Duration` text (`1h2m3.5s`, `1.5ms`) and
//! `time.ParseDuration`.
//!
//! Both take a Go `int64` or a string; anything else counts as zero (so a `float64` from
//! values gives `0s`). An integer here is taken as an `int64`: that is what `int64`,
//! `add` and the other integer functions return, which is how charts pass one. (Go takes
//! a plain `int`, such as the constant in `duration 95`, as zero.)

use slipway_template::{FuncResult, Value};

use super::args;

const SECOND: u64 = 1_000_000_000;

/// Writes `v`'s last `prec` decimal digits as a fraction (".5"), trailing zeros and a
/// bare point left out; returns the text and `v` without those digits.
fn frac(v: u64, prec: u32) -> (String, u64) {
    let mut digits = Vec::new();
    let mut v = v;
    let mut printed = false;
    for _ in 0..prec {
        let d = v % 10;
        printed = printed || d != 0;
        if printed {
            digits.push(char::from(b'0' + d as u8));
        }
        v /= 10;
    }
    if printed {
        digits.push('.');
    }
    (digits.into_iter().rev().collect(), v)
}

/// `time.Duration.String`.
pub(super) fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < SECOND {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (fraction, whole) = frac(u, prec);
        out.push_str(&whole.to_string());
        out.push_str(&fraction);
        out.push_str(unit);
    } else {
        let (fraction, secs) = frac(u, 9);
        let mut text = format!("{}{fraction}s", secs % 60);
        let mins = secs / 60;
        if mins > 0 {
            text = format!("{}m{text}", mins % 60);
            let hours = mins / 60;
            if hours > 0 {
                text = format!("{hours}h{text}");
            }
        }
        out.push_str(&text);
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `time.ParseDuration`, errors as `None`.
pub(super) fn parse_duration(text: &str) -> Option<i64> {
    let mut s = text.as_bytes();
    let mut neg = false;
    if let Some(&c @ (b'-' | b'+')) = s.first() {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return None;
        }
        let int_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &s[..int_len] {
            if v > LIMIT / 10 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return None;
            }
        }
        s = &s[int_len..];
        let mut f: u64 = 0;
        let mut scale = 1.0f64;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &s[..n] {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = n > 0;
            s = &s[n..];
        }
        if int_len == 0 && !post {
            return None;
        }
        let unit_len = s
            .iter()
            .take_while(|&&c| !(c == b'.' || c.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return None;
        }
        let unit: u64 = match &s[..unit_len] {
            b"ns" => 1,
            b"us" => 1_000,
            u if u == "µs".as_bytes() || u == "μs".as_bytes() => 1_000,
            b"ms" => 1_000_000,
            b"s" => SECOND,
            b"m" => 60 * SECOND,
            b"h" => 3600 * SECOND,
            _ => return None,
        };
        s = &s[unit_len..];
        if v > LIMIT / unit {
            return None;
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return None;
            }
        }
        total += v;
        if total > LIMIT {
            return None;
        }
    }
    if neg {
        return Some((total as i64).wrapping_neg());
    }
    if total > LIMIT - 1 {
        return None;
    }
    Some(total as i64)
}

/// `duration seconds`: the text of that many seconds (from a string or an integer).
pub(super) fn duration(a: &[Value]) -> FuncResult {
    let n = match &a[0] {
        Value::String(s) => match args::parse_int(s, 10) {
            Ok(n) => n,
            Err((_, nearest)) => nearest,
        },
        Value::Int(n) => *n,
        _ => 0,
    };
    Ok(Value::from(duration_string(n.wrapping_mul(SECOND as i64))))
}

/// `durationRound d`: a duration (a Go duration string, or nanoseconds) in its largest
/// whole unit: `2h` for `2h10m`, `3mo` for 95 days.
pub(super) fn duration_round(a: &[Value]) -> FuncResult {
    let d = match &a[0] {
        Value::String(s) => parse_duration(s).unwrap_or(0),
        Value::Int(n) => *n,
        _ => 0,
    };
    let u = d.unsigned_abs();
    const DAY: u64 = 24 * 3600 * SECOND;
    let units = [
        (365 * DAY, "y"),
        (30 * DAY, "mo"),
        (DAY, "d"),
        (3600 * SECOND, "h"),
        (60 * SECOND, "m"),
        (SECOND, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return Ok(Value::from(format!("{}{name}", u / size)));
        }
    }
    Ok(Value::str("0s"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Go's time package answers.
    #[test]
    fn prints_durations_as_go_does() {
        for (d, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (1_500_000, "1.5ms"),
            (1_500_000_000, "1.5s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-60_000_000_000, "-1m0s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(duration_string(d), text);
        }
    }

    #[test]
    fn parses_durations_as_go_does() {
        assert_eq!(parse_duration("1h2m3.5s"), Some(3_723_500_000_000));
        assert_eq!(parse_duration("-1.5h"), Some(-5_400_000_000_000));
        assert_eq!(parse_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_duration("1µs"), Some(1_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("1"), None);
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("."), None);
    }
}
