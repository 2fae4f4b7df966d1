// Command oracle answers pattern, duration, Dockerfile and version-range questions with
// the Go code Docker, BuildKit and skopeo run, so slipway's tests compare against that code
// instead of our own expectations.
//
// It reads one JSON array of questions on stdin and writes one JSON array of answers:
//
//	{"ignore": TEXT, "paths": [...]}  TEXT is read as a .dockerignore file is
//	                                  (ignorefile.ReadAll), then patternmatcher.New and
//	                                  MatchesOrParentMatches for each path: the answer is
//	                                  {"excluded": [...]} or {"error": "..."}
//	{"match": PATTERN, "names": [...]} filepath.Match for each name, as COPY wildcards
//	                                  are resolved: {"matched": [...]} or {"error": "..."}
//	{"duration": TEXT}                time.ParseDuration: {"nanos": N} or {"error": "..."}
//	{"dockerfile": TEXT}              BuildKit's parser.Parse then instructions.Parse, as a
//	                                  build reads the file: {"stages": [{"line": N,
//	                                  "commands": [{"name": "copy", "line": N}...]}...]}
//	                                  or {"error": "...", "line": N}
//	{"semver": RANGE, "tags": [...]}  Masterminds/semver/v3, as skopeo sync's
//	                                  images-by-semver uses it: semver.NewConstraint(RANGE),
//	                                  then for each tag semver.NewVersion and Check (a tag
//	                                  that is not a version is false): {"matched": [...]},
//	                                  or {"error": "..."} when NewConstraint fails
//	{"deploy_template": TEXT, "project": P, "env": E, "namespace": N}
//	                                  text/template with werf's deploy-template delimiters
//	                                  [[ ]] and the functions project and env (and namespace,
//	                                  when given, as for a release name):
//	                                  {"text": "..."} or {"error": "..."}
//	{"murmur3": TEXT}                 spaolacci/murmur3 New32, Sum32 printed with %x: the
//	                                  hash werf appends to a slug: {"hash": "..."}
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/spaolacci/murmur3"
)

type question struct {
	Ignore     *string  `json:"ignore,omitempty"`
	Paths      []string `json:"paths,omitempty"`
	Match      *string  `json:"match,omitempty"`
	Names      []string `json:"names,omitempty"`
	Duration   *string  `json:"duration,omitempty"`
	Dockerfile *string  `json:"dockerfile,omitempty"`
	Semver     *string  `json:"semver,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	// A werf deploy template and the names it may use.
	DeployTemplate *string `json:"deploy_template,omitempty"`
	Project        string  `json:"project,omitempty"`
	Env            string  `json:"env,omitempty"`
	Namespace      *string `json:"namespace,omitempty"`
	Murmur3        *string `json:"murmur3,omitempty"`
}

type command struct {
	Name string `json:"name"`
	Line int    `json:"line"`
}

type stage struct {
	Line     int       `json:"line"`
	Commands []command `json:"commands"`
}

type answer struct {
	Excluded []bool  `json:"excluded,omitempty"`
	Matched  []bool  `json:"matched,omitempty"`
	Nanos    *int64  `json:"nanos,omitempty"`
	Stages   []stage `json:"stages,omitempty"`
	Line     int     `json:"line,omitempty"`
	Text     *string `json:"text,omitempty"`
	Hash     string  `json:"hash,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// deployTemplate renders TEXT as werf renders deploy.helmRelease and deploy.namespace:
// text/template, [[ ]] delimiters, and one function per name.
func deployTemplate(text, project, env string, namespace *string) answer {
	funcs := template.FuncMap{
		"project": func() string { return project },
		"env":     func() (string, error) { return env, nil },
	}
	if namespace != nil {
		ns := *namespace
		funcs["namespace"] = func() string { return ns }
	}
	t, err := template.New("t").Delims("[[", "]]").Funcs(funcs).Parse(text)
	if err != nil {
		return answer{Error: err.Error()}
	}
	var out bytes.Buffer
	if err := t.ExecuteTemplate(&out, "t", nil); err != nil {
		return answer{Error: err.Error()}
	}
	s := out.String()
	return answer{Text: &s}
}

func line(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}

func failed(err error) answer {
	a := answer{Error: err.Error()}
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 {
		a.Line = line(le.Locations[0])
	}
	return a
}

func dockerfile(text string) answer {
	res, err := parser.Parse(strings.NewReader(text))
	if err != nil {
		return failed(err)
	}
	stages, _, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		return failed(err)
	}
	out := answer{Stages: []stage{}}
	for _, st := range stages {
		s := stage{Line: line(st.Location), Commands: []command{}}
		for _, c := range st.Commands {
			s.Commands = append(s.Commands, command{Name: c.Name(), Line: line(c.Location())})
		}
		out.Stages = append(out.Stages, s)
	}
	return out
}

func ignore(text string, paths []string) answer {
	patterns, err := ignorefile.ReadAll(strings.NewReader(text))
	if err != nil {
		return answer{Error: err.Error()}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return answer{Error: err.Error()}
	}
	out := make([]bool, 0, len(paths))
	for _, p := range paths {
		m, err := pm.MatchesOrParentMatches(p)
		if err != nil {
			return answer{Error: err.Error()}
		}
		out = append(out, m)
	}
	return answer{Excluded: out}
}

func match(pattern string, names []string) answer {
	out := make([]bool, 0, len(names))
	for _, n := range names {
		m, err := filepath.Match(pattern, n)
		if err != nil {
			return answer{Error: err.Error()}
		}
		out = append(out, m)
	}
	return answer{Matched: out}
}

func semverMatch(constraint string, tags []string) answer {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return answer{Error: err.Error()}
	}
	out := make([]bool, 0, len(tags))
	for _, t := range tags {
		v, err := semver.NewVersion(t)
		out = append(out, err == nil && c.Check(v))
	}
	return answer{Matched: out}
}

func main() {
	var qs []question
	if err := json.NewDecoder(os.Stdin).Decode(&qs); err != nil {
		os.Stderr.WriteString("oracle: " + err.Error() + "\n")
		os.Exit(2)
	}
	as := make([]answer, 0, len(qs))
	for _, q := range qs {
		switch {
		case q.Ignore != nil:
			as = append(as, ignore(*q.Ignore, q.Paths))
		case q.Match != nil:
			as = append(as, match(*q.Match, q.Names))
		case q.DeployTemplate != nil:
			as = append(as, deployTemplate(*q.DeployTemplate, q.Project, q.Env, q.Namespace))
		case q.Murmur3 != nil:
			h := murmur3.New32()
			h.Write([]byte(*q.Murmur3))
			as = append(as, answer{Hash: fmt.Sprintf("%x", h.Sum32())})
		case q.Semver != nil:
			as = append(as, semverMatch(*q.Semver, q.Tags))
		case q.Dockerfile != nil:
			as = append(as, dockerfile(*q.Dockerfile))
		case q.Duration != nil:
			d, err := time.ParseDuration(*q.Duration)
			if err != nil {
				as = append(as, answer{Error: err.Error()})
			} else {
				n := int64(d)
				as = append(as, answer{Nanos: &n})
			}
		default:
			as = append(as, answer{Error: "oracle: a question needs ignore, match, duration, dockerfile, semver, deploy_template or murmur3"})
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(as); err != nil {
		os.Exit(1)
	}
}
