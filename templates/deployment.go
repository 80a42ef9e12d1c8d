package templates

import (
	"github.com/gatehouse/gatehouse/checks"
)

// MaxDeploymentRows bounds the blocking findings a deployment answer
// lists; the evidence holds them all.
const MaxDeploymentRows = 10

// DeploymentData is what a deployment protection rule answer says.
type DeploymentData struct {
	Approved    bool
	Environment string
	SHA         string
	// Overlay is true when the policy has an environments.<name> entry
	// for the environment.
	Overlay    bool
	PolicyHash string
	Verdicts   []checks.Verdict
	// Scanned says the commit had no verdict and was scanned for this
	// deployment.
	Scanned bool
	// EvidenceID names the deployment's evidence record; DetailsURL links
	// the commit's details page ("" without GATEHOUSE_PUBLIC_URL).
	EvidenceID string
	DetailsURL string

	Failing []DeploymentCheck // filled by Deployment
	Omitted int
}

// DeploymentCheck is a check that blocks the deployment and what blocks.
type DeploymentCheck struct {
	Check    string
	Title    string
	Blocking []checks.Evaluated
}

// Deployment renders the comment of a deployment protection rule answer:
// the decision, and for a rejection each failing check with what blocks
// (rule, file, package and fixed version), at most MaxDeploymentRows
// findings in all.
func Deployment(d DeploymentData) (string, error) {
	rows := 0
	for _, v := range d.Verdicts {
		if v.Conclusion != checks.ConclusionFailure {
			continue
		}
		fc := DeploymentCheck{Check: v.Check, Title: v.Title}
		found := append([]checks.Evaluated(nil), v.Findings...)
		checks.SortEvaluated(found)
		for _, f := range found {
			if !f.Blocking {
				continue
			}
			if rows == MaxDeploymentRows {
				d.Omitted++
				continue
			}
			fc.Blocking = append(fc.Blocking, f)
			rows++
		}
		d.Failing = append(d.Failing, fc)
	}
	out, err := render("deployment.md.tmpl", &d)
	if err != nil {
		return "", err
	}
	return hardCut(out, MaxCommentBody, commentCutNote), nil
}
