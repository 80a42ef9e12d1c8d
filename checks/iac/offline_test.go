package iac

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/options"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/terraform"
	"github.com/aquasecurity/trivy/pkg/mapfs"

	"github.com/gatehouse/gatehouse/checks"
)

// tripwire is a local server that counts every connection and request a
// scan makes to it (plain HTTP, git smart HTTP, or a TLS attempt).
type tripwire struct {
	srv      *httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
}

func newTripwire(t *testing.T) *tripwire {
	tw := &tripwire{}
	tw.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw.requests.Add(1)
		t.Logf("tripwire: %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}))
	tw.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			tw.conns.Add(1)
		}
	}
	tw.srv.Start()
	t.Cleanup(tw.srv.Close)
	return tw
}

func (tw *tripwire) hostPort() string { return strings.TrimPrefix(tw.srv.URL, "http://") }

// remoteSources is a repository whose IaC asks for everything trivy could
// fetch: Terraform modules over git and HTTP and from a registry, and a
// Helm chart dependency from a chart repository.
func remoteSources(hostPort string) map[string]string {
	return map[string]string{
		"git/main.tf": fmt.Sprintf(`module "x" {
  source = "git::http://%s/modules.git//net?ref=v1.0.0"
}
`, hostPort),
		"http/main.tf": fmt.Sprintf(`module "x" {
  source = "http://%s/mod.zip"
}
`, hostPort),
		"https/main.tf": fmt.Sprintf(`module "x" {
  source = "https://%s/mod.zip"
}
`, hostPort),
		"registry/main.tf": fmt.Sprintf(`module "x" {
  source  = "%s/gatehouse/evil/aws"
  version = "1.0.0"
}
`, hostPort),
		"local/main.tf": fmt.Sprintf(openSG, "local", "local"),
		"chart/Chart.yaml": fmt.Sprintf(`apiVersion: v2
name: web
version: 0.1.0
dependencies:
  - name: evil
    version: 1.0.0
    repository: http://%s/charts
`, hostPort),
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
	}
}

// TestNoNetwork: however a repository spells a remote source, a scan makes
// no connection at all, and still scans what is local.
func TestNoNetwork(t *testing.T) {
	tw := newTripwire(t)
	dir := writeTree(t, t.TempDir(), remoteSources(tw.hostPort()))

	res := run(t, scanner(t), checks.Target{Dir: dir})

	if n, r := tw.conns.Load(), tw.requests.Load(); n != 0 || r != 0 {
		t.Fatalf("the scan opened %d connections and sent %d requests to the test server; want none", n, r)
	}
	if !hasRule(res.Findings, "AWS-0107", "local/main.tf") {
		t.Errorf("the local module was not scanned: %v", locs(res.Findings))
	}
	if r := skipReason(res.Scope.Skipped, "chart"); !strings.Contains(r, "not vendored") {
		t.Errorf("chart with an unfetched dependency: skip reason %q; want it reported as not rendered", r)
	}
}

// TestTripwireCatchesTrivyDefault shows TestNoNetwork can fail: trivy's
// Terraform scanner with its default (downloads allowed) fetches the git
// module from the test server.
func TestTripwireCatchesTrivyDefault(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed; go-getter needs it for git:: sources")
	}
	tw := newTripwire(t)
	fsys := mapfs.New()
	if err := fsys.WriteVirtualFile("main.tf", []byte(remoteSources(tw.hostPort())["git/main.tf"]), 0o444); err != nil {
		t.Fatal(err)
	}
	s := scanner(t)
	s.mu.Lock()
	rs, err := s.compiled()
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	tf := terraform.New(rego.WithRegoScanner(rs), terraform.ScannerWithSkipCachedModules(true),
		options.ScannerOption(terraform.ScannerWithAllDirectories(true)))
	_, _ = tf.ScanFS(context.Background(), fsys, ".") // the download fails; only the attempt matters
	if tw.conns.Load() == 0 {
		t.Fatal("trivy's default Terraform scanner made no connection; the tripwire cannot tell")
	}
}
