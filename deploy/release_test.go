package deploy

import (
	"bytes"
	"cmp"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"gopkg.in/yaml.v3"
)

// repoRoot is where goreleaser runs: the repository, above this package.
const repoRoot = ".."

// goreleaserConfig is .goreleaser.yaml (goreleaser v2), decoded strictly: a key
// this type does not know fails the test, so a misspelt setting that
// goreleaser would ignore or refuse is caught here.
type goreleaserConfig struct {
	Version     int    `yaml:"version"`
	ProjectName string `yaml:"project_name"`
	Builds      []struct {
		ID      string   `yaml:"id"`
		Main    string   `yaml:"main"`
		Binary  string   `yaml:"binary"`
		Env     []string `yaml:"env"`
		Flags   []string `yaml:"flags"`
		Ldflags []string `yaml:"ldflags"`
		Goos    []string `yaml:"goos"`
		Goarch  []string `yaml:"goarch"`
	} `yaml:"builds"`
	Archives []struct {
		Formats []string `yaml:"formats"`
		Files   []string `yaml:"files"`
	} `yaml:"archives"`
	Checksum struct {
		NameTemplate string `yaml:"name_template"`
		Algorithm    string `yaml:"algorithm"`
	} `yaml:"checksum"`
	Sboms []struct {
		Artifacts string `yaml:"artifacts"`
	} `yaml:"sboms"`
	Dockers []struct {
		IDs                []string `yaml:"ids"`
		Goos               string   `yaml:"goos"`
		Goarch             string   `yaml:"goarch"`
		ImageTemplates     []string `yaml:"image_templates"`
		Dockerfile         string   `yaml:"dockerfile"`
		Use                string   `yaml:"use"`
		BuildFlagTemplates []string `yaml:"build_flag_templates"`
		ExtraFiles         []string `yaml:"extra_files"`
	} `yaml:"dockers"`
	Changelog struct {
		Sort string `yaml:"sort"`
	} `yaml:"changelog"`
}

func loadRelease(t *testing.T) goreleaserConfig {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var r goreleaserConfig
	if err := dec.Decode(&r); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if r.Version != 2 || len(r.Builds) != 1 {
		t.Fatalf(".goreleaser.yaml: version %d with %d builds, want goreleaser's version 2 and the one build of gatehouse", r.Version, len(r.Builds))
	}
	return r
}

// testVersion is the version the tests release: goreleaser's .Version is
// the tag without its "v".
const testVersion = "1.2.3-test"

// renderTemplate applies a goreleaser template with the fields gatehouse's
// configuration may use; any other field is an error.
func renderTemplate(t *testing.T, s string) string {
	t.Helper()
	tpl, err := template.New("").Option("missingkey=error").Parse(s)
	if err != nil {
		t.Fatalf("template %q: %v", s, err)
	}
	var b bytes.Buffer
	err = tpl.Execute(&b, map[string]string{
		"Version": testVersion, "Tag": "v" + testVersion, "ProjectName": "gatehouse",
		"FullCommit": strings.Repeat("0", 40), "ShortCommit": "0000000",
	})
	if err != nil {
		t.Fatalf("template %q: %v", s, err)
	}
	return b.String()
}

// ldflags is the -ldflags value goreleaser passes: its ldflags rendered and
// joined with spaces.
func ldflags(t *testing.T, r goreleaserConfig) string {
	var parts []string
	for _, l := range r.Builds[0].Ldflags {
		parts = append(parts, renderTemplate(t, l))
	}
	return strings.Join(parts, " ")
}

// TestReleaseConfig checks that .goreleaser.yaml describes gatehouse as it
// is: its main package, a version variable the ldflags really set, the
// settings every build of gatehouse needs, targets whose packages resolve,
// archive files that exist, and an image goreleaser can build from the
// context it makes (the binary it built and the extra files, no source).
func TestReleaseConfig(t *testing.T) {
	r := loadRelease(t)
	b := r.Builds[0]

	mainDir := filepath.Join(repoRoot, b.Main)
	decls := packageDecls(t, mainDir)
	if decls.name != "main" || !decls.funcs["main"] {
		t.Fatalf("builds.main %s: package %q without func main, want the gatehouse command", b.Main, decls.name)
	}
	if b.Binary != "gatehouse" {
		t.Errorf("builds.binary %q, want gatehouse (the name README and the image use)", b.Binary)
	}

	// Every -X names a string variable that exists: the linker ignores one
	// that does not, and the release would print "dev".
	fields := strings.Fields(ldflags(t, r))
	var setsVersion bool
	for i, f := range fields {
		if f != "-X" || i+1 == len(fields) {
			continue
		}
		sym, value, _ := strings.Cut(fields[i+1], "=")
		pkg, name, _ := cutLast(sym, ".")
		dir := mainDir
		if pkg != "main" {
			const module = "github.com/gatehouse/gatehouse/"
			if !strings.HasPrefix(pkg, module) {
				t.Errorf("-X %s: not a package of this module", sym)
				continue
			}
			dir = filepath.Join(repoRoot, strings.TrimPrefix(pkg, module))
		}
		if !packageDecls(t, dir).stringVars[name] {
			t.Errorf("-X %s: %s has no string variable %s for the linker to set", sym, dir, name)
		}
		setsVersion = setsVersion || sym == "main.version" && value == testVersion
	}
	if !setsVersion {
		t.Errorf("ldflags %q do not set main.version to the release's version", ldflags(t, r))
	}
	// The same flags as `make build`, so a release and a local build of
	// one commit are the same binary but for the version.
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LDFLAGS := (.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no LDFLAGS")
	}
	if want := strings.ReplaceAll(string(m[1]), "$(VERSION)", testVersion); ldflags(t, r) != want {
		t.Errorf("ldflags %q, the Makefile's %q", ldflags(t, r), want)
	}
	if !slices.Contains(b.Flags, "-trimpath") {
		t.Errorf("flags %v: want -trimpath, as the Makefile and the Dockerfile build", b.Flags)
	}
	for _, kv := range []string{"GOEXPERIMENT=jsonv2", "CGO_ENABLED=0"} {
		if !slices.Contains(b.Env, kv) {
			t.Errorf("env %v lacks %s (trivy needs encoding/json/v2; the binary is static, for the image and any host)", b.Env, kv)
		}
	}

	// Each target's packages resolve: no import missing or excluded by
	// build constraints on it. (Compiling them all is the release's job:
	// TestReleaseBuild builds the host's.)
	for _, goos := range b.Goos {
		for _, goarch := range b.Goarch {
			cmd := exec.Command("go", "list", "-e", "-deps", "-f", `{{with .Error}}{{.}}{{"\n"}}{{end}}{{range .DepsErrors}}{{.}}{{"\n"}}{{end}}`, b.Main)
			cmd.Dir = repoRoot
			cmd.Env = append(os.Environ(), append(slices.Clone(b.Env), "GOOS="+goos, "GOARCH="+goarch)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("%s/%s: go list: %v\n%s%s", goos, goarch, err, out, stderr.Bytes())
			}
		}
	}

	for _, a := range r.Archives {
		for _, glob := range a.Files {
			if m, _ := filepath.Glob(filepath.Join(repoRoot, glob)); len(m) == 0 {
				t.Errorf("archives.files %q matches nothing", glob)
			}
		}
	}
	if len(r.Sboms) == 0 || r.Checksum.Algorithm != "sha256" {
		t.Errorf("want checksums (sha256) and SBOMs of the release: %+v, %+v", r.Checksum, r.Sboms)
	}

	if len(r.Dockers) == 0 {
		t.Fatal("no dockers: the release makes no image")
	}
	for _, d := range r.Dockers {
		checkReleaseImage(t, d.Dockerfile, d.Use, cmp.Or(d.Goos, "linux"), cmp.Or(d.Goarch, "amd64"), d.ExtraFiles,
			d.BuildFlagTemplates, b.Binary, b.Goos, b.Goarch)
	}
}

// checkReleaseImage checks one dockers entry against the Dockerfile it
// names and the context goreleaser builds it in: a new directory holding
// the Dockerfile, the binary built for goos/goarch and the extra files.
func checkReleaseImage(t *testing.T, dockerfilePath, use, goos, goarch string, extra, flagTemplates []string,
	binary string, buildGoos, buildGoarch []string) {
	t.Helper()
	if !slices.Contains(buildGoos, goos) || !slices.Contains(buildGoarch, goarch) {
		t.Errorf("dockers %s/%s: not a target of the build", goos, goarch)
	}
	// The Dockerfile picks its stages with a build argument, and only
	// BuildKit builds just the stages the image needs.
	if use != "buildx" {
		t.Errorf("dockers.use %q, want buildx (BuildKit)", use)
	}
	context := map[string]bool{binary: true}
	for _, f := range extra {
		// goreleaser refuses these (its docker pipe: "can't be . or inside
		// dist folder").
		if clean := filepath.Clean(f); clean == "." || clean == "dist" || strings.HasPrefix(clean, "dist/") {
			t.Errorf("dockers.extra_files %q: goreleaser refuses . and the dist folder", f)
		}
		context[filepath.Clean(f)] = true
	}
	args := map[string]string{}
	for _, ft := range flagTemplates {
		if kv, ok := strings.CutPrefix(renderTemplate(t, ft), "--build-arg="); ok {
			k, v, _ := strings.Cut(kv, "=")
			args[k] = v
		}
	}
	df := parseDockerfileAt(t, filepath.Join(repoRoot, dockerfilePath))
	declared := maps.Clone(df.args)
	for _, s := range df.stages {
		for _, a := range commands[*instructions.ArgCommand](s) {
			for _, kv := range a.Args {
				declared[kv.Key] = ""
			}
		}
	}
	for k := range args {
		if _, ok := declared[k]; !ok {
			t.Errorf("--build-arg %s: the Dockerfile declares no such ARG", k)
		}
	}

	// The stages BuildKit builds for the final one, with goreleaser's
	// build arguments: none may compile (the context has no source) and
	// every file they copy from the context must be in it.
	seen, copiesBinary := map[string]bool{}, false
	queue := []instructions.Stage{df.final()}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if seen[s.Name+"\x00"+s.BaseName] {
			continue
		}
		seen[s.Name+"\x00"+s.BaseName] = true
		if from := df.stage(df.base(t, s, args)); from != nil {
			queue = append(queue, *from)
		}
		for _, c := range commands[*instructions.CopyCommand](s) {
			if c.From != "" {
				if from := df.stage(c.From); from != nil {
					queue = append(queue, *from)
				}
				continue
			}
			for _, src := range c.SourcePaths {
				copiesBinary = copiesBinary || filepath.Clean(src) == binary
				if !context[filepath.Clean(src)] {
					t.Errorf("stage %q: COPY %s: not in goreleaser's context (the binary %s and extra_files %v)", s.Name, src, binary, extra)
				}
			}
		}
		for _, run := range commands[*instructions.RunCommand](s) {
			if line := strings.Join(run.CmdLine, " "); strings.Contains(line, "go build") {
				t.Errorf("stage %q builds gatehouse again (%s): the image must carry the binary goreleaser built", s.Name, line)
			}
		}
	}
	if !copiesBinary {
		t.Errorf("no stage of the image copies %s from goreleaser's context", binary)
	}
}

// TestReleaseBuild runs the build .goreleaser.yaml describes, for this
// host, with a release's version, and checks the binary says it.
func TestReleaseBuild(t *testing.T) {
	r := loadRelease(t)
	b := r.Builds[0]
	if !slices.Contains(b.Goos, runtime.GOOS) || !slices.Contains(b.Goarch, runtime.GOARCH) {
		t.Skipf("%s/%s is not a release target", runtime.GOOS, runtime.GOARCH)
	}
	bin, err := filepath.Abs(filepath.Join(t.TempDir(), b.Binary))
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"build"}, b.Flags...)
	args = append(args, "-ldflags="+ldflags(t, r), "-o", bin, b.Main)
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	// goreleaser's build environment: the caller's, the build's env, the target.
	cmd.Env = append(os.Environ(), append(slices.Clone(b.Env), "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, c := range []struct{ arg, want string }{
		{"--version", "gatehouse version " + testVersion + "\n"},
		{"version", "gatehouse " + testVersion + "\n"},
	} {
		out, err := exec.Command(bin, c.arg).Output()
		if err != nil {
			t.Fatalf("gatehouse %s: %v", c.arg, err)
		}
		if !strings.HasPrefix(string(out), c.want) {
			t.Errorf("gatehouse %s printed %q, want %q first", c.arg, out, c.want)
		}
	}
}

// decls is what a package declares at top level.
type decls struct {
	name       string
	funcs      map[string]bool
	stringVars map[string]bool // variables -X can set: string, not computed
}

func packageDecls(t *testing.T, dir string) decls {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no Go files (%v)", dir, err)
	}
	d := decls{funcs: map[string]bool{}, stringVars: map[string]bool{}}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		d.name = f.Name.Name
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.FuncDecl:
				if decl.Recv == nil {
					d.funcs[decl.Name.Name] = true
				}
			case *ast.GenDecl:
				if decl.Tok != token.VAR {
					continue
				}
				for _, spec := range decl.Specs {
					vs := spec.(*ast.ValueSpec)
					typ, _ := vs.Type.(*ast.Ident)
					for i, n := range vs.Names {
						var lit *ast.BasicLit
						if i < len(vs.Values) {
							lit, _ = vs.Values[i].(*ast.BasicLit)
						}
						switch {
						case typ != nil && typ.Name == "string" && (i >= len(vs.Values) || lit != nil),
							typ == nil && lit != nil && lit.Kind == token.STRING:
							d.stringVars[n.Name] = true
						}
					}
				}
			}
		}
	}
	return d
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+len(sep):], true
}
