//! Running a tree, with Go's semantics: how fields, maps, variables, pipelines and calls
//! evaluate, what prints, and how each failure is worded
//! (`template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`).
//!
//! Like Go's executor, this one marks the node it is evaluating as it goes; an error names
//! the last node marked, so the node in a message is the one Go would name.

use std::fmt::Display;
use std::rc::Rc;

use crate::funcs::{Arity, Call, CallHost, Funcs, Type};
use crate::parse::{Arg, Branch, Command, List, Node, Number, Pipe, Tree};
use crate::template::{Error, MissingKey, Template};
use crate::value::{Elem, Value};

/// Go's limit on nested template calls.
const MAX_DEPTH: usize = 100_000;

/// The functions every template has, whatever the caller adds.
pub(crate) fn builtin_names() -> impl Iterator<Item = String> {
    let builtins = BUILTINS.with(|b| *b);
    ["and", "or", "call"]
        .into_iter()
        .chain(builtins.names())
        .map(str::to_owned)
}

thread_local! {
    /// Made once per thread and kept for the life of the process, so a call can borrow a
    /// builtin instead of copying it.
    static BUILTINS: &'static Funcs = Box::leak(Box::new(Funcs::builtins()));
}

/// A value on its way through a pipeline. `None` is Go's invalid value (a missing key);
/// `Some(Value::Nil)` is a nil `interface{}`.
type Val = Option<Value>;

/// Why a walk stopped early.
enum Stop {
    Break,
    Continue,
    Fail(Error),
}

type R<T> = Result<T, Stop>;

/// A receiver and whether its static type is `interface{}` (a map's or list's element),
/// which only changes how Go names its type in errors.
#[derive(Clone)]
struct Recv {
    v: Val,
    iface: bool,
}

impl Recv {
    fn new(v: Val) -> Recv {
        Recv { v, iface: false }
    }
}

/// The node being evaluated.
#[derive(Clone, Copy)]
enum At<'a> {
    Node(&'a Node),
    Branch(&'a Branch, &'static str),
    Pipe(&'a Pipe),
    Cmd(&'a Command),
    Arg(&'a Arg),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Node(n) => n.pos(),
            At::Branch(b, _) => b.pos,
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Arg(a) => a.pos(),
        }
    }
}

impl Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Node(n) => write!(f, "{n}"),
            At::Branch(b, word) => {
                let node = match *word {
                    "if" => Node::If((*b).clone()),
                    "with" => Node::With((*b).clone()),
                    _ => Node::Range((*b).clone()),
                };
                write!(f, "{node}")
            }
            At::Pipe(p) => write!(f, "{p}"),
            At::Cmd(c) => write!(f, "{c}"),
            At::Arg(a) => write!(f, "{a}"),
        }
    }
}

struct State<'t, 'a> {
    template: &'t Template,
    tree: &'a Tree,
    at: Option<At<'a>>,
    vars: Vec<(&'a str, Val)>,
    depth: usize,
    out: String,
}

pub(crate) fn execute(t: &Template, name: &str, data: &Value) -> Result<String, Error> {
    let Some(tree) = t.trees.get(name).cloned() else {
        return Err(Error::Exec(format!(
            "template: no template {} associated with template {}",
            crate::fmt::quote(name),
            crate::fmt::quote(name)
        )));
    };
    run(t, &tree, data.clone(), 0)
}

fn run(t: &Template, tree: &Rc<Tree>, data: Value, depth: usize) -> Result<String, Error> {
    let mut s = State {
        template: t,
        tree,
        at: None,
        vars: vec![("$", Some(data.clone()))],
        depth,
        out: String::new(),
    };
    match s.walk_list(&Recv::new(Some(data)), &tree.root) {
        Ok(()) | Err(Stop::Break | Stop::Continue) => Ok(s.out),
        Err(Stop::Fail(e)) => Err(e),
    }
}

impl<'t, 'a> State<'t, 'a> {
    fn at(&mut self, at: At<'a>) {
        self.at = Some(at);
    }

    /// Go's `errorf`: the message, with the location and text of the node marked last.
    fn errorf(&self, msg: impl Display) -> Stop {
        let name = crate::fmt::quote(&self.tree.name);
        Stop::Fail(Error::Exec(match &self.at {
            None => format!("template: {}: {msg}", self.tree.name),
            Some(at) => format!(
                "template: {}: executing {name} at <{at}>: {msg}",
                self.tree.location(at.pos()),
            ),
        }))
    }

    fn unsupported(&self, what: &str) -> Stop {
        let pos = self.at.as_ref().map_or(0, At::pos);
        Stop::Fail(Error::Unsupported {
            what: what.to_owned(),
            position: self.tree.location(pos),
        })
    }

    fn walk_list(&mut self, dot: &Recv, list: &'a List) -> R<()> {
        for node in &list.nodes {
            self.walk(dot, node)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Recv, node: &'a Node) -> R<()> {
        self.at(At::Node(node));
        match node {
            Node::Text(t) => {
                self.out.push_str(t);
                Ok(())
            }
            Node::Action { pipe, .. } => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at(At::Node(node));
                    match v {
                        None => self.out.push_str("<no value>"),
                        // What `%v` prints of a string is the string.
                        Some(Value::String(s)) => self.out.push_str(&s),
                        Some(v) => self.out.push_str(&crate::fmt::display(&v)),
                    }
                }
                Ok(())
            }
            Node::If(b) => self.walk_if_or_with(dot, b, false),
            Node::With(b) => self.walk_if_or_with(dot, b, true),
            Node::Range(b) => self.walk_range(dot, b),
            Node::Template { name, pipe, .. } => self.walk_template(dot, name, pipe),
            Node::Break { .. } => Err(Stop::Break),
            Node::Continue { .. } => Err(Stop::Continue),
        }
    }

    fn walk_if_or_with(&mut self, dot: &Recv, b: &'a Branch, with: bool) -> R<()> {
        let mark = self.vars.len();
        let r = (|| {
            let v = self.eval_pipeline(dot, &b.pipe)?;
            if v.as_ref().is_some_and(Value::truthy) {
                if with {
                    self.walk_list(&Recv::new(v), &b.list)
                } else {
                    self.walk_list(dot, &b.list)
                }
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &Recv, b: &'a Branch) -> R<()> {
        self.at(At::Branch(b, "range"));
        let mark = self.vars.len();
        let r = self.walk_range_inner(dot, b);
        self.vars.truncate(mark);
        match r {
            Err(Stop::Break) => Ok(()),
            other => other,
        }
    }

    fn range_once(&mut self, b: &'a Branch, index: Val, elem: Val) -> R<()> {
        let decl = &b.pipe.decl;
        let mark = self.vars.len();
        if !decl.is_empty() {
            if b.pipe.is_assign {
                let first = if decl.len() > 1 { &index } else { &elem };
                self.set_var(&decl[0], first.clone())?;
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                self.set_var(&decl[1], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let inner = Recv {
            v: elem,
            iface: true,
        };
        let r = self.walk_list(&inner, &b.list);
        self.vars.truncate(mark);
        match r {
            Err(Stop::Continue) => Ok(()),
            other => other,
        }
    }

    fn walk_range_inner(&mut self, dot: &Recv, b: &'a Branch) -> R<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        match &val {
            Some(Value::Int(n)) => {
                if b.pipe.decl.len() > 1 {
                    return Err(self.errorf(format!(
                        "can't use {n} to iterate over more than one variable"
                    )));
                }
                if *n > 0 {
                    for i in 0..*n {
                        self.range_once(b, None, Some(Value::Int(i)))?;
                    }
                    return Ok(());
                }
            }
            Some(Value::List(items)) if !items.is_empty() => {
                let items = items.clone();
                for (i, item) in items.iter().enumerate() {
                    self.range_once(b, Some(Value::Int(i as i64)), Some(item.clone()))?;
                }
                return Ok(());
            }
            Some(Value::Bytes(bytes)) if !bytes.is_empty() => {
                let bytes = bytes.clone();
                for (i, byte) in bytes.iter().enumerate() {
                    let elem = Some(Value::Int(i64::from(*byte)));
                    self.range_once(b, Some(Value::Int(i as i64)), elem)?;
                }
                return Ok(());
            }
            Some(Value::Map(m)) if !m.borrow().is_empty() => {
                let m = m.clone();
                let keys: Vec<String> = m.borrow().keys().cloned().collect();
                for k in keys {
                    let v = m.borrow().get(&k).cloned().unwrap_or(Value::Nil);
                    self.range_once(b, Some(Value::str(&k)), Some(v))?;
                }
                return Ok(());
            }
            Some(Value::Object(o)) if o.entries().is_some_and(|e| !e.is_empty()) => {
                for (k, v) in o.entries().unwrap_or_default() {
                    self.range_once(b, Some(k), Some(v))?;
                }
                return Ok(());
            }
            Some(Value::Object(o)) if o.entries().is_some() => {}
            Some(Value::List(_) | Value::Map(_) | Value::Bytes(_) | Value::Nil) | None => {}
            Some(other) => {
                return Err(self.errorf(format!(
                    "range can't iterate over {}",
                    crate::fmt::display(other)
                )));
            }
        }
        if let Some(e) = &b.else_list {
            self.walk_list(dot, e)?;
        }
        Ok(())
    }

    fn walk_template(&mut self, dot: &Recv, name: &str, pipe: &'a Option<Pipe>) -> R<()> {
        let Some(tree) = self.template.trees.get(name).cloned() else {
            return Err(self.errorf(format!("template {} not defined", crate::fmt::quote(name))));
        };
        if self.depth >= MAX_DEPTH {
            return Err(self.errorf(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        let v = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => dot.v.clone(),
        };
        let mut inner = State {
            template: self.template,
            tree: &tree,
            at: None,
            vars: vec![("$", v.clone())],
            depth: self.depth + 1,
            out: std::mem::take(&mut self.out),
        };
        let r = inner.walk_list(&Recv::new(v), &tree.root);
        self.out = std::mem::take(&mut inner.out);
        match r {
            Err(Stop::Break | Stop::Continue) => Ok(()),
            other => other,
        }
    }

    fn set_var(&mut self, name: &str, v: Val) -> R<()> {
        for (n, slot) in self.vars.iter_mut().rev() {
            if *n == name {
                *slot = v;
                return Ok(());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn set_top_var(&mut self, n: usize, v: Val) {
        let len = self.vars.len();
        self.vars[len - n].1 = v;
    }

    fn var_value(&self, name: &str) -> R<Val> {
        for (n, v) in self.vars.iter().rev() {
            if *n == name {
                return Ok(v.clone());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn eval_pipeline(&mut self, dot: &Recv, pipe: &'a Pipe) -> R<Val> {
        self.at(At::Pipe(pipe));
        let mut value: Option<Val> = None; // None: Go's missingVal (no final argument)
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // An interface{} holding nil digs down to the invalid value.
            value = Some(match v {
                Some(Value::Nil) => None,
                other => other,
            });
        }
        let value = value.unwrap_or(None);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name, value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<Val>) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.errorf(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Recv, cmd: &'a Command, fin: Option<Val>) -> R<Val> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at(At::Arg(first));
                return self.eval_field_chain(dot, dot.clone(), idents, &cmd.args, fin);
            }
            Arg::Chain { node, fields, .. } => {
                return self.eval_chain(dot, first, node, fields, &cmd.args, fin);
            }
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, name, At::Cmd(cmd), &cmd.args, fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { idents, .. } => {
                return self.eval_variable(dot, first, idents, &cmd.args, fin);
            }
            _ => {}
        }
        self.at(At::Arg(first));
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool { value, .. } => Ok(Some(Value::Bool(*value))),
            Arg::Dot { .. } => Ok(dot.v.clone()),
            Arg::Nil { .. } => Err(self.errorf("nil is not a command")),
            Arg::Number { number, .. } => self.ideal_constant(first, number).map(Some),
            Arg::String { text, .. } => Ok(Some(Value::str(text))),
            _ => unreachable!("handled above"),
        }
    }

    fn ideal_constant(&mut self, node: &'a Arg, n: &Number) -> R<Value> {
        self.at(At::Arg(node));
        let text = &n.text;
        let hex_int = text.len() > 2
            && text.starts_with('0')
            && matches!(text.as_bytes()[1], b'x' | b'X')
            && !text.contains(['p', 'P']);
        let rune = text.starts_with('\'');
        if let Some(f) = n.float
            && !hex_int
            && !rune
            && text.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        if let Some(i) = n.int {
            return Ok(Value::Int(i));
        }
        if n.uint.is_some() {
            return Err(self.errorf(format!("{text} overflows int")));
        }
        Ok(Value::Nil)
    }

    fn eval_chain(
        &mut self,
        dot: &Recv,
        me: &'a Arg,
        node: &'a Arg,
        fields: &[String],
        args: &'a [Arg],
        fin: Option<Val>,
    ) -> R<Val> {
        self.at(At::Arg(me));
        if let Arg::Nil { .. } = node {
            return Err(self.errorf(format!("indirection through explicit nil in {me}")));
        }
        let v = self.eval_arg(dot, Type::Any, node, true)?;
        self.at(At::Arg(me));
        self.eval_field_chain(dot, Recv::new(v), fields, args, fin)
    }

    fn eval_variable(
        &mut self,
        dot: &Recv,
        me: &'a Arg,
        idents: &[String],
        args: &'a [Arg],
        fin: Option<Val>,
    ) -> R<Val> {
        self.at(At::Arg(me));
        let v = self.var_value(&idents[0])?;
        if idents.len() == 1 {
            self.not_a_function(args, &fin)?;
            return Ok(v);
        }
        self.eval_field_chain(dot, Recv::new(v), &idents[1..], args, fin)
    }

    /// `.X.Y.Z`, perhaps with arguments for the last; the node is already marked.
    fn eval_field_chain(
        &mut self,
        dot: &Recv,
        mut receiver: Recv,
        idents: &[String],
        args: &'a [Arg],
        fin: Option<Val>,
    ) -> R<Val> {
        let node = self.at;
        let n = idents.len();
        for ident in &idents[..n - 1] {
            receiver = self.eval_field(dot, ident, &[], None, receiver, node)?;
        }
        let last = self.eval_field(dot, &idents[n - 1], args, fin, receiver, node)?;
        Ok(last.v)
    }

    fn eval_field(
        &mut self,
        dot: &Recv,
        name: &str,
        args: &'a [Arg],
        fin: Option<Val>,
        receiver: Recv,
        node: Option<At<'a>>,
    ) -> R<Recv> {
        let Some(value) = &receiver.v else {
            if self.template.missing_key == MissingKey::Error {
                return Err(self.errorf(format!(
                    "nil data; no entry for key {}",
                    crate::fmt::quote(name)
                )));
            }
            return Ok(Recv::new(None));
        };
        // Only errors name the type.
        let type_name = || {
            if receiver.iface {
                "interface {}".to_owned()
            } else {
                value.type_name()
            }
        };
        let has_args = args.len() > 1 || fin.is_some();
        match value {
            Value::Nil => {
                Err(self.errorf(format!("nil pointer evaluating {}.{name}", type_name())))
            }
            Value::Object(o) => {
                let o = o.clone();
                if o.is_method(name) {
                    let mut argv = Vec::new();
                    for a in args.iter().skip(1) {
                        argv.push(self.eval_arg(dot, Type::Any, a, false)?.unwrap_or_default());
                    }
                    if let Some(f) = fin {
                        argv.push(f.unwrap_or_default());
                    }
                    return match o.get(name, &argv) {
                        Some(Ok(v)) => Ok(Recv::new(Some(v))),
                        Some(Err(e)) => {
                            self.at = node;
                            Err(self.errorf(format!("error calling {name}: {e}")))
                        }
                        None => Err(self.errorf(format!(
                            "can't evaluate field {name} in type {}",
                            type_name()
                        ))),
                    };
                }
                match o.get(name, &[]) {
                    Some(Ok(_)) if has_args => Err(self.errorf(format!(
                        "{name} has arguments but cannot be invoked as function"
                    ))),
                    Some(Ok(v)) => Ok(Recv::new(Some(v))),
                    Some(Err(e)) => Err(self.errorf(e)),
                    None => Err(self.errorf(format!(
                        "can't evaluate field {name} in type {}",
                        type_name()
                    ))),
                }
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                let found = m.borrow().get(name).cloned();
                let v = match found {
                    Some(v) => Some(v),
                    None => match self.template.missing_key {
                        MissingKey::Default => None,
                        MissingKey::Zero => Some(m.zero()),
                        MissingKey::Error => {
                            return Err(self.errorf(format!(
                                "map has no entry for key {}",
                                crate::fmt::quote(name)
                            )));
                        }
                    },
                };
                Ok(Recv { v, iface: true })
            }
            _ => Err(self.errorf(format!(
                "can't evaluate field {name} in type {}",
                type_name()
            ))),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Recv,
        ident: &'a Arg,
        name: &str,
        cmd: At<'a>,
        args: &'a [Arg],
        fin: Option<Val>,
    ) -> R<Val> {
        self.at(At::Arg(ident));
        // The set's own functions first (looked up once: this runs on every call).
        let template: &'t Template = self.template;
        let own = template.funcs.get(name);
        if own.is_none() && matches!(name, "and" | "or") {
            return self.and_or(dot, name, args, fin);
        }
        if own.is_none() && name == "call" {
            return Err(
                self.unsupported("the call builtin (templates here hold no function values)")
            );
        }
        let Some(f) = own.or_else(|| BUILTINS.with(|b| *b).get(name)) else {
            return Err(self.errorf(format!(
                "{} is not a defined function",
                crate::fmt::quote(name)
            )));
        };
        let given = args.len() - 1 + usize::from(fin.is_some());
        match f.arity {
            Arity::Exact(n) if n != given => {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want {n} got {given}"
                )));
            }
            Arity::AtLeast(n) if given < n => {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {n} got {}",
                    args.len() - 1
                )));
            }
            _ => {}
        }
        let param = |i: usize| -> Type {
            f.params
                .0
                .get(i)
                .copied()
                .or(f.params.1)
                .unwrap_or(Type::Any)
        };
        let mut argv = Vec::with_capacity(given);
        for (i, a) in args.iter().skip(1).enumerate() {
            argv.push(self.eval_arg(dot, param(i), a, false)?.unwrap_or_default());
        }
        if let Some(v) = fin {
            let v = self
                .validate_type(v, param(argv.len()))
                .map_err(|msg| self.errorf(msg))?;
            argv.push(v);
        }
        if let Some(what) = &f.unsupported {
            self.at(At::Arg(ident));
            return Err(self.unsupported(what));
        }
        // As in Go, the node marked last stays the last argument evaluated (an error about
        // this call's result names it).
        let mut host = Host {
            state: self,
            unsupported: None,
        };
        let mut call = Call { host: &mut host };
        let result = (f.body)(&mut call, &argv);
        // A construct refused inside an included template stays a refusal.
        if let Some(e) = host.unsupported.take() {
            return Err(Stop::Fail(e));
        }
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                self.at(cmd);
                Err(self.errorf(format!("error calling {name}: {e}")))
            }
        }
    }

    fn and_or(&mut self, dot: &Recv, name: &str, args: &'a [Arg], fin: Option<Val>) -> R<Val> {
        let given = args.len() - 1 + usize::from(fin.is_some());
        if given < 1 {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want at least 1 got {}",
                args.len() - 1
            )));
        }
        let mut v: Val = None;
        for a in args.iter().skip(1) {
            v = self.eval_arg(dot, Type::Any, a, true)?;
            if v.as_ref().is_some_and(Value::truthy) == (name == "or") {
                return Ok(v);
            }
        }
        if let Some(f) = fin {
            v = f;
        }
        Ok(v)
    }

    /// Go's `validateType` for a value already computed.
    fn validate_type(&self, v: Val, ty: Type) -> Result<Value, String> {
        let Some(v) = v else {
            return match ty {
                Type::Any | Type::List | Type::Map | Type::Strings => Ok(Value::Nil),
                _ => Err(format!("invalid value; expected {}", ty.go_name())),
            };
        };
        let ok = match (ty, &v) {
            // `map[string]string` (sprig's `split`) is not a `map[string]interface {}`.
            (Type::Map, Value::Map(m)) => m.elem == Elem::Any,
            _ => matches!(
                (ty, &v),
                (Type::Any, _)
                    | (Type::String, Value::String(_))
                    | (Type::Int | Type::Int64, Value::Int(_))
                    | (Type::Float64, Value::Float(_))
                    | (Type::Bool, Value::Bool(_))
                    | (Type::List | Type::Strings, Value::List(_))
            ),
        };
        if ok {
            return Ok(v);
        }
        let got = if v.is_nil() {
            "interface {}".to_owned()
        } else {
            v.type_name()
        };
        Err(format!(
            "wrong type for value; expected {}; got {got}",
            ty.go_name()
        ))
    }

    /// Go's `evalArg`: one argument, converted to the parameter's type. With
    /// `keep_invalid`, Go's invalid value comes back as `None` (for `and`/`or`, chains).
    fn eval_arg(&mut self, dot: &Recv, ty: Type, n: &'a Arg, keep_invalid: bool) -> R<Val> {
        self.at(At::Arg(n));
        let computed = match n {
            Arg::Dot { .. } => Some(dot.v.clone()),
            Arg::Nil { .. } => {
                return match ty {
                    Type::Any | Type::List | Type::Map | Type::Strings => Ok(Some(Value::Nil)),
                    _ => Err(self.errorf(format!("cannot assign nil to {}", ty.go_name()))),
                };
            }
            Arg::Field { idents, .. } => Some(self.eval_field_chain(
                dot,
                dot.clone(),
                idents,
                std::slice::from_ref(n),
                None,
            )?),
            Arg::Variable { idents, .. } => {
                Some(self.eval_variable(dot, n, idents, std::slice::from_ref(n), None)?)
            }
            Arg::Pipe(p) => Some(self.eval_pipeline(dot, p)?),
            Arg::Identifier { name, .. } => {
                Some(self.eval_function(dot, n, name, At::Arg(n), std::slice::from_ref(n), None)?)
            }
            Arg::Chain { node, fields, .. } => {
                Some(self.eval_chain(dot, n, node, fields, std::slice::from_ref(n), None)?)
            }
            _ => None,
        };
        if let Some(v) = computed {
            if keep_invalid && ty == Type::Any {
                return Ok(v);
            }
            return self
                .validate_type(v, ty)
                .map(Some)
                .map_err(|msg| self.errorf(msg));
        }
        // A constant: its meaning depends on the parameter's type.
        let found = |s: &Self, what: &str| s.errorf(format!("expected {what}; found {n}"));
        match (ty, n) {
            (Type::Bool, Arg::Bool { value, .. }) => Ok(Some(Value::Bool(*value))),
            (Type::Bool, _) => Err(found(self, "bool")),
            (Type::Float64, Arg::Number { number, .. }) if number.float.is_some() => {
                Ok(Some(Value::Float(number.float.unwrap_or_default())))
            }
            (Type::Float64, _) => Err(found(self, "float")),
            (Type::Int | Type::Int64, Arg::Number { number, .. }) if number.int.is_some() => {
                Ok(Some(Value::Int(number.int.unwrap_or_default())))
            }
            (Type::Int | Type::Int64, _) => Err(found(self, "integer")),
            (Type::String, Arg::String { text, .. }) => Ok(Some(Value::str(text))),
            (Type::String, _) => Err(found(self, "string")),
            (Type::Any, Arg::Bool { value, .. }) => Ok(Some(Value::Bool(*value))),
            (Type::Any, Arg::Number { number, .. }) => self.ideal_constant(n, number).map(Some),
            (Type::Any, Arg::String { text, .. }) => Ok(Some(Value::str(text))),
            _ => Err(self.errorf(format!("can't handle {n} for arg of type {}", ty.go_name()))),
        }
    }
}

/// What a running function sees of the template that called it.
struct Host<'s, 't, 'a> {
    state: &'s mut State<'t, 'a>,
    unsupported: Option<Error>,
}

impl Host<'_, '_, '_> {
    fn nested(&mut self, r: Result<String, Error>) -> Result<String, String> {
        match r {
            Ok(s) => Ok(s),
            Err(e @ Error::Unsupported { .. }) => {
                let text = e.to_string();
                self.unsupported = Some(e);
                Err(text)
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

impl CallHost for Host<'_, '_, '_> {
    fn include(&mut self, name: &str, data: Value) -> Result<String, String> {
        let t = self.state.template;
        let Some(tree) = t.trees.get(name).cloned() else {
            return Err(format!(
                "template: no template {} associated with template {}",
                crate::fmt::quote(name),
                crate::fmt::quote(&self.state.tree.name)
            ));
        };
        if self.state.depth >= MAX_DEPTH {
            return Err(format!("exceeded maximum template depth ({MAX_DEPTH})"));
        }
        let r = run(t, &tree, data, self.state.depth + 1);
        self.nested(r)
    }

    fn tpl(&mut self, name: &str, text: &str, data: Value) -> Result<String, String> {
        let mut copy = self.state.template.clone();
        if let Err(e) = copy.parse(name, text) {
            return self.nested(Err(e));
        }
        let Some(tree) = copy.trees.get(name).cloned() else {
            return Err(format!(
                "template: {} is an incomplete or empty template",
                crate::fmt::quote(name)
            ));
        };
        let r = run(&copy, &tree, data, self.state.depth + 1);
        self.nested(r)
    }

    fn template_name(&self) -> String {
        self.state.tree.name.clone()
    }

    fn position(&self) -> String {
        let pos = self.state.at.as_ref().map_or(0, At::pos);
        self.state.tree.location(pos)
    }
}
