package iac

import (
	"path"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/checks"
)

// Splitter is the iac check's checks.Splitter: each single-file input
// (Kubernetes, CloudFormation, ARM, Dockerfile, a chart archive) is a unit;
// a Helm chart directory is one (its templates render together; a chart at
// the root makes every IaC file one unit); and all Terraform files are one
// set, because modules call each other across directories.
type Splitter struct{}

var _ checks.Splitter = Splitter{}

// Units splits the IaC candidates of a tree.
func (Splitter) Units(files []checks.File) []checks.Unit {
	charts := chartDirs(files)
	chartFiles := map[string][]checks.File{}
	var tf []checks.File
	var out []checks.Unit
	for _, f := range files {
		if !checks.IaCCandidate(f.Path) {
			continue
		}
		if c := chartOf(f.Path, charts); c != "" {
			chartFiles[c] = append(chartFiles[c], f)
			continue
		}
		if checks.TerraformFile(f.Path) {
			tf = append(tf, f)
			continue
		}
		out = append(out, checks.Unit{Kind: "file", Path: f.Path, Files: []checks.File{f}})
	}
	for _, c := range charts {
		if fs := chartFiles[c]; len(fs) > 0 {
			out = append(out, checks.Unit{Kind: "dir", Path: c, Files: fs})
		}
	}
	if len(tf) > 0 {
		out = append(out, checks.Unit{Kind: "set", Path: "terraform", Files: tf})
	}
	return out
}

// MayRead is checks.IaCCandidate.
func (Splitter) MayRead(p string) bool { return checks.IaCCandidate(p) }

// chartDirs lists the top-level Helm chart directories (a directory holding
// a Chart.yaml, not inside another chart).
func chartDirs(files []checks.File) []string {
	var dirs []string
	for _, f := range files {
		if strings.EqualFold(path.Base(f.Path), "Chart.yaml") {
			dirs = append(dirs, path.Dir(f.Path))
		}
	}
	slices.Sort(dirs)
	var top []string
	for _, d := range dirs {
		if chartOf(d, top) == "" {
			top = append(top, d)
		}
	}
	return top
}

// chartOf returns the chart directory p lies in, or "".
func chartOf(p string, charts []string) string {
	for _, c := range charts {
		if c == "." || p == c || strings.HasPrefix(p, c+"/") {
			return c
		}
	}
	return ""
}
