package secrets

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
	"github.com/zricethezav/gitleaks/v8/sources"

	"github.com/gatehouse/gatehouse/checks"
)

// gitleaksAllow is gitleaks' inline ignore comment.
const gitleaksAllow = "gitleaks:allow"

// hit is one gitleaks finding, already redacted: the secret itself is gone
// by the time a hit is stored; only its hash remains.
type hit struct {
	f          report.Finding
	secretHash string // hex SHA-256 of the secret
	allowed    bool   // the matched line carries gitleaks:allow
}

// collector gathers what one scan found and looked at. Fragments arrive
// from many goroutines.
type collector struct {
	det   *detect.Detector
	extra *extraDetector // nil: the default rules only

	mu          sync.Mutex
	hits        []hit
	files       map[string]struct{}
	bytes       int64
	commits     int
	skipped     []checks.Skip
	skipSeen    map[string]struct{}
	allowlisted int // paths excluded by gitleaks' global path allowlist
	binary      int // files gitleaks recognised as binary and did not read
	notes       []string
	seen        map[string]bool // git mode: commits gitleaks yielded text for
}

func newCollector(det *detect.Detector, extra *extraDetector) *collector {
	return &collector{
		det:      det,
		extra:    extra,
		files:    make(map[string]struct{}),
		skipSeen: make(map[string]struct{}),
		seen:     make(map[string]bool),
	}
}

func (c *collector) sawCommit(sha string) {
	c.mu.Lock()
	c.seen[sha] = true
	c.mu.Unlock()
}

// unseen returns the commits of want that were not seen, sorted.
func (c *collector) unseen(want map[string]bool) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var missed []string
	for sha := range want {
		if !c.seen[sha] {
			missed = append(missed, sha)
		}
	}
	slices.Sort(missed)
	return missed
}

// detect runs the rules on one fragment; file is the key the fragment's
// bytes are counted under.
func (c *collector) detect(ctx context.Context, file string, frag sources.Fragment) {
	// DetectContext is gitleaks' per-fragment entry point; its parameter type
	// is the deprecated alias of sources.Fragment until v9. DetectSource
	// would hide fragment errors and keep findings in the shared detector.
	//lint:ignore SA1019 no replacement before gitleaks v9 (see above)
	found := c.det.DetectContext(ctx, detect.Fragment(frag))
	if c.extra != nil && c.extra.wants(frag.FilePath) {
		//lint:ignore SA1019 as above
		found = append(found, c.extra.det.DetectContext(ctx, detect.Fragment(frag))...)
	}
	hits := make([]hit, 0, len(found))
	for _, f := range found {
		hits = append(hits, redact(f))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files[file] = struct{}{}
	c.bytes += int64(len(frag.Raw))
	c.hits = append(c.hits, hits...)
}

// redact keeps what identifies a gitleaks finding and drops the secret: the
// hash is taken first, then gitleaks' own redaction replaces the secret in
// the match, and the matched line is dropped.
func redact(f report.Finding) hit {
	sum := sha256.Sum256([]byte(f.Secret))
	h := hit{
		secretHash: hex.EncodeToString(sum[:]),
		allowed:    strings.Contains(f.Line, gitleaksAllow),
	}
	secret := f.Secret
	if secret != "" { // path-only rules match no text
		f.Redact(100)
		if strings.Contains(f.Match, secret) {
			f.Match = "REDACTED"
		}
	}
	f.Secret, f.Line, f.Fragment = "", "", nil
	f.Author, f.Email, f.Message = "", "", ""
	h.f = f
	return h
}

// skip records a file that was not scanned; each key is listed once.
// Keys starting "size:" are limit hits.
func (c *collector) skip(key, file, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.skipSeen[key]; dup {
		return
	}
	c.skipSeen[key] = struct{}{}
	c.skipped = append(c.skipped, checks.Skip{Path: file, Reason: reason, Limit: strings.HasPrefix(key, "size:")})
}

func (c *collector) countAllowlisted() {
	c.mu.Lock()
	c.allowlisted++
	c.mu.Unlock()
}

func (c *collector) countBinary() {
	c.mu.Lock()
	c.binary++
	c.mu.Unlock()
}

func (c *collector) note(format string, args ...any) {
	c.mu.Lock()
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// result sorts the hits and splits them into findings and suppressed ones.
// inForce and fromChange, when not nil, are detectors loaded with the
// target's .gitleaksignore in force and the change's: gitleaks' own
// AddFinding decides whether one lists a finding (it drops listed findings,
// keeps the others).
func (c *collector) result(engine checks.Engine, inForce, fromChange *detect.Detector) *checks.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	slices.SortFunc(c.hits, func(a, b hit) int {
		return cmp.Or(
			cmp.Compare(a.f.File, b.f.File),
			cmp.Compare(a.f.StartLine, b.f.StartLine),
			cmp.Compare(a.f.RuleID, b.f.RuleID),
			cmp.Compare(a.f.Commit, b.f.Commit),
			cmp.Compare(a.secretHash, b.secretHash),
		)
	})
	res := &checks.Result{
		Check:    checks.Secrets,
		Engine:   engine,
		Findings: []checks.Finding{},
		Scope: checks.Scope{
			Commits: c.commits,
			Files:   len(c.files),
			Bytes:   c.bytes,
			Skipped: c.skipped,
		},
	}
	for _, h := range c.hits {
		f := toFinding(h)
		switch {
		case h.allowed:
			res.Suppressed = append(res.Suppressed, checks.Suppressed{
				Finding: f, Reason: "gitleaks:allow comment on the matched line", Via: checks.ViaInline,
			})
		case inForce != nil && ignoredBy(inForce, h.f):
			res.Suppressed = append(res.Suppressed, checks.Suppressed{
				Finding: f, Reason: fmt.Sprintf(".gitleaksignore lists this finding (gitleaks fingerprint %s)", gitleaksFingerprint(h.f)), Via: checks.ViaIgnoreFile,
			})
		case fromChange != nil && ignoredBy(fromChange, h.f):
			res.Suppressed = append(res.Suppressed, checks.Suppressed{
				Finding: f, Reason: fmt.Sprintf(".gitleaksignore, as this change edits it, lists this finding (gitleaks fingerprint %s)", gitleaksFingerprint(h.f)),
				Via: checks.ViaIgnoreFile, FromChange: true,
			})
		default:
			res.Findings = append(res.Findings, f)
		}
	}
	slices.SortFunc(res.Scope.Skipped, func(a, b checks.Skip) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Reason, b.Reason))
	})
	if c.allowlisted > 0 {
		res.Scope.Notes = append(res.Scope.Notes, fmt.Sprintf(
			"%d path(s) excluded by gitleaks' default path allowlist (lockfiles, vendored dependencies, images, fonts, .git)", c.allowlisted))
	}
	if c.binary > 0 {
		res.Scope.Notes = append(res.Scope.Notes, fmt.Sprintf(
			"%d binary file(s) not scanned (gitleaks reads text only; archives are not unpacked)", c.binary))
	}
	res.Scope.Notes = append(res.Scope.Notes, c.notes...)
	return res
}

// ignoredBy asks gitleaks whether its .gitleaksignore entries cover f:
// AddFinding keeps the finding unless an entry lists it.
func ignoredBy(ignore *detect.Detector, f report.Finding) bool {
	before := len(ignore.Findings())
	ignore.AddFinding(f)
	return len(ignore.Findings()) == before
}

// gitleaksFingerprint is the id gitleaks prints for a finding and expects in
// .gitleaksignore: [commit:]file:rule:line.
func gitleaksFingerprint(f report.Finding) string {
	return checks.Finding{Commit: f.Commit, File: f.File, RuleID: f.RuleID, StartLine: f.StartLine}.GitleaksID()
}

// remediation is the same for every secret: a leaked credential must be
// considered compromised, and deleting it does not take it out of history.
const (
	remediationText = "Treat this credential as compromised: revoke or rotate it at its issuer now. " +
		"Deleting the line is not enough: the secret stays in the git history, and in every clone and fork, " +
		"after it is removed. Then load it from a secret store or the environment instead of the code, " +
		"and purge it from history (for example with git filter-repo) if your policy requires it."
	remediationURL = "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/removing-sensitive-data-from-a-repository"
)

// toFinding normalizes a redacted gitleaks finding.
func toFinding(h hit) checks.Finding {
	f := h.f
	title := f.Description
	if title == "" {
		title = "Possible secret (" + f.RuleID + ")"
	}
	where := f.File
	if f.StartLine > 0 {
		where = fmt.Sprintf("%s:%d", f.File, f.StartLine)
	}
	msg := fmt.Sprintf("gitleaks rule %s matched a possible secret at %s", f.RuleID, where)
	if f.Commit != "" {
		msg += fmt.Sprintf(", added in commit %.12s", f.Commit)
	}
	return checks.Finding{
		Check:       checks.Secrets,
		RuleID:      f.RuleID,
		Severity:    checks.SeverityHigh,
		Title:       title,
		Message:     msg,
		File:        f.File,
		StartLine:   f.StartLine,
		EndLine:     f.EndLine,
		Commit:      f.Commit,
		Match:       f.Match,
		Fingerprint: checks.Fingerprint(checks.Secrets, f.RuleID, f.File, h.secretHash),
		Remediation: checks.Remediation{Text: remediationText, URL: remediationURL},
	}
}
