// Command oracle answers pattern questions with the Go code Docker and BuildKit run, so
// slipway's tests compare against that code instead of our own expectations.
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
package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

type question struct {
	Ignore   *string  `json:"ignore,omitempty"`
	Paths    []string `json:"paths,omitempty"`
	Match    *string  `json:"match,omitempty"`
	Names    []string `json:"names,omitempty"`
	Duration *string  `json:"duration,omitempty"`
}

type answer struct {
	Excluded []bool `json:"excluded,omitempty"`
	Matched  []bool `json:"matched,omitempty"`
	Nanos    *int64 `json:"nanos,omitempty"`
	Error    string `json:"error,omitempty"`
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
		case q.Duration != nil:
			d, err := time.ParseDuration(*q.Duration)
			if err != nil {
				as = append(as, answer{Error: err.Error()})
			} else {
				n := int64(d)
				as = append(as, answer{Nanos: &n})
			}
		default:
			as = append(as, answer{Error: "oracle: a question needs ignore, match or duration"})
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(as); err != nil {
		os.Exit(1)
	}
}
