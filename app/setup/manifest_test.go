package setup_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/app/setup"
)

// app.yml asks for the least the app needs, and says why for each.
func TestAppManifestLeastPrivilege(t *testing.T) {
	m, err := setup.ParseManifest(gatehouse.AppManifest())
	if err != nil {
		t.Fatal(err)
	}
	perms := map[string]string{}
	for _, p := range m.Permissions {
		perms[p.Name] = p.Level
		if p.Why == "" {
			t.Errorf("permission %s has no reason", p.Name)
		}
	}
	want := map[string]string{"checks": "write", "contents": "read", "pull_requests": "write", "issues": "write", "metadata": "read",
		"deployments": "write", "actions": "read"}
	if !maps.Equal(perms, want) {
		t.Errorf("permissions = %v, want %v", perms, want)
	}
	var events []string
	for _, e := range m.Events {
		events = append(events, e.Name)
	}
	wantEvents := []string{"pull_request", "push", "check_run", "check_suite", "issue_comment", "pull_request_review", "installation_repositories",
		"merge_group", "deployment_protection_rule"}
	if !slices.Equal(events, wantEvents) {
		t.Errorf("events = %v, want %v", events, wantEvents)
	}
	if !strings.Contains(strings.Join(m.Notes, " "), "security_events") {
		t.Errorf("notes %q do not mention the optional security_events permission", m.Notes)
	}
}

func TestManifestJSON(t *testing.T) {
	m, err := setup.ParseManifest(gatehouse.AppManifest())
	if err != nil {
		t.Fatal(err)
	}
	for _, public := range []string{"https://gate.example.com", "https://gate.example.com/"} {
		b, err := m.JSON(public)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Name           string            `json:"name"`
			Public         bool              `json:"public"`
			RedirectURL    string            `json:"redirect_url"`
			Hook           map[string]any    `json:"hook_attributes"`
			Events         []string          `json:"default_events"`
			Permissions    map[string]string `json:"default_permissions"`
			SecurityEvents string            `json:"security_events"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Name != "gatehouse" || got.Public || got.RedirectURL != "https://gate.example.com/setup/callback" ||
			got.Hook["url"] != "https://gate.example.com/webhooks/github" || got.Hook["active"] != true ||
			len(got.Events) != 9 || got.Permissions["checks"] != "write" || got.Permissions["security_events"] != "" {
			t.Errorf("manifest JSON for %s = %s", public, b)
		}
	}
}

func TestParseManifestErrors(t *testing.T) {
	for name, yml := range map[string]string{
		"event without why":      "name: x\ndefault_events:\n  - push\ndefault_permissions:\n  checks: write # why\n",
		"permission without why": "name: x\ndefault_permissions:\n  checks: write\n",
		"no permissions":         "name: x\n",
		"no name":                "default_permissions:\n  checks: write # why\n",
		"not a mapping":          "- a\n",
		"not YAML":               "{",
	} {
		if _, err := setup.ParseManifest([]byte(yml)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
