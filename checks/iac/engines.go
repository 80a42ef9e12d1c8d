package iac

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"github.com/aquasecurity/trivy/pkg/iac/scan"
	"github.com/aquasecurity/trivy/pkg/iac/scanners"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/azure/arm"
	cfscanner "github.com/aquasecurity/trivy/pkg/iac/scanners/cloudformation"
	cfparser "github.com/aquasecurity/trivy/pkg/iac/scanners/cloudformation/parser"
	dfscanner "github.com/aquasecurity/trivy/pkg/iac/scanners/dockerfile"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/generic"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/helm"
	k8sscanner "github.com/aquasecurity/trivy/pkg/iac/scanners/kubernetes"
	k8sparser "github.com/aquasecurity/trivy/pkg/iac/scanners/kubernetes/parser"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/options"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/terraform"
	"github.com/aquasecurity/trivy/pkg/misconf"
)

// compileChecks loads and compiles trivy's embedded checks (the Rego in the
// trivy-checks module, no bundle download) once, with the options the trivy
// CLI uses for `trivy config` when it falls back to its embedded checks.
//
// trivy v0.72 has no option to restrict what Rego may call: it compiles with
// OPA's full capabilities (http.send, net.lookup_ip_addr, and opa.runtime,
// whose env holds the whole process environment). Only the embedded checks
// are loaded here, no check or data path from anywhere else, and
// TestEmbeddedChecksUseNoNetworkBuiltins proves they call none of those.
// Custom checks get scanners of their own, after gatehouse has compiled
// them with those builtins withheld (loadCustom, runCustom).
func compileChecks() (*rego.Scanner, error) {
	rs, err := misconf.InitRegoScanner(misconf.ScannerOption{
		Namespaces:     rego.BuiltinNamespaces(),
		RegoErrorLimit: rego.DefaultAllowedRegoErrors,
	})
	if err != nil {
		return nil, fmt.Errorf("compile trivy's embedded checks: %w", err)
	}
	return rs, nil
}

// terraformOptions keeps trivy's Terraform parser on the files it is given.
// By default the parser downloads remote module sources (git::, http(s)://,
// registry addresses) and reads a module cache under the system temp dir;
// both are off here. Local modules ("./modules/x") still resolve inside the
// in-memory filesystem, which holds only files from the target.
func terraformOptions(tfvars []string) []options.ScannerOption {
	opts := []options.ScannerOption{
		terraform.ScannerWithDownloadsAllowed(false),
		terraform.ScannerWithSkipCachedModules(true),
		terraform.ScannerWithAllDirectories(true), // as the trivy CLI does
	}
	if len(tfvars) > 0 {
		opts = append(opts, terraform.ScannerWithTFVarsPaths(tfvars...))
	}
	return opts
}

// newEngine builds trivy's scanner for one file type around the shared,
// already compiled checks. The scanners themselves are cheap and hold
// per-scan state, so each scan gets fresh ones.
func newEngine(ft detection.FileType, rs *rego.Scanner, tfvars []string, extra ...options.ScannerOption) (scanners.FSScanner, error) {
	base := append([]options.ScannerOption{rego.WithRegoScanner(rs)}, extra...)
	switch ft {
	case detection.FileTypeTerraform:
		return terraform.New(append(base, terraformOptions(tfvars)...)...), nil
	case detection.FileTypeCloudFormation:
		return cfscanner.New(base...), nil
	case detection.FileTypeAzureARM:
		return arm.New(base...), nil
	case detection.FileTypeKubernetes:
		// trivy honours #trivy:ignore comments in Dockerfiles, Terraform,
		// CloudFormation and Helm, but not in plain manifests; its generic
		// scanner supports them, so turn them on here too.
		return k8sscanner.NewScanner(append(base, generic.WithSupportsInlineIgnore[*k8sparser.Manifest](true))...), nil
	case detection.FileTypeHelm:
		// Chart dependencies are only checked for presence under charts/,
		// never fetched; no values files or URLs are passed.
		return helm.New(base...), nil
	case detection.FileTypeDockerfile:
		return dfscanner.NewScanner(base...), nil
	}
	return nil, fmt.Errorf("no scanner for file type %s", ft)
}

// scanType runs one file type's scanner over its in-memory filesystem.
// A CloudFormation template trivy cannot read is a note, as in trivy.
func scanType(ctx context.Context, ft detection.FileType, rs *rego.Scanner, fsys fs.FS, tfvars []string, extra ...options.ScannerOption) (scan.Results, string, error) {
	engine, err := newEngine(ft, rs, tfvars, extra...)
	if err != nil {
		return nil, "", err
	}
	results, err := engine.ScanFS(ctx, fsys, ".")
	if err != nil {
		var invalid *cfparser.InvalidContentError
		if errors.As(err, &invalid) {
			return nil, fmt.Sprintf("%s files not checked: %v", ft, err), nil
		}
		return nil, "", fmt.Errorf("scan %s files: %w", ft, err)
	}
	return results, "", nil
}
