//go:build linux

package sandbox_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/sandbox"
)

const fixtures = "../../testdata/repos"

// local is the in-process runner the sandbox is compared with, loaded once.
var local struct {
	once sync.Once
	run  checks.Runner
	err  error
}

func localRunner(t *testing.T) checks.Runner {
	t.Helper()
	local.once.Do(func() {
		set, err := registry.New(registry.Options{DataDir: dataDir(t)})
		local.run, local.err = nil, err
		if err == nil {
			local.run = set.Runner()
		}
	})
	if local.err != nil {
		t.Fatal(local.err)
	}
	return local.run
}

// TestFixturesMatchInProcess scans every fixture repository with the real
// engines in the sandbox and in-process: the answers must be the same.
func TestFixturesMatchInProcess(t *testing.T) {
	r := newRunner(t, sandbox.Config{}, false)
	for _, repo := range []string{"secrets", "deps", "iac", "clean"} {
		t.Run(repo, func(t *testing.T) {
			dir, err := filepath.Abs(filepath.Join(fixtures, repo))
			must(t, err)
			req := checks.Request{Target: checks.Target{Dir: dir}, Checks: registry.Names}
			got, err := r.Run(context.Background(), req)
			if err != nil {
				t.Fatalf("sandbox: %v", err)
			}
			want, err := localRunner(t).Run(context.Background(), req)
			must(t, err)
			if len(got.Errors) > 0 || len(want.Errors) > 0 {
				t.Fatalf("errors: sandbox %v, in-process %v", got.Errors, want.Errors)
			}
			for _, name := range registry.Names {
				g, w := comparable(got.Result(name)), comparable(want.Result(name))
				if g != w {
					t.Errorf("%s differs:\nsandbox:    %s\nin-process: %s", name, g, w)
				}
			}
			if d := want.Result(checks.Dependencies); d != nil && len(d.SBOM) > 0 && len(got.Result(checks.Dependencies).SBOM) == 0 {
				t.Error("the SBOM did not come back from the sandbox")
			}
		})
	}
}

// comparable renders what must not depend on where a check ran.
func comparable(r *checks.Result) string {
	if r == nil {
		return "<nil>"
	}
	type view struct {
		Engine     checks.Engine
		Findings   []string
		Suppressed int
		Scope      checks.Scope
	}
	v := view{Engine: r.Engine, Suppressed: len(r.Suppressed), Scope: r.Scope}
	for _, f := range r.Findings {
		v.Findings = append(v.Findings, fmt.Sprintf("%s %s:%d %s", f.RuleID, f.File, f.StartLine, f.Fingerprint))
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// hostileRepo builds a repository that attacks the scanners: a 30 MB
// file, main.tf and package-lock.json as symlinks to /etc/passwd, leak.env
// a symlink to a secret outside the checkout, etc a symlink to /etc,
// k8s/linked a symlink to a directory of misconfigured manifests outside
// the checkout, a YAML billion-laughs file, a JSON file nested 100,000 deep
// holding a secret, next to a real secret and a real misconfiguration.
func hostileRepo(t *testing.T) string {
	t.Helper()
	root := worldDir(t)
	dir := filepath.Join(root, "hostile")
	must(t, os.MkdirAll(filepath.Join(dir, "k8s"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "lib"), 0o755))
	outside := filepath.Join(root, "outside")
	must(t, os.MkdirAll(outside, 0o755))
	copyFile(t, filepath.Join(fixtures, "secrets", "config", "aws.env"), filepath.Join(outside, "aws.env"))
	copyFile(t, filepath.Join(fixtures, "iac", "k8s", "deployment.yaml"), filepath.Join(outside, "deployment.yaml"))
	must(t, os.Symlink(filepath.Join(outside, "aws.env"), filepath.Join(dir, "leak.env")))
	must(t, os.Symlink(outside, filepath.Join(dir, "k8s", "linked")))
	must(t, os.Symlink("/etc", filepath.Join(dir, "etc")))
	big := strings.Repeat("just some text, nothing to see here\n", 30<<20/36+1)
	must(t, os.WriteFile(filepath.Join(dir, "big.txt"), []byte(big), 0o644))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "main.tf")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "package-lock.json")))
	laughs := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		refs := strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",")
		laughs += fmt.Sprintf("%s: &%s [%s]\n", name, name, refs)
		prev = name
	}
	must(t, os.WriteFile(filepath.Join(dir, "k8s", "laughs.yaml"), []byte(laughs), 0o644))
	deep := strings.Repeat("[", 100_000) + `"AKIAXIIU3KYOJJBBF5XN"` + strings.Repeat("]", 100_000)
	must(t, os.WriteFile(filepath.Join(dir, "deep.json"), []byte(deep), 0o644))
	copyFile(t, filepath.Join(fixtures, "secrets", "config", "aws.env"), filepath.Join(dir, "aws.env"))
	copyFile(t, filepath.Join(fixtures, "iac", "k8s", "deployment.yaml"), filepath.Join(dir, "k8s", "deployment.yaml"))
	writeEscapingArchives(t, dir)
	must(t, openUp(root))
	return dir
}

// escapeNames are the entries of writeEscapingArchives: each one climbs out
// of wherever an extractor would put it.
var escapeNames = []string{"../../escaped-tar.txt", "../escaped-tar-2.txt", "/tmp/escaped-tar-abs.txt"}

// writeEscapingArchives adds a gzipped tarball and a jar (a zip, which
// trivy's Java analyzer opens) whose entries use "../" and absolute paths,
// and a tar symlink entry pointing at /etc/passwd.
func writeEscapingArchives(t *testing.T, dir string) {
	t.Helper()
	var tb bytes.Buffer
	gz := gzip.NewWriter(&tb)
	tw := tar.NewWriter(gz)
	for _, name := range escapeNames {
		body := "escaped " + name + "\n"
		must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		must(t, err)
	}
	must(t, tw.WriteHeader(&tar.Header{Name: "passwd-link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink}))
	must(t, tw.Close())
	must(t, gz.Close())
	must(t, os.WriteFile(filepath.Join(dir, "evil.tar.gz"), tb.Bytes(), 0o644))

	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for _, name := range []string{"../../escaped-jar.txt", "META-INF/maven/evil/evil/pom.properties"} {
		w, err := zw.Create(name)
		must(t, err)
		_, err = w.Write([]byte("groupId=evil\nartifactId=evil\nversion=1.0.0\n"))
		must(t, err)
	}
	must(t, zw.Close())
	must(t, os.WriteFile(filepath.Join(dir, "lib", "evil.jar"), zb.Bytes(), 0o644))
}

// escapedFiles lists files the archives' entries would have created had
// anything extracted them.
func escapedFiles(dir string) []string {
	var out []string
	for _, base := range []string{dir, filepath.Dir(dir), filepath.Dir(filepath.Dir(dir)), "/tmp"} {
		for _, name := range []string{"escaped-tar.txt", "escaped-tar-2.txt", "escaped-tar-abs.txt", "escaped-jar.txt"} {
			if _, err := os.Lstat(filepath.Join(base, name)); err == nil {
				out = append(out, filepath.Join(base, name))
			}
		}
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	must(t, err)
	must(t, os.WriteFile(to, b, 0o644))
}

// TestHostileRepoIsScannedToCompletion scans the hostile repository with
// the real engines, in auto mode and in off mode: off mode has no Landlock
// and runs as root, so what it shows is the engines' own refusal to follow
// a symlink out of the checkout.
func TestHostileRepoIsScannedToCompletion(t *testing.T) {
	for _, mode := range []sandbox.Mode{sandbox.ModeAuto, sandbox.ModeOff} {
		t.Run(string(mode), func(t *testing.T) { scanHostile(t, mode) })
	}
}

func scanHostile(t *testing.T, mode sandbox.Mode) {
	r := newRunner(t, sandbox.Config{Mode: mode, Pool: -1}, false)
	dir := hostileRepo(t)
	resp, err := r.Run(context.Background(), checks.Request{Target: checks.Target{Dir: dir}, Checks: registry.Names})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) > 0 {
		t.Fatalf("checks failed: %v", resp.Errors)
	}
	b, _ := json.Marshal(resp)
	passwd, _ := os.ReadFile("/etc/passwd")
	if first, _, _ := strings.Cut(string(passwd), "\n"); first != "" && strings.Contains(string(b), first) {
		t.Errorf("host content (/etc/passwd) leaked into the response")
	}
	skipped := func(check, path, reason string) {
		t.Helper()
		for _, s := range resp.Result(check).Scope.Skipped {
			if s.Path == path && (reason == "" || strings.Contains(s.Reason, reason)) {
				return
			}
		}
		t.Errorf("%s: %s not listed as skipped (%s); skipped: %v", check, path, reason, resp.Result(check).Scope.Skipped)
	}
	skipped(checks.Secrets, "big.txt", "larger than")
	skipped(checks.IaC, "main.tf", "symlink")
	skipped(checks.IaC, "k8s/laughs.yaml", "billion laughs")
	skipped(checks.IaC, "deep.json", "max nesting")
	skipped(checks.Dependencies, "package-lock.json", "") // trivy's walker reports "path escapes from parent"
	skipped(checks.Dependencies, "deep.json", "max nesting")

	// The scanners still did their job on the rest.
	secrets := ruleFiles(resp.Result(checks.Secrets))
	for _, want := range []string{"aws.env", "deep.json"} {
		if !slices.Contains(secrets, want) {
			t.Errorf("secrets: no finding in %s (findings in %v): the nesting limit must not hide a secret", want, secrets)
		}
	}
	if iac := ruleFiles(resp.Result(checks.IaC)); !slices.Contains(iac, "k8s/deployment.yaml") {
		t.Errorf("iac: no finding in k8s/deployment.yaml (findings in %v)", iac)
	}
	// Nothing was read through a symlink.
	for _, name := range registry.Names {
		for _, f := range ruleFiles(resp.Result(name)) {
			if f == "leak.env" || strings.HasPrefix(f, "etc/") || strings.HasPrefix(f, "k8s/linked/") || f == "main.tf" {
				t.Errorf("%s: a finding in %s, read through a symlink", name, f)
			}
		}
	}
	skipped(checks.Secrets, "leak.env", "symlink")
	skipped(checks.Secrets, "etc", "symlink")
	skipped(checks.IaC, "k8s/linked", "symlink")

	// Limit hits are marked as such (the policy fails the check on them);
	// a symlink left alone by design is not.
	for _, check := range registry.Names {
		for _, s := range resp.Result(check).Scope.Skipped {
			wantLimit := s.Path == "big.txt" || s.Path == "k8s/laughs.yaml" || s.Path == "deep.json"
			if s.Limit != wantLimit {
				t.Errorf("%s: skipped %s (%s) has Limit=%v, want %v", check, s.Path, s.Reason, s.Limit, wantLimit)
			}
		}
	}
	// The archives' "../" and absolute entries were extracted nowhere.
	if got := escapedFiles(dir); len(got) > 0 {
		t.Errorf("archive entries escaped the checkout: %v", got)
	}
}

func ruleFiles(r *checks.Result) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.File)
	}
	return out
}

// TestGitHistoryInSandbox runs the secrets check in git mode inside the
// sandbox: git itself runs under Landlock and seccomp, on a checkout that
// belongs to another user.
func TestGitHistoryInSandbox(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1}, false)
	dir := filepath.Join(worldDir(t), "repo")
	must(t, os.MkdirAll(dir, 0o755))
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	copyFile(t, filepath.Join(fixtures, "secrets", "config", "aws.env"), filepath.Join(dir, "aws.env"))
	git("add", ".")
	git("commit", "-q", "-m", "add a key")
	must(t, os.Remove(filepath.Join(dir, "aws.env")))
	git("commit", "-q", "-am", "remove it")
	head := git("rev-parse", "HEAD")
	must(t, openUp(dir))
	resp, err := r.Run(context.Background(), checks.Request{
		Target: checks.Target{Dir: dir, HeadRev: head}, Checks: []string{checks.Secrets},
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg := resp.Errors[checks.Secrets]; msg != "" {
		t.Fatalf("secrets: %s", msg)
	}
	res := resp.Result(checks.Secrets)
	if res.Scope.Commits != 2 || len(res.Findings) != 1 || res.Findings[0].File != "aws.env" {
		t.Errorf("git mode in the sandbox: %d commits, findings %v; want 2 commits and the deleted key", res.Scope.Commits, res.Findings)
	}
}

func TestCheckoutLimitsAreReported(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join(fixtures, "secrets"))
	must(t, err)
	for _, tc := range []struct {
		name   string
		limits sandbox.Limits
		want   string
	}{
		{"files", sandbox.Limits{Limits: checks.Limits{MaxFiles: 3}}, "(max files)"},
		{"bytes", sandbox.Limits{Limits: checks.Limits{MaxTotalBytes: 100}}, "(max total bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunner(t, sandbox.Config{Pool: -1, Limits: tc.limits}, false)
			resp, err := r.Run(context.Background(), checks.Request{Target: checks.Target{Dir: dir}})
			must(t, err)
			if len(resp.Results) != 0 {
				t.Errorf("a check passed over the limit: %v", resp.Results)
			}
			for _, name := range registry.Names {
				if msg := resp.Errors[name]; !strings.Contains(msg, tc.want) {
					t.Errorf("%s: error %q, want the limit %s", name, msg, tc.want)
				}
			}
		})
	}
}

func TestUnreadableCheckoutIsRefused(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1}, true)
	if os.Geteuid() != 0 {
		t.Skip("the child runs as the parent's own user")
	}
	dir := t.TempDir() // 0700, root's
	_, err := r.Run(context.Background(), checks.Request{Target: checks.Target{Dir: dir}})
	if err == nil || !strings.Contains(err.Error(), "not readable and searchable by the sandbox user") &&
		!strings.Contains(err.Error(), "not searchable by the sandbox user") {
		t.Errorf("got %v, want a clear refusal", err)
	}
}

// TestMaxFileSizeReachesEveryScanner sets Limits.MaxFileSize below the
// size of a file each scanner would read: each lists it as a limit hit and
// reports nothing from it, while a file under the limit is still scanned.
func TestMaxFileSizeReachesEveryScanner(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1, Limits: sandbox.Limits{Limits: checks.Limits{MaxFileSize: 2000}}}, false)
	dir := filepath.Join(worldDir(t), "repo")
	must(t, os.MkdirAll(filepath.Join(dir, "k8s"), 0o755))
	key, err := os.ReadFile(filepath.Join(fixtures, "secrets", "config", "aws.env"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "small.env"), key, 0o644))
	padded := append(bytes.Repeat([]byte("# padding line, nothing secret here\n"), 100), key...)
	must(t, os.WriteFile(filepath.Join(dir, "big.env"), padded, 0o644))
	deploy, err := os.ReadFile(filepath.Join(fixtures, "iac", "k8s", "deployment.yaml"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "k8s", "deployment.yaml"), append(bytes.Repeat([]byte("# padding\n"), 300), deploy...), 0o644))
	lock, err := os.ReadFile(filepath.Join(fixtures, "deps", "package-lock.json"))
	must(t, err)
	lock = append(lock, bytes.Repeat([]byte(" "), 2000)...) // JSON allows trailing whitespace
	must(t, os.WriteFile(filepath.Join(dir, "package-lock.json"), lock, 0o644))
	must(t, openUp(dir))

	resp, err := r.Run(context.Background(), checks.Request{Target: checks.Target{Dir: dir}, Checks: registry.Names})
	if err != nil {
		t.Fatal(err)
	}
	for check, path := range map[string]string{checks.Secrets: "big.env", checks.IaC: "k8s/deployment.yaml", checks.Dependencies: "package-lock.json"} {
		res := resp.Result(check)
		if res == nil {
			t.Fatalf("%s: no result (errors %v)", check, resp.Errors)
		}
		hit := false
		for _, s := range res.Scope.Skipped {
			hit = hit || (s.Path == path && s.Limit)
		}
		if !hit {
			t.Errorf("%s: %s not listed as a limit hit; skipped %v", check, path, res.Scope.Skipped)
		}
		if files := ruleFiles(res); slices.Contains(files, path) {
			t.Errorf("%s: a finding in %s, which is over the limit", check, path)
		}
	}
	if files := ruleFiles(resp.Result(checks.Secrets)); !slices.Contains(files, "small.env") {
		t.Errorf("secrets: the file under the limit was not scanned (findings in %v)", files)
	}
}

// Custom checks travel to the child with the target and are evaluated
// there: the child reports what became of each and their findings, with
// the same refusal of network builtins as in-process.
func TestCustomChecksRunInTheChild(t *testing.T) {
	r := newRunner(t, sandbox.Config{}, false)
	team, err := os.ReadFile("../../testdata/custom-checks/kubernetes-team-label/team_label.rego")
	must(t, err)
	phoneHome := strings.Replace(string(team), "\tnot input.metadata.labels.team\n",
		"\tnot input.metadata.labels.team\n\thttp.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:9/\"})\n", 1)
	phoneHome = strings.ReplaceAll(phoneHome, "team_label", "phone_home")
	dir := worldDir(t)
	must(t, os.WriteFile(filepath.Join(dir, "web.yaml"), []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\n"), 0o644))
	must(t, openUp(dir))
	req := checks.Request{Checks: []string{checks.IaC}, Target: checks.Target{Dir: dir, Custom: []checks.CustomCheck{
		checks.NewCustomCheck("org:team_label.rego", checks.OriginOrg, team),
		checks.NewCustomCheck("repo:phone_home.rego", checks.OriginRepo, []byte(phoneHome)),
	}}}
	resp, err := r.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	res := resp.Result(checks.IaC)
	if res == nil {
		t.Fatalf("no iac result: %v", resp.Errors)
	}
	if len(res.Custom) != 2 || res.Custom[0].Rejected != "" || !strings.Contains(res.Custom[1].Rejected, "calls http.send") {
		t.Fatalf("custom statuses = %+v", res.Custom)
	}
	var found []string
	for _, f := range res.Findings {
		if f.Custom != "" {
			found = append(found, fmt.Sprintf("%s %s:%d %s", f.RuleID, f.File, f.StartLine, f.Custom))
		}
	}
	if want := "ORG-K8S-001 web.yaml:3 org:team_label.rego"; len(found) != 1 || found[0] != want {
		t.Errorf("custom findings from the child = %v, want [%s]", found, want)
	}
}
