//! sprig's template functions (v3.3.0, as Helm ships them): strings, numbers, lists,
//! dicts, JSON, regular expressions, semantic versions, URLs, paths and encodings, with
//! Go's results and Go's errors.
//!
//! What a render cannot repeat is refused by name, so a chart that calls it fails with an
//! error that says what it is, instead of rendering something different every time:
//! random values, the current time, new keys and certificates, encryption, and DNS
//! lookups. Helm leaves out `env` and `expandenv`; so does this.
//!
//! Every function is a plain `fn(&[Value]) -> Result<Value, String>`. The Go types of
//! their parameters are declared to the engine (the `PARAMS` table), which converts and
//! checks each argument before the call as Go does (`wrong type for value; expected int;
//! got float64`, `expected string; found 2`, `cannot assign nil to string`), so a
//! function only ever sees the kinds its parameters take.

use slipway_template::{Arity, FuncResult, Funcs, Type, Value};

mod args;
mod defaults;
mod dicts;
mod durations;
mod encoding;
mod json;
mod lists;
mod numbers;
mod paths;
mod regex;
mod semver;
pub(crate) use semver::prepare as prepare_semver;
mod text;
mod unicode;
mod unicode_tables;
mod url;

type Plain = fn(&[Value]) -> FuncResult;

const fn exact(n: usize) -> Arity {
    Arity::Exact(n)
}

const fn at_least(n: usize) -> Arity {
    Arity::AtLeast(n)
}

/// Every function done here: its name, Go's arity, and the code.
const FUNCTIONS: &[(&str, Arity, Plain)] = &[
    ("hello", exact(0), text::hello),
    // Durations.
    ("duration", exact(1), durations::duration),
    ("durationRound", exact(1), durations::duration_round),
    // Strings.
    ("abbrev", exact(2), text::abbrev),
    ("abbrevboth", exact(3), text::abbrevboth),
    ("trunc", exact(2), text::trunc),
    ("trim", exact(1), text::trim),
    ("upper", exact(1), text::upper),
    ("lower", exact(1), text::lower),
    ("title", exact(1), text::title),
    ("untitle", exact(1), text::untitle),
    ("substr", exact(3), text::substr),
    ("repeat", exact(2), text::repeat),
    ("trimall", exact(2), text::trim_all),
    ("trimAll", exact(2), text::trim_all),
    ("trimSuffix", exact(2), text::trim_suffix),
    ("trimPrefix", exact(2), text::trim_prefix),
    ("nospace", exact(1), text::nospace),
    ("initials", exact(1), text::initials),
    ("swapcase", exact(1), text::swapcase),
    ("snakecase", exact(1), text::snakecase),
    ("camelcase", exact(1), text::camelcase),
    ("kebabcase", exact(1), text::kebabcase),
    ("wrap", exact(2), text::wrap),
    ("wrapWith", exact(3), text::wrap_with),
    ("contains", exact(2), text::contains),
    ("hasPrefix", exact(2), text::has_prefix),
    ("hasSuffix", exact(2), text::has_suffix),
    ("quote", at_least(0), text::quote),
    ("squote", at_least(0), text::squote),
    ("cat", at_least(0), text::cat),
    ("indent", exact(2), text::indent),
    ("nindent", exact(2), text::nindent),
    ("replace", exact(3), text::replace),
    ("plural", exact(3), text::plural),
    ("sha1sum", exact(1), encoding::sha1sum),
    ("sha256sum", exact(1), encoding::sha256sum),
    ("sha512sum", exact(1), encoding::sha512sum),
    ("adler32sum", exact(1), encoding::adler32sum),
    ("toString", exact(1), text::to_string),
    ("atoi", exact(1), text::atoi),
    ("int64", exact(1), numbers::int),
    ("int", exact(1), numbers::int),
    ("float64", exact(1), numbers::float64),
    ("seq", at_least(0), numbers::seq),
    ("toDecimal", exact(1), numbers::to_decimal),
    ("split", exact(2), text::split),
    ("splitList", exact(2), text::split_list),
    ("splitn", exact(3), text::splitn),
    ("toStrings", exact(1), text::to_strings),
    ("until", exact(1), numbers::until),
    ("untilStep", exact(3), numbers::until_step_fn),
    // Arithmetic.
    ("add1", exact(1), numbers::add1),
    ("add", at_least(0), numbers::add),
    ("sub", exact(2), numbers::sub),
    ("div", exact(2), numbers::div),
    ("mod", exact(2), numbers::modulo),
    ("mul", at_least(1), numbers::mul),
    ("add1f", exact(1), numbers::add1f),
    ("addf", at_least(0), numbers::addf),
    ("subf", at_least(1), numbers::subf),
    ("divf", at_least(1), numbers::divf),
    ("mulf", at_least(1), numbers::mulf),
    ("biggest", at_least(1), numbers::max),
    ("max", at_least(1), numbers::max),
    ("min", at_least(1), numbers::min),
    ("maxf", at_least(1), numbers::maxf),
    ("minf", at_least(1), numbers::minf),
    ("ceil", exact(1), numbers::ceil),
    ("floor", exact(1), numbers::floor),
    ("round", at_least(2), numbers::round),
    ("join", exact(2), text::join),
    ("sortAlpha", exact(1), text::sort_alpha),
    // Defaults.
    ("default", at_least(1), defaults::default),
    ("empty", exact(1), defaults::empty),
    ("coalesce", at_least(0), defaults::coalesce),
    ("all", at_least(0), defaults::all),
    ("any", at_least(0), defaults::any),
    ("compact", exact(1), lists::compact),
    ("mustCompact", exact(1), lists::compact),
    ("fromJson", exact(1), json::from_json),
    ("toJson", exact(1), json::to_json),
    ("toPrettyJson", exact(1), json::to_pretty_json),
    ("toRawJson", exact(1), json::to_raw_json),
    ("mustFromJson", exact(1), json::must_from_json),
    ("mustToJson", exact(1), json::must_to_json),
    ("mustToPrettyJson", exact(1), json::must_to_pretty_json),
    ("mustToRawJson", exact(1), json::to_raw_json),
    ("ternary", exact(3), defaults::ternary),
    ("deepCopy", exact(1), dicts::deep_copy),
    ("mustDeepCopy", exact(1), dicts::deep_copy),
    // Reflection.
    ("typeOf", exact(1), defaults::type_of),
    ("typeIs", exact(2), defaults::type_is),
    ("typeIsLike", exact(2), defaults::type_is_like),
    ("kindOf", exact(1), defaults::kind_of),
    ("kindIs", exact(2), defaults::kind_is),
    ("deepEqual", exact(2), defaults::deep_equal_fn),
    // Paths.
    ("base", exact(1), paths::base),
    ("dir", exact(1), paths::dir),
    ("clean", exact(1), paths::clean),
    ("ext", exact(1), paths::ext),
    ("isAbs", exact(1), paths::is_abs),
    ("osBase", exact(1), paths::base),
    ("osClean", exact(1), paths::clean),
    ("osDir", exact(1), paths::dir),
    ("osExt", exact(1), paths::ext),
    ("osIsAbs", exact(1), paths::is_abs),
    // Encodings.
    ("b64enc", exact(1), encoding::b64enc),
    ("b64dec", exact(1), encoding::b64dec),
    ("b32enc", exact(1), encoding::b32enc),
    ("b32dec", exact(1), encoding::b32dec),
    // Data structures.
    ("tuple", at_least(0), lists::list),
    ("list", at_least(0), lists::list),
    ("dict", at_least(0), dicts::dict),
    ("get", exact(2), dicts::get),
    ("set", exact(3), dicts::set),
    ("unset", exact(2), dicts::unset),
    ("hasKey", exact(2), dicts::has_key),
    ("pluck", at_least(1), dicts::pluck),
    ("keys", at_least(0), dicts::keys),
    ("pick", at_least(1), dicts::pick),
    ("omit", at_least(1), dicts::omit),
    ("merge", at_least(1), dicts::merge),
    ("mergeOverwrite", at_least(1), dicts::merge_overwrite),
    ("mustMerge", at_least(1), dicts::merge),
    ("mustMergeOverwrite", at_least(1), dicts::merge_overwrite),
    ("values", exact(1), dicts::values),
    ("append", exact(2), lists::push),
    ("push", exact(2), lists::push),
    ("mustAppend", exact(2), lists::push),
    ("mustPush", exact(2), lists::push),
    ("prepend", exact(2), lists::prepend),
    ("mustPrepend", exact(2), lists::prepend),
    ("first", exact(1), lists::first),
    ("mustFirst", exact(1), lists::first),
    ("rest", exact(1), lists::rest),
    ("mustRest", exact(1), lists::rest),
    ("last", exact(1), lists::last),
    ("mustLast", exact(1), lists::last),
    ("initial", exact(1), lists::initial),
    ("mustInitial", exact(1), lists::initial),
    ("reverse", exact(1), lists::reverse),
    ("mustReverse", exact(1), lists::reverse),
    ("uniq", exact(1), lists::uniq),
    ("mustUniq", exact(1), lists::uniq),
    ("without", at_least(1), lists::without),
    ("mustWithout", at_least(1), lists::without),
    ("has", exact(2), lists::has),
    ("mustHas", exact(2), lists::has),
    ("slice", at_least(1), lists::slice),
    ("mustSlice", at_least(1), lists::slice),
    ("concat", at_least(0), lists::concat),
    ("dig", at_least(0), dicts::dig),
    ("chunk", exact(2), lists::chunk),
    ("mustChunk", exact(2), lists::chunk),
    // Semantic versions.
    ("semver", exact(1), semver::semver),
    ("semverCompare", exact(2), semver::semver_compare),
    // Flow control.
    ("fail", exact(1), text::fail),
    // Regular expressions.
    ("regexMatch", exact(2), regex::regex_match),
    ("mustRegexMatch", exact(2), regex::must_regex_match),
    ("regexFindAll", exact(3), regex::regex_find_all),
    ("mustRegexFindAll", exact(3), regex::must_regex_find_all),
    ("regexFind", exact(2), regex::regex_find),
    ("mustRegexFind", exact(2), regex::must_regex_find),
    ("regexReplaceAll", exact(3), regex::regex_replace_all),
    (
        "mustRegexReplaceAll",
        exact(3),
        regex::must_regex_replace_all,
    ),
    (
        "regexReplaceAllLiteral",
        exact(3),
        regex::regex_replace_all_literal,
    ),
    (
        "mustRegexReplaceAllLiteral",
        exact(3),
        regex::must_regex_replace_all_literal,
    ),
    ("regexSplit", exact(3), regex::regex_split),
    ("mustRegexSplit", exact(3), regex::must_regex_split),
    ("regexQuoteMeta", exact(1), regex::regex_quote_meta),
    // URLs.
    ("urlParse", exact(1), url::url_parse),
    ("urlJoin", exact(1), url::url_join),
];

const STR: Type = Type::String;
const INT: Type = Type::Int;
const ANY: Type = Type::Any;
const MAP: Type = Type::Map;

/// The Go types of the parameters of every function [`FUNCTIONS`] has whose parameters
/// are not all `interface{}`: its fixed parameters, then the type of each further one
/// for a variadic function.
const PARAMS: &[(&str, &[Type], Option<Type>)] = &[
    // Strings.
    ("abbrev", &[INT, STR], None),
    ("abbrevboth", &[INT, INT, STR], None),
    ("trunc", &[INT, STR], None),
    ("trim", &[STR], None),
    ("upper", &[STR], None),
    ("lower", &[STR], None),
    ("title", &[STR], None),
    ("untitle", &[STR], None),
    ("substr", &[INT, INT, STR], None),
    ("repeat", &[INT, STR], None),
    ("trimall", &[STR, STR], None),
    ("trimAll", &[STR, STR], None),
    ("trimSuffix", &[STR, STR], None),
    ("trimPrefix", &[STR, STR], None),
    ("nospace", &[STR], None),
    ("initials", &[STR], None),
    ("swapcase", &[STR], None),
    ("snakecase", &[STR], None),
    ("camelcase", &[STR], None),
    ("kebabcase", &[STR], None),
    ("wrap", &[INT, STR], None),
    ("wrapWith", &[INT, STR, STR], None),
    ("contains", &[STR, STR], None),
    ("hasPrefix", &[STR, STR], None),
    ("hasSuffix", &[STR, STR], None),
    ("indent", &[INT, STR], None),
    ("nindent", &[INT, STR], None),
    ("replace", &[STR, STR, STR], None),
    ("plural", &[STR, STR, INT], None),
    ("sha1sum", &[STR], None),
    ("sha256sum", &[STR], None),
    ("sha512sum", &[STR], None),
    ("adler32sum", &[STR], None),
    ("atoi", &[STR], None),
    ("seq", &[], Some(INT)),
    ("split", &[STR, STR], None),
    ("splitList", &[STR, STR], None),
    ("splitn", &[STR, INT, STR], None),
    ("until", &[INT], None),
    ("untilStep", &[INT, INT, INT], None),
    ("round", &[ANY, INT], Some(Type::Float64)),
    ("join", &[STR, ANY], None),
    ("fromJson", &[STR], None),
    ("mustFromJson", &[STR], None),
    ("ternary", &[ANY, ANY, Type::Bool], None),
    // Reflection.
    ("typeIs", &[STR, ANY], None),
    ("typeIsLike", &[STR, ANY], None),
    ("kindIs", &[STR, ANY], None),
    // Paths.
    ("base", &[STR], None),
    ("dir", &[STR], None),
    ("clean", &[STR], None),
    ("ext", &[STR], None),
    ("isAbs", &[STR], None),
    ("osBase", &[STR], None),
    ("osClean", &[STR], None),
    ("osDir", &[STR], None),
    ("osExt", &[STR], None),
    ("osIsAbs", &[STR], None),
    // Encodings.
    ("b64enc", &[STR], None),
    ("b64dec", &[STR], None),
    ("b32enc", &[STR], None),
    ("b32dec", &[STR], None),
    // Data structures.
    ("get", &[MAP, STR], None),
    ("set", &[MAP, STR, ANY], None),
    ("unset", &[MAP, STR], None),
    ("hasKey", &[MAP, STR], None),
    ("pluck", &[STR], Some(MAP)),
    ("keys", &[], Some(MAP)),
    ("pick", &[MAP], Some(STR)),
    ("omit", &[MAP], Some(STR)),
    ("merge", &[MAP], Some(MAP)),
    ("mergeOverwrite", &[MAP], Some(MAP)),
    ("mustMerge", &[MAP], Some(MAP)),
    ("mustMergeOverwrite", &[MAP], Some(MAP)),
    ("values", &[MAP], None),
    ("chunk", &[INT, ANY], None),
    ("mustChunk", &[INT, ANY], None),
    // Semantic versions.
    ("semver", &[STR], None),
    ("semverCompare", &[STR, STR], None),
    // Flow control.
    ("fail", &[STR], None),
    // Regular expressions.
    ("regexMatch", &[STR, STR], None),
    ("mustRegexMatch", &[STR, STR], None),
    ("regexFindAll", &[STR, STR, INT], None),
    ("mustRegexFindAll", &[STR, STR, INT], None),
    ("regexFind", &[STR, STR], None),
    ("mustRegexFind", &[STR, STR], None),
    ("regexReplaceAll", &[STR, STR, STR], None),
    ("mustRegexReplaceAll", &[STR, STR, STR], None),
    ("regexReplaceAllLiteral", &[STR, STR, STR], None),
    ("mustRegexReplaceAllLiteral", &[STR, STR, STR], None),
    ("regexSplit", &[STR, STR, INT], None),
    ("mustRegexSplit", &[STR, STR, INT], None),
    ("regexQuoteMeta", &[STR], None),
    // URLs.
    ("urlParse", &[STR], None),
    ("urlJoin", &[MAP], None),
];

/// Every function refused, and why.
const REFUSED: &[(&str, &str)] = &[
    // The current time, and Go time values (which no template value holds here).
    ("now", "sprig's now (the current time)"),
    ("ago", "sprig's ago (the time since a moment, as of now)"),
    (
        "date",
        "sprig's date (the current time, or a time in the machine's time zone)",
    ),
    (
        "htmlDate",
        "sprig's htmlDate (the current time, or a time in the machine's time zone)",
    ),
    (
        "date_in_zone",
        "sprig's date_in_zone (the current time, or a Go time value)",
    ),
    (
        "dateInZone",
        "sprig's dateInZone (the current time, or a Go time value)",
    ),
    (
        "htmlDateInZone",
        "sprig's htmlDateInZone (the current time, or a Go time value)",
    ),
    ("date_modify", "sprig's date_modify (a Go time value)"),
    ("dateModify", "sprig's dateModify (a Go time value)"),
    (
        "must_date_modify",
        "sprig's must_date_modify (a Go time value)",
    ),
    ("mustDateModify", "sprig's mustDateModify (a Go time value)"),
    ("toDate", "sprig's toDate (a Go time value)"),
    ("mustToDate", "sprig's mustToDate (a Go time value)"),
    ("unixEpoch", "sprig's unixEpoch (a Go time value)"),
    // Randomness.
    (
        "randAlphaNum",
        "sprig's randAlphaNum (random text on every render)",
    ),
    (
        "randAlpha",
        "sprig's randAlpha (random text on every render)",
    ),
    (
        "randAscii",
        "sprig's randAscii (random text on every render)",
    ),
    (
        "randNumeric",
        "sprig's randNumeric (random text on every render)",
    ),
    (
        "randInt",
        "sprig's randInt (a random number on every render)",
    ),
    (
        "randBytes",
        "sprig's randBytes (random bytes on every render)",
    ),
    (
        "shuffle",
        "sprig's shuffle (a random order on every render)",
    ),
    (
        "uuidv4",
        "sprig's uuidv4 (a new random UUID on every render)",
    ),
    // Keys, certificates, passwords and encryption.
    (
        "bcrypt",
        "sprig's bcrypt (a new random salt on every render)",
    ),
    (
        "htpasswd",
        "sprig's htpasswd (a new random salt on every render)",
    ),
    (
        "genPrivateKey",
        "sprig's genPrivateKey (a new key on every render)",
    ),
    (
        "derivePassword",
        "sprig's derivePassword (a password derived with scrypt)",
    ),
    (
        "buildCustomCert",
        "sprig's buildCustomCert (a CA for genSignedCert, which makes a new key on every render)",
    ),
    ("genCA", "sprig's genCA (a new key on every render)"),
    (
        "genCAWithKey",
        "sprig's genCAWithKey (a new certificate, with a random serial number, on every render)",
    ),
    (
        "genSelfSignedCert",
        "sprig's genSelfSignedCert (a new key on every render)",
    ),
    (
        "genSelfSignedCertWithKey",
        "sprig's genSelfSignedCertWithKey (a new certificate, with a random serial number, on every render)",
    ),
    (
        "genSignedCert",
        "sprig's genSignedCert (a new key on every render)",
    ),
    (
        "genSignedCertWithKey",
        "sprig's genSignedCertWithKey (a new certificate, with a random serial number, on every render)",
    ),
    (
        "encryptAES",
        "sprig's encryptAES (a new random IV on every render)",
    ),
    ("decryptAES", "sprig's decryptAES (AES decryption)"),
    // The network.
    ("getHostByName", "sprig's getHostByName (a DNS lookup)"),
];

/// Adds sprig's functions to `funcs`, and refuses those a render cannot repeat (see the
/// module's documentation). `env` and `expandenv` are not added.
pub fn register(funcs: &mut Funcs) {
    for &(name, arity, body) in FUNCTIONS {
        funcs.add_plain(name, arity, body);
    }
    for &(name, fixed, variadic) in PARAMS {
        funcs.typed(name, fixed, variadic);
    }
    for &(name, what) in REFUSED {
        funcs.refuse(name, what);
    }
}

/// Every sprig name [`register`] adds, done or refused.
pub fn names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<&'static str> = FUNCTIONS
            .iter()
            .map(|&(name, _, _)| name)
            .chain(REFUSED.iter().map(|&(name, _)| name))
            .collect();
        names.sort_unstable();
        names
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::process::Command;

    use super::*;

    /// sprig's `functions.go` from the module cache.
    fn functions_go() -> String {
        let out = Command::new("go")
            .args(["env", "GOMODCACHE"])
            .output()
            .expect("run go env GOMODCACHE (Go is needed for this test)");
        let cache = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let path = format!("{cache}/github.com/!masterminds/sprig/v3@v3.3.0/functions.go");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return text;
        }
        let status = Command::new("go")
            .args(["mod", "download", "github.com/Masterminds/sprig/v3@v3.3.0"])
            .env("GOFLAGS", "-mod=mod")
            .current_dir(std::env::temp_dir())
            .status()
            .expect("go mod download");
        assert!(status.success(), "download sprig v3.3.0");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    /// The keys of `genericMap` in sprig's source.
    fn generic_map_keys(source: &str) -> BTreeSet<String> {
        let start = source
            .find("var genericMap = map[string]interface{}{")
            .expect("genericMap in functions.go");
        let body = &source[start..];
        let end = body.find("\n}\n").expect("the end of genericMap");
        let key = ::regex::Regex::new(r#""([A-Za-z0-9_]+)":\s"#).unwrap();
        body[..end]
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .flat_map(|line| {
                key.captures_iter(line)
                    .map(|c| c[1].to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn every_sprig_function_is_done_or_refused() {
        let keys = generic_map_keys(&functions_go());
        assert!(keys.len() > 150, "read {} keys", keys.len());
        let ours: BTreeSet<String> = names().iter().map(|n| n.to_string()).collect();
        let missing: Vec<&String> = keys
            .iter()
            .filter(|k| !ours.contains(*k) && *k != "env" && *k != "expandenv")
            .collect();
        assert!(missing.is_empty(), "not registered: {missing:?}");
        let extra: Vec<&String> = ours.iter().filter(|k| !keys.contains(*k)).collect();
        assert!(extra.is_empty(), "not sprig's: {extra:?}");
        assert!(!ours.contains("env") && !ours.contains("expandenv"));
    }

    /// Values of every kind a parameter of type `ty` lets through to a function.
    fn kinds_for(ty: Type) -> Vec<Value> {
        match ty {
            Type::String => vec![Value::str("a b"), Value::str("")],
            Type::Int | Type::Int64 => vec![Value::Int(2), Value::Int(0), Value::Int(-1)],
            Type::Float64 => vec![Value::Float(0.5)],
            Type::Bool => vec![Value::Bool(true), Value::Bool(false)],
            Type::Map => vec![Value::from_json(&serde_json::json!({"a": 1})), Value::Nil],
            Type::List | Type::Strings => vec![Value::list(vec![Value::str("a")]), Value::Nil],
            Type::Any => {
                let mut all = vec![
                    Value::str("a"),
                    Value::Nil,
                    Value::Bool(true),
                    Value::Int(3),
                    Value::Float(1.5),
                    Value::Bytes(std::rc::Rc::from(&b"ab"[..])),
                    Value::list(vec![Value::Int(1), Value::Nil]),
                    Value::from_json(&serde_json::json!({"a": {"b": 1}})),
                    Value::string_map([("k".to_owned(), "v".to_owned())].into_iter().collect()),
                ];
                all.extend(semver::semver(&[Value::str("1.2.3")]));
                all
            }
        }
    }

    /// The types declared for a function, as the engine reads them.
    fn params_of(name: &str) -> (&'static [Type], Option<Type>) {
        PARAMS
            .iter()
            .find(|&&(n, _, _)| n == name)
            .map_or((&[], None), |&(_, fixed, variadic)| (fixed, variadic))
    }

    /// Each function, given every kind of value its declared parameter types let through
    /// (one parameter varied at a time), runs without finding an argument it does not
    /// take (the accessors in `args` assert on that in test builds). So every parameter a
    /// function reads as `string`, `int`, `bool`, `float64` or a dict is declared so.
    #[test]
    fn functions_take_whatever_their_declared_types_let_through() {
        for &(name, arity, body) in FUNCTIONS {
            let (fixed, variadic) = params_of(name);
            let param = |i: usize| fixed.get(i).copied().or(variadic).unwrap_or(Type::Any);
            let counts = match arity {
                Arity::Exact(n) => vec![n],
                Arity::AtLeast(n) => vec![n, n + 1, n + 3],
            };
            for count in counts {
                let first: Vec<Value> =
                    (0..count).map(|i| kinds_for(param(i))[0].clone()).collect();
                for i in 0..count {
                    for v in kinds_for(param(i)) {
                        let mut args = first.clone();
                        args[i] = v;
                        let _ = body(&args);
                    }
                }
            }
        }
    }

    #[test]
    fn declares_types_for_registered_functions_with_their_arity() {
        for &(name, fixed, variadic) in PARAMS {
            let Some(&(_, arity, _)) = FUNCTIONS.iter().find(|&&(n, _, _)| n == name) else {
                panic!("{name} is typed but not registered");
            };
            match arity {
                Arity::Exact(n) => assert!(fixed.len() == n && variadic.is_none(), "{name}"),
                Arity::AtLeast(n) => assert!(fixed.len() == n && variadic.is_some(), "{name}"),
            }
            assert_eq!(
                PARAMS.iter().filter(|&&(n, _, _)| n == name).count(),
                1,
                "{name} is typed twice"
            );
        }
    }

    #[test]
    fn registers_each_name_once() {
        let mut funcs = Funcs::default();
        register(&mut funcs);
        let all = names();
        let unique: BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(unique.len(), all.len(), "a name is listed twice");
        for name in all {
            assert!(funcs.contains(name), "{name}");
        }
        assert!(funcs.get("now").unwrap().unsupported.is_some());
        assert!(funcs.get("upper").unwrap().unsupported.is_none());
    }
}
