package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The repository's policy turns the credential-files rules on for
// `gatehouse scan` as for the server (verdict.Request.Policy): a .netrc
// password blocks with them and passes without them.
func TestScanCredentialFilesFromPolicy(t *testing.T) {
	data := testDataDir(t)
	for _, tc := range []struct {
		name   string
		policy string
		want   int
	}{
		{"default policy", "version: 1\n", 0},
		{"extra_rules on", "version: 1\nchecks:\n  secrets: {extra_rules: [credential-files]}\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, content string) {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write(".netrc", "machine ftp.corp.lan login backup password Gr4nite-Owl-71\n")
			write(".github/gatehouse.yml", tc.policy)
			out, code := run(t, "scan", "--data-dir", data, "--checks", "secrets", dir)
			if code != tc.want {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.want, out)
			}
			if found := strings.Contains(out, "credfile-netrc-password"); found != (tc.want == 1) {
				t.Errorf("credfile-netrc-password reported: %v, want %v:\n%s", found, tc.want == 1, out)
			}
			if strings.Contains(out, "Gr4nite-Owl-71") {
				t.Errorf("the password is in the output:\n%s", out)
			}
		})
	}
}
