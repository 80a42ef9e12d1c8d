// Package bounded runs checks in the calling process within the content
// limits (checks.Limits): a pre-scan of the checkout counts files and bytes
// and keeps over-deep JSON and YAML and YAML bombs from the parsers, and
// each check gets its own time limit. The sandboxed child runs its job
// through it, and so does `gatehouse scan`: the same limits reach the same
// verdict wherever the checks run.
package bounded

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

// Runner runs checks in-process within Limits (zero fields: the defaults).
type Runner struct {
	Checks []checks.Check
	Limits checks.Limits
}

var _ checks.Runner = (*Runner)(nil)

// Run pre-scans the target, then runs each requested check with its own
// time limit. The structure-parsing checks get the tree minus the files
// the pre-scan kept from them, and list those files in Scope.Skipped. A
// check that does not return in time is reported and abandoned.
func (r *Runner) Run(ctx context.Context, req checks.Request) (*checks.Response, error) {
	lim := r.Limits.WithDefaults()
	p, err := prescan(ctx, req.Target.Dir, req.Target.Paths, lim)
	if err != nil {
		return nil, err
	}
	return runChecks(ctx, r.Checks, req, p, lim)
}

// parsesStructure reports whether a check parses JSON or YAML (and so gets
// the nesting limits). Only the secrets check reads files as plain text: it
// keeps seeing every file, so a deeply nested file cannot hide a secret.
func parsesStructure(check string) bool { return check != checks.Secrets }

func runChecks(ctx context.Context, all []checks.Check, req checks.Request, p *plan, lim checks.Limits) (*checks.Response, error) {
	byName := map[string]checks.Check{}
	var order []string
	for _, c := range all {
		byName[c.Name()] = c
		order = append(order, c.Name())
	}
	names := order
	if len(req.Checks) > 0 {
		names = nil
		for _, n := range req.Checks {
			if byName[n] == nil {
				return nil, fmt.Errorf("unknown check %q", n)
			}
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	type outcome struct {
		name string
		res  *checks.Result
		err  string
	}
	done := make(chan outcome, len(names))
	pending := map[string]bool{}
	for _, name := range names {
		t := req.Target
		switch {
		case p.fatal != "":
			done <- outcome{name: name, err: p.fatal}
			continue
		case parsesStructure(name) && len(p.skipped) > 0:
			if len(p.structured) == 0 {
				done <- outcome{name: name, err: "limit: every file was kept from this check by the limits (see the skipped files)"}
				continue
			}
			t.Paths = p.structured
		}
		pending[name] = true
		go func(c checks.Check, t checks.Target) {
			cctx, cancel := context.WithTimeout(ctx, lim.CheckTimeout)
			defer cancel()
			resp, err := (&checks.Local{Checks: []checks.Check{c}}).Run(cctx, checks.Request{Target: t, Checks: []string{c.Name()}})
			o := outcome{name: c.Name()}
			switch {
			case errors.Is(cctx.Err(), context.DeadlineExceeded):
				o.err = timeoutMessage(c.Name(), lim.CheckTimeout)
			case err != nil:
				o.err = err.Error()
			case resp.Errors[c.Name()] != "":
				o.err = resp.Errors[c.Name()]
			case resp.Result(c.Name()) == nil:
				o.err = c.Name() + ": no result"
			default:
				o.res = resp.Result(c.Name())
			}
			done <- o
		}(byName[name], t)
	}
	resp := &checks.Response{Errors: map[string]string{}}
	got := map[string]*checks.Result{}
	// A check that ignores its context is given a short grace, then
	// reported as timed out.
	grace := time.NewTimer(lim.CheckTimeout + 5*time.Second)
	defer grace.Stop()
collect:
	for range names {
		select {
		case o := <-done:
			delete(pending, o.name)
			if o.err != "" {
				resp.Errors[o.name] = o.err
			} else {
				got[o.name] = o.res
			}
		case <-grace.C:
			for name := range pending {
				resp.Errors[name] = timeoutMessage(name, lim.CheckTimeout)
			}
			break collect
		}
	}
	for _, name := range names {
		r := got[name]
		if r == nil {
			continue
		}
		if parsesStructure(name) {
			r.Scope.Skipped = append(r.Scope.Skipped, p.skipped...)
		}
		resp.Results = append(resp.Results, r)
	}
	if len(resp.Errors) == 0 {
		resp.Errors = nil
	}
	return resp, nil
}

func timeoutMessage(check string, d time.Duration) string {
	return fmt.Sprintf("limit: the %s check ran past its %s time limit (scan timeout per check); not completed", check, d)
}
