//! A set of parsed templates, and running one.
use std::rc::Rc;

use crate::funcs::Funcs;
use crate::value::Value;

/// What `{{ .missing }}` on a map gives, as Go's `missingkey=` option says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// `<no value>` when printed (Go's default, and `missingkey=zero` on the maps
    /// templates see here, whose zero value is nil).
    #[default]
    Default,
    /// The map's zero value (`missingkey=zero`): for the `interface{}` maps templates see
    /// here that is a nil, so `.missing` prints `<no value>` but `.missing.x` fails with
    /// `nil pointer evaluating interface {}.x`, as Helm's renders do.
    Zero,
    /// An error (`missingkey=error`).
    Error,
}

/// A template error, worded as Go words it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The text does not parse: `template: NAME:LINE: MESSAGE`.
    #[error("{0}")]
    Parse(String),
    /// Running failed: `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.
    #[error("{0}")]
    Exec(String),
    /// A construct or function slipway knows but does not do, at `NAME:LINE:COL`.
    #[error("{what} is not supported by slipway (at {position})")]
    Unsupported {
        /// What is not supported, e.g. `sprig's genCA`.
        what: String,
        /// `NAME:LINE:COL`.
        position: String,
    },
}

/// A set of templates sharing one function table; each `define` adds a name.
///
/// A clone is a new set that starts with the same templates (Go's `Clone`); it shares
/// them with the original instead of copying them, so cloning a large set is cheap.
pub struct Template {
    pub(crate) funcs: Rc<Funcs>,
    /// The names of `funcs` and the builtins, made when first parsing (shared by clones).
    pub(crate) function_names: Rc<std::cell::OnceCell<crate::hash::FastSet<String>>>,
    pub(crate) trees: Rc<Trees>,
    pub(crate) missing_key: MissingKey,
    pub(crate) delims: (Rc<str>, Rc<str>),
}

impl Clone for Template {
    fn clone(&self) -> Template {
        Template {
            funcs: self.funcs.clone(),
            function_names: self.function_names.clone(),
            trees: Trees::layer(&self.trees),
            missing_key: self.missing_key,
            delims: self.delims.clone(),
        }
    }
}

/// The templates of a set by name: its own, then those of the set it was cloned from.
#[derive(Clone, Default)]
pub(crate) struct Trees {
    own: crate::hash::FastMap<String, Rc<crate::parse::Tree>>,
    base: Option<Rc<Trees>>,
}

impl Trees {
    /// A set that sees everything in `trees` and adds its own on top.
    fn layer(trees: &Rc<Trees>) -> Rc<Trees> {
        if trees.own.is_empty() && trees.base.is_some() {
            // Nothing of its own yet: share it as it is.
            return trees.clone();
        }
        Rc::new(Trees {
            own: crate::hash::FastMap::default(),
            base: Some(trees.clone()),
        })
    }

    /// The template called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Rc<crate::parse::Tree>> {
        let mut trees = self;
        loop {
            if let Some(t) = trees.own.get(name) {
                return Some(t);
            }
            trees = trees.base.as_deref()?;
        }
    }

    /// Adds (or replaces) a template.
    pub(crate) fn insert(&mut self, name: String, tree: Rc<crate::parse::Tree>) {
        self.own.insert(name, tree);
    }
}

impl Template {
    /// An empty set that will call `funcs`.
    pub fn new(funcs: Funcs) -> Template {
        Template {
            funcs: Rc::new(funcs),
            function_names: Rc::default(),
            trees: Rc::default(),
            missing_key: MissingKey::Default,
            delims: ("{{".into(), "}}".into()),
        }
    }

    /// Sets the action delimiters (Go's `Delims`).
    pub fn delims(&mut self, left: &str, right: &str) -> &mut Template {
        self.delims = (left.into(), right.into());
        self
    }

    /// Sets Go's `missingkey=` option.
    pub fn missing_key(&mut self, missing: MissingKey) -> &mut Template {
        self.missing_key = missing;
        self
    }

    /// Parses `text` as the template `name`, adding it and every template it defines to
    /// the set. As in Go, a later definition of a name replaces an earlier one unless the
    /// later body is empty.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), Error> {
        crate::parse::parse_into(self, name, text)
    }

    /// Parses each (name, text) in order, as [`Template::parse`] one after the other would
    /// (the work is shared by two threads when there is much of it). On failure, the index
    /// of the text that failed; the ones before it are in the set.
    pub fn parse_all(&mut self, texts: &[(&str, &str)]) -> Result<(), (usize, Error)> {
        crate::parse::parse_all(self, texts)
    }

    /// [`Template::parse_all`], taking each text `ahead` has parsed already (under the
    /// same name, with the same text, delimiters and functions) instead of parsing it
    /// again. The result is the same as `parse_all`'s.
    pub fn parse_all_ahead(
        &mut self,
        texts: &[(&str, &str)],
        ahead: crate::ParseAhead,
    ) -> Result<(), (usize, Error)> {
        crate::parse::parse_all_ahead(self, texts, ahead)
    }

    /// Whether the set holds a template called `name`.
    pub fn has(&self, name: &str) -> bool {
        self.trees.get(name).is_some()
    }

    /// Runs the template `name` on `data`.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, Error> {
        crate::exec::execute(self, name, data)
    }
}
