// Package setup creates gatehouse's GitHub App through GitHub's App
// Manifest flow, so a new user clicks instead of copying ids, keys and
// secrets: the /setup page posts app.yml's manifest to GitHub with a
// one-time state, GitHub sends the browser back to the callback with a
// code, and the callback trades the code for the app's credentials,
// stores them in the data directory (mode 0600) and hands them to the
// server, which starts using them without a restart. Once that is done
// both pages answer 404: nobody who finds the URL later can re-point the
// app. `gatehouse setup --reset` deletes the stored credentials.
package setup

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/templates"
)

// Paths the setup mode serves, and the webhook path the manifest points at.
const (
	PagePath     = "/setup"
	CallbackPath = "/setup/callback"
	WebhookPath  = "/webhooks/github"
)

// DefaultStateTTL is how long a state (one page load's buttons) stays
// valid: GitHub's manifest codes also expire after an hour.
const DefaultStateTTL = time.Hour

// exchangeTimeout bounds the code conversion call to GitHub.
const exchangeTimeout = 30 * time.Second

// Config configures the Handler.
type Config struct {
	// DataDir is where the credentials are stored (required).
	DataDir string
	// GitHubURL is GATEHOUSE_GITHUB_URL: the form goes to its web host,
	// the code conversion to its API (empty: github.com).
	GitHubURL string
	// PublicURL is GATEHOUSE_PUBLIC_URL, where GitHub and the browser reach
	// gatehouse. Empty: the address the setup page was opened at, with a
	// warning on the page.
	PublicURL string
	// ListenAddr is the address the server listens on. A specific host in
	// it is one the setup pages answer at, besides loopback names and
	// PublicURL's host (see hostAllowed).
	ListenAddr string
	// Manifest is the app manifest in app.yml's format; nil means the one
	// embedded in the binary.
	Manifest []byte
	// OnConfigured is called once the credentials are stored, to switch the
	// server to running mode. An error is shown on the done page (the user
	// is told to restart); the credentials stay stored.
	OnConfigured func(ctx context.Context, c Credentials) error
	// Logger receives what happened; never a secret.
	Logger *slog.Logger
	// Transport replaces the HTTP transport to GitHub's API (tests).
	Transport http.RoundTripper
	// StateTTL is how long a page's buttons work (default DefaultStateTTL).
	StateTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Handler serves the setup page and GitHub's callback.
type Handler struct {
	cfg      Config
	log      *slog.Logger
	urls     ghclient.URLs
	manifest *Manifest
	states   *states

	mu     sync.Mutex // one callback at a time: the first one wins
	closed atomic.Bool
}

// New checks the configuration and the manifest and builds a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("setup: no data directory")
	}
	urls, err := ghclient.ParseURLs(cfg.GitHubURL)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	if cfg.PublicURL != "" {
		if cfg.PublicURL, err = checkPublicURL(cfg.PublicURL); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	if cfg.Manifest == nil {
		cfg.Manifest = gatehouse.AppManifest()
	}
	m, err := ParseManifest(cfg.Manifest)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.StateTTL = cmp.Or(cfg.StateTTL, DefaultStateTTL)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg, log: cfg.Logger, urls: urls, manifest: m, states: newStates(cfg.StateTTL)}, nil
}

// Register adds GET /setup and GET /setup/callback to r.
func (h *Handler) Register(r gin.IRoutes) {
	r.GET(PagePath, h.page)
	r.GET(CallbackPath, h.callback)
}

// Close ends setup mode: both pages answer 404 from now on. The callback
// calls it once the credentials are stored.
func (h *Handler) Close() { h.closed.Store(true) }

// Closed reports whether setup mode is over.
func (h *Handler) Closed() bool { return h.closed.Load() }

// PageURL is where the setup page is, for the start-up log line: under
// PublicURL, or under fallback (e.g. "http://localhost:8080") without one.
func (h *Handler) PageURL(fallback string) string {
	return strings.TrimSuffix(cmp.Or(h.cfg.PublicURL, fallback), "/") + PagePath
}

// checkPublicURL accepts an absolute http(s) URL without credentials,
// query or fragment, and drops a trailing slash.
func checkPublicURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("public URL %q: want http(s)://host[/path]", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// publicURL is where GitHub and the browser reach gatehouse, and whether
// it was guessed from the request (GATEHOUSE_PUBLIC_URL unset). The guess
// uses the Host the browser sent; forwarded headers are not trusted.
func (h *Handler) publicURL(r *http.Request) (string, bool) {
	if h.cfg.PublicURL != "" {
		return h.cfg.PublicURL, false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host, true
}

// cookieName is the setup cookie: a random value naming the browser that
// loaded the page, to which each state is bound.
const cookieName = "gatehouse_setup"

// cookieValue matches a value this package issued (crypto/rand.Text).
var cookieValue = regexp.MustCompile(`^[A-Z2-7]{26}$`)

// hostAllowed reports whether the request's Host is one the setup pages
// answer at: a loopback name or address, PublicURL's host, or the host of
// ListenAddr. Without GATEHOUSE_PUBLIC_URL the page builds the app's
// webhook and callback URLs from Host; a page on another name (DNS
// rebinding: evil.example resolving to 127.0.0.1 in the victim's browser)
// would make an app whose webhooks and credentials go elsewhere, and
// would let that origin read the page.
func (h *Handler) hostAllowed(r *http.Request) bool {
	host := strings.ToLower(r.Host)
	if hst, _, err := net.SplitHostPort(host); err == nil {
		host = hst
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	if u := mustParse(h.cfg.PublicURL); u != nil && strings.EqualFold(u.Hostname(), host) {
		return true
	}
	if lh, _, err := net.SplitHostPort(h.cfg.ListenAddr); err == nil && lh != "" {
		if ip := net.ParseIP(lh); ip == nil || !ip.IsUnspecified() {
			return strings.EqualFold(strings.Trim(lh, "[]"), host)
		}
	}
	return false
}

// refuseHost answers a request at a host the pages do not serve.
func (h *Handler) refuseHost(c *gin.Context) {
	h.log.Warn("setup page refused: unexpected Host", slog.String("host", truncate(c.Request.Host, 100)), slog.String("remote", c.ClientIP()))
	c.Header("Cache-Control", "no-store")
	c.String(http.StatusMisdirectedRequest, "The setup page answers only at localhost, 127.0.0.1 or the host of GATEHOUSE_PUBLIC_URL: "+
		"open it on the machine running gatehouse (or through an SSH tunnel), or set GATEHOUSE_PUBLIC_URL and restart gatehouse.\n")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// redirectedParam marks a page request sent to PublicURL by toPublic, so
// that a proxy which rewrites Host cannot make it loop.
const redirectedParam = "via"

// toPublic returns where to send a browser that opened the page at another
// address than PublicURL (http://localhost:8080 while PublicURL is the
// tunnel GitHub reaches), or "".
func (h *Handler) toPublic(r *http.Request) string {
	u := mustParse(h.cfg.PublicURL)
	if u == nil || h.cfg.PublicURL == "" || strings.EqualFold(r.Host, u.Host) || r.URL.Query().Has(redirectedParam) {
		return ""
	}
	q := r.URL.Query()
	q.Set(redirectedParam, "public")
	return h.cfg.PublicURL + PagePath + "?" + q.Encode()
}

// browser returns the setup cookie's value, setting a new cookie when the
// request carries none (or one this package did not make).
func (h *Handler) browser(c *gin.Context, public string) string {
	if v, err := c.Cookie(cookieName); err == nil && cookieValue.MatchString(v) {
		return v
	}
	v := rand.Text()
	http.SetCookie(c.Writer, &http.Cookie{
		Name: cookieName, Value: v, Path: PagePath, MaxAge: int(h.cfg.StateTTL / time.Second),
		HttpOnly: true, Secure: strings.HasPrefix(public, "https://"),
		// Lax: sent on GitHub's redirect back to the callback (a top-level
		// GET), never on a request another site makes in the background.
		SameSite: http.SameSiteLaxMode,
	})
	return v
}

// orgName matches a GitHub organization login.
var orgName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)

// page is GET /setup: what will be created and why, and the two forms
// that post the manifest to GitHub.
func (h *Handler) page(c *gin.Context) {
	if h.Closed() {
		notFound(c)
		return
	}
	if !h.hostAllowed(c.Request) {
		h.refuseHost(c)
		return
	}
	if to := h.toPublic(c.Request); to != "" {
		// GitHub sends the browser back to PublicURL's callback: the
		// setup cookie must be PublicURL's, so the page is shown there.
		c.Header("Cache-Control", "no-store")
		c.Redirect(http.StatusSeeOther, to)
		return
	}
	public, guessed := h.publicURL(c.Request)
	if _, err := checkPublicURL(public); err != nil {
		h.fail(c, http.StatusBadRequest, "This address cannot be used", "The page was opened at an address gatehouse cannot put in the app's webhook URL. Set GATEHOUSE_PUBLIC_URL and restart gatehouse.", false)
		return
	}
	manifest, err := h.manifest.JSON(public)
	if err != nil {
		h.log.Error("setup page", slog.String("error", err.Error()))
		h.fail(c, http.StatusInternalServerError, "Setup failed", err.Error(), false)
		return
	}
	state := h.states.issue(h.cfg.Now(), h.browser(c, public))
	p := templates.SetupPage{
		AppName: h.manifest.Name, Description: h.manifest.Description, GitHubWeb: h.urls.Web.String(),
		Notes: h.manifest.Notes, WebhookURL: public + WebhookPath, CallbackURL: public + CallbackPath,
		PublicURLGuessed: guessed, Manifest: string(manifest), PagePath: PagePath,
		PersonalAction: formAction(h.urls.Web, state, "settings", "apps", "new"),
		Expires:        humanDuration(h.cfg.StateTTL),
	}
	for _, e := range h.manifest.Events {
		p.Events = append(p.Events, templates.SetupItem{Name: e.Name, Why: e.Why})
	}
	for _, e := range h.manifest.Permissions {
		p.Permissions = append(p.Permissions, templates.SetupItem{Name: e.Name, Level: e.Level, Why: e.Why})
	}
	if org := strings.TrimSpace(c.Query("org")); org != "" {
		p.Org = org
		if orgName.MatchString(org) {
			p.OrgAction = formAction(h.urls.Web, state, "organizations", org, "settings", "apps", "new")
		} else {
			p.OrgError = "That is not an organization name: letters, digits and single hyphens, at most 39 characters."
		}
	}
	h.html(c, http.StatusOK, public, func(b *bytes.Buffer) error { return templates.RenderSetupPage(b, p) })
}

// formAction is GitHub's app-creation form URL with the state in its query,
// where GitHub's manifest flow expects it.
func formAction(web *url.URL, state string, path ...string) string {
	u := web.JoinPath(path...)
	u.RawQuery = url.Values{"state": {state}}.Encode()
	return u.String()
}

// conversionCode matches the code GitHub puts in the callback URL; anything
// else never reaches the API URL path.
var conversionCode = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// callback is GET /setup/callback?code=…&state=…: check the state, trade
// the code for the credentials, store them, switch the server over.
func (h *Handler) callback(c *gin.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.Closed() {
		notFound(c)
		return
	}
	if !h.hostAllowed(c.Request) {
		h.refuseHost(c)
		return
	}
	browser, _ := c.Cookie(cookieName)
	if !h.states.consume(c.Query("state"), browser, h.cfg.Now()) {
		h.log.Warn("setup callback refused: unknown, used or expired state, or another browser's", slog.String("remote", c.ClientIP()))
		h.fail(c, http.StatusBadRequest, "This setup link is not valid",
			"It was used already, it expired, it was opened in another browser than the setup page, or it did not come from this gatehouse. Nothing was changed.", true)
		return
	}
	code := c.Query("code")
	if !conversionCode.MatchString(code) {
		h.fail(c, http.StatusBadRequest, "GitHub's answer is incomplete", "The link has no valid code from GitHub. Nothing was changed.", true)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), exchangeTimeout)
	defer cancel()
	creds, settings, err := exchange(ctx, h.urls, h.cfg.Transport, code)
	if err != nil {
		h.log.Error("setup: GitHub did not hand over the app's credentials", slog.String("error", err.Error()))
		h.fail(c, http.StatusBadGateway, "GitHub did not hand over the app's credentials",
			err.Error()+". If GitHub created the app, delete it in its settings on GitHub and start again.", true)
		return
	}
	creds.CreatedAt = h.cfg.Now().UTC()
	if err := Save(h.cfg.DataDir, creds); err != nil {
		h.log.Error("setup: could not store the app's credentials", slog.Int64("app_id", creds.AppID), slog.String("error", err.Error()))
		h.fail(c, http.StatusInternalServerError, "gatehouse could not store the app's credentials",
			err.Error()+". Fix the data directory, delete the app in its settings on GitHub and start again.", true)
		return
	}
	h.Close()
	h.log.Info("GitHub App created through /setup", slog.Any("app", creds), slog.String("owner", creds.Owner))
	done := templates.SetupDone{
		AppID: creds.AppID, Slug: creds.Slug, Owner: creds.Owner, SettingsURL: settings,
		InstallURL:      h.urls.Web.JoinPath("apps", creds.Slug, "installations", "new").String(),
		CredentialsFile: Path(h.cfg.DataDir),
	}
	public, _ := h.publicURL(c.Request)
	done.WebhookURL = public + WebhookPath
	if h.cfg.OnConfigured != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), exchangeTimeout)
		defer cancel()
		if err := h.cfg.OnConfigured(sctx, creds); err != nil {
			h.log.Error("setup: could not switch to the new app; restart gatehouse", slog.Any("app", creds), slog.String("error", err.Error()))
			done.SwitchError = err.Error()
		}
	}
	h.html(c, http.StatusOK, public, func(b *bytes.Buffer) error { return templates.RenderSetupDone(b, done) })
}

// fail shows an error page.
func (h *Handler) fail(c *gin.Context, status int, title, msg string, restart bool) {
	p := templates.SetupError{Title: title, Message: msg}
	if restart && !h.Closed() {
		p.RestartURL = PagePath
	}
	public, _ := h.publicURL(c.Request)
	h.html(c, status, public, func(b *bytes.Buffer) error { return templates.RenderSetupError(b, p) })
}

// html writes a page with headers that keep it from being cached (it
// holds a one-time state), framed, or sent anywhere but GitHub's form.
func (h *Handler) html(c *gin.Context, status int, public string, render func(*bytes.Buffer) error) {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		h.log.Error("setup page", slog.String("error", err.Error()))
		c.String(http.StatusInternalServerError, "setup page failed to render")
		return
	}
	hd := c.Writer.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' "+
		origin(h.urls.Web)+" "+origin(mustParse(public)))
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

// notFound answers like any unknown route, so a closed setup gives nothing
// away.
func notFound(c *gin.Context) { c.String(http.StatusNotFound, "404 page not found") }

func origin(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func mustParse(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	return u
}

// humanDuration says a state's lifetime in words.
func humanDuration(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "1 hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}
