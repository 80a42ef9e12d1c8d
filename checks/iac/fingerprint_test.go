package iac

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// fingerprints maps rule → sorted fingerprints of its findings in file.
func fingerprints(res *checks.Result, file string) map[string][]string {
	out := make(map[string][]string)
	for _, f := range res.Findings {
		if f.File == file {
			out[f.RuleID] = append(out[f.RuleID], f.Fingerprint)
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

func TestFingerprintIgnoresPosition(t *testing.T) {
	bucket := `resource "aws_s3_bucket" "logs" {
  bucket = "gatehouse-logs"
}
`
	sg := fmt.Sprintf(openSG, "ssh", "ssh")
	pod := fmt.Sprintf(privilegedPod, "")
	s := scanner(t)
	before := run(t, s, checks.Target{Dir: writeTree(t, t.TempDir(), map[string]string{
		"main.tf":  sg + "\n" + bucket,
		"pod.yaml": pod,
	})})

	tests := []struct {
		name  string
		file  string
		rule  string // only this rule; "" means every rule in file
		files map[string]string
		same  bool
	}{
		{"resources swapped and pushed down", "main.tf", "", map[string]string{"main.tf": "# moved\n\n\n" + bucket + "\n\n" + sg}, true},
		{"re-indented", "main.tf", "", map[string]string{"main.tf": indent(sg, "  ") + "\n" + indent(bucket, "\t")}, true},
		{"unrelated attribute added", "main.tf", "", map[string]string{"main.tf": strings.Replace(sg, `name = "ssh"`, "name = \"ssh\"\n  tags = { team = \"ops\" }", 1) + bucket}, true},
		{"image bumped in the container", "pod.yaml", "", map[string]string{"pod.yaml": strings.Replace(pod, "nginx:1.27.0", "nginx:1.27.1", 1)}, true},
		{"resource renamed", "main.tf", "AWS-0107", map[string]string{"main.tf": fmt.Sprintf(openSG, "admin", "ssh") + bucket}, false},
		{"container renamed", "pod.yaml", "KSV-0017", map[string]string{"pod.yaml": strings.Replace(pod, "- name: web", "- name: api", 1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := run(t, s, checks.Target{Dir: writeTree(t, t.TempDir(), tt.files)})
			b, a := fingerprints(before, tt.file), fingerprints(after, tt.file)
			if len(b) == 0 {
				t.Fatalf("no findings in %s to compare", tt.file)
			}
			for rule, fps := range b {
				if tt.rule != "" && rule != tt.rule {
					continue
				}
				if got := slices.Equal(fps, a[rule]); got != tt.same {
					t.Errorf("%s: fingerprints equal = %v, want %v (%v → %v)", rule, got, tt.same, fps, a[rule])
				}
			}
		})
	}
}

func TestFingerprintTellsTwinsApart(t *testing.T) {
	twins := `resource "aws_security_group" "ssh" {
  name = "ssh"

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    from_port   = 3389
    to_port     = 3389
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
`
	res := run(t, scanner(t), checks.Target{Dir: writeTree(t, t.TempDir(), map[string]string{"main.tf": twins})})
	fps := fingerprints(res, "main.tf")["AWS-0107"]
	if len(fps) != 2 || fps[0] == fps[1] {
		t.Errorf("AWS-0107 fingerprints = %v; want two distinct", fps)
	}
}
