package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/checks"
)

// conclude picks a verdict's conclusion and writes its one-line title.
func conclude(p *Policy, cp CheckPolicy, v *checks.Verdict) (checks.Conclusion, string) {
	var blocking, rest []checks.Evaluated
	for _, f := range v.Findings {
		if f.Blocking {
			blocking = append(blocking, f)
		} else {
			rest = append(rest, f)
		}
	}
	switch {
	case len(blocking) > 0:
		t := describeFindings(v.Check, blocking)
		verb := "block"
		if len(blocking) == 1 {
			verb = "blocks"
		}
		t = fmt.Sprintf("%s %s this change%s", t, verb, breakdown(v.Check, blocking))
		if n := len(v.Pending); n > 0 {
			t += fmt.Sprintf(" (%d %s pending approval)", n, plural(n, "suppression", "suppressions"))
		}
		if len(rest) > 0 {
			t += fmt.Sprintf(" (%d more not blocking)", len(rest))
		}
		if v.Error != "" {
			t += "; the scan did not complete"
		}
		return checks.ConclusionFailure, t
	case v.Error != "":
		switch {
		case cp.Mode == ModeWarn:
			return checks.ConclusionNeutral, "Scan could not complete (not blocking: mode warn)"
		case p.OnError() == OnErrorNeutral:
			return checks.ConclusionNeutral, "Scan could not complete (not blocking: on_error neutral)"
		}
		return checks.ConclusionFailure, "Scan could not complete"
	case len(v.LimitHits) > 0:
		// A file nobody scanned is not a pass: it could hold anything.
		t := fmt.Sprintf("%d %s not scanned: a limit was hit", len(v.LimitHits), plural(len(v.LimitHits), "file", "files"))
		if len(rest) > 0 {
			t += fmt.Sprintf("; %s not blocking", describeFindings(v.Check, rest))
		}
		switch {
		case cp.Mode == ModeWarn:
			return checks.ConclusionNeutral, t + " (not blocking: mode warn)"
		case p.OnLimit() == OnErrorNeutral:
			return checks.ConclusionNeutral, t + " (not blocking: on_limit neutral)"
		}
		return checks.ConclusionFailure, t
	case len(rest) > 0:
		t := describeFindings(v.Check, rest) + breakdown(v.Check, rest) + " (not blocking"
		if cp.Mode == ModeWarn {
			t += ": mode warn"
		}
		return checks.ConclusionNeutral, t + ")"
	}
	t := "No " + noun(v.Check, 2) + " found"
	if n := len(v.Suppressed); n > 0 {
		t += fmt.Sprintf(" (%d suppressed)", n)
	}
	return checks.ConclusionSuccess, t
}

// describeFindings writes "2 new high vulnerabilities": the count, the
// status when all share it, the severity when all share it (not for
// secrets) and the check's noun.
func describeFindings(check string, fs []checks.Evaluated) string {
	words := []string{strconv.Itoa(len(fs))}
	status := fs[0].Status
	sev := fs[0].Severity
	sameSev := true
	for _, f := range fs[1:] {
		if f.Status != status {
			status = ""
		}
		if f.Severity != sev {
			sameSev = false
		}
	}
	if status != "" {
		words = append(words, string(status))
	}
	if sameSev && check != checks.Secrets {
		words = append(words, sev.String())
	}
	return strings.Join(append(words, noun(check, len(fs))), " ")
}

// breakdown writes ": 1 critical, 2 high" when severities differ (not for
// secrets, whose severity does not decide anything).
func breakdown(check string, fs []checks.Evaluated) string {
	if check == checks.Secrets {
		return ""
	}
	count := map[checks.Severity]int{}
	for _, f := range fs {
		count[f.Severity]++
	}
	if len(count) < 2 {
		return ""
	}
	var parts []string
	for s := checks.SeverityCritical; s >= checks.SeverityUnknown; s-- {
		if n := count[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return ": " + strings.Join(parts, ", ")
}

// noun names what a check finds, singular or plural.
func noun(check string, n int) string {
	one, many := "finding", "findings"
	switch check {
	case checks.Secrets:
		one, many = "secret", "secrets"
	case checks.Dependencies:
		one, many = "vulnerability", "vulnerabilities"
	case checks.IaC:
		one, many = "misconfiguration", "misconfigurations"
	}
	if n == 1 {
		return one
	}
	return many
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
