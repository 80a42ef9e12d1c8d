package iac

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aquasecurity/trivy/pkg/iac/detection"

	"github.com/gatehouse/gatehouse/checks"
)

// checks.IaCCandidate must accept every name this check collects, and
// checks.TerraformFile every name trivy treats as Terraform. The corpus is
// trivy's own source tree plus names its rules single out.
func TestIaCCandidateCoversTheCollector(t *testing.T) {
	names := []string{
		"Dockerfile", "api.Dockerfile", "Dockerfile.dev", "Containerfile", "x/Chart.yaml", "chart/.helmignore",
		"main.tf", "main.tf.json", "prod.tfvars", "terraform.tfvars.json", "a.auto.tfvars.json", "m.tofu",
		"x/.terraform/modules/modules.json", "chart.tgz", "k8s/deploy.YAML", "t.tpl",
	}
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aquasecurity/trivy").Output(); err == nil {
		root := strings.TrimSpace(string(out))
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				rel, _ := filepath.Rel(root, p)
				names = append(names, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	for _, n := range names {
		if candidateName(n) && !checks.IaCCandidate(n) {
			t.Errorf("the iac check collects %s, IaCCandidate says no", n)
		}
		if detection.IsTerraformFile(n) && !checks.TerraformFile(n) {
			t.Errorf("trivy reads %s as Terraform, TerraformFile says no", n)
		}
	}
}
