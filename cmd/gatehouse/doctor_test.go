package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/setup"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/checks/deps"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/sandbox"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// doctorEnv is a data directory, a fake GitHub and a reachable public URL.
type doctorEnv struct {
	fake   *githubtest.Server
	data   string
	public string
	dbTime time.Time
}

func newDoctorEnv(t *testing.T) *doctorEnv {
	t.Helper()
	e := &doctorEnv{fake: githubtest.New(t), data: t.TempDir()}
	depstest.BuildDB(t, registry.DBDir(e.data))
	info, err := deps.DBStatus(registry.DBDir(e.data))
	if err != nil || !info.Present {
		t.Fatalf("fixture DB: %v %+v", err, info)
	}
	e.dbTime = info.UpdatedAt
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(health.Close)
	e.public = health.URL
	return e
}

// stored saves the fake's app as /setup would.
func (e *doctorEnv) stored(t *testing.T) { t.Helper(); e.storedIn(t, e.data) }

func (e *doctorEnv) storedIn(t *testing.T, dir string) {
	t.Helper()
	if err := setup.Save(dir, setup.Credentials{
		AppID: e.fake.AppID(), Slug: e.fake.AppSlug(), PrivateKey: e.fake.PrivateKeyPEM(), WebhookSecret: "whsec", GitHubURL: e.fake.URL() + "/",
	}); err != nil {
		t.Fatal(err)
	}
}

func (e *doctorEnv) options() doctorOptions {
	return doctorOptions{
		appFlags: appFlags{dataDir: e.data, role: "all", githubURL: e.fake.URL(), publicURL: e.public, sandbox: "auto"},
		now:      func() time.Time { return e.dbTime.Add(5 * time.Hour) },
		sandboxStatus: func(context.Context, string, sandbox.Mode) (sandbox.Status, error) {
			return sandbox.Status{Mode: sandbox.ModeAuto, Layers: []sandbox.Layer{{Name: sandbox.LayerSeccomp, Active: true}}}, nil
		},
	}
}

// doctorLines runs the checklist and returns each item's state by name.
func doctorLines(t *testing.T, o doctorOptions) (map[string]string, string, bool) {
	t.Helper()
	var out bytes.Buffer
	failed := runDoctor(context.Background(), &out, o)
	states := map[string]string{}
	re := regexp.MustCompile(`^(ok|warn|FAIL|skip)\s+(\S.*?)\s{2,}`)
	for _, l := range strings.Split(out.String(), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			states[m[2]] = m[1]
		}
	}
	return states, out.String(), failed
}

func otherKey(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDoctor(t *testing.T) {
	for _, tc := range []struct {
		name       string
		bare       bool // start with no app; otherwise the app is stored and installed
		prep       func(t *testing.T, e *doctorEnv, o *doctorOptions)
		want       map[string]string
		wantFailed bool
		contains   []string
	}{
		{
			name: "configured through /setup and installed",
			prep: func(t *testing.T, e *doctorEnv, o *doctorOptions) {
				e.fake.AddRepo("acme", "widgets")
				e.fake.AddRepo("acme", "gadgets")
			},
			want: map[string]string{"GitHub App": "ok", "GitHub API": "ok", "installations": "ok", "webhook secret": "ok",
				"public URL": "warn", "database (sqlite)": "ok", "vulnerability DB": "ok", "sandbox": "ok", "webhook deliveries": "ok"},
			contains: []string{"stored by /setup", "1 installation (acme), 2 repositories", "/healthz answers", "is a local address", "5 hours ago"},
		},
		{
			name:       "nothing configured",
			bare:       true,
			prep:       func(t *testing.T, e *doctorEnv, o *doctorOptions) { o.publicURL = "" },
			want:       map[string]string{"GitHub App": "FAIL", "GitHub API": "skip", "installations": "skip", "webhook secret": "FAIL", "public URL": "warn"},
			wantFailed: true,
			contains:   []string{"→ run gatehouse serve and open http://localhost:8080/setup", "→ set GATEHOUSE_WEBHOOK_SECRET", "→ set GATEHOUSE_PUBLIC_URL"},
		},
		{
			name: "key of another app",
			bare: true,
			prep: func(t *testing.T, e *doctorEnv, o *doctorOptions) {
				o.appID, o.keyPath, o.secret = fmt.Sprint(e.fake.AppID()), otherKey(t), "s"
			},
			want:       map[string]string{"GitHub App": "ok", "GitHub API": "FAIL", "installations": "skip", "webhook secret": "ok"},
			wantFailed: true,
			contains:   []string{"from the environment", "401", "do not belong together"},
		},
		{
			name:       "not installed",
			bare:       true,
			prep:       func(t *testing.T, e *doctorEnv, o *doctorOptions) { e.stored(t) },
			want:       map[string]string{"GitHub API": "ok", "installations": "FAIL"},
			wantFailed: true,
			contains:   []string{"→ install it on the repositories to check: " + "%FAKE%/apps/gatehouse-test/installations/new"},
		},
		{
			name: "failed deliveries in the last day",
			prep: func(t *testing.T, e *doctorEnv, o *doctorOptions) {
				e.fake.SetWebhook("http://127.0.0.1:1/webhooks/github", []byte("s")) // nothing listens
				e.fake.SendWebhook("pull_request", githubtest.LoadWebhook(t, "pull_request.opened"))
			},
			want:     map[string]string{"webhook deliveries": "warn"},
			contains: []string{"1 delivery failed in the last 24 hours", "could not connect", "GATEHOUSE_RECOVERY_INTERVAL"},
		},
		{
			name:     "environment overrides the stored secret",
			prep:     func(t *testing.T, e *doctorEnv, o *doctorOptions) { o.secret = "from-env" },
			want:     map[string]string{"GitHub App": "ok", "webhook secret": "ok"},
			contains: []string{"with environment overrides", "set (GATEHOUSE_WEBHOOK_SECRET)"},
		},
		{
			name: "stale vulnerability DB",
			prep: func(t *testing.T, e *doctorEnv, o *doctorOptions) {
				o.now = func() time.Time { return e.dbTime.Add(10 * 24 * time.Hour) }
			},
			want:     map[string]string{"vulnerability DB": "warn"},
			contains: []string{"10 days ago", "→ gatehouse db update"},
		},
		{
			name:       "no vulnerability DB",
			prep:       func(t *testing.T, e *doctorEnv, o *doctorOptions) { o.dataDir = t.TempDir(); e.storedIn(t, o.dataDir) },
			want:       map[string]string{"vulnerability DB": "FAIL"},
			wantFailed: true,
			contains:   []string{"gatehouse db import FILE"},
		},
		{
			name: "sandbox cannot start",
			prep: func(t *testing.T, e *doctorEnv, o *doctorOptions) {
				o.sandboxStatus = func(context.Context, string, sandbox.Mode) (sandbox.Status, error) {
					return sandbox.Status{}, errors.New("sandbox: cannot start a child: no user namespaces")
				}
			},
			want:       map[string]string{"sandbox": "FAIL"},
			wantFailed: true,
			contains:   []string{"no user namespaces"},
		},
		{
			name: "sandbox missing a layer in auto mode",
			prep: func(t *testing.T, e *doctorEnv, o *doctorOptions) {
				o.sandboxStatus = func(context.Context, string, sandbox.Mode) (sandbox.Status, error) {
					return sandbox.Status{Mode: sandbox.ModeAuto, Layers: []sandbox.Layer{{Name: sandbox.LayerLandlock, Detail: "kernel too old"}}, Missing: []string{sandbox.LayerLandlock}}, nil
				}
			},
			want:     map[string]string{"sandbox": "warn"},
			contains: []string{"landlock (kernel too old)"},
		},
		{
			name: "sandbox missing a layer in strict mode",
			prep: func(t *testing.T, e *doctorEnv, o *doctorOptions) {
				o.sandbox = "strict"
				o.sandboxStatus = func(context.Context, string, sandbox.Mode) (sandbox.Status, error) {
					return sandbox.Status{Mode: sandbox.ModeStrict, Missing: []string{sandbox.LayerLandlock}}, nil
				}
			},
			want:       map[string]string{"sandbox": "FAIL"},
			wantFailed: true,
		},
		{
			name: "web role skips the scanning checks",
			prep: func(t *testing.T, e *doctorEnv, o *doctorOptions) {
				o.role = "web"
				o.dataDir = t.TempDir()
				e.storedIn(t, o.dataDir)
			},
			want: map[string]string{"vulnerability DB": "skip", "sandbox": "skip"},
		},
		{
			name:       "data directory missing",
			prep:       func(t *testing.T, e *doctorEnv, o *doctorOptions) { o.dataDir = filepath.Join(t.TempDir(), "nope") },
			want:       map[string]string{"database (sqlite)": "FAIL"},
			wantFailed: true,
		},
		{
			name: "database in use by a running server",
			prep: func(t *testing.T, e *doctorEnv, o *doctorOptions) {
				st, err := store.Open(context.Background(), store.Config{DataDir: e.data})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
			},
			want:     map[string]string{"database (sqlite)": "ok"},
			contains: []string{"in use by the running gatehouse serve"},
		},
		{
			name: "postgres unreachable",
			prep: func(t *testing.T, e *doctorEnv, o *doctorOptions) {
				o.dbURL = "postgres://gatehouse@127.0.0.1:1/gatehouse?connect_timeout=2"
			},
			want:       map[string]string{"database (postgres)": "FAIL"},
			wantFailed: true,
			contains:   []string{"→ check GATEHOUSE_DATABASE_URL"},
		},
		{
			name:       "public URL not a URL",
			prep:       func(t *testing.T, e *doctorEnv, o *doctorOptions) { o.publicURL = "gatehouse.example.com" },
			want:       map[string]string{"public URL": "FAIL"},
			wantFailed: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDoctorEnv(t)
			o := e.options()
			if !tc.bare {
				e.stored(t)
				e.fake.AddInstallation(7, "acme")
			}
			tc.prep(t, e, &o)
			states, out, failed := doctorLines(t, o)
			for name, want := range tc.want {
				if states[name] != want {
					t.Errorf("%s = %q, want %q", name, states[name], want)
				}
			}
			if tc.wantFailed != failed {
				t.Errorf("failed = %v, want %v", failed, tc.wantFailed)
			}
			for _, c := range tc.contains {
				c = strings.ReplaceAll(c, "%FAKE%", e.fake.URL())
				if !strings.Contains(out, c) {
					t.Errorf("output lacks %q", c)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
			if strings.Contains(out, "BEGIN RSA PRIVATE KEY") || strings.Contains(out, "whsec") {
				t.Errorf("a secret in the output:\n%s", out)
			}
		})
	}
}

// Through the command line: exit 1 when something required fails, 0 when
// everything is in place.
func TestDoctorCommandExitCode(t *testing.T) {
	e := newDoctorEnv(t)
	args := []string{"doctor", "--data-dir", e.data, "--github-url", e.fake.URL(), "--public-url", e.public, "--role", "web"}
	if out, code := run(t, args...); code != 1 || !strings.Contains(out, "FAIL  GitHub App") {
		t.Errorf("unconfigured: exit %d:\n%s", code, out)
	}
	e.stored(t)
	e.fake.AddInstallation(7, "acme")
	if out, code := run(t, args...); code != 0 || !strings.Contains(out, "0 failed") {
		t.Errorf("configured: exit %d:\n%s", code, out)
	}
}

func TestDoctorListenAddress(t *testing.T) {
	if l := doctorListen("", false); l.detail != "serve listens on 127.0.0.1:8080; open http://localhost:8080/setup on this host to create the app (in Kubernetes: kubectl port-forward to the pod, e.g. deploy/RELEASE-gatehouse-all 8080:8080; with compose: the published port)" {
		t.Errorf("unconfigured: %q", l.detail)
	}
	if l := doctorListen("", true); l.detail != "serve listens on :8080" {
		t.Errorf("configured: %q", l.detail)
	}
	if l := doctorListen("0.0.0.0:9000", false); !strings.Contains(l.detail, "on 0.0.0.0:9000; open http://localhost:9000/setup") {
		t.Errorf("GATEHOUSE_ADDR: %q", l.detail)
	}
}
