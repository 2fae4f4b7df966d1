// Command tmpl-oracle answers template, fmt, values and --set questions with the Go code
// that text/template, sprig, Helm's engine and Helm's values readers run, so slipway's
// template and chart tests compare against that code instead of our own expectations.
//
// It reads one JSON array of questions on stdin and writes one JSON array of answers, in
// the same order. Every answer is a JSON object; an answer that has "error" failed.
//
// TYPED is a tagged JSON encoding of one Go value, used for function arguments and for
// values read from YAML or --set lines:
//
//	{"int": N}          int                (read as int64 arithmetic; output for Go's int)
//	{"int64": N}        int64              (strvals gives int64 for --set numbers)
//	{"float": X}        float64; X is a JSON number or a string strconv.ParseFloat reads,
//	                    including "NaN", "+Inf", "-Inf" and "-0". Answers always write a
//	                    string: strconv.FormatFloat(f, 'g', -1, 64), so no precision is
//	                    lost in a JSON reader
//	{"string": S}       string
//	{"bool": B}         bool
//	{"nil": true}       nil (an empty interface)
//	{"bytes": BASE64}   []byte, standard base64 with padding
//	{"list": [TYPED]}   []interface{}
//	{"map": {K: TYPED}} map[string]interface{}
//	{"other": T, "text": S}
//	                    any other Go value (answers only): its %T and its %v
//
// Questions:
//
//	{"template": TEXT, "name": NAME, "data": JSON, "values": YAML, "funcs": FUNCS,
//	 "missingkey": MK, "delims": [L, R]}
//	        text/template: template.New(NAME) (NAME defaults to "t"), Delims(L, R) when
//	        given, Option("missingkey=MK") when MK is given ("default", "zero" or
//	        "error"), the function table FUNCS, Parse(TEXT), then Execute on the data.
//	        The data is "data" decoded as slipway_template::Value::from_json decodes
//	        JSON (objects are map[string]interface{}, arrays []interface{}, a number
//	        written without '.', 'e' or 'E' an int when it fits, any other a float64),
//	        or, when "values" is given instead, that YAML read as Helm reads a values
//	        file (sigs.k8s.io/yaml.Unmarshal into map[string]interface{}); neither
//	        means nil. FUNCS is one of
//	          "go"     Go's builtins only (the default)
//	          "sprig"  sprig.TxtFuncMap()
//	          "helm"   what Helm's engine gives a template: sprig's TxtFuncMap without
//	                   env and expandenv, plus toToml, mustToToml, fromToml, toYaml,
//	                   mustToYaml, toYamlPretty, fromYaml, fromYamlArray, toJson,
//	                   mustToJson, fromJson, fromJsonArray, mustToDuration and the
//	                   duration* helpers, and the functions Helm binds per render:
//	                   include and tpl over this template set (tpl parses its text in
//	                   a clone of the set, under NAME, with missingkey=error when MK is
//	                   "error" and missingkey=zero otherwise, and removes "<no value>"
//	                   from its result), required and fail (their errors are the
//	                   message between HELM_ERR_START and HELM_ERR_END, as Helm's
//	                   engine raises them), lookup (always an empty map, as without a
//	                   cluster) and getHostByName (always "", as without --enable-dns)
//	          "test"   the table go_tests uses (below)
//	        The answer is {"text": OUT} or {"error": MSG, "phase": "parse"|"exec"}. MSG is
//	        text/template's own error text: Helm's later rewording of errors for its
//	        users is not applied, nor is its removal of "<no value>" from the output.
//	{"printf": FORMAT, "args": [TYPED...]}  fmt.Sprintf(FORMAT, args...): {"text": OUT}
//	{"sprint": [TYPED...]}                  fmt.Sprint(args...): {"text": OUT}
//	{"sprintln": [TYPED...]}                fmt.Sprintln(args...): {"text": OUT}
//	        A "text" that is not valid UTF-8 comes with "invalid_utf8": true (JSON then
//	        carries U+FFFD for each bad byte).
//	{"strvals": LINE, "kind": KIND, "base": YAML}
//	        helm.sh/helm/v4/pkg/strvals on one --set style line, merged into the values
//	        BASE (read as "values" above; none means an empty map), as Helm applies
//	        --set (KIND "set": ParseInto), --set-string ("string": ParseIntoString),
//	        --set-json ("json": ParseJSON; the CLI's whole-object form that starts with
//	        '{' is not strvals and is not done here), --set-file ("file":
//	        ParseIntoFile, reading each value as a path on disk with os.ReadFile) and
//	        --set-literal ("literal": ParseLiteralInto). The answer is
//	        {"values": TYPED} or {"error": MSG}, strvals' own error (without the
//	        "failed parsing --set data: " Helm's CLI puts in front).
//	{"yaml_values": YAML}
//	        sigs.k8s.io/yaml.Unmarshal into map[string]interface{}, as Helm reads a
//	        values file: {"values": TYPED} or {"error": MSG}.
//	{"go_tests": true, "data": JSON}
//	        The template test tables of the Go toolchain this program runs on, read from
//	        $GOROOT/src/text/template at run time with go/parser: the execTests table of
//	        exec_test.go (table "exec"), the cmpTests table (table "cmp"; the input is
//	        "{{if EXPR}}true{{else}}false{{end}}", as TestComparison builds it) and the
//	        parseTests, errorTests and isEmptyTests tables of parse/parse_test.go (table
//	        "parse"). Only rows whose name and input are string literals or
//	        concatenations of them are taken. Each input is parsed by text/template as a
//	        template named after the row, with the "test" function table, and run on the
//	        JSON data (decoded as for "template"). The tables' expected results, which
//	        are for Go structs with methods, are ignored: what Go does on this data is
//	        the answer. {"tests": [{"table": T, "name": N, "input": TEXT, "output": OUT}
//	        or {"table": T, "name": N, "input": TEXT, "error": MSG, "phase": P}...]}
//	{"chart": FILES, "do": DO, "user": TYPED, "release": RELEASE}
//	        A chart as Helm's loader reads it (helm.sh/helm/v4/pkg/chart/v2/loader.Load)
//	        from a folder this program writes: FILES maps each path inside the chart
//	        ("Chart.yaml", "values.yaml", "charts/sub/Chart.yaml", ...) to its text. USER
//	        is the user's values (a TYPED map; none means an empty map). DO is one of
//	          "coalesce"  pkg/chart/common/util.CoalesceValues(chart, USER):
//	                      {"values": TYPED}
//	          "merge"     pkg/chart/common/util.MergeValues(chart, USER): {"values": TYPED}
//	          "process"   the dependency steps of `helm template`: the check of
//	                      pkg/action.CheckDependencies (a chart under charts/ for each
//	                      dependency of the root's Chart.yaml; redone here with its
//	                      message, without importing pkg/action), then
//	                      pkg/chart/v2/util.ProcessDependencies(chart, USER). The answer
//	                      is {"chart": TREE}, or {"error": MSG, "phase": "check"|"process"}
//	          "render"    "process", then pkg/chart/common/util.ToRenderValues...
//	                      (chart, USER, RELEASE, nil capabilities, schema validation
//	                      skipped): {"chart": TREE, "top": TYPED}, the map templates get,
//	                      without its "Capabilities"; or an error as for "process", or
//	                      with "phase": "render"
//	        TREE is {"name": NAME, "path": ChartFullPath, "values": TYPED (the chart's
//	        own values after processing; {"nil": true} when it has none), "metadata":
//	        TYPED (MetadataAsMap), "charts": [TREE...] (the subcharts in order)}. In TYPED
//	        answers here a map[string]string is written as a map and a []string as a
//	        list. RELEASE is {"name": S, "namespace": S, "revision": N, "is_install": B,
//	        "is_upgrade": B} (common.ReleaseOptions). A chart the loader refuses gives
//	        {"error": MSG, "phase": "load"}.
//	{"merge_user_values": {"files": [PATH...], "sets": [[KIND, LINE]...]}}
//	        pkg/cli/values.Options.MergeValues, as `helm template` gives it -f PATH (in
//	        order, read from disk) and each LINE under its flag: KIND "json"
//	        (--set-json), "set" (--set), "string" (--set-string), "file" (--set-file;
//	        its values are paths read from disk) or "literal" (--set-literal), lines of
//	        one kind in the order given. {"values": TYPED} or {"error": MSG}.
//
// The "test" function table, plain functions a caller can write in any language:
//
//	typeOf(x)          fmt.Sprintf("%T", x)
//	zeroArgs()         "zeroArgs"
//	oneArg(a)          "oneArg=" + fmt.Sprint(a)
//	twoArgs(a, b)      "twoArgs=" + fmt.Sprint(a) + fmt.Sprint(b)
//	dddArg(a, b...)    "dddArg=" + fmt.Sprint(a) + "|" + fmt.Sprint(b...)
//	echo(x)            x
//	returnInt()        7
//	add(n...)          the sum of ints; any other argument is the error
//	                   "add: want int, got %T"
//	makemap(k, v...)   map[string]interface{} from key/value pairs; an odd count is the
//	                   error "makemap: odd number of arguments", a key that is not a
//	                   string "makemap: key of type %T"
//	mapOfThree()       map[string]interface{}{"three": 3}
//	valueString(x)     "value is ignored"
//	die()              fails with the error "die"
//
// Every argument is an interface{}, so Go converts nothing on the way in.
//
// Output is deterministic: maps are written with sorted keys.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/Masterminds/sprig/v3"
	ci "helm.sh/helm/v4/pkg/chart"
	"helm.sh/helm/v4/pkg/chart/common"
	commonutil "helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/cli/values"
	"helm.sh/helm/v4/pkg/getter"
	"helm.sh/helm/v4/pkg/strvals"
	"sigs.k8s.io/yaml"
	goyaml "sigs.k8s.io/yaml/goyaml.v3"
)

type question struct {
	Template   *string         `json:"template"`
	Name       string          `json:"name"`
	Data       json.RawMessage `json:"data"`
	Values     *string         `json:"values"`
	Funcs      string          `json:"funcs"`
	MissingKey string          `json:"missingkey"`
	Delims     []string        `json:"delims"`

	Printf   *string            `json:"printf"`
	Args     []json.RawMessage  `json:"args"`
	Sprint   *[]json.RawMessage `json:"sprint"`
	Sprintln *[]json.RawMessage `json:"sprintln"`

	Strvals    *string `json:"strvals"`
	Kind       string  `json:"kind"`
	Base       *string `json:"base"`
	YamlValues *string `json:"yaml_values"`

	GoTests bool `json:"go_tests"`

	Chart     map[string]string `json:"chart"`
	Do        string            `json:"do"`
	User      json.RawMessage   `json:"user"`
	Release   *releaseQuestion  `json:"release"`
	MergeUser *mergeUserValues  `json:"merge_user_values"`
}

type answer map[string]any

func fail(err error) answer { return answer{"error": err.Error()} }

// ---------------------------------------------------------------------------------------
// Data: JSON with slipway's int/float rule, and the TYPED encoding.

// fromJSON reads a JSON document with numbers kept as written, then turns each number
// into an int (no '.', 'e' or 'E', and it fits) or a float64.
func fromJSON(raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 0); err == nil {
				return int(i)
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
		return x
	}
	return v
}

// readValues reads YAML as Helm reads a values file.
func readValues(text string) (map[string]any, error) {
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(text), &vals); err != nil {
		return nil, err
	}
	if vals == nil {
		vals = map[string]any{}
	}
	return vals, nil
}

func decodeTyped(raw json.RawMessage) (any, error) {
	var tagged map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&tagged); err != nil {
		return nil, fmt.Errorf("typed value %s: %w", raw, err)
	}
	if len(tagged) != 1 {
		return nil, fmt.Errorf("typed value %s: want exactly one tag", raw)
	}
	for tag, body := range tagged {
		switch tag {
		case "int", "int64":
			i, err := strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("typed %s %s: %w", tag, body, err)
			}
			if tag == "int" {
				return int(i), nil
			}
			return i, nil
		case "float":
			text := strings.TrimSpace(string(body))
			var s string
			if json.Unmarshal(body, &s) == nil {
				text = s
			}
			f, err := strconv.ParseFloat(text, 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("typed float %s: %w", body, err)
			}
			return f, nil
		case "string":
			var s string
			err := json.Unmarshal(body, &s)
			return s, err
		case "bool":
			var b bool
			err := json.Unmarshal(body, &b)
			return b, err
		case "nil":
			return nil, nil
		case "bytes":
			var s string
			if err := json.Unmarshal(body, &s); err != nil {
				return nil, err
			}
			return base64.StdEncoding.DecodeString(s)
		case "list":
			var items []json.RawMessage
			if err := json.Unmarshal(body, &items); err != nil {
				return nil, err
			}
			out := make([]any, len(items))
			for i, item := range items {
				v, err := decodeTyped(item)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return out, nil
		case "map":
			var entries map[string]json.RawMessage
			if err := json.Unmarshal(body, &entries); err != nil {
				return nil, err
			}
			out := make(map[string]any, len(entries))
			for k, item := range entries {
				v, err := decodeTyped(item)
				if err != nil {
					return nil, err
				}
				out[k] = v
			}
			return out, nil
		default:
			return nil, fmt.Errorf("typed value %s: unknown tag %q", raw, tag)
		}
	}
	panic("unreachable")
}

func decodeAll(raws []json.RawMessage) ([]any, error) {
	out := make([]any, len(raws))
	for i, raw := range raws {
		v, err := decodeTyped(raw)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// typed writes a Go value in the TYPED encoding.
func typed(v any) any {
	switch x := v.(type) {
	case nil:
		return map[string]any{"nil": true}
	case bool:
		return map[string]any{"bool": x}
	case int:
		return map[string]any{"int": x}
	case int64:
		return map[string]any{"int64": x}
	case float64:
		return map[string]any{"float": strconv.FormatFloat(x, 'g', -1, 64)}
	case string:
		return map[string]any{"string": x}
	case []byte:
		return map[string]any{"bytes": base64.StdEncoding.EncodeToString(x)}
	case []any:
		items := make([]any, len(x))
		for i, item := range x {
			items[i] = typed(item)
		}
		return map[string]any{"list": items}
	case map[string]any:
		entries := make(map[string]any, len(x))
		for k, item := range x {
			entries[k] = typed(item)
		}
		return map[string]any{"map": entries}
	}
	return map[string]any{"other": fmt.Sprintf("%T", v), "text": fmt.Sprintf("%v", v)}
}

func text(s string) answer {
	a := answer{"text": s}
	if !utf8.ValidString(s) {
		a["invalid_utf8"] = true
	}
	return a
}

// ---------------------------------------------------------------------------------------
// Function tables.

// testFuncs is the "test" table documented above.
func testFuncs() template.FuncMap {
	return template.FuncMap{
		"typeOf":   func(x any) string { return fmt.Sprintf("%T", x) },
		"zeroArgs": func() string { return "zeroArgs" },
		"oneArg":   func(a any) string { return "oneArg=" + fmt.Sprint(a) },
		"twoArgs":  func(a, b any) string { return "twoArgs=" + fmt.Sprint(a) + fmt.Sprint(b) },
		"dddArg": func(a any, b ...any) string {
			return "dddArg=" + fmt.Sprint(a) + "|" + fmt.Sprint(b...)
		},
		"echo":      func(x any) any { return x },
		"returnInt": func() int { return 7 },
		"add": func(ns ...any) (int, error) {
			sum := 0
			for _, n := range ns {
				i, ok := n.(int)
				if !ok {
					return 0, fmt.Errorf("add: want int, got %T", n)
				}
				sum += i
			}
			return sum, nil
		},
		"makemap": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, errors.New("makemap: odd number of arguments")
			}
			m := map[string]any{}
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("makemap: key of type %T", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"mapOfThree":  func() any { return map[string]any{"three": 3} },
		"valueString": func(any) string { return "value is ignored" },
		"die":         func() (string, error) { return "", errors.New("die") },
	}
}

// Helm's engine wraps the messages of required and fail in these markers.
const helmErrStart, helmErrEnd = "HELM_ERR_START", "HELM_ERR_END"

// The depth at which Helm's include gives up on a template that includes itself.
const helmMaxInclude = 1000

// helmRender holds what Helm binds per render: the set include and tpl run in, and the
// count of nested includes of each name.
type helmRender struct {
	strict bool
	depth  map[string]int
}

func (h *helmRender) include(set *template.Template) func(string, any) (string, error) {
	return func(name string, data any) (string, error) {
		if h.depth[name] > helmMaxInclude {
			return "", fmt.Errorf("rendering template has a nested reference name: %s: %w",
				name, errors.New("unable to execute template"))
		}
		h.depth[name]++
		defer func() { h.depth[name]-- }()
		var out strings.Builder
		err := set.ExecuteTemplate(&out, name, data)
		return out.String(), err
	}
}

func (h *helmRender) tpl(set *template.Template) func(string, any) (string, error) {
	return func(src string, data any) (string, error) {
		clone, err := set.Clone()
		if err != nil {
			return "", fmt.Errorf("cannot clone template: %w", err)
		}
		if h.strict {
			clone.Option("missingkey=error")
		} else {
			clone.Option("missingkey=zero")
		}
		clone.Funcs(template.FuncMap{"include": h.include(clone), "tpl": h.tpl(clone)})
		run, err := clone.New(set.Name()).Parse(src)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", src, err)
		}
		var out strings.Builder
		if err := run.Execute(&out, data); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", src, err)
		}
		return strings.ReplaceAll(out.String(), "<no value>", ""), nil
	}
}

// encoder marshals a value for one of Helm's to* helpers.
type encoder func(any) ([]byte, error)

func yamlText(v any) ([]byte, error) { return yaml.Marshal(v) }

func yamlPrettyText(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := goyaml.NewEncoder(&b)
	enc.SetIndent(2)
	err := enc.Encode(v)
	return b.Bytes(), err
}

func tomlText(v any) ([]byte, error) {
	var b bytes.Buffer
	err := toml.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

func jsonText(v any) ([]byte, error) { return json.Marshal(v) }

// marshalFunc makes a to* helper: the marshalled text, without its last newline when
// trimNewline (the YAML ones); on failure "" (onErr "empty"), the error's text
// ("message") or a panic ("panic", the must* ones).
func marshalFunc(enc encoder, trimNewline bool, onErr string) func(any) string {
	return func(v any) string {
		out, err := enc(v)
		if err != nil {
			switch onErr {
			case "panic":
				panic(err)
			case "message":
				return err.Error()
			}
			return ""
		}
		s := string(out)
		if trimNewline {
			s = strings.TrimSuffix(s, "\n")
		}
		return s
	}
}

// Helm's from* helpers never fail: a map gets the error under "Error", a list becomes
// the one error message.
func fromMap(unmarshal func([]byte, any) error) func(string) map[string]any {
	return func(s string) map[string]any {
		m := map[string]any{}
		if err := unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
}

func fromList(unmarshal func([]byte, any) error) func(string) []any {
	return func(s string) []any {
		l := []any{}
		if err := unmarshal([]byte(s), &l); err != nil {
			return []any{err.Error()}
		}
		return l
	}
}

func yamlUnmarshal(b []byte, v any) error { return yaml.Unmarshal(b, v) }

// toDuration reads a value as Helm's duration helpers do: a time.Duration, a string
// time.ParseDuration reads (else a number of seconds), or a number of seconds.
func toDuration(v any) (time.Duration, error) {
	const second = float64(time.Second)
	fromSeconds := func(f float64) (time.Duration, error) {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("invalid duration seconds: %v", f)
		}
		if f > float64(math.MaxInt64)/second || f < float64(math.MinInt64)/second {
			return 0, fmt.Errorf("duration seconds overflow: %v", f)
		}
		n := f * second
		if n > float64(math.MaxInt64) || n < float64(math.MinInt64) {
			return 0, fmt.Errorf("duration nanoseconds overflow: %v", n)
		}
		return time.Duration(n), nil
	}
	maxSeconds := int64(math.MaxInt64 / int64(time.Second))
	minSeconds := int64(math.MinInt64 / int64(time.Second))
	switch x := v.(type) {
	case nil:
		return 0, errors.New("invalid duration")
	case time.Duration:
		return x, nil
	case string:
		trimmed := strings.TrimSpace(x)
		if trimmed == "" {
			return 0, errors.New("empty duration")
		}
		if d, err := time.ParseDuration(trimmed); err == nil {
			return d, nil
		}
		if f, err := strconv.ParseFloat(trimmed, 64); err == nil {
			return fromSeconds(f)
		}
		return 0, fmt.Errorf("could not parse duration %q", x)
	}
	r := reflect.ValueOf(v)
	switch {
	case r.CanInt():
		n := r.Int()
		if n > maxSeconds || n < minSeconds {
			return 0, fmt.Errorf("duration seconds overflow: %d", n)
		}
		return time.Duration(n) * time.Second, nil
	case r.CanUint():
		n := r.Uint()
		if n > uint64(maxSeconds) {
			return 0, fmt.Errorf("duration seconds overflow: %d", n)
		}
		return time.Duration(int64(n)) * time.Second, nil
	case r.CanFloat():
		return fromSeconds(r.Float())
	}
	return 0, fmt.Errorf("unsupported duration type %T", v)
}

func durationAs[T any](conv func(time.Duration) T) func(any) T {
	return func(v any) T {
		d, err := toDuration(v)
		if err != nil {
			var zero T
			return zero
		}
		return conv(d)
	}
}

func durationTo(op func(d, m time.Duration) time.Duration) func(v, m any) time.Duration {
	return func(v, m any) time.Duration {
		d, err := toDuration(v)
		if err != nil {
			return 0
		}
		unit, err := toDuration(m)
		if err != nil {
			return d
		}
		return op(d, unit)
	}
}

func helmFuncs(set *template.Template, strict bool) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	h := &helmRender{strict: strict, depth: map[string]int{}}
	extra := template.FuncMap{
		"toToml":        marshalFunc(tomlText, false, "message"),
		"mustToToml":    marshalFunc(tomlText, false, "panic"),
		"fromToml":      fromMap(toml.Unmarshal),
		"toYaml":        marshalFunc(yamlText, true, "empty"),
		"mustToYaml":    marshalFunc(yamlText, true, "panic"),
		"toYamlPretty":  marshalFunc(yamlPrettyText, true, "empty"),
		"fromYaml":      fromMap(yamlUnmarshal),
		"fromYamlArray": fromList(yamlUnmarshal),
		"toJson":        marshalFunc(jsonText, false, "empty"),
		"mustToJson":    marshalFunc(jsonText, false, "panic"),
		"fromJson":      fromMap(json.Unmarshal),
		"fromJsonArray": fromList(json.Unmarshal),

		"mustToDuration": func(v any) time.Duration {
			d, err := toDuration(v)
			if err != nil {
				panic(err)
			}
			return d
		},
		"durationSeconds":      durationAs(time.Duration.Seconds),
		"durationMilliseconds": durationAs(time.Duration.Milliseconds),
		"durationMicroseconds": durationAs(time.Duration.Microseconds),
		"durationNanoseconds":  durationAs(time.Duration.Nanoseconds),
		"durationMinutes":      durationAs(time.Duration.Minutes),
		"durationHours":        durationAs(time.Duration.Hours),
		"durationDays":         durationAs(func(d time.Duration) float64 { return d.Hours() / 24.0 }),
		"durationWeeks":        durationAs(func(d time.Duration) float64 { return d.Hours() / 24.0 / 7.0 }),
		"durationRoundTo":      durationTo(time.Duration.Round),
		"durationTruncateTo":   durationTo(time.Duration.Truncate),

		"include": h.include(set),
		"tpl":     h.tpl(set),
		"required": func(msg string, val any) (any, error) {
			if s, isString := val.(string); val == nil || isString && s == "" {
				return val, errors.New(helmErrStart + msg + helmErrEnd)
			}
			return val, nil
		},
		"fail": func(msg string) (string, error) {
			return "", errors.New(helmErrStart + msg + helmErrEnd)
		},
		"lookup": func(string, string, string, string) (map[string]any, error) {
			return map[string]any{}, nil
		},
		"getHostByName": func(string) string { return "" },
	}
	for name, fn := range extra {
		f[name] = fn
	}
	return f
}

// ---------------------------------------------------------------------------------------
// Questions.

func runTemplate(q question) (a answer) {
	name := q.Name
	if name == "" {
		name = "t"
	}
	var data any
	if q.Values != nil {
		vals, err := readValues(*q.Values)
		if err != nil {
			return answer{"error": "values: " + err.Error(), "phase": "data"}
		}
		data = vals
	} else {
		v, err := fromJSON(q.Data)
		if err != nil {
			return answer{"error": err.Error(), "phase": "data"}
		}
		data = v
	}
	t := template.New(name)
	if len(q.Delims) == 2 {
		t.Delims(q.Delims[0], q.Delims[1])
	}
	if q.MissingKey != "" {
		t.Option("missingkey=" + q.MissingKey)
	}
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("panic: %v", r)
			if q.Funcs == "helm" {
				msg = fmt.Sprintf("rendering template failed: %v", r)
			}
			a = answer{"error": msg, "phase": "exec"}
		}
	}()
	switch q.Funcs {
	case "", "go":
	case "sprig":
		t.Funcs(sprig.TxtFuncMap())
	case "helm":
		t.Funcs(helmFuncs(t, q.MissingKey == "error"))
	case "test":
		t.Funcs(testFuncs())
	default:
		return answer{"error": fmt.Sprintf("unknown funcs %q (go, sprig, helm, test)", q.Funcs), "phase": "data"}
	}
	return render(t, *q.Template, data)
}

func render(t *template.Template, src string, data any) answer {
	if _, err := t.Parse(src); err != nil {
		return answer{"error": err.Error(), "phase": "parse"}
	}
	var out strings.Builder
	if err := t.Execute(&out, data); err != nil {
		return answer{"error": err.Error(), "phase": "exec"}
	}
	return text(out.String())
}

func runStrvals(q question) answer {
	base := map[string]any{}
	if q.Base != nil {
		vals, err := readValues(*q.Base)
		if err != nil {
			return fail(fmt.Errorf("base: %w", err))
		}
		base = vals
	}
	line := *q.Strvals
	var err error
	switch q.Kind {
	case "set", "":
		err = strvals.ParseInto(line, base)
	case "string":
		err = strvals.ParseIntoString(line, base)
	case "json":
		err = strvals.ParseJSON(line, base)
	case "file":
		err = strvals.ParseIntoFile(line, base, func(path []rune) (any, error) {
			b, err := os.ReadFile(string(path))
			if err != nil {
				return nil, err
			}
			return string(b), nil
		})
	case "literal":
		err = strvals.ParseLiteralInto(line, base)
	default:
		return answer{"error": fmt.Sprintf("unknown kind %q (set, string, json, file, literal)", q.Kind)}
	}
	if err != nil {
		return fail(err)
	}
	return answer{"values": typed(base)}
}

// goTests reads the toolchain's text/template test tables and runs every row.
func goTests(q question) answer {
	data, err := fromJSON(q.Data)
	if err != nil {
		return fail(err)
	}
	root, err := toolchainRoot()
	if err != nil {
		return fail(err)
	}
	dir := filepath.Join(root, "src", "text", "template")
	type source struct {
		table, file, variable string
		wrap                  func(string) string
	}
	sources := []source{
		{"exec", "exec_test.go", "execTests", nil},
		{"cmp", "exec_test.go", "cmpTests", func(expr string) string {
			return "{{if " + expr + "}}true{{else}}false{{end}}"
		}},
		{"parse", "parse/parse_test.go", "parseTests", nil},
		{"parse", "parse/parse_test.go", "errorTests", nil},
		{"parse", "parse/parse_test.go", "isEmptyTests", nil},
	}
	rows := []any{}
	files := map[string]*ast.File{}
	for _, s := range sources {
		f, ok := files[s.file]
		if !ok {
			f, err = parser.ParseFile(token.NewFileSet(), filepath.Join(dir, s.file), nil, 0)
			if err != nil {
				return fail(err)
			}
			files[s.file] = f
		}
		lit := tableLiteral(f, s.variable)
		if lit == nil {
			return fail(fmt.Errorf("%s: no table %s", s.file, s.variable))
		}
		for _, elt := range lit.Elts {
			row, ok := elt.(*ast.CompositeLit)
			if !ok || len(row.Elts) < 2 {
				continue
			}
			name, ok1 := stringConst(row.Elts[0])
			input, ok2 := stringConst(row.Elts[1])
			if s.wrap != nil {
				input, ok2 = s.wrap(name), ok1
			}
			if !ok1 || !ok2 {
				continue
			}
			t := template.New(name).Funcs(testFuncs())
			a := safeRender(t, input, data)
			a["table"], a["name"], a["input"] = s.table, name, input
			if out, ok := a["text"]; ok {
				delete(a, "text")
				a["output"] = out
			}
			rows = append(rows, a)
		}
	}
	return answer{"tests": rows}
}

func safeRender(t *template.Template, src string, data any) (a answer) {
	defer func() {
		if r := recover(); r != nil {
			a = answer{"error": fmt.Sprintf("panic: %v", r), "phase": "exec"}
		}
	}()
	return render(t, src, data)
}

// goroot is the GOROOT of the toolchain that built this program, set by the build
// (-ldflags "-X main.goroot=..."), so the tables read are those of the text/template
// linked in.
var goroot string

// toolchainRoot returns goroot after checking that its sources are this program's Go
// release.
func toolchainRoot() (string, error) {
	if goroot == "" {
		return "", errors.New("tmpl-oracle: built without -X main.goroot; build it with scripts/go-tools")
	}
	version, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("tmpl-oracle: the Go sources it was built from are gone: %w", err)
	}
	first, _, _ := strings.Cut(string(version), "\n")
	if strings.TrimSpace(first) != runtime.Version() {
		return "", fmt.Errorf("tmpl-oracle: %s holds %s but this program runs %s; rebuild it",
			goroot, strings.TrimSpace(first), runtime.Version())
	}
	return goroot, nil
}

// tableLiteral finds `var NAME = []T{...}` at the top level of a file.
func tableLiteral(f *ast.File, name string) *ast.CompositeLit {
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.VAR {
			continue
		}
		for _, spec := range gen.Specs {
			vs, ok := spec.(*ast.ValueSpec)
			if !ok {
				continue
			}
			for i, n := range vs.Names {
				if n.Name == name && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.CompositeLit); ok {
						return lit
					}
				}
			}
		}
	}
	return nil
}

// stringConst evaluates a string literal, or a + of string literals.
func stringConst(e ast.Expr) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(x.Value)
		return s, err == nil
	case *ast.ParenExpr:
		return stringConst(x.X)
	case *ast.BinaryExpr:
		if x.Op != token.ADD {
			return "", false
		}
		l, ok1 := stringConst(x.X)
		r, ok2 := stringConst(x.Y)
		return l + r, ok1 && ok2
	}
	return "", false
}

func answerOne(q question) (a answer) {
	defer func() {
		if r := recover(); r != nil {
			a = answer{"error": fmt.Sprintf("tmpl-oracle: panic: %v", r)}
		}
	}()
	switch {
	case q.Template != nil:
		return runTemplate(q)
	case q.Printf != nil:
		args, err := decodeAll(q.Args)
		if err != nil {
			return fail(err)
		}
		return text(fmt.Sprintf(*q.Printf, args...))
	case q.Sprint != nil:
		args, err := decodeAll(*q.Sprint)
		if err != nil {
			return fail(err)
		}
		return text(fmt.Sprint(args...))
	case q.Sprintln != nil:
		args, err := decodeAll(*q.Sprintln)
		if err != nil {
			return fail(err)
		}
		return text(fmt.Sprintln(args...))
	case q.Strvals != nil:
		return runStrvals(q)
	case q.YamlValues != nil:
		vals, err := readValues(*q.YamlValues)
		if err != nil {
			return fail(err)
		}
		return answer{"values": typed(vals)}
	case q.GoTests:
		return goTests(q)
	case q.Chart != nil:
		return runChart(q)
	case q.MergeUser != nil:
		return runMergeUserValues(*q.MergeUser)
	}
	return answer{"error": "tmpl-oracle: a question needs template, printf, sprint, sprintln, strvals, yaml_values or go_tests"}
}

func main() {
	var qs []question
	if err := json.NewDecoder(os.Stdin).Decode(&qs); err != nil {
		os.Stderr.WriteString("tmpl-oracle: " + err.Error() + "\n")
		os.Exit(2)
	}
	as := make([]answer, 0, len(qs))
	for _, q := range qs {
		as = append(as, answerOne(q))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(as); err != nil {
		os.Exit(1)
	}
}

// ---------------------------------------------------------------------------------------
// Charts: values, dependencies and the values templates get.

type releaseQuestion struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Revision  int    `json:"revision"`
	IsInstall bool   `json:"is_install"`
	IsUpgrade bool   `json:"is_upgrade"`
}

type mergeUserValues struct {
	Files []string    `json:"files"`
	Sets  [][2]string `json:"sets"`
}

// plain turns the typed maps and slices of Helm's structs into the interface{} forms the
// TYPED encoding knows.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case common.Values:
		return plain(map[string]any(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[k] = plain(item)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = plain(item)
		}
		return out
	}
	return v
}

// userValues reads the "user" of a question: a TYPED map, or none.
func userValues(raw json.RawMessage) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	v, err := decodeTyped(raw)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("user values: want a map, got %T", v)
	}
	return m, nil
}

// loadChart writes FILES into a fresh folder and loads it as Helm's loader does.
func loadChart(files map[string]string) (*chartv2.Chart, func(), error) {
	dir, err := os.MkdirTemp("", "tmpl-oracle-chart-")
	if err != nil {
		return nil, func() {}, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	root := filepath.Join(dir, "chart")
	for name, body := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, cleanup, err
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return nil, cleanup, err
		}
	}
	c, err := loader.Load(root)
	return c, cleanup, err
}

func chartTree(c *chartv2.Chart) any {
	acc, err := ci.NewAccessor(c)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	subs := []any{}
	for _, d := range c.Dependencies() {
		subs = append(subs, chartTree(d))
	}
	var vals any
	if c.Values != nil {
		vals = plain(c.Values)
	}
	return map[string]any{
		"name":     c.Name(),
		"path":     c.ChartFullPath(),
		"values":   typed(vals),
		"metadata": typed(plain(acc.MetadataAsMap())),
		"charts":   subs,
	}
}

// checkDependencies is pkg/action.CheckDependencies with the words `helm template` puts
// around its error.
func checkDependencies(c *chartv2.Chart) error {
	var missing []string
outer:
	for _, r := range c.Metadata.Dependencies {
		for _, d := range c.Dependencies() {
			if d.Name() == r.Name {
				continue outer
			}
		}
		missing = append(missing, r.Name)
	}
	if len(missing) > 0 {
		return fmt.Errorf("an error occurred while checking for chart dependencies. You may need to run 'helm dependency build' to fetch missing dependencies: %w",
			fmt.Errorf("found in Chart.yaml, but missing in charts/ directory: %s", strings.Join(missing, ", ")))
	}
	return nil
}

func runChart(q question) answer {
	user, err := userValues(q.User)
	if err != nil {
		return fail(err)
	}
	c, cleanup, err := loadChart(q.Chart)
	defer cleanup()
	if err != nil {
		return answer{"error": err.Error(), "phase": "load"}
	}
	switch q.Do {
	case "coalesce", "merge":
		var vals common.Values
		if q.Do == "coalesce" {
			vals, err = commonutil.CoalesceValues(c, user)
		} else {
			vals, err = commonutil.MergeValues(c, user)
		}
		if err != nil {
			return fail(err)
		}
		return answer{"values": typed(plain(vals))}
	case "process", "render":
	default:
		return fail(fmt.Errorf("unknown do %q (coalesce, merge, process, render)", q.Do))
	}
	if len(c.Metadata.Dependencies) > 0 {
		if err := checkDependencies(c); err != nil {
			return answer{"error": err.Error(), "phase": "check"}
		}
	}
	if err := chartutil.ProcessDependencies(c, user); err != nil {
		return answer{"error": err.Error(), "phase": "process"}
	}
	a := answer{"chart": chartTree(c)}
	if q.Do == "render" {
		var opts common.ReleaseOptions
		if q.Release != nil {
			opts = common.ReleaseOptions{
				Name: q.Release.Name, Namespace: q.Release.Namespace, Revision: q.Release.Revision,
				IsInstall: q.Release.IsInstall, IsUpgrade: q.Release.IsUpgrade,
			}
		}
		top, err := commonutil.ToRenderValuesWithSchemaValidation(c, user, opts, nil, true)
		if err != nil {
			return answer{"error": err.Error(), "phase": "render"}
		}
		delete(top, "Capabilities")
		a["top"] = typed(plain(top))
	}
	return a
}

func runMergeUserValues(q mergeUserValues) answer {
	var opts values.Options
	opts.ValueFiles = q.Files
	for _, s := range q.Sets {
		switch s[0] {
		case "json":
			opts.JSONValues = append(opts.JSONValues, s[1])
		case "set":
			opts.Values = append(opts.Values, s[1])
		case "string":
			opts.StringValues = append(opts.StringValues, s[1])
		case "file":
			opts.FileValues = append(opts.FileValues, s[1])
		case "literal":
			opts.LiteralValues = append(opts.LiteralValues, s[1])
		default:
			return fail(fmt.Errorf("unknown kind %q (json, set, string, file, literal)", s[0]))
		}
	}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return fail(err)
	}
	return answer{"values": typed(plain(vals))}
}
