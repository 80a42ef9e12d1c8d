package iac

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// BenchmarkScan measures what reusing a Scanner saves: "new+first" builds a
// Scanner (compiling the embedded checks) and scans the fixture once;
// "reused" scans the fixture again with one Scanner built before the timer.
func BenchmarkScan(b *testing.B) {
	ctx := context.Background()
	target := checks.Target{Dir: fixtureDir}
	b.Run("new+first", func(b *testing.B) {
		for b.Loop() {
			s, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Run(ctx, target); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reused", func(b *testing.B) {
		s, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Run(ctx, target); err != nil { // the first scan, untimed
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := s.Run(ctx, target); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCustomChecks measures what custom checks add to a scan of the
// fixture: none, the guide's two examples (one Kubernetes, one Terraform),
// and the same two checks eight times over (16 checks, each loaded and
// evaluated on its own).
func BenchmarkCustomChecks(b *testing.B) {
	ctx := context.Background()
	s := scanner(b)
	var two []checks.CustomCheck
	for _, p := range []string{"kubernetes-team-label/team_label.rego", "terraform-cost-centre/cost_centre.rego"} {
		src, err := os.ReadFile(filepath.Join(examplesDir, p))
		if err != nil {
			b.Fatal(err)
		}
		two = append(two, checks.NewCustomCheck(p, checks.OriginOrg, src))
	}
	var sixteen []checks.CustomCheck
	for i := range 8 {
		for _, c := range two {
			src := strings.ReplaceAll(c.Content, "package user.", fmt.Sprintf("package user.copy%d.", i))
			sixteen = append(sixteen, checks.NewCustomCheck(fmt.Sprintf("%d-%s", i, c.Name), c.Origin, []byte(src)))
		}
	}
	for _, bc := range []struct {
		name   string
		custom []checks.CustomCheck
	}{{"none", nil}, {"two", two}, {"sixteen", sixteen}} {
		b.Run(bc.name, func(b *testing.B) {
			target := checks.Target{Dir: fixtureDir, Custom: bc.custom}
			for b.Loop() {
				res, err := s.Run(ctx, target)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.RejectedCustom()) > 0 {
					b.Fatalf("rejected: %+v", res.RejectedCustom())
				}
			}
		})
	}
}
