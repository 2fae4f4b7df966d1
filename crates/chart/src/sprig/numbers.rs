//! sprig's arithmetic: integer functions on `cast.ToInt64` values (wrapping as Go's
//! `int64` does), float functions on `cast.ToFloat64` values, and the `addf` family,
//! which computes in decimal (`shopspring/decimal`) so `addf 0.1 0.2` is `0.3`.

use std::cmp::Ordering;

use slipway_template::{FuncResult, Value};

use super::args::{self, to_float64, to_int64};

const DIVIDE_BY_ZERO: &str = "runtime error: integer divide by zero";

/// `add1 x`.
pub(super) fn add1(a: &[Value]) -> FuncResult {
    Ok(Value::Int(to_int64(&a[0]).wrapping_add(1)))
}

/// `add x...`.
pub(super) fn add(a: &[Value]) -> FuncResult {
    Ok(Value::Int(
        a.iter().fold(0i64, |sum, v| sum.wrapping_add(to_int64(v))),
    ))
}

/// `sub a b`.
pub(super) fn sub(a: &[Value]) -> FuncResult {
    Ok(Value::Int(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
}

/// `div a b`: integer division, truncated.
pub(super) fn div(a: &[Value]) -> FuncResult {
    let (x, y) = (to_int64(&a[0]), to_int64(&a[1]));
    if y == 0 {
        return Err(DIVIDE_BY_ZERO.into());
    }
    Ok(Value::Int(x.wrapping_div(y)))
}

/// `mod a b`: the remainder, with the sign of `a`.
pub(super) fn modulo(a: &[Value]) -> FuncResult {
    let (x, y) = (to_int64(&a[0]), to_int64(&a[1]));
    if y == 0 {
        return Err(DIVIDE_BY_ZERO.into());
    }
    Ok(Value::Int(x.wrapping_rem(y)))
}

/// `mul a b...`.
pub(super) fn mul(a: &[Value]) -> FuncResult {
    Ok(Value::Int(
        a[1..]
            .iter()
            .fold(to_int64(&a[0]), |p, v| p.wrapping_mul(to_int64(v))),
    ))
}

/// `max a b...` (and `biggest`).
pub(super) fn max(a: &[Value]) -> FuncResult {
    Ok(Value::Int(a.iter().map(to_int64).fold(i64::MIN, i64::max)))
}

/// `min a b...`.
pub(super) fn min(a: &[Value]) -> FuncResult {
    Ok(Value::Int(a.iter().map(to_int64).fold(i64::MAX, i64::min)))
}

/// Go's `math.Max`: NaN wins, and +0 is larger than -0.
fn go_max(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x > 0.0 || y.is_infinite() && y > 0.0 {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// Go's `math.Min`: NaN wins, and -0 is smaller than +0.
fn go_min(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x < 0.0 || y.is_infinite() && y < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

/// `maxf a b...`.
pub(super) fn maxf(a: &[Value]) -> FuncResult {
    let first = to_float64(&a[0]);
    Ok(Value::Float(
        a[1..].iter().map(to_float64).fold(first, go_max),
    ))
}

/// `minf a b...`.
pub(super) fn minf(a: &[Value]) -> FuncResult {
    let first = to_float64(&a[0]);
    Ok(Value::Float(
        a[1..].iter().map(to_float64).fold(first, go_min),
    ))
}

/// `floor x`.
pub(super) fn floor(a: &[Value]) -> FuncResult {
    Ok(Value::Float(to_float64(&a[0]).floor()))
}

/// `ceil x`.
pub(super) fn ceil(a: &[Value]) -> FuncResult {
    Ok(Value::Float(to_float64(&a[0]).ceil()))
}

/// `x * 2^e` rounded once, as Go's `math.Ldexp`.
fn ldexp(x: f64, e: i64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    // x = m * 2^k with m in [0.5, 1).
    let bits = x.to_bits();
    let (m, k) = {
        let raw_exp = ((bits >> 52) & 0x7ff) as i64;
        if raw_exp == 0 {
            // Subnormal: normalise first.
            let y = x * 2f64.powi(54);
            let raw = ((y.to_bits() >> 52) & 0x7ff) as i64;
            let m = f64::from_bits((y.to_bits() & !(0x7ff << 52)) | (1022 << 52));
            (m, raw - 1022 - 54)
        } else {
            let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
            (m, raw_exp - 1022)
        }
    };
    let total = k.saturating_add(e);
    let with_exp = |m: f64, t: i64| -> f64 {
        // m in [0.5, 1), t such that the result is normal.
        f64::from_bits((m.to_bits() & !(0x7ff << 52)) | (((t + 1022) as u64) << 52))
    };
    if total > 1024 {
        return f64::INFINITY.copysign(x);
    }
    if total >= -1021 {
        return with_exp(m, total);
    }
    if total < -1074 {
        return 0f64.copysign(x);
    }
    with_exp(m, total + 53) * (1.0 / 9_007_199_254_740_992.0)
}

/// `math.Pow(10, n)` for an integer `n`, computed as Go computes it (by repeated
/// squaring, so the last bit is Go's, not the correctly rounded one).
pub(super) fn go_pow10(n: i64) -> f64 {
    match n {
        0 => return 1.0,
        1 => return 10.0,
        _ => {}
    }
    let y = n as f64;
    let yi = y.abs().trunc();
    if yi >= 9_223_372_036_854_775_808.0 {
        return if y > 0.0 { f64::INFINITY } else { 0.0 };
    }
    let (mut a1, mut ae) = (1.0f64, 0i64);
    // 10 = 0.625 * 2^4
    let (mut x1, mut xe) = (0.625f64, 4i64);
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// `round x places [half]`: rounds at `places` decimals, up when the dropped part is at
/// least `half` (0.5 by default).
pub(super) fn round(a: &[Value]) -> FuncResult {
    let places = args::int(&a[1]);
    let half = a.get(2).map_or(0.5, args::float);
    let val = to_float64(&a[0]);
    let pow = go_pow10(places);
    let digit = pow * val;
    let frac = digit.fract();
    let rounded = if frac >= half {
        digit.ceil()
    } else {
        digit.floor()
    };
    Ok(Value::Float(rounded / pow))
}

/// `int x` and `int64 x`.
pub(super) fn int(a: &[Value]) -> FuncResult {
    Ok(Value::Int(to_int64(&a[0])))
}

/// `float64 x`.
pub(super) fn float64(a: &[Value]) -> FuncResult {
    Ok(Value::Float(to_float64(&a[0])))
}

/// `toDecimal x`: `x` printed, read as an octal number (0 when it is not one).
pub(super) fn to_decimal(a: &[Value]) -> FuncResult {
    let text = slipway_template::fmt::display(&a[0]);
    Ok(Value::Int(args::parse_int(&text, 8).unwrap_or(0)))
}

/// Go's `untilStep`: from `start` towards `stop` (excluded) by `step`; nothing when the
/// step goes the wrong way.
fn until_step(start: i64, stop: i64, step: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut i = start;
    if stop < start {
        if step >= 0 {
            return out;
        }
        while i > stop {
            out.push(i);
            match i.checked_add(step) {
                Some(next) => i = next,
                None => break,
            }
        }
        return out;
    }
    if step <= 0 {
        return out;
    }
    while i < stop {
        out.push(i);
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    out
}

fn int_list(items: Vec<i64>) -> Value {
    Value::list(items.into_iter().map(Value::Int).collect())
}

/// `until n`: 0 to `n` (excluded), counting down for a negative `n`.
pub(super) fn until(a: &[Value]) -> FuncResult {
    let count = args::int(&a[0]);
    let step = if count < 0 { -1 } else { 1 };
    Ok(int_list(until_step(0, count, step)))
}

/// `untilStep start stop step`.
pub(super) fn until_step_fn(a: &[Value]) -> FuncResult {
    let start = args::int(&a[0]);
    let stop = args::int(&a[1]);
    let step = args::int(&a[2]);
    Ok(int_list(until_step(start, stop, step)))
}

/// `seq`: like the shell's: `seq last`, `seq first last`, `seq first step last`, as one
/// space-separated string.
pub(super) fn seq(a: &[Value]) -> FuncResult {
    let p: Vec<i64> = a.iter().map(args::int).collect();
    let numbers = match p[..] {
        [end] => {
            let inc = if end < 1 { -1 } else { 1 };
            until_step(1, end.wrapping_add(inc), inc)
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(start, end.wrapping_add(step), step)
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if step > 0 {
                    return Ok(Value::str(""));
                }
            }
            until_step(start, end.wrapping_add(inc), step)
        }
        _ => Vec::new(),
    };
    let text: Vec<String> = numbers.iter().map(i64::to_string).collect();
    Ok(Value::from(text.join(" ")))
}

// --- decimal arithmetic ----------------------------------------------------------------

/// A non-negative integer as decimal digits, least significant first, without leading
/// (most significant) zeros; zero is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Digits(Vec<u8>);

impl Digits {
    fn from_decimal(text: &str) -> Digits {
        let mut d: Vec<u8> = text.bytes().rev().map(|b| b - b'0').collect();
        trim(&mut d);
        Digits(d)
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn to_decimal(&self) -> String {
        if self.0.is_empty() {
            return "0".into();
        }
        self.0.iter().rev().map(|d| char::from(b'0' + d)).collect()
    }

    fn shifted(&self, places: usize) -> Digits {
        if self.is_zero() {
            return self.clone();
        }
        let mut d = vec![0; places];
        d.extend_from_slice(&self.0);
        Digits(d)
    }

    fn cmp(&self, other: &Digits) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn add(&self, other: &Digits) -> Digits {
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0;
        for i in 0..self.0.len().max(other.0.len()) {
            let s =
                self.0.get(i).copied().unwrap_or(0) + other.0.get(i).copied().unwrap_or(0) + carry;
            out.push(s % 10);
            carry = s / 10;
        }
        if carry > 0 {
            out.push(carry);
        }
        Digits(out)
    }

    /// `self - other`, for `self >= other`.
    fn sub(&self, other: &Digits) -> Digits {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i8;
        for i in 0..self.0.len() {
            let mut d = self.0[i] as i8 - other.0.get(i).copied().unwrap_or(0) as i8 - borrow;
            borrow = 0;
            if d < 0 {
                d += 10;
                borrow = 1;
            }
            out.push(d as u8);
        }
        trim(&mut out);
        Digits(out)
    }

    fn mul(&self, other: &Digits) -> Digits {
        if self.is_zero() || other.is_zero() {
            return Digits(Vec::new());
        }
        let mut acc = vec![0u32; self.0.len() + other.0.len()];
        for (i, &x) in self.0.iter().enumerate() {
            for (j, &y) in other.0.iter().enumerate() {
                acc[i + j] += u32::from(x) * u32::from(y);
            }
            // Keep the accumulators small.
            let mut carry = 0;
            for slot in acc.iter_mut() {
                let v = *slot + carry;
                *slot = v % 10;
                carry = v / 10;
            }
        }
        let mut out: Vec<u8> = acc.into_iter().map(|v| v as u8).collect();
        trim(&mut out);
        Digits(out)
    }

    /// Truncated quotient and remainder; `other` is not zero.
    fn divmod(&self, other: &Digits) -> (Digits, Digits) {
        let mut quotient = vec![0u8; self.0.len()];
        let mut rem = Digits(Vec::new());
        for i in (0..self.0.len()).rev() {
            rem = rem.shifted(1);
            if rem.is_zero() {
                rem = Digits(vec![self.0[i]]);
                trim(&mut rem.0);
            } else {
                rem.0[0] = self.0[i];
            }
            let mut q = 0;
            while rem.cmp(other) != Ordering::Less {
                rem = rem.sub(other);
                q += 1;
            }
            quotient[i] = q;
        }
        trim(&mut quotient);
        (Digits(quotient), rem)
    }
}

fn trim(d: &mut Vec<u8>) {
    while d.last() == Some(&0) {
        d.pop();
    }
}

/// A decimal `(-1)^neg * mag * 10^exp`.
#[derive(Clone, Debug)]
struct Decimal {
    neg: bool,
    mag: Digits,
    exp: i64,
}

impl Decimal {
    /// `decimal.NewFromFloat`: the shortest decimal that reads back as `f`.
    fn from_f64(f: f64) -> Result<Decimal, String> {
        if !f.is_finite() {
            return Err(format!(
                "Cannot create a Decimal from {}",
                slipway_template::fmt::format_float(f)
            ));
        }
        if f == 0.0 {
            return Ok(Decimal {
                neg: false,
                mag: Digits(Vec::new()),
                exp: 0,
            });
        }
        // "d.ddddde-7": the shortest digits that round-trip.
        let text = format!("{:e}", f.abs());
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let exp: i64 = exp.parse().unwrap_or(0);
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = format!("{int_part}{frac_part}");
        Ok(Decimal {
            neg: f < 0.0,
            mag: Digits::from_decimal(&digits),
            exp: exp - frac_part.len() as i64,
        })
    }

    fn to_f64(&self) -> f64 {
        let text = format!(
            "{}{}e{}",
            if self.neg { "-" } else { "" },
            self.mag.to_decimal(),
            self.exp
        );
        text.parse().unwrap_or(0.0)
    }

    fn rescaled(&self, exp: i64) -> Digits {
        self.mag.shifted((self.exp - exp) as usize)
    }

    fn add(&self, other: &Decimal) -> Decimal {
        let exp = self.exp.min(other.exp);
        let (a, b) = (self.rescaled(exp), other.rescaled(exp));
        let (neg, mag) = if self.neg == other.neg {
            (self.neg, a.add(&b))
        } else {
            match a.cmp(&b) {
                Ordering::Less => (other.neg, b.sub(&a)),
                _ => (self.neg, a.sub(&b)),
            }
        };
        Decimal {
            neg: neg && !mag.is_zero(),
            mag,
            exp,
        }
    }

    fn negated(&self) -> Decimal {
        Decimal {
            neg: !self.neg && !self.mag.is_zero(),
            ..self.clone()
        }
    }

    fn mul(&self, other: &Decimal) -> Decimal {
        let mag = self.mag.mul(&other.mag);
        Decimal {
            neg: self.neg != other.neg && !mag.is_zero(),
            mag,
            exp: self.exp + other.exp,
        }
    }

    /// `Div`: the quotient rounded to 16 decimal places, halves away from zero.
    fn div(&self, other: &Decimal) -> Result<Decimal, String> {
        const PRECISION: i64 = 16;
        if other.mag.is_zero() {
            return Err("decimal division by 0".into());
        }
        let e = self.exp - other.exp + PRECISION;
        let (num, den) = if e >= 0 {
            (self.mag.shifted(e as usize), other.mag.clone())
        } else {
            (self.mag.clone(), other.mag.shifted((-e) as usize))
        };
        let (mut q, r) = num.divmod(&den);
        if r.add(&r).cmp(&den) != Ordering::Less {
            q = q.add(&Digits(vec![1]));
        }
        Ok(Decimal {
            neg: self.neg != other.neg && !q.is_zero(),
            mag: q,
            exp: -PRECISION,
        })
    }
}

/// sprig's `execDecimalOp`: `first` and each of `rest` as decimals, folded with `op`.
fn decimal_op(
    first: f64,
    rest: &[Value],
    op: fn(&Decimal, &Decimal) -> Result<Decimal, String>,
) -> FuncResult {
    let mut acc = Decimal::from_f64(first)?;
    for v in rest {
        let d = Decimal::from_f64(to_float64(v))?;
        acc = op(&acc, &d)?;
    }
    Ok(Value::Float(acc.to_f64()))
}

fn dec_add(a: &Decimal, b: &Decimal) -> Result<Decimal, String> {
    Ok(a.add(b))
}

fn dec_sub(a: &Decimal, b: &Decimal) -> Result<Decimal, String> {
    Ok(a.add(&b.negated()))
}

fn dec_mul(a: &Decimal, b: &Decimal) -> Result<Decimal, String> {
    Ok(a.mul(b))
}

fn dec_div(a: &Decimal, b: &Decimal) -> Result<Decimal, String> {
    a.div(b)
}

/// `add1f x`.
pub(super) fn add1f(a: &[Value]) -> FuncResult {
    decimal_op(to_float64(&a[0]), &[Value::Int(1)], dec_add)
}

/// `addf x...`.
pub(super) fn addf(a: &[Value]) -> FuncResult {
    decimal_op(0.0, a, dec_add)
}

/// `subf a b...`.
pub(super) fn subf(a: &[Value]) -> FuncResult {
    decimal_op(to_float64(&a[0]), &a[1..], dec_sub)
}

/// `mulf a b...`.
pub(super) fn mulf(a: &[Value]) -> FuncResult {
    decimal_op(to_float64(&a[0]), &a[1..], dec_mul)
}

/// `divf a b...`.
pub(super) fn divf(a: &[Value]) -> FuncResult {
    decimal_op(to_float64(&a[0]), &a[1..], dec_div)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(r: FuncResult) -> f64 {
        match r {
            Ok(Value::Float(x)) => x,
            other => panic!("not a float: {other:?}"),
        }
    }

    // Expectations below were checked with Go and sprig v3.3.0.
    #[test]
    fn computes_in_decimal_as_shopspring_does() {
        let fl = Value::Float;
        assert_eq!(f(add1f(&[fl(0.1)])), 1.1);
        assert_eq!(f(addf(&[fl(0.1), fl(0.2)])), 0.3);
        assert_eq!(f(divf(&[Value::Int(1), Value::Int(3)])), 0.3333333333333333);
        assert_eq!(f(divf(&[Value::Int(2), Value::Int(3)])), 0.6666666666666667);
        assert_eq!(f(mulf(&[fl(1.1), fl(1.1)])), 1.21);
        assert_eq!(f(subf(&[Value::Int(1), fl(0.9)])), 0.1);
        assert_eq!(
            divf(&[Value::Int(1), Value::Int(0)]).unwrap_err(),
            "decimal division by 0"
        );
    }

    #[test]
    fn rounds_as_sprig_does() {
        let r = |x: f64, p: i64| f(round(&[Value::Float(x), Value::Int(p)]));
        assert_eq!(r(2.5, 0), 3.0);
        assert_eq!(r(-2.5, 0), -3.0);
        assert_eq!(r(1.2345, 2), 1.23);
    }

    #[test]
    fn divides_integers_with_go_panics() {
        assert_eq!(
            modulo(&[Value::Int(5), Value::Int(0)]).unwrap_err(),
            DIVIDE_BY_ZERO
        );
        assert!(matches!(
            div(&[Value::Int(i64::MIN), Value::Int(-1)]),
            Ok(Value::Int(i64::MIN))
        ));
    }

    #[test]
    fn counts_as_seq_does() {
        let seq_of = |p: &[i64]| match seq(&p.iter().map(|&i| Value::Int(i)).collect::<Vec<_>>()) {
            Ok(Value::String(s)) => s.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(seq_of(&[5]), "1 2 3 4 5");
        assert_eq!(seq_of(&[1, 3, 10]), "1 4 7 10");
        assert_eq!(seq_of(&[0]), "1 0");
        assert_eq!(seq_of(&[-3]), "1 0 -1 -2 -3");
        assert_eq!(seq_of(&[10, -3, 1]), "10 7 4 1");
        assert_eq!(seq_of(&[]), "");
    }
}
