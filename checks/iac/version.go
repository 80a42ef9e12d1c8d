package iac

import "runtime/debug"

// Module paths whose versions name the engine and its data.
const (
	trivyModule       = "github.com/aquasecurity/trivy"
	trivyChecksModule = "github.com/aquasecurity/trivy-checks"
)

// Versions pinned in go.mod, used when the binary carries no module
// information (a binary built without module support). The test
// TestEngineVersionsMatchGoMod keeps them honest.
const (
	pinnedTrivyVersion  = "v0.72.0"
	pinnedChecksVersion = "v1.12.2-0.20251219190323-79d27547baf5"
)

// engineVersions returns the trivy module version and the version of the
// trivy-checks module whose embedded Rego checks the scanner runs.
func engineVersions() (trivy, bundle string) {
	trivy, bundle = pinnedTrivyVersion, pinnedChecksVersion
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return trivy, bundle
	}
	for _, dep := range info.Deps {
		v := dep.Version
		if dep.Replace != nil && dep.Replace.Version != "" {
			v = dep.Replace.Version
		}
		if v == "" || v == "(devel)" {
			continue
		}
		switch dep.Path {
		case trivyModule:
			trivy = v
		case trivyChecksModule:
			bundle = v
		}
	}
	return trivy, bundle
}
