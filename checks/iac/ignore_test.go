package iac

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

const privilegedPod = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
%s    - name: web
      image: nginx:1.27.0
      securityContext:
        privileged: true
`

func TestIgnores(t *testing.T) {
	sg := fmt.Sprintf(openSG, "ssh", "ssh")
	tests := []struct {
		name       string
		files      map[string]string
		rule, file string
		reason     string // substring of the suppression reason; "" means not suppressed
	}{
		{
			name:  "terraform inline, new id",
			files: map[string]string{"main.tf": "#trivy:ignore:AWS-0107\n" + sg},
			rule:  "AWS-0107", file: "main.tf", reason: "inline #trivy:ignore",
		},
		{
			name:  "terraform inline, AVD alias",
			files: map[string]string{"main.tf": "# trivy:ignore:AVD-AWS-0107\n" + sg},
			rule:  "AWS-0107", file: "main.tf", reason: "inline #trivy:ignore",
		},
		{
			name:  "terraform inline, expired",
			files: map[string]string{"main.tf": "#trivy:ignore:AWS-0107:exp:2000-01-01\n" + sg},
			rule:  "AWS-0107", file: "main.tf",
		},
		{
			name:  "terraform inline, other rule",
			files: map[string]string{"main.tf": "#trivy:ignore:AWS-0104\n" + sg},
			rule:  "AWS-0107", file: "main.tf",
		},
		{
			name:  "kubernetes inline",
			files: map[string]string{"pod.yaml": fmt.Sprintf(privilegedPod, "    # trivy:ignore:KSV-0017\n")},
			rule:  "KSV-0017", file: "pod.yaml", reason: "inline #trivy:ignore",
		},
		{
			name:  "kubernetes without comment",
			files: map[string]string{"pod.yaml": fmt.Sprintf(privilegedPod, "")},
			rule:  "KSV-0017", file: "pod.yaml",
		},
		{
			name:  "dockerfile inline",
			files: map[string]string{"Dockerfile": "# trivy:ignore:DS-0001\nFROM alpine:latest\nUSER app\n"},
			rule:  "DS-0001", file: "Dockerfile", reason: "inline #trivy:ignore",
		},
		{
			name:  ".trivyignore by AVD id",
			files: map[string]string{"main.tf": sg, ".trivyignore": "# reviewed\nAVD-AWS-0107\n"},
			rule:  "AWS-0107", file: "main.tf", reason: ".trivyignore entry AVD-AWS-0107",
		},
		{
			name:  ".trivyignore expired entry",
			files: map[string]string{"main.tf": sg, ".trivyignore": "AWS-0107 exp:2000-01-01\n"},
			rule:  "AWS-0107", file: "main.tf",
		},
		{
			name: ".trivyignore.yaml with path and statement",
			files: map[string]string{
				"Dockerfile":        "FROM alpine:3.20\n",
				".trivyignore.yaml": "misconfigurations:\n  - id: DS-0002\n    paths: [\"Dockerfile\"]\n    statement: distroless base runs as nonroot\n",
			},
			rule: "DS-0002", file: "Dockerfile", reason: ".trivyignore.yaml entry DS-0002: distroless base runs as nonroot",
		},
		{
			name: ".trivyignore.yaml other path",
			files: map[string]string{
				"Dockerfile":        "FROM alpine:3.20\n",
				".trivyignore.yaml": "misconfigurations:\n  - id: DS-0002\n    paths: [\"images/**\"]\n",
			},
			rule: "DS-0002", file: "Dockerfile",
		},
	}
	s := scanner(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, t.TempDir(), tt.files)
			res := run(t, s, checks.Target{Dir: dir, Ignore: ignoreFiles(t, dir)})
			reason, suppressed := suppressedReason(res.Suppressed, tt.rule, tt.file)
			found := hasRule(res.Findings, tt.rule, tt.file)
			switch {
			case tt.reason == "" && (!found || suppressed):
				t.Errorf("want %s reported in %s; findings %v, suppressed %q", tt.rule, tt.file, locs(res.Findings), reason)
			case tt.reason != "" && (found || !strings.Contains(reason, tt.reason)):
				t.Errorf("want %s suppressed (%q); found=%v, reason %q", tt.rule, tt.reason, found, reason)
			}
		})
	}
}

func TestBrokenIgnoreFileFailsTheScan(t *testing.T) {
	dir := writeTree(t, t.TempDir(), map[string]string{
		"Dockerfile":        "FROM alpine:3.20\n",
		".trivyignore.yaml": "misconfigurations: [\n",
	})
	if _, err := scanner(t).Run(context.Background(), checks.Target{Dir: dir, Ignore: ignoreFiles(t, dir)}); err == nil || !strings.Contains(err.Error(), ".trivyignore.yaml") {
		t.Errorf("err = %v; want the ignore file's parse error", err)
	}
}

// ignoreFiles reads dir's ignore files, as a scan of a plain directory
// hands them over.
func ignoreFiles(t *testing.T, dir string) []checks.IgnoreFile {
	t.Helper()
	files, _, err := checks.ReadIgnoreFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}
