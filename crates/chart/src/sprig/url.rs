//! `urlParse` and `urlJoin`: Go's `net/url` parsing and printing (percent-decoding of
//! the path, user info and fragment, the host checks, and the escaping `String` does).

use std::net::{Ipv4Addr, Ipv6Addr};

use slipway_template::{FuncResult, Value};

use super::args::{self, NIL_DEREFERENCE};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Fragment,
}

/// `net/url`'s `shouldEscape`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone)
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => return c == b'?',
            Mode::UserPassword => return matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::Fragment => return false,
            Mode::Host | Mode::Zone => {}
        },
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.to_ascii_lowercase().wrapping_sub(b'a') + 10,
    }
}

/// `net/url`'s `unescape`: the decoded bytes, or the error text.
fn unescape(s: &[u8], mode: Mode) -> Result<Vec<u8>, String> {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                if i + 2 >= s.len()
                    || !s[i + 1].is_ascii_hexdigit()
                    || !s[i + 2].is_ascii_hexdigit()
                {
                    let bad = &s[i..s.len().min(i + 3)];
                    return Err(escape_error(bad));
                }
                if mode == Mode::Host && unhex(s[i + 1]) < 8 && &s[i..i + 3] != b"%25" {
                    return Err(escape_error(&s[i..i + 3]));
                }
                if mode == Mode::Zone {
                    let v = unhex(s[i + 1]) << 4 | unhex(s[i + 2]);
                    if &s[i..i + 3] != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                        return Err(escape_error(&s[i..i + 3]));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!(
                        "invalid character {} in host name",
                        quote_bytes(&s[i..i + 1])
                    ));
                }
                i += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            out.push(unhex(s[i + 1]) << 4 | unhex(s[i + 2]));
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn quote_bytes(b: &[u8]) -> String {
    slipway_template::fmt::quote(&String::from_utf8_lossy(b))
}

fn escape_error(bad: &[u8]) -> String {
    format!("invalid URL escape {}", quote_bytes(bad))
}

/// `net/url`'s `escape`.
fn escape(s: &[u8], mode: Mode) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if should_escape(c, mode) {
            out.extend_from_slice(format!("%{c:02X}").as_bytes());
        } else {
            out.push(c);
        }
    }
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[derive(Default)]
struct Url {
    scheme: String,
    opaque: Vec<u8>,
    user: Option<(Vec<u8>, Option<Vec<u8>>)>,
    host: Vec<u8>,
    path: Vec<u8>,
    raw_path: Vec<u8>,
    omit_host: bool,
    force_query: bool,
    raw_query: Vec<u8>,
    fragment: Vec<u8>,
    raw_fragment: Vec<u8>,
}

fn valid_optional_port(port: &[u8]) -> bool {
    match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

fn find(s: &[u8], c: u8) -> Option<usize> {
    s.iter().position(|&b| b == c)
}

fn rfind(s: &[u8], c: u8) -> Option<usize> {
    s.iter().rposition(|&b| b == c)
}

/// `net/url`'s `parseHost`.
fn parse_host(scheme: &str, host: &[u8]) -> Result<Vec<u8>, String> {
    match rfind(host, b'[') {
        Some(i) if i > 0 => return Err("invalid IP-literal".into()),
        Some(_) => {
            let Some(close) = rfind(host, b']') else {
                return Err("missing ']' in host".into());
            };
            let colon_port = &host[close + 1..];
            if !valid_optional_port(colon_port) {
                return Err(format!(
                    "invalid port {} after host",
                    quote_bytes(colon_port)
                ));
            }
            let colon_port = unescape(colon_port, Mode::Host)?;
            let hostname = &host[1..close];
            let unescaped = match hostname.windows(3).position(|w| w == b"%25") {
                Some(z) => {
                    let mut h = unescape(&hostname[..z], Mode::Host)?;
                    h.extend(unescape(&hostname[z..], Mode::Zone)?);
                    h
                }
                None => unescape(hostname, Mode::Host)?,
            };
            check_ip_literal(&unescaped)?;
            let mut out = b"[".to_vec();
            out.extend(unescaped);
            out.push(b']');
            out.extend(colon_port);
            return Ok(out);
        }
        None => {}
    }
    if let Some(first) = find(host, b':') {
        let last = rfind(host, b':').unwrap_or(first);
        let at = if last != first && !(scheme == "http" || scheme == "https") {
            last
        } else {
            first
        };
        let colon_port = &host[at..];
        if !valid_optional_port(colon_port) {
            return Err(format!(
                "invalid port {} after host",
                quote_bytes(colon_port)
            ));
        }
    }
    unescape(host, Mode::Host)
}

/// What `netip.ParseAddr` accepts inside brackets: an IPv6 address (with an optional
/// zone), not an IPv4 one.
fn check_ip_literal(addr: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(addr);
    let (ip, zone) = match text.split_once('%') {
        Some((ip, zone)) => (ip, Some(zone)),
        None => (text.as_ref(), None),
    };
    if zone.is_none() && ip.parse::<Ipv4Addr>().is_ok() {
        return Err("invalid IP-literal".into());
    }
    if ip.parse::<Ipv6Addr>().is_err() || zone == Some("") {
        return Err(format!(
            "invalid host: ParseAddr({}): unable to parse IP",
            slipway_template::fmt::quote(&text)
        ));
    }
    Ok(())
}

fn valid_userinfo(s: &[u8]) -> bool {
    String::from_utf8_lossy(s).chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '-' | '.'
                    | '_'
                    | ':'
                    | '~'
                    | '!'
                    | '$'
                    | '&'
                    | '\''
                    | '('
                    | ')'
                    | '*'
                    | '+'
                    | ','
                    | ';'
                    | '='
                    | '%'
                    | '@'
            )
    })
}

/// `net/url`'s `parse` (without the fragment).
fn parse_no_fragment(raw: &[u8]) -> Result<Url, String> {
    if raw.iter().any(|&b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = Url::default();
    if raw == b"*" {
        url.path = b"*".to_vec();
        return Ok(url);
    }
    // The scheme: letters, then letters, digits, '+', '-' or '.', then ':'.
    let mut rest: &[u8] = raw;
    for (i, &c) in raw.iter().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => {
                url.scheme = text(&raw[..i]).to_ascii_lowercase();
                rest = &raw[i + 1..];
                break;
            }
            _ => break,
        }
    }
    let question_marks = rest.iter().filter(|&&b| b == b'?').count();
    if rest.last() == Some(&b'?') && question_marks == 1 {
        url.force_query = true;
        rest = &rest[..rest.len() - 1];
    } else if let Some(q) = find(rest, b'?') {
        url.raw_query = rest[q + 1..].to_vec();
        rest = &rest[..q];
    }
    if !rest.starts_with(b"/") {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_vec();
            return Ok(url);
        }
        let segment = &rest[..find(rest, b'/').unwrap_or(rest.len())];
        if segment.contains(&b':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with(b"///")) && rest.starts_with(b"//") {
        let mut authority = &rest[2..];
        rest = &[];
        if let Some(i) = find(authority, b'/') {
            rest = &authority[i..];
            authority = &authority[..i];
        }
        let (userinfo, host) = match rfind(authority, b'@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        url.host = parse_host(&url.scheme, host)?;
        if let Some(userinfo) = userinfo {
            if !valid_userinfo(userinfo) {
                return Err("net/url: invalid userinfo".into());
            }
            url.user = Some(match find(userinfo, b':') {
                None => (unescape(userinfo, Mode::UserPassword)?, None),
                Some(c) => (
                    unescape(&userinfo[..c], Mode::UserPassword)?,
                    Some(unescape(&userinfo[c + 1..], Mode::UserPassword)?),
                ),
            });
        }
    } else if !url.scheme.is_empty() && rest.starts_with(b"/") {
        url.omit_host = true;
    }
    url.path = unescape(rest, Mode::Path)?;
    if escape(&url.path, Mode::Path) != rest {
        url.raw_path = rest.to_vec();
    }
    Ok(url)
}

/// `url.Parse`, with its error text (`parse "URL": reason`).
fn parse(raw: &str) -> Result<Url, String> {
    let raw = raw.as_bytes();
    let (u, frag) = match find(raw, b'#') {
        Some(i) => (&raw[..i], &raw[i + 1..]),
        None => (raw, &raw[raw.len()..]),
    };
    let wrap = |url: &[u8], e: String| format!("parse {}: {e}", quote_bytes(url));
    let mut url = parse_no_fragment(u).map_err(|e| wrap(u, e))?;
    if frag.is_empty() {
        return Ok(url);
    }
    url.fragment = unescape(frag, Mode::Fragment).map_err(|e| wrap(raw, e))?;
    if escape(&url.fragment, Mode::Fragment) != frag {
        url.raw_fragment = frag.to_vec();
    }
    Ok(url)
}

fn valid_encoded(s: &[u8], mode: Mode) -> bool {
    s.iter().all(|&c| {
        matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'['
                | b']'
                | b'%'
        ) || !should_escape(c, mode)
    })
}

impl Url {
    fn userinfo(&self) -> Option<Vec<u8>> {
        self.user.as_ref().map(|(name, password)| {
            let mut s = escape(name, Mode::UserPassword);
            if let Some(p) = password {
                s.push(b':');
                s.extend(escape(p, Mode::UserPassword));
            }
            s
        })
    }

    fn hostname(&self) -> Vec<u8> {
        let mut host: &[u8] = &self.host;
        if let Some(colon) = rfind(host, b':')
            && valid_optional_port(&host[colon..])
        {
            host = &host[..colon];
        }
        if host.starts_with(b"[") && host.ends_with(b"]") && host.len() >= 2 {
            host = &host[1..host.len() - 1];
        }
        host.to_vec()
    }

    fn escaped_path(&self) -> Vec<u8> {
        if !self.raw_path.is_empty()
            && valid_encoded(&self.raw_path, Mode::Path)
            && unescape(&self.raw_path, Mode::Path).is_ok_and(|p| p == self.path)
        {
            return self.raw_path.clone();
        }
        if self.path == b"*" {
            return b"*".to_vec();
        }
        escape(&self.path, Mode::Path)
    }

    fn escaped_fragment(&self) -> Vec<u8> {
        if !self.raw_fragment.is_empty()
            && valid_encoded(&self.raw_fragment, Mode::Fragment)
            && unescape(&self.raw_fragment, Mode::Fragment).is_ok_and(|f| f == self.fragment)
        {
            return self.raw_fragment.clone();
        }
        escape(&self.fragment, Mode::Fragment)
    }

    /// `URL.String`.
    fn to_text(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        if !self.scheme.is_empty() {
            buf.extend_from_slice(self.scheme.as_bytes());
            buf.push(b':');
        }
        if !self.opaque.is_empty() {
            buf.extend_from_slice(&self.opaque);
        } else {
            let has_authority =
                !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some();
            let omitted = self.omit_host && self.host.is_empty() && self.user.is_none();
            if has_authority && !omitted {
                if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                    buf.extend_from_slice(b"//");
                }
                if let Some(ui) = self.userinfo() {
                    buf.extend(ui);
                    buf.push(b'@');
                }
                if !self.host.is_empty() {
                    buf.extend(escape(&self.host, Mode::Host));
                }
            }
            let path = self.escaped_path();
            if !path.is_empty() && path[0] != b'/' && !self.host.is_empty() {
                buf.push(b'/');
            }
            if buf.is_empty() {
                let segment = &path[..find(&path, b'/').unwrap_or(path.len())];
                if segment.contains(&b':') {
                    buf.extend_from_slice(b"./");
                }
            }
            buf.extend(path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            buf.push(b'?');
            buf.extend_from_slice(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            buf.push(b'#');
            buf.extend(self.escaped_fragment());
        }
        buf
    }
}

/// `urlParse s`: a dict of `scheme`, `host`, `hostname`, `path`, `query`, `opaque`,
/// `fragment` and `userinfo`.
pub(super) fn url_parse(a: &[Value]) -> FuncResult {
    let s = args::string(&a[0]);
    let url = parse(s).map_err(|e| format!("unable to parse url: {e}"))?;
    let out = Value::empty_map();
    if let Value::Map(m) = &out {
        let mut m = m.borrow_mut();
        let mut put = |k: &str, v: &[u8]| {
            m.insert(k.to_owned(), Value::from(text(v)));
        };
        put("scheme", url.scheme.as_bytes());
        put("host", &url.host);
        put("hostname", &url.hostname());
        put("path", &url.path);
        put("query", &url.raw_query);
        put("opaque", &url.opaque);
        put("fragment", &url.fragment);
        put("userinfo", &url.userinfo().unwrap_or_default());
    }
    Ok(out)
}

/// `urlJoin d`: the URL a dict like `urlParse`'s describes.
pub(super) fn url_join(a: &[Value]) -> FuncResult {
    let d = args::map(&a[0]);
    let field = |key: &str| -> Result<Vec<u8>, String> {
        let v = d.as_ref().and_then(|d| d.borrow().get(key).cloned());
        match v {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Some(Value::Nil) => Err(NIL_DEREFERENCE.into()),
            Some(other) => Err(format!(
                "unable to parse {key} key, must be of type string, but {} found",
                other.kind_name()
            )),
        }
    };
    let mut url = Url {
        scheme: text(&field("scheme")?),
        host: field("host")?,
        path: field("path")?,
        raw_query: field("query")?,
        opaque: field("opaque")?,
        fragment: field("fragment")?,
        ..Url::default()
    };
    let userinfo = field("userinfo")?;
    if !userinfo.is_empty() {
        let temp = format!("proto://{}@host", text(&userinfo));
        let parsed = parse(&temp).map_err(|e| format!("unable to parse userinfo in dict: {e}"))?;
        url.user = parsed.user;
    }
    Ok(Value::from(text(&url.to_text())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Vec<(String, String)> {
        let v = url_parse(&[Value::str(s)]).unwrap();
        let Value::Map(m) = v else { panic!() };
        m.borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    #[test]
    fn parses_as_net_url_does() {
        let got = parsed("https://user:p%40ss@example.com:8443/a%2Fb/c?x=1#frag%20x");
        let get = |k: &str| got.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("scheme"), "https");
        assert_eq!(get("host"), "example.com:8443");
        assert_eq!(get("hostname"), "example.com");
        assert_eq!(get("path"), "/a/b/c");
        assert_eq!(get("query"), "x=1");
        assert_eq!(get("fragment"), "frag x");
        assert_eq!(get("userinfo"), "user:p%40ss");
        assert_eq!(
            url_parse(&[Value::str("%zz")]).unwrap_err(),
            "unable to parse url: parse \"%zz\": invalid URL escape \"%zz\""
        );
    }
}
