package githubtest

import (
	"encoding/json"
	"path/filepath"
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
	if !strings.HasPrefix(manifest.Package, "@octokit/webhooks-examples@") {
		t.Errorf("manifest names %q", manifest.Package)
	}
	// Every example on disk is in the manifest, and the other way round.
	files, err := filepath.Glob(filepath.Join(findRoot(t), webhooksDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := filepath.Base(f); name != "manifest.json" {
			if _, ok := manifest.Files[name]; !ok {
				t.Errorf("%s is not in the manifest", name)
			}
		}
	}
	if len(files) != len(manifest.Files)+1 {
		t.Errorf("%d example files, the manifest lists %d", len(files)-1, len(manifest.Files))
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

// findRoot is the module root (where testdata lives).
func findRoot(t *testing.T) string {
	t.Helper()
	spec, err := findSpecFile()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(spec)))
}
