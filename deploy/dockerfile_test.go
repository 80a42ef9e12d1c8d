package deploy

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"helm.sh/helm/v4/pkg/chart/common"
)

// dockerfile is deploy/Dockerfile parsed by BuildKit's own parser, with its
// global ARG defaults.
type dockerfile struct {
	stages []instructions.Stage
	args   map[string]string
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	return parseDockerfileAt(t, "Dockerfile")
}

func parseDockerfileAt(t *testing.T, path string) dockerfile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile instructions: %v", err)
	}
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
		}
	}
	return dockerfile{stages: stages, args: args}
}

// final is the stage docker builds without --target.
func (df dockerfile) final() instructions.Stage { return df.stages[len(df.stages)-1] }

// stage is the stage named name, or nil.
func (df dockerfile) stage(name string) *instructions.Stage {
	for i := range df.stages {
		if df.stages[i].Name != "" && strings.EqualFold(df.stages[i].Name, name) {
			return &df.stages[i]
		}
	}
	return nil
}

// base is a stage's FROM with the global ARGs expanded, as given by
// buildArgs (--build-arg) else by their defaults.
func (df dockerfile) base(t *testing.T, s instructions.Stage, buildArgs map[string]string) string {
	t.Helper()
	args := maps.Clone(df.args)
	maps.Copy(args, buildArgs)
	base, _, err := shell.NewLex(parser.DefaultEscapeToken).ProcessWord(s.BaseName, shell.EnvsFromSlice(argList(args)))
	if err != nil {
		t.Fatalf("FROM %s: %v", s.BaseName, err)
	}
	return base
}

// resolve follows a stage name through stages that are only a FROM of
// another stage ("FROM ${BINARY} AS binary") to the stage that does the
// work.
func (df dockerfile) resolve(t *testing.T, name string, buildArgs map[string]string) string {
	t.Helper()
	for range len(df.stages) {
		s := df.stage(name)
		if s == nil || len(s.Commands) > 0 {
			return name
		}
		base := df.base(t, *s, buildArgs)
		if df.stage(base) == nil {
			return name
		}
		name = base
	}
	return name
}

// commands returns the stage's commands of type T.
func commands[T instructions.Command](s instructions.Stage) []T {
	var out []T
	for _, c := range s.Commands {
		if v, ok := c.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// envOf collects a stage's ENV settings.
func envOf(s instructions.Stage) map[string]string {
	out := map[string]string{}
	for _, e := range commands[*instructions.EnvCommand](s) {
		for _, kv := range e.Env {
			out[kv.Key] = kv.Value
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	df := parseDockerfile(t)
	if len(df.stages) < 2 {
		t.Fatalf("%d stages, want a builder and a runtime stage", len(df.stages))
	}
	for _, s := range df.stages {
		base := df.base(t, s, nil)
		if base == "scratch" || df.stage(base) != nil {
			continue
		}
		if !strings.Contains(base, ":") || strings.HasSuffix(base, ":latest") {
			t.Errorf("FROM %s (%s): pin a tag, not latest", s.BaseName, base)
		}
	}

	build, final := df.stages[0], df.final()
	benv := envOf(build)
	if benv["GOEXPERIMENT"] != "jsonv2" || benv["CGO_ENABLED"] != "0" || !strings.Contains(benv["GOFLAGS"], "-trimpath") {
		t.Errorf("builder ENV %v: want GOEXPERIMENT=jsonv2 (trivy needs encoding/json/v2), CGO_ENABLED=0, GOFLAGS=-trimpath", benv)
	}
	if !slices.ContainsFunc(commands[*instructions.RunCommand](build), func(r *instructions.RunCommand) bool {
		return strings.Contains(strings.Join(r.CmdLine, " "), "go build") &&
			strings.Contains(strings.Join(r.CmdLine, " "), "./cmd/gatehouse")
	}) {
		t.Error("the builder stage does not go build ./cmd/gatehouse")
	}

	// By default (no --build-arg BINARY) the binary is the builder's.
	copies := commands[*instructions.CopyCommand](final)
	if !slices.ContainsFunc(copies, func(c *instructions.CopyCommand) bool { return df.resolve(t, c.From, nil) == build.Name }) {
		t.Errorf("the runtime stage copies nothing from the builder stage %q", build.Name)
	}
	installed := strings.Join(slices.Collect(func(yield func(string) bool) {
		for _, r := range commands[*instructions.RunCommand](final) {
			if !yield(strings.Join(r.CmdLine, " ")) {
				return
			}
		}
	}), " ")
	for _, want := range []string{"--no-install-recommends", " git ", " tini", "rm -rf /var/lib/apt/lists/*"} {
		if !strings.Contains(installed, want) {
			t.Errorf("runtime RUN lacks %q (git fetches code; tini reaps what a killed scan leaves)", want)
		}
	}

	users := commands[*instructions.UserCommand](final)
	if len(users) == 0 {
		t.Fatal("the runtime stage has no USER: it would run as root")
	}
	uid, gid, ok := strings.Cut(users[len(users)-1].User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 || !ok {
		t.Errorf("USER %s: want numeric, non-root uid:gid (runAsNonRoot can only check a number)", users[len(users)-1].User)
	}
	values, err := common.ReadValuesFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := values["securityContext"].(map[string]any)
	if got := strconv.Itoa(int(sc["runAsUser"].(float64))) + ":" + strconv.Itoa(int(sc["runAsGroup"].(float64))); got != uid+":"+gid {
		t.Errorf("chart runs as %s, image as %s:%s: keep them the same so the data volume stays writable", got, uid, gid)
	}

	fenv := envOf(final)
	if fenv["GATEHOUSE_DATA_DIR"] != "/data" || fenv["GATEHOUSE_ADDR"] != ":8080" {
		t.Errorf("runtime ENV %v: want GATEHOUSE_DATA_DIR=/data and GATEHOUSE_ADDR=:8080", fenv)
	}
	if v := commands[*instructions.VolumeCommand](final); len(v) != 1 || !slices.Equal(v[0].Volumes, []string{"/data"}) {
		t.Errorf("VOLUME %v, want [/data]", v)
	}
	if e := commands[*instructions.ExposeCommand](final); len(e) != 1 || !slices.Equal(e[0].Ports, []string{"8080"}) {
		t.Errorf("EXPOSE %v, want 8080", e)
	}
	entry := commands[*instructions.EntrypointCommand](final)
	if len(entry) != 1 || entry[0].PrependShell || !slices.Contains(entry[0].CmdLine, "/usr/local/bin/gatehouse") {
		t.Errorf("ENTRYPOINT %v: want the exec form running /usr/local/bin/gatehouse", entry)
	}
}

// TestHealthcheck runs the image's HEALTHCHECK command (bash, no curl)
// against a server answering /healthz, the way Docker runs it, and checks
// that compose.yaml uses the same command.
func TestHealthcheck(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash on this machine")
	}
	hcs := commands[*instructions.HealthCheckCommand](parseDockerfile(t).final())
	if len(hcs) != 1 || len(hcs[0].Health.Test) < 2 || hcs[0].Health.Test[0] != "CMD" {
		t.Fatalf("HEALTHCHECK %+v: want one, in exec form", hcs)
	}
	test := hcs[0].Health.Test[1:]
	for name, tc := range map[string]struct {
		status int
		wantOK bool
	}{
		"healthy":   {http.StatusOK, true},
		"unhealthy": {http.StatusServiceUnavailable, false},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			cmd := exec.CommandContext(context.Background(), "/bin/bash", test[1:]...)
			cmd.Env = []string{"GATEHOUSE_ADDR=:" + port, "PATH=" + os.Getenv("PATH")}
			out, err := cmd.CombinedOutput()
			if ok := err == nil; ok != tc.wantOK {
				t.Errorf("healthcheck ok=%v, want %v (%v: %s)", ok, tc.wantOK, err, out)
			}
		})
	}

	compose := loadCompose(t)
	for _, svc := range []string{"gatehouse", "worker"} {
		hc := compose.service(t, svc)["healthcheck"].(map[string]any)["test"].([]any)
		got := make([]string, len(hc))
		for i, s := range hc {
			got[i] = strings.ReplaceAll(s.(string), "$$", "$") // compose's escape for a literal $
		}
		if !slices.Equal(got, hcs[0].Health.Test) {
			t.Errorf("compose %s healthcheck %q differs from the image's %q", svc, got, hcs[0].Health.Test)
		}
	}
}

func argList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// envRef matches a compose variable reference: ${NAME}, ${NAME:-x}, ${NAME:?x}.
var envRef = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}`)
