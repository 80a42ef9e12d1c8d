package templates

import (
	"bytes"
	"strings"
	"testing"
)

func setupPage() SetupPage {
	return SetupPage{
		AppName: "gatehouse", Description: "Security gate for pull requests.", GitHubWeb: "https://github.com/",
		Events: []SetupItem{
			{Name: "pull_request", Why: "scan opened pull requests"},
			{Name: "issue_comment", Why: `"/gatehouse rescan" comments`},
		},
		Permissions: []SetupItem{
			{Name: "checks", Level: "write", Why: "create and complete gatehouse/secrets"},
			{Name: "metadata", Level: "read", Why: "mandatory for every app"},
		},
		Notes:      []string{"Optional, only when the policy turns SARIF upload on: security_events: write"},
		WebhookURL: "https://gate.example.com/webhooks/github", CallbackURL: "https://gate.example.com/setup/callback",
		Manifest:       `{"name":"gatehouse","redirect_url":"https://gate.example.com/setup/callback"}`,
		PagePath:       "/setup",
		PersonalAction: "https://github.com/settings/apps/new?state=STATE",
		Expires:        "1 hour",
	}
}

func TestSetupPages(t *testing.T) {
	org := setupPage()
	org.Org, org.OrgAction = "acme", "https://github.com/organizations/acme/settings/apps/new?state=STATE"
	badOrg := setupPage()
	badOrg.Org, badOrg.OrgError, badOrg.PublicURLGuessed = "<b>x</b>", "That is not an organization name.", true
	done := SetupDone{
		AppID: 42, Slug: "gatehouse-acme", Owner: "acme", InstallURL: "https://github.com/apps/gatehouse-acme/installations/new",
		SettingsURL: "https://github.com/organizations/acme/settings/apps/gatehouse-acme", WebhookURL: "https://gate.example.com/webhooks/github",
		CredentialsFile: "/var/lib/gatehouse/github-app.json",
	}
	doneErr := done
	doneErr.SwitchError = "start the worker: queue would not start"
	for _, tc := range []struct {
		golden string
		render func(*bytes.Buffer) error
	}{
		{"setup_page.html", func(b *bytes.Buffer) error { return RenderSetupPage(b, setupPage()) }},
		{"setup_page_org.html", func(b *bytes.Buffer) error { return RenderSetupPage(b, org) }},
		{"setup_page_bad_org.html", func(b *bytes.Buffer) error { return RenderSetupPage(b, badOrg) }},
		{"setup_done.html", func(b *bytes.Buffer) error { return RenderSetupDone(b, done) }},
		{"setup_done_switch_error.html", func(b *bytes.Buffer) error { return RenderSetupDone(b, doneErr) }},
		{"setup_error.html", func(b *bytes.Buffer) error {
			return RenderSetupError(b, SetupError{Title: "This setup link is not valid", Message: "It was used already.", RestartURL: "/setup"})
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.render(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.golden, b.String())
		})
	}
}

// What users type or GitHub returns is escaped, in text and in attributes.
func TestSetupPagesEscape(t *testing.T) {
	p := setupPage()
	p.Org = `"><script>alert(1)</script>`
	p.OrgError = "bad"
	p.Manifest = `{"name":"</form><script>x</script>"}`
	var b bytes.Buffer
	if err := RenderSetupPage(&b, p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script") {
		t.Errorf("unescaped input in the page:\n%s", b.String())
	}
	if !strings.Contains(b.String(), `value="{&#34;name&#34;:&#34;&lt;/form&gt;&lt;script&gt;x&lt;/script&gt;&#34;}"`) {
		t.Errorf("manifest not escaped as an attribute value:\n%s", b.String())
	}
}
