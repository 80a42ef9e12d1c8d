package worker

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/checks"
)

// BenchmarkTreeUnits splits a trivy-sized tree (3,430 files, a third of
// them YAML or JSON) into the three checks' units and keys.
func BenchmarkTreeUnits(b *testing.B) {
	var entries []gitfetch.Entry
	exts := []string{".go", ".go", ".yaml", ".json", ".md", "_test.go"}
	for i := range 3430 {
		entries = append(entries, gitfetch.Entry{
			Path: fmt.Sprintf("pkg/d%d/f%d%s", i%200, i, exts[i%len(exts)]), Mode: "100644", Type: "blob",
			OID: fmt.Sprintf("%040x", i), Size: 1000,
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		t := newTree(entries, "root")
		n := 0
		for _, c := range []string{checks.Secrets, checks.Dependencies, checks.IaC} {
			n += len(t.units(c, "engine@v1/data"))
		}
		if n < 3430 {
			b.Fatal(n)
		}
	}
}
