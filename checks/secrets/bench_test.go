package secrets

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/internal/gittest"
)

// fakeAWSKey returns a key id shaped like a real one (the aws-access-token
// rule matches it), made up from r.
func fakeAWSKey(r *rand.Rand) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b strings.Builder
	b.WriteString("AKIA")
	for range 16 {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// generatedFile is ~10 KB of Go-like code that mentions the rules' keywords
// (token, key, password, secret) without secrets, plus one fake AWS key id
// when withSecret.
func generatedFile(r *rand.Rand, n int, withSecret bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "package gen%d\n\n", n)
	for i := 0; b.Len() < 10_000; i++ {
		fmt.Fprintf(&b, "// handler%d checks the request token and the api key length.\n", i)
		fmt.Fprintf(&b, "func handler%d(w http.ResponseWriter, r *http.Request) {\n", i)
		fmt.Fprintf(&b, "\ttoken := r.Header.Get(\"Authorization\")\n\tif len(token) < %d {\n", 10+i%7)
		b.WriteString("\t\thttp.Error(w, \"missing password or secret\", http.StatusUnauthorized)\n\t\treturn\n\t}\n}\n\n")
	}
	if withSecret {
		fmt.Fprintf(&b, "const awsKeyID = %q\n", fakeAWSKey(r))
	}
	return b.String()
}

// BenchmarkScanDir scans a generated tree of 200 files (~2 MB, 10 with a
// secret): loading the rules as the first scan of a process does, a new
// Scanner and scan, and a scan by a Scanner already loaded.
func BenchmarkScanDir(b *testing.B) {
	const files, every = 200, 20
	r := rand.New(rand.NewPCG(1, 2))
	tree := make(map[string]string, files)
	var size int64
	for i := range files {
		content := generatedFile(r, i, i%every == 0)
		tree[fmt.Sprintf("pkg%02d/file%03d.go", i%10, i)] = content
		size += int64(len(content))
	}
	dir := b.TempDir()
	gittest.WriteFiles(b, dir, tree)
	target := checks.Target{Dir: dir}
	check := func(b *testing.B, res *checks.Result, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Findings) != files/every || res.Scope.Files != files {
			b.Fatalf("%d findings in %d files, want %d in %d", len(res.Findings), res.Scope.Files, files/every, files)
		}
	}

	b.Run("load-rules", func(b *testing.B) {
		for b.Loop() {
			rules, err := loadDefaultRules()
			if err != nil {
				b.Fatal(err)
			}
			_ = detect.NewDetector(rules.cfg)
		}
	})
	b.Run("new+scan", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			s, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			res, err := s.Run(context.Background(), target)
			check(b, res, err)
		}
	})
	b.Run("scan", func(b *testing.B) {
		s := newScanner(b, Options{})
		b.SetBytes(size)
		for b.Loop() {
			res, err := s.Run(context.Background(), target)
			check(b, res, err)
		}
	})
}

// BenchmarkScanGit scans the added lines of a 50-commit history, each commit
// adding one generated file (5 with a secret).
func BenchmarkScanGit(b *testing.B) {
	const commits, every = 50, 10
	r := rand.New(rand.NewPCG(3, 4))
	dir := gittest.New(b)
	var size int64
	for i := range commits {
		content := generatedFile(r, i, i%every == 0)
		size += int64(len(content))
		gittest.Commit(b, dir, fmt.Sprintf("Add file %d", i), map[string]string{fmt.Sprintf("f%02d.go", i): content})
	}
	s := newScanner(b, Options{})
	b.SetBytes(size)
	for b.Loop() {
		res, err := s.Run(context.Background(), checks.Target{Dir: dir, HeadRev: "HEAD"})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Findings) != commits/every || res.Scope.Commits != commits {
			b.Fatalf("%d findings in %d commits, want %d in %d", len(res.Findings), res.Scope.Commits, commits/every, commits)
		}
	}
}
