//! `values.schema.json` checks compared with Helm's own: every case is a tiny chart (and
//! maybe subcharts) written to a temporary folder and rendered with the real `helm
//! template`. Helm passes exactly when `schema::validate` passes, and when Helm fails, its
//! message (after `Error: `) is the message slipway gives. Helm lists the problems found
//! in one object in a random order (Go's map order), so sibling lines are compared as
//! sets.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use slipway_chart::model::{Chart, Metadata};
use slipway_chart::schema;
use slipway_template::Value;
use slipway_testkit::Helm;

struct Sub {
    name: &'static str,
    schema: Option<&'static str>,
    values: &'static str,
}

struct Case {
    name: String,
    schema: Option<String>,
    values: String,
    subs: Vec<Sub>,
}

fn case(name: impl Into<String>, schema: impl Into<String>, values: impl Into<String>) -> Case {
    Case {
        name: name.into(),
        schema: Some(schema.into()),
        values: values.into(),
        subs: Vec::new(),
    }
}

fn cases() -> Vec<Case> {
    let mut v = vec![
        // type
        case(
            "type integer, got string",
            r#"{"properties":{"replicaCount":{"type":"integer"}}}"#,
            "replicaCount: x\n",
        ),
        case(
            "type integer, float without fraction",
            r#"{"properties":{"replicaCount":{"type":"integer"}}}"#,
            "replicaCount: 3.0\n",
        ),
        case(
            "type integer, float with fraction",
            r#"{"properties":{"replicaCount":{"type":"integer"}}}"#,
            "replicaCount: 3.5\n",
        ),
        case(
            "type list",
            r#"{"properties":{"a":{"type":["string","null","boolean"]},"b":{"type":"number"},"c":{"type":"array"},"d":{"type":"object"}}}"#,
            "a: 1\nb: 'x'\nc: {}\nd: []\n",
        ),
        case(
            "type all good",
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"boolean"},"c":{"type":"array"},"d":{"type":"object"},"e":{"type":"number"}}}"#,
            "a: x\nb: true\nc: [1]\nd: {x: 1}\ne: 1.5\n",
        ),
        // required
        case(
            "required one",
            r#"{"type":"object","required":["image"]}"#,
            "a: 1\n",
        ),
        case(
            "required several",
            r#"{"required":["image","zz","a"]}"#,
            "a: 1\n",
        ),
        case(
            "required nested",
            r#"{"properties":{"image":{"type":"object","required":["repository","tag"]}}}"#,
            "image:\n  tag: v1\n",
        ),
        // enum and const
        case(
            "enum strings",
            r#"{"properties":{"pullPolicy":{"enum":["Always","IfNotPresent","Never"]}}}"#,
            "pullPolicy: Sometimes\n",
        ),
        case(
            "enum numbers compare by value",
            r#"{"properties":{"a":{"enum":[1,2.0,1e2]},"b":{"enum":[1,2.0,1e2]}}}"#,
            "a: 100\nb: 2\n",
        ),
        case(
            "enum numbers shown as written",
            r#"{"properties":{"a":{"enum":[1,2.0,1e2,"x",true,null]}}}"#,
            "a: 3\n",
        ),
        case(
            "enum single",
            r#"{"properties":{"a":{"enum":["only"]}}}"#,
            "a: other\n",
        ),
        case(
            "enum with objects",
            r#"{"properties":{"a":{"enum":[{"x":1},[1,2]]},"b":{"enum":[{"x":1},[1,2]]}}}"#,
            "a: {x: 2}\nb: [1, 2]\n",
        ),
        case(
            "const",
            r#"{"properties":{"a":{"const":5},"b":{"const":"x"},"c":{"const":{"k":[1]}},"d":{"const":5}}}"#,
            "a: 5.0\nb: y\nc: {k: [2]}\nd: 6\n",
        ),
        // properties, patternProperties, additionalProperties
        case(
            "additionalProperties false",
            r#"{"properties":{"a":{}},"additionalProperties":false}"#,
            "a: 1\nzeta: 2\nbeta: 3\n",
        ),
        case(
            "additionalProperties schema",
            r#"{"properties":{"a":{}},"additionalProperties":{"type":"string"}}"#,
            "a: 1\nb: 2\nc: ok\n",
        ),
        case(
            "patternProperties",
            r#"{"patternProperties":{"^x-":{"type":"integer"},"b$":{"type":"string"}},"additionalProperties":false}"#,
            "x-a: str\nx-b: 1\nab: 1\nother: 1\n",
        ),
        case(
            "nested objects",
            r#"{"properties":{"service":{"type":"object","properties":{"port":{"type":"integer","minimum":1,"maximum":65535},"type":{"enum":["ClusterIP","NodePort"]}}}}}"#,
            "service:\n  port: 70000\n  type: LoadBalancer\n",
        ),
        case(
            "property names with slashes and tildes",
            r#"{"properties":{"a/b":{"type":"string"},"c~d":{"type":"string"}}}"#,
            "a/b: 1\nc~d: 2\n",
        ),
        case(
            "quoting of names and values",
            r#"{"additionalProperties":{"type":"integer"},"properties":{"p":{"pattern":"^x$"},"q":{"enum":["it's","say \"hi\"","tab\there","back\\"]}}}"#,
            "\"it's \\\"x\\\"\": a\np: \"a\\tb\\\\\"\nq: \"ü\"\n\"é/~\": b\n",
        ),
        case(
            "false schema",
            r#"{"properties":{"a":false,"b":true}}"#,
            "a: 1\nb: 2\n",
        ),
        // arrays
        case(
            "items schema",
            r#"{"properties":{"list":{"type":"array","items":{"type":"string"}}}}"#,
            "list: [a, 1, b, true]\n",
        ),
        case(
            "items array and additionalItems false (draft 7)",
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"t":{"items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}}}"#,
            "t: [a, b, 3, 4]\n",
        ),
        case(
            "items array and additionalItems schema (draft 7)",
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"t":{"items":[{"type":"string"}],"additionalItems":{"type":"integer"}}}}"#,
            "t: [a, 1, x]\n",
        ),
        case(
            "prefixItems and items false (2020-12)",
            r#"{"properties":{"t":{"prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}}}"#,
            "t: [a, x, 3]\n",
        ),
        case(
            "minItems maxItems",
            r#"{"properties":{"a":{"minItems":2},"b":{"maxItems":1}}}"#,
            "a: [1]\nb: [1, 2, 3]\n",
        ),
        case(
            "uniqueItems",
            r#"{"properties":{"a":{"uniqueItems":true},"b":{"uniqueItems":true},"c":{"uniqueItems":true}}}"#,
            "a: [1, 2, 1.0]\nb: [{x: 1}, {x: 1}]\nc: [1, 2, 3]\n",
        ),
        case(
            "contains",
            r#"{"properties":{"a":{"contains":{"type":"string"}},"b":{"contains":{"type":"string"},"minContains":2},"c":{"contains":{"type":"string"},"maxContains":1},"d":{"contains":{"type":"string"},"minContains":2}}}"#,
            "a: [1, 2]\nb: [x, 1]\nc: [x, y, 1, z]\nd: [1, 2]\n",
        ),
        // strings
        case(
            "minLength maxLength count code points",
            r#"{"properties":{"a":{"maxLength":4},"b":{"minLength":3},"c":{"maxLength":4}}}"#,
            "a: héllo\nb: ab\nc: héll\n",
        ),
        case(
            "pattern",
            r#"{"properties":{"name":{"pattern":"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},"ok":{"pattern":"^[a-z]+$"}}}"#,
            "name: Bad_Name\nok: fine\n",
        ),
        case(
            "pattern is searched, not anchored",
            r#"{"properties":{"a":{"pattern":"b+"},"b":{"pattern":"b+"}}}"#,
            "a: abbbc\nb: xyz\n",
        ),
        case(
            "pattern classes are ASCII",
            r#"{"properties":{"d":{"pattern":"^\\d+$"},"w":{"pattern":"^\\w+$"},"s":{"pattern":"^a\\sb$"},"b":{"pattern":"\\bé"}}}"#,
            "d: \"١٢\"\nw: é\ns: \"a\\u00a0b\"\nb: xé\n",
        ),
        case(
            "pattern Go syntax",
            r#"{"properties":{"a":{"pattern":"^a{,2}$"},"b":{"pattern":"^\\Qa.b\\E$"},"c":{"pattern":"^(?i)abc$"},"d":{"pattern":"^[[:alpha:]]+\\x41\\101$"},"e":{"pattern":"^\\p{Greek}+$"}}}"#,
            "a: a{,2}\nb: a.b\nc: ABC\nd: xyAA\ne: αβγ\n",
        ),
        case(
            "pattern Go syntax, failing",
            r#"{"properties":{"a":{"pattern":"^a{,2}$"},"b":{"pattern":"^\\Qa.b\\E$"},"c":{"pattern":"^(?i)abc$"},"e":{"pattern":"^\\p{Greek}+$"}}}"#,
            "a: aa\nb: axb\nc: abd\ne: abc\n",
        ),
        case(
            "regex semantics",
            r#"{"properties":{"dotnl":{"pattern":"^a.b$"},"dotall":{"pattern":"(?s)^a.b$"},"end":{"pattern":"^abc$"},"multi":{"pattern":"(?m)^b$"},"negnl":{"pattern":"^[^a]$"},"range":{"pattern":"^[\\d-z]+$"},"dash":{"pattern":"^[a-]+$"},"lazy":{"pattern":"^a{2}?x*?$"},"letters":{"pattern":"^\\pL+$"},"posixneg":{"pattern":"^[[:^digit:]]+$"},"quote":{"pattern":"^\\Qa+b"},"octal":{"pattern":"^\\141\\x{263a}$"},"kelvin":{"pattern":"(?i)^k$"},"longs":{"pattern":"(?i)^\\w$"},"empty":{"pattern":"[^\\x00-\\x{10FFFF}]"},"alt":{"pattern":"^(a|)$"},"caret":{"pattern":"^*a"},"counts":{"pattern":"^x{2,}y{0}$"},"ungreedy":{"pattern":"(?U)^a+$"},"wordb":{"pattern":"a\\b"},"nonword":{"pattern":"a\\B"}}}"#,
            "dotnl: \"a\\nb\"\ndotall: \"a\\nb\"\nend: \"abc\\n\"\nmulti: \"a\\nb\\nc\"\nnegnl: \"\\n\"\nrange: \"1-z2\"\ndash: \"a-a\"\nlazy: aaxx\nletters: \"héllo\"\nposixneg: abc\nquote: \"a+b\"\noctal: \"a\\u263a\"\nkelvin: \"\\u212a\"\nlongs: \"\\u017f\"\nempty: x\nalt: \"\"\ncaret: a\ncounts: xxx\nungreedy: aaa\nwordb: \"aé\"\nnonword: ab\n",
        ),
        case(
            "regex semantics, failing",
            r#"{"properties":{"range":{"pattern":"^[\\d-z]+$"},"lazy":{"pattern":"^a{2}?x*?$"},"letters":{"pattern":"^\\pL+$"},"posixneg":{"pattern":"^[[:^digit:]]+$"},"counts":{"pattern":"^x{2,}y{0}$"},"wordb":{"pattern":"a\\b"}}}"#,
            "range: \"1-y\"\nlazy: ax\nletters: \"h1\"\nposixneg: a1\ncounts: x\nwordb: ab\n",
        ),
        case(
            "pattern with look-ahead is refused",
            r#"{"properties":{"a":{"pattern":"^(?=x)"}}}"#,
            "a: x\n",
        ),
        case(
            "pattern with back-reference is refused",
            r#"{"properties":{"a":{"pattern":"(a)\\1"}}}"#,
            "a: x\n",
        ),
        case(
            "pattern with nested repetition is refused",
            r#"{"properties":{"a":{"pattern":"a**"}}}"#,
            "a: x\n",
        ),
        case(
            "pattern errors of several kinds",
            r#"{"properties":{"a":{"pattern":"[z-a]"},"b":{"pattern":"(a"},"c":{"pattern":"a)"},"d":{"pattern":"\\Z"},"e":{"pattern":"x{1001}"},"f":{"pattern":"[[:foo:]]"},"g":{"pattern":"(?P<n"},"h":{"pattern":"\\p{Foo}"},"i":{"pattern":"[a"},"j":{"pattern":"*a"},"k":{"pattern":"(a{100}){20}"}}}"#,
            "a: x\n",
        ),
        case(
            "more pattern errors",
            r#"{"properties":{"p00":{"pattern":"\\8"},"p01":{"pattern":"\\e"},"p02":{"pattern":"\\C"},"p03":{"pattern":"a*+"},"p04":{"pattern":"a?*"},"p05":{"pattern":"a{2}{3}"},"p06":{"pattern":"a{2}*"},"p07":{"pattern":"a{2,1}"},"p08":{"pattern":"{1}"},"p09":{"pattern":"(?x)a"},"p10":{"pattern":"(?i"},"p11":{"pattern":"(?z)"},"p12":{"pattern":"(?i-)a"},"p13":{"pattern":"(?-)a"},"p14":{"pattern":"(?P<>x)"},"p15":{"pattern":"(?P<a-b>x)"},"p16":{"pattern":"(?P=n)"},"p17":{"pattern":"(?<=x)"},"p18":{"pattern":"(?<!x)"},"p19":{"pattern":"\\x{110000}"},"p20":{"pattern":"\\x{zz}"},"p21":{"pattern":"\\xZ"},"p22":{"pattern":"\\x5"},"p23":{"pattern":"[\\8]"},"p24":{"pattern":"\\pX"},"p25":{"pattern":"\\"},"p26":{"pattern":"abc\\"},"p27":{"pattern":"[[:alpha:]"},"p28":{"pattern":"x{1"},"p29":{"pattern":"(?:"},"p30":{"pattern":"[]"},"p31":{"pattern":"[^]"},"p32":{"pattern":"a|*"},"p33":{"pattern":"(*)"},"p34":{"pattern":"[a-\\d]"},"p35":{"pattern":"\\p{^Greek"},"p36":{"pattern":"x**?"},"p37":{"pattern":"(a{2}){501}"}}}"#,
            "a: x\n",
        ),
        case(
            "patternProperties with a bad regex (draft 4)",
            r#"{"$schema":"http://json-schema.org/draft-04/schema#","patternProperties":{"(?!x)":{}}}"#,
            "a: x\n",
        ),
        // numbers
        case(
            "minimum maximum",
            r#"{"properties":{"a":{"minimum":1},"b":{"maximum":10},"c":{"minimum":1,"maximum":10}}}"#,
            "a: 0\nb: 10.5\nc: 5\n",
        ),
        case(
            "numbers printed as the message printer prints them",
            r#"{"properties":{"a":{"maximum":1000.5},"b":{"minimum":1},"c":{"maximum":12345678},"d":{"multipleOf":0.5},"e":{"exclusiveMinimum":-1000}}}"#,
            "a: 1234567\nb: 0.000012345\nc: 1e21\nd: 12345.678\ne: -1234567.5\n",
        ),
        case(
            "exclusive bounds as numbers",
            r#"{"properties":{"a":{"exclusiveMinimum":1},"b":{"exclusiveMaximum":10},"c":{"exclusiveMaximum":10}}}"#,
            "a: 1\nb: 10\nc: 9.99\n",
        ),
        case(
            "exclusive bounds as booleans (draft 4)",
            r#"{"$schema":"http://json-schema.org/draft-04/schema#","properties":{"a":{"minimum":1,"exclusiveMinimum":true},"b":{"maximum":10,"exclusiveMaximum":true},"c":{"maximum":10,"exclusiveMaximum":false}}}"#,
            "a: 1\nb: 10\nc: 10\n",
        ),
        case(
            "multipleOf is exact",
            r#"{"properties":{"a":{"multipleOf":0.1},"b":{"multipleOf":0.01},"c":{"multipleOf":0.7},"d":{"multipleOf":3},"e":{"multipleOf":1e-3}}}"#,
            "a: 0.3\nb: 19.99\nc: 1.5\nd: 10\ne: 1.0005\n",
        ),
        case(
            "large item counts are grouped",
            r#"{"properties":{"a":{"maxLength":1000}}}"#,
            "a: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        ),
        // combinators
        case(
            "allOf",
            r#"{"properties":{"a":{"allOf":[{"type":"integer"},{"minimum":10},{"maximum":100}]}}}"#,
            "a: 5.5\n",
        ),
        case(
            "anyOf",
            r#"{"properties":{"a":{"anyOf":[{"type":"string"},{"type":"integer"}]},"b":{"anyOf":[{"type":"string"},{"type":"integer"}]}}}"#,
            "a: 1.5\nb: x\n",
        ),
        case(
            "oneOf none and two",
            r#"{"properties":{"a":{"oneOf":[{"type":"string"},{"type":"integer"}]},"b":{"oneOf":[{"type":"number"},{"type":"integer"},{"minimum":0}]},"c":{"oneOf":[{"type":"string"},{"type":"integer"}]}}}"#,
            "a: 1.5\nb: 2\nc: x\n",
        ),
        case(
            "not",
            r#"{"properties":{"a":{"not":{"type":"string"}},"b":{"not":{"type":"string"}}}}"#,
            "a: x\nb: 1\n",
        ),
        case(
            "if then else",
            r#"{"if":{"properties":{"kind":{"const":"a"}}},"then":{"required":["forA"]},"else":{"required":["forOther"]}}"#,
            "kind: a\n",
        ),
        case(
            "if then else, else branch",
            r#"{"if":{"properties":{"kind":{"const":"a"}}},"then":{"required":["forA"]},"else":{"required":["forOther"]}}"#,
            "kind: b\n",
        ),
        // object keywords
        case(
            "dependencies (draft 7)",
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","dependencies":{"tls":["cert","key"],"auth":{"required":["user"]}}}"#,
            "tls: true\ncert: x\nauth: true\n",
        ),
        case(
            "dependentRequired and dependentSchemas",
            r#"{"dependentRequired":{"tls":["cert","key"]},"dependentSchemas":{"auth":{"required":["user"]}}}"#,
            "tls: true\nauth: true\n",
        ),
        case(
            "propertyNames",
            r#"{"properties":{"labels":{"propertyNames":{"pattern":"^[a-z]+$","maxLength":5}}}}"#,
            "labels:\n  good: 1\n  Bad: 2\n  toolong: 3\n",
        ),
        case(
            "minProperties maxProperties",
            r#"{"properties":{"a":{"minProperties":2},"b":{"maxProperties":1}}}"#,
            "a: {x: 1}\nb: {x: 1, y: 2}\n",
        ),
        case(
            "unevaluatedProperties",
            r#"{"allOf":[{"properties":{"a":{}}}],"properties":{"b":{}},"unevaluatedProperties":false}"#,
            "a: 1\nb: 2\nc: 3\n",
        ),
        case(
            "unevaluatedItems",
            r#"{"properties":{"t":{"prefixItems":[{"type":"string"}],"unevaluatedItems":{"type":"integer"}}}}"#,
            "t: [a, 1, x]\n",
        ),
        // references
        case(
            "ref to definitions (draft 7)",
            r##"{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"port":{"type":"integer","maximum":65535}},"properties":{"http":{"$ref":"#/definitions/port"},"https":{"$ref":"#/definitions/port"}}}"##,
            "http: 80\nhttps: 70000\n",
        ),
        case(
            "ref to $defs",
            r##"{"$defs":{"image":{"type":"object","required":["repository"],"properties":{"tag":{"type":"string"}}}},"properties":{"image":{"$ref":"#/$defs/image"}}}"##,
            "image:\n  tag: 1\n",
        ),
        case(
            "ref to definitions (2020-12)",
            r##"{"definitions":{"port":{"type":"integer"}},"properties":{"http":{"$ref":"#/definitions/port"}}}"##,
            "http: x\n",
        ),
        case(
            "ref by JSON pointer",
            r##"{"properties":{"a":{"type":"string"},"b":{"$ref":"#/properties/a"}}}"##,
            "b: 1\n",
        ),
        case(
            "ref siblings ignored before 2019-09",
            r##"{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/s","minLength":5}}}"##,
            "a: abc\n",
        ),
        case(
            "ref siblings applied from 2019-09",
            r##"{"$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s","minLength":5}}}"##,
            "a: abc\n",
        ),
        case(
            "ref to an anchor and an embedded id",
            r##"{"$id":"https://example.com/values","$defs":{"n":{"$anchor":"num","type":"number"},"other":{"$id":"other","type":"string"}},"properties":{"a":{"$ref":"#num"},"b":{"$ref":"other"}}}"##,
            "a: x\nb: 1\n",
        ),
        case(
            "ref to a missing place",
            r##"{"properties":{"a":{"$ref":"#/definitions/x"}}}"##,
            "a: 1\n",
        ),
        case(
            "ref to an unresolved urn is an empty schema",
            r##"{"properties":{"a":{"$ref":"urn:example:anything"}}}"##,
            "a: 1\n",
        ),
        case(
            "recursive schema",
            r##"{"$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"properties":{"tree":{"$ref":"#/$defs/node"}}}"##,
            "tree:\n  name: a\n  children:\n    - name: b\n      children:\n        - name: 1\n",
        ),
        case(
            "ref cycle",
            r##"{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"properties":{"x":{"$ref":"#/$defs/a"}}}"##,
            "x: 1\n",
        ),
        case(
            "dynamicRef",
            r##"{"$dynamicAnchor":"meta","properties":{"child":{"$dynamicRef":"#meta"},"v":{"type":"integer"}}}"##,
            "child:\n  child:\n    v: x\n",
        ),
        // formats
        case(
            "formats asserted in draft 7",
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"email":{"format":"email"},"host":{"format":"hostname"},"ip":{"format":"ipv4"},"ip6":{"format":"ipv6"},"date":{"format":"date"},"dt":{"format":"date-time"},"uri":{"format":"uri"},"uuid":{"format":"uuid"},"re":{"format":"regex"},"t":{"format":"time"},"unknown":{"format":"nope"}}}"#,
            "email: not-an-email\nhost: bad_host\nip: 256.1.1.1\nip6: '1::2::3'\ndate: '2020-13-01'\ndt: '2020-01-01 10:00:00'\nuri: relative/path\nuuid: 1234\nre: '(?=x)'\nt: '25:00:00Z'\nunknown: x\n",
        ),
        case(
            "formats passing in draft 7",
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"email":{"format":"email"},"host":{"format":"hostname"},"ip":{"format":"ipv4"},"ip6":{"format":"ipv6"},"date":{"format":"date"},"dt":{"format":"date-time"},"uri":{"format":"uri"},"uuid":{"format":"uuid"},"re":{"format":"regex"},"t":{"format":"time"},"n":{"format":"email"}}}"#,
            "email: a@example.com\nhost: my-host.example.com\nip: 10.0.0.1\nip6: '::1'\ndate: '2020-02-29'\ndt: '2020-01-01T10:00:00Z'\nuri: https://example.com/x\nuuid: 123e4567-e89b-12d3-a456-426614174000\nre: '^a+$'\nt: '23:59:60Z'\nn: 5\n",
        ),
        case(
            "more format failures in draft 7",
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"a":{"format":"date"},"b":{"format":"date"},"c":{"format":"ipv4"},"d":{"format":"uri"},"e":{"format":"uri"},"f":{"format":"duration"},"g":{"format":"json-pointer"},"h":{"format":"uri-reference"},"i":{"format":"ipv6"}}}"#,
            "a: '2021-02-29'\nb: '2020-1-01'\nc: 1.2.3\nd: 'http://a b'\ne: 'http://[::1'\nf: P1Y2D3M\ng: a/b\nh: 'a\\b'\ni: '1:2'\n",
        ),
        case(
            "less common formats in draft 7",
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"a":{"format":"uri-template"},"b":{"format":"semver"},"c":{"format":"period"},"d":{"format":"relative-json-pointer"},"e":{"format":"iri"},"f":{"format":"time"},"g":{"format":"date-time"},"h":{"format":"email"},"i":{"format":"hostname"},"j":{"format":"uuid"},"k":{"format":"ipv6"},"l":{"format":"uri"}}}"#,
            "a: 'http://x/{a{b}}'\nb: 1.02.3\nc: 2020-01-01T00:00:00Z\nd: 01/a\ne: ':x'\nf: '10:00:00+0100'\ng: '2020-01-01T25:00:00Z'\nh: 'a..b@example.com'\ni: '-a.example.com'\nj: 123e4567-e89b-12d3-a456-42661417400g\nk: '::1%eth0'\nl: 'http://x:abc/'\n",
        ),
        case(
            "less common formats passing in draft 7",
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"a":{"format":"uri-template"},"b":{"format":"semver"},"c":{"format":"period"},"d":{"format":"relative-json-pointer"},"e":{"format":"iri-reference"},"f":{"format":"time"},"g":{"format":"duration"},"h":{"format":"email"},"i":{"format":"ipv6"},"j":{"format":"json-pointer"}}}"#,
            "a: 'http://x/{a}/{b}'\nb: 1.2.3-rc.1+build.5\nc: 2020-01-01T00:00:00Z/P1D\nd: 0#\ne: '../x?y#z'\nf: '10:00:00.5+01:00'\ng: P1DT2H\nh: '\"quoted\"@[127.0.0.1]'\ni: '::ffff:1.2.3.4'\nj: /a~0b/c~1d\n",
        ),
        case(
            "formats are annotations in 2020-12",
            r#"{"properties":{"email":{"format":"email"},"ip":{"format":"ipv4"}}}"#,
            "email: not-an-email\nip: 999.1.1.1\n",
        ),
        // dialects and the meta-schema
        case(
            "draft 4 id and definitions",
            r##"{"$schema":"http://json-schema.org/draft-04/schema#","id":"http://example.com/root.json","definitions":{"a":{"id":"#foo","type":"integer"}},"properties":{"x":{"$ref":"#foo"}}}"##,
            "x: y\n",
        ),
        case(
            "draft 6",
            r#"{"$schema":"http://json-schema.org/draft-06/schema#","properties":{"a":{"const":1},"b":{"contains":{"const":2}}}}"#,
            "a: 2\nb: [1]\n",
        ),
        // Helm names the object of a failing `propertyNames` by the path the validator
        // looked at last (its location is not copied), so these cases keep that object on
        // the last path.
        case(
            "propertyNames (draft 6)",
            r#"{"$schema":"http://json-schema.org/draft-06/schema#","properties":{"c":{"propertyNames":{"maxLength":1}}}}"#,
            "c: {xy: 1, z: 2}\n",
        ),
        case(
            "2019-09",
            r#"{"$schema":"https://json-schema.org/draft/2019-09/schema","properties":{"a":{"dependentRequired":{"x":["y"]}},"b":{"items":[{"type":"string"}],"additionalItems":false}}}"#,
            "a: {x: 1}\nb: [a, 1]\n",
        ),
        case(
            "invalid schema: 2019-09",
            r#"{"$schema":"https://json-schema.org/draft/2019-09/schema","properties":{"a":{"type":"strin"}},"items":[{"minimum":"x"}]}"#,
            "a: 1\n",
        ),
        case(
            "invalid schema: draft 6",
            r#"{"$schema":"http://json-schema.org/draft-06/schema#","properties":{"a":{"exclusiveMinimum":true}}}"#,
            "a: 1\n",
        ),
        case(
            "invalid schema: an embedded resource with its own dialect",
            r#"{"$defs":{"x":{"$id":"http://example.com/x","$schema":"http://json-schema.org/draft-07/schema#","definitions":{"y":{"type":"strin"}}}}}"#,
            "a: 1\n",
        ),
        case(
            "invalid schema: a missing anchor",
            r##"{"properties":{"a":{"$ref":"#nope"}}}"##,
            "a: 1\n",
        ),
        case(
            "invalid schema: a bad JSON pointer",
            r##"{"$defs":{"a":{}},"properties":{"a":{"$ref":"#/$defs/a~2"}}}"##,
            "a: 1\n",
        ),
        case(
            "ref with an escaped pointer",
            r##"{"$defs":{"a b":{"type":"string"},"c/d":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/a%20b"},"b":{"$ref":"#/$defs/c~1d"}}}"##,
            "a: 1\nb: 2\n",
        ),
        case(
            "recursiveRef (2019-09)",
            r##"{"$schema":"https://json-schema.org/draft/2019-09/schema","$recursiveAnchor":true,"properties":{"child":{"$recursiveRef":"#"},"v":{"type":"integer"}}}"##,
            "child:\n  v: x\n",
        ),
        case(
            "const null",
            r#"{"properties":{"a":{"const":null},"b":{"enum":[null,"x"]}}}"#,
            "a: 1\nb: 2\n",
        ),
        case(
            "invalid schema: unknown type",
            r#"{"properties":{"a":{"type":"strin"}}}"#,
            "a: 1\n",
        ),
        case(
            "invalid schema: wrong keyword types (draft 7)",
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"a":{"type":"strin","minimum":"1"}}}"#,
            "a: 1\n",
        ),
        case(
            "invalid schema: draft 4",
            r#"{"$schema":"http://json-schema.org/draft-04/schema#","properties":{"a":{"type":"strin"}},"required":[]}"#,
            "a: 1\n",
        ),
        case("invalid schema: not an object", r#"[]"#, "a: 1\n"),
        case(
            "invalid schema: negative minLength and a bad required",
            r#"{"properties":{"a":{"minLength":-1},"b":{"required":"x"},"c":{"multipleOf":0}}}"#,
            "a: 1\n",
        ),
        case("invalid JSON", r#"{"properties": "#, "a: 1\n"),
        case("invalid JSON character", r#"{"properties": }"#, "a: 1\n"),
        case("invalid JSON after the value", r#"{} x"#, "a: 1\n"),
        case("invalid JSON literal", r#"{"a": tru }"#, "a: 1\n"),
        case("empty schema object", r#"{}"#, "a: 1\n"),
        case("schema true", r#"true"#, "a: 1\n"),
        case("schema false", r#"false"#, "a: 1\n"),
        case("empty values", r#"{"required":["a"]}"#, ""),
    ];
    v.push(Case {
        name: "subchart with its own schema".into(),
        schema: Some(r#"{"properties":{"replicaCount":{"type":"integer"}}}"#.into()),
        values: "replicaCount: 1\nsub:\n  port: x\n".into(),
        subs: vec![Sub {
            name: "sub",
            schema: Some(r#"{"properties":{"port":{"type":"integer"},"name":{"type":"string"}}}"#),
            values: "name: 1\n",
        }],
    });
    v.push(Case {
        name: "parent and subcharts failing".into(),
        schema: Some(r#"{"required":["image"]}"#.into()),
        values: "alpha:\n  a: 1\nbeta:\n  b: 2\n".into(),
        subs: vec![
            Sub {
                name: "alpha",
                schema: Some(r#"{"properties":{"a":{"type":"string"}}}"#),
                values: "a: x\n",
            },
            Sub {
                name: "beta",
                schema: Some(r#"{"properties":{"b":{"maximum":1}}}"#),
                values: "",
            },
            Sub {
                name: "gamma",
                schema: Some(r#"{"required":["c"]}"#),
                values: "d: 1\n",
            },
        ],
    });
    v.push(Case {
        name: "subchart schema passes, parent has none".into(),
        schema: None,
        values: "sub:\n  port: 8080\n".into(),
        subs: vec![Sub {
            name: "sub",
            schema: Some(r#"{"properties":{"port":{"type":"integer"}}}"#),
            values: "port: 80\n",
        }],
    });
    v.push(Case {
        name: "subchart with an invalid schema".into(),
        schema: None,
        values: String::new(),
        subs: vec![Sub {
            name: "sub",
            schema: Some(r#"{"properties":{"port":{"type":"int"}}}"#),
            values: "port: 80\n",
        }],
    });
    v.extend(schema_shape_cases());
    v
}

/// The `$schema` of each dialect.
const DIALECTS: [(&str, &str); 5] = [
    ("draft 4", "http://json-schema.org/draft-04/schema#"),
    ("draft 6", "http://json-schema.org/draft-06/schema#"),
    ("draft 7", "http://json-schema.org/draft-07/schema#"),
    ("2019-09", "https://json-schema.org/draft/2019-09/schema"),
    ("2020-12", "https://json-schema.org/draft/2020-12/schema"),
];

/// Keyword values a schema may or may not accept, depending on its dialect.
const KEYWORD_VALUES: &[(&str, &str)] = &[
    ("type", "5"),
    ("type", "[]"),
    ("type", r#"["string","string"]"#),
    ("type", r#"["strin",5]"#),
    ("required", r#""x""#),
    ("required", r#"[1,"a","a"]"#),
    ("required", "[]"),
    ("enum", r#""x""#),
    ("enum", "[]"),
    ("enum", "[1,1.0]"),
    ("minLength", "-1"),
    ("minLength", "1.5"),
    ("maxLength", r#""1""#),
    ("maxItems", "-2"),
    ("minItems", "-1"),
    ("minProperties", "-1"),
    ("maxProperties", "1.5"),
    ("multipleOf", "0"),
    ("multipleOf", r#""x""#),
    ("multipleOf", "-2"),
    ("maximum", r#""1""#),
    ("minimum", "null"),
    ("exclusiveMinimum", "true"),
    ("exclusiveMaximum", "5"),
    ("additionalProperties", "5"),
    ("additionalProperties", r#"{"type":5}"#),
    ("additionalItems", r#""x""#),
    ("items", "5"),
    ("items", "[5]"),
    ("items", "[]"),
    ("items", r#"[{"type":5}]"#),
    ("allOf", "[]"),
    ("anyOf", "{}"),
    ("oneOf", r#"[5,{"type":5}]"#),
    ("not", "5"),
    ("not", "true"),
    ("properties", "5"),
    ("properties", r#"{"x":5,"y":true}"#),
    ("patternProperties", r#"{"x":"y"}"#),
    ("definitions", r#"{"x":5}"#),
    ("$defs", r#"{"x":5}"#),
    ("$defs", "[]"),
    ("dependencies", r#"{"x":5}"#),
    ("dependencies", r#"{"x":["y","y"]}"#),
    ("dependencies", r#"{"x":[]}"#),
    ("dependencies", r#"{"x":{"type":5}}"#),
    ("dependentRequired", r#"{"x":"y"}"#),
    ("dependentRequired", r#"{"x":["y","y"]}"#),
    ("dependentSchemas", r#"{"x":5}"#),
    ("prefixItems", "5"),
    ("prefixItems", "[]"),
    ("contains", "5"),
    ("propertyNames", "5"),
    ("if", "5"),
    ("then", r#""x""#),
    ("else", "[]"),
    ("unevaluatedProperties", "5"),
    ("unevaluatedItems", "5"),
    ("minContains", "-1"),
    ("maxContains", r#""1""#),
    ("uniqueItems", r#""x""#),
    ("$id", "5"),
    ("id", "5"),
    ("$ref", "5"),
    ("$anchor", r#""1a""#),
    ("$anchor", r#""a:b""#),
    ("$anchor", "5"),
    ("$dynamicAnchor", "5"),
    ("$dynamicRef", "5"),
    ("$comment", "5"),
    ("$vocabulary", r#"{"https://example.com/v":1}"#),
    ("$vocabulary", "5"),
    ("$recursiveAnchor", r#""x""#),
    ("$recursiveAnchor", "true"),
    ("$recursiveRef", "5"),
    ("title", "5"),
    ("description", "true"),
    ("examples", "5"),
    ("readOnly", r#""x""#),
    ("writeOnly", "1"),
    ("deprecated", "1"),
    ("format", "5"),
    ("pattern", "5"),
    ("contentMediaType", "5"),
    ("contentEncoding", "[]"),
    ("contentSchema", "5"),
    ("const", "5"),
    ("default", "5"),
    ("$schema", "5"),
    ("$ref", r#""http://example.com/%zz""#),
    ("$id", r##""#foo""##),
    ("$anchor", r#""_a""#),
    ("minLength", "2.0"),
    ("maxLength", "-0.5"),
    ("type", r#"["string",["x"]]"#),
    ("dependentRequired", r#"{"x":[1,1]}"#),
    ("dependencies", r#"{"x":[1,1]}"#),
    ("allOf", r#"[5,{"minLength":-1}]"#),
    ("items", r#"[5,{"type":5}]"#),
    (
        "$vocabulary",
        r#"{"https://example.com/v":1,"https://example.com/w":"x"}"#,
    ),
    (
        "properties",
        r#"{"x":{"properties":{"y":{"minLength":-1},"z":5}}}"#,
    ),
    ("definitions", r#"{"x":{"type":5,"minLength":-1}}"#),
    ("not", r#"{"properties":{"a":5,"b":5}}"#),
    ("patternProperties", r#"{"^a":{"required":[1,1]}}"#),
    ("contentSchema", r#"{"allOf":[5,6]}"#),
];

/// A schema's own shape, checked before any value is: every keyword value above in each
/// dialect (one property each, and all at once at the top), schemas that use each
/// dialect's keywords correctly, resources embedded with a dialect of their own, and
/// values checked against the dialects' meta-schemas by reference.
fn schema_shape_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (name, url) in DIALECTS {
        let props: Vec<String> = KEYWORD_VALUES
            .iter()
            .enumerate()
            .map(|(i, (k, val))| format!(r#""k{i:02}":{{"{k}":{val}}}"#))
            .collect();
        v.push(case(
            format!("keyword values nested ({name})"),
            format!(
                r#"{{"$schema":"{url}","properties":{{{}}}}}"#,
                props.join(",")
            ),
            "a: 1\n",
        ));
        let mut seen = std::collections::BTreeSet::new();
        let top: Vec<String> = KEYWORD_VALUES
            .iter()
            .filter(|(k, _)| *k != "$schema" && seen.insert(*k))
            .map(|(k, val)| format!(r#""{k}":{val}"#))
            .collect();
        v.push(case(
            format!("keyword values at the top ({name})"),
            format!(r#"{{"$schema":"{url}",{}}}"#, top.join(",")),
            "a: 1\n",
        ));
    }
    let good = [
        (
            "draft 4",
            r##"{"$schema":"http://json-schema.org/draft-04/schema#","id":"http://example.com/s","title":"t","description":"d","default":{},"type":["object","null"],"definitions":{"n":{"type":"integer"}},"required":["a"],"properties":{"a":{"type":"string","minLength":0,"maxLength":5,"pattern":"^a","format":"hostname","enum":["a","ab"]},"b":{"type":"number","multipleOf":0.5,"minimum":0,"exclusiveMinimum":true,"maximum":10,"exclusiveMaximum":false},"c":{"type":"array","items":[{},{"type":"string"}],"additionalItems":false,"minItems":0,"maxItems":3,"uniqueItems":true},"d":{"items":{"$ref":"#/definitions/n"},"additionalItems":true},"e":{"allOf":[{}],"anyOf":[{}],"oneOf":[{}],"not":{"type":"null"}},"f":{"minProperties":1,"maxProperties":2,"additionalProperties":true}},"patternProperties":{"^x":{}},"additionalProperties":{"type":"string"},"dependencies":{"z":["a"],"y":{}},"x-custom":5}"##,
        ),
        (
            "draft 6",
            r##"{"$schema":"http://json-schema.org/draft-06/schema#","$id":"http://example.com/s","type":"object","required":[],"properties":{"a":{"const":"ab","enum":["ab"],"examples":[1]},"b":{"exclusiveMinimum":0,"exclusiveMaximum":10.5},"c":{"contains":{"type":"string"},"items":true},"d":false,"e":{"propertyNames":{"maxLength":3},"additionalProperties":false},"f":{"$ref":"#/definitions/f"}},"definitions":{"f":true},"dependencies":{"z":[],"y":true}}"##,
        ),
        (
            "draft 7",
            r##"{"$schema":"http://json-schema.org/draft-07/schema#","$id":"http://example.com/s","$comment":"c","readOnly":false,"writeOnly":false,"examples":[],"contentMediaType":"text/plain","contentEncoding":"base64","if":{"required":["a"]},"then":true,"else":false,"patternProperties":{"^[a-z]+$":{}},"properties":{"a":{"type":"string","format":"regex"}}}"##,
        ),
        (
            "2019-09",
            r##"{"$schema":"https://json-schema.org/draft/2019-09/schema","$id":"http://example.com/s","$anchor":"top.1:x","$recursiveAnchor":true,"$vocabulary":{"https://json-schema.org/draft/2019-09/vocab/core":true},"$defs":{"s":{"type":"string"}},"definitions":{"t":{}},"properties":{"a":{"$ref":"#/$defs/s","deprecated":false},"b":{"$recursiveRef":"#"},"c":{"items":[{}],"additionalItems":{},"unevaluatedItems":false,"contains":{},"minContains":0,"maxContains":3}},"dependentRequired":{"z":["a"]},"dependentSchemas":{"y":{}},"dependencies":{"x":["a"]},"unevaluatedProperties":true,"contentSchema":{}}"##,
        ),
        (
            "2020-12",
            r##"{"$id":"http://example.com/s","$anchor":"_top","$dynamicAnchor":"meta","$comment":"c","$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s"},"b":{"$dynamicRef":"#meta"},"c":{"prefixItems":[{}],"items":false,"unevaluatedItems":true},"d":{"enum":[]},"e":{"$recursiveAnchor":"r","$recursiveRef":"#"}},"dependentRequired":{"z":[]},"dependentSchemas":{"y":true},"definitions":{},"dependencies":{},"format":"anything","contentSchema":true,"deprecated":true}"##,
        ),
    ];
    for (name, schema) in good {
        v.push(case(
            format!("well-formed schema ({name})"),
            schema,
            "a: ab\n",
        ));
    }
    v.push(case(
        "invalid schema: a draft 4 resource in a 2020-12 document",
        r#"{"$defs":{"x":{"$id":"http://example.com/x","$schema":"http://json-schema.org/draft-04/schema#","properties":{"a":true,"b":{"minLength":-1}},"exclusiveMinimum":true,"prefixItems":5}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: a 2020-12 resource in a draft 7 document",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"x":{"$id":"http://example.com/x","$schema":"https://json-schema.org/draft/2020-12/schema","properties":{"a":{"minLength":-1,"type":5}},"prefixItems":5}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: a draft 6 resource in a draft 4 document",
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","definitions":{"x":{"$id":"http://example.com/x","$schema":"http://json-schema.org/draft-06/schema#","properties":{"a":true},"exclusiveMinimum":true}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: a 2019-09 resource in a draft 7 document",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"x":{"$id":"http://example.com/x","$schema":"https://json-schema.org/draft/2019-09/schema","definitions":{"y":{"type":"strin"}},"properties":{"a":{"minLength":-1}}}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: a 2019-09 resource in a 2020-12 document",
        r#"{"$defs":{"x":{"$id":"http://example.com/x","$schema":"https://json-schema.org/draft/2019-09/schema","dependencies":{"y":{"type":"strin"}},"properties":{"a":{"minLength":-1,"items":{"type":5}}}}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: the vocabularies of a 2019-09 resource in a draft 7 document",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"x":{"$id":"http://example.com/x","$schema":"https://json-schema.org/draft/2019-09/schema","allOf":[{"minLength":-1,"items":5}],"contentSchema":{"contentSchema":5,"minLength":-1},"definitions":{"y":{"a":5}}}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: resources in resources",
        r#"{"$defs":{"x":{"$id":"http://example.com/x","$schema":"http://json-schema.org/draft-07/schema#","definitions":{"y":{"$id":"http://example.com/y","$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":5,"minLength":-1}},"if":5}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: a $schema without an id is not a resource (draft 4)",
        r#"{"$schema":"http://json-schema.org/draft-04/schema#","definitions":{"x":{"id":"http://example.com/x","$schema":"http://json-schema.org/draft-07/schema#","if":5,"minLength":-1}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: a bad regex as a patternProperties name (2020-12)",
        r#"{"patternProperties":{"(?!x)":{}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: a bad regex as a patternProperties name (2019-09)",
        r#"{"$schema":"https://json-schema.org/draft/2019-09/schema","patternProperties":{"a{2,1}":{},"ok":{}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: a $vocabulary that is not a URI (2020-12)",
        r#"{"$vocabulary":{"core":true}}"#,
        "a: 1\n",
    ));
    // Helm names the object of a failing name by the path its check looked at last (see
    // "propertyNames (draft 6)"): with `$schema` next to `$vocabulary`, that can be
    // `/$schema`, so this `$vocabulary` sits one level down.
    v.push(case(
        "invalid schema: a $vocabulary that is not a URI (2019-09)",
        r#"{"$schema":"https://json-schema.org/draft/2019-09/schema","properties":{"a":{"$vocabulary":{"core":true}}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: an $id with a fragment",
        r#"{"$defs":{"x":{"$id":"http://example.com/x#frag"}}}"#,
        "a: 1\n",
    ));
    v.push(case(
        "invalid schema: a bad pattern deep inside (draft 6)",
        r#"{"$schema":"http://json-schema.org/draft-06/schema#","properties":{"a":{"items":{"properties":{"b":{"pattern":"(","minLength":-1}}}}}}"#,
        "a: 1\n",
    ));
    v.push(case("invalid schema: a number", "5", "a: 1\n"));
    v.push(case("invalid schema: null", "null", "a: 1\n"));
    // Values that must themselves be schemas.
    let value_cases = [
        (
            "draft 7",
            "http://json-schema.org/draft-07/schema#",
            "s: {type: 5, minLength: -1}\n",
        ),
        (
            "draft 4",
            "http://json-schema.org/draft-04/schema",
            "s: {exclusiveMinimum: true, properties: {a: true}}\n",
        ),
        (
            "2019-09",
            "https://json-schema.org/draft/2019-09/schema",
            "s: {type: 5, properties: {a: {minLength: -1}}, pattern: '('}\n",
        ),
        (
            "2020-12",
            "https://json-schema.org/draft/2020-12/schema",
            "s: {type: 5, properties: {a: {minLength: -1}}, pattern: '('}\n",
        ),
        (
            "2020-12 passing",
            "https://json-schema.org/draft/2020-12/schema#",
            "s: {type: string, properties: {a: {minLength: 1}}}\n",
        ),
        (
            "2020-12 validation vocabulary",
            "https://json-schema.org/draft/2020-12/meta/validation",
            "s: {type: 5, properties: {a: {minLength: -1}}}\n",
        ),
        (
            "2019-09 applicator vocabulary",
            "https://json-schema.org/draft/2019-09/meta/applicator",
            "s: {properties: {a: {minLength: -1, items: 5}}, items: 5}\n",
        ),
        (
            "the latest dialect",
            "https://json-schema.org/schema",
            "s: {minLength: -1}\n",
        ),
        (
            "not a schema",
            "http://json-schema.org/draft-07/schema#",
            "s: 5\n",
        ),
    ];
    for (name, url, values) in value_cases {
        v.push(case(
            format!("a value that must be a schema ({name})"),
            format!(r#"{{"properties":{{"s":{{"$ref":"{url}"}}}}}}"#),
            values,
        ));
    }
    v.push(case(
        "a value that must be a schema, with unevaluatedProperties",
        r#"{"properties":{"s":{"$ref":"https://json-schema.org/draft/2020-12/schema","unevaluatedProperties":false},"t":{"$ref":"http://json-schema.org/draft-07/schema#","unevaluatedProperties":false}}}"#,
        "s: {type: string, foo: 1, $defs: {}}\nt: {type: string, foo: 1, $defs: {}, $comment: x}\n",
    ));
    v
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn write_chart(dir: &Path, name: &str, schema: Option<&str>, values: &str) {
    write(
        &dir.join("Chart.yaml"),
        &format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
    );
    write(&dir.join("values.yaml"), values);
    write(
        &dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    );
    if let Some(schema) = schema {
        write(&dir.join("values.schema.json"), schema);
    }
}

/// Runs `helm template` on the chart: `Ok` when it renders, else its message.
fn helm_template(helm: &Helm, chart: &Path) -> Result<(), String> {
    let out = helm.run(&[OsStr::new("template"), chart.as_os_str()]);
    if out.ok() {
        return Ok(());
    }
    Err(out
        .stderr
        .strip_prefix("Error: ")
        .unwrap_or_else(|| panic!("helm's message: {}", out.stderr))
        .to_string())
}

fn parse_values(text: &str) -> Value {
    let v =
        slipway_chart::yaml::parse_values(text).unwrap_or_else(|e| panic!("values {text:?}: {e}"));
    match v {
        Value::Nil => Value::empty_map(),
        v => v,
    }
}

/// Helm's merge of a subchart's defaults with what the parent sets for it (the parent
/// wins; maps merge), plus the `global` map every subchart gets.
fn coalesce(defaults: &Value, overrides: Option<&Value>) -> Value {
    fn merge(dst: &Value, src: &Value) -> Value {
        match (dst, src) {
            (Value::Map(d), Value::Map(s)) => {
                let mut out: BTreeMap<String, Value> = d.borrow().clone();
                for (k, v) in s.borrow().iter() {
                    let merged = match out.get(k) {
                        Some(existing) => merge(existing, v),
                        None => v.clone(),
                    };
                    out.insert(k.clone(), merged);
                }
                Value::map(out)
            }
            (_, s) => s.clone(),
        }
    }
    let mut merged = match overrides {
        Some(o) => merge(defaults, o),
        None => defaults.clone(),
    };
    if let Value::Map(m) = &mut merged {
        m.borrow_mut()
            .entry("global".to_string())
            .or_insert_with(Value::empty_map);
    }
    merged
}

fn ours(c: &Case) -> Result<(), String> {
    let parent = parse_values(&c.values);
    let mut values: BTreeMap<String, Value> = match &parent {
        Value::Map(m) => m.borrow().clone(),
        _ => BTreeMap::new(),
    };
    let mut deps = Vec::new();
    for s in &c.subs {
        let defaults = parse_values(s.values);
        let merged = coalesce(&defaults, values.get(s.name));
        values.insert(s.name.to_string(), merged);
        deps.push(Chart {
            metadata: Metadata {
                name: s.name.to_string(),
                ..Default::default()
            },
            values: defaults,
            schema: s.schema.map(|t| t.as_bytes().to_vec()),
            ..Default::default()
        });
    }
    let chart = Chart {
        metadata: Metadata {
            name: "demo".to_string(),
            ..Default::default()
        },
        values: parent,
        schema: c.schema.as_ref().map(|t| t.as_bytes().to_vec()),
        dependencies: deps,
        ..Default::default()
    };
    schema::validate(&chart, &Value::map(values)).map_err(|e| format!("{e}\n"))
}

/// A message with the lines that hang under the same line sorted, and the property
/// lists of `additional properties` sorted: what Helm's random map order can change.
fn normalize(text: &str) -> String {
    struct Line {
        text: String,
        level: usize,
        children: Vec<Line>,
    }
    // The heading, then one block per chart (Helm's subchart order is random too), then
    // the chart's problems, nested by indentation.
    fn level(line: &str) -> usize {
        let trimmed = line.trim_start_matches(' ');
        if trimmed.starts_with("- ") {
            (line.len() - trimmed.len()) / 2 + 3
        } else if line.starts_with("values don't meet") || line.is_empty() {
            // A blank line (the message ends with one) belongs to no chart, whichever
            // chart Helm happens to list last.
            0
        } else if line.ends_with(':') && !line.contains(' ') {
            1
        } else {
            2
        }
    }
    fn fix(line: &str) -> String {
        if let Some(start) = line.find("additional properties ")
            && let Some(end) = line.rfind(" not allowed")
        {
            let list = &line[start + "additional properties ".len()..end];
            let mut names: Vec<&str> = list.split(", ").collect();
            names.sort();
            return format!(
                "{}additional properties {} not allowed{}",
                &line[..start],
                names.join(", "),
                &line[end + " not allowed".len()..]
            );
        }
        line.to_string()
    }
    fn render(lines: &mut [Line], out: &mut String, sort: bool) {
        for l in lines.iter_mut() {
            let mut sub = String::new();
            render(&mut l.children, &mut sub, true);
            l.text = format!("{}\n{sub}", l.text);
        }
        if sort {
            lines.sort_by(|a, b| a.text.cmp(&b.text));
        }
        for l in lines.iter() {
            out.push_str(&l.text);
        }
    }
    let mut roots: Vec<Line> = Vec::new();
    for raw in text.lines() {
        let lvl = level(raw);
        let mut siblings = &mut roots;
        while siblings.last().is_some_and(|last| last.level < lvl) {
            siblings = &mut siblings.last_mut().unwrap().children;
        }
        siblings.push(Line {
            text: fix(raw),
            level: lvl,
            children: Vec::new(),
        });
    }
    let mut out = String::new();
    render(&mut roots, &mut out, true);
    out
}

#[test]
fn schema_validation_matches_helm() {
    let helm = Helm::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let all = cases();
    let mut helm_failed = 0;
    for (i, c) in all.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        write_chart(&dir, "demo", c.schema.as_deref(), &c.values);
        for s in &c.subs {
            write_chart(&dir.join("charts").join(s.name), s.name, s.schema, s.values);
        }
        let want = helm_template(&helm, &dir);
        let got = ours(c);
        if want.is_err() {
            helm_failed += 1;
        }
        let same = match (&want, &got) {
            (Ok(()), Ok(())) => true,
            (Err(w), Err(g)) => normalize(w) == normalize(g),
            _ => false,
        };
        if !same {
            failures.push(format!(
                "case {:?}:\n--- helm:\n{}\n--- slipway:\n{}",
                c.name,
                want.err().unwrap_or_else(|| "(passes)".to_string()),
                got.err().unwrap_or_else(|| "(passes)".to_string())
            ));
        }
    }
    // The table must exercise both outcomes.
    assert!(helm_failed > all.len() / 2, "most cases fail in Helm");
    assert!(helm_failed < all.len(), "some cases pass in Helm");
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Helm:\n\n{}",
        failures.len(),
        all.len(),
        failures.join("\n\n")
    );
}

#[test]
fn values_that_are_not_a_map_for_a_subchart() {
    let sub = Chart {
        metadata: Metadata {
            name: "sub".to_string(),
            ..Default::default()
        },
        schema: Some(br#"{"type":"object"}"#.to_vec()),
        ..Default::default()
    };
    let chart = Chart {
        metadata: Metadata {
            name: "demo".to_string(),
            ..Default::default()
        },
        dependencies: vec![sub],
        ..Default::default()
    };
    let mut values = BTreeMap::new();
    values.insert("sub".to_string(), Value::str("x"));
    let err = schema::validate(&chart, &Value::map(values)).unwrap_err();
    // The wording of Helm's `ValidateAgainstSchema` for this case.
    assert_eq!(
        err.to_string(),
        "values don't meet the specifications of the schema(s) in the following chart(s):\n\
         sub:\ninvalid type for values: expected object (map), got string\n"
    );
    let mut values = BTreeMap::new();
    values.insert("sub".to_string(), Value::Nil);
    assert!(schema::validate(&chart, &Value::map(values)).is_ok());
}

#[test]
fn values_json_cannot_hold() {
    let chart = Chart {
        metadata: Metadata {
            name: "demo".to_string(),
            ..Default::default()
        },
        schema: Some(
            br#"{"properties":{"a":{"type":"number"},"b":{"type":"string"},"c":{}}}"#.to_vec(),
        ),
        ..Default::default()
    };
    let mut values = BTreeMap::new();
    values.insert("a".to_string(), Value::Float(f64::NAN));
    values.insert("b".to_string(), Value::Bytes(b"x".to_vec().into()));
    // A schema of `true` (or `{}`) accepts anything without looking at it.
    values.insert("c".to_string(), Value::Bytes(b"x".to_vec().into()));
    let err = schema::validate(&chart, &Value::map(values)).unwrap_err();
    assert_eq!(
        err.details(),
        "demo:\n- at '/a': invalid jsonType float64\n- at '/b': invalid jsonType []uint8\n"
    );
    // `--set` integers are integers.
    let mut values = BTreeMap::new();
    values.insert("a".to_string(), Value::Int(3));
    assert!(schema::validate(&chart, &Value::map(values)).is_ok());
}

/// A reference to a place inside a standard meta-schema (`#/definitions/...`) resolves in
/// Helm, which holds the meta-schema documents; slipway checks schemas against what each
/// dialect allows without holding those documents, so it refuses such a reference with a
/// message of its own instead of guessing.
#[test]
fn places_inside_meta_schemas_are_refused() {
    let helm = Helm::new();
    let tmp = tempfile::tempdir().unwrap();
    for (i, (url, values)) in [
        (
            "http://json-schema.org/draft-07/schema#/definitions/nonNegativeInteger",
            "a: 1\n",
        ),
        (
            "https://json-schema.org/draft/2020-12/meta/validation#/$defs/stringArray",
            "a: [x]\n",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let schema = format!(r#"{{"properties":{{"a":{{"$ref":"{url}"}}}}}}"#);
        let dir = tmp.path().join(format!("chart{i}"));
        write_chart(&dir, "demo", Some(&schema), values);
        assert_eq!(helm_template(&helm, &dir), Ok(()), "{url}");
        let got = ours(&case("ref", schema, values)).unwrap_err();
        let want = format!(
            "failing loading {url:?}: only whole standard meta-schemas can be referenced, not places inside them"
        );
        assert!(got.contains(&want), "{url}: {got}");
    }
}
