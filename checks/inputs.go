package checks

import (
	"path"
	"strings"
)

// These predicates say, from a file's path alone, whether a check may read
// it. They are supersets (tested against the engines' own rules in the
// checks' packages): a caller that materializes or caches only these files
// must never leave out one a check would read; reading a few more is safe.

// notDependencyInput are extensions no lockfile or manifest analyzer reads
// (source code, documents, images). Everything else may be one.
var notDependencyInput = map[string]bool{
	".go": true, ".c": true, ".h": true, ".cc": true, ".cpp": true, ".hpp": true, ".rs": true,
	".java": true, ".kt": true, ".scala": true, ".rb": true, ".py": true, ".php": true,
	".js": true, ".mjs": true, ".cjs": true, ".ts": true, ".tsx": true, ".jsx": true,
	".md": true, ".rst": true, ".adoc": true, ".html": true, ".css": true, ".scss": true,
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".svg": true, ".ico": true, ".webp": true,
	".pdf": true, ".sh": true, ".bash": true, ".proto": true, ".sql": true, ".rego": true,
	".tf": true, ".tpl": true, ".tmpl": true, ".golden": true, ".snap": true, ".s": true,
	".gz": true, ".tgz": true, ".zip": true, ".tar": true, ".xz": true, ".bz2": true,
	".tar.gz": true, ".mod.golden": true, ".diff": true, ".patch": true,
}

// DependencyCandidate reports whether the dependencies check may read p
// (slash-separated) as a lockfile or manifest.
func DependencyCandidate(p string) bool {
	lower := strings.ToLower(p)
	// License files (any extension) and yarn's and npm's package caches
	// are read for the packages around them.
	if strings.Contains(path.Base(lower), "licen") || strings.Contains(lower, ".yarn/") || strings.Contains(lower, "node_modules/") {
		return true
	}
	return !notDependencyInput[path.Ext(lower)]
}

// TerraformFile reports whether p is evaluated with the other Terraform
// files of its module (and the modules it calls): .tf, .tf.json, .tofu,
// variable files and the module manifest.
func TerraformFile(p string) bool {
	lower := strings.ToLower(p)
	for _, ext := range []string{".tf", ".tf.json", ".tfvars", ".tofu", ".tofu.json"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return strings.Contains(path.Base(lower), ".tfvars") || strings.HasSuffix(p, ".terraform/modules/modules.json")
}

// IaCCandidate reports whether the iac check may read p: a name any of
// trivy's misconfiguration analyzers looks at.
func IaCCandidate(p string) bool {
	lower := strings.ToLower(p)
	if TerraformFile(p) || DockerfileName(p) || ChartArchiveName(p) {
		return true
	}
	switch path.Ext(lower) {
	case ".json", ".yaml", ".yml", ".tpl":
		return true
	}
	base := path.Base(lower)
	return base == "chart.yaml" || base == ".helmignore"
}

// DockerfileName is trivy's Dockerfile analyzer rule: Dockerfile,
// Dockerfile.<anything>, <anything>.Dockerfile (same for Containerfile).
func DockerfileName(p string) bool {
	base := path.Base(p)
	ext := path.Ext(base)
	for _, name := range []string{"Dockerfile", "Containerfile"} {
		if strings.EqualFold(base, name+ext) || strings.EqualFold(ext, "."+name) {
			return true
		}
	}
	return false
}

// ChartArchiveName reports a name a packaged Helm chart may have.
func ChartArchiveName(p string) bool {
	lower := strings.ToLower(p)
	return strings.HasSuffix(lower, ".tgz") || strings.HasSuffix(lower, ".tar.gz") || strings.HasSuffix(lower, ".tar")
}
