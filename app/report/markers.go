package report

import "strings"

// Hidden markers let gatehouse recognize its own comments on later runs
// (as reviewdog does): each comment body starts with one. Only a marker at
// the very start of a body counts, so finding text quoted further down can
// never pass for one.
const (
	// SummaryMarker starts the sticky summary comment.
	SummaryMarker = "<!-- gatehouse:summary -->"

	markerPrefix = "<!-- gatehouse:"
	markerSuffix = " -->"
)

// Marker kinds.
const (
	markFinding = "finding"
	markFixed   = "fixed"
	markSummary = "summary"
	markReview  = "review"
)

// FindingMarker starts a review comment on a finding; the second marker
// names the check, so a resolution is only announced once that check ran.
func FindingMarker(check, fingerprint string) string {
	return markerPrefix + markFinding + ":" + fingerprint + markerSuffix + markerPrefix + "check:" + check + markerSuffix
}

// FixedMarker starts the reply that closes a finding's thread.
func FixedMarker(fingerprint string) string {
	return markerPrefix + markFixed + ":" + fingerprint + markerSuffix
}

// reviewMarker starts a review's body.
func reviewMarker(check string) string {
	return markerPrefix + markReview + ":" + check + markerSuffix
}

// marker is what the first line of a comment body says about it.
type marker struct {
	kind        string // markFinding, markFixed, markSummary, markReview, or "" for none
	fingerprint string
	check       string
}

// parseMarker reads the marker at the start of body.
func parseMarker(body string) marker {
	line, _, _ := strings.Cut(body, "\n")
	line = strings.TrimRight(line, "\r")
	first, rest, ok := cutMarker(line)
	if !ok {
		return marker{}
	}
	kind, value, _ := strings.Cut(first, ":")
	switch kind {
	case markSummary:
		if value == "" {
			return marker{kind: markSummary}
		}
	case markFinding, markFixed:
		if !isFingerprint(value) {
			return marker{}
		}
		m := marker{kind: kind, fingerprint: value}
		if second, _, ok := cutMarker(rest); ok && kind == markFinding {
			if k, check, _ := strings.Cut(second, ":"); k == "check" && isName(check) {
				m.check = check
			}
		}
		return m
	case markReview:
		if isName(value) {
			return marker{kind: markReview, check: value}
		}
	}
	return marker{}
}

// cutMarker takes one "<!-- gatehouse:X -->" off the start of s.
func cutMarker(s string) (inner, rest string, ok bool) {
	if !strings.HasPrefix(s, markerPrefix) {
		return "", s, false
	}
	inner, rest, ok = strings.Cut(s[len(markerPrefix):], markerSuffix)
	return inner, rest, ok
}

// isFingerprint accepts what checks.Fingerprint makes (hex), with room for
// other scanners' ids.
func isFingerprint(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isName accepts a check name.
func isName(s string) bool { return isFingerprint(s) && len(s) <= 64 }
