//! The function table a template calls into: Go's builtins, and whatever a caller adds
//! (sprig, Helm's own, werf's).

use std::rc::Rc;

use crate::value::Value;

/// What a function returns: a value, or the error Go would wrap as
/// `error calling NAME: MESSAGE`.
pub type FuncResult = Result<Value, String>;

/// How many arguments a function takes, checked before it is called, with Go's wording
/// (`wrong number of args for NAME: want 2 got 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exact(usize),
    /// At least this many (a Go variadic function).
    AtLeast(usize),
}

/// The body of a function.
pub type Body = Rc<dyn Fn(&mut Call<'_>, &[Value]) -> FuncResult>;

/// A parameter's Go type, for the conversions and errors Go's reflection gives when a
/// template passes an argument (`wrong type for value; expected int; got float64`,
/// `expected integer; found "x"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// `interface{}`: anything.
    Any,
    /// `string`.
    String,
    /// `int`.
    Int,
    /// `int64`.
    Int64,
    /// `float64`.
    Float64,
    /// `bool`.
    Bool,
    /// `[]interface{}`.
    List,
    /// `map[string]interface{}`.
    Map,
    /// `[]string`.
    Strings,
}

impl Type {
    /// The Go spelling.
    pub fn go_name(self) -> &'static str {
        match self {
            Type::Any => "interface {}",
            Type::String => "string",
            Type::Int => "int",
            Type::Int64 => "int64",
            Type::Float64 => "float64",
            Type::Bool => "bool",
            Type::List => "[]interface {}",
            Type::Map => "map[string]interface {}",
            Type::Strings => "[]string",
        }
    }
}

/// A function a template may call.
#[derive(Clone)]
pub struct Function {
    /// The arguments it takes.
    pub arity: Arity,
    /// The Go types of its fixed parameters, then of each variadic one; empty means all
    /// `interface{}`.
    pub params: (Vec<Type>, Option<Type>),
    /// The code.
    pub body: Body,
    /// Set for a function slipway knows by name but does not do: calling it is an
    /// [`Error::Unsupported`](crate::Error::Unsupported) naming this text and the call's
    /// position (parsing a template that mentions it still works, as in Go).
    pub unsupported: Option<String>,
}

/// What a running function may ask of the template that called it: run a named template
/// (Helm's `include`), or parse and run a string (Helm's `tpl`).
pub struct Call<'a> {
    pub(crate) host: &'a mut dyn CallHost,
}

/// The executor side of [`Call`].
pub(crate) trait CallHost {
    fn include(&mut self, name: &str, data: Value) -> Result<String, String>;
    fn tpl(&mut self, name: &str, text: &str, data: Value) -> Result<String, String>;
    fn template_name(&self) -> String;
    fn position(&self) -> String;
}

impl Call<'_> {
    /// Runs the template `name` (defined in the same set) on `data` and returns its text.
    pub fn include(&mut self, name: &str, data: Value) -> Result<String, String> {
        self.host.include(name, data)
    }

    /// Parses `text` as the template `name` in a copy of the running set (it sees the
    /// same defined templates, and may define more for its own run) and runs it on `data`.
    pub fn tpl(&mut self, name: &str, text: &str, data: Value) -> Result<String, String> {
        self.host.tpl(name, text, data)
    }

    /// The name of the template being run (the file, for Helm).
    pub fn template_name(&self) -> String {
        self.host.template_name()
    }

    /// `NAME:LINE:COL` of the call being run, as Go prints positions.
    pub fn position(&self) -> String {
        self.host.position()
    }
}

/// A function table.
#[derive(Clone, Default)]
pub struct Funcs {
    map: crate::hash::FastMap<String, Function>,
}

impl Funcs {
    /// Go's builtins only.
    pub fn builtins() -> Funcs {
        let mut funcs = Funcs::default();
        crate::builtins::register(&mut funcs);
        funcs
    }

    /// Adds (or replaces) a function.
    pub fn add(
        &mut self,
        name: &str,
        arity: Arity,
        body: impl Fn(&mut Call<'_>, &[Value]) -> FuncResult + 'static,
    ) {
        self.map.insert(
            name.to_owned(),
            Function {
                arity,
                body: Rc::new(body),
                params: (Vec::new(), None),
                unsupported: None,
            },
        );
    }

    /// Adds a function slipway knows but refuses to run; `what` names it, e.g.
    /// `sprig's genCA (it would make a new key on every render)`.
    pub fn refuse(&mut self, name: &str, what: &str) {
        self.map.insert(
            name.to_owned(),
            Function {
                arity: Arity::AtLeast(0),
                body: Rc::new(|_, _| Err("unsupported".into())),
                params: (Vec::new(), None),
                unsupported: Some(what.to_owned()),
            },
        );
    }

    /// Adds a function that needs nothing from the running template.
    pub fn add_plain(
        &mut self,
        name: &str,
        arity: Arity,
        body: impl Fn(&[Value]) -> FuncResult + 'static,
    ) {
        self.add(name, arity, move |_, args| body(args));
    }

    /// Declares the Go parameter types of `name` (already added): `fixed` for its fixed
    /// parameters, `variadic` for each further one. Arguments are then converted and
    /// checked as Go's reflection does before the body runs.
    pub fn typed(&mut self, name: &str, fixed: &[Type], variadic: Option<Type>) {
        if let Some(f) = self.map.get_mut(name) {
            f.params = (fixed.to_vec(), variadic);
        }
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<&Function> {
        self.map.get(name)
    }

    /// Whether `name` is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Every name, in no order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Every name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.map.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}
