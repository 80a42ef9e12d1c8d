// Package evidence keeps gatehouse's tamper-evident record of every verdict:
// what was scanned, with which engines and vulnerability DB, under which
// policy (its resolved content and SHA-256), what was found (redacted),
// which exceptions applied, and what was decided. Records are append-only
// and chained per repository: each is stored as canonical JSON (RFC 8785)
// whose SHA-256 is its hash, and carries the hash of the repository's
// previous record, so editing or deleting one breaks the chain where Verify
// finds it. The CycloneDX SBOM of the scanned commit is stored gzipped
// beside its record, which carries the SBOM's SHA-256. With a signing key
// (package attest), each record is also published as signed in-toto
// statements of the verdict and the SBOM, which anyone holding the public
// key can verify without gatehouse.
package evidence

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/checks"
)

// SchemaVersion is the version of the Record format.
const SchemaVersion = 1

// Record is one verdict as the evidence keeps it. Every field is plain
// data copied from the scan; nothing secret is ever set (findings carry
// only their redacted match).
type Record struct {
	Schema     int       `json:"schema"`
	ID         string    `json:"id"`
	Repository string    `json:"repository"`
	Seq        int64     `json:"seq"`
	PrevHash   string    `json:"prev_hash"` // "" for a repository's first record
	RecordedAt time.Time `json:"recorded_at"`
	// Gatehouse is the version of gatehouse that decided.
	Gatehouse string  `json:"gatehouse_version,omitempty"`
	Event     Event   `json:"event"`
	Commit    Commit  `json:"commit"`
	Policy    Policy  `json:"policy"`
	Decision  string  `json:"decision"` // overall: failure, neutral, success or skipped
	Checks    []Check `json:"checks"`
	VulnDB    *VulnDB `json:"vulnerability_db,omitempty"`
	SBOM      *SBOM   `json:"sbom,omitempty"`
	Timings   Timings `json:"timings"`
	// Deployment is set on a deployment protection rule's decision
	// (event kind deployment).
	Deployment *Deployment `json:"deployment,omitempty"`
}

// Deployment is a decision on a deployment: the environment, the workflow
// run GitHub asked for, and the answer given.
type Deployment struct {
	Environment  string `json:"environment"`
	WorkflowRun  int64  `json:"workflow_run"`
	DeploymentID int64  `json:"deployment_id,omitempty"`
	State        string `json:"state"` // approved or rejected
	// Overlay is true when the policy has environments.<name> for it.
	Overlay bool `json:"overlay"`
	// From says which scan of the commit was judged: its kind and
	// delivery (a pull request head, a push, a merge group, or a scan
	// made for this deployment).
	FromKind     string `json:"from_kind"`
	FromDelivery string `json:"from_delivery"`
}

// Event says what asked for the verdict.
type Event struct {
	Kind           string `json:"kind"` // pull_request, push, baseline, merge_group, deployment
	DeliveryID     string `json:"delivery_id"`
	InstallationID int64  `json:"installation_id,omitempty"`
	Trigger        string `json:"trigger,omitempty"` // who re-ran, or what
	PullRequest    int    `json:"pull_request,omitempty"`
}

// Commit is what was judged.
type Commit struct {
	Head          string `json:"head"`
	Base          string `json:"base,omitempty"`
	HeadRef       string `json:"head_ref,omitempty"`
	BaseRef       string `json:"base_ref,omitempty"`
	DefaultBranch string `json:"default_branch,omitempty"`
}

// Policy is the policy the verdict applied.
type Policy struct {
	// SHA256 is the hash of Content; check runs show its first 12 digits.
	SHA256  string   `json:"sha256,omitempty"`
	Sources []string `json:"sources"`
	// Content is the resolved policy's canonical JSON, as a string: the
	// exact bytes SHA256 is the hash of.
	Content string `json:"content,omitempty"`
}

// Check is one check's verdict.
type Check struct {
	Name       string         `json:"name"`
	Mode       string         `json:"mode"`
	Conclusion string         `json:"conclusion"`
	Title      string         `json:"title"`
	CheckRunID int64          `json:"check_run_id,omitempty"`
	Engine     *checks.Engine `json:"engine,omitempty"`
	Scope      *checks.Scope  `json:"scope,omitempty"`
	Findings   []Finding      `json:"findings"`
	// Exceptions are the findings an exception, ignore file or inline
	// comment suppressed, with the reason (owner and expiry included).
	Exceptions []Exception `json:"exceptions,omitempty"`
	// Pending are suppressions the change brought for its own findings
	// that wait for an approval (the findings are judged unsuppressed).
	Pending []Exception `json:"pending_approval,omitempty"`
	// CustomChecks are the custom Rego checks the scan was given (iac),
	// each with the SHA-256 of its content and whether it ran.
	CustomChecks []CustomCheck `json:"custom_checks,omitempty"`
	Notes        []string      `json:"notes,omitempty"`
	Error        string        `json:"error,omitempty"`
}

// CustomCheck is one custom check as recorded.
type CustomCheck struct {
	Name     string `json:"name"`
	Origin   string `json:"origin"`           // org or repo
	SHA256   string `json:"sha256,omitempty"` // of the file's content
	ID       string `json:"id,omitempty"`     // custom.id; empty for a library
	Applied  bool   `json:"applied"`
	Rejected string `json:"rejected,omitempty"`
	Line     int    `json:"line,omitempty"`
}

// Finding is a finding as recorded: an explicit list of fields, so a field
// added to checks.Finding later never reaches the evidence unreviewed.
type Finding struct {
	RuleID      string `json:"rule_id"`
	Severity    string `json:"severity"`
	Title       string `json:"title"`
	Message     string `json:"message,omitempty"`
	File        string `json:"file"`
	StartLine   int    `json:"start_line,omitempty"`
	EndLine     int    `json:"end_line,omitempty"`
	Commit      string `json:"commit,omitempty"`
	Match       string `json:"match,omitempty"` // redacted by the scanner
	Fingerprint string `json:"fingerprint"`
	Status      string `json:"status,omitempty"` // new or existing
	Blocking    bool   `json:"blocking"`
	Reason      string `json:"reason,omitempty"`
	Package     string `json:"package,omitempty"`
	Installed   string `json:"installed_version,omitempty"`
	Fixed       string `json:"fixed_version,omitempty"`
	URL         string `json:"url,omitempty"`
	// CustomCheck names the custom check that reported the finding.
	CustomCheck string `json:"custom_check,omitempty"`
}

// Exception is a suppressed finding and why it was suppressed.
type Exception struct {
	Finding Finding `json:"finding"`
	Reason  string  `json:"reason"`
	// FromChange marks a suppression the judged change brought for its own
	// finding; ApprovedBy names who approved it.
	FromChange bool   `json:"from_change,omitempty"`
	ApprovedBy string `json:"approved_by,omitempty"`
}

// VulnDB is the vulnerability database the dependencies check used.
type VulnDB struct {
	UpdatedAt time.Time `json:"updated_at"`
}

// SBOM describes the CycloneDX document stored beside the record.
type SBOM struct {
	Format      string `json:"format,omitempty"` // "CycloneDX"
	SpecVersion string `json:"spec_version,omitempty"`
	Components  int    `json:"components"`
	Bytes       int    `json:"bytes"`
	SHA256      string `json:"sha256,omitempty"` // of the uncompressed JSON
	// Error says why the scanner's SBOM was not stored (not CycloneDX).
	Error string `json:"error,omitempty"`
}

// Timings say when the scan ran.
type Timings struct {
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	DurationMS int64     `json:"duration_ms"`
}

// Input is what the worker knows once a scan is decided.
type Input struct {
	// ID is the record's id (32 hex digits), normally left empty: Record
	// derives it from the scan (Recorder.ID), which the planner can do too
	// for the details URL.
	ID       string
	Scan     jobs.Scan
	Verdicts []checks.Verdict
	Results  []*checks.Result
	// PolicyCanonical is policy.Policy.Canonical(); PolicySources names its
	// layers. Both are empty when the policy could not be read.
	PolicyCanonical []byte
	PolicySources   []string
	// DBUpdatedAt is the vulnerability DB's date (zero when unknown).
	DBUpdatedAt time.Time
	// Version is gatehouse's version.
	Version           string
	Started, Finished time.Time
	// Deployment is set for a deployment protection rule's decision.
	Deployment *Deployment
}

// Overall is the decision of a set of verdicts: failure if any check
// fails, else neutral if any is neutral, else success if any succeeded,
// else skipped.
func Overall(vs []checks.Verdict) string {
	rank := map[checks.Conclusion]int{checks.ConclusionSkipped: 1, checks.ConclusionSuccess: 2, checks.ConclusionNeutral: 3, checks.ConclusionFailure: 4}
	best := checks.ConclusionSkipped
	for _, v := range vs {
		if rank[v.Conclusion] > rank[best] {
			best = v.Conclusion
		}
	}
	return string(best)
}

// build turns the input into a record, without its chain fields.
func build(in Input, id string, now time.Time) *Record {
	s := in.Scan
	r := &Record{
		Schema: SchemaVersion, ID: id, Repository: s.Repo, RecordedAt: micro(now), Gatehouse: in.Version,
		Event:    Event{Kind: s.Kind, DeliveryID: s.DeliveryID, InstallationID: s.InstallationID, Trigger: s.Trigger, PullRequest: s.PRNumber},
		Commit:   Commit{Head: s.HeadSHA, Base: s.BaseSHA, HeadRef: s.HeadRef, BaseRef: s.BaseRef, DefaultBranch: s.DefaultBranch},
		Policy:   Policy{Sources: slices.Clone(in.PolicySources)},
		Decision: Overall(in.Verdicts),
		Checks:   []Check{},
		Timings:  Timings{StartedAt: micro(in.Started), FinishedAt: micro(in.Finished), DurationMS: in.Finished.Sub(in.Started).Milliseconds()},
	}
	if in.Deployment != nil {
		d := *in.Deployment
		r.Deployment = &d
	}
	if r.Policy.Sources == nil {
		r.Policy.Sources = []string{}
	}
	if len(in.PolicyCanonical) > 0 {
		r.Policy.SHA256 = sha256Hex(in.PolicyCanonical)
		r.Policy.Content = string(in.PolicyCanonical)
	}
	for _, v := range in.Verdicts {
		res := findResult(in.Results, v.Check)
		c := Check{
			Name: v.Check, Mode: v.Mode, Conclusion: string(v.Conclusion), Title: v.Title,
			CheckRunID: s.CheckRuns[v.Check], Findings: []Finding{}, Notes: v.Notes, Error: v.Error,
		}
		if res != nil {
			e, sc := res.Engine, res.Scope
			c.Engine, c.Scope = &e, &sc
			for _, cc := range res.Custom {
				c.CustomChecks = append(c.CustomChecks, CustomCheck{
					Name: cc.Name, Origin: cc.Origin, SHA256: cc.SHA256, ID: cc.ID,
					Applied: cc.Rejected == "", Rejected: cc.Rejected, Line: cc.Line,
				})
			}
		}
		for _, f := range v.Findings {
			rf := finding(v.Check, f.Finding)
			rf.Status, rf.Blocking, rf.Reason = string(f.Status), f.Blocking, f.Reason
			c.Findings = append(c.Findings, rf)
		}
		c.Exceptions = exceptions(v.Check, v)
		c.Pending = pending(v.Check, v)
		r.Checks = append(r.Checks, c)
		if v.Check == checks.Dependencies && !in.DBUpdatedAt.IsZero() {
			r.VulnDB = &VulnDB{UpdatedAt: micro(in.DBUpdatedAt)}
		}
	}
	return r
}

// finding copies the fields a record keeps. A secret's message is left
// out: its rule, location and redacted match say all there is, and
// nothing a scanner wrote there can then reach the evidence.
func finding(check string, f checks.Finding) Finding {
	msg := f.Message
	if check == checks.Secrets || f.Check == checks.Secrets {
		msg = ""
	}
	return Finding{
		RuleID: f.RuleID, Severity: f.Severity.String(), Title: f.Title, Message: msg, File: f.File,
		StartLine: f.StartLine, EndLine: f.EndLine, Commit: f.Commit, Match: f.Match, Fingerprint: f.Fingerprint,
		Package: f.Remediation.Package, Installed: f.Remediation.InstalledVersion, Fixed: f.Remediation.FixedVersion,
		URL: f.Remediation.URL, CustomCheck: f.Custom,
	}
}

// exceptions is the union of what the scanner and the policy suppressed,
// each once.
func exceptions(check string, v checks.Verdict) []Exception {
	seen := map[string]bool{}
	var out []Exception
	for _, s := range v.Suppressed {
		f := s.Finding
		key := strings.Join([]string{f.Fingerprint, f.RuleID, f.File, strconv.Itoa(f.StartLine), f.Commit, s.Reason}, "\x00")
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, Exception{Finding: finding(check, f), Reason: s.Reason, FromChange: s.FromChange, ApprovedBy: s.ApprovedBy})
	}
	return out
}

// pending lists the suppressions the change brings that wait for an
// approval: their findings were judged as if unsuppressed.
func pending(check string, v checks.Verdict) []Exception {
	var out []Exception
	for _, s := range v.Pending {
		out = append(out, Exception{Finding: finding(check, s.Finding), Reason: s.Reason, FromChange: true})
	}
	return out
}

func findResult(results []*checks.Result, check string) *checks.Result {
	for _, r := range results {
		if r != nil && r.Check == check {
			return r
		}
	}
	return nil
}

// micro is t in UTC at microsecond precision, what both databases keep.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}
