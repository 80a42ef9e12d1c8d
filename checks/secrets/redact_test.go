package secrets

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// leaks returns the secrets (or long lines of multi-line secrets) that
// appear in b, raw or JSON-escaped.
func leaks(b []byte, secrets []string) []string {
	var out []string
	for _, s := range secrets {
		forms := []string{s}
		if esc, err := json.Marshal(s); err == nil {
			forms = append(forms, strings.Trim(string(esc), `"`))
		}
		for line := range strings.SplitSeq(s, "\n") {
			if len(line) >= 20 {
				forms = append(forms, line)
			}
		}
		for _, f := range forms {
			if bytes.Contains(b, []byte(f)) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// gitleaksSecrets returns the raw secrets gitleaks itself finds in the files
// under dir (the scanner's detector does not redact; Run does).
func gitleaksSecrets(t *testing.T, s *Scanner, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, f := range s.det.DetectBytes(b) {
			out = append(out, f.Secret, f.Match)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRedaction(t *testing.T) {
	s := newScanner(t, Options{})
	secrets := plantedSecrets(t, fixtureDir, historyDir)
	secrets = append(secrets, gitleaksSecrets(t, s, fixtureDir)...)
	secrets = append(secrets, gitleaksSecrets(t, s, historyDir)...)
	if len(secrets) < 10 {
		t.Fatalf("only %d secrets to look for: the fixtures changed", len(secrets))
	}

	// The checker itself must catch a leak, raw or escaped, whole or in part.
	for _, planted := range plantedSecrets(t, fixtureDir) {
		b, err := json.Marshal(checks.Finding{Match: "x=" + planted})
		if err != nil {
			t.Fatal(err)
		}
		if len(leaks(b, []string{planted})) == 0 {
			t.Fatalf("the leak checker misses %.8s… in %s", planted, b)
		}
	}

	h := buildHistory(t)
	for name, target := range map[string]checks.Target{
		"dir": {Dir: fixtureDir},
		"git": {Dir: h.dir, HeadRev: "HEAD"},
	} {
		t.Run(name, func(t *testing.T) {
			res := run(t, s, target)
			if len(res.Findings) == 0 || len(res.Suppressed) == 0 {
				t.Fatalf("want findings and suppressed findings to inspect, got %d and %d", len(res.Findings), len(res.Suppressed))
			}
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			if l := leaks(b, secrets); len(l) > 0 {
				t.Errorf("the JSON result holds %d secret(s)", len(l))
			}
			for _, f := range res.Findings {
				if !strings.Contains(f.Match, "REDACTED") {
					t.Errorf("%s: match %q not redacted", f.Location(), f.Match)
				}
			}
		})
	}
}
