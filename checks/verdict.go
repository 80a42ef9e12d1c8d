package checks

import "sort"

// Conclusion is the outcome of one check, named as GitHub names check run
// conclusions.
type Conclusion string

// The conclusions a verdict can reach.
const (
	ConclusionSuccess Conclusion = "success" // nothing found
	ConclusionNeutral Conclusion = "neutral" // findings, none blocking
	ConclusionFailure Conclusion = "failure" // a blocking finding or a failed scan
	ConclusionSkipped Conclusion = "skipped" // the policy turns the check off
)

// Status says whether a finding is introduced by the change under review.
type Status string

// Finding statuses.
const (
	StatusNew      Status = "new"      // introduced by the change (or no base to compare)
	StatusExisting Status = "existing" // already present on the base
)

// Verdict is the policy's decision on one check's result.
type Verdict struct {
	Check      string     `json:"check"`
	Mode       string     `json:"mode"` // block, warn or off
	Conclusion Conclusion `json:"conclusion"`
	// Title is the one-line outcome a user reads first
	// ("2 new high findings block this pull request").
	Title    string      `json:"title"`
	Findings []Evaluated `json:"findings"`
	// Suppressed are findings an ignore file, inline comment or policy
	// exception removed, with the reason.
	Suppressed []Suppressed `json:"suppressed,omitempty"`
	// Notes explain the decision (expired exceptions, limits hit, policy
	// changes that take effect after merge).
	Notes []string `json:"notes,omitempty"`
	// Error is set when the check could not run; the conclusion then follows
	// the policy's on_error setting.
	Error string `json:"error,omitempty"`
	// LimitHits are the files a limit kept from the check (outside the
	// policy's ignored paths); the conclusion then follows on_limit.
	LimitHits []Skip `json:"limit_hits,omitempty"`
	// Pending are suppressions the change brings for its own findings
	// that wait for an approval (suppressions.from_change: approval):
	// their findings are judged as if unsuppressed until then.
	Pending []Suppressed `json:"pending,omitempty"`
}

// Evaluated is a finding with the policy's judgement of it.
type Evaluated struct {
	Finding
	Status   Status `json:"status"`
	Blocking bool   `json:"blocking"`
	// Reason says why the finding blocks or does not
	// ("high ≥ min_severity medium", "existing on base", "mode warn").
	Reason string `json:"reason,omitempty"`
	// Unapplied is the suppression the change brings for this finding
	// that does not apply (pending approval, or refused by policy).
	Unapplied string `json:"unapplied_suppression,omitempty"`
}

// Blocking counts the blocking findings.
func (v *Verdict) Blocking() int {
	n := 0
	for _, f := range v.Findings {
		if f.Blocking {
			n++
		}
	}
	return n
}

// SortEvaluated orders findings as users read them: blocking first, then
// the worst, then by file, line and rule.
func SortEvaluated(fs []Evaluated) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Blocking != b.Blocking {
			return a.Blocking
		}
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.StartLine != b.StartLine {
			return a.StartLine < b.StartLine
		}
		return a.RuleID < b.RuleID
	})
}
