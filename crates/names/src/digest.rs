//! Content digests (`sha256:<hex>`) and streaming SHA-256.
//!
//! Only SHA-256 is supported: it is what every registry and the OCI image spec require, and
//! refusing the rest keeps a blob's file name and its digest in one-to-one correspondence.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::digest::{Context, SHA256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

const PREFIX: &str = "sha256:";
const HEX_LEN: usize = 64;

/// Identifies content by its SHA-256: `sha256:` and 64 lowercase hex digits.
///
/// Ordering and equality follow the text, so two digests are equal exactly when they name
/// the same content.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    // Always "sha256:" followed by 64 lowercase hex digits.
    text: String,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex digits>`.
    ///
    /// # Errors
    /// [`Error::InvalidDigest`], naming the input: no `algorithm:` prefix, an algorithm other
    /// than sha256, or a hex part of the wrong length or with characters other than `0-9a-f`.
    pub fn parse(s: &str) -> Result<Digest, Error> {
        let err = |why: String| Error::InvalidDigest {
            input: s.into(),
            why,
        };
        let Some((algorithm, hex)) = s.split_once(':') else {
            return Err(err("expected sha256:<64 hex digits>".into()));
        };
        if algorithm != "sha256" {
            return Err(err(format!(
                "the algorithm `{algorithm}` is not supported; only sha256 is"
            )));
        }
        if hex.len() != HEX_LEN {
            return Err(err(format!(
                "a sha256 digest has {HEX_LEN} hex digits, this one has {}",
                hex.len()
            )));
        }
        if let Some(c) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            let why = if c.is_ascii_hexdigit() {
                "hex digits must be lowercase".to_string()
            } else {
                format!("`{c}` is not a hex digit")
            };
            return Err(err(why));
        }
        Ok(Digest { text: s.into() })
    }

    /// Returns the SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        let mut h = Hasher::new();
        h.update(bytes);
        h.finish()
    }

    /// Returns the algorithm, always `sha256`.
    pub fn algorithm(&self) -> &str {
        &self.text[..PREFIX.len() - 1]
    }

    /// Returns the 64 lowercase hex digits.
    pub fn hex(&self) -> &str {
        &self.text[PREFIX.len()..]
    }

    /// Returns the whole digest, `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn from_bytes(bytes: &[u8]) -> Digest {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(PREFIX.len() + 2 * bytes.len());
        text.push_str(PREFIX);
        for b in bytes {
            text.push(DIGITS[usize::from(b >> 4)].into());
            text.push(DIGITS[usize::from(b & 0xf)].into());
        }
        Digest { text }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Computes a SHA-256 [`Digest`] over data given in pieces.
///
/// It also implements [`std::io::Write`], so `std::io::copy(&mut reader, &mut hasher)` hashes
/// a reader.
#[derive(Clone)]
pub struct Hasher {
    ctx: Context,
    len: u64,
}

impl Hasher {
    /// Starts an empty SHA-256 computation.
    pub fn new() -> Self {
        Hasher {
            ctx: Context::new(&SHA256),
            len: 0,
        }
    }

    /// Feeds more bytes.
    pub fn update(&mut self, b: &[u8]) {
        self.ctx.update(b);
        self.len += b.len() as u64;
    }

    /// Returns how many bytes were fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Returns whether no byte was fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ends the computation and returns the digest of everything fed.
    pub fn finish(self) -> Digest {
        Digest::from_bytes(self.ctx.finish().as_ref())
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher::new()
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &"sha256")
            .field("len", &self.len)
            .finish()
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn hashes_known_content_to_the_known_digest() {
        assert_eq!(Digest::sha256_of(b"").to_string(), EMPTY);
        assert_eq!(
            Digest::sha256_of(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn streaming_and_one_shot_hashing_agree() {
        let mut h = Hasher::new();
        h.update(b"hello ");
        std::io::Write::write_all(&mut h, b"world").unwrap();
        assert_eq!(h.len(), 11);
        assert_eq!(h.finish(), Digest::sha256_of(b"hello world"));
    }

    #[test]
    fn parses_and_formats_the_same_text() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(d.hex().len(), 64);
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(EMPTY.parse::<Digest>().unwrap(), d);
    }

    #[test]
    fn round_trips_through_json_as_a_string() {
        let d = Digest::parse(EMPTY).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{EMPTY}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:00\"").is_err());
    }

    #[test]
    fn refuses_malformed_digests_naming_the_input() {
        let upper = EMPTY.to_uppercase().replace("SHA256", "sha256");
        let sha512 = format!("sha512:{}", "a".repeat(128));
        let bad_char = format!("sha256:{}g", &EMPTY[7..70]);
        for (input, why) in [
            ("", "expected sha256:"),
            ("e3b0c442", "expected sha256:"),
            ("sha256:abc", "64 hex digits"),
            (sha512.as_str(), "only sha256"),
            (upper.as_str(), "lowercase"),
            (bad_char.as_str(), "`g` is not a hex digit"),
        ] {
            let err = Digest::parse(input).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::InvalidDigest { .. }), "{text}");
            assert!(text.contains(&format!("`{input}`")), "{text}");
            assert!(text.contains(why), "{input}: {text}");
        }
    }
}
