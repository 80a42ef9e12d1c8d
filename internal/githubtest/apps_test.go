package githubtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"
)

func TestInstallationsAndTheirRepositories(t *testing.T) {
	f := newFixture(t)
	f.s.AddRepo("acme", "gadgets")
	f.s.AddRepo("other", "thing")
	f.s.AddInstallation(2, "other")
	app := f.client(t, f.s.AppJWT())
	insts, _, err := app.Apps.ListInstallations(f.ctx, nil)
	if err != nil {
		t.Fatalf("list installations: %v", err)
	}
	if len(insts) != 2 || insts[0].GetID() != 1 || insts[0].GetAccount().GetLogin() != "acme" || insts[1].GetRepositorySelection() != "all" {
		t.Errorf("installations = %v", insts)
	}
	for _, tc := range []struct {
		id    int64
		repos []string
	}{
		{1, []string{"acme/widgets"}}, // selected: gadgets is not part of it
		{2, []string{"other/thing"}},
	} {
		repos, _, err := f.client(t, f.s.IssueToken(tc.id)).Apps.ListRepos(f.ctx, nil)
		if err != nil {
			t.Fatalf("installation %d repos: %v", tc.id, err)
		}
		var got []string
		for _, r := range repos.Repositories {
			got = append(got, r.GetFullName())
		}
		if strings.Join(got, ",") != strings.Join(tc.repos, ",") || repos.GetTotalCount() != len(tc.repos) {
			t.Errorf("installation %d repos = %v, want %v", tc.id, got, tc.repos)
		}
	}
}

func TestManifestFlow(t *testing.T) {
	f := newFixture(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	manifest := `{"name":"gatehouse","url":"https://gatehouse.example","redirect_url":"https://gatehouse.example/setup/callback",` +
		`"hook_attributes":{"url":"https://gatehouse.example/webhooks/github"},"default_permissions":{"checks":"write"}}`
	resp, err := noRedirect.PostForm(f.s.URL()+"/organizations/acme/settings/apps/new?state=xyz", url.Values{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Host != "gatehouse.example" || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" {
		t.Fatalf("form answer %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ms := f.s.Manifests()
	if len(ms) != 1 || ms[0].Org != "acme" || ms[0].Manifest["name"] != "gatehouse" {
		t.Errorf("manifests = %+v", ms)
	}
	base := f.s.URL() + "/"
	anon, err := github.NewClient(github.WithURLs(&base, &base))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := anon.Apps.CompleteAppManifest(f.ctx, loc.Query().Get("code"))
	if err != nil {
		t.Fatalf("conversion: %v", err)
	}
	if cfg.GetID() != f.s.AppID() || cfg.GetPEM() != string(f.s.PrivateKeyPEM()) || cfg.GetWebhookSecret() == "" || cfg.GetName() != "gatehouse" {
		t.Errorf("conversion = id %d name %q secret %q pem ok %v", cfg.GetID(), cfg.GetName(), cfg.GetWebhookSecret(), cfg.GetPEM() == string(f.s.PrivateKeyPEM()))
	}
	if _, resp, _ := anon.Apps.CompleteAppManifest(f.ctx, loc.Query().Get("code")); statusOf(resp) != http.StatusNotFound {
		t.Errorf("second conversion of a code: status %d, want 404", statusOf(resp))
	}
}

func TestManifestFormRejectsBadManifests(t *testing.T) {
	for name, manifest := range map[string]string{
		"not JSON":          `{`,
		"no url":            `{"redirect_url":"https://a.example/cb"}`,
		"no redirect":       `{"url":"https://a.example"}`,
		"hook without url":  `{"url":"https://a.example","redirect_url":"https://a.example/cb","hook_attributes":{}}`,
		"relative redirect": `{"url":"https://a.example","redirect_url":"/cb"}`,
	} {
		t.Run(name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			f := newFixture(rec)
			resp, err := f.s.Client().PostForm(f.s.URL()+"/settings/apps/new", url.Values{"manifest": {manifest}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnprocessableEntity || len(rec.failures()) != 1 || len(f.s.Manifests()) != 0 {
				t.Errorf("status %d, failures %v, manifests %d; want 422, one failure, none stored", resp.StatusCode, rec.failures(), len(f.s.Manifests()))
			}
		})
	}
}
