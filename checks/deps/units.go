package deps

import "github.com/gatehouse/gatehouse/checks"

// Splitter is the dependencies check's checks.Splitter: every lockfile and
// manifest trivy's analyzers would read (Wants), as one set, because
// analyzers read manifests across directories together (a go.mod with its
// go.sum, a pom.xml with its parents).
type Splitter struct{}

var _ checks.Splitter = Splitter{}

// Units returns the set of files the check reads, if any.
func (Splitter) Units(files []checks.File) []checks.Unit {
	var set []checks.File
	for _, f := range files {
		if Wants(f.Path, f.Size) {
			set = append(set, f)
		}
	}
	if len(set) == 0 {
		return nil
	}
	return []checks.Unit{{Kind: "set", Path: "dependencies", Files: set}}
}

// MayRead is checks.DependencyCandidate.
func (Splitter) MayRead(p string) bool { return checks.DependencyCandidate(p) }
