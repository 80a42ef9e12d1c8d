package iac

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

const (
	fixtureDir = "../../testdata/repos/iac"
	cleanDir   = "../../testdata/repos/clean"
)

// sharedScanner is one Scanner for the whole test binary, so the checks
// are compiled once (by its first IaC scan); the tests that measure or
// exercise construction build their own.
var sharedScanner = sync.OnceValues(func() (*Scanner, error) { return New(Options{}) })

func scanner(t testing.TB) *Scanner {
	t.Helper()
	s, err := sharedScanner()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func run(t testing.TB, s *Scanner, target checks.Target) *checks.Result {
	t.Helper()
	res, err := s.Run(context.Background(), target)
	if err != nil {
		t.Fatalf("Run(%+v): %v", target, err)
	}
	return res
}

// writeTree writes files (slash paths relative to dir) and returns dir.
func writeTree(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loc is a finding's identity as the tests compare it.
type loc struct {
	Rule string
	File string
	Line int
}

func locs(fs []checks.Finding) []loc {
	out := make([]loc, 0, len(fs))
	for _, f := range fs {
		out = append(out, loc{f.RuleID, f.File, f.StartLine})
	}
	return out
}

func hasRule(fs []checks.Finding, rule, file string) bool {
	return slices.ContainsFunc(fs, func(f checks.Finding) bool { return f.RuleID == rule && f.File == file })
}

func suppressedReason(sup []checks.Suppressed, rule, file string) (string, bool) {
	for _, s := range sup {
		if s.Finding.RuleID == rule && s.Finding.File == file {
			return s.Reason, true
		}
	}
	return "", false
}

func skipReason(skips []checks.Skip, path string) string {
	for _, s := range skips {
		if s.Path == path {
			return s.Reason
		}
	}
	return ""
}

// openSG is a Terraform security group open to the world on SSH.
const openSG = `resource "aws_security_group" "%s" {
  name = "%s"

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
`

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
