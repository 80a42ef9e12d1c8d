package format

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/gatehouse/gatehouse/checks"
)

// SARIF vocabulary gatehouse uses.
const (
	// SARIFSrcRoot is the uriBaseId of every location: paths are relative
	// to the scanned checkout's root.
	SARIFSrcRoot = "%SRCROOT%"
	// SARIFFingerprintKey names gatehouse's line-independent fingerprint
	// in partialFingerprints.
	SARIFFingerprintKey = "gatehouse/v1"
)

// SecuritySeverity is the "security-severity" rule property GitHub code
// scanning ranks alerts by (a CVSS-like score as a string); info and
// unknown get none.
func SecuritySeverity(s checks.Severity) string {
	switch s {
	case checks.SeverityCritical:
		return "9.5"
	case checks.SeverityHigh:
		return "8.0"
	case checks.SeverityMedium:
		return "5.5"
	case checks.SeverityLow:
		return "2.0"
	}
	return ""
}

// SARIF writes r as a SARIF 2.1.0 log with one run per check that ran or
// failed (checks the policy turned off have no run), built with go-sarif's
// object model:
//
//   - tool.driver is "gatehouse/<check>", the engine is tool.extensions[0]
//     (name, version, data version in its properties);
//   - automationDetails.id is "gatehouse/<check>/", so code scanning keeps
//     one analysis category per check;
//   - a result's level is error when it blocks, note for info findings,
//     warning otherwise; baselineState is new or unchanged (existing);
//     partialFingerprints["gatehouse/v1"] is the finding's fingerprint;
//   - a failed scan is a run with invocations[0].executionSuccessful false,
//     the error as a toolExecutionNotification and no results, which SARIF
//     consumers read as "incomplete", not "clean".
//
// Suppressed findings are not emitted as results: code scanning does not
// honour result.suppressions everywhere and would open alerts for findings
// the user suppressed (and go-sarif writes a suppression's optional fields
// as null, which the schema rejects). They are listed, with their reason, in
// the run's properties["suppressed"] instead, so they are still counted.
func SARIF(w io.Writer, r *Report) error {
	cvs, err := views(r)
	if err != nil {
		return err
	}
	log, err := sarif.New(sarif.Version210, true)
	if err != nil {
		return fmt.Errorf("build sarif log: %w", err)
	}
	for _, cv := range cvs {
		if cv.verdict.Conclusion == checks.ConclusionSkipped && cv.result == nil {
			continue
		}
		log.AddRun(sarifRun(r, cv))
	}
	b, err := marshalIndent(log)
	if err != nil {
		return fmt.Errorf("encode sarif log: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write sarif log: %w", err)
	}
	return nil
}

func sarifRun(r *Report, cv checkView) *sarif.Run {
	v := cv.verdict
	driver := sarif.NewDriver("gatehouse/" + v.Check)
	if r.ToolVersion != "" {
		driver.WithVersion(r.ToolVersion)
	}
	tool := sarif.Tool{Driver: driver}
	if cv.result != nil && cv.result.Engine.Name != "" {
		e := cv.result.Engine
		ext := sarif.NewDriver(e.Name) // NewDriver: go-sarif writes nil rules as null
		if e.Version != "" {
			ext.WithVersion(e.Version)
		}
		if e.DataVersion != "" {
			ext.Properties = sarif.Properties{"data_version": e.DataVersion}
		}
		tool.AddExtension(ext)
	}
	run := sarif.NewRun(tool)
	run.WithAutomationDetails(sarif.NewRunAutomationDetails().WithID("gatehouse/" + v.Check + "/"))

	for _, rule := range sarifRules(v.Check, cv.findings) {
		driver.AddRule(rule)
	}
	for i := range cv.findings {
		run.AddResult(sarifResult(&cv.findings[i]))
	}
	run.AddInvocations(sarifInvocation(cv))
	run.Properties = sarifRunProperties(r, cv)
	return run
}

// sarifRules describes each rule the check's findings hit, sorted by id.
// A rule's default level and security-severity follow the worst finding
// of that rule; its description and help come from the first finding (in
// location order) that has them.
func sarifRules(check string, fs []checks.Evaluated) []*sarif.ReportingDescriptor {
	byID := map[string][]*checks.Finding{}
	var ids []string
	for i := range fs {
		f := &fs[i].Finding
		if _, ok := byID[f.RuleID]; !ok {
			ids = append(ids, f.RuleID)
		}
		byID[f.RuleID] = append(byID[f.RuleID], f)
	}
	slices.Sort(ids)
	rules := make([]*sarif.ReportingDescriptor, 0, len(ids))
	for _, id := range ids {
		var title, helpText, helpURI string
		worst := checks.SeverityUnknown
		for _, f := range byID[id] {
			worst = max(worst, f.Severity)
			title = cmpOr(title, f.Title)
			helpText = cmpOr(helpText, f.Remediation.Text)
			helpURI = cmpOr(helpURI, f.Remediation.URL)
		}
		rule := sarif.NewRule(id).WithShortDescription(sarif.NewMultiformatMessageString(cmpOr(title, id)))
		help := cmpOr(helpText, title, id)
		if helpURI != "" {
			rule.WithHelpURI(helpURI)
			help += "\n" + helpURI
		}
		rule.WithTextHelp(help)
		rule.WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(ruleLevel(worst)))
		props := sarif.Properties{"tags": []string{"security", check}, "severity": worst.String()}
		if ss := SecuritySeverity(worst); ss != "" {
			props["security-severity"] = ss
		}
		rule.WithProperties(props)
		rules = append(rules, rule)
	}
	return rules
}

func sarifResult(e *checks.Evaluated) *sarif.Result {
	f := &e.Finding
	res := sarif.NewRuleResult(f.RuleID).
		WithLevel(resultLevel(e)).
		WithMessage(sarif.NewTextMessage(resultMessage(f)))
	if f.File != "" {
		loc := sarif.NewArtifactLocation().WithUri(fileURI(f.File)).WithUriBaseId(SARIFSrcRoot)
		phys := sarif.NewPhysicalLocation().WithArtifactLocation(loc)
		if f.StartLine > 0 {
			region := sarif.NewRegion().WithStartLine(f.StartLine)
			if f.EndLine >= f.StartLine {
				region.WithEndLine(f.EndLine)
			}
			phys.WithRegion(region)
		}
		res.AddLocation(sarif.NewLocationWithPhysicalLocation(phys))
	}
	if f.Fingerprint != "" {
		res.WithPartialFingerPrints(map[string]any{SARIFFingerprintKey: f.Fingerprint})
	}
	switch e.Status {
	case checks.StatusNew:
		res.WithBaselineState("new")
	case checks.StatusExisting:
		res.WithBaselineState("unchanged")
	}
	props := sarif.Properties{
		"status":   string(e.Status),
		"severity": f.Severity.String(),
		"blocking": e.Blocking,
	}
	for k, val := range map[string]string{
		"reason":            e.Reason,
		"commit":            f.Commit,
		"package":           f.Remediation.Package,
		"installed_version": f.Remediation.InstalledVersion,
		"fixed_version":     f.Remediation.FixedVersion,
	} {
		if val != "" {
			props[k] = val
		}
	}
	res.Properties = props
	return res
}

// resultMessage is what code scanning shows for a result: the finding's
// message (or title), then the redacted match, the commit and the fix.
func resultMessage(f *checks.Finding) string {
	parts := []string{strings.TrimSuffix(cmpOr(f.Message, f.Title, f.RuleID), ".") + "."}
	if f.Match != "" {
		parts = append(parts, "Match: "+f.Match+".")
	}
	if f.Commit != "" {
		parts = append(parts, "Commit: "+f.Commit+".")
	}
	if fix := fixText(f); fix != "" {
		parts = append(parts, "Fix: "+fix+".")
	}
	return strings.Join(parts, " ")
}

func sarifInvocation(cv checkView) *sarif.Invocation {
	inv := sarif.NewInvocation().WithExecutionSuccess(cv.verdict.Error == "" && cv.result != nil)
	note := func(level, text string) {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications,
			&sarif.Notification{Level: level, Message: sarif.NewTextMessage(text)})
	}
	if cv.verdict.Error != "" {
		note("error", cv.verdict.Error)
	} else if cv.result == nil {
		note("error", "the check produced no result")
	}
	if cv.result != nil {
		for _, sk := range cv.result.Scope.Skipped {
			note("warning", "skipped "+sk.Path+": "+sk.Reason)
		}
		for _, n := range cv.result.Scope.Notes {
			note("note", n)
		}
	}
	for _, n := range cv.verdict.Notes {
		note("note", n)
	}
	return inv
}

// sarifRunProperties records what SARIF has no field for: the verdict, the
// scanned range, the policy, the scope and the suppressed findings.
func sarifRunProperties(r *Report, cv checkView) sarif.Properties {
	v := cv.verdict
	props := sarif.Properties{
		"conclusion": string(v.Conclusion),
		"title":      v.Title,
		"blocking":   v.Blocking(),
	}
	add := func(k, val string) {
		if val != "" {
			props[k] = val
		}
	}
	add("mode", v.Mode)
	add("base", r.Base)
	add("head", r.Head)
	add("policy_hash", r.PolicyHash)
	if cv.result != nil {
		props["scope"] = cv.result.Scope
	}
	if len(cv.suppressed) > 0 {
		props["suppressed"] = cv.suppressed
	}
	return props
}

// resultLevel: error when the finding blocks, note for info, else warning.
func resultLevel(e *checks.Evaluated) string {
	switch {
	case e.Blocking:
		return "error"
	case e.Severity <= checks.SeverityInfo:
		return "note"
	}
	return "warning"
}

// ruleLevel is a rule's default level, from its worst severity (the
// policy may still make a finding of it block or not).
func ruleLevel(s checks.Severity) string {
	switch {
	case s >= checks.SeverityHigh:
		return "error"
	case s >= checks.SeverityLow:
		return "warning"
	}
	return "note"
}

// fileURI turns a slash-separated relative path into a relative URI
// reference, escaping what a URI cannot hold (spaces, '#', '%', '?').
func fileURI(path string) string {
	return (&url.URL{Path: path}).String()
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
