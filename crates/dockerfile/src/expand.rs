//! Word expansion: quotes, escapes and `$` forms, as BuildKit's shell lexer does it.

/// Expands one shell word as BuildKit does when it runs an instruction.
///
/// Quotes are removed (`'...'` is literal, `"..."` expands `$` forms and lets the escape
/// character escape `"`, `$` and itself), the escape character makes the next character
/// literal, and variables are substituted: `$VAR`, `${VAR}`, `${VAR:-word}`,
/// `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?message}`, `${VAR?message}`,
/// plus `${VAR#pattern}`, `${VAR##pattern}`, `${VAR%pattern}`, `${VAR%%pattern}`,
/// `${VAR/pattern/text}` and `${VAR//pattern/text}` (patterns take `*` and `?`). An unset
/// variable expands to "". Whitespace is kept: the result is one word.
///
/// Returns the error message on bad syntax (an unterminated quote or `${`, an unknown
/// modifier) or when a `?` form meets an unset (`:?`: or empty) variable.
pub fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    Lexer::new(word, escape, Some(lookup)).word()
}

/// Removes quotes and escapes from a word without expanding variables.
pub(crate) fn unquote(word: &str, escape: char) -> Result<String, String> {
    Lexer::new(word, escape, None).word()
}

use slipway_glob::{Pattern, Piece};

/// Tells whether the shell pattern matches all of `s`.
fn glob(pattern: &Pattern, s: &[char]) -> bool {
    pattern.matches(&s.iter().collect::<String>())
}

/// Looks a variable up by name.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(crate) struct Lexer<'a> {
    pub(crate) chars: Vec<char>,
    pub(crate) pos: usize,
    pub(crate) escape: char,
    /// Looks variables up; `None` keeps `$` literal (quote removal only).
    pub(crate) vars: Option<Lookup<'a>>,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(word: &str, escape: char, vars: Option<Lookup<'a>>) -> Lexer<'a> {
        Lexer {
            chars: word.chars().collect(),
            pos: 0,
            escape,
            vars,
        }
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.vars.and_then(|f| f(name))
    }

    /// Processes the whole input.
    pub(crate) fn word(&mut self) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.step(c, &mut out)?;
        }
        Ok(out)
    }

    /// Processes up to (and past) `stop`, which must come.
    pub(crate) fn until(&mut self, stop: char) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(format!("syntax error: missing '{stop}'")),
                Some(c) if c == stop => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => self.step(c, &mut out)?,
            }
        }
    }

    /// Processes the unquoted construct starting with `c`.
    pub(crate) fn step(&mut self, c: char, out: &mut String) -> Result<(), String> {
        match c {
            '\'' => out.push_str(&self.single_quoted()?),
            '"' => out.push_str(&self.double_quoted()?),
            '$' if self.vars.is_some() => out.push_str(&self.dollar()?),
            c if c == self.escape => {
                self.pos += 1;
                if let Some(n) = self.bump() {
                    out.push(n);
                }
            }
            c => {
                self.pos += 1;
                out.push(c);
            }
        }
        Ok(())
    }

    pub(crate) fn single_quoted(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err("unterminated single quote: no closing '".to_string()),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    pub(crate) fn double_quoted(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err("unterminated double quote: no closing \"".to_string()),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('$') if self.vars.is_some() => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.peek() {
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                out.push(n);
                            }
                            Some(_) => out.push(c),
                            None => {}
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }

    /// Reads a variable name: digits, one special character, or letters, digits and `_`.
    pub(crate) fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                    name.push(c);
                    self.pos += 1;
                }
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                self.pos += 1;
                name.push(c);
            }
            _ => {
                while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
                    name.push(c);
                    self.pos += 1;
                }
            }
        }
        name
    }

    /// Processes a `$` form.
    pub(crate) fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(self.get(&name).unwrap_or_default());
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_string()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_string()),
            _ => {}
        }
        let name = self.name();
        if name.is_empty() {
            return Err("syntax error: bad substitution".to_string());
        }
        let value = self.get(&name);
        let unset_error = |word: String| {
            let message = if word.is_empty() {
                "is not allowed to be unset".to_string()
            } else {
                word
            };
            format!("{name}: {message}")
        };
        match self.bump() {
            None => Err("syntax error: missing '}'".to_string()),
            Some('}') => Ok(value.unwrap_or_default()),
            Some('-') => {
                let word = self.until('}')?;
                Ok(value.unwrap_or(word))
            }
            Some('+') => {
                let word = self.until('}')?;
                Ok(if value.is_some() { word } else { String::new() })
            }
            Some('?') => {
                let word = self.until('}')?;
                value.ok_or_else(|| unset_error(word))
            }
            Some(':') => {
                let modifier = self.bump();
                if !matches!(modifier, Some('-' | '+' | '?')) {
                    return Err(match modifier {
                        None => "syntax error: missing '}'".to_string(),
                        Some(m) => format!("unsupported modifier (:{m}) in substitution"),
                    });
                }
                let word = self.until('}')?;
                let value = value.unwrap_or_default();
                match modifier {
                    Some('-') => Ok(if value.is_empty() { word } else { value }),
                    Some('+') => Ok(if value.is_empty() { value } else { word }),
                    _ if value.is_empty() => Err(unset_error(word)),
                    _ => Ok(value),
                }
            }
            Some(op @ ('#' | '%')) => {
                let longest = self.peek() == Some(op);
                if longest {
                    self.pos += 1;
                }
                let (pieces, _) = self.pattern(&['}'])?;
                let pattern = Pattern::text(pieces);
                let v: Vec<char> = value.unwrap_or_default().chars().collect();
                let n = v.len();
                let cut: Option<usize> = if op == '#' {
                    let mut ends = (0..=n).collect::<Vec<_>>();
                    if longest {
                        ends.reverse();
                    }
                    ends.into_iter().find(|&i| glob(&pattern, &v[..i]))
                } else {
                    let mut starts = (0..=n).collect::<Vec<_>>();
                    if !longest {
                        starts.reverse();
                    }
                    starts.into_iter().find(|&i| glob(&pattern, &v[i..]))
                };
                Ok(match (op, cut) {
                    ('#', Some(i)) => v[i..].iter().collect(),
                    (_, Some(i)) => v[..i].iter().collect(),
                    (_, None) => v.iter().collect(),
                })
            }
            Some('/') => {
                let all = self.peek() == Some('/');
                if all {
                    self.pos += 1;
                }
                let (pieces, stop) = self.pattern(&['/', '}'])?;
                let empty = pieces.is_empty();
                let pattern = Pattern::text(pieces);
                let replacement = if stop == '/' {
                    self.until('}')?
                } else {
                    String::new()
                };
                let v: Vec<char> = value.unwrap_or_default().chars().collect();
                let mut out = String::new();
                let mut i = 0;
                let mut replaced = false;
                while i < v.len() {
                    let end = if empty || (replaced && !all) {
                        None
                    } else {
                        (i + 1..=v.len()).rev().find(|&j| glob(&pattern, &v[i..j]))
                    };
                    match end {
                        Some(j) => {
                            out.push_str(&replacement);
                            i = j;
                            replaced = true;
                        }
                        None => {
                            out.push(v[i]);
                            i += 1;
                        }
                    }
                }
                Ok(out)
            }
            Some(c) => Err(format!("unsupported modifier ({c}) in substitution")),
        }
    }

    /// Reads a pattern up to one of `stops`: `*` and `?` are wildcards unless quoted or
    /// escaped. Returns the pattern and the stop character met.
    pub(crate) fn pattern(&mut self, stops: &[char]) -> Result<(Vec<Piece>, char), String> {
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err("syntax error: missing '}'".to_string());
            };
            if stops.contains(&c) {
                self.pos += 1;
                return Ok((out, c));
            }
            match c {
                '\'' => out.extend(self.single_quoted()?.chars().map(Piece::Lit)),
                '"' => out.extend(self.double_quoted()?.chars().map(Piece::Lit)),
                '$' => out.extend(self.dollar()?.chars().map(Piece::Lit)),
                '*' => {
                    self.pos += 1;
                    out.push(Piece::Any);
                }
                '?' => {
                    self.pos += 1;
                    out.push(Piece::One);
                }
                c if c == self.escape => {
                    self.pos += 1;
                    match self.bump() {
                        Some(n) => out.push(Piece::Lit(n)),
                        None => return Err("syntax error: missing '}'".to_string()),
                    }
                }
                c => {
                    self.pos += 1;
                    out.push(Piece::Lit(c));
                }
            }
        }
    }
}
