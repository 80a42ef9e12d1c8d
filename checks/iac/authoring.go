package iac

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/aquasecurity/trivy/pkg/iac/rego"

	"github.com/gatehouse/gatehouse/checks"
)

// LoadCustomDir reads the custom checks in dir (its *.rego files, not the
// tests, not subdirectories), as the server reads them from GitHub. Names
// are the files' paths as given.
func LoadCustomDir(dir, origin string) ([]checks.CustomCheck, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []checks.CustomCheck
	for _, e := range entries {
		if !e.Type().IsRegular() || !checks.IsCustomCheckFile(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, checks.NewCustomCheck(filepath.ToSlash(p), origin, b))
	}
	return out, nil
}

// Vet loads custom checks as a scan would, without scanning anything: one
// status per check, the rejected ones saying why and where.
func Vet(cc []checks.CustomCheck) ([]checks.CustomStatus, error) {
	trivyVersion, _ := engineVersions()
	set, err := loadCustom(cc, trivyVersion)
	if err != nil {
		return nil, err
	}
	return set.statuses, nil
}

// RegoTestResult is one Rego test's outcome.
type RegoTestResult struct {
	Name     string // package.test_name
	Location string // file:line
	file     string
	line     int
	Pass     bool
	Skip     bool
	Error    string // evaluation error, e.g. a timeout
	Output   string // print() output
}

// RegoTestReport is what RunRegoTests found.
type RegoTestReport struct {
	Checks  []checks.CustomStatus // the checks in the directory, as a scan loads them
	Results []RegoTestResult
}

// Failed reports whether a check was rejected or a test did not pass.
func (r *RegoTestReport) Failed() bool {
	for _, c := range r.Checks {
		if c.Rejected != "" {
			return true
		}
	}
	for _, t := range r.Results {
		if !t.Pass && !t.Skip {
			return true
		}
	}
	return false
}

// RunRegoTests runs the Rego unit tests (*_test.rego) in dir against its
// checks with OPA's test runner, under the same rules a scan applies: the
// checks are vetted as loadCustom does (a rejected check fails the run) and
// everything is compiled with the restricted capabilities, trivy's
// embedded libraries and schemas, each test within the per-check time
// budget.
func RunRegoTests(ctx context.Context, dir string) (*RegoTestReport, error) {
	cc, err := LoadCustomDir(dir, checks.OriginRepo)
	if err != nil {
		return nil, err
	}
	rep := &RegoTestReport{}
	if rep.Checks, err = Vet(cc); err != nil {
		return nil, err
	}
	emb, err := loadEmbedded()
	if err != nil {
		return nil, err
	}
	mods := make(map[string]*ast.Module, len(emb.libs))
	for name, m := range emb.libs {
		mods[name] = m.Copy() // the compiler rewrites what it compiles
	}
	for i, c := range cc {
		if rep.Checks[i].Rejected != "" {
			continue
		}
		m, err := rego.ParseRegoModule(c.Name, c.Content)
		if err != nil {
			return nil, err // Vet parsed it: cannot happen
		}
		mods[c.Name] = m
	}
	tests, err := filepath.Glob(filepath.Join(dir, "*_test.rego"))
	if err != nil {
		return nil, err
	}
	for _, p := range tests {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		name := filepath.ToSlash(p)
		m, err := rego.ParseRegoModule(name, string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		mods[name] = m
	}
	schemas, err := rego.BuildSchemaSetFromPolicies(mods, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	compiler := ast.NewCompiler().
		WithCapabilities(customCapabilities()).
		WithUseTypeCheckAnnotations(true).
		WithSchemas(schemas).
		WithEnablePrintStatements(true)
	ch, err := tester.NewRunner().
		SetCompiler(compiler).
		SetModules(mods).
		SetTimeout(DefaultCustomCheckBudget).
		CapturePrintOutput(true).
		RunTests(ctx, nil)
	if err != nil {
		var errs ast.Errors
		if errors.As(err, &errs) {
			return nil, fmt.Errorf("the tests do not compile: %s", describeErrors(errs))
		}
		return nil, err
	}
	for r := range ch {
		res := RegoTestResult{
			Name: strings.TrimPrefix(r.Package, "data.") + "." + r.Name, Pass: r.Pass(), Skip: r.Skip,
			Output: string(r.Output),
		}
		if r.Location != nil {
			res.file, res.line = r.Location.File, r.Location.Row
			res.Location = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
		}
		if r.Error != nil {
			res.Error = r.Error.Error()
		}
		rep.Results = append(rep.Results, res)
	}
	slices.SortFunc(rep.Results, func(a, b RegoTestResult) int {
		return cmp.Or(strings.Compare(a.file, b.file), cmp.Compare(a.line, b.line), strings.Compare(a.Name, b.Name))
	})
	return rep, nil
}

func describeErrors(errs ast.Errors) string {
	var parts []string
	for _, e := range errs {
		loc := ""
		if e.Location != nil {
			loc = fmt.Sprintf("%s:%d: ", e.Location.File, e.Location.Row)
		}
		parts = append(parts, loc+describeCompileError(e))
	}
	return strings.Join(parts, "; ")
}

// CheckInfo is a check's metadata, as `gatehouse checks explain` prints it.
type CheckInfo struct {
	ID                 string   `json:"id"`
	Aliases            []string `json:"aliases,omitempty"`
	Title              string   `json:"title"`
	Severity           string   `json:"severity"`
	Description        string   `json:"description,omitempty"`
	RecommendedActions string   `json:"recommended_actions,omitempty"`
	Package            string   `json:"package"`
	Inputs             []string `json:"inputs,omitempty"` // selector types
	References         []string `json:"references,omitempty"`
	// Source is "built-in" or the custom check's file.
	Source string `json:"source"`
	// Rejected says why a custom check would not run.
	Rejected string `json:"rejected,omitempty"`
}

// ErrNoSuchCheck is returned by Explain when no check has the id.
var ErrNoSuchCheck = errors.New("no check with that id")

// Explain returns the metadata of the check with this id (or AVD id, or
// alias; case-insensitive): a custom check in dir (when dir is not empty)
// or one of trivy's embedded checks.
func Explain(id, dir string) (*CheckInfo, error) {
	if dir != "" {
		cc, err := LoadCustomDir(dir, checks.OriginRepo)
		if err != nil {
			return nil, err
		}
		statuses, err := Vet(cc)
		if err != nil {
			return nil, err
		}
		for i, c := range cc {
			m, err := rego.ParseRegoModule(c.Name, c.Content)
			if err != nil {
				continue
			}
			meta, err := rego.MetadataFromAnnotations(m)
			if err != nil || meta == nil || !matchesID(meta, id) {
				continue
			}
			info := infoOf(meta, c.Name)
			info.Rejected = statuses[i].Rejected
			if statuses[i].Line > 0 {
				info.Rejected = fmt.Sprintf("line %d: %s", statuses[i].Line, statuses[i].Rejected)
			}
			return info, nil
		}
	}
	builtin, err := rego.LoadEmbeddedPolicies()
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(builtin)) {
		meta, err := rego.MetadataFromAnnotations(builtin[name])
		if err != nil || meta == nil || !matchesID(meta, id) {
			continue
		}
		return infoOf(meta, "built-in"), nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNoSuchCheck, id)
}

func matchesID(meta *rego.StaticMetadata, id string) bool {
	//lint:ignore SA1019 older checks are still known by their AVD id.
	avd := meta.AVDID
	for _, x := range append([]string{meta.ID, avd, meta.LongID}, meta.Aliases...) {
		if x != "" && x != "N/A" && strings.EqualFold(x, id) {
			return true
		}
	}
	return false
}

func infoOf(meta *rego.StaticMetadata, source string) *CheckInfo {
	info := &CheckInfo{
		ID: meta.ID, Aliases: meta.Aliases, Title: meta.Title, Severity: meta.Severity,
		Description: strings.TrimSpace(meta.Description), RecommendedActions: strings.TrimSpace(meta.RecommendedActions),
		Package: strings.TrimPrefix(meta.Package, "data."), References: meta.References, Source: source,
	}
	for _, s := range meta.InputOptions.Selectors {
		info.Inputs = append(info.Inputs, s.Type)
	}
	return info
}
