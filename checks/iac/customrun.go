package iac

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"github.com/aquasecurity/trivy/pkg/iac/scan"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/options"
	"github.com/aquasecurity/trivy/pkg/iac/types"
	"github.com/aquasecurity/trivy/pkg/mapfs"
)

// Default time budgets of custom checks (Options.CustomCheckBudget,
// Options.CustomScanBudget).
const (
	DefaultCustomCheckBudget = 30 * time.Second
	DefaultCustomScanBudget  = 2 * time.Minute
)

// deadlineMargin is the time left for the built-in results when the scan's
// own context has a deadline: the custom checks never eat all of it.
const deadlineMargin = 5 * time.Second

// typeSources lists the inputs each of gatehouse's scanners hands to Rego
// checks (trivy's selector types). Terraform also gets its raw form for
// custom checks, as `trivy config --raw-config-scanners terraform` does.
var typeSources = map[detection.FileType][]types.Source{
	detection.FileTypeTerraform:      {types.SourceCloud, types.SourceTerraformRaw},
	detection.FileTypeCloudFormation: {types.SourceCloud},
	detection.FileTypeAzureARM:       {types.SourceCloud},
	detection.FileTypeKubernetes:     {types.SourceKubernetes},
	detection.FileTypeHelm:           {types.SourceKubernetes},
	detection.FileTypeDockerfile:     {types.SourceDockerfile},
}

// applicableTypes returns the file types whose input a check with these
// selectors is evaluated on. trivy applies a check to an input only when
// every selector names the input's type, and a check without selectors to
// every input but raw Terraform.
func applicableTypes(selectors []rego.Selector) []detection.FileType {
	var out []detection.FileType
	for _, ft := range scanOrder {
		if len(selectors) == 0 || slices.ContainsFunc(typeSources[ft], func(src types.Source) bool {
			return !slices.ContainsFunc(selectors, func(s rego.Selector) bool { return s.Type != string(src) })
		}) {
			out = append(out, ft)
		}
	}
	return out
}

// runCustom evaluates each custom check that loaded on the target's files,
// one at a time, each within its own time budget and all within the
// scan's: a check that does not finish in time is rejected and its partial
// findings dropped, and the checks after it still run. Each check gets its
// own trivy Rego scanner (trivy's embedded libraries and the custom
// libraries, then the one check), so a slow or failing check is named
// exactly and cannot touch the others' results.
func (s *Scanner) runCustom(ctx context.Context, set *customSet, files *fileSet) ([]converted, error) {
	total := s.customScanBudget
	if dl, ok := ctx.Deadline(); ok {
		total = min(total, time.Until(dl)-deadlineMargin)
	}
	start := time.Now()
	var out []converted
	for _, m := range set.checks {
		st := &set.statuses[m.index]
		left := total - time.Since(start)
		if left <= 0 {
			st.Rejected = fmt.Sprintf("not evaluated: the %s budget of all custom checks in one scan was used up", total.Round(time.Second))
			continue
		}
		// Compiling is bounded by the module's size; the budget is for
		// reading the files and evaluating, which the input can make long.
		rs, err := loadOne(set, m)
		if err != nil {
			st.Rejected = "failed to load: " + err.Error()
			continue
		}
		budget := min(s.customCheckBudget, left)
		cctx, cancel := context.WithTimeout(ctx, budget)
		found, err := runOne(cctx, rs, m, files)
		expired := cctx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case expired:
			st.Rejected = fmt.Sprintf("did not finish within its %s time budget: its findings are not reported", budget)
			st.Line = m.module.Package.Location.Row
			continue
		case err != nil:
			st.Rejected = "failed: " + err.Error()
			continue
		}
		for i := range found {
			found[i].finding.Custom = st.Name
		}
		out = append(out, found...)
	}
	return out, nil
}

// loadOne compiles one custom check into its own trivy Rego scanner, with
// trivy's embedded libraries and the custom libraries.
func loadOne(set *customSet, m *customModule) (*rego.Scanner, error) {
	fsys := mapfs.New()
	for _, lib := range set.libs {
		if err := fsys.WriteVirtualFile(customFileName(lib.index), []byte(lib.source), 0o444); err != nil {
			return nil, err
		}
	}
	if err := fsys.WriteVirtualFile(customFileName(m.index), []byte(m.source), 0o444); err != nil {
		return nil, err
	}
	root := strings.TrimPrefix(m.module.Package.Path.String(), "data.")
	root, _, _ = strings.Cut(root, ".")
	rs := rego.NewScanner(
		rego.WithEmbeddedLibraries(true),
		rego.WithEmbeddedPolicies(false),
		rego.WithPolicyFilesystem(fsys),
		rego.WithPolicyDirs("."),
		rego.WithPolicyNamespaces(root),
		// Fail rather than let trivy drop a module that did not compile
		// (loadCustom compiled them all already; this is the backstop).
		rego.WithMaxAllowedErrors(0),
	)
	if err := rs.LoadPolicies(nil); err != nil {
		return nil, err
	}
	return rs, nil
}

// runOne runs one loaded custom check over the file types it selects.
func runOne(ctx context.Context, rs *rego.Scanner, m *customModule, files *fileSet) ([]converted, error) {
	var out []converted
	for _, ft := range applicableTypes(m.meta.InputOptions.Selectors) {
		ftfs, ok := files.fsys[ft]
		if !ok {
			continue
		}
		var extra []options.ScannerOption
		if ft == detection.FileTypeTerraform {
			extra = append(extra, options.WithScanRawConfig(true))
		}
		results, _, err := scanType(ctx, ft, rs, ftfs, files.tfvars, extra...)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		for _, r := range results {
			if r.Status() != scan.StatusPassed {
				out = append(out, convert(r))
			}
		}
	}
	return out, nil
}
