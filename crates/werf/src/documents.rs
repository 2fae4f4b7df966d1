//! Splitting `werf.yaml` into its YAML documents as werf does, and reading a document
//! into nodes that keep their places.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

pub(crate) struct Chunk<'a> {
    pub(crate) number: usize,
    pub(crate) first_line: u64,
    pub(crate) text: &'a str,
    pub(crate) blank: bool,
}

/// Splits the text at `---` lines (optionally followed by blanks and a comment), as werf
/// does. A blank preamble before the first separator is not numbered.
pub(crate) fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut raw: Vec<(u64, &str)> = vec![];
    let mut start = 0usize;
    let mut start_line = 1u64;
    let mut pos = 0usize;
    for (line_no, line) in (1u64..).zip(text.split_inclusive('\n')) {
        let end = pos + line.len();
        if is_separator(line) {
            raw.push((start_line, &text[start..pos]));
            start = end;
            start_line = line_no + 1;
        }
        pos = end;
    }
    raw.push((start_line, &text[start..]));
    let first_blank = is_blank(raw[0].1);
    raw.into_iter()
        .enumerate()
        .filter(|(i, _)| !(*i == 0 && first_blank))
        .map(|(i, (first_line, text))| Chunk {
            number: if first_blank { i } else { i + 1 },
            first_line,
            text,
            blank: is_blank(text),
        })
        .collect()
}

pub(crate) fn is_separator(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("---") else {
        return false;
    };
    let rest = rest.trim_end_matches(['\n', '\r']);
    if rest.is_empty() {
        return true;
    }
    if !rest.starts_with([' ', '\t']) {
        return false;
    }
    let rest = rest.trim_start();
    rest.is_empty() || rest.starts_with('#')
}

pub(crate) fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#')
    })
}

// ---------------------------------------------------------------------------------------
// A YAML tree with locations.

pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl Node {
    pub(crate) fn what(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) | Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Node, D2::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Int(v.into()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Node, E> {
                i128::try_from(v)
                    .map(Node::Int)
                    .map_err(|_| E::custom("integer is too large"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut items = vec![];
                while let Some(x) = a.next_element()? {
                    items.push(x);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut items = vec![];
                while let Some(kv) = a.next_entry()? {
                    items.push(kv);
                }
                Ok(Node::Map(items))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------
// Checking documents.

/// The keys of a Stapel image (werf's own builder), which slipway does not implement.
pub(crate) const STAPEL_KEYS: &[&str] = &[
    "artifact",
    "from",
    "fromImage",
    "fromArtifact",
    "fromImageArtifact",
    "fromLatest",
    "fromCacheVersion",
    "herebyIAdmitThatFromLatestMightBreakReproducibility",
    "disableGitAfterPatch",
    "git",
    "shell",
    "ansible",
    "import",
    "mount",
    "docker",
    "beforeInstall",
    "install",
    "beforeSetup",
    "setup",
    "asLayers",
];

pub(crate) const IMAGE_KEYS: &str = "image, dockerfile, context, contextAddFiles (or contextAddFile), \
     target, args, addHost, network, cacheVersion, platform, dependencies, secrets, ssh, final, imageSpec, staged";
pub(crate) const META_KEYS: &str = "project, configVersion, build (cacheVersion, platform, imageSpec, staged), deploy, cleanup, gitWorktree";
