package githubtest

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestWebhookExamples(t *testing.T) {
	var manifest struct {
		Package string `json:"package"`
		Files   map[string]struct {
			Event  string  `json:"event"`
			Action *string `json:"action"`
		} `json:"files"`
	}
	if err := json.Unmarshal(LoadWebhook(t, "manifest"), &manifest); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(manifest.Package, "@octokit/webhooks-examples@") || len(manifest.Files) != 14 {
		t.Errorf("manifest names %q with %d files", manifest.Package, len(manifest.Files))
	}
	for file, entry := range manifest.Files {
		var payload map[string]any
		if err := json.Unmarshal(LoadWebhook(t, strings.TrimSuffix(file, ".json")), &payload); err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		want := ""
		if entry.Action != nil {
			want = *entry.Action
		}
		if got, _ := payload["action"].(string); got != want {
			t.Errorf("%s: action %q, manifest says %q", file, got, want)
		}
		if _, ok := payload["installation"]; !ok && entry.Event != "ping" {
			t.Errorf("%s: no installation, which every app delivery has", file)
		}
	}
	var push struct {
		After   string `json:"after"`
		Deleted bool   `json:"deleted"`
	}
	if err := json.Unmarshal(LoadWebhook(t, "push.deleted"), &push); err != nil || !push.Deleted || strings.Trim(push.After, "0") != "" {
		t.Errorf("push.deleted: after %q deleted %v (%v)", push.After, push.Deleted, err)
	}
}
