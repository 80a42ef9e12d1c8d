package setup

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// FileName is the credentials file in the data directory.
const FileName = "github-app.json"

// fileVersion is the credentials file's format version.
const fileVersion = 1

// Credentials are what GitHub hands back when the manifest flow creates
// the app. They are secrets: String, GoString and LogValue show only the
// app's id and slug, so an accidental print or log line leaks nothing.
type Credentials struct {
	AppID         int64
	Slug          string
	Name          string
	Owner         string // the account the app belongs to
	HTMLURL       string // the app's settings page on GitHub
	GitHubURL     string // GitHub's web URL the app was created on
	ClientID      string
	ClientSecret  string
	WebhookSecret string
	PrivateKey    []byte // PEM
	CreatedAt     time.Time
}

// Configured reports whether c can authenticate as an app: an id and a
// private key.
func (c Credentials) Configured() bool { return c.AppID > 0 && len(c.PrivateKey) > 0 }

// String shows the app without its secrets.
func (c Credentials) String() string {
	if c.AppID == 0 {
		return "no GitHub App"
	}
	s := "GitHub App " + strconv.FormatInt(c.AppID, 10)
	if c.Slug != "" {
		s += " (" + c.Slug + ")"
	}
	return s
}

// GoString keeps %#v from printing the secrets.
func (c Credentials) GoString() string { return "setup.Credentials{" + c.String() + "}" }

// LogValue keeps slog from printing the secrets.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("app_id", c.AppID), slog.String("slug", c.Slug),
		slog.Bool("private_key", len(c.PrivateKey) > 0), slog.Bool("webhook_secret", c.WebhookSecret != ""))
}

// credentialsFile is the on-disk form of Credentials.
type credentialsFile struct {
	Version       int       `json:"version"`
	AppID         int64     `json:"app_id"`
	Slug          string    `json:"slug,omitempty"`
	Name          string    `json:"name,omitempty"`
	Owner         string    `json:"owner,omitempty"`
	HTMLURL       string    `json:"html_url,omitempty"`
	GitHubURL     string    `json:"github_url,omitempty"`
	ClientID      string    `json:"client_id,omitempty"`
	ClientSecret  string    `json:"client_secret,omitempty"`
	WebhookSecret string    `json:"webhook_secret,omitempty"`
	PrivateKey    string    `json:"private_key"`
	CreatedAt     time.Time `json:"created_at,omitzero"`
}

// Path is the credentials file of a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Load reads the credentials stored by /setup. It returns nil and no error
// when none are stored.
func Load(dataDir string) (*Credentials, error) {
	b, err := os.ReadFile(Path(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read stored GitHub App credentials: %w", err)
	}
	var f credentialsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read stored GitHub App credentials %s: %w (remove it with gatehouse setup --reset)", Path(dataDir), err)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("stored GitHub App credentials %s: format version %d, want %d", Path(dataDir), f.Version, fileVersion)
	}
	c := &Credentials{
		AppID: f.AppID, Slug: f.Slug, Name: f.Name, Owner: f.Owner, HTMLURL: f.HTMLURL, GitHubURL: f.GitHubURL,
		ClientID: f.ClientID, ClientSecret: f.ClientSecret, WebhookSecret: f.WebhookSecret,
		PrivateKey: []byte(f.PrivateKey), CreatedAt: f.CreatedAt,
	}
	if !c.Configured() {
		return nil, fmt.Errorf("stored GitHub App credentials %s: no app id or private key (remove it with gatehouse setup --reset)", Path(dataDir))
	}
	return c, nil
}

// Save stores c in the data directory, readable by the owner only. It
// writes a temporary file and renames it over the old one, so a crash
// leaves either the old credentials or the new ones, never half of them.
func Save(dataDir string, c Credentials) error {
	b, err := json.MarshalIndent(credentialsFile{
		Version: fileVersion, AppID: c.AppID, Slug: c.Slug, Name: c.Name, Owner: c.Owner, HTMLURL: c.HTMLURL,
		GitHubURL: c.GitHubURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, WebhookSecret: c.WebhookSecret,
		PrivateKey: string(c.PrivateKey), CreatedAt: c.CreatedAt,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode GitHub App credentials: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("store GitHub App credentials: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, "."+FileName+".*")
	if err != nil {
		return fmt.Errorf("store GitHub App credentials: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("store GitHub App credentials: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), Path(dataDir))
	}
	if err != nil {
		return fmt.Errorf("store GitHub App credentials: %w", err)
	}
	syncDir(dataDir)
	return nil
}

// syncDir makes a rename durable; failure only weakens crash safety.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// Reset deletes the stored credentials, so the next gatehouse serve starts
// in setup mode. It reports whether there was anything to delete.
func Reset(dataDir string) (bool, error) {
	err := os.Remove(Path(dataDir))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("delete stored GitHub App credentials: %w", err)
	}
	syncDir(dataDir)
	return true, nil
}

// Merge applies the environment's settings (AppID, PrivateKey,
// WebhookSecret) over the stored credentials: what env sets wins, field by
// field, so a Kubernetes secret can replace the stored webhook secret alone. When env names a different app id than
// the stored one, nothing stored applies: a key or secret of one app never
// goes with another app's id. stored may be nil.
func Merge(env Credentials, stored *Credentials) Credentials {
	if stored == nil || env.AppID != 0 && env.AppID != stored.AppID {
		return env
	}
	out := *stored
	if env.AppID != 0 {
		out.AppID = env.AppID
	}
	if len(env.PrivateKey) > 0 {
		out.PrivateKey = env.PrivateKey
	}
	if env.WebhookSecret != "" {
		out.WebhookSecret = env.WebhookSecret
	}
	return out
}

// checkKey checks that pemKey is an RSA private key GitHub would issue
// (PKCS#1, or PKCS#8 as some tools re-encode it).
func checkKey(pemKey []byte) error {
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return errors.New("private key is not PEM")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		return fmt.Errorf("private key: %w", err)
	}
	return nil
}
