//! sprig's template functions (v3.3.0, as Helm ships them): strings, numbers, lists,
//! dicts, JSON, regular expressions, semantic versions, URLs, paths and encodings, with
//! Go's results and Go's errors.
//!
//! What a render cannot repeat is refused by name, so a chart that calls it fails with an
//! error that says what it is, instead of rendering something different every time:
//! random values, the current time, new keys and certificates, encryption, and DNS
//! lookups. Helm leaves out `env` and `expandenv`; so does this.
//!
//! Every function is a plain `fn(&[Value]) -> Result<Value, String>`. Arguments Go would
//! convert to a concrete type before the call (`int`, `string`, `bool`, `float64`, a
//! map) are checked inside, and a mismatch returns Go's own text for it (`wrong type for
//! value; expected int; got float64`, `invalid value; expected string`); see
//! [`ARGUMENT_ERRORS`].

use slipway_template::{Arity, FuncResult, Funcs, Value};

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
mod text;
mod unicode;
mod unicode_tables;
mod url;

/// The beginnings of the errors that Go's `text/template` raises while converting an
/// argument (before the function runs), which these functions return themselves. Go
/// reports them without the `error calling NAME:` prefix, at the argument.
pub const ARGUMENT_ERRORS: &[&str] = &["wrong type for value;", "invalid value;"];

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
