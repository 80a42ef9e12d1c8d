package githubtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// specFile is the OpenAPI subset, relative to the module root.
const specFile = "testdata/github/api.github.com.subset.json"

// The parsed description is large and read-only once built, so it is the one
// piece of package-level state: loaded once per test binary.
var (
	specOnce   sync.Once
	specCached *spec
	specErr    error
)

// spec is the parsed OpenAPI subset with a router over its operations.
type spec struct {
	doc    *openapi3.T
	routes []*route
}

// route is one operation of the description.
type route struct {
	method   string
	path     string   // the description's path template
	segments []string // path template split on "/"
	literals int      // number of literal segments, for match priority
	op       *openapi3.Operation
	item     *openapi3.PathItem
	doc      *openapi3.T
}

// greedyParams are path parameters whose values contain slashes on GitHub
// (file paths, and refs such as heads/main), so they may span segments.
var greedyParams = map[string]bool{"path": true, "ref": true}

// loadSpec returns the process-wide parsed description.
func loadSpec() (*spec, error) {
	specOnce.Do(func() {
		specCached, specErr = parseSpec()
	})
	return specCached, specErr
}

func parseSpec() (*spec, error) {
	file, err := findSpecFile()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read OpenAPI subset: %w", err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("parse OpenAPI subset %s: %w", file, err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("validate OpenAPI subset %s: %w", file, err)
	}
	s := &spec{doc: doc}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			r := &route{method: method, path: path, op: op, item: item, doc: doc}
			r.segments = strings.Split(strings.TrimPrefix(path, "/"), "/")
			for _, seg := range r.segments {
				if !strings.HasPrefix(seg, "{") {
					r.literals++
				}
			}
			s.routes = append(s.routes, r)
		}
	}
	// More literal segments first, so /pulls/comments/{id} beats /pulls/{n}/...
	sort.Slice(s.routes, func(i, j int) bool {
		a, b := s.routes[i], s.routes[j]
		if a.literals != b.literals {
			return a.literals > b.literals
		}
		return a.path+" "+a.method < b.path+" "+b.method
	})
	return s, nil
}

// findSpecFile looks for the subset from the working directory up to the
// module root, then next to this source file (for tests run elsewhere).
func findSpecFile() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			candidate := filepath.Join(d, specFile)
			if _, err := os.Stat(candidate); err == nil {
				return candidate, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", fmt.Errorf("find %s above %v: not found", specFile, starts)
}

// errNoRoute and errWrongMethod say why a request matched no operation.
var (
	errNoRoute     = errors.New("no such route in GitHub's REST API description")
	errWrongMethod = errors.New("method not allowed on this route in GitHub's REST API description")
)

// find returns the operation for method and escaped path, with its path
// parameters unescaped.
func (s *spec) find(method, escapedPath string) (*route, map[string]string, error) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	pathMatched := false
	for _, r := range s.routes {
		params, ok := r.match(segs)
		if !ok {
			continue
		}
		if r.method != method {
			pathMatched = true
			continue
		}
		return r, params, nil
	}
	if pathMatched {
		return nil, nil, errWrongMethod
	}
	return nil, nil, errNoRoute
}

// match matches escaped path segments against the route template.
func (r *route) match(segs []string) (map[string]string, bool) {
	params := map[string]string{}
	if !matchSegments(r.segments, segs, params) {
		return nil, false
	}
	return params, true
}

func matchSegments(tmpl, segs []string, params map[string]string) bool {
	if len(tmpl) == 0 {
		return len(segs) == 0
	}
	if len(segs) == 0 {
		return false
	}
	t := tmpl[0]
	if !strings.HasPrefix(t, "{") {
		if t != segs[0] {
			return false
		}
		return matchSegments(tmpl[1:], segs[1:], params)
	}
	name := strings.Trim(t, "{}")
	maxTake := 1
	if greedyParams[name] {
		maxTake = len(segs) - (len(tmpl) - 1)
	}
	for take := 1; take <= maxTake; take++ {
		raw := strings.Join(segs[:take], "/")
		val, err := url.PathUnescape(raw)
		if err != nil || val == "" {
			return false
		}
		if matchSegments(tmpl[1:], segs[take:], params) {
			params[name] = val
			return true
		}
	}
	return false
}

// kinRoute is the route in the form openapi3filter wants.
func (r *route) kinRoute() *routers.Route {
	return &routers.Route{Spec: r.doc, Path: r.path, PathItem: r.item, Method: r.method, Operation: r.op}
}

// operationID is the description's id for the operation, e.g. "checks/create".
func (r *route) operationID() string { return r.op.OperationID }

// responseSchema returns the JSON schema of the operation's response with
// the given status, or nil.
func (r *route) responseSchema(status int) *openapi3.Schema {
	resp := r.op.Responses.Status(status)
	if resp == nil || resp.Value == nil {
		return nil
	}
	mt := resp.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	return mt.Schema.Value
}
