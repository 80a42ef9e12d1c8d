package verdict

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
)

// Where a repository keeps its gatehouse settings.
const (
	PolicyPath = ".github/gatehouse.yml"
	ChecksDir  = ".github/gatehouse/checks"
)

// Decision is what the policy made of a scan.
type Decision struct {
	Verdicts      []checks.Verdict `json:"verdicts"`
	PolicyHash    string           `json:"policy_hash,omitempty"`
	PolicySources []string         `json:"policy_sources,omitempty"`
	// PolicyCanonical is the resolved policy's canonical JSON (nil when
	// the policy could not be read), for the evidence.
	PolicyCanonical []byte        `json:"-"`
	Report          policy.Report `json:"-"`
	// FromChange is the digest of the suppressions the change brings for
	// its own findings ("" when it brings none): an approval applies to
	// exactly this set, so a later push that changes it needs another.
	FromChange string `json:"from_change,omitempty"`
	// Approvers are who may approve them (the policy's
	// suppressions.approvers; empty: any writer but the author).
	Approvers []string `json:"-"`
}

// Approval is an approval of the suppressions a change brings.
type Approval struct {
	By     string `json:"by"`     // the approver's login
	Digest string `json:"digest"` // Decision.FromChange it approved
}

// Input is what Decide judges.
type Input struct {
	Scanned *Scanned
	// Policy is the resolved policy; PolicyErr, when set, is why it could
	// not be read (a policy file that does not parse fails every check
	// with the file, line and problem: never a fallback to a weaker one).
	Policy    *policy.Policy
	PolicyErr error
	// Approvals of the change's suppressions, as the caller verified them
	// (who may approve is the caller's to check): one whose digest is the
	// scan's applies them.
	Approvals []Approval
	Now       time.Time
}

// Decide applies the policy to a scan. It is pure.
func Decide(in Input) *Decision {
	s := in.Scanned
	if in.PolicyErr != nil || in.Policy == nil {
		err := in.PolicyErr
		if err == nil {
			err = errors.New("no policy")
		}
		return &Decision{Verdicts: policyFailure(s.Checks, err)}
	}
	pol := in.Policy
	errs := map[string]error{}
	for c, msg := range s.Head.Errors {
		errs[c] = errors.New(msg)
	}
	for _, c := range s.Checks {
		if _, ok := errs[c]; !ok && s.Head.Result(c) == nil {
			errs[c] = errors.New("the scan returned no result")
		}
	}
	var base policy.Base
	if s.Base != nil {
		// Secrets are compared by commit range, not by tree: the base
		// holds no secrets results, so every secret in the range is new.
		base = policy.BaseOf(s.Base.Results...)
	}
	digest := fromChangeDigest(s.Head)
	approvedBy := ""
	for _, a := range in.Approvals {
		if digest != "" && a.Digest == digest {
			approvedBy = a.By
			break
		}
	}
	verdicts := policy.Evaluate(policy.Input{Policy: pol, Results: s.Head.Results, Base: base, Errors: errs, Now: in.Now, ApprovedBy: approvedBy})
	addChangeNotes(verdicts, s.Changed)
	var sources []string
	for _, f := range pol.Sources() {
		sources = append(sources, fmt.Sprintf("%s (%s)", f.Source, f.Name))
	}
	return &Decision{
		Verdicts: verdicts, PolicyHash: pol.ShortHash(), PolicySources: sources, PolicyCanonical: pol.Canonical(),
		Report: pol.Report(), FromChange: digest, Approvers: pol.Suppressions().Approvers,
	}
}

// fromChangeDigest hashes the suppressions a change brings for its own
// findings: check, fingerprint, how and why. "" when there are none.
func fromChangeDigest(head *checks.Response) string {
	var lines []string
	for _, r := range head.Results {
		for _, s := range r.Suppressed {
			if s.FromChange {
				lines = append(lines, strings.Join([]string{r.Check, s.Finding.Fingerprint, s.Via, s.Reason}, "\x00"))
			}
		}
	}
	if len(lines) == 0 {
		return ""
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])
}

// addChangeNotes says when the change edits what judges it: the policy
// file and custom checks are read from the base, so an edit takes effect
// after merge.
func addChangeNotes(verdicts []checks.Verdict, changed []string) {
	if slices.Contains(changed, PolicyPath) {
		for i := range verdicts {
			verdicts[i].Notes = append(verdicts[i].Notes, "This change edits "+PolicyPath+": the edit takes effect after merge. "+
				"Policy is always read from the base, so a change cannot change the rules it is judged by.")
		}
	}
	var edited []string
	for _, f := range changed {
		if path.Dir(f) == ChecksDir && checks.IsCustomCheckFile(path.Base(f)) {
			edited = append(edited, f)
		}
	}
	if len(edited) > 0 {
		for i := range verdicts {
			if verdicts[i].Check == checks.IaC {
				verdicts[i].Notes = append(verdicts[i].Notes, "This change edits custom checks ("+strings.Join(edited, ", ")+"): the edit takes effect after merge. "+
					"Custom checks are read from the base, so a change cannot add, change or remove the checks it is judged by.")
			}
		}
	}
}

// policyFailure fails every check because the policy could not be read.
func policyFailure(names []string, err error) []checks.Verdict {
	var out []checks.Verdict
	title := "Policy file error: " + err.Error()
	if len(title) > 200 {
		title = title[:197] + "..."
	}
	for _, c := range names {
		out = append(out, checks.Verdict{
			Check: c, Mode: string(policy.ModeBlock), Conclusion: checks.ConclusionFailure,
			Title: title, Error: "the policy could not be read, so nothing was judged: " + err.Error() + ". Fix the file; gatehouse never falls back to a weaker policy.",
		})
	}
	return out
}
