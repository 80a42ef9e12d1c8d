package setup_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/setup"
)

// The whole flow as a browser walks it: the page, GitHub's form, the
// redirect back, the credentials stored and handed over, the install link,
// and setup closed afterwards.
func TestSetupFlow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		org      string // "" for a personal account
		formPath string
	}{
		{name: "personal account", formPath: "/settings/apps/new"},
		{name: "organization", org: "acme", formPath: "/organizations/acme/settings/apps/new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			path := setup.PagePath
			if tc.org != "" {
				// The organization form is a GET to the page itself.
				code, page, _ := e.get(path)
				if code != http.StatusOK {
					t.Fatalf("GET /setup = %d", code)
				}
				f := formTo(t, page, setup.PagePath)
				if f.Method != http.MethodGet {
					t.Fatalf("organization form method %q, want GET", f.Method)
				}
				path += "?org=" + tc.org
			}
			code, page, _ := e.get(path)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d", path, code)
			}
			f := formTo(t, page, e.fake.URL()+tc.formPath+"?state=")
			status, body, final := e.submit(f)
			if status != http.StatusOK || final.Path != setup.CallbackPath || !strings.Contains(body, "gatehouse is set up") {
				t.Fatalf("after GitHub's form: %d at %s:\n%s", status, final, body)
			}
			install := e.fake.URL() + "/apps/" + e.fake.AppSlug() + "/installations/new"
			if !strings.Contains(body, `href="`+install+`"`) {
				t.Errorf("done page has no install link %s:\n%s", install, body)
			}

			ms := e.fake.Manifests()
			if len(ms) != 1 {
				t.Fatalf("manifests posted to GitHub: %d", len(ms))
			}
			hook, _ := ms[0].Manifest["hook_attributes"].(map[string]any)
			if ms[0].Org != tc.org || hook["url"] != e.url+"/webhooks/github" || ms[0].Manifest["redirect_url"] != e.url+"/setup/callback" {
				t.Errorf("manifest org %q hook %v redirect %v", ms[0].Org, hook["url"], ms[0].Manifest["redirect_url"])
			}

			stored, err := setup.Load(e.data)
			if err != nil || stored == nil {
				t.Fatalf("stored credentials: %v, %v", stored, err)
			}
			if stored.AppID != e.fake.AppID() || stored.Slug != e.fake.AppSlug() || string(stored.PrivateKey) != string(e.fake.PrivateKeyPEM()) ||
				stored.WebhookSecret != ms[0].WebhookSecret || stored.ClientID == "" || stored.ClientSecret == "" {
				t.Errorf("stored %v: key matches %v, webhook secret matches %v", stored, string(stored.PrivateKey) == string(e.fake.PrivateKeyPEM()), stored.WebhookSecret == ms[0].WebhookSecret)
			}
			if st, err := os.Stat(setup.Path(e.data)); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("credentials file mode: %v, %v", st.Mode(), err)
			}
			got := e.configured()
			if len(got) != 1 || got[0].AppID != stored.AppID || got[0].WebhookSecret != stored.WebhookSecret {
				t.Errorf("OnConfigured calls: %v", got)
			}
			// The stored key is the app's: GitHub accepts its JWT.
			urls, _ := ghclient.ParseURLs(e.fake.URL())
			f2, err := ghclient.New(ghclient.Config{URLs: urls, AppID: stored.AppID, PrivateKey: stored.PrivateKey, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			gh, _ := f2.App()
			app, _, err := gh.Apps.Get(context.Background(), "")
			if err != nil || app.GetSlug() != e.fake.AppSlug() {
				t.Errorf("GET /app with the stored key: %v, %v", app.GetSlug(), err)
			}

			// Closed after use.
			for _, p := range []string{setup.PagePath, setup.CallbackPath + "?state=x&code=y"} {
				if code, _, _ := e.get(p); code != http.StatusNotFound {
					t.Errorf("GET %s after setup = %d, want 404", p, code)
				}
			}
			if !e.h.Closed() {
				t.Error("handler not closed")
			}
		})
	}
}

// A callback is refused, and nothing stored, unless its state was issued
// by this server, is unused and unexpired.
func TestCallbackRefusesBadState(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state func(e *env, issued string) string
		code  func(e *env, real string) string
		prep  func(e *env, issued, code string)
		want  int
		text  string
	}{
		{name: "unknown state", state: func(*env, string) string { return "not-a-state" }, want: http.StatusBadRequest, text: "not valid"},
		{name: "no state", state: func(*env, string) string { return "" }, want: http.StatusBadRequest, text: "not valid"},
		{name: "expired state", prep: func(e *env, _, _ string) { e.advance(setup.DefaultStateTTL + time.Second) }, want: http.StatusBadRequest, text: "not valid"},
		{
			name: "reused state",
			prep: func(e *env, issued, _ string) {
				// First use, with a code GitHub does not know: refused by
				// GitHub, and the state is spent.
				if code, _, _ := e.get(setup.CallbackPath + "?state=" + issued + "&code=unknowncode"); code != http.StatusBadGateway {
					t.Errorf("first use with a bad code = %d, want 502", code)
				}
			},
			want: http.StatusBadRequest, text: "used already",
		},
		{name: "code with a path in it", code: func(*env, string) string { return "../../app" }, want: http.StatusBadRequest, text: "no valid code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			_, page, _ := e.get(setup.PagePath)
			loc := e.postNoFollow(t, formTo(t, page, e.fake.URL()+"/settings/apps/new"))
			issued, code := loc.Query().Get("state"), loc.Query().Get("code")
			if tc.prep != nil {
				tc.prep(e, issued, code)
			}
			state := issued
			if tc.state != nil {
				state = tc.state(e, issued)
			}
			if tc.code != nil {
				code = tc.code(e, code)
			}
			status, body, hdr := e.get(setup.CallbackPath + "?state=" + state + "&code=" + code)
			if status != tc.want || !strings.Contains(body, tc.text) {
				t.Errorf("callback = %d, want %d with %q:\n%s", status, tc.want, tc.text, body)
			}
			if !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
				t.Errorf("error page content type %q", hdr.Get("Content-Type"))
			}
			if c, err := setup.Load(e.data); c != nil || err != nil {
				t.Errorf("credentials stored after a refused callback: %v, %v", c, err)
			}
			if len(e.configured()) != 0 || e.h.Closed() {
				t.Errorf("server configured (%d) or setup closed (%v) after a refused callback", len(e.configured()), e.h.Closed())
			}
			if code, _, _ := e.get(setup.PagePath); code != http.StatusOK {
				t.Errorf("/setup after a refused callback = %d, want 200", code)
			}
		})
	}
}

// A failed switch still stores the credentials and closes setup; the done
// page says to restart.
func TestSwitchFailureShownOnDonePage(t *testing.T) {
	e := newEnv(t)
	e.cfgErr = errors.New("queue would not start")
	_, page, _ := e.get(setup.PagePath)
	status, body, _ := e.submit(formTo(t, page, e.fake.URL()+"/settings/apps/new"))
	if status != http.StatusOK || !strings.Contains(body, "queue would not start") || !strings.Contains(body, "restart gatehouse") {
		t.Errorf("done page = %d:\n%s", status, body)
	}
	if c, err := setup.Load(e.data); c == nil || err != nil {
		t.Errorf("credentials not stored: %v", err)
	}
	if !e.h.Closed() {
		t.Error("setup still open")
	}
}

func TestSetupPage(t *testing.T) {
	e := newEnv(t)
	code, page, hdr := e.get(setup.PagePath)
	if code != http.StatusOK {
		t.Fatalf("GET /setup = %d", code)
	}
	m, err := setup.ParseManifest(mustRead(t, "../../app.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// Every permission and event is shown with its reason.
	for _, it := range append(m.Permissions, m.Events...) {
		if !strings.Contains(page, "<code>"+it.Name+"</code>") || !strings.Contains(page, htmlEscape(it.Why)) {
			t.Errorf("page does not show %s and why (%q)", it.Name, it.Why)
		}
	}
	// Self-contained: no script, nothing loaded from elsewhere.
	for _, bad := range []string{"<script", " src=", "<link", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'",
		"Cache-Control":           "no-store",
		"X-Frame-Options":         "DENY",
	} {
		if !strings.Contains(hdr.Get(name), want) {
			t.Errorf("%s = %q, want %q in it", name, hdr.Get(name), want)
		}
	}
	// Each load gets its own state.
	_, page2, _ := e.get(setup.PagePath)
	a := formTo(t, page, e.fake.URL()+"/settings/apps/new").Action
	b := formTo(t, page2, e.fake.URL()+"/settings/apps/new").Action
	if a == b {
		t.Errorf("two loads share the form action %s", a)
	}
	if strings.Contains(page, "GATEHOUSE_PUBLIC_URL is not set") {
		t.Error("public URL warning shown although it is set")
	}
}

func TestSetupPageOrganizationName(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		org    string
		action bool
	}{
		{"acme", true},
		{"my-org-2", true},
		{"-acme", false},
		{"ac--me", false},
		{"acme/../../x", false},
		{strings.Repeat("a", 40), false},
	} {
		_, page, _ := e.get(setup.PagePath + "?org=" + tc.org)
		has := strings.Contains(page, e.fake.URL()+"/organizations/")
		if has != tc.action || strings.Contains(page, "not an organization name") == tc.action {
			t.Errorf("org %q: organization form %v, want %v", tc.org, has, tc.action)
		}
	}
}

// Without GATEHOUSE_PUBLIC_URL the page uses the address it was opened at
// and says so.
func TestSetupPageGuessesPublicURL(t *testing.T) {
	e := newEnv(t, func(c *setup.Config) { c.PublicURL = "" })
	_, page, _ := e.get(setup.PagePath)
	if !strings.Contains(page, "GATEHOUSE_PUBLIC_URL is not set") {
		t.Error("no warning about the public URL")
	}
	f := formTo(t, page, e.fake.URL()+"/settings/apps/new")
	if !strings.Contains(f.Fields.Get("manifest"), `"redirect_url":"`+e.url+`/setup/callback"`) {
		t.Errorf("manifest %s does not return to %s", f.Fields.Get("manifest"), e.url)
	}
	status, body, _ := e.submit(f)
	if status != http.StatusOK || !strings.Contains(body, "gatehouse is set up") {
		t.Errorf("flow with a guessed public URL = %d:\n%s", status, body)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]setup.Config{
		"no data dir":       {},
		"bad GitHub URL":    {DataDir: "d", GitHubURL: "ftp://x"},
		"bad public URL":    {DataDir: "d", PublicURL: "gatehouse.example.com"},
		"public URL query":  {DataDir: "d", PublicURL: "https://g.example/?a=b"},
		"manifest no why":   {DataDir: "d", Manifest: []byte("name: x\ndefault_permissions:\n  checks: write\n")},
		"manifest not YAML": {DataDir: "d", Manifest: []byte("[")},
	} {
		if _, err := setup.New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// htmlEscape is how html/template writes text that has quotes in it.
func htmlEscape(s string) string {
	return strings.NewReplacer(`"`, "&#34;", "'", "&#39;", "&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
