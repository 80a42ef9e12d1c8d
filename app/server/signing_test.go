package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/evidence/attest"
)

// runUntilStopped starts a server and returns its URL and a function that
// stops it (the data dir's SQLite lock is free again after it returns).
func runUntilStopped(t *testing.T, cfg Config) (string, func()) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(stop)
	return "http://" + srv.Addr(), stop
}

func listedKeys(t *testing.T, base string) []evidence.SigningKey {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/keys", nil)
	req.Header.Set("Authorization", "Bearer token-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Keys []evidence.SigningKey }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/v1/keys: %d, %v", resp.StatusCode, err)
	}
	return body.Keys
}

// The first start creates the signing key in the data dir (0600) and lists
// it; a restart with a supplied key (a rotation) lists both.
func TestFirstStartCreatesTheSigningKey(t *testing.T) {
	dir := t.TempDir()
	base, stop := runUntilStopped(t, Config{DataDir: dir, APITokens: []string{"token-1"}})
	path := filepath.Join(dir, attest.KeyFile)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("signing key %s: %v, %v; want mode 0600", path, st, err)
	}
	b, _ := os.ReadFile(path)
	created, err := attest.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	keys := listedKeys(t, base)
	if len(keys) != 1 || keys[0].KeyID != created.Public().KeyID || keys[0].PublicKey != created.Public().PEM {
		t.Fatalf("listed %+v, want the created key", keys)
	}
	stop()

	rotated, pemBytes, err := attest.GenerateKey(attest.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	base, _ = runUntilStopped(t, Config{DataDir: dir, APITokens: []string{"token-1"}, SigningKeyPEM: pemBytes})
	keys = listedKeys(t, base)
	if len(keys) != 2 || keys[0].KeyID != rotated.Public().KeyID || keys[1].KeyID != created.Public().KeyID {
		t.Errorf("after the rotation: %+v; want the new key first and the old one kept", keys)
	}
}

// The web role records nothing, so it needs no key and makes none.
func TestWebRoleMakesNoSigningKey(t *testing.T) {
	dir := t.TempDir()
	runUntilStopped(t, Config{DataDir: dir, Role: RoleWeb})
	if _, err := os.Stat(filepath.Join(dir, attest.KeyFile)); !os.IsNotExist(err) {
		t.Errorf("web role created a signing key: %v", err)
	}
	if _, err := New(context.Background(), Config{DataDir: t.TempDir(), SigningKeyPEM: []byte("not a key"), Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Error("a broken GATEHOUSE_SIGNING_KEY was accepted")
	}
}
