//! The glob `.Files.Glob` takes (gobwas/glob with `/` as the separator): `*` stays
//! inside one path segment, `**` crosses them, `?` is one character that is not `/`,
//! `[abc]`, `[a-z]` and `[!abc]` are classes, `{a,b}` are alternatives, `\` escapes.

/// A compiled glob.
pub struct Glob(regex::Regex);

impl Glob {
    /// Compiles `pattern`; an error for unclosed classes or alternatives.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let mut re = String::from("^(?s:");
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        let mut depth = 0usize;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    re.push_str(".*");
                    i += 1;
                }
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                '[' => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|c| *c == ']')
                        .ok_or("unexpected end of input")?;
                    let body: String = chars[i + 1..i + 1 + close].iter().collect();
                    let (neg, body) = match body.strip_prefix('!') {
                        Some(b) => (true, b.to_owned()),
                        None => (false, body),
                    };
                    if body.is_empty() {
                        return Err("empty character class".into());
                    }
                    re.push('[');
                    if neg {
                        re.push('^');
                    }
                    for ch in body.chars() {
                        if ch == '-' {
                            re.push('-');
                        } else {
                            re.push_str(&regex::escape(&ch.to_string()));
                        }
                    }
                    re.push(']');
                    i += close + 1;
                }
                '{' => {
                    depth += 1;
                    re.push_str("(?:");
                }
                '}' if depth > 0 => {
                    depth -= 1;
                    re.push(')');
                }
                ',' if depth > 0 => re.push('|'),
                '\\' => {
                    i += 1;
                    let next = chars.get(i).ok_or("unexpected end of input")?;
                    re.push_str(&regex::escape(&next.to_string()));
                }
                other => re.push_str(&regex::escape(&other.to_string())),
            }
            i += 1;
        }
        if depth > 0 {
            return Err("unexpected end of input".into());
        }
        re.push_str(")$");
        regex::Regex::new(&re).map(Glob).map_err(|e| e.to_string())
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        self.0.is_match(name)
    }
}

/// Standard base64 with padding, as `.Files.AsSecrets` encodes.
pub fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_stay_in_a_segment_and_double_stars_cross() {
        let g = Glob::new("files/*.conf").unwrap();
        assert!(g.matches("files/a.conf"));
        assert!(!g.matches("files/sub/a.conf"));
        let g = Glob::new("files/**.conf").unwrap();
        assert!(g.matches("files/sub/a.conf"));
        let g = Glob::new("{a,b}/[!x]?").unwrap();
        assert!(g.matches("a/yz"));
        assert!(!g.matches("b/xz"));
        assert!(Glob::new("[abc").is_err());
    }
}
