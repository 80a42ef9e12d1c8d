package setup_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/setup"
)

func sample() setup.Credentials {
	return setup.Credentials{
		AppID: 77, Slug: "gatehouse-acme", Name: "gatehouse acme", Owner: "acme", HTMLURL: "https://github.com/apps/gatehouse-acme",
		GitHubURL: "https://github.com/", ClientID: "Iv1.abc", ClientSecret: "client-secret-value",
		WebhookSecret: "webhook-secret-value", PrivateKey: []byte("-----BEGIN RSA PRIVATE KEY-----\nkey-material\n-----END RSA PRIVATE KEY-----\n"),
		CreatedAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestSaveLoadReset(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if c, err := setup.Load(dir); c != nil || err != nil {
		t.Fatalf("Load before Save = %v, %v; want nil, nil", c, err)
	}
	want := sample()
	if err := setup.Save(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := setup.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", *got) == "" || got.AppID != want.AppID || got.Slug != want.Slug || got.Owner != want.Owner ||
		got.ClientSecret != want.ClientSecret || got.WebhookSecret != want.WebhookSecret ||
		!bytes.Equal(got.PrivateKey, want.PrivateKey) || !got.CreatedAt.Equal(want.CreatedAt) || got.HTMLURL != want.HTMLURL {
		t.Errorf("round trip lost fields")
	}
	st, err := os.Stat(setup.Path(dir))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", st.Mode(), err)
	}
	// Overwrite: the new credentials replace the old, no temp file is left.
	next := sample()
	next.AppID = 78
	if err := setup.Save(dir, next); err != nil {
		t.Fatal(err)
	}
	if got, _ := setup.Load(dir); got.AppID != 78 {
		t.Errorf("after overwrite app id %d", got.AppID)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != setup.FileName {
		t.Errorf("data dir holds %v, want only %s", entries, setup.FileName)
	}
	for _, want := range []bool{true, false} {
		removed, err := setup.Reset(dir)
		if err != nil || removed != want {
			t.Errorf("Reset = %v, %v; want %v", removed, err, want)
		}
	}
	if c, err := setup.Load(dir); c != nil || err != nil {
		t.Errorf("Load after Reset = %v, %v", c, err)
	}
}

func TestLoadRejectsBrokenFiles(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON":      "{",
		"wrong version": `{"version": 9, "app_id": 1, "private_key": "k"}`,
		"no key":        `{"version": 1, "app_id": 1}`,
		"no app id":     `{"version": 1, "private_key": "k"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(setup.Path(dir), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if c, err := setup.Load(dir); err == nil || c != nil {
				t.Errorf("Load = %v, %v; want an error", c, err)
			}
		})
	}
}

// Printing or logging credentials never shows a secret.
func TestCredentialsDoNotLeak(t *testing.T) {
	c := sample()
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", slog.Any("app", c), slog.Any("ptr", &c))
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "app", c)
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "Sprint": fmt.Sprint(c),
		"pointer %v": fmt.Sprintf("%v", &c), "slog": logged.String(),
	}
	for how, out := range outputs {
		for _, secret := range []string{c.ClientSecret, c.WebhookSecret, "key-material"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows a secret: %s", how, out)
			}
		}
		if !strings.Contains(out, "77") {
			t.Errorf("%s does not show the app id: %s", how, out)
		}
	}
}

func TestMerge(t *testing.T) {
	stored := sample()
	key := []byte("env key")
	for _, tc := range []struct {
		name       string
		env        setup.Credentials
		stored     *setup.Credentials
		wantID     int64
		wantKey    string
		wantSecret string
		wantSlug   string
	}{
		{"nothing stored", setup.Credentials{AppID: 5, PrivateKey: key, WebhookSecret: "e"}, nil, 5, "env key", "e", ""},
		{"nothing in env", setup.Credentials{}, &stored, 77, string(stored.PrivateKey), "webhook-secret-value", "gatehouse-acme"},
		{"env secret only", setup.Credentials{WebhookSecret: "rotated"}, &stored, 77, string(stored.PrivateKey), "rotated", "gatehouse-acme"},
		{"same app, env key", setup.Credentials{AppID: 77, PrivateKey: key}, &stored, 77, "env key", "webhook-secret-value", "gatehouse-acme"},
		{"other app in env", setup.Credentials{AppID: 9, PrivateKey: key}, &stored, 9, "env key", "", ""},
		{"other app id only", setup.Credentials{AppID: 9}, &stored, 9, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := setup.Merge(tc.env, tc.stored)
			if got.AppID != tc.wantID || string(got.PrivateKey) != tc.wantKey || got.WebhookSecret != tc.wantSecret || got.Slug != tc.wantSlug {
				t.Errorf("Merge = id %d key %q secret %q slug %q", got.AppID, got.PrivateKey, got.WebhookSecret, got.Slug)
			}
		})
	}
}
