package githubtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake GitHub for one test. Create it with New; it is closed by
// the test's cleanup. Its methods are safe for concurrent use, except the
// setup helpers that take no lock while running git (AddRepo, Repo.Commit,
// AddPullRequest, SyncPullRequest), which belong to the test goroutine.
type Server struct {
	tb              testing.TB
	spec            *spec
	srv             *httptest.Server
	appID           int64
	appSlug         string
	key             *rsa.PrivateKey
	keyPEM          []byte
	gitRoot         string
	gitHTTPBackend  string
	now             func() time.Time
	allowRejections bool

	mu                sync.Mutex
	nextID            int64
	commitSeq         int64
	installations     map[int64]*installation
	repos             map[string]*Repo // by lower-case "owner/name"
	pulls             map[string]map[int]*pull
	perms             map[string]map[string]string // repo -> user -> role
	tokens            map[string]*Token
	issued            []Token
	requests          []Request
	faults            []fault
	checkRuns         []*CheckRun
	reviews           []*Review
	reviewComments    []*ReviewComment
	issueComments     []*IssueComment
	reactions         []*Reaction
	sarifs            []*SARIFUpload
	gates             []*gate
	deploymentAnswers []*DeploymentAnswer
	manifests         map[string]*Manifest // by conversion code
	codeload          map[string]codeloadGrant
	hookURL           string
	hookSecret        []byte
	hookLog           []*HookDelivery // the app's webhook delivery log, oldest first
}

// Option configures a Server.
type Option func(*Server)

// WithAppID sets the GitHub App id (default 4242).
func WithAppID(id int64) Option { return func(s *Server) { s.appID = id } }

// WithAppSlug sets the app's slug; the app posts as "<slug>[bot]" (default
// "gatehouse-test").
func WithAppSlug(slug string) Option { return func(s *Server) { s.appSlug = slug } }

// WithClock makes the server read time from now (JWT checks, token expiry,
// timestamps), so a test can move time forward without sleeping.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// AllowRejections stops the server from failing the test when a request
// breaks GitHub's rules (description mismatch, unknown route, limits): it
// still answers as GitHub would and records the reason in Request.Violation.
// For tests of how the app handles GitHub's 4xx answers, and for the fake's
// own tests.
func AllowRejections() Option { return func(s *Server) { s.allowRejections = true } }

// New starts a fake GitHub for the test and registers its shutdown with
// tb.Cleanup. It fails the test when the OpenAPI subset or git is missing.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	sp, err := loadSpec()
	if err != nil {
		tb.Fatalf("githubtest: %v", err)
	}
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		tb.Fatalf("githubtest: find git exec path: %v", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("githubtest: generate app key: %v", err)
	}
	s := &Server{
		tb:             tb,
		spec:           sp,
		appID:          4242,
		appSlug:        "gatehouse-test",
		key:            key,
		keyPEM:         pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		gitRoot:        tb.TempDir(),
		gitHTTPBackend: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		now:            time.Now,
		nextID:         1000,
		installations:  map[int64]*installation{},
		repos:          map[string]*Repo{},
		pulls:          map[string]map[int]*pull{},
		perms:          map[string]map[string]string{},
		tokens:         map[string]*Token{},
		manifests:      map[string]*Manifest{},
		codeload:       map[string]codeloadGrant{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is the server's base URL, e.g. "http://127.0.0.1:4711". The API is
// served at its root and, as on GitHub Enterprise Server, under /api/v3/.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// AppID is the id of the fake GitHub App.
func (s *Server) AppID() int64 { return s.appID }

// AppSlug is the slug of the fake GitHub App.
func (s *Server) AppSlug() string { return s.appSlug }

// BotLogin is the login the app's comments and reviews are posted as.
func (s *Server) BotLogin() string { return s.appSlug + "[bot]" }

// PrivateKeyPEM is the app's private key in PEM (PKCS#1), as GitHub gives it.
func (s *Server) PrivateKeyPEM() []byte { return bytes.Clone(s.keyPEM) }

// newID returns a fresh id for any object.
func (s *Server) newID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return s.nextID
}

// recorder captures the status a handler answered with.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// maxBody caps request bodies; GitHub caps webhook payloads at 25 MB and API
// bodies lower, and SARIF uploads are limited to 10 MB compressed.
const maxBody = 32 << 20

// serveHTTP is the entry point: fault injection, then git, codeload and the
// web form, then the REST API.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	rec := &recorder{ResponseWriter: w}
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Auth: "none", At: time.Now()}
	defer func() {
		req.Status = rec.status
		req.Took = time.Since(req.At)
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
	}()
	rec.Header().Set("X-GitHub-Request-Id", fmt.Sprintf("FAKE:%d", s.newID()))
	if len(body) > maxBody {
		writeError(rec, http.StatusRequestEntityTooLarge, "Payload too large", "")
		return
	}
	if s.injectFault(rec) {
		req.Fault = true
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil

	path := r.URL.EscapedPath()
	if trimmed, ok := strings.CutPrefix(path, "/api/v3"); ok && (trimmed == "" || trimmed[0] == '/') {
		path = trimmed
	}
	switch {
	case isGitPath(path):
		req.OperationID = "git"
		s.serveGit(rec, r, path, &req)
	case strings.HasPrefix(path, "/_codeload/"):
		req.OperationID = "codeload"
		s.serveCodeload(rec, r, path)
	case isManifestFormPath(path):
		req.OperationID = "settings/apps/new"
		s.serveManifestForm(rec, r, path, body, &req)
	default:
		s.serveAPI(rec, r, path, body, &req)
	}
}
