package checks

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// Request asks a Runner to scan one target with some checks.
type Request struct {
	Target Target   `json:"target"`
	Checks []string `json:"checks"` // names; empty means all the runner has
}

// Response is what a Runner found: one Result per check that completed and
// one error message per check that did not.
type Response struct {
	Results []*Result         `json:"results"`
	Errors  map[string]string `json:"errors,omitempty"`
}

// Result returns the result of the named check, or nil.
func (r *Response) Result(check string) *Result {
	for _, res := range r.Results {
		if res.Check == check {
			return res
		}
	}
	return nil
}

// Runner runs checks on a target: in-process (Local) or in a sandboxed child.
type Runner interface {
	Run(ctx context.Context, req Request) (*Response, error)
}

// Local runs checks in the calling process, concurrently. The sandbox's
// child uses it; gatehouse scan uses it directly.
type Local struct {
	Checks []Check
}

var _ Runner = (*Local)(nil)

// Run runs the requested checks. A check that fails or panics is reported
// in Errors; the others still run.
func (l *Local) Run(ctx context.Context, req Request) (*Response, error) {
	want := map[string]bool{}
	for _, c := range req.Checks {
		want[c] = true
	}
	for c := range want {
		if l.find(c) == nil {
			return nil, fmt.Errorf("unknown check %q", c)
		}
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		resp = &Response{Errors: map[string]string{}}
		out  = make([]*Result, len(l.Checks))
	)
	for i, c := range l.Checks {
		if len(want) > 0 && !want[c.Name()] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := safeRun(ctx, c, req.Target)
			if err != nil {
				mu.Lock()
				resp.Errors[c.Name()] = err.Error()
				mu.Unlock()
				return
			}
			out[i] = res
		}()
	}
	wg.Wait()
	for _, r := range out {
		if r != nil {
			resp.Results = append(resp.Results, r)
		}
	}
	if len(resp.Errors) == 0 {
		resp.Errors = nil
	}
	return resp, nil
}

func (l *Local) find(name string) Check {
	for _, c := range l.Checks {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// safeRun turns a scanner panic into an error: a hostile repository must
// not take the process down with it.
func safeRun(ctx context.Context, c Check, t Target) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s check panicked: %v\n%s", c.Name(), p, debug.Stack())
		}
	}()
	res, err = c.Run(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	if res == nil {
		return nil, fmt.Errorf("%s: no result", c.Name())
	}
	res.Check = c.Name()
	if res.Engine == (Engine{}) {
		res.Engine = c.Engine()
	}
	for i := range res.Findings {
		res.Findings[i].Check = c.Name()
	}
	return res, nil
}
