package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/gatehouse/gatehouse/checks"
)

// dateLayout is how expires dates are written.
const dateLayout = "2006-01-02"

// Exception lets findings through on purpose: every finding whose rule id
// (gitleaks rule, CVE/GHSA id, AVD id) or fingerprint equals ID, in one of
// Paths when Paths is set, is suppressed with Reason until Expires.
type Exception struct {
	ID     string
	Paths  []string
	Reason string
	Owner  string
	// Expires is the last day the exception applies (midnight UTC starting
	// that day); zero means it never expires.
	Expires time.Time

	// Where the exception was written.
	Source Source
	File   string
	Line   int
}

// Expired reports whether the exception no longer applies at now: it
// applies through the whole of its expires day, UTC. A zero now cannot
// prove the exception is still valid, so an expiring exception counts as
// expired then.
func (e Exception) Expired(now time.Time) bool {
	if e.Expires.IsZero() {
		return false
	}
	if now.IsZero() {
		return true
	}
	return !now.Before(e.Expires.AddDate(0, 0, 1))
}

// ExpiresOn is the expires date as written ("2026-12-31"), or "".
func (e Exception) ExpiresOn() string {
	if e.Expires.IsZero() {
		return ""
	}
	return e.Expires.Format(dateLayout)
}

// Matches reports whether the exception is about finding f (ignoring expiry).
func (e Exception) Matches(f checks.Finding) bool {
	if !strings.EqualFold(e.ID, f.RuleID) && !strings.EqualFold(e.ID, f.Fingerprint) {
		return false
	}
	if len(e.Paths) == 0 {
		return true
	}
	_, ok := matchGlob(e.Paths, f.File)
	return ok
}

// where names the exception and where it was written, for reasons and notes.
func (e Exception) where() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return fmt.Sprintf("exception %s (%s %s)", e.ID, e.Source, loc)
}

// suppressReason is the Suppressed reason of a finding the exception lets
// through.
func (e Exception) suppressReason() string {
	s := e.where() + ": " + e.Reason
	if e.Owner != "" {
		s += "; owner " + e.Owner
	}
	if d := e.ExpiresOn(); d != "" {
		s += "; expires " + d
	}
	return s
}

// expiredNote says the exception stopped applying.
func (e Exception) expiredNote() string {
	return fmt.Sprintf("%s expired on %s and no longer applies", e.where(), e.ExpiresOn())
}

// matchGlob returns the first pattern that matches path.
func matchGlob(patterns []string, path string) (string, bool) {
	path = cleanPath(path)
	if path == "" {
		return "", false
	}
	for _, p := range patterns {
		if doublestar.MatchUnvalidated(p, path) {
			return p, true
		}
	}
	return "", false
}

// cleanPath makes a path or pattern relative to the repository root, as
// findings and patterns are written.
func cleanPath(p string) string {
	for {
		switch {
		case strings.HasPrefix(p, "./"):
			p = p[2:]
		case strings.HasPrefix(p, "/"):
			p = p[1:]
		default:
			return p
		}
	}
}
