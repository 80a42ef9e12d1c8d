// Package format renders the outcome of `gatehouse scan` for the people and
// machines that read it: Text for terminals, JSON for scripts, SARIF for code
// scanning. It also decides the exit code CI acts on.
//
// Formatters print what the Report holds and add nothing to it: redacting
// secrets is the scanner's job (Finding.Match is already redacted, and no
// Finding field holds the raw secret). A Message that accidentally contains a
// secret is printed as given by JSON and SARIF; Text does not print messages.
package format

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/gatehouse/gatehouse/checks"
)

// Report is everything one `gatehouse scan` decided, the input of every
// formatter.
type Report struct {
	// Target is what was scanned, as the user named it (a directory).
	Target string
	// Base and Head are the git revisions of the scanned range, when one was
	// scanned (Head set, Base optional).
	Base, Head string
	// ToolVersion is gatehouse's own version ("v0.3.0"), when known.
	ToolVersion string
	// Results are the checks' raw results. A check whose scan failed may have
	// none; results are matched to verdicts by check name.
	Results []*checks.Result
	// Verdicts are the policy's decisions, one per check, in the order the
	// checks are shown. Every Result must have a Verdict.
	Verdicts []checks.Verdict
	// PolicyHash identifies the effective policy; PolicySources lists the
	// files it was merged from.
	PolicyHash    string
	PolicySources []string
}

// ExitCode is what `gatehouse scan` exits with for r: 1 when any verdict's
// conclusion is failure (a blocking finding, or a failed scan the policy
// fails on), else 0. A nil report is an internal error: 2.
func ExitCode(r *Report) int {
	if r == nil {
		return 2
	}
	for _, v := range r.Verdicts {
		if v.Conclusion == checks.ConclusionFailure {
			return 1
		}
	}
	return 0
}

// checkView is one check as every formatter shows it: its verdict, its
// result if it produced one, and sorted copies of what it found.
type checkView struct {
	verdict    *checks.Verdict
	result     *checks.Result // nil when the scan produced no result
	findings   []checks.Evaluated
	suppressed []checks.Suppressed
}

// views pairs verdicts with results and sorts copies of their findings, so
// formatters never reorder the caller's slices. It rejects a report whose
// results and verdicts do not line up: a formatter must not guess a policy
// decision that was never made.
func views(r *Report) ([]checkView, error) {
	if r == nil {
		return nil, errors.New("format: nil report")
	}
	seen := map[string]bool{}
	out := make([]checkView, 0, len(r.Verdicts))
	for i := range r.Verdicts {
		v := &r.Verdicts[i]
		if v.Check == "" {
			return nil, fmt.Errorf("format: verdict %d has no check name", i)
		}
		if seen[v.Check] {
			return nil, fmt.Errorf("format: two verdicts for check %q", v.Check)
		}
		seen[v.Check] = true
		cv := checkView{verdict: v, result: findResult(r.Results, v.Check)}
		cv.findings = slices.Clone(v.Findings)
		slices.SortStableFunc(cv.findings, func(a, b checks.Evaluated) int {
			return compareFindings(&a.Finding, &b.Finding)
		})
		cv.suppressed = suppressedOf(cv.result, v)
		out = append(out, cv)
	}
	for _, res := range r.Results {
		if res != nil && !seen[res.Check] {
			return nil, fmt.Errorf("format: result of check %q has no verdict", res.Check)
		}
	}
	return out, nil
}

func findResult(results []*checks.Result, check string) *checks.Result {
	for _, res := range results {
		if res != nil && res.Check == check {
			return res
		}
	}
	return nil
}

// suppressedOf is the union of the result's and the verdict's suppressed
// findings, without duplicates, sorted: whichever of the scanner and the
// policy recorded a suppression, it is shown once and never dropped.
func suppressedOf(res *checks.Result, v *checks.Verdict) []checks.Suppressed {
	var all []checks.Suppressed
	if res != nil {
		// A suppression the change brought that waits for an approval
		// does not suppress: its finding is listed (blocking) and the
		// suppression under pending approval, not here.
		pending := map[string]bool{}
		for _, p := range v.Pending {
			pending[p.Finding.Fingerprint] = true
		}
		for _, s := range res.Suppressed {
			if !(s.FromChange && pending[s.Finding.Fingerprint]) {
				all = append(all, s)
			}
		}
	}
	all = append(all, v.Suppressed...)
	seen := map[string]bool{}
	out := make([]checks.Suppressed, 0, len(all))
	for _, s := range all {
		f := s.Finding
		key := f.Fingerprint + "\x00" + f.RuleID + "\x00" + f.File + "\x00" +
			strconv.Itoa(f.StartLine) + "\x00" + f.Commit + "\x00" + s.Reason
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b checks.Suppressed) int {
		return cmp.Or(compareFindings(&a.Finding, &b.Finding), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

// compareFindings orders findings by file, line, rule, then whatever else
// tells two findings apart, so output does not depend on scan order.
func compareFindings(a, b *checks.Finding) int {
	return cmp.Or(
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.StartLine, b.StartLine),
		cmp.Compare(a.RuleID, b.RuleID),
		cmp.Compare(a.EndLine, b.EndLine),
		cmp.Compare(a.Commit, b.Commit),
		cmp.Compare(a.Remediation.Package, b.Remediation.Package),
		cmp.Compare(a.Fingerprint, b.Fingerprint),
		cmp.Compare(a.Title, b.Title),
	)
}

// blocking counts the blocking findings of all checks.
func blocking(cvs []checkView) int {
	n := 0
	for _, cv := range cvs {
		n += cv.verdict.Blocking()
	}
	return n
}

// fixText says how to fix a dependency finding ("pkg 1.0 → 1.1"), or is
// empty for other findings.
func fixText(f *checks.Finding) string {
	r := f.Remediation
	if r.Package == "" {
		return ""
	}
	installed := r.Package
	if r.InstalledVersion != "" {
		installed += " " + r.InstalledVersion
	}
	if r.FixedVersion == "" {
		return installed + " (no fixed version)"
	}
	return installed + " → " + r.FixedVersion
}
