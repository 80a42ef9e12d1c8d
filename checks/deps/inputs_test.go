package deps

import (
	"context"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"

	"github.com/gatehouse/gatehouse/checks"
)

// Wants must agree with the analyzers, and checks.DependencyCandidate
// must accept every file trivy's analyzers (as
// this check configures them) would read. The corpus is trivy's own source
// tree: thousands of lockfiles and manifests from its test data, and the
// source files around them.
func TestDependencyCandidateCoversTheAnalyzers(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aquasecurity/trivy").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Skipf("trivy's module source is not available: %v", err)
	}
	root := strings.TrimSpace(string(out))
	s, _ := newFixtureScanner(t)
	opts := analyzer.AnalysisOptions{Offline: true}
	read, total := 0, 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		total++
		if got := Wants(rel, info.Size()); got != s.wouldRead(context.Background(), root, rel, info, opts) {
			t.Errorf("Wants(%s) = %v, the analyzers say otherwise", rel, got)
		}
		if s.wouldRead(context.Background(), root, rel, info, opts) {
			read++
			if !checks.DependencyCandidate(rel) {
				t.Errorf("the analyzers read %s, DependencyCandidate says no", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if read < 100 {
		t.Fatalf("only %d of %d files would be read: the corpus is not what this test expects", read, total)
	}
	t.Logf("%d of %d files are dependency inputs", read, total)
}
