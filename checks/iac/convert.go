package iac

import (
	"cmp"
	"path"
	"strings"

	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"github.com/aquasecurity/trivy/pkg/iac/scan"

	"github.com/gatehouse/gatehouse/checks"
)

// avdURL is where trivy links its built-in checks (as the trivy CLI's
// PrimaryURL does).
const avdURL = "https://avd.aquasec.com/misconfig/"

// converted is one trivy result in gatehouse's terms, with the ids an
// ignore entry may name it by.
type converted struct {
	finding   checks.Finding
	key       string // the fingerprint's content key
	ids       []string
	status    scan.Status
	namespace string // the Rego package of the check that reported it
}

// convert turns a trivy result into a finding. The rule id is the check's ID
// as trivy v0.72 reports it ("AWS-0107", "KSV-0017", "DS-0002"); the older
// AVD ids ("AVD-AWS-0107") are aliases, still honoured by ignores.
func convert(r scan.Result) converted {
	flat := r.Flatten()
	rule := r.Rule()
	//lint:ignore SA1019 trivy still matches ignore entries against the AVD id, and older custom checks set only it.
	avdID := rule.AVDID
	id := cmp.Or(rule.ID, avdID)
	file := path.Clean(strings.TrimPrefix(strings.ReplaceAll(flat.Location.Filename, "\\", "/"), "/"))
	sev, err := checks.ParseSeverity(string(flat.Severity))
	if err != nil {
		sev = checks.SeverityUnknown
	}
	f := checks.Finding{
		Check:     checks.IaC,
		RuleID:    id,
		Severity:  sev,
		Title:     rule.Summary,
		Message:   strings.TrimSpace(flat.Description),
		File:      file,
		StartLine: flat.Location.StartLine,
		EndLine:   flat.Location.EndLine,
		Remediation: checks.Remediation{
			Text: strings.TrimSpace(flat.Resolution),
			URL:  primaryURL(r.RegoNamespace(), id, flat.Links),
		},
	}
	if f.EndLine < f.StartLine {
		f.EndLine = f.StartLine
	}
	key := checks.NormalizeContent(contentKey(r, flat))
	f.Fingerprint = checks.Fingerprint(checks.IaC, id, file, key)

	// The ids trivy matches .trivyignore entries against.
	ids := append([]string{rule.ID, avdID}, rule.Aliases...)
	return converted{finding: f, key: key, ids: nonEmpty(ids), status: r.Status(), namespace: r.RegoNamespace()}
}

// primaryURL is the check's page for built-in checks, else its first link.
func primaryURL(namespace, id string, links []string) string {
	if namespace == "" || rego.IsBuiltinNamespace(namespace) {
		return avdURL + strings.ToLower(id)
	}
	if len(links) > 0 {
		return links[0]
	}
	return ""
}

// contentKey is what identifies a finding inside its file without its
// position: the chain of addresses trivy reports for the cause (attribute,
// resource, calling module: "ingress.cidr_blocks", "aws_security_group.ssh";
// ARM addresses are positions in the resources array, "resources[0]")
// and trivy's message, which names the offending container, workload,
// instruction or value where there is no address ("Container 'web' of
// Deployment 'web' should set ..."). The cause's code is left out on
// purpose: for Kubernetes it is the whole container block, and an image bump
// must not make every finding on that container look new. Identical keys in
// one file are told apart by Run with an ordinal.
func contentKey(r scan.Result, flat scan.FlatResult) string {
	var parts []string
	if ref := r.Metadata().Reference(); !positional(ref, flat.Location.Filename) {
		parts = append(parts, ref)
	}
	for _, o := range flat.Occurrences {
		if !positional(o.Resource, o.Filename) {
			parts = append(parts, o.Resource)
		}
	}
	parts = append(parts, strings.TrimSpace(flat.Description))
	return strings.Join(parts, "\n")
}

// positional reports references that are no address at all: empty, or the
// "file:12-18" some adapters (CloudFormation) use when a value has none.
// Those carry line numbers and would tie the fingerprint to a position.
func positional(ref, file string) bool {
	return ref == "" || ref == file || strings.HasPrefix(ref, file+":")
}

func nonEmpty(ss []string) []string {
	out := ss[:0]
	seen := make(map[string]bool)
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
