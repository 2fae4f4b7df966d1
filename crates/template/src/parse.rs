//! Tokens into trees, with Go's parser rules and error wording
//! (`template: NAME:LINE: MESSAGE`).

use crate::hash::FastSet;
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::rc::Rc;
use std::sync::Arc;

use crate::lex::{Kind, Lexer, Token};
use crate::template::{Error, Template};

/// One parsed template: its name, the file it came from (`parse_name`), the file's text
/// (for error positions) and its body.
pub(crate) struct Tree {
    pub name: String,
    pub parse_name: Arc<str>,
    pub text: Arc<str>,
    pub root: List,
}

impl Tree {
    /// `NAME:LINE:COL` of a byte offset, and Go's column (bytes since the line start, or
    /// the offset itself on the first line).
    pub fn location(&self, pos: usize) -> String {
        let pos = pos.min(self.text.len());
        let before = &self.text[..pos];
        let col = match before.rfind('\n') {
            None => pos,
            Some(nl) => pos - (nl + 1),
        };
        let line = 1 + before.matches('\n').count();
        format!("{}:{}:{}", self.parse_name, line, col)
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct List {
    pub nodes: Vec<Node>,
}

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Text(String),
    Action {
        pos: usize,
        pipe: Pipe,
    },
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break {
        pos: usize,
    },
    Continue {
        pos: usize,
    },
}

/// `if`, `with` and `range` share a shape.
#[derive(Clone, Debug)]
pub(crate) struct Branch {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

#[derive(Clone, Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Clone, Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// A number constant with every reading Go's parser allows.
#[derive(Clone, Debug)]
pub(crate) struct Number {
    pub text: String,
    pub int: Option<i64>,
    pub uint: Option<u64>,
    pub float: Option<f64>,
}

#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    Variable {
        pos: usize,
        idents: Vec<String>,
    },
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Bool {
        pos: usize,
        value: bool,
    },
    Number {
        pos: usize,
        number: Number,
    },
    String {
        pos: usize,
        quoted: String,
        text: String,
    },
    Pipe(Box<Pipe>),
}

impl Node {
    pub fn pos(&self) -> usize {
        match self {
            Node::Text(_) => 0,
            Node::Action { pos, .. }
            | Node::Template { pos, .. }
            | Node::Break { pos }
            | Node::Continue { pos } => *pos,
            Node::If(b) | Node::With(b) | Node::Range(b) => b.pos,
        }
    }
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

// Go's String() of each node, used in error messages.

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => write!(f, "{}", idents.join(".")),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = &**node {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for field in fields {
                    write!(f, ".{field}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => write!(f, "{name}"),
            Arg::Dot { .. } => write!(f, "."),
            Arg::Nil { .. } => write!(f, "nil"),
            Arg::Bool { value, .. } => write!(f, "{value}"),
            Arg::Number { number, .. } => write!(f, "{}", number.text),
            Arg::String { quoted, .. } => write!(f, "{quoted}"),
            Arg::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            if let Arg::Pipe(p) = arg {
                write!(f, "({p})")?;
            } else {
                write!(f, "{arg}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            write!(f, "{}", self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.nodes {
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let branch = |f: &mut fmt::Formatter<'_>, word: &str, b: &Branch| {
            write!(f, "{{{{{word} {}}}}}{}", b.pipe, b.list)?;
            if let Some(e) = &b.else_list {
                write!(f, "{{{{else}}}}{e}")?;
            }
            write!(f, "{{{{end}}}}")
        };
        match self {
            Node::Text(t) => write!(f, "{t}"),
            Node::Action { pipe, .. } => write!(f, "{{{{{pipe}}}}}"),
            Node::If(b) => branch(f, "if", b),
            Node::With(b) => branch(f, "with", b),
            Node::Range(b) => branch(f, "range", b),
            Node::Template { name, pipe, .. } => match pipe {
                None => write!(f, "{{{{template {}}}}}", crate::fmt::quote(name)),
                Some(p) => write!(f, "{{{{template {} {p}}}}}", crate::fmt::quote(name)),
            },
            Node::Break { .. } => write!(f, "{{{{break}}}}"),
            Node::Continue { .. } => write!(f, "{{{{continue}}}}"),
        }
    }
}

/// What ends an item list.
enum End {
    End,
    Else { pos: usize },
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::End => f.write_str("{{end}}"),
            End::Else { .. } => f.write_str("{{else}}"),
        }
    }
}

/// A failure inside the parser: the message already carries `template: NAME:LINE:`.
type PResult<T> = Result<T, String>;

/// What parsing needs to know of the set a text is parsed for (and nothing that keeps it
/// from being shared by threads).
pub(crate) struct Syntax<'a> {
    left: &'a str,
    right: &'a str,
    /// The set's functions, builtins included.
    functions: &'a FastSet<String>,
}

impl<'a> Syntax<'a> {
    pub(crate) fn of(t: &'a Template) -> Syntax<'a> {
        let functions = t.function_names.get_or_init(|| {
            let mut names: FastSet<String> =
                t.funcs.names().into_iter().map(str::to_owned).collect();
            names.extend(crate::exec::builtin_names());
            names
        });
        Syntax {
            left: &t.delims.0,
            right: &t.delims.1,
            functions,
        }
    }
}

struct Parser<'a, 's> {
    tokens: Vec<Token<'s>>,
    i: usize,
    parse_name: Arc<str>,
    text: Arc<str>,
    syntax: &'a Syntax<'a>,
    vars: Vec<Cow<'s, str>>,
    range_depth: usize,
    action_line: usize,
    stack_depth: usize,
    /// Templates defined so far (by `define` and `block`), in order.
    defined: Vec<Tree>,
    /// The line of the last token handed out, for errors (Go's `token[0].line`).
    line: usize,
    /// Set when the parse stopped on a construct slipway refuses: (what, byte offset).
    unsupported: Option<(String, usize)>,
}

pub(crate) fn parse_into(t: &mut Template, name: &str, text: &str) -> Result<(), Error> {
    let trees = parse_trees(&Syntax::of(t), name, text)?;
    add_trees(t, trees)
}

/// Parses several texts (name, text) into the set, as [`parse_into`] one after the other
/// would; the texts are parsed on two threads when there is much to parse. On failure,
/// the index of the text that failed (those before it are in the set).
pub(crate) fn parse_all(t: &mut Template, texts: &[(&str, &str)]) -> Result<(), (usize, Error)> {
    /// Below this much text a second thread costs more than it saves.
    const PARALLEL_BYTES: usize = 32 * 1024;
    let total: usize = texts.iter().map(|(_, text)| text.len()).sum();
    let parsed: Vec<Result<Vec<Tree>, Error>> = {
        let syntax = Syntax::of(t);
        let parse = |part: &[(&str, &str)]| -> Vec<Result<Vec<Tree>, Error>> {
            part.iter()
                .map(|(name, text)| parse_trees(&syntax, name, text))
                .collect()
        };
        if total < PARALLEL_BYTES {
            parse(texts)
        } else {
            let mut split = 0;
            let mut seen = 0;
            while split < texts.len() && seen * 2 < total {
                seen += texts[split].1.len();
                split += 1;
            }
            let (first, second) = texts.split_at(split);
            std::thread::scope(|scope| {
                // As deep as the main thread may go (nested parentheses recurse).
                let other = std::thread::Builder::new()
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, || parse(second));
                let mut parsed = parse(first);
                match other.map(|other| other.join()) {
                    Ok(Ok(rest)) => parsed.extend(rest),
                    Ok(Err(panic)) => std::panic::resume_unwind(panic),
                    // No thread: this one parses the rest too.
                    Err(_) => parsed.extend(parse(second)),
                }
                parsed
            })
        }
    };
    for (i, trees) in parsed.into_iter().enumerate() {
        trees
            .and_then(|trees| add_trees(t, trees))
            .map_err(|e| (i, e))?;
    }
    Ok(())
}

/// Texts parsed on another thread ahead of [`Template::parse_all_ahead`], so that parsing
/// overlaps with whatever the caller does before it renders (reading values, for Helm).
/// The texts are taken one at a time by whichever thread is free: once the set asks for
/// them, the asking thread parses what the worker has not reached yet.
pub struct ParseAhead {
    shared: Arc<Ahead>,
    /// Whether a worker thread was started.
    started: bool,
}

/// The trees of one text, or why it does not parse.
type Parsed = Result<Vec<Tree>, Error>;

/// A text's trees, and whether the worker parsed it.
type Done = (Parsed, bool);

/// What the worker and the asking thread share.
struct Ahead {
    /// (name, text), in the order given.
    texts: Vec<(String, String)>,
    /// The index of the next text nobody has started.
    next: std::sync::atomic::AtomicUsize,
    /// The result of each text, once parsed, with whether the worker parsed it, and how
    /// many there are (`usize::MAX` when the worker gave up).
    done: std::sync::Mutex<(Vec<Option<Done>>, usize)>,
    /// Signalled each time a text is parsed.
    parsed: std::sync::Condvar,
    /// The syntax the worker parses with: delimiters and function names, set before it
    /// parses anything (`None` when it could not make its set).
    syntax: std::sync::OnceLock<Option<(String, String, FastSet<String>)>>,
}

impl Ahead {
    /// Parses texts until none is left unstarted.
    fn work(&self, syntax: &Syntax<'_>, by_worker: bool) {
        use std::sync::atomic::Ordering;
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some((name, text)) = self.texts.get(i) else {
                return;
            };
            let parsed = parse_trees(syntax, name, text);
            if let Ok(mut done) = self.done.lock() {
                done.0[i] = Some((parsed, by_worker));
                done.1 += 1;
            }
            self.parsed.notify_all();
        }
    }
}

impl ParseAhead {
    /// Starts parsing `texts` (name, text) on a new thread, with the syntax of the set
    /// `make` builds there (its delimiters and functions). Once every text is parsed, the
    /// thread goes on with `then`, so that other work started while the texts run (such
    /// as preparing what running them will need) needs no thread of its own. With no thread to be had, the texts are parsed when the set asks
    /// for them, and `then` is dropped unrun.
    pub fn start(
        make: impl FnOnce() -> Template + Send + 'static,
        then: impl FnOnce() + Send + 'static,
        texts: Vec<(String, String)>,
    ) -> ParseAhead {
        let shared = Arc::new(Ahead {
            done: std::sync::Mutex::new(((0..texts.len()).map(|_| None).collect(), 0)),
            texts,
            next: std::sync::atomic::AtomicUsize::new(0),
            parsed: std::sync::Condvar::new(),
            syntax: std::sync::OnceLock::new(),
        });
        let theirs = shared.clone();
        let started = std::thread::Builder::new()
            .name("template parse".into())
            // As deep as the main thread may go (nested parentheses recurse).
            .stack_size(8 << 20)
            .spawn(move || {
                let t = make();
                let syntax = Syntax::of(&t);
                let _ = theirs.syntax.set(Some((
                    t.delims.0.to_string(),
                    t.delims.1.to_string(),
                    syntax.functions.clone(),
                )));
                // A parse that panics must not leave the asking thread waiting for it.
                struct Abandon<'a>(&'a Ahead);
                impl Drop for Abandon<'_> {
                    fn drop(&mut self) {
                        if std::thread::panicking() {
                            if let Ok(mut done) = self.0.done.lock() {
                                done.1 = usize::MAX;
                            }
                            self.0.parsed.notify_all();
                        }
                    }
                }
                let abandon = Abandon(&theirs);
                theirs.work(&syntax, true);
                drop(abandon);
                // Done with the set and the texts before going on.
                drop(t);
                drop(theirs);
                then();
            })
            .is_ok();
        ParseAhead { shared, started }
    }

    /// Finishes the parse, helping with what is left, and returns the result of each
    /// text, in the order given. When the worker's syntax is already known and is `t`'s,
    /// its function names become `t`'s instead of being collected again; otherwise this
    /// thread helps with `t`'s own syntax, and what the worker parsed is kept only if its
    /// syntax turns out to be the same. `None` when no worker ever started.
    fn finish(&self, t: &Template) -> Option<Vec<Option<Parsed>>> {
        if !self.started {
            return None;
        }
        let shared = &*self.shared;
        let same = |(left, right, functions): &(String, String, FastSet<String>)| {
            **left == *t.delims.0 && **right == *t.delims.1 && same_functions(t, functions)
        };
        match shared.syntax.get() {
            Some(Some(theirs)) if same(theirs) => {
                let (left, right, functions) = theirs;
                let _ = t.function_names.set(functions.clone());
                shared.work(
                    &Syntax {
                        left,
                        right,
                        functions,
                    },
                    false,
                );
            }
            _ => shared.work(&Syntax::of(t), false),
        }
        let mut done = shared.done.lock().ok()?;
        while done.1 < shared.texts.len() {
            done = shared.parsed.wait(done).ok()?;
        }
        if done.1 == usize::MAX {
            return None;
        }
        let mut parsed = std::mem::take(&mut done.0);
        drop(done);
        // Every text is parsed, so the worker has set its syntax.
        if !shared
            .syntax
            .get()
            .and_then(Option::as_ref)
            .is_some_and(same)
        {
            // Texts parsed with other functions may have failed or passed wrongly.
            for entry in &mut parsed {
                if entry.as_ref().is_some_and(|(_, by_worker)| *by_worker) {
                    *entry = None;
                }
            }
        }
        Some(
            parsed
                .into_iter()
                .map(|entry| entry.map(|(trees, _)| trees))
                .collect(),
        )
    }
}

/// Whether `names` are exactly the functions of `t` and the builtins.
fn same_functions(t: &Template, names: &FastSet<String>) -> bool {
    if let Some(own) = t.function_names.get() {
        return own == names;
    }
    let mut count = 0;
    for name in t.funcs.keys() {
        if !names.contains(name) {
            return false;
        }
        count += 1;
    }
    for name in crate::exec::builtin_names() {
        if !t.funcs.contains(&name) {
            if !names.contains(&name) {
                return false;
            }
            count += 1;
        }
    }
    count == names.len()
}

/// [`parse_all`], taking the texts `ahead` parsed already (same name, same text, same
/// syntax) instead of parsing them again.
pub(crate) fn parse_all_ahead(
    t: &mut Template,
    texts: &[(&str, &str)],
    ahead: ParseAhead,
) -> Result<(), (usize, Error)> {
    let Some(mut parsed) = ahead.finish(t) else {
        return parse_all(t, texts);
    };
    let theirs = &ahead.shared.texts;
    let index: crate::hash::FastMap<&str, usize> = theirs
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.as_str(), i))
        .collect();
    for (i, (name, text)) in texts.iter().enumerate() {
        let ready = index
            .get(name)
            .filter(|&&j| theirs[j].1 == *text)
            .and_then(|&j| parsed[j].take());
        let trees = match ready {
            Some(trees) => trees,
            None => parse_trees(&Syntax::of(t), name, text),
        };
        trees
            .and_then(|trees| add_trees(t, trees))
            .map_err(|e| (i, e))?;
    }
    Ok(())
}

/// The trees a text defines (its `define`s and `block`s, then itself), not yet in a set.
fn parse_trees(syntax: &Syntax<'_>, name: &str, text: &str) -> Result<Vec<Tree>, Error> {
    let mut lexer = Lexer::new(text, syntax.left, syntax.right);
    lexer.break_ok = !syntax.functions.contains("break");
    lexer.continue_ok = !syntax.functions.contains("continue");
    let tokens = lexer.tokens();
    let parse_name: Arc<str> = Arc::from(name);
    let text: Arc<str> = Arc::from(text);
    let mut p = Parser {
        tokens,
        i: 0,
        parse_name: parse_name.clone(),
        text: text.clone(),
        syntax,
        vars: vec![Cow::Borrowed("$")],
        range_depth: 0,
        action_line: 0,
        stack_depth: 0,
        defined: Vec::new(),
        line: 1,
        unsupported: None,
    };
    let root = match p.parse() {
        Ok(root) => root,
        Err(e) => {
            return Err(match p.unsupported.take() {
                Some((what, pos)) => Error::Unsupported {
                    what,
                    position: Tree {
                        name: name.to_owned(),
                        parse_name: p.parse_name.clone(),
                        text: p.text.clone(),
                        root: List::default(),
                    }
                    .location(pos),
                },
                None => Error::Parse(e),
            });
        }
    };
    let mut trees = std::mem::take(&mut p.defined);
    trees.push(Tree {
        name: name.to_owned(),
        parse_name,
        text,
        root,
    });
    Ok(trees)
}

/// Adds parsed trees to the set.
fn add_trees(t: &mut Template, trees: Vec<Tree>) -> Result<(), Error> {
    // Go adds each definition as it completes, the main template last; a name already
    // defined with a non-empty body may only be redefined by an empty one.
    for tree in trees {
        add_tree(t, tree).map_err(Error::Parse)?;
    }
    Ok(())
}

fn add_tree(t: &mut Template, tree: Tree) -> PResult<()> {
    // Go's associate: a definition replaces the one before it, except that an empty
    // body never replaces an existing template.
    if t.trees.get(&tree.name).is_some() && is_empty(&tree.root) {
        return Ok(());
    }
    Rc::make_mut(&mut t.trees).insert(tree.name.clone(), Rc::new(tree));
    Ok(())
}

/// Go's `IsEmptyTree`: only space text and comments.
fn is_empty(list: &List) -> bool {
    list.nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim_matches(|c: char| c.is_whitespace()).is_empty(),
        _ => false,
    })
}

impl<'s> Parser<'_, 's> {
    fn errorf(&self, msg: impl fmt::Display) -> String {
        format!("template: {}:{}: {}", self.parse_name, self.line, msg)
    }

    /// Stops on a complex number constant, which slipway refuses by name.
    fn refuse(&mut self, t: &Token<'s>) -> String {
        let what = format!("the complex number constant {}", t.val);
        self.unsupported = Some((what.clone(), t.pos));
        what
    }

    fn next(&mut self) -> Token<'s> {
        let t = self.tokens[self.i.min(self.tokens.len() - 1)].clone();
        if self.i < self.tokens.len() {
            self.i += 1;
        }
        self.line = t.line;
        t
    }

    fn backup(&mut self) {
        self.i -= 1;
    }

    fn peek(&self) -> &Token<'s> {
        &self.tokens[self.i.min(self.tokens.len() - 1)]
    }

    fn next_non_space(&mut self) -> Token<'s> {
        loop {
            let t = self.next();
            if t.kind != Kind::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token<'s> {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn unexpected<T>(&mut self, token: &Token<'s>, context: &str) -> PResult<T> {
        self.line = token.line;
        if token.kind == Kind::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_owned();
                }
            }
            return Err(self.errorf(format!("{token}{extra}")));
        }
        Err(self.errorf(format!("unexpected {token} in {context}")))
    }

    fn expect(&mut self, kind: Kind, context: &str) -> PResult<Token<'s>> {
        let t = self.next_non_space();
        if t.kind != kind {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn parse(&mut self) -> PResult<List> {
        let mut root = List::default();
        while self.peek().kind != Kind::Eof {
            if self.peek().kind == Kind::LeftDelim {
                let mark = self.i;
                self.next();
                if self.next_non_space().kind == Kind::Define {
                    self.definition()?;
                    continue;
                }
                self.i = mark;
            }
            match self.text_or_action()? {
                Item::Node(n) => root.nodes.push(n),
                Item::Skip => {}
                Item::End(e) => return Err(self.errorf(format!("unexpected {e}"))),
            }
        }
        Ok(root)
    }

    fn definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let t = self.next_non_space();
        if !matches!(t.kind, Kind::String | Kind::RawString) {
            return self.unexpected(&t, context);
        }
        let name = unquote(&t.val).map_err(|e| self.errorf(e))?;
        self.expect(Kind::RightDelim, context)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec![Cow::Borrowed("$")]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        if !matches!(end, End::End) {
            return Err(self.errorf(format!("unexpected {end} in {context}")));
        }
        self.add_defined(name, list)
    }

    fn add_defined(&mut self, name: String, root: List) -> PResult<()> {
        if let Some(old) = self.defined.iter().position(|d| d.name == name) {
            if !is_empty(&self.defined[old].root) && !is_empty(&root) {
                return Err(self.errorf(format!(
                    "template: multiple definition of template {}",
                    crate::fmt::quote(&name)
                )));
            }
            if is_empty(&root) {
                return Ok(());
            }
            self.defined.remove(old);
        }
        self.defined.push(Tree {
            name,
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root,
        });
        Ok(())
    }

    fn item_list(&mut self) -> PResult<(List, End)> {
        let mut list = List::default();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Item::Node(n) => list.nodes.push(n),
                Item::Skip => {}
                Item::End(e) => return Ok((list, e)),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Text => Ok(Item::Node(Node::Text(t.val.into_owned()))),
            Kind::LeftDelim => {
                self.action_line = t.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Block => return self.block().map(Item::Node),
            Kind::Break | Kind::Continue => {
                let word = if t.kind == Kind::Break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let n = self.next_non_space();
                if n.kind != Kind::RightDelim {
                    return self.unexpected(&n, word);
                }
                if self.range_depth == 0 {
                    return Err(self.errorf(format!("{word} outside {{{{range}}}}")));
                }
                return Ok(Item::Node(if t.kind == Kind::Break {
                    Node::Break { pos: t.pos }
                } else {
                    Node::Continue { pos: t.pos }
                }));
            }
            Kind::Else => {
                let peek = self.peek_non_space();
                if matches!(peek.kind, Kind::If | Kind::With) {
                    return Ok(Item::End(End::Else { pos: peek.pos }));
                }
                let t = self.expect(Kind::RightDelim, "else")?;
                return Ok(Item::End(End::Else { pos: t.pos }));
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Item::End(End::End));
            }
            Kind::If => return self.control("if").map(|b| Item::Node(Node::If(b))),
            Kind::Range => return self.control("range").map(|b| Item::Node(Node::Range(b))),
            Kind::With => return self.control("with").map(|b| Item::Node(Node::With(b))),
            Kind::Template => return self.template_control().map(Item::Node),
            _ => {}
        }
        self.backup();
        let pos = self.peek().pos;
        let pipe = self.pipeline("command", Kind::RightDelim)?;
        Ok(Item::Node(Node::Action { pos, pipe }))
    }

    fn control(&mut self, context: &str) -> PResult<Branch> {
        let vars = self.vars.len();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let End::Else { pos } = end {
            let chained = match (context, self.peek().kind) {
                ("if", Kind::If) => Some("if"),
                ("with", Kind::With) => Some("with"),
                _ => None,
            };
            if let Some(word) = chained {
                self.next();
                let inner = self.control(word)?;
                let _ = pos;
                else_list = Some(List {
                    nodes: vec![if word == "if" {
                        Node::If(inner)
                    } else {
                        Node::With(inner)
                    }],
                });
            } else {
                let (list, end) = self.item_list()?;
                if !matches!(end, End::End) {
                    return Err(self.errorf(format!("expected end; found {end}")));
                }
                else_list = Some(list);
            }
        }
        self.vars.truncate(vars);
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, t: &Token<'s>, context: &str) -> PResult<String> {
        match t.kind {
            Kind::String | Kind::RawString => unquote(&t.val).map_err(|e| self.errorf(e)),
            _ => self.unexpected(t, context),
        }
    }

    fn block(&mut self) -> PResult<Node> {
        let context = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, context)?;
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec![Cow::Borrowed("$")]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        if !matches!(end, End::End) {
            return Err(self.errorf(format!("unexpected {end} in {context}")));
        }
        self.add_defined(name.clone(), list)?;
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> PResult<Node> {
        let context = "template clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, context)?;
        let mut pipe = None;
        if self.next_non_space().kind != Kind::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(context, Kind::RightDelim)?);
        }
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe,
        })
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            let v = self.peek_non_space();
            if v.kind != Kind::Variable {
                break;
            }
            let mark = self.i;
            self.next_non_space();
            let after = self.peek().clone();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Assign | Kind::Declare => {
                    pipe.is_assign = next.kind == Kind::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.to_string());
                    self.vars.push(v.val);
                }
                Kind::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.to_string());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => {
                                continue 'decls;
                            }
                            _ => return Err(self.errorf("range can only initialize variables")),
                        }
                    }
                    return Err(self.errorf(format!("too many declarations in {context}")));
                }
                _ => {
                    let _ = after;
                    self.i = mark;
                }
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            if t.kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match t.kind {
                Kind::Bool
                | Kind::CharConstant
                | Kind::Complex
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool { .. }
                    | Arg::Dot { .. }
                    | Arg::Nil { .. }
                    | Arg::Number { .. }
                    | Arg::String { .. }
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let mut cmd = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let t = self.next();
            match t.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            let f = self.next();
            fields.push(f.val[1..].to_owned());
        }
        Ok(Some(match node {
            Arg::Field { pos: _, mut idents } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { pos: _, mut idents } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    crate::fmt::quote(&node.to_string())
                )));
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.kind {
            Kind::Identifier => {
                if !self.syntax.functions.contains(&*t.val) {
                    return Err(self.errorf(format!(
                        "function {} not defined",
                        crate::fmt::quote(&t.val)
                    )));
                }
                Arg::Identifier {
                    pos,
                    name: t.val.into_owned(),
                }
            }
            Kind::Dot => Arg::Dot { pos },
            Kind::Nil => Arg::Nil { pos },
            Kind::Variable => {
                let idents: Vec<String> = t.val.split('.').map(str::to_owned).collect();
                if !self.vars.iter().any(|v| *v == idents[0]) {
                    return Err(self.errorf(format!(
                        "undefined variable {}",
                        crate::fmt::quote(&idents[0])
                    )));
                }
                Arg::Variable { pos, idents }
            }
            Kind::Field => Arg::Field {
                pos,
                idents: vec![t.val[1..].to_owned()],
            },
            Kind::Bool => Arg::Bool {
                pos,
                value: t.val == "true",
            },
            Kind::Number
                if t.val.ends_with('i') && parse_go_float(&t.val[..t.val.len() - 1]).is_some() =>
            {
                return Err(self.refuse(&t));
            }
            Kind::CharConstant | Kind::Number => {
                let number = parse_number(&t.val, t.kind).map_err(|e| self.errorf(e))?;
                Arg::Number { pos, number }
            }
            Kind::Complex => return Err(self.refuse(&t)),
            Kind::LeftParen => {
                if self.stack_depth >= 10000 {
                    return Err(self.errorf("max expression depth exceeded"));
                }
                self.stack_depth += 1;
                let p = self.pipeline("parenthesized pipeline", Kind::RightParen);
                self.stack_depth -= 1;
                Arg::Pipe(Box::new(p?))
            }
            Kind::String | Kind::RawString => {
                let text = unquote(&t.val).map_err(|e| self.errorf(e))?;
                Arg::String {
                    pos,
                    quoted: t.val.into_owned(),
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

enum Item {
    Node(Node),
    /// A comment (the lexer drops them) never reaches here; kept for clarity.
    #[allow(dead_code)]
    Skip,
    End(End),
}

/// Go's `strconv.Unquote` for the three quote forms a template has.
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    let bad = || "invalid syntax".to_owned();
    let bytes = s.as_bytes();
    if bytes.len() < 2 {
        return Err(bad());
    }
    let q = bytes[0];
    if q != bytes[bytes.len() - 1] {
        return Err(bad());
    }
    let body = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if body.contains('`') {
                return Err(bad());
            }
            Ok(body.replace('\r', ""))
        }
        b'"' | b'\'' => {
            let mut out = String::new();
            let mut rest = body;
            let mut count = 0;
            while !rest.is_empty() {
                let (c, tail) = unquote_char(rest, q as char).ok_or_else(bad)?;
                match c {
                    Unq::Char(c) => out.push(c),
                    Unq::Byte(b) => {
                        // A lone byte from \x or octal: keep it as Latin-1 when it does
                        // not form UTF-8 (Go keeps raw bytes; text here is UTF-8).
                        out.push(char::from(b));
                    }
                }
                rest = tail;
                count += 1;
            }
            if q == b'\'' && count != 1 {
                return Err(bad());
            }
            Ok(out)
        }
        _ => Err(bad()),
    }
}

enum Unq {
    Char(char),
    Byte(u8),
}

fn unquote_char(s: &str, quote: char) -> Option<(Unq, &str)> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c == '\n' {
        return None;
    }
    if c != '\\' {
        return Some((Unq::Char(c), chars.as_str()));
    }
    let e = chars.next()?;
    let rest = chars.as_str();
    let simple = match e {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '\'' | '"' => {
            if e != quote {
                return None;
            }
            Some(e)
        }
        _ => None,
    };
    if let Some(c) = simple {
        return Some((Unq::Char(c), rest));
    }
    match e {
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            if rest.len() < n || !rest.is_char_boundary(n) {
                return None;
            }
            let v = u32::from_str_radix(&rest[..n], 16).ok()?;
            if rest[..n].starts_with(['+', '-']) {
                return None;
            }
            if e == 'x' {
                return Some((Unq::Byte(v as u8), &rest[n..]));
            }
            Some((Unq::Char(char::from_u32(v)?), &rest[n..]))
        }
        '0'..='7' => {
            if rest.len() < 2 || !rest.is_char_boundary(2) {
                return None;
            }
            let digits = format!("{e}{}", &rest[..2]);
            let v = u32::from_str_radix(&digits, 8).ok()?;
            if v > 255 {
                return None;
            }
            Some((Unq::Byte(v as u8), &rest[2..]))
        }
        _ => None,
    }
}

/// Go's `newNumber`: every reading of a number constant that holds.
fn parse_number(text: &str, kind: Kind) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_owned(),
        int: None,
        uint: None,
        float: None,
    };
    if kind == Kind::CharConstant {
        let v = unquote(text).map_err(|_| format!("malformed character constant: {text}"))?;
        let c = v.chars().next().map(|c| c as u32).unwrap_or(0);
        n.int = Some(i64::from(c));
        n.uint = Some(u64::from(c));
        n.float = Some(f64::from(c));
        return Ok(n);
    }
    if let Some(body) = text.strip_suffix('i')
        && parse_go_float(body).is_some()
    {
        return Err(format!("complex number constant {text} is not supported"));
    }
    n.uint = parse_go_uint(text);
    n.int = parse_go_int(text);
    if n.int == Some(0) {
        n.uint = Some(0);
    }
    if let Some(i) = n.int {
        n.float = Some(i as f64);
    } else if let Some(u) = n.uint {
        n.float = Some(u as f64);
    } else if let Some(f) = parse_go_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", crate::fmt::quote(text)));
        }
        n.float = Some(f);
        if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
            n.int = Some(f as i64);
        }
        if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) {
            n.uint = Some(f as u64);
        }
    }
    if n.int.is_none() && n.uint.is_none() && n.float.is_none() {
        return Err(format!(
            "illegal number syntax: {}",
            crate::fmt::quote(text)
        ));
    }
    Ok(n)
}

/// Splits off a sign and a base prefix, checking Go's underscore rule (underscores only
/// between digits, and only when a base prefix is present or the literal is decimal).
fn int_parts(text: &str) -> Option<(bool, u32, String)> {
    let (neg, body) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (base, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_owned(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_owned(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_owned(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.contains('_') {
        // Go: underscores must separate digits (or follow the base prefix).
        let full = if prefixed {
            format!("0{}", &lower[1..])
        } else {
            lower.clone()
        };
        if !underscore_ok(&full) {
            return None;
        }
    }
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        return None;
    }
    Some((neg, base, digits))
}

fn underscore_ok(s: &str) -> bool {
    // '^' marks "a digit or base prefix came last", as Go's underscoreOK tracks it.
    let mut saw = '^';
    let b = s.as_bytes();
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'x' | b'o' | b'b') {
        hex = b[1].eq_ignore_ascii_case(&b'x');
        i = 2;
        saw = '0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = '0';
        } else if c == b'_' {
            if saw != '0' {
                return false;
            }
            saw = '_';
        } else {
            if saw == '_' {
                return false;
            }
            saw = '!';
        }
        i += 1;
    }
    saw != '_'
}

fn parse_go_uint(text: &str) -> Option<u64> {
    let (neg, base, digits) = int_parts(text)?;
    if neg || text.starts_with('+') {
        return None;
    }
    u64::from_str_radix(&digits, base).ok()
}

fn parse_go_int(text: &str) -> Option<i64> {
    let (neg, base, digits) = int_parts(text)?;
    let magnitude = u64::from_str_radix(&digits, base).ok()?;
    if neg {
        if magnitude > 1 << 63 {
            return None;
        }
        Some((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `strconv.ParseFloat(text, 64)` for the forms the lexer passes: decimal with
/// optional exponent, hex floats with a `p` exponent, underscores between digits.
fn parse_go_float(text: &str) -> Option<f64> {
    let (neg, body) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    if body.contains('_') && !underscore_ok(body) {
        return None;
    }
    let body: String = body.chars().filter(|c| *c != '_').collect();
    let lower = body.to_ascii_lowercase();
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        let (mant, exp) = match hex.split_once('p') {
            Some((m, e)) => (m, e.parse::<i32>().ok()?),
            None => return None,
        };
        let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let mut v = 0f64;
        for c in int_part.chars().chain(frac_part.chars()) {
            v = v * 16.0 + f64::from(c.to_digit(16)?);
        }
        v * 2f64.powi(exp - 4 * frac_part.len() as i32)
    } else {
        if lower.is_empty() || !lower.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        if lower.starts_with("0o") || lower.starts_with("0b") {
            return None;
        }
        lower.parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}
