package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

// Base is what the base revision already had: per check, the fingerprints
// of its findings. A nil Base means there is no base to compare with, and
// every finding is new.
type Base map[string]map[string]bool

// BaseOf collects the fingerprints of base-revision results, suppressed
// findings included (a finding that was there is not new, ignored or not).
func BaseOf(results ...*checks.Result) Base {
	b := Base{}
	for _, r := range results {
		if r == nil {
			continue
		}
		b.ensure(r.Check)
		for _, f := range r.Findings {
			b.Add(r.Check, f.Fingerprint)
		}
		for _, s := range r.Suppressed {
			b.Add(r.Check, s.Finding.Fingerprint)
		}
	}
	return b
}

func (b Base) ensure(check string) {
	if b[check] == nil {
		b[check] = map[string]bool{}
	}
}

// Add records that the base has a finding with this fingerprint. Empty
// fingerprints are not recorded: they cannot prove a finding existing.
func (b Base) Add(check, fingerprint string) {
	if fingerprint == "" {
		return
	}
	b.ensure(check)
	b[check][fingerprint] = true
}

// Has reports whether the base has a finding with this fingerprint.
func (b Base) Has(check, fingerprint string) bool {
	return fingerprint != "" && b[check][fingerprint]
}

// Input is everything Evaluate decides on. It is plain data: Evaluate does
// no I/O and reads no clock.
type Input struct {
	// Policy is the resolved policy; nil means the built-in defaults.
	Policy *Policy
	// Results are the head revision's results, one per check that ran.
	Results []*checks.Result
	// Base is the base revision's findings; nil when there is no base.
	Base Base
	// Errors holds, per check name, why its scan could not complete.
	Errors map[string]error
	// Now decides whether exceptions have expired. A zero Now counts every
	// exception with an expires date as expired.
	Now time.Time
	// ApprovedBy names who approved the suppressions the change brings
	// (Suppressed.FromChange), as the caller verified it: with
	// suppressions.from_change: approval they apply only when set.
	ApprovedBy string
}

// Evaluate applies the policy to each check named in Results or Errors and
// returns one verdict per check, in report order (secrets, dependencies,
// iac, custom, then others by name). Per finding, in order: a path ignore
// or an unexpired exception suppresses it; otherwise it is new unless its
// fingerprint is in Base, and it blocks unless the mode is warn, it is
// below min_severity, only_fixed is on and it has no fixed version, or it
// is existing and new_findings_only is on. A check the policy turns off is
// skipped; a check the policy does not know fails closed.
func Evaluate(in Input) []checks.Verdict {
	p := in.Policy
	if p == nil {
		p = Default()
	}
	results := map[string]*checks.Result{}
	var names []string
	for _, r := range in.Results {
		if r == nil {
			continue
		}
		if prev, ok := results[r.Check]; ok {
			merged := *prev
			merged.Findings = append(slices.Clone(prev.Findings), r.Findings...)
			merged.Suppressed = append(slices.Clone(prev.Suppressed), r.Suppressed...)
			results[r.Check] = &merged
			continue
		}
		results[r.Check] = r
		names = append(names, r.Check)
	}
	for name := range in.Errors {
		if _, ok := results[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := checkRank(names[i]), checkRank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	out := make([]checks.Verdict, 0, len(names))
	for _, name := range names {
		out = append(out, evaluateCheck(p, name, results[name], in.Errors[name], in.Base, in.Now, in.ApprovedBy))
	}
	return out
}

// checkRank orders checks for reports: the known ones first.
func checkRank(name string) int {
	if i := slices.Index(checkNames, name); i >= 0 {
		return i
	}
	return len(checkNames)
}

// evaluateCheck decides one check. The iac check also carries the findings
// of custom checks, which are judged by the checks.custom settings: see
// customPolicy.
func evaluateCheck(p *Policy, name string, res *checks.Result, scanErr error, base Base, now time.Time, approvedBy string) checks.Verdict {
	v := checks.Verdict{Check: name, Notes: p.notesFor(name)}
	cp, ok := p.Check(name)
	if !ok {
		v.Mode = string(ModeBlock)
		v.Conclusion = checks.ConclusionFailure
		v.Error = fmt.Sprintf("the policy has no settings for check %q", name)
		v.Title = "Unknown check: failing closed"
		return v
	}
	ccp, custom := p.customPolicy(name)
	if custom {
		v.Notes = append(v.Notes, p.notesWithPrefix("checks."+Custom+".")...)
	}
	v.Mode = string(cp.Mode)
	effective := cp
	if cp.Mode == ModeOff {
		if !custom || ccp.Mode == ModeOff || res == nil || len(res.Custom) == 0 {
			v.Conclusion = checks.ConclusionSkipped
			v.Title = "Check turned off by policy"
			return v
		}
		// Built-in rules off, custom checks on and given: the check run
		// stays, for the custom findings alone.
		v.Mode, effective = string(ccp.Mode), ccp
		v.Notes = append(v.Notes, "The built-in "+name+" rules are turned off by policy (checks."+name+".mode: off); only custom checks ran.")
	}
	if scanErr != nil {
		v.Error = scanErr.Error()
	}
	if res != nil {
		findings := slices.Clone(res.Findings)
		unapplied := map[int]string{} // index in findings → the change's suppression
		for _, s := range res.Suppressed {
			if !s.FromChange {
				v.Suppressed = append(v.Suppressed, s)
				continue
			}
			if applied, ok := p.fromChange(s, approvedBy); ok {
				v.Suppressed = append(v.Suppressed, applied)
				continue
			}
			unapplied[len(findings)] = s.Reason
			findings = append(findings, s.Finding)
		}
		for i, f := range findings {
			if f.Check == "" {
				f.Check = name
			}
			fcp, settings := cp, name
			if custom && f.Custom != "" {
				fcp, settings = ccp, Custom
			}
			if fcp.Mode == ModeOff {
				continue
			}
			if g, ok := matchGlob(fcp.IgnorePaths, f.File); ok {
				v.Suppressed = append(v.Suppressed, checks.Suppressed{Finding: f, Reason: p.ignoreReason(settings, g)})
				continue
			}
			applied, expired := p.exceptionFor(f, now)
			if applied != nil {
				v.Suppressed = append(v.Suppressed, checks.Suppressed{Finding: f, Reason: applied.suppressReason()})
				continue
			}
			ev := judge(p, fcp, name, f, base)
			if why, ok := unapplied[i]; ok {
				ev.Unapplied = why
				if p.Suppressions().FromChange == FromChangeDeny {
					ev.Reason += "; the change's own suppression is refused (suppressions.from_change: deny)"
					if n := refusedNote; !slices.Contains(v.Notes, n) {
						v.Notes = append(v.Notes, n)
					}
				} else {
					ev.Reason += "; the change's own suppression waits for approval"
					v.Pending = append(v.Pending, checks.Suppressed{Finding: f, Reason: why, Via: suppressedVia(res, f), FromChange: true})
				}
			}
			for _, e := range expired {
				ev.Reason += "; " + e.expiredNote()
				if n := e.expiredNote(); !slices.Contains(v.Notes, n) {
					v.Notes = append(v.Notes, n)
				}
			}
			v.Findings = append(v.Findings, ev)
		}
	}
	if res != nil {
		for _, s := range res.Scope.Skipped {
			if _, ignored := matchGlob(cp.IgnorePaths, s.Path); s.Limit && !ignored {
				v.LimitHits = append(v.LimitHits, s)
			}
		}
	}
	checks.SortEvaluated(v.Findings)
	v.Conclusion, v.Title = conclude(p, effective, &v)
	if custom && ccp.Mode != ModeOff && res != nil {
		judgeRejected(p, ccp, &v, res.RejectedCustom())
	}
	return v
}

// customPolicy returns the checks.custom settings when the named check is
// the one custom checks report in (iac).
func (p *Policy) customPolicy(check string) (CheckPolicy, bool) {
	if check != checks.IaC {
		return CheckPolicy{}, false
	}
	return p.Check(Custom)
}

// judgeRejected decides what custom checks that did not run (a refused
// builtin, a compile error, an exhausted time budget) do to the verdict.
// A check that did not run is never a silent pass: in block mode it fails
// the check run unless on_error is neutral; in warn mode it is only said.
func judgeRejected(p *Policy, ccp CheckPolicy, v *checks.Verdict, rejected []checks.CustomStatus) {
	if len(rejected) == 0 {
		return
	}
	var where []string
	for _, c := range rejected {
		where = append(where, c.Location())
	}
	what := fmt.Sprintf("%d custom check did not run", len(rejected))
	if len(rejected) > 1 {
		what = fmt.Sprintf("%d custom checks did not run", len(rejected))
	}
	note := what + ": " + strings.Join(where, ", ") + " (see Rejected custom checks)."
	switch {
	case ccp.Mode == ModeWarn:
		note += " Not blocking: checks.custom.mode is warn."
	case p.OnError() == OnErrorNeutral:
		note += " Not blocking: on_error is neutral."
	case v.Conclusion == checks.ConclusionFailure:
		v.Title += "; " + what
	default:
		v.Conclusion = checks.ConclusionFailure
		v.Title = "Custom checks rejected: " + what + " (" + v.Title + ")"
	}
	v.Notes = append(v.Notes, note)
}

// refusedNote explains findings the change suppresses for itself under
// from_change: deny.
const refusedNote = "This change adds suppressions (ignore-file lines or inline markers) for its own findings: " +
	"suppressions.from_change is deny, so they apply only once merged; until then the findings are judged as they are."

// fromChange applies a suppression the change brings, when the policy
// lets it: always with from_change allow, once approved with approval.
func (p *Policy) fromChange(s checks.Suppressed, approvedBy string) (checks.Suppressed, bool) {
	switch p.Suppressions().FromChange {
	case FromChangeAllow:
		s.Reason += " (added by this change; suppressions.from_change: allow)"
		return s, true
	case FromChangeApproval:
		if approvedBy != "" {
			s.ApprovedBy = approvedBy
			s.Reason += " (added by this change; approved by @" + approvedBy + ")"
			return s, true
		}
	}
	return s, false
}

// suppressedVia returns how the change suppressed f.
func suppressedVia(res *checks.Result, f checks.Finding) string {
	for _, s := range res.Suppressed {
		if s.FromChange && s.Finding.Fingerprint == f.Fingerprint {
			return s.Via
		}
	}
	return ""
}

// ignoreReason says which paths.ignore pattern suppressed a finding.
func (p *Policy) ignoreReason(check, glob string) string {
	key := "checks." + check + ".paths.ignore"
	o := p.values[key]
	loc := o.file
	if o.line > 0 {
		loc = fmt.Sprintf("%s:%d", o.file, o.line)
	}
	return fmt.Sprintf("path ignored by %s %q (%s %s)", key, glob, o.source, loc)
}

// exceptionFor returns the first unexpired exception that matches f, and
// the matching exceptions that have expired.
func (p *Policy) exceptionFor(f checks.Finding, now time.Time) (*Exception, []Exception) {
	var expired []Exception
	for i := range p.exceptions {
		e := &p.exceptions[i]
		if !e.Matches(f) {
			continue
		}
		if e.Expired(now) {
			expired = append(expired, *e)
			continue
		}
		return e, nil
	}
	return nil, expired
}

// judge decides whether one unsuppressed finding blocks, and says why.
func judge(p *Policy, cp CheckPolicy, check string, f checks.Finding, base Base) checks.Evaluated {
	ev := checks.Evaluated{Finding: f, Status: checks.StatusNew}
	if base != nil && base.Has(check, f.Fingerprint) {
		ev.Status = checks.StatusExisting
	}
	var why []string
	if cp.Mode == ModeWarn {
		why = append(why, "mode warn")
	}
	if f.Severity < cp.MinSeverity {
		why = append(why, fmt.Sprintf("%s below min_severity %s", f.Severity, cp.MinSeverity))
	}
	if cp.OnlyFixed && f.Remediation.FixedVersion == "" {
		why = append(why, "no fixed version (only_fixed)")
	}
	if ev.Status == checks.StatusExisting && p.NewFindingsOnly() {
		why = append(why, "existing on base")
	}
	if len(why) > 0 {
		ev.Reason = strings.Join(why, "; ")
		return ev
	}
	ev.Blocking = true
	parts := []string{"new"}
	if ev.Status == checks.StatusExisting {
		parts[0] = "existing on base, blocks as new_findings_only is false"
	}
	if check == checks.Secrets {
		parts = append(parts, "every secret blocks")
	} else {
		parts = append(parts, fmt.Sprintf("%s ≥ min_severity %s", f.Severity, cp.MinSeverity))
	}
	if cp.OnlyFixed {
		parts = append(parts, "fixed in "+f.Remediation.FixedVersion)
	}
	ev.Reason = strings.Join(parts, "; ")
	return ev
}
