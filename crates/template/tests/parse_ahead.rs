//! Texts parsed ahead on another thread give the set exactly what parsing them in place
//! gives: the same templates, the same first error, and nothing stale when a text, a
//! name or the functions changed in between.

use slipway_template::{Arity, Funcs, ParseAhead, Template, Value};

fn with_shout() -> Template {
    let mut funcs = Funcs::builtins();
    funcs.add_plain("shout", Arity::Exact(1), |a| {
        Ok(Value::str(a[0].as_str().unwrap_or("").to_uppercase()))
    });
    Template::new(funcs)
}

fn owned(texts: &[(&str, &str)]) -> Vec<(String, String)> {
    texts
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect()
}

fn run(set: &Template, name: &str) -> String {
    set.execute(name, &Value::str("ahoy")).unwrap()
}

const TEXTS: &[(&str, &str)] = &[
    (
        "a",
        r#"{{ define "greet" }}<{{ shout . }}>{{ end }}a:{{ template "greet" . }}"#,
    ),
    ("b", "b:{{ range $i := 3 }}{{ $i }}{{ end }}"),
    (
        "c",
        r#"{{ define "greet" }}[{{ . }}]{{ end }}c:{{ template "greet" . }}"#,
    ),
];

#[test]
fn the_same_templates_as_parsing_in_place() {
    let mut in_place = with_shout();
    in_place.parse_all(TEXTS).unwrap();
    let mut ahead = with_shout();
    ahead
        .parse_all_ahead(TEXTS, ParseAhead::start(with_shout, || {}, owned(TEXTS)))
        .unwrap();
    for name in ["a", "b", "c", "greet"] {
        assert_eq!(run(&ahead, name), run(&in_place, name), "{name}");
    }
    // The later definition wins, as in Go.
    assert_eq!(run(&ahead, "greet"), "[ahoy]");
}

#[test]
fn the_first_error_in_order_is_the_one_reported() {
    let texts: &[(&str, &str)] = &[
        ("ok", "fine"),
        ("first", "{{ if }}"),
        ("second", "{{ end }}"),
    ];
    let in_place = with_shout().parse_all(texts).map(|_| ()).unwrap_err();
    let ahead = with_shout()
        .parse_all_ahead(texts, ParseAhead::start(with_shout, || {}, owned(texts)))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(ahead.0, 1);
    assert_eq!(ahead.0, in_place.0);
    assert_eq!(ahead.1.to_string(), in_place.1.to_string());
}

#[test]
fn a_text_that_changed_or_was_renamed_is_parsed_again() {
    let started = ParseAhead::start(
        with_shout,
        || {},
        owned(&[("a", "old {{ . }}"), ("b", "b")]),
    );
    let mut set = with_shout();
    set.parse_all_ahead(
        &[("a", "new {{ shout . }}"), ("renamed", "r {{ . }}")],
        started,
    )
    .unwrap();
    assert_eq!(run(&set, "a"), "new AHOY");
    assert_eq!(run(&set, "renamed"), "r ahoy");
    assert!(!set.has("b"), "a text the set was not given is not added");
}

#[test]
fn texts_parsed_with_other_functions_are_not_used() {
    // Ahead, `shout` is unknown and the text fails to parse; the set knows it.
    let texts: &[(&str, &str)] = &[("a", "{{ shout . }}")];
    let started = ParseAhead::start(|| Template::new(Funcs::builtins()), || {}, owned(texts));
    let mut set = with_shout();
    set.parse_all_ahead(texts, started).unwrap();
    assert_eq!(run(&set, "a"), "AHOY");

    // And the other way round: ahead knows `shout`, the set does not.
    let started = ParseAhead::start(with_shout, || {}, owned(texts));
    let mut set = Template::new(Funcs::builtins());
    let err = set.parse_all_ahead(texts, started).unwrap_err();
    assert!(
        err.1
            .to_string()
            .contains(r#"function "shout" not defined"#),
        "{}",
        err.1
    );
}

#[test]
fn other_delimiters_are_not_used() {
    let texts: &[(&str, &str)] = &[("a", "[[ . ]]{{ . }}")];
    let started = ParseAhead::start(with_shout, || {}, owned(texts));
    let mut set = with_shout();
    set.delims("[[", "]]");
    set.parse_all_ahead(texts, started).unwrap();
    assert_eq!(run(&set, "a"), "ahoy{{ . }}");
}

#[test]
fn the_thread_goes_on_with_then_once_every_text_is_parsed() {
    let (tx, rx) = std::sync::mpsc::channel();
    let started = ParseAhead::start(with_shout, move || tx.send("then").unwrap(), owned(TEXTS));
    let mut set = with_shout();
    set.parse_all_ahead(TEXTS, started).unwrap();
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(10)),
        Ok("then")
    );
    assert_eq!(run(&set, "a"), "a:[ahoy]");
}
