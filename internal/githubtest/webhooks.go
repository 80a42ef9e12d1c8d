package githubtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// webhooksDir holds GitHub's recorded webhook examples, relative to the
// module root (see scripts/extract-webhooks.js).
const webhooksDir = "testdata/webhooks"

// LoadWebhook returns the recorded example payload
// testdata/webhooks/<name>.json, e.g. "pull_request.opened" or "push", as
// raw JSON: a test edits it (repository, installation id, shas) to match
// the server's state before delivering it.
func LoadWebhook(tb testing.TB, name string) []byte {
	tb.Helper()
	spec, err := findSpecFile()
	if err != nil {
		tb.Fatalf("githubtest: %v", err)
	}
	root := filepath.Dir(filepath.Dir(filepath.Dir(spec)))
	data, err := os.ReadFile(filepath.Join(root, webhooksDir, name+".json"))
	if err != nil {
		tb.Fatalf("githubtest: load webhook example: %v", err)
	}
	if !json.Valid(data) {
		tb.Fatalf("githubtest: webhook example %s is not JSON", name)
	}
	return data
}
