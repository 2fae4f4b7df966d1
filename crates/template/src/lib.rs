//! Go's `text/template`, natively.
//!
//! Templates are parsed into a set ([`Template`]) that holds every `define`d template by
//! name, then run on a [`Value`]. The semantics are Go's: pipelines and variables,
//! `if`/`else if`/`with`/`range` (with `break` and `continue`, over integers too),
//! `define`/`template`/`block`, `{{-`/`-}}` trimming, Go's truth, maps in sorted key order,
//! `printf` verbs as Go prints them, and errors worded as Go words them, with the
//! template's name, line and column.

pub mod builtins;
mod exec;
pub mod fmt;
mod funcs;
pub mod hash;
mod lex;
mod parse;
mod template;
pub mod value;

pub use funcs::{Arity, Body, Call, FuncResult, Funcs, Function, Type};
pub use parse::ParseAhead;
pub use template::{Error, MissingKey, Template};
pub use value::{Elem, Map, MapData, Object, Value, deep_equal};
