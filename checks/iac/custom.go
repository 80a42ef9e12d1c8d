package iac

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/aquasecurity/trivy/pkg/iac/rego"

	"github.com/gatehouse/gatehouse/checks"
)

// reservedNamespaces are the package roots trivy's own checks live in: a
// custom module there would pass for a built-in check (and trivy treats
// those namespaces specially).
var reservedNamespaces = rego.BuiltinNamespaces()

// customModule is one custom check that compiled with the restricted
// capabilities.
type customModule struct {
	index  int // into the scan's statuses
	source string
	module *ast.Module
	meta   *rego.StaticMetadata // nil for a library
}

// customSet is the outcome of loading a scan's custom checks: a status per
// check (rejected ones say why) and the modules that may run.
type customSet struct {
	statuses []checks.CustomStatus
	checks   []*customModule // modules with deny rules, in the order given
	libs     []*customModule // modules without: helpers the checks import
}

// loadCustom parses, vets and compiles the custom checks with OPA under
// the restricted capabilities (RefusedBuiltins withheld), together with
// trivy's embedded libraries and schemas as trivy will compile them. A
// module that does not parse, breaks a rule below or does not compile is
// rejected with the line of the problem; the others are kept. The rules:
// trivy's module format (Rego v0 syntax, or v1 with `import rego.v1`,
// parsed as trivy parses it); a module with a deny rule carries a
// `# METADATA` block with custom.id and a known severity; no package in
// trivy's reserved namespaces or in one of its embedded packages; no legacy
// __rego_metadata__ or __rego_input__ rules (trivy evaluates those outside
// any time budget); an input selector gatehouse scans; nothing trivy
// would silently skip (deprecated, a newer minimum_trivy_version, a
// framework other than the default).
func loadCustom(in []checks.CustomCheck, trivyVersion string) (*customSet, error) {
	set := &customSet{statuses: make([]checks.CustomStatus, len(in))}
	emb, err := loadEmbedded()
	if err != nil {
		return nil, err
	}
	libs, embedded := emb.libs, emb.packages
	seen := map[string]bool{}
	packages := map[string]string{} // package of each check → its name
	var kept []*customModule
	for i, c := range in {
		st := &set.statuses[i]
		*st = checks.CustomStatus{Name: c.Name, Origin: c.Origin, SHA256: c.SHA256}
		switch {
		case c.Rejected != "":
			st.Rejected = c.Rejected
			continue
		case i >= checks.MaxCustomChecks:
			st.Rejected = fmt.Sprintf("more than %d custom checks: the rest are not loaded", checks.MaxCustomChecks)
			continue
		case len(c.Content) > checks.MaxCustomCheckSize:
			st.Rejected = fmt.Sprintf("the file is %d bytes, over the %d byte limit", len(c.Content), checks.MaxCustomCheckSize)
			continue
		case seen[c.Name]:
			st.Rejected = "given twice"
			continue
		}
		seen[c.Name] = true
		m, line, why := vet(c, embedded, trivyVersion)
		if why != "" {
			st.Rejected, st.Line = why, line
			continue
		}
		if m.meta != nil {
			pkg := strings.TrimPrefix(m.module.Package.Path.String(), "data.")
			if other, dup := packages[pkg]; dup {
				st.Rejected, st.Line = fmt.Sprintf("package %s is also the package of %s: each check needs a package of its own", pkg, other), m.module.Package.Location.Row
				continue
			}
			packages[pkg] = c.Name
			st.ID = m.meta.ID
		}
		m.index = i
		kept = append(kept, m)
	}
	kept = compileCustom(set, kept, libs)
	for _, m := range kept {
		if m.meta != nil {
			set.checks = append(set.checks, m)
		} else {
			set.libs = append(set.libs, m)
		}
	}
	return set, nil
}

// embedded is what loadCustom needs of trivy's embedded Rego, parsed once
// per process: the libraries (never compiled in place: compileCustom and
// RunRegoTests compile copies) and the packages of checks and libraries,
// which a custom module may not add rules to.
type embedded struct {
	libs     map[string]*ast.Module
	packages map[string]bool
}

var loadEmbedded = sync.OnceValues(func() (*embedded, error) {
	libs, err := rego.LoadEmbeddedLibraries()
	if err != nil {
		return nil, fmt.Errorf("load trivy's embedded libraries: %w", err)
	}
	checksMods, err := rego.LoadEmbeddedPolicies()
	if err != nil {
		return nil, fmt.Errorf("load trivy's embedded checks: %w", err)
	}
	e := &embedded{libs: libs, packages: map[string]bool{}}
	for _, mods := range []map[string]*ast.Module{checksMods, libs} {
		for _, m := range mods {
			e.packages[m.Package.Path.String()] = true
		}
	}
	return e, nil
})

// vet parses one module as trivy does and applies the rules loadCustom
// lists that need no compiler. It returns the module, or the line and the
// reason it is rejected.
func vet(c checks.CustomCheck, embedded map[string]bool, trivyVersion string) (*customModule, int, string) {
	mod, err := rego.ParseRegoModule(c.Name, c.Content)
	if err != nil {
		line, msg := firstError(err)
		if _, v1err := ast.ParseModuleWithOpts(c.Name, c.Content, ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}); v1err == nil {
			msg += " (the module is Rego v1: add `import rego.v1` after its package line, as trivy requires)"
		}
		return nil, line, "does not parse: " + msg
	}
	line := mod.Package.Location.Row
	pkg := mod.Package.Path.String()
	root := strings.TrimPrefix(pkg, "data.")
	root, _, _ = strings.Cut(root, ".")
	switch {
	case slices.Contains(reservedNamespaces, root):
		return nil, line, fmt.Sprintf("package %s is in trivy's reserved namespace %q: use your own (user.…, or your org's name)", strings.TrimPrefix(pkg, "data."), root)
	case embedded[pkg]:
		return nil, line, fmt.Sprintf("package %s is one of trivy's embedded packages: a custom module may not add rules to it", strings.TrimPrefix(pkg, "data."))
	}
	for _, r := range mod.Rules {
		if name := r.Head.Name.String(); name == "__rego_metadata__" || name == "__rego_input__" {
			return nil, r.Location.Row, "rule " + name + " is trivy's legacy format: describe the check in a # METADATA block instead"
		}
	}
	m := &customModule{source: c.Content, module: mod}
	if !hasDenyRule(mod) {
		return m, 0, "" // a library
	}
	meta, err := rego.MetadataFromAnnotations(mod)
	switch {
	case err != nil:
		return nil, line, "its # METADATA block is not valid: " + err.Error()
	case meta == nil:
		return nil, line, "a check needs a # METADATA block right above its package line, with custom.id and custom.severity"
	case meta.ID == "" || meta.ID == "N/A":
		return nil, line, "its # METADATA block has no custom.id"
	}
	if _, err := checks.ParseSeverity(meta.Severity); err != nil || meta.Severity == "UNKNOWN" {
		return nil, line, fmt.Sprintf("custom.severity %q is not one of LOW, MEDIUM, HIGH, CRITICAL", meta.Severity)
	}
	if len(applicableTypes(meta.InputOptions.Selectors)) == 0 {
		var types []string
		for _, s := range meta.InputOptions.Selectors {
			types = append(types, s.Type)
		}
		return nil, line, fmt.Sprintf("its input selector (%s) matches nothing gatehouse scans: use one type of kubernetes, dockerfile, cloud or terraform-raw",
			strings.Join(types, ", "))
	}
	for _, keep := range []rego.RegoModuleFilter{
		rego.IncludeDeprecatedFilter(false),
		rego.FrameworksFilter(nil),
		rego.TrivyVersionFilter(strings.TrimPrefix(trivyVersion, "v")),
	} {
		if !keep(mod, meta) {
			return nil, line, "trivy would skip it: it is deprecated, names only non-default frameworks, or needs a newer trivy (minimum_trivy_version " +
				meta.MinimumTrivyVersion + ")"
		}
	}
	m.meta = meta
	return m, 0, ""
}

// hasDenyRule reports whether a module has a rule trivy evaluates as a
// check (deny, deny_*).
func hasDenyRule(mod *ast.Module) bool {
	return slices.ContainsFunc(mod.Rules, func(r *ast.Rule) bool {
		name := r.Head.Name.String()
		return name == "deny" || strings.HasPrefix(name, "deny_")
	})
}

// compileCustom compiles the kept modules with trivy's embedded libraries
// under the restricted capabilities, rejecting each module an error points
// into, until what is left compiles. It returns what is left.
func compileCustom(set *customSet, kept []*customModule, libs map[string]*ast.Module) []*customModule {
	for len(kept) > 0 {
		mods := make(map[string]*ast.Module, len(libs)+len(kept))
		for name, m := range libs {
			mods[name] = m.Copy()
		}
		byName := map[string]*customModule{}
		for _, m := range kept {
			name := set.statuses[m.index].Name
			mods[name] = m.module.Copy()
			byName[name] = m
		}
		schemas, err := rego.BuildSchemaSetFromPolicies(mods, nil, nil, nil)
		if err != nil {
			// A schema the modules name that trivy does not have: find
			// which by compiling them one at a time.
			return compileEach(set, kept, libs, err)
		}
		c := ast.NewCompiler().
			WithCapabilities(customCapabilities()).
			WithUseTypeCheckAnnotations(true).
			WithSchemas(schemas)
		c.SetErrorLimit(0) // every error, so each bad module is named at once
		c.Compile(mods)
		if !c.Failed() {
			return kept
		}
		bad := map[string]bool{}
		var unplaced []string
		for _, e := range c.Errors {
			m := (*customModule)(nil)
			if e.Location != nil {
				m = byName[e.Location.File]
			}
			if m == nil {
				unplaced = append(unplaced, e.Error())
				continue
			}
			if !bad[e.Location.File] {
				bad[e.Location.File] = true
				st := &set.statuses[m.index]
				st.Line, st.Rejected = e.Location.Row, "does not compile: "+describeCompileError(e)
			}
		}
		if len(bad) == 0 {
			// Nothing points into a custom module (it should): reject them
			// all rather than run what did not compile.
			for _, m := range kept {
				set.statuses[m.index].Rejected = "does not compile with the other custom checks: " + strings.Join(unplaced, "; ")
			}
			return nil
		}
		kept = slices.DeleteFunc(kept, func(m *customModule) bool { return bad[set.statuses[m.index].Name] })
	}
	return nil
}

// compileEach rejects the modules whose schemas trivy cannot resolve.
func compileEach(set *customSet, kept []*customModule, libs map[string]*ast.Module, cause error) []*customModule {
	var ok []*customModule
	for _, m := range kept {
		one := map[string]*ast.Module{set.statuses[m.index].Name: m.module}
		if _, err := rego.BuildSchemaSetFromPolicies(one, nil, nil, nil); err != nil {
			st := &set.statuses[m.index]
			st.Line, st.Rejected = m.module.Package.Location.Row, "its METADATA names a schema trivy does not have: "+err.Error()
			continue
		}
		ok = append(ok, m)
	}
	if len(ok) == len(kept) { // cannot happen; never loop
		for _, m := range kept {
			set.statuses[m.index].Rejected = "schemas: " + cause.Error()
		}
		return nil
	}
	return compileCustom(set, ok, libs)
}

var undefinedFunction = regexp.MustCompile(`undefined function ([A-Za-z0-9_.]+)`)

// describeCompileError words a compile error for the check run: a call to
// a refused builtin says which and why.
func describeCompileError(e *ast.Error) string {
	if m := undefinedFunction.FindStringSubmatch(e.Message); m != nil {
		if why, ok := RefusedBuiltins[m[1]]; ok {
			return fmt.Sprintf("calls %s, which custom checks may not use (%s)", m[1], why)
		}
	}
	return e.Message
}

// firstError returns the line and message of the first error of a parse.
func firstError(err error) (int, string) {
	var errs ast.Errors
	if errors.As(err, &errs) && len(errs) > 0 {
		e := errs[0]
		line := 0
		if e.Location != nil {
			line = e.Location.Row
		}
		return line, e.Message
	}
	return 0, err.Error()
}

// customFileName is where the i-th custom module sits in the in-memory
// filesystem trivy loads it from: a plain name, whatever the check's Name.
func customFileName(i int) string { return "custom_" + strconv.Itoa(i) + ".rego" }
