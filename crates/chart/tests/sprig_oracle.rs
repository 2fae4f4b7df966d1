//! sprig's functions against Go's: each template below runs in slipway's engine with
//! sprig's functions, and in Go's `text/template` with sprig v3.3.0 (the template
//! oracle), on the same data; the outputs, or the whole error texts (position, node and
//! message), must be equal.

use serde_json::{Value as Json, json};
use slipway_template::{Arity, Funcs, Template, Type, Value};

/// The data every template runs on (`.s`, `.n`...). Numbers without a point are Go
/// `int`s, others `float64`s.
const DATA: &str = r#"{
    "s": "hello world",
    "u": "héllo wörld ß ǆ İ",
    "n": 3,
    "f": 2.5,
    "fi": 3.0,
    "neg": -7,
    "b": true,
    "no": false,
    "z": 0,
    "e": "",
    "nil": null,
    "l": [1, "two", 3.5, null, true],
    "sl": ["b", "a", "c", "B"],
    "el": [],
    "m": {"a": 1, "b": {"c": "d", "n": [1, 2]}, "e": null, "s": "x"},
    "em": {},
    "big": 1e21,
    "html": "<a href=\"x\">&amp;</a>",
    "json": "{\"a\":[1,2.5,\"x\",null,true,{\"b\":{}}],\"c\":\"\\u00e9\\ud83d\\ude00\"}",
    "url": "https://user:p%40ss@example.com:8443/a%2Fb/c d?x=1&y=%20#frag%20x",
    "c": ">= 1.2.0, < 2.0.0",
    "v": "1.5.0"
}"#;

/// Templates, one function or a few at a time, with their edge cases.
const CASES: &[&str] = &[
    // hello, trim, upper, lower, title, untitle, swapcase
    r#"{{ hello }}"#,
    "{{ trim \"  a b \\t\\n\" }}|{{ trim .u }}|{{ trim .e }}",
    r#"{{ trim .n }}"#,
    r#"{{ trim .missing }}"#,
    r#"{{ upper "abc ÀÉÎ ß ǆ İ ᾳ ﬀ ı" }}|{{ upper .u }}"#,
    r#"{{ lower "ABC ÀÉÎ ΣΑΣ ǅ İ K" }}|{{ lower .u }}"#,
    r#"{{ upper .f }}"#,
    r#"{{ title "hello world" }}|{{ title "hello_world-foo bar.baz" }}|{{ title "ǆemal élan o'neil 123abc déf" }}"#,
    r#"{{ untitle "Hello World" }}|{{ untitle "HELLO  WORLD" }}|{{ untitle "ÉLAN Vital" }}|{{ untitle "" }}"#,
    r#"{{ swapcase "Hello World ǅ" }}|{{ swapcase "hELLO wORLD" }}|{{ swapcase "ǆ x 1a" }}"#,
    // substr, trunc, repeat
    r#"{{ substr 0 5 .s }}|{{ substr 2 -1 .s }}|{{ substr -1 3 .s }}|{{ substr 3 3 .s }}|{{ substr 5 100 .s }}"#,
    r#"{{ substr 1 2 "é" }}|{{ substr 0 1 "éa" }}"#,
    r#"{{ substr -1 -1 .s }}"#,
    r#"{{ substr 4 2 .s }}"#,
    r#"{{ substr 20 -1 .s }}"#,
    r#"{{ substr -5 50 .s }}"#,
    r#"{{ substr .f 2 .s }}"#,
    r#"{{ trunc 5 .s }}|{{ trunc -5 .s }}|{{ trunc 50 .s }}|{{ trunc -50 .s }}|{{ trunc 0 .s }}|{{ trunc 2 "é" }}"#,
    r#"{{ trunc .f .s }}"#,
    r#"{{ repeat 3 "ab" }}|{{ repeat 0 "x" }}|{{ repeat 2 "" }}"#,
    r#"{{ repeat -1 "x" }}"#,
    r#"{{ repeat .f "x" }}"#,
    r#"{{ .s | repeat 2 }}"#,
    // trimAll, trimSuffix, trimPrefix
    r#"{{ trimAll "$" "$$5.00$" }}|{{ trimall "$" "$5$" }}|{{ trimAll "" "abc" }}|{{ trimAll "ab" "abcba" }}|{{ trimAll "é" "éaé" }}"#,
    r#"{{ trimSuffix "-" "hello-" }}|{{ trimSuffix "x" "hello" }}|{{ trimPrefix "he" "hello" }}|{{ trimPrefix "" "a" }}"#,
    // nospace, initials, abbrev
    "{{ nospace \"a b\\tc\\n d\" }}|{{ nospace \"é x\" }}|{{ nospace \"\" }}|{{ nospace \"éx\" }}",
    r#"{{ initials "hello world foo" }}|{{ initials "  leading" }}|{{ initials "élan vital" }}|{{ initials "" }}"#,
    r#"{{ abbrev 5 .s }}|{{ abbrev 3 .s }}|{{ abbrev 20 .s }}|{{ abbrev 4 "abcdef" }}|{{ abbrev 5 "" }}"#,
    r#"{{ abbrevboth 5 10 "1234567890abcdefgh" }}|{{ abbrevboth 0 8 "1234567890abcdefgh" }}|{{ abbrevboth 3 6 "1234567890" }}|{{ abbrevboth 10 10 "1234567890abcdefgh" }}|{{ abbrevboth -3 5 "1234567890" }}"#,
    // case conversions
    r#"{{ range list "FirstName" "HTTPServer" "NoHTTPS" "GO_PATH" "GO PATH" "http2xx" "HTTP20xOK" "Duration2m3s" "Bld4Floor3rd" "_complex__case_" "__" "" "a" "A" "ÀbcDéf" "Ǆemal" "a1b2" "foo.bar" "foo:bar" "日本語Text" "ÉTÉ" "some-words here" "x--y" "1a" "A1" "ABC123def" "abc.DEF" "a_" "-a" }}{{ snakecase . }}|{{ kebabcase . }}|{{ camelcase . }}
{{ end }}"#,
    // wrap
    r#"{{ wrap 10 "The quick brown fox jumps over the lazy dog" }}"#,
    r#"{{ wrap 0 "a b c" }}|{{ wrap 5 "   leading spaces" }}|{{ wrap 3 "abcdefgh ij" }}|{{ wrap 5 "" }}"#,
    r#"{{ wrapWith 5 "\t" "The quick brown fox" }}|{{ wrapWith 3 "|" "abcdefgh ij" }}|{{ wrapWith 4 "" "aaaa bbbb" }}"#,
    // contains, hasPrefix, hasSuffix
    r#"{{ contains "ell" "hello" }}|{{ contains "" "x" }}|{{ hasPrefix "he" "hello" }}|{{ hasSuffix "lo" "hello" }}|{{ hasSuffix "x" "" }}"#,
    r#"{{ contains .n "hello" }}"#,
    r#"{{ .s | contains "wor" }}"#,
    // quote, squote, cat
    r#"{{ quote "a" 1 nil 2.5 .nil .l .m "\"q\" \\ é	x" }}|{{ quote }}|{{ quote .big }}"#,
    r#"{{ squote "a" 1 nil 2.5 .nil .l .m }}|{{ squote }}"#,
    r#"{{ cat "a" 1 nil 2.5 .nil .l .m }}|{{ cat }}|{{ cat " a " "b" }}"#,
    // indent, nindent
    "{{ indent 2 \"a\\nb\" }}|{{ indent 0 \"\" }}|{{ nindent 4 \"x\\n\\ny\" }}|{{ indent 3 \"\\n\" }}",
    r#"{{ indent -1 "x" }}"#,
    r#"{{ indent .f "x" }}"#,
    r#"{{ nindent 2 .n }}"#,
    // replace, plural
    r#"{{ replace " " "-" "a b c" }}|{{ replace "" "-" "abc" }}|{{ replace "é" "e" "été" }}|{{ replace "x" "y" "" }}"#,
    r#"{{ plural "one" "many" 1 }}|{{ plural "one" "many" 2 }}|{{ plural "one" "many" 0 }}|{{ plural "one" "many" -1 }}"#,
    r#"{{ plural "one" "many" .f }}"#,
    // digests
    r#"{{ sha1sum "hello" }}|{{ sha256sum "" }}|{{ sha512sum .u }}|{{ adler32sum "hello" }}|{{ adler32sum "" }}|{{ adler32sum .u }}"#,
    r#"{{ sha256sum .n }}"#,
    // toString, atoi, int, int64, float64, toDecimal
    r#"{{ toString .n }}|{{ toString .f }}|{{ toString .nil }}|{{ toString .l }}|{{ toString .m }}|{{ toString .b }}|{{ toString .big }}|{{ toString "x" }}|{{ toString .fi }}"#,
    r#"{{ atoi "42" }}|{{ atoi "-3" }}|{{ atoi "x" }}|{{ atoi "" }}|{{ atoi "1e3" }}|{{ atoi "99999999999999999999" }}|{{ atoi "-99999999999999999999" }}|{{ atoi "+7" }}|{{ atoi "1_0" }}"#,
    r#"{{ atoi .n }}"#,
    r#"{{ range list "0x1F" "1_000" "5.0" "5.00" "5.5" "08" "010" "0b101" "0o17" "abc" "" "-12" "+12" " 1" "9223372036854775807" "9223372036854775808" "1e3" }}{{ int . }},{{ int64 . }},{{ float64 . }};{{ end }}"#,
    r#"{{ range list 3.7 -3.7 0.5 1e19 -1e19 true false nil }}{{ int . }},{{ int64 . }},{{ float64 . }};{{ end }}"#,
    r#"{{ int .l }}|{{ int .m }}|{{ float64 .l }}|{{ int .n }}|{{ float64 .n }}|{{ int .big }}"#,
    r#"{{ range list "1_000.5" "0x1p3" "0x1.8p1" "inf" "-Inf" "+infinity" "NaN" "nan" "+nan" "1e400" "-0" ".5" "5." "." "1e" "0x1" "1.2.3" "1__0" "_1" }}{{ float64 . }};{{ end }}"#,
    r#"{{ toDecimal "0777" }}|{{ toDecimal 777 }}|{{ toDecimal 8 }}|{{ toDecimal "abc" }}|{{ toDecimal .f }}|{{ toDecimal .fi }}|{{ toDecimal "-10" }}|{{ toDecimal .nil }}|{{ toDecimal true }}"#,
    // seq, until, untilStep
    r#"{{ seq 5 }}|{{ seq 1 3 10 }}|{{ seq 0 }}|{{ seq -3 }}|{{ seq 10 -3 1 }}|{{ seq }}|{{ seq 2 5 }}|{{ seq 5 2 }}|{{ seq 1 -1 5 }}|{{ seq 5 1 1 }}|{{ seq 1 2 3 4 }}|{{ seq 3 0 5 }}"#,
    r#"{{ seq .f }}"#,
    r#"{{ until 5 }}|{{ until -3 }}|{{ until 0 }}|{{ untilStep 0 10 3 }}|{{ untilStep 10 0 -3 }}|{{ untilStep 0 10 0 }}|{{ untilStep 0 10 -1 }}|{{ untilStep 10 0 1 }}"#,
    r#"{{ until .f }}"#,
    r#"{{ untilStep 0 .f 1 }}"#,
    // integer arithmetic
    r#"{{ add 1 2 3 }}|{{ add }}|{{ add "5" 2.7 .b .nil }}|{{ add1 .f }}|{{ add1 "x" }}|{{ sub 10 .f }}|{{ sub "3" "5" }}|{{ add 9223372036854775807 1 }}"#,
    r#"{{ div 7 2 }}|{{ div -7 2 }}|{{ div 7.9 2 }}|{{ mod -7 3 }}|{{ mod 7 -3 }}|{{ mul 2 3 4 }}|{{ mul "a" 3 }}|{{ mul 5 }}|{{ mul 4294967296 4294967296 }}"#,
    r#"{{ div 7 0 }}"#,
    r#"{{ mod 7 0 }}"#,
    r#"{{ div .n .nil }}"#,
    r#"{{ max 1 5 3 }}|{{ max "7" 2.9 }}|{{ max -1 }}|{{ min 1 5 -3 }}|{{ min "a" 2 }}|{{ biggest 4 .n .f }}"#,
    // decimal arithmetic
    r#"{{ add1f 0.1 }}|{{ addf 0.1 0.2 0.3 }}|{{ addf }}|{{ subf 1 0.9 }}|{{ subf 5 }}|{{ divf 10 4 }}|{{ divf 1 3 }}|{{ divf 2 3 }}|{{ divf -2 3 }}|{{ divf 1e-20 1 }}"#,
    r#"{{ mulf 1.1 1.1 }}|{{ mulf 1e300 10 }}|{{ mulf 1e300 1e300 }}|{{ mulf 3 "2.5" .b }}|{{ addf 1e16 1 }}|{{ addf 0.1 1e-30 }}|{{ divf 1 7 3 }}|{{ subf 0 0.1 0.2 }}|{{ addf -0.0 0 }}|{{ divf 5e-324 1 }}"#,
    r#"{{ divf 1 0 }}"#,
    r#"{{ addf (float64 "NaN") 1 }}"#,
    r#"{{ addf 1 (float64 "inf") }}"#,
    r#"{{ maxf 1 2.5 "3" }}|{{ minf 1 2.5 "-3" }}|{{ maxf (float64 "NaN") 1 }}|{{ minf (float64 "-0") 0 }}|{{ maxf (float64 "-0") 0 }}|{{ maxf 1 (float64 "inf") }}|{{ minf 1 (float64 "-inf") (float64 "nan") }}"#,
    // floor, ceil, round
    r#"{{ floor 2.7 }}|{{ floor -2.7 }}|{{ floor "3.5" }}|{{ ceil 2.1 }}|{{ ceil -2.1 }}|{{ ceil "x" }}|{{ floor .n }}"#,
    r#"{{ round 2.345 2 }}|{{ round -2.5 0 }}|{{ round 2.5 0 }}|{{ round 2.5 0 0.6 }}|{{ round 1.005 2 }}|{{ round 12345.678 -2 }}|{{ round "x" 1 }}|{{ round 1.23456789 5 }}|{{ round 0.000123456 7 }}|{{ round 5.5 20 }}|{{ round 5.5 -20 }}|{{ round 123.456 -1 0.3 }}"#,
    r#"{{ range until 12 }}{{ round 1.23456789012345 . }};{{ end }}|{{ range list -1 -2 -3 -4 -5 -6 }}{{ round 98765.4321 . }};{{ end }}"#,
    r#"{{ round 1.5 1 1 }}"#,
    r#"{{ round 1.5 .f }}"#,
    // join, sortAlpha, toStrings
    r#"{{ join "," .l }}|{{ join "-" "abc" }}|{{ join "," .nil }}|{{ join "," (list) }}|{{ join "," .m }}|{{ join "," 5 }}"#,
    r#"{{ join .n .l }}"#,
    r#"{{ sortAlpha .sl }}|{{ sortAlpha .l }}|{{ sortAlpha "x" }}|{{ sortAlpha .nil }}|{{ sortAlpha (list 10 9 "B" "a" nil) }}|{{ sortAlpha .m }}"#,
    r#"{{ toStrings .l }}|{{ toStrings "x" }}|{{ toStrings .nil }}|{{ toStrings .m }}|{{ toStrings (list 1 nil "a") }}|{{ toStrings 5 }}"#,
    // split, splitn, splitList
    r#"{{ split "," "a,b,c" }}|{{ split "" "abc" }}|{{ split "," "" }}|{{ split "," "a,b,c,d,e,f,g,h,i,j,k,l" }}|{{ (split "/" "x/y")._1 }}"#,
    r#"{{ splitn "," 2 "a,b,c" }}|{{ splitn "," 0 "a,b" }}|{{ splitn "" 2 "abc" }}|{{ splitn "," -1 "a,b,c" }}|{{ splitn "," 10 "a,b" }}|{{ splitn "" 10 "ab" }}"#,
    r#"{{ splitList "," "a,b,,c" }}|{{ splitList "" "héllo" }}|{{ splitList "," "" }}|{{ splitList "" "" }}|{{ splitList "," "a,b" | len }}"#,
    r#"{{ splitn "," .f "a,b" }}"#,
    // default, empty, coalesce, all, any, ternary
    r#"{{ default "d" .e }}|{{ default "d" .s }}|{{ default "d" 0 }}|{{ default "d" .z }}|{{ default "d" false }}|{{ default "d" }}|{{ default "d" .nil }}|{{ default "d" (list) }}|{{ default "d" (dict) }}|{{ default "d" .m }}|{{ default "d" .missing }}|{{ default "d" 0.0 }}|{{ .e | default "p" }}"#,
    r#"{{ empty .e }}|{{ empty .s }}|{{ empty 0 }}|{{ empty .f }}|{{ empty .nil }}|{{ empty .el }}|{{ empty .em }}|{{ empty .l }}|{{ empty false }}|{{ empty .missing }}|{{ empty 0.0 }}"#,
    r#"{{ coalesce .e .nil 0 "x" 1 }}|{{ coalesce }}|{{ coalesce .e .nil }}|{{ coalesce .m.missing .m.a }}"#,
    r#"{{ all 1 "a" true }}|{{ all 1 "" }}|{{ all }}|{{ any 0 "" nil }}|{{ any 0 "x" }}|{{ any }}"#,
    r#"{{ ternary "a" "b" true }}|{{ ternary "a" "b" false }}|{{ ternary .l .nil .b }}|{{ true | ternary "y" "n" }}"#,
    r#"{{ ternary "a" "b" .n }}"#,
    r#"{{ ternary "a" "b" .missing }}"#,
    // compact
    r#"{{ compact (list 0 1 "" "a" nil false (list) (dict) .m) }}|{{ compact .el }}|{{ mustCompact .l }}"#,
    r#"{{ compact .nil }}"#,
    r#"{{ compact "x" }}"#,
    r#"{{ mustCompact .m }}"#,
    // JSON
    r#"{{ fromJson .json }}|{{ (fromJson .json).c }}|{{ fromJson "[1,2.5,\"x\",null,true]" }}|{{ fromJson "{" }}|{{ fromJson "\"s\"" }}|{{ fromJson "1e3" }}|{{ fromJson "12345678901234567890" }}"#,
    r#"{{ fromJson "[1e400, 2]" }}|{{ fromJson "  " }}|{{ fromJson "null" }}"#,
    r#"{{ mustFromJson "{" }}"#,
    r#"{{ mustFromJson "[1,]" }}"#,
    r#"{{ mustFromJson "tru" }}"#,
    r#"{{ mustFromJson "\"\\x\"" }}"#,
    r#"{{ mustFromJson "1e400" }}"#,
    r#"{{ mustFromJson "" }}"#,
    r#"{{ mustFromJson "{\"a\":1}x" }}"#,
    r#"{{ mustFromJson "01" }}"#,
    r#"{{ mustFromJson "[-]" }}"#,
    r#"{{ mustFromJson "{\"a\" 1}" }}"#,
    r#"{{ mustFromJson "\"é" }}"#,
    r#"{{ mustFromJson "é" }}"#,
    r#"{{ mustFromJson "\"\\ud800\\u0041\\udc00\"" }}|{{ mustFromJson "{\"a\":1,\"a\":2}" }}"#,
    r#"{{ toJson .m }}|{{ toJson .l }}|{{ toJson .u }}|{{ toJson .html }}|{{ toJson .big }}|{{ toJson .nil }}|{{ toJson .em }}|{{ toJson .el }}|{{ toJson "\u2028\u2029\t\u0001\u007f" }}"#,
    r#"{{ toJson 1.5e-7 }}|{{ toJson 1e20 }}|{{ toJson 1e21 }}|{{ toJson 0.000001 }}|{{ toJson 123456789.123 }}|{{ toJson (float64 "-0") }}|{{ toJson 100 }}|{{ toJson 1e-7 }}|{{ toJson 12e30 }}"#,
    r#"{{ toJson (float64 "NaN") }}|{{ toPrettyJson (float64 "inf") }}|"#,
    r#"{{ mustToJson (float64 "NaN") }}"#,
    r#"{{ mustToPrettyJson (float64 "-inf") }}"#,
    r#"{{ toRawJson (float64 "NaN") }}"#,
    r#"{{ mustToRawJson (list 1 (float64 "NaN")) }}"#,
    r#"{{ toPrettyJson .m }}|{{ toPrettyJson (list) }}|{{ toPrettyJson (dict) }}|{{ toPrettyJson (list (list) (dict "a" (list 1))) }}|{{ toPrettyJson "<x>" }}"#,
    r#"{{ toRawJson .html }}|{{ toRawJson .m }}|{{ mustToRawJson .l }}|{{ mustToJson .html }}|{{ mustToPrettyJson .l }}"#,
    r#"{{ toJson (fromJson .json) }}|{{ toRawJson (fromJson .json) }}"#,
    // deepCopy
    r#"{{ deepCopy .m }}|{{ mustDeepCopy .l }}|{{ deepCopy 5 }}|{{ deepCopy "x" }}|{{ $c := deepCopy .m }}{{ $_ := set $c "a" 9 }}{{ .m.a }}"#,
    r#"{{ deepCopy nil }}"#,
    r#"{{ mustDeepCopy .nil }}"#,
    // reflection
    r#"{{ typeOf .s }}|{{ typeOf .n }}|{{ typeOf .f }}|{{ typeOf .b }}|{{ typeOf .nil }}|{{ typeOf .l }}|{{ typeOf .m }}|{{ typeOf (list) }}|{{ typeOf (dict) }}"#,
    r#"{{ typeIs "int" .n }}|{{ typeIs "string" .n }}|{{ typeIsLike "int" .n }}|{{ typeIsLike "*int" .n }}|{{ typeIs "<nil>" .nil }}"#,
    r#"{{ kindOf .s }}|{{ kindOf .n }}|{{ kindOf .f }}|{{ kindOf .l }}|{{ kindOf .m }}|{{ kindOf .nil }}|{{ kindIs "map" .m }}|{{ kindIs "slice" .s }}|{{ kindIs "invalid" .nil }}"#,
    r#"{{ typeIs .n .n }}"#,
    r#"{{ deepEqual .l .l }}|{{ deepEqual (list 1) (list 1.0) }}|{{ deepEqual .m (deepCopy .m) }}|{{ deepEqual 1 1.0 }}|{{ deepEqual .nil nil }}|{{ deepEqual (dict) (dict) }}|{{ deepEqual "a" "a" }}"#,
    // paths
    r#"{{ range list "" "/" "a/b/../c/./d/" "/../a" "../../x" "a/.." "dir/file.tar.gz" "//a//b//" "a.b/c" "." ".." "/a" "a" ".hidden" "x/.y" }}{{ base . }},{{ dir . }},{{ clean . }},{{ ext . }},{{ isAbs . }};{{ osBase . }},{{ osDir . }},{{ osClean . }},{{ osExt . }},{{ osIsAbs . }}
{{ end }}"#,
    r#"{{ base .n }}"#,
    // base64, base32
    r#"{{ b64enc .u }}|{{ b64enc "" }}|{{ b64enc "a" }}|{{ b64enc "ab" }}|{{ b64dec "aGVsbG8=" }}|{{ b64dec (b64enc .u) }}"#,
    r#"{{ range list "YWJj=" "YW=j" "Y" "YWJjZA" "YWJj\nZA==" "!!!!" "" "YQ" "YQ=" "YQ==" "YWI=" "YWI" "YQ==YQ==" "YQ==\n" "YQ=\n=" "Y\nQ\n=\n=" "YWJj\r\n" "YW Jj" "YQ===" "YWJjZA=" "YWJjZA==x" }}{{ b64dec . | printf "%q" }};{{ end }}"#,
    r#"{{ b32enc "foobar" }}|{{ b32enc "" }}|{{ b32enc .u }}|{{ b32dec "MZXW6YTBOI======" }}|{{ b32dec (b32enc .u) }}"#,
    r#"{{ range list "MZXW6===" "MZXW6YQ=" "MY======" "MZXQ====" "M=======" "MZX=====" "MZXW6YTB" "mzxw6ytb" "MZXW6YT" "MZXW6YTBOI" "MZXW6YTBOI=====" "MZ\nXW6YTB" "MZXW6YTB1" "MY======MY======" "" }}{{ b32dec . | printf "%q" }};{{ end }}"#,
    r#"{{ b64enc .n }}"#,
    // list, append, prepend, first, last, rest, initial, reverse
    r#"{{ list }}|{{ list 1 "a" nil }}|{{ tuple 1 2 }}|{{ append .l 9 }}|{{ push .el "x" }}|{{ prepend .l 0 }}|{{ mustAppend .sl "z" }}|{{ mustPrepend (list) nil }}|{{ .l }}"#,
    r#"{{ append "x" 1 }}"#,
    r#"{{ append .nil 1 }}"#,
    r#"{{ mustPush .m 1 }}"#,
    r#"{{ prepend 5 1 }}"#,
    r#"{{ first .l }}|{{ first .el }}|{{ last .l }}|{{ last .el }}|{{ rest .l }}|{{ rest .el }}|{{ initial .l }}|{{ initial .el }}|{{ reverse .l }}|{{ reverse .el }}|{{ mustFirst .sl }}|{{ mustLast .sl }}|{{ mustRest .sl }}|{{ mustInitial .sl }}|{{ mustReverse .sl }}"#,
    r#"{{ first "abc" }}"#,
    r#"{{ last .nil }}"#,
    r#"{{ rest .m }}"#,
    r#"{{ initial 1 }}"#,
    r#"{{ reverse true }}"#,
    r#"{{ mustFirst .f }}"#,
    // uniq, without, has
    r#"{{ uniq (list 1 1 2 1.0 "1" (list 1) (list 1) nil nil) }}|{{ uniq .el }}|{{ mustUniq .sl }}"#,
    r#"{{ uniq "ab" }}"#,
    r#"{{ without .l 1 nil }}|{{ without .l }}|{{ without .sl "a" "c" }}|{{ mustWithout .el 1 }}"#,
    r#"{{ without .m "a" }}"#,
    r#"{{ has 1 .l }}|{{ has 1.0 .l }}|{{ has nil .l }}|{{ has "x" .nil }}|{{ has "a" .sl }}|{{ mustHas 3.5 .l }}|{{ has .nil .el }}"#,
    r#"{{ has 1 "abc" }}"#,
    r#"{{ has 1 .m }}"#,
    // slice, concat
    r#"{{ slice .l 1 3 }}|{{ slice .l 2 }}|{{ slice .l }}|{{ slice .el }}|{{ slice .l 5 }}|{{ slice .l 0 0 }}|{{ slice .l "1" 2.9 }}|{{ mustSlice .sl 1 }}"#,
    r#"{{ slice .l 3 1 }}"#,
    r#"{{ slice .l -1 }}"#,
    r#"{{ slice "abc" 1 }}"#,
    r#"{{ slice .nil 1 }}"#,
    r#"{{ concat .l (list 1) .sl }}|{{ concat }}|{{ concat .el .el }}|{{ concat (list 1) }}"#,
    r#"{{ concat .l "x" }}"#,
    r#"{{ concat .l nil }}"#,
    // chunk
    r#"{{ chunk 2 .l }}|{{ chunk 10 .l }}|{{ chunk 1 .sl }}|{{ chunk 3 .el }}|{{ chunk -2 (list 7) }}|{{ chunk 5 (list 1 2 3 4 5) }}|{{ mustChunk 2 .sl }}"#,
    r#"{{ chunk 0 .l }}"#,
    r#"{{ chunk -1 .l }}"#,
    r#"{{ chunk -1 .el }}"#,
    r#"{{ chunk 0 .el }}"#,
    r#"{{ chunk 2 "abc" }}"#,
    r#"{{ chunk .f .l }}"#,
    // dict, get, set, unset, hasKey
    r#"{{ dict }}|{{ dict "a" 1 "b" }}|{{ dict 1 2 nil "x" 2.5 3 true 4 }}|{{ dict "a" 1 "a" 2 }}|{{ (dict "k" .l).k }}"#,
    r#"{{ get .m "a" }}|{{ get .m "zz" }}|{{ get .missing "a" }}|{{ get .m "e" }}|{{ get .em "" }}"#,
    r#"{{ get .s "a" }}"#,
    r#"{{ get .m .n }}"#,
    r#"{{ $d := dict "a" 1 }}{{ set $d "b" 2 }}|{{ $d }}|{{ unset $d "a" }}|{{ $d }}|{{ unset $d "zz" }}|{{ unset .missing "a" }}|{{ set (dict) "x" nil }}"#,
    r#"{{ set .missing "a" 1 }}"#,
    r#"{{ hasKey .m "a" }}|{{ hasKey .m "e" }}|{{ hasKey .m "zz" }}|{{ hasKey .missing "a" }}"#,
    r#"{{ hasKey .l "a" }}"#,
    // pluck, keys, values, pick, omit
    r#"{{ pluck "a" .m (dict "a" 2) (dict) .missing }}|{{ pluck "zz" .m }}|{{ pluck "a" }}"#,
    r#"{{ pluck "a" .l }}"#,
    r#"{{ keys .m | sortAlpha }}|{{ keys (dict) .m (dict "z" 1) | sortAlpha }}|{{ keys }}|{{ keys .missing }}|{{ keys (dict "one" 1) }}"#,
    r#"{{ keys .s }}"#,
    r#"{{ values (dict "a" 1) }}|{{ values .m | len }}|{{ values .missing }}|{{ values .em }}"#,
    r#"{{ pick .m "a" "zz" "e" }}|{{ pick .m }}|{{ pick .missing "a" }}|{{ omit .m "a" "b" }}|{{ omit .m }}|{{ omit .missing "a" }}"#,
    r#"{{ pick .m .n }}"#,
    // merge, mergeOverwrite
    r#"{{ merge (dict "a" 1 "b" "" "c" false "d" (dict "x" 1) "e" (list 1) "n" nil "z" 0) (dict "a" 2 "b" "B" "c" true "d" (dict "x" 2 "y" 3) "e" (list 2) "f" "F" "n" "N" "z" 5) | toJson }}"#,
    r#"{{ mergeOverwrite (dict "a" 1 "b" "" "c" false "d" (dict "x" 1) "e" (list 1) "n" nil "z" 0) (dict "a" 2 "b" "B" "c" true "d" (dict "x" 2 "y" 3) "e" (list 2) "f" "F" "n" "N" "z" 5) | toJson }}"#,
    r#"{{ merge (dict "a" "x" "b" (dict "c" 1) "l" (list) "m" (dict)) (dict "a" (dict "m" 1) "b" "y" "z" nil "l" (list 1) "m" (dict "k" 1)) | toJson }}"#,
    r#"{{ mergeOverwrite (dict "a" "x" "b" (dict "c" 1) "l" (list 9) "m" (dict)) (dict "a" (dict "m" 1) "b" "y" "z" nil "l" (list) "m" (dict "k" 1) "q" (dict)) | toJson }}"#,
    r#"{{ merge (dict) (dict "a" (list 1)) (dict "a" (list 2) "b" 2) | toJson }}|{{ merge .missing (dict "a" 1) | toJson }}|{{ merge .missing .missing }}|{{ merge (dict "a" 1) }}|{{ mustMerge (dict "a" 1) (dict "a" 2 "b" 3) | toJson }}|{{ mustMergeOverwrite (dict "a" 1) (dict "a" 2 "b" 3) | toJson }}"#,
    r#"{{ $d := dict "a" (dict "b" 1) }}{{ $s := dict "a" (dict "c" 2) "n" (dict "x" 1) }}{{ $_ := merge $d $s }}{{ $d | toJson }}|{{ $s | toJson }}|{{ $_ := set $s.n "y" 2 }}{{ $d | toJson }}"#,
    r#"{{ $d := dict "a" 1 "b" (dict "c" 2) }}{{ merge $d $d | toJson }}|{{ mergeOverwrite $d $d | toJson }}"#,
    r#"{{ merge (dict "a" (list 1)) (dict "a" (list)) | toJson }}|{{ mergeOverwrite (dict "a" (list 1)) (dict "a" (list)) | toJson }}|{{ merge (dict "a" "") (dict "a" (list)) | toJson }}|{{ merge (dict "a" nil "k" 1) (dict "a" (list 3)) | toJson }}|{{ merge (dict "a" 0) (dict "a" (dict "x" 1)) | toJson }}|{{ merge (dict "a" (dict)) (dict "a" (dict)) | toJson }}"#,
    r#"{{ merge .m .n }}"#,
    r#"{{ merge .s .m }}"#,
    // dig
    r#"{{ dig "b" "c" "def" .m }}|{{ dig "zz" "def" .m }}|{{ dig "b" "zz" "q" "def" .m }}|{{ dig "e" "def" .m }}|{{ dig "b" "n" "def" .m }}|{{ dig "a" "def" .em }}"#,
    r#"{{ dig "a" "x" "def" .m }}"#,
    r#"{{ dig "e" "x" "def" .m }}"#,
    r#"{{ dig "a" .m }}"#,
    r#"{{ dig 1 "def" .m }}"#,
    r#"{{ dig "a" "def" .l }}"#,
    r#"{{ dig "a" "def" .nil }}"#,
    // semver
    r#"{{ $v := semver "1.2.3-beta.1+build.5" }}{{ $v }}|{{ $v.Major }}|{{ $v.Minor }}|{{ $v.Patch }}|{{ $v.Prerelease }}|{{ $v.Metadata }}|{{ $v.Original }}|{{ $v.String }}|{{ typeOf $v }}"#,
    r#"{{ semver "v1.2" }}|{{ (semver "v1.2").Original }}|{{ semver "1" }}|{{ semver "01.02.03" }}|{{ (semver "1.2.3").IncMinor }}|{{ (semver "1.2.3-rc1").IncPatch }}|{{ (semver "v1.2.3").IncMajor }}|{{ (semver "1.2.3").IncPatch }}"#,
    r#"{{ (semver "1.2.3").LessThan (semver "1.3") }}|{{ (semver "1.2.3").GreaterThan (semver "1.3") }}|{{ (semver "1.2.3").Equal (semver "1.2.3+x") }}|{{ (semver "1.2.3").Compare (semver "1.2.3-a") }}|{{ (semver "1.2.3-a.10").Compare (semver "1.2.3-a.9") }}|{{ (semver "1.2.3-alpha").LessThan (semver "1.2.3-alpha.1") }}"#,
    r#"{{ toJson (semver "1.2.3") }}|{{ (semver "1.2.3").SetPrerelease "rc.1" }}|{{ (semver "1.2.3").SetMetadata "m" }}"#,
    r#"{{ semver "x" }}"#,
    r#"{{ semver "1.2.3-01" }}"#,
    r#"{{ semver "1.2.3.4" }}"#,
    r#"{{ semver "99999999999999999999.0.0" }}"#,
    r#"{{ semver .n }}"#,
    r#"{{ (semver "1.2.3").SetPrerelease "01" }}"#,
    r#"{{ semverCompare .c .v }}|{{ semverCompare "^1.2" "1.9.9" }}|{{ semverCompare "~1.2.3" "1.3.0" }}|{{ semverCompare ">=1.21.0-0" "v1.28.3-gke.1" }}|{{ semverCompare "1.2 - 3.4.5" "3.9.0" }}|{{ semverCompare "1.2 - 3.4.5" "3.4.0" }}|{{ semverCompare "<2.x" "1.9" }}|{{ semverCompare "*" "0.0.1" }}|{{ semverCompare ">1.2.3 <1.3 || =2" "2.0.0" }}"#,
    r#"{{ semverCompare "foo" "1.0.0" }}"#,
    r#"{{ semverCompare ">1" "x" }}"#,
    r#"{{ semverCompare "1.x.y" "1.0.0" }}"#,
    r#"{{ semverCompare "" "1.0.0" }}"#,
    // fail
    r#"{{ fail "stop here" }}"#,
    r#"{{ fail "" }}"#,
    r#"{{ fail .n }}"#,
    // regular expressions
    r#"{{ regexMatch "^[a-z]+\\d$" "abc1" }}|{{ regexMatch "(" "x" }}|{{ mustRegexMatch "a.c" "abc" }}|{{ regexMatch "\\d" "١" }}|{{ regexMatch "\\w" "é" }}|{{ regexMatch "\\s" "\u00a0" }}|{{ regexMatch "\\bé" "é" }}|{{ regexMatch "(?i)straße" "STRASSE" }}"#,
    r#"{{ regexFindAll "a*" "baaac" -1 }}|{{ regexFindAll "[0-9]+" "a1b22c333" 2 }}|{{ regexFindAll "x" "abc" -1 }}|{{ regexFindAll "" "héllo" -1 }}|{{ regexFindAll "." "ab" 0 }}|{{ mustRegexFindAll "(?m)^\\w+" "ab cd\nef gh" -1 }}"#,
    r#"{{ regexFind "[0-9]+" "a1b22" }}|{{ regexFind "x" "abc" }}|{{ mustRegexFind "a|ab" "ab" }}|{{ regexFind "(a+)(b*)" "caab" }}|{{ regexFind "\\Qa.b\\E+" "a.bb" }}|{{ regexFind "\\x{e9}+" "éé" }}|{{ regexFind "\\141\\x62" "ab" }}|{{ regexFind "[[:alpha:]]+" "12ab3" }}|{{ regexFind "\\pL+" "12éb3" }}|{{ regexFind "\\p{Greek}+" "aαβ" }}|{{ regexFind "[^\\D]+" "ab12" }}"#,
    r#"{{ regexReplaceAll "a*" "baaac" "X" }}|{{ regexReplaceAll "(a)" "banana" "$1x" }}|{{ regexReplaceAll "(a)" "banana" "<$1>$" }}|{{ regexReplaceAll "(a)" "banana" "<${1}x$$>" }}|{{ regexReplaceAll "(?P<1a>a)" "banana" "<${1a}>" }}|{{ regexReplaceAll "(a)" "banana" "${1" }}|{{ regexReplaceAll "(a)" "banana" "$01" }}|{{ regexReplaceAll "(?P<x>a)(?P<x>n)" "banana" "[$x]" }}|{{ regexReplaceAll "" "héllo" "-" }}|{{ regexReplaceAll "(a)|b" "ab" "[$1]" }}|{{ regexReplaceAll "a(x*)" "a" "[$1]" }}"#,
    r#"{{ regexReplaceAllLiteral "(a)" "banana" "$1" }}|{{ mustRegexReplaceAll "[aeiou]" "education" "" }}|{{ mustRegexReplaceAllLiteral "\\s+" "a  b \t c" " " }}|{{ regexReplaceAll "(?i)HELLO" "hello Hello" "bye" }}|{{ regexReplaceAll "x*" "" "-" }}|{{ regexReplaceAll "\\b" "ab cd" "|" }}"#,
    r#"{{ regexSplit "a" "banana" 2 }}|{{ regexSplit "a" "banana" 0 | len }}|{{ regexSplit "" "abc" -1 }}|{{ regexSplit "x*" "" -1 | len }}|{{ regexSplit "," "a,b,,c," -1 }}|{{ regexSplit "\\s+" "  a b  " -1 }}|{{ mustRegexSplit "[,;]" "a,b;c" 2 }}|{{ regexSplit "a*" "baaac" -1 }}|{{ regexSplit "" "" -1 | len }}"#,
    r#"{{ regexQuoteMeta "a.b#c-d[x]{1}(y)|z^$*+?\\" }}|{{ regexQuoteMeta "" }}|{{ regexQuoteMeta "é" }}"#,
    r#"{{ regexFind "(" "x" }}"#,
    r#"{{ regexFind "`(" "x" }}"#,
    r#"{{ regexFindAll "[z-a]" "x" 1 }}"#,
    r#"{{ regexSplit "a**" "x" 1 }}"#,
    r#"{{ regexReplaceAll "\\8" "x" "y" }}"#,
    r#"{{ regexReplaceAllLiteral "(?x)a" "x" "y" }}"#,
    r#"{{ mustRegexFindAll "x{1001}" "x" 1 }}"#,
    r#"{{ mustRegexSplit "(?P<>a)" "x" 1 }}"#,
    r#"{{ mustRegexReplaceAll "\\p{Foo}" "x" "y" }}"#,
    r#"{{ mustRegexReplaceAllLiteral "[[:foo:]]" "x" "y" }}"#,
    r#"{{ mustRegexMatch "a{2}{3}" "x" }}"#,
    r#"{{ mustRegexFind "x\\" "x" }}"#,
    r#"{{ mustRegexFind "[a" "x" }}"#,
    r#"{{ mustRegexFind "a)" "x" }}"#,
    r#"{{ mustRegexFind "(?i-)a" "x" }}"#,
    r#"{{ mustRegexFind "\\C" "x" }}"#,
    r#"{{ mustRegexFind "*" "x" }}"#,
    r#"{{ mustRegexFind "(|+)" "x" }}"#,
    r#"{{ mustRegexFind "\\xZ" "x" }}"#,
    r#"{{ mustRegexFind "\\x{110000}" "x" }}"#,
    r#"{{ mustRegexFind "a{,2}|a{01}|b{2,1" "a{,2}" }}|{{ mustRegexFind "[]a]+" "]a" }}|{{ mustRegexFind "[a-]+" "-a" }}|{{ mustRegexFind "(?s).+" "a\nb" }}|{{ mustRegexFind "(?U)a+" "aaa" }}|{{ mustRegexFind "a+?" "aaa" }}|{{ mustRegexFind "^*a" "a" }}|{{ mustRegexFind "\\<" "<" }}|{{ mustRegexFind "[\\d\\s]+" "1 2x" }}"#,
    r#"{{ mustRegexFind "a{2,1}" "x" }}"#,
    r#"{{ mustRegexFind "[^\x00-\x{10FFFF}]" "a" }}|{{ mustRegexFind "[^\s\S]|b" "ab" }}|{{ regexMatch "\pN" "٣" }}|{{ regexMatch "\p{^Greek}" "α" }}|{{ regexMatch "\PL" "1" }}|{{ regexMatch "\p{lu}" "A" }}|{{ regexMatch "\p{Letter}" "a" }}|{{ regexMatch "[\p{Lu}\d]" "5" }}"#,
    r#"{{ regexMatch .n "x" }}"#,
    r#"{{ regexFindAll "a" "aaa" .f }}"#,
    // URLs
    r#"{{ $u := urlParse .url }}{{ $u.scheme }}|{{ $u.host }}|{{ $u.hostname }}|{{ $u.path }}|{{ $u.query }}|{{ $u.fragment }}|{{ $u.userinfo }}|{{ $u.opaque }}"#,
    r#"{{ range list "" "/a/b" "mailto:x@y.z" "HTTP://Example.COM" "http://[::1]:80/p" "http://[fe80::1%25en0]/" "//host/p" "a/b?" "a?b?c" "x:/p" "http://h/a%20b?c%20d#e%20f" "file:///tmp/x" "http://u@h" "http://u:@h" "http://:p@h" "*" "http://h:80:90" "postgres://h1:5432,h2:5433/db" "http://h/%7e%2F" }}{{ toJson (urlParse .) }}
{{ end }}"#,
    r#"{{ urlParse "%zz" }}"#,
    r#"{{ urlParse ":foo" }}"#,
    r#"{{ urlParse "a:b/c:d" }}"#,
    r#"{{ urlParse "ab:c/d" }}|{{ urlParse "./a:b" }}"#,
    r#"{{ urlParse "a:b c" }}"#,
    r#"{{ urlParse "1a:b" }}"#,
    r#"{{ urlParse "http://h/\u0001" }}"#,
    r#"{{ urlParse "http://[::1" }}"#,
    r#"{{ urlParse "http://h:port" }}"#,
    r#"{{ urlParse "http://h%2f/" }}"#,
    r#"{{ urlParse "http://h^/" }}"#,
    r#"{{ urlParse "http://x[::1]/" }}"#,
    r#"{{ urlParse "http://[1.2.3.4]/" }}"#,
    r#"{{ urlParse "http://[::1]x/" }}"#,
    r#"{{ urlParse "http://u s@h/" }}"#,
    r#"{{ urlParse "http://h/#%zz" }}"#,
    r#"{{ urlJoin (urlParse .url) }}|{{ urlJoin (dict "scheme" "https" "host" "h" "path" "/a b/c?d" "query" "x=1" "fragment" "f g#h" "userinfo" "us er:p@ss") }}|{{ urlJoin (dict) }}|{{ urlJoin (dict "path" "a:b") }}|{{ urlJoin (dict "host" "h" "path" "p") }}|{{ urlJoin (dict "scheme" "mailto" "opaque" "x@y") }}|{{ urlJoin (dict "scheme" "http" "path" "/p") }}"#,
    r#"{{ urlJoin (dict "host" 5) }}"#,
    r#"{{ urlJoin (dict "host" nil) }}"#,
    r#"{{ urlJoin (dict "userinfo" "a%zz") }}"#,
    r#"{{ urlJoin .missing }}"#,
    r#"{{ urlJoin .s }}"#,
    // bytes and characters
    r#"{{ wrapWith 3 "|" "ééé" }}|{{ b64dec "/w==" }}|{{ substr 0 3 "日本" }}|{{ trunc -1 "é" }}|{{ abbrev 5 "ééééé" }}|{{ wrap 2 "éé éé" }}"#,
    r#"{{ nospace "àb" }}|{{ nospace "à b" }}|{{ nospace "a\u00a0b" }}|{{ nospace "\u2003x" }}|{{ initials "àb cd" }}|{{ initials "a\u00a0b" }}"#,
    r#"{{ quote "\u00ad\u200b\x7f" }}|{{ squote "é" }}|{{ title "ǳ ǆ ǉ ß" }}|{{ swapcase "ǅ ǈ Ⅻ ⓐ" }}|{{ upper "ⓐ ǅ" }}|{{ lower "Ⅻ Ⓐ" }}|{{ untitle "Ǆ" }}"#,
    r#"{{ range list "ABC1D" "a1B" "1A2b" "HTTP2" "v1.2.3" "hello!world" "a&b" "x+y" "a\ufffdb" "\ufffd" "ÉtéÉté" "ſ" "ǅa" "a  b" "ⅫX" "a١b" "日本Go" }}{{ snakecase . }}|{{ kebabcase . }}|{{ camelcase . }}
{{ end }}"#,
    r#"{{ regexFindAll "." "héllo" -1 }}|{{ regexReplaceAll "(?i)É" "été" "E" }}|{{ regexSplit "é" "aébéc" -1 }}|{{ regexFind "\x{1F600}" "😀" }}"#,
    r#"{{ sortAlpha (list "é" "e" "z" "É" "Z" "" "10" "9") }}|{{ trimAll "éa" "aébéa" }}|{{ dict .m 1 }}|{{ deepEqual (dict "a" nil) (dict "a" nil) }}|{{ deepEqual (dict "a" nil) (dict) }}"#,
    r#"{{ merge (dict "a" (dict "b" (dict "c" 1 "z" ""))) (dict "a" (dict "b" (dict "c" 2 "d" 3 "z" "Z"))) (dict "a" (dict "e" 4) "f" 5) | toJson }}|{{ mergeOverwrite (dict "a" (dict "b" (dict "c" 1))) (dict "a" (dict "b" (dict "c" 2 "d" 3))) (dict "a" (dict "b" nil)) | toJson }}"#,
    // durations
    r#"{{ duration "95" }}|{{ duration (int64 95) }}|{{ duration (add 3600 1) }}|{{ duration "" }}|{{ duration "x" }}|{{ duration "3600" }}|{{ duration "-61" }}|{{ duration "99999999999999999999" }}|{{ duration .f }}|{{ duration "0" }}"#,
    r#"{{ durationRound "2h10m" }}|{{ durationRound "95h" }}|{{ durationRound "2400h" }}|{{ durationRound "9000h" }}|{{ durationRound "1s" }}|{{ durationRound "1.5s" }}|{{ durationRound "-3m" }}|{{ durationRound "x" }}|{{ durationRound (int64 3600000000000) }}|{{ durationRound (mul 3 86400000000000) }}|{{ durationRound "1h0m1s" }}|{{ durationRound "1µs" }}|{{ durationRound ".5h" }}|{{ durationRound "1h1m" }}|{{ durationRound "" }}"#,
];

/// Renders `text` with Go's builtins and sprig's functions, on `data`.
fn render(text: &str, data: &Json) -> Result<String, String> {
    let mut funcs = Funcs::builtins();
    slipway_chart::sprig::register(&mut funcs);
    let mut t = Template::new(funcs);
    t.parse("t", text).map_err(|e| e.to_string())?;
    t.execute("t", &Value::from_json(data))
        .map_err(|e| e.to_string())
}

/// Renders each template here and in Go, and requires the same output or the same whole
/// error text (position, node and message).
fn compare(cases: &[(String, Json)]) {
    compare_where(cases, |_, _| true);
}

#[test]
fn sprig_functions_render_as_go_renders_them() {
    let data: Json = serde_json::from_str(DATA).unwrap();
    let cases: Vec<(String, Json)> = CASES
        .iter()
        .map(|t| (t.to_string(), data.clone()))
        .collect();
    compare(&cases);
}

/// Floats spread over the whole range (random bit patterns, with a seed), and short
/// decimals: the JSON text of each, and the decimal arithmetic of `addf` and friends, must
/// be Go's.
#[test]
fn float_functions_agree_with_go_over_many_values() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut floats = Vec::new();
    while floats.len() < 300 {
        let f = f64::from_bits(next());
        if f.is_finite() {
            floats.push(f);
        }
    }
    for _ in 0..300 {
        let digits = next() % 100_000;
        let scale = 10f64.powi((next() % 12) as i32 - 6);
        floats.push(digits as f64 * scale);
    }
    let mut cases = Vec::new();
    for chunk in floats.chunks(50) {
        let data = json!({ "fs": chunk });
        cases.push((
            "{{ toJson .fs }}|{{ toPrettyJson .fs }}".to_string(),
            data.clone(),
        ));
        cases.push((
            "{{ range .fs }}{{ addf . 1.1 }} {{ subf . 0.3 }} {{ mulf . 3.3 }} {{ divf . 7 }} {{ divf 1 . }} {{ add1f . }}|{{ end }}".to_string(),
            data.clone(),
        ));
        cases.push((
            "{{ range .fs }}{{ round . 3 }} {{ round . -2 }} {{ round . 0 0.3 }} {{ floor . }} {{ int64 . }} {{ toDecimal . }} {{ maxf . 1 }}|{{ end }}".to_string(),
            data,
        ));
    }
    compare(&cases);
}

/// Masterminds/semver's own test tables (read from the module, at test time).
fn semver_tests() -> String {
    let out = std::process::Command::new("go")
        .args([
            "mod",
            "download",
            "-json",
            "github.com/Masterminds/semver/v3@v3.5.0",
        ])
        .env("GOFLAGS", "-mod=mod")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("go mod download (Go is needed for this test)");
    let info: Json = serde_json::from_slice(&out.stdout).expect("go mod download -json");
    let dir = info["Dir"].as_str().expect("the module's folder");
    let mut text = String::new();
    for file in ["constraints_test.go", "version_test.go"] {
        let path = format!("{dir}/{file}");
        text.push_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")));
    }
    text
}

#[test]
fn semver_functions_agree_with_go_on_the_librarys_own_tables() {
    let source = semver_tests();
    let mut cases = Vec::new();
    for table in ["func TestConstraintCheck(", "func TestConstraintsCheck("] {
        for row in slipway_testkit::go_table_rows(&source, table) {
            let Some((constraint, rest)) = slipway_testkit::go_string(&row[1..]) else {
                continue;
            };
            let Some((version, _)) = slipway_testkit::go_string(rest.trim_start_matches(','))
            else {
                continue;
            };
            cases.push((
                "{{ semverCompare .c .v }}".to_string(),
                json!({"c": constraint, "v": version}),
            ));
        }
    }
    for table in ["func TestNewVersion(", "func TestParseConstraint("] {
        for row in slipway_testkit::go_table_rows(&source, table) {
            let Some((text, _)) = slipway_testkit::go_string(&row[1..]) else {
                continue;
            };
            cases.push((
                "{{ $v := semver .v }}{{ $v }} {{ $v.Major }} {{ $v.Minor }} {{ $v.Patch }} {{ $v.Prerelease }} {{ $v.Metadata }} {{ $v.Original }}".to_string(),
                json!({"v": text}),
            ));
            cases.push((
                "{{ semverCompare .v \"1.2.3\" }}".to_string(),
                json!({"v": text}),
            ));
        }
    }
    assert!(cases.len() > 300, "read {} cases", cases.len());
    compare(&cases);
}

#[test]
fn refused_functions_say_what_they_are() {
    for (text, what) in [
        ("{{ now }}", "sprig's now"),
        ("{{ randAlphaNum 5 }}", "sprig's randAlphaNum"),
        ("{{ genCA \"x\" 365 }}", "sprig's genCA"),
        ("{{ uuidv4 }}", "sprig's uuidv4"),
        (
            "{{ getHostByName \"example.com\" }}",
            "sprig's getHostByName",
        ),
        (
            "{{ toDate \"2006-01-02\" \"2024-01-01\" }}",
            "sprig's toDate",
        ),
    ] {
        let err = render(text, &Json::Null).unwrap_err();
        assert!(err.contains(what), "{text}: {err}");
    }
    assert!(render("{{ env \"HOME\" }}", &Json::Null).is_err());
}

/// Calls with arguments of the wrong type: data floats and ints, strings, constants of
/// the wrong kind, the `nil` constant, a missing key, a null value, dicts and lists. Go
/// converts and checks each argument against the function's parameter type before the
/// call; the whole error (position, node and text) must be Go's.
const WRONG_TYPES: &[&str] = &[
    // int parameters
    r#"{{ trunc .f .s }}"#,
    r#"{{ trunc .s .s }}"#,
    r#"{{ trunc "3" .s }}"#,
    r#"{{ trunc 4.0 .s }}"#,
    r#"{{ trunc 4.5 .s }}"#,
    r#"{{ trunc nil .s }}"#,
    r#"{{ trunc .missing .s }}"#,
    r#"{{ trunc .nil .s }}"#,
    r#"{{ trunc true .s }}"#,
    r#"{{ trunc .fi .s }}"#,
    r#"{{ trunc (len .s) .s }}"#,
    r#"{{ trunc 0x10 .s }}"#,
    r#"{{ trunc 'a' .s }}"#,
    r#"{{ trunc 1e2 .s }}"#,
    r#"{{ abbrev .f .s }}"#,
    r#"{{ abbrevboth 1 .f .s }}"#,
    r#"{{ substr 0 .f .s }}"#,
    r#"{{ substr 0 2 .n }}"#,
    r#"{{ repeat .s "x" }}"#,
    r#"{{ wrap .nil .s }}"#,
    r#"{{ wrapWith 3 .n .s }}"#,
    r#"{{ indent "2" .s }}"#,
    r#"{{ nindent .missing .s }}"#,
    r#"{{ plural "a" "b" .f }}"#,
    r#"{{ plural "a" "b" nil }}"#,
    r#"{{ splitn "," .f .s }}"#,
    r#"{{ until .s }}"#,
    r#"{{ until 2.0 }}|{{ until (int .f) }}"#,
    r#"{{ untilStep 0 10 .f }}"#,
    r#"{{ seq 1 .f }}"#,
    r#"{{ seq 1 "2" }}"#,
    r#"{{ seq 1.0 3 }}"#,
    r#"{{ round 1.5 .f }}"#,
    r#"{{ round 1.5 1 .n }}"#,
    r#"{{ round 1.5 1 "0.5" }}"#,
    r#"{{ round 1.5 1 1 }}|{{ round 2.25 1 .f }}"#,
    r#"{{ round 1.5 1 0.5 .n }}"#,
    r#"{{ chunk .f .l }}"#,
    r#"{{ chunk "2" .l }}"#,
    r#"{{ regexFindAll "a" "aaa" .f }}"#,
    r#"{{ regexSplit "a" "aaa" "1" }}"#,
    r#"{{ mustRegexSplit "a" "aaa" nil }}"#,
    // string parameters
    r#"{{ upper .n }}"#,
    r#"{{ upper 2 }}"#,
    r#"{{ upper nil }}"#,
    r#"{{ upper .missing }}"#,
    r#"{{ upper .nil }}"#,
    r#"{{ upper .m.e }}"#,
    r#"{{ upper .l }}"#,
    r#"{{ upper .m }}"#,
    r#"{{ upper true }}"#,
    r#"{{ upper (semver "1.2.3") }}"#,
    r#"{{ .n | upper }}"#,
    r#"{{ .missing | upper }}"#,
    r#"{{ .nil | upper }}"#,
    r#"{{ (.nil) | upper }}"#,
    r#"{{ upper (.nil) }}"#,
    r#"{{ $x := .nil }}{{ upper $x }}"#,
    r#"{{ range .l }}{{ upper . }}{{ end }}"#,
    r#"{{ with .m }}{{ upper .e }}{{ end }}"#,
    r#"{{ trim .f }}"#,
    r#"{{ title .b }}"#,
    r#"{{ contains "a" .n }}"#,
    r#"{{ hasPrefix 1 "a" }}"#,
    r#"{{ replace "a" "b" .n }}"#,
    r#"{{ trimAll 1 "a" }}"#,
    r#"{{ sha256sum .n }}"#,
    r#"{{ b64enc .l }}"#,
    r#"{{ b32dec .nil }}"#,
    r#"{{ atoi .n }}"#,
    r#"{{ atoi 5 }}"#,
    r#"{{ fromJson .n }}"#,
    r#"{{ mustFromJson .missing }}"#,
    r#"{{ join .n .l }}"#,
    r#"{{ join nil .l }}"#,
    r#"{{ join "," nil }}"#,
    r#"{{ split 1 "a" }}"#,
    r#"{{ splitList "," .f }}"#,
    r#"{{ typeIs .n .n }}"#,
    r#"{{ typeIsLike nil .n }}"#,
    r#"{{ kindIs .missing .n }}"#,
    r#"{{ fail .n }}"#,
    r#"{{ fail nil }}"#,
    r#"{{ base .n }}"#,
    r#"{{ osDir .nil }}"#,
    r#"{{ semver .f }}"#,
    r#"{{ semverCompare ">1" .n }}"#,
    r#"{{ regexMatch .n "x" }}"#,
    r#"{{ regexReplaceAll "a" "b" 3 }}"#,
    r#"{{ regexQuoteMeta .b }}"#,
    r#"{{ urlParse .missing }}"#,
    r#"{{ snakecase .n }}"#,
    r#"{{ nospace 1.5 }}"#,
    r#"{{ initials .l }}"#,
    // bool and float64 parameters
    r#"{{ ternary "a" "b" .n }}"#,
    r#"{{ ternary "a" "b" 1 }}"#,
    r#"{{ ternary "a" "b" "true" }}"#,
    r#"{{ ternary "a" "b" nil }}"#,
    r#"{{ ternary "a" "b" .missing }}"#,
    r#"{{ ternary "a" "b" .nil }}"#,
    r#"{{ .s | ternary "a" "b" }}"#,
    // map parameters
    r#"{{ get .s "a" }}"#,
    r#"{{ get .l "a" }}"#,
    r#"{{ get .nil "a" }}"#,
    r#"{{ get .missing "a" }}|{{ get nil "a" }}"#,
    r#"{{ get 1 "a" }}"#,
    r#"{{ get "x" "a" }}"#,
    r#"{{ get .m .n }}"#,
    r#"{{ get .m nil }}"#,
    r#"{{ get (split "," "a,b") "_0" }}"#,
    r#"{{ get (semver "1.2.3") "a" }}"#,
    r#"{{ set .s "a" 1 }}"#,
    r#"{{ set .m 1 1 }}"#,
    r#"{{ set nil "a" 1 }}"#,
    r#"{{ unset .n "a" }}"#,
    r#"{{ hasKey .f "a" }}"#,
    r#"{{ hasKey .m .f }}"#,
    r#"{{ pluck .n .m }}"#,
    r#"{{ pluck "a" .m .s }}"#,
    r#"{{ pluck "a" .m nil .missing }}"#,
    r#"{{ pluck "a" .m .nil }}"#,
    r#"{{ keys .m .l }}"#,
    r#"{{ keys nil .missing | len }}"#,
    r#"{{ keys .m.e }}"#,
    r#"{{ pick .m "a" 1 }}"#,
    r#"{{ pick .m "a" .nil }}"#,
    r#"{{ omit .l "a" }}"#,
    r#"{{ omit .m .n }}"#,
    r#"{{ merge .m .n }}"#,
    r#"{{ merge .s .m }}"#,
    r#"{{ merge (dict) .nil }}"#,
    r#"{{ mergeOverwrite (dict) nil (dict "a" 1) }}"#,
    r#"{{ mustMerge 1 (dict) }}"#,
    r#"{{ values .l }}"#,
    r#"{{ values nil }}"#,
    r#"{{ urlJoin .s }}"#,
    r#"{{ urlJoin .nil }}"#,
    r#"{{ .s | get .m }}"#,
    r#"{{ .n | get .m }}"#,
    r#"{{ .s | urlJoin }}"#,
    // the arguments after a wrong one are not evaluated
    r#"{{ trunc .f (fail "not reached") }}"#,
    r#"{{ substr (fail "first") .f .s }}"#,
];

/// Whether a result is Go's refusal of an argument before the call (not a function's
/// own error, which Go prefixes with `error calling NAME: `).
fn refused_argument(r: &Result<String, String>) -> bool {
    r.as_ref().is_err_and(|e| !e.contains("error calling "))
}

/// As [`compare`], for the cases where `matters(go, ours)`.
fn compare_where(
    cases: &[(String, Json)],
    matters: impl Fn(&Result<String, String>, &Result<String, String>) -> bool,
) {
    let questions: Vec<Json> = cases
        .iter()
        .map(|(t, data)| json!({"template": t, "data": data, "funcs": "sprig"}))
        .collect();
    let answers = slipway_testkit::ask_template_oracle(&questions);
    let mut failures = Vec::new();
    for ((text, data), answer) in cases.iter().zip(&answers) {
        let ours = render(text, data);
        let go = match (answer.get("text").and_then(Json::as_str), &answer["error"]) {
            (Some(out), _) => Ok(out.to_owned()),
            (None, Json::String(e)) => Err(e.clone()),
            (None, other) => panic!("the oracle answered {other} for {text}"),
        };
        if matters(&go, &ours) && go != ours {
            failures.push(format!("{text}\n   go: {go:?}\n  ours: {ours:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} templates differ from Go:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn arguments_of_the_wrong_type_fail_as_in_go() {
    let data: Json = serde_json::from_str(DATA).unwrap();
    let cases: Vec<(String, Json)> = WRONG_TYPES
        .iter()
        .map(|t| (t.to_string(), data.clone()))
        .collect();
    compare(&cases);
}

/// A constant each declared parameter type takes.
fn fitting(ty: Type) -> &'static str {
    match ty {
        Type::String => r#""a""#,
        Type::Int | Type::Int64 => "2",
        Type::Float64 => "0.5",
        Type::Bool => "true",
        Type::Map => r#"(dict "a" "b")"#,
        Type::List | Type::Strings => "(list)",
        Type::Any => r#""a""#,
    }
}

/// Every parameter of every sprig function, probed with values that only some Go types
/// take: a null value, a missing key, the `nil` constant, numbers and text from the data,
/// constants of each kind, a dict and a list. The arguments before the probed one fit
/// the types declared here; were a declared type not Go's, Go would fail there (or here)
/// with another message. So the declared types are checked against Go's signatures.
#[test]
fn every_parameter_is_typed_as_go_types_it() {
    const PROBES: &[&str] = &[
        ".nil",
        ".missing",
        "nil",
        ".f",
        ".n",
        ".s",
        ".m",
        ".l",
        "3",
        "4.0",
        "2.5",
        r#""x""#,
        "true",
        r#"(split "," "a")"#,
    ];
    let mut funcs = Funcs::builtins();
    slipway_chart::sprig::register(&mut funcs);
    let data: Json = serde_json::from_str(DATA).unwrap();
    let mut cases = Vec::new();
    for name in slipway_chart::sprig::names() {
        let f = funcs.get(name).expect("registered");
        if f.unsupported.is_some() {
            continue;
        }
        // One variadic argument too, for a variadic function.
        let count = match f.arity {
            Arity::Exact(n) => n,
            Arity::AtLeast(n) => n + 1,
        };
        let param = |i: usize| {
            f.params
                .0
                .get(i)
                .copied()
                .or(f.params.1)
                .unwrap_or(Type::Any)
        };
        for probed in 0..count {
            for probe in PROBES {
                let args: Vec<&str> = (0..count)
                    .map(|i| {
                        if i == probed {
                            *probe
                        } else {
                            fitting(param(i))
                        }
                    })
                    .collect();
                cases.push((format!("{{{{ {name} {} }}}}", args.join(" ")), data.clone()));
            }
        }
    }
    assert!(cases.len() > 2000, "made {} cases", cases.len());
    // What a function then does with arguments Go let through is for the tests above.
    compare_where(&cases, |go, ours| {
        refused_argument(go) || refused_argument(ours)
    });
}
