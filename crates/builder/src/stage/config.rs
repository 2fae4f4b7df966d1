//! The image config a stage edits (ENV, CMD, HEALTHCHECK...), Go durations, and
//! `--chown`/`--chmod` values.

use serde_json::{Map, Value, json};

use slipway_dockerfile::{Command, Healthcheck};

pub(crate) fn env_of(config: &Map<String, Value>) -> Vec<(String, String)> {
    config
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv.to_string(), String::new()),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn object_at<'m>(
    config: &'m mut Map<String, Value>,
    key: &str,
) -> &'m mut Map<String, Value> {
    let v = config
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().expect("an object")
}

pub(crate) fn command_value(c: &Command, shell: &[String]) -> Value {
    match c {
        Command::Exec(list) => json!(list),
        Command::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            json!(v)
        }
    }
}

pub(crate) fn healthcheck_value(h: &Healthcheck) -> Result<Value, String> {
    match h {
        Healthcheck::None => Ok(json!({"Test": ["NONE"]})),
        Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let test = match test {
                Command::Exec(list) => {
                    let mut v = vec!["CMD".to_string()];
                    v.extend(list.iter().cloned());
                    v
                }
                Command::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
            };
            let mut m = Map::new();
            m.insert("Test".into(), json!(test));
            for (key, v) in [
                ("Interval", interval),
                ("Timeout", timeout),
                ("StartPeriod", start_period),
                ("StartInterval", start_interval),
            ] {
                if let Some(v) = v {
                    m.insert(key.into(), json!(parse_duration(v)?));
                }
            }
            if let Some(r) = retries {
                m.insert("Retries".into(), json!(r));
            }
            Ok(Value::Object(m))
        }
    }
}

/// Parses a HEALTHCHECK duration into nanoseconds, with Go's rules (the one parser the
/// Dockerfile crate also checks them with).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    slipway_dockerfile::parse_go_duration(s).map_err(|e| format!("HEALTHCHECK: {e}"))
}

/// One part of a `--chown` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrName {
    /// A numeric id (`root` is 0).
    Id(u64),
    /// A user or group name, looked up in the stage's `/etc/passwd` or `/etc/group`.
    Name(String),
}

impl IdOrName {
    /// Reads a user or group as BuildKit does (`strconv.ParseUint(s, 10, 32)`, else a
    /// name); digits that do not fit 32 bits are refused, since no image can hold them.
    pub(crate) fn parse(p: &str) -> Result<IdOrName, String> {
        if p == "root" {
            return Ok(IdOrName::Id(0));
        }
        if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            return check_id(p).map(IdOrName::Id);
        }
        Ok(IdOrName::Name(p.to_string()))
    }
}

/// Reads a numeric user or group id; Linux ids are 32-bit, so anything above 4294967295 is
/// refused, naming the value.
pub fn check_id(digits: &str) -> Result<u64, String> {
    digits.parse::<u32>().map(u64::from).map_err(|_| {
        format!("{digits} is not a valid user or group id (ids are 32-bit: at most 4294967295)")
    })
}

/// Checks a `USER` value (`user[:group]`): a numeric part must be a 32-bit id.
///
/// # Errors
/// A part of digits beyond 32 bits, naming it.
pub fn check_user(value: &str) -> Result<(), String> {
    for part in value.split(':') {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            check_id(part).map_err(|m| format!("USER {value}: {m}"))?;
        }
    }
    Ok(())
}

/// A `--chown=user[:group]` value, as BuildKit reads it: a numeric user alone also sets the
/// group to the same number; a user name alone sets the group to that user's primary group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chown {
    /// The user part.
    pub user: IdOrName,
    /// The group part, when given.
    pub group: Option<IdOrName>,
}

impl Chown {
    /// Parses a `--chown` value.
    ///
    /// # Errors
    /// An empty user or group, naming the value.
    pub fn parse(s: &str) -> Result<Chown, String> {
        let (u, g) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        if u.is_empty() || g.is_some_and(str::is_empty) {
            return Err(format!(
                "--chown={s}: expected USER or USER:GROUP, each a name or a number"
            ));
        }
        let part = |p: &str| IdOrName::parse(p).map_err(|m| format!("--chown={s}: {m}"));
        Ok(Chown {
            user: part(u)?,
            group: g.map(part).transpose()?,
        })
    }

    /// Returns the ids when no part is a name.
    pub fn numeric(&self) -> Option<(u64, u64)> {
        match (&self.user, &self.group) {
            (IdOrName::Id(u), None) => Some((*u, *u)),
            (IdOrName::Id(u), Some(IdOrName::Id(g))) => Some((*u, *g)),
            _ => None,
        }
    }

    /// Tells whether a part is a name, so the stage's account files are needed.
    pub fn needs_lookup(&self) -> bool {
        self.numeric().is_none()
    }

    /// Resolves the ids with the contents of the stage's `/etc/passwd` and `/etc/group`
    /// (`None` when the file is not in the image).
    ///
    /// # Errors
    /// A name that the file does not list, or a missing file, naming both.
    pub fn resolve(
        &self,
        passwd: Option<&[u8]>,
        group: Option<&[u8]>,
    ) -> Result<(u64, u64), String> {
        let (uid, primary) = match &self.user {
            IdOrName::Id(u) => (*u, *u),
            IdOrName::Name(n) => {
                let fields = lookup(passwd, "/etc/passwd", n)?;
                match (fields.first(), fields.get(1)) {
                    (Some(u), Some(g)) => (*u, *g),
                    _ => return Err(format!("/etc/passwd: the line for `{n}` has no ids")),
                }
            }
        };
        let gid = match &self.group {
            None => primary,
            Some(IdOrName::Id(g)) => *g,
            Some(IdOrName::Name(n)) => *lookup(group, "/etc/group", n)?
                .first()
                .ok_or_else(|| format!("/etc/group: the line for `{n}` has no id"))?,
        };
        Ok((uid, gid))
    }
}

/// Finds `name` in an account file (`name:password:id[:id]:...`) and returns the numeric
/// fields after the password, up to the first that is not a number.
pub(crate) fn lookup(file: Option<&[u8]>, which: &str, name: &str) -> Result<Vec<u64>, String> {
    let Some(file) = file else {
        return Err(format!(
            "--chown: `{name}` is a name, and the image has no {which} to look it up in; \
             use numeric ids (e.g. --chown=1000:1000)"
        ));
    };
    let text = String::from_utf8_lossy(file);
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split(':').next() == Some(name))
        .map(|l| {
            l.split(':')
                .skip(2)
                .map_while(|f| f.trim().parse::<u32>().ok().map(u64::from))
                .collect()
        })
        .ok_or_else(|| format!("--chown: no `{name}` in the image's {which}"))
}

pub(crate) fn parse_chmod(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("--chmod={s}: give octal permission bits, e.g. --chmod=0755"))
}

/// Substitutes `$NAME` and `${NAME}` in a heredoc body (a `\$` stays a literal `$`).
pub(crate) fn substitute(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
        } else if c == '$' && chars.get(i + 1) == Some(&'{') {
            match chars[i + 2..].iter().position(|&c| c == '}') {
                Some(end) => {
                    let name: String = chars[i + 2..i + 2 + end].iter().collect();
                    out.push_str(&lookup(&name).unwrap_or_default());
                    i += end + 3;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else if c == '$' && chars.get(i + 1).is_some_and(|&c| is_name(c)) {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| !is_name(c))
                .map_or(chars.len(), |p| i + 1 + p);
            let name: String = chars[i + 1..end].iter().collect();
            out.push_str(&lookup(&name).unwrap_or_default());
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}
