//! sprig's encodings and digests: base64 and base32 (standard alphabets, padded), whose
//! decoders return Go's error text as their result instead of failing, and hex digests.

use aws_lc_rs::digest;
use slipway_template::{FuncResult, Value};

use super::args::{self, bytes_value};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Standard base64 with padding.
pub(super) fn b64encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_value(c: u8) -> Option<u8> {
    B64.iter().position(|&x| x == c).map(|p| p as u8)
}

/// Go's `base64.StdEncoding.DecodeString`: the bytes, or the offset Go reports as corrupt
/// (newlines are skipped; leftover bits are ignored).
fn b64decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    let skip_newlines = |si: &mut usize| {
        while *si < src.len() && matches!(src[*si], b'\n' | b'\r') {
            *si += 1;
        }
    };
    while si < src.len() {
        let mut quantum = [0u8; 4];
        let mut len = 4;
        let mut trailing = None;
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_value(c) {
                quantum[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    skip_newlines(&mut si);
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            skip_newlines(&mut si);
            if si < src.len() {
                trailing = Some(si);
            }
            len = j;
            break;
        }
        let n = u32::from(quantum[0]) << 18
            | u32::from(quantum[1]) << 12
            | u32::from(quantum[2]) << 6
            | u32::from(quantum[3]);
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..len - 1]);
        if let Some(at) = trailing {
            return Err(at);
        }
    }
    Ok(out)
}

/// Standard base32 with padding.
fn b32encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut b = [0u8; 5];
        b[..chunk.len()].copy_from_slice(chunk);
        let n = b.iter().fold(0u64, |n, &x| n << 8 | u64::from(x));
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(char::from(B32[(n >> (35 - 5 * i) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32_value(c: u8) -> Option<u8> {
    B32.iter().position(|&x| x == c).map(|p| p as u8)
}

/// Go's `base32.StdEncoding.DecodeString`: newlines dropped first, then 8-character
/// quanta; the bytes, or the offset Go reports as corrupt.
fn b32decode(text: &[u8]) -> Result<Vec<u8>, usize> {
    let src: Vec<u8> = text
        .iter()
        .copied()
        .filter(|c| !matches!(c, b'\n' | b'\r'))
        .collect();
    let total = src.len();
    let mut rest: &[u8] = &src;
    let mut out = Vec::new();
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut quantum = [0u8; 8];
        let mut len = 8;
        let mut j = 0;
        while j < 8 {
            let Some((&c, tail)) = rest.split_first() else {
                return Err(total - j);
            };
            rest = tail;
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(total);
                }
                for k in 0..7 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(total - rest.len() + k - 1);
                    }
                }
                len = j;
                end = true;
                if matches!(len, 1 | 3 | 6) {
                    return Err(total - rest.len() - 1);
                }
                break;
            }
            match b32_value(c) {
                Some(v) => quantum[j] = v,
                None => return Err(total - rest.len() - 1),
            }
            j += 1;
        }
        let n = quantum.iter().fold(0u64, |n, &x| n << 5 | u64::from(x));
        let bytes = [
            (n >> 32) as u8,
            (n >> 24) as u8,
            (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
        ];
        let count = match len {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..count]);
    }
    Ok(out)
}

/// `b64enc s`.
pub(super) fn b64enc(a: &[Value]) -> FuncResult {
    Ok(Value::from(b64encode(args::string(&a[0]).as_bytes())))
}

/// `b64dec s`: the decoded text, or Go's error text.
pub(super) fn b64dec(a: &[Value]) -> FuncResult {
    match b64decode(args::string(&a[0]).as_bytes()) {
        Ok(bytes) => Ok(bytes_value(&bytes)),
        Err(at) => Ok(Value::from(format!(
            "illegal base64 data at input byte {at}"
        ))),
    }
}

/// `b32enc s`.
pub(super) fn b32enc(a: &[Value]) -> FuncResult {
    Ok(Value::from(b32encode(args::string(&a[0]).as_bytes())))
}

/// `b32dec s`: the decoded text, or Go's error text.
pub(super) fn b32dec(a: &[Value]) -> FuncResult {
    match b32decode(args::string(&a[0]).as_bytes()) {
        Ok(bytes) => Ok(bytes_value(&bytes)),
        Err(at) => Ok(Value::from(format!(
            "illegal base32 data at input byte {at}"
        ))),
    }
}

fn hex_digest(algorithm: &'static digest::Algorithm, a: &[Value]) -> FuncResult {
    let d = digest::digest(algorithm, args::string(&a[0]).as_bytes());
    Ok(Value::from(
        d.as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    ))
}

/// `sha1sum s`.
pub(super) fn sha1sum(a: &[Value]) -> FuncResult {
    hex_digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, a)
}

/// `sha256sum s`.
pub(super) fn sha256sum(a: &[Value]) -> FuncResult {
    hex_digest(&digest::SHA256, a)
}

/// `sha512sum s`.
pub(super) fn sha512sum(a: &[Value]) -> FuncResult {
    hex_digest(&digest::SHA512, a)
}

/// `adler32sum s`: the Adler-32 checksum, in decimal.
pub(super) fn adler32sum(a: &[Value]) -> FuncResult {
    const MOD: u32 = 65521;
    let (mut s1, mut s2) = (1u32, 0u32);
    for &b in args::string(&a[0]).as_bytes() {
        s1 = (s1 + u32::from(b)) % MOD;
        s2 = (s2 + s1) % MOD;
    }
    Ok(Value::from((s2 << 16 | s1).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Offsets checked with Go's encoding/base64 and encoding/base32.
    #[test]
    fn decodes_base64_with_go_errors() {
        assert_eq!(b64decode(b"YWJj=").unwrap_err(), 4);
        assert_eq!(b64decode(b"YW=j").unwrap_err(), 2);
        assert_eq!(b64decode(b"Y").unwrap_err(), 0);
        assert_eq!(b64decode(b"YWJjZA").unwrap_err(), 4);
        assert_eq!(b64decode(b"!!!!").unwrap_err(), 0);
        assert_eq!(b64decode(b"YWJj\nZA==").unwrap(), b"abcd");
        assert_eq!(b64decode(b"").unwrap(), b"");
        assert_eq!(b64encode(b"abcd"), "YWJjZA==");
    }

    #[test]
    fn round_trips_base32() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            let enc = b32encode(text.as_bytes());
            assert_eq!(b32decode(enc.as_bytes()).unwrap(), text.as_bytes(), "{enc}");
        }
        assert_eq!(b32encode(b"foobar"), "MZXW6YTBOI======");
    }
}
