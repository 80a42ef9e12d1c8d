// Package ghclient is the one place gatehouse makes GitHub clients: the app
// client (JWT), installation clients (cached installation tokens), and the
// shared transport that retries 5xx answers and waits out rate limits.
package ghclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v88/github"
)

// Config configures the Factory.
type Config struct {
	URLs       URLs
	AppID      int64
	PrivateKey []byte // PEM
	Logger     *slog.Logger
	// Transport is the base transport (default: a clone of http.DefaultTransport).
	Transport http.RoundTripper
	// MaxRetries bounds retries per request (default 5).
	MaxRetries int
	// RetryBaseDelay is the first backoff for 5xx answers (default 500ms).
	RetryBaseDelay time.Duration
	// MaxRateLimitWait is the longest the transport waits for a rate limit
	// before failing the request with a RateLimitError (default 90s).
	MaxRateLimitWait time.Duration
	// Observe is called with every answer GitHub gives (metrics).
	Observe func(resp *http.Response, err error)
	// UserAgent sent with every request.
	UserAgent string
	// Limits shares installations' rate limits with the other replicas
	// (nil: each request only learns from its own answers).
	Limits *Limiter
}

// Factory builds and caches GitHub clients for the app and its installations.
type Factory struct {
	cfg  Config
	apps *ghinstallation.AppsTransport
	tr   http.RoundTripper

	mu    sync.Mutex
	insts map[int64]*ghinstallation.Transport
}

// New checks the key and builds a Factory.
func New(cfg Config) (*Factory, error) {
	if cfg.AppID <= 0 {
		return nil, fmt.Errorf("GitHub app id is not set")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.URLs.API == nil {
		u, err := ParseURLs("")
		if err != nil {
			return nil, err
		}
		cfg.URLs = u
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	if cfg.RetryBaseDelay == 0 {
		cfg.RetryBaseDelay = 500 * time.Millisecond
	}
	if cfg.MaxRateLimitWait == 0 {
		cfg.MaxRateLimitWait = 90 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "gatehouse"
	}
	base := cfg.Transport
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr := &retryTransport{
		next: base, maxRetries: cfg.MaxRetries, baseDelay: cfg.RetryBaseDelay,
		maxWait: cfg.MaxRateLimitWait, log: cfg.Logger, now: time.Now, observe: cfg.Observe,
		limits: cfg.Limits,
	}
	apps, err := ghinstallation.NewAppsTransport(tr, cfg.AppID, cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("GitHub app private key: %w", err)
	}
	apps.BaseURL = apiBase(cfg.URLs)
	return &Factory{cfg: cfg, apps: apps, tr: tr, insts: map[int64]*ghinstallation.Transport{}}, nil
}

// URLs returns the GitHub URLs the factory talks to.
func (f *Factory) URLs() URLs { return f.cfg.URLs }

// AppID returns the GitHub App id.
func (f *Factory) AppID() int64 { return f.cfg.AppID }

// App returns a client authenticated as the app (JWT).
func (f *Factory) App() (*github.Client, error) {
	return f.client(f.apps)
}

// Installation returns a client authenticated as the installation; tokens
// are cached until a minute before they expire.
func (f *Factory) Installation(id int64) (*github.Client, error) {
	return f.client(installationTransport{id: id, next: f.installation(id)})
}

// Token returns a valid installation token (for git over https). It never
// leaves the parent process: not to a sandbox, a log or the store.
func (f *Factory) Token(ctx context.Context, id int64) (string, error) {
	tok, err := f.installation(id).Token(ctx)
	if err != nil {
		return "", fmt.Errorf("installation %d token: %w", id, Gone(err))
	}
	return tok, nil
}

// Forget drops an installation's cached token (installation deleted).
func (f *Factory) Forget(id int64) {
	f.mu.Lock()
	delete(f.insts, id)
	f.mu.Unlock()
}

func (f *Factory) installation(id int64) *ghinstallation.Transport {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.insts[id]
	if !ok {
		t = ghinstallation.NewFromAppsTransport(f.apps, id)
		t.BaseURL = apiBase(f.cfg.URLs)
		f.insts[id] = t
	}
	return t
}

func (f *Factory) client(rt http.RoundTripper) (*github.Client, error) {
	api := f.cfg.URLs.API.String()
	upload := api
	opts := []github.ClientOptionsFunc{
		github.WithTransport(rt),
		github.WithUserAgent(f.cfg.UserAgent),
	}
	if f.cfg.URLs.API.Host != "api.github.com" {
		opts = append(opts, github.WithURLs(&api, &upload))
	}
	c, err := github.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("GitHub client: %w", err)
	}
	return c, nil
}

// apiBase is the API URL without its trailing slash, as ghinstallation wants.
func apiBase(u URLs) string {
	s := u.API.String()
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// ErrInstallationGone means GitHub no longer knows the installation (the app
// was uninstalled or suspended): its jobs cannot succeed and are not retried.
var ErrInstallationGone = errors.New("installation removed or suspended")

// Gone wraps err with ErrInstallationGone when GitHub refused to issue an
// installation token with 404 (unknown) or 403 (suspended).
func Gone(err error) error {
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) && he.Response != nil && (he.Response.StatusCode == http.StatusNotFound || he.Response.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w: %w", ErrInstallationGone, err)
	}
	return err
}
