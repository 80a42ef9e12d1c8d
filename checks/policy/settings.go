package policy

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/checks"
)

// Custom is the name of the custom Rego checks (the fourth check the policy
// knows; the checks package names the three built-in ones).
const Custom = "custom"

// checkNames lists the checks a policy configures, in report order.
var checkNames = []string{checks.Secrets, checks.Dependencies, checks.IaC, Custom}

// Mode says what a check's findings do to the pull request.
type Mode string

// The modes, strictest first.
const (
	ModeBlock Mode = "block" // blocking findings fail the check run
	ModeWarn  Mode = "warn"  // findings are reported, nothing blocks
	ModeOff   Mode = "off"   // the check does not run
)

// modeRank orders modes by strictness: a higher rank is stricter.
func modeRank(m Mode) int {
	switch m {
	case ModeBlock:
		return 2
	case ModeWarn:
		return 1
	}
	return 0
}

// OnError is the conclusion of a check whose scan could not complete
// (on_error), or that a limit kept from some files (on_limit).
type OnError string

// The on_error values.
const (
	OnErrorFail    OnError = "fail"    // a failed scan fails the check run
	OnErrorNeutral OnError = "neutral" // a failed scan is reported as neutral
)

// FromChange says what becomes of suppressions a change brings for its own
// findings (suppressions.from_change): new ignore-file lines, inline
// gitleaks:allow and #trivy:ignore markers the base did not have.
type FromChange string

// The suppressions.from_change values, strictest last.
const (
	FromChangeAllow    FromChange = "allow"    // they apply, as the tools apply them
	FromChangeApproval FromChange = "approval" // they apply once a writer other than the author approves the pull request
	FromChangeDeny     FromChange = "deny"     // they never apply until merged
)

// fromChangeRank orders from_change values by strictness.
func fromChangeRank(f FromChange) int {
	switch f {
	case FromChangeDeny:
		return 2
	case FromChangeApproval:
		return 1
	}
	return 0
}

// The review events a review with comments can be posted as.
const (
	ReviewRequestChanges = "REQUEST_CHANGES"
	ReviewComment        = "COMMENT"
)

// policySeverities are the min_severity values the file accepts, strictest
// (lowest) last.
var policySeverities = []string{"critical", "high", "medium", "low", "info"}

// kind is the type of a setting's value.
type kind int

const (
	kindMode        kind = iota // Mode
	kindSeverity                // checks.Severity
	kindBool                    // bool
	kindOnError                 // OnError
	kindReviewEvent             // string
	kindGlobs                   // []string
	kindFromChange              // FromChange
	kindNames                   // []string: GitHub logins and org/team slugs
	kindRuleSets                // []string: names of checks.SecretRuleSets
)

// def describes one setting: its key, type and built-in default.
type def struct {
	key  string
	kind kind
	dflt any
}

// keyExceptions is the enforce key that stops repos adding exceptions.
const keyExceptions = "exceptions"

// defs lists every setting in canonical order (the order of Explain and of
// the canonical form the hash is computed on).
var defs = buildDefs()

func buildDefs() []def {
	var ds []def
	for _, c := range checkNames {
		p := "checks." + c + "."
		ds = append(ds, def{p + "mode", kindMode, ModeBlock})
		if c != checks.Secrets {
			ds = append(ds, def{p + "min_severity", kindSeverity, checks.SeverityHigh})
		}
		if c == checks.Dependencies {
			ds = append(ds, def{p + "only_fixed", kindBool, false})
		}
		if c == checks.Secrets {
			ds = append(ds, def{p + "extra_rules", kindRuleSets, []string{}})
		}
		ds = append(ds, def{p + "paths.ignore", kindGlobs, []string{}})
	}
	return append(ds,
		def{"new_findings_only", kindBool, true},
		def{"on_error", kindOnError, OnErrorFail},
		def{"on_limit", kindOnError, OnErrorFail},
		def{"report.review_comments", kindBool, true},
		def{"report.review_event", kindReviewEvent, ReviewRequestChanges},
		def{"report.summary_comment", kindBool, true},
		def{"report.sarif_upload", kindBool, false},
		def{"suppressions.from_change", kindFromChange, FromChangeApproval},
		def{"suppressions.approvers", kindNames, []string{}},
	)
}

// defOf returns the definition of key.
func defOf(key string) (def, bool) {
	for _, d := range defs {
		if d.key == key {
			return d, true
		}
	}
	return def{}, false
}

// enforceableKeys lists every name an enforce entry may use: each setting,
// every dotted prefix of one ("checks.iac", "report", "checks") and
// "exceptions". A prefix enforces every setting under it.
func enforceableKeys() []string {
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, d := range defs {
		parts := strings.Split(d.key, ".")
		for i := 1; i <= len(parts); i++ {
			add(strings.Join(parts[:i], "."))
		}
	}
	add(keyExceptions)
	return out
}

// expandEnforce returns the setting keys an enforce entry covers.
func expandEnforce(entry string) []string {
	if entry == keyExceptions {
		return []string{keyExceptions}
	}
	var out []string
	for _, d := range defs {
		if d.key == entry || strings.HasPrefix(d.key, entry+".") {
			out = append(out, d.key)
		}
	}
	return out
}

// allowed reports whether a layer under enforcement may change a setting
// from old to new: only a change that tightens the gate (or keeps it) is.
// Settings without a strictness order (report.*) are locked.
func allowed(d def, old, new any) bool {
	switch d.kind {
	case kindMode:
		return modeRank(new.(Mode)) >= modeRank(old.(Mode))
	case kindSeverity:
		return new.(checks.Severity) <= old.(checks.Severity)
	case kindBool:
		if strings.HasPrefix(d.key, "report.") {
			return new == old // reporting switches have no order: locked
		}
		// only_fixed and new_findings_only: true lets findings through,
		// so only true→false tightens.
		return !new.(bool) || old.(bool)
	case kindOnError:
		return new.(OnError) == OnErrorFail || old.(OnError) == OnErrorNeutral
	case kindFromChange:
		return fromChangeRank(new.(FromChange)) >= fromChangeRank(old.(FromChange))
	case kindNames:
		// No approvers means any writer: naming some tightens; past that,
		// fewer is stricter.
		if len(old.([]string)) == 0 {
			return true
		}
		return len(new.([]string)) > 0 && allowed(def{kind: kindGlobs}, old, new)
	case kindRuleSets:
		// More rules find more: only a superset is allowed.
		for _, r := range old.([]string) {
			if !slices.Contains(new.([]string), r) {
				return false
			}
		}
		return true
	case kindGlobs:
		// Fewer ignored paths is stricter: only a subset is allowed.
		for _, g := range new.([]string) {
			if !slices.Contains(old.([]string), g) {
				return false
			}
		}
		return true
	}
	return equal(old, new)
}

// equal compares two setting values.
func equal(a, b any) bool {
	if ga, ok := a.([]string); ok {
		return slices.Equal(ga, b.([]string))
	}
	return a == b
}

// display renders a value as users write it in the file.
func display(v any) string {
	switch x := v.(type) {
	case []string:
		b, _ := json.Marshal(x)
		return string(b)
	case checks.Severity:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case Mode:
		return string(x)
	case OnError:
		return string(x)
	case FromChange:
		return string(x)
	case string:
		return x
	}
	return ""
}
