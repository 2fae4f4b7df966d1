//! Reading HTTP/1.1 requests in the small servers tests run (fake registries, proxies that
//! inject faults, the token server).

use std::io::BufRead;

/// One request, as a test server reads it.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// The request line and headers, each line ending in `\r\n`, without the blank line.
    pub head: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// Returns the value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Reads the next request from a connection; `None` when the connection ends first.
pub fn read_request<R: BufRead>(reader: &mut R) -> Option<HttpRequest> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let target = words.next().unwrap_or("").to_string();
    let mut req = HttpRequest {
        head,
        method,
        target,
        body: Vec::new(),
    };
    let len = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    req.body = vec![0; len];
    let _ = reader.read_exact(&mut req.body);
    Some(req)
}
