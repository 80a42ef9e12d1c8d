package templates

import (
	"bytes"
	_ "embed" // the details page template
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

// detailsText is a check run's details page: one verdict's evidence, as
// HTML rendered with html/template, so everything it shows (finding
// titles, paths, reasons, all from the scanned repository) is escaped for
// its context. It loads nothing from elsewhere.
//
//go:embed details.html.tmpl
var detailsText string

var detailsTmpl = htmltemplate.Must(htmltemplate.New("details.html.tmpl").Funcs(htmltemplate.FuncMap{
	"short": func(sha string) string {
		if len(sha) > 7 {
			return sha[:7]
		}
		return sha
	},
	"bytes": humanBytes,
	"fix":   FixText,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "unknown"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"join": strings.Join,
	"kind": func(k string) string {
		switch k {
		case "pull_request":
			return "pull request"
		case "baseline":
			return "baseline of the default branch"
		case "merge_group":
			return "merge queue group"
		case "deployment":
			return "deployment"
		}
		return k
	},
}).Parse(detailsText))

// DetailsData is everything a details page shows: one recorded verdict.
type DetailsData struct {
	ID         string
	Repository string // owner/name
	Kind       string // pull_request, push, baseline, merge_group, deployment
	PRNumber   int
	DeliveryID string
	Trigger    string
	HeadSHA    string
	BaseSHA    string
	HeadRef    string
	Decision   string // overall conclusion
	RecordedAt time.Time
	Version    string // gatehouse's version
	// Policy is the policy applied: its SHA-256, layers and canonical JSON.
	PolicySHA256  string
	PolicySources []string
	PolicyContent string
	DBUpdatedAt   time.Time // zero when no dependencies scan ran
	Checks        []DetailsCheck
	SBOM          *DetailsSBOM // nil when the commit has none
	// AttestationsURL serves the verdict's signed in-toto attestations
	// ("" when it was recorded unsigned); SigningKeyID names their key.
	AttestationsURL string
	SigningKeyID    string
	// Seq, Hash and PrevHash place the record in its repository's chain.
	Seq            int64
	Hash, PrevHash string
	Duration       time.Duration
	// Deployment is set on a deployment protection rule's decision.
	Deployment *DetailsDeployment
}

// DetailsDeployment is a deployment decision as the page shows it.
type DetailsDeployment struct {
	Environment string
	State       string // approved or rejected
	WorkflowRun int64
	Overlay     bool   // the policy had environments.<name>
	FromKind    string // the scan decided again: pull_request, push, merge_group
}

// DetailsCheck is one check's verdict on the details page.
type DetailsCheck struct {
	Name, Mode, Conclusion, Title, Error string
	Engine                               *checks.Engine
	Scope                                *checks.Scope
	Findings                             []checks.Evaluated
	Exceptions                           []checks.Suppressed
	Notes                                []string
}

// DetailsSBOM is the commit's SBOM as the page links it.
type DetailsSBOM struct {
	URL         string // where the CycloneDX JSON is served
	SpecVersion string
	Components  int
	SHA256      string
	Error       string // why the scanner's SBOM was not kept
}

// Details renders a details page. Findings are listed as check runs list
// them (blocking first, then the worst); the policy's JSON is indented for
// reading.
func Details(d DetailsData) ([]byte, error) {
	d.Checks = slices.Clone(d.Checks)
	for i := range d.Checks {
		c := &d.Checks[i]
		c.Findings = slices.Clone(c.Findings)
		checks.SortEvaluated(c.Findings)
	}
	var pretty bytes.Buffer
	if d.PolicyContent != "" && json.Indent(&pretty, []byte(d.PolicyContent), "", "  ") == nil {
		d.PolicyContent = pretty.String()
	}
	var b bytes.Buffer
	if err := detailsTmpl.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("render details page: %w", err)
	}
	return b.Bytes(), nil
}
