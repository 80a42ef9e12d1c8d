package deps

import (
	"fmt"
	"path"
	"sort"
	"strings"

	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/types"

	"github.com/gatehouse/gatehouse/checks"
)

// maxMessage caps the advisory description quoted in a finding's message.
const maxMessage = 400

// toFindings turns trivy's results into findings, ordered by file, line,
// package and rule.
func toFindings(results types.Results) []checks.Finding {
	var out []checks.Finding
	for _, r := range results {
		locs := packageLocations(r)
		for _, v := range r.Vulnerabilities {
			out = append(out, toFinding(r.Target, v, locs))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case a.File != b.File:
			return a.File < b.File
		case a.StartLine != b.StartLine:
			return a.StartLine < b.StartLine
		case a.Remediation.Package != b.Remediation.Package:
			return a.Remediation.Package < b.Remediation.Package
		}
		return a.RuleID < b.RuleID
	})
	return out
}

// toFinding normalizes one detected vulnerability of the lockfile target.
func toFinding(target string, v types.DetectedVulnerability, locs map[string]ftypes.Location) checks.Finding {
	file := path.Clean(strings.ReplaceAll(target, "\\", "/"))
	pkg := v.PkgName
	title := v.Title
	if title == "" {
		title = fmt.Sprintf("%s@%s: %s", pkg, v.InstalledVersion, v.VulnerabilityID)
	}
	//lint:ignore SA1019 trivy's FillInfo writes the severity it selected here (the field trivy's own reports print).
	sev, err := checks.ParseSeverity(v.Severity)
	if err != nil {
		sev = checks.SeverityUnknown
	}
	f := checks.Finding{
		Check:       checks.Dependencies,
		RuleID:      v.VulnerabilityID,
		Severity:    sev,
		Title:       title,
		Message:     message(v),
		File:        file,
		Fingerprint: checks.Fingerprint(checks.Dependencies, v.VulnerabilityID, file, pkg+"@"+v.InstalledVersion),
		Remediation: checks.Remediation{
			Text:             remediationText(pkg, v.FixedVersion),
			URL:              v.PrimaryURL,
			Package:          pkg,
			InstalledVersion: v.InstalledVersion,
			FixedVersion:     v.FixedVersion,
		},
	}
	if loc, ok := locs[pkgKey(v.PkgIdentifier.UID, v.PkgID, v.PkgName, v.InstalledVersion)]; ok {
		f.StartLine, f.EndLine = loc.StartLine, loc.EndLine
	}
	return f
}

// message says what is affected and quotes the start of the advisory.
func message(v types.DetectedVulnerability) string {
	msg := fmt.Sprintf("%s %s is affected by %s", v.PkgName, v.InstalledVersion, v.VulnerabilityID)
	if v.FixedVersion != "" {
		msg += fmt.Sprintf(", fixed in %s", v.FixedVersion)
	}
	msg += "."
	if d := strings.Join(strings.Fields(v.Description), " "); d != "" {
		if r := []rune(d); len(r) > maxMessage {
			d = string(r[:maxMessage]) + "…"
		}
		msg += " " + d
	}
	return msg
}

// remediationText tells the user what to do about a vulnerable package.
func remediationText(pkg, fixed string) string {
	if fixed == "" {
		return fmt.Sprintf("no fixed version of %s is known yet: remove or replace it, or record an exception", pkg)
	}
	return fmt.Sprintf("upgrade %s to %s", pkg, fixed)
}

// packageLocations maps each package of a result to its first location in
// the lockfile (trivy gives lines for npm, pip, yarn, poetry... not go.mod).
func packageLocations(r types.Result) map[string]ftypes.Location {
	m := make(map[string]ftypes.Location)
	for _, p := range r.Packages {
		if len(p.Locations) == 0 {
			continue
		}
		m[pkgKey(p.Identifier.UID, p.ID, p.Name, p.Version)] = p.Locations[0]
	}
	return m
}

// pkgKey identifies a package within one result: trivy's UID when set
// (ApplyLayers sets it), else its ID or name@version.
func pkgKey(uid, id, name, version string) string {
	switch {
	case uid != "":
		return "uid:" + uid
	case id != "":
		return "id:" + id
	}
	return "nv:" + name + "@" + version
}

// scope says what the scan read, with a note counting packages.
func (an *analysis) scope(results types.Results) checks.Scope {
	sc := checks.Scope{
		Files:   len(an.inputs),
		Bytes:   an.bytes,
		Inputs:  an.inputs,
		Skipped: an.skipped,
	}
	if len(an.inputs) == 0 {
		sc.Notes = append(sc.Notes, "no lockfiles or manifests found")
		return sc
	}
	pkgs, files := 0, 0
	for _, r := range results {
		if len(r.Packages) == 0 {
			continue
		}
		pkgs += len(r.Packages)
		files++
	}
	sc.Notes = append(sc.Notes, fmt.Sprintf("%s in %s", plural(pkgs, "package"), plural(files, "lockfile")))
	return sc
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
