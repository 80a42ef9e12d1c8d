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

// runCustom evaluates the custom checks that loaded on the target's files,
// each within its own time budget and all within the scan's. First all of
// them together, in one trivy Rego scanner (trivy's embedded libraries,
// the custom libraries and the checks): loading trivy's scanner costs the
// same for one check as for a hundred. Only when that run overruns (or
// fails), they run again one at a time, each in a scanner of its own with
// its own budget, so the check that did is named exactly, its partial
// findings dropped, and the others still report.
func (s *Scanner) runCustom(ctx context.Context, set *customSet, files *fileSet) ([]converted, error) {
	if len(set.checks) == 0 {
		return nil, nil
	}
	total := s.customScanBudget
	if dl, ok := ctx.Deadline(); ok {
		total = min(total, time.Until(dl)-deadlineMargin)
	}
	start := time.Now()
	if total > 0 {
		if rs, err := loadScanner(set, set.checks); err == nil {
			budget := min(total, s.customCheckBudget*time.Duration(len(set.checks)))
			cctx, cancel := context.WithTimeout(ctx, budget)
			found, err := runChecks(cctx, rs, set.checks, files)
			expired := cctx.Err() != nil
			cancel()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !expired && err == nil {
				return attribute(set, found), nil
			}
		}
	}
	var out []converted
	for _, m := range set.checks {
		st := &set.statuses[m.index]
		left := total - time.Since(start)
		if left <= 0 {
			st.Rejected = fmt.Sprintf("not evaluated: the %s budget of all custom checks in one scan was used up", s.customScanBudget)
			continue
		}
		// Compiling is bounded by the module's size; the budget is for
		// reading the files and evaluating, which the input can make long.
		rs, err := loadScanner(set, []*customModule{m})
		if err != nil {
			st.Rejected = "failed to load: " + err.Error()
			continue
		}
		budget := min(s.customCheckBudget, left)
		cctx, cancel := context.WithTimeout(ctx, budget)
		found, err := runChecks(cctx, rs, []*customModule{m}, files)
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
		out = append(out, attribute(set, found)...)
	}
	return out, nil
}

// attribute names the custom check behind each finding, by the package
// trivy reports it from (loadCustom keeps packages unique).
func attribute(set *customSet, found []converted) []converted {
	byPackage := map[string]string{}
	for _, m := range set.checks {
		byPackage[strings.TrimPrefix(m.module.Package.Path.String(), "data.")] = set.statuses[m.index].Name
	}
	out := found[:0]
	for _, c := range found {
		name, ok := byPackage[c.namespace]
		if !ok {
			continue // not from a check (cannot happen: libraries have no deny rules)
		}
		c.finding.Custom = name
		out = append(out, c)
	}
	return out
}

// loadScanner compiles custom checks into a trivy Rego scanner of their
// own, with trivy's embedded libraries and the custom libraries.
func loadScanner(set *customSet, mods []*customModule) (*rego.Scanner, error) {
	fsys := mapfs.New()
	var roots []string
	for _, m := range append(slices.Clone(set.libs), mods...) {
		if err := fsys.WriteVirtualFile(customFileName(m.index), []byte(m.source), 0o444); err != nil {
			return nil, err
		}
		if m.meta != nil {
			root := strings.TrimPrefix(m.module.Package.Path.String(), "data.")
			root, _, _ = strings.Cut(root, ".")
			if !slices.Contains(roots, root) {
				roots = append(roots, root)
			}
		}
	}
	rs := rego.NewScanner(
		rego.WithEmbeddedLibraries(true),
		rego.WithEmbeddedPolicies(false),
		rego.WithPolicyFilesystem(fsys),
		rego.WithPolicyDirs("."),
		rego.WithPolicyNamespaces(roots...),
		// Fail rather than let trivy drop a module that did not compile
		// (loadCustom compiled them all already; this is the backstop).
		rego.WithMaxAllowedErrors(0),
	)
	if err := rs.LoadPolicies(nil); err != nil {
		return nil, err
	}
	return rs, nil
}

// runChecks runs loaded custom checks over the file types they select.
func runChecks(ctx context.Context, rs *rego.Scanner, mods []*customModule, files *fileSet) ([]converted, error) {
	types := map[detection.FileType]bool{}
	for _, m := range mods {
		for _, ft := range applicableTypes(m.meta.InputOptions.Selectors) {
			types[ft] = true
		}
	}
	var out []converted
	for _, ft := range scanOrder {
		ftfs, ok := files.fsys[ft]
		if !ok || !types[ft] {
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
