// Package server wires gatehouse serve: the HTTP server (webhooks, health,
// metrics), the store and queue, the planner and the worker. It is the
// program's Main: tests start the real thing in-process with New and Run.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/app/api"
	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/evidence/attest"
	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/metrics"
	"github.com/gatehouse/gatehouse/app/planner"
	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/webhook"
	"github.com/gatehouse/gatehouse/app/worker"
	"github.com/gatehouse/gatehouse/checks"
)

// Roles a process can take.
const (
	RoleAll    = "all"
	RoleWeb    = "web"
	RoleWorker = "worker"
)

// DefaultAddr is the listen address when GATEHOUSE_ADDR is not set: all
// interfaces once an app is configured, loopback only while none is, so
// that the setup page (whoever opens it first creates the app) is not on
// the network before its owner has used it.
func DefaultAddr(appConfigured bool) string {
	if appConfigured {
		return ":8080"
	}
	return "127.0.0.1:8080"
}

// Config is gatehouse serve's configuration (flags and GATEHOUSE_* variables).
type Config struct {
	// Addr is the listen address; empty: DefaultAddr.
	Addr           string
	DataDir        string
	DatabaseURL    string
	Role           string
	AppID          int64
	PrivateKey     []byte
	WebhookSecrets [][]byte
	// TrustedProxies are the addresses or CIDRs whose X-Forwarded-For is
	// believed (client addresses in logs); empty: nobody's.
	TrustedProxies []string
	GitHubURL      string
	PublicURL      string
	Workers        int
	Logger         *slog.Logger

	// Runner runs the checks; Checks names them in order. Both are
	// required for the worker role.
	Runner checks.Runner
	Checks []string
	// Splitters plan each check's units for the finding cache
	// (checks/registry.Splitters); nil scans each check's tree whole.
	Splitters map[string]checks.Splitter
	// Policies reads the policy and custom checks of each scan.
	Policies worker.Policies
	// DBUpdatedAt reports the vulnerability DB's date (may be nil).
	DBUpdatedAt func() time.Time
	// Readiness adds checks to /readyz (name → error or nil).
	Readiness map[string]func(ctx context.Context) error

	// GitHubTransport replaces the HTTP transport to GitHub (tests).
	GitHubTransport http.RoundTripper
	// RetryBaseDelay is the first backoff for GitHub 5xx answers.
	RetryBaseDelay time.Duration
	// JobRetryBase is the queue's first retry delay (tests use tiny ones).
	JobRetryBase time.Duration
	// MaxAttempts bounds a job's attempts before it is dead-lettered.
	MaxAttempts int
	// PollInterval is how often workers look for jobs enqueued elsewhere.
	PollInterval time.Duration
	// BaselinePace spaces the baseline scans of a new installation.
	BaselinePace time.Duration
	// APITokens turn the evidence API on (GATEHOUSE_API_TOKENS).
	APITokens []string
	// EvidenceRetention is how long evidence is kept; 0 keeps it forever
	// (GATEHOUSE_EVIDENCE_RETENTION, evidence.ParseRetention).
	EvidenceRetention time.Duration
	// Version is gatehouse's version, recorded in the evidence.
	Version string
	// ScanTimeout bounds one job (default 10m). A job whose worker died is
	// handed to another worker once it would have timed out, plus a margin
	// of half the timeout (10s to 1m).
	ScanTimeout time.Duration
	// InstallationConcurrency bounds the scans running at once for one
	// installation across every replica (GATEHOUSE_INSTALLATION_CONCURRENCY);
	// 0 means no bound.
	InstallationConcurrency int
	// Metrics receives the process's metrics (nil: New makes them); serve
	// makes them first so that the sandbox can report to them too.
	Metrics *metrics.Metrics
	// MirrorCacheBytes caps the git mirrors under DataDir/work/mirrors
	// (0: 5 GiB).
	MirrorCacheBytes int64
	// SigningKeyPEM (GATEHOUSE_SIGNING_KEY) or SigningKeyPath
	// (GATEHOUSE_SIGNING_KEY_PATH) is the key verdicts are signed with;
	// with neither, the worker and all roles use DataDir's
	// evidence-signing-key.pem, created on first start.
	SigningKeyPEM  []byte
	SigningKeyPath string

	// IntakeMaxWait (GATEHOUSE_INTAKE_MAX_WAIT) is how long a delivery may
	// wait for its batch before it is refused with 503 (default 500ms).
	IntakeMaxWait time.Duration
	// IntakeMaxPending (GATEHOUSE_INTAKE_MAX_PENDING) bounds the deliveries
	// waiting for a batch; beyond it they are refused at once (default 4096).
	IntakeMaxPending int
	// Recovery configures the recovery of missed deliveries from GitHub's
	// delivery log (recovery.go).
	Recovery RecoveryConfig
}

// Server is a running gatehouse serve.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	queue   *queue.Queue
	intake  *queue.Intake
	metrics *metrics.Metrics
	gh      *ghclient.Factory
	limits  *ghclient.Limiter
	worker  *worker.Worker
	planner *planner.Planner
	http    *http.Server
	ln      net.Listener

	closeOnce sync.Once

	evidence *evidence.Recorder

	botMu sync.Mutex
	bot   string

	live liveState // issue 11: an app configured after start, through /setup (setup.go)
}

// botLogin is the app's bot user ("slug[bot]"), read once from GET /app.
// On failure it returns "" (comments are then matched by marker alone) and
// tries again next time.
func (s *Server) botLogin(ctx context.Context) string {
	s.botMu.Lock()
	defer s.botMu.Unlock()
	if s.bot != "" || s.gh == nil {
		return s.bot
	}
	gh, err := s.gh.App()
	if err != nil {
		return ""
	}
	app, _, err := gh.Apps.Get(ctx, "")
	if err != nil {
		s.log.Warn("could not read the app's slug", slog.String("error", err.Error()))
		return ""
	}
	s.bot = app.GetSlug() + "[bot]"
	return s.bot
}

// New opens the store, builds the queue and handlers and listens on Addr; Run
// starts serving.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Role == "" {
		cfg.Role = RoleAll
	}
	if cfg.Role != RoleAll && cfg.Role != RoleWeb && cfg.Role != RoleWorker {
		return nil, fmt.Errorf("role %q: want web, worker or all", cfg.Role)
	}
	gin.SetMode(gin.ReleaseMode) // before any engine: gin prints a banner otherwise
	if err := gin.New().SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies %v: %w", cfg.TrustedProxies, err)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr(cfg.AppID != 0 && len(cfg.PrivateKey) > 0)
	}
	if cfg.ScanTimeout <= 0 {
		cfg.ScanTimeout = 10 * time.Minute
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: cfg.Metrics}
	if cfg.DBUpdatedAt != nil {
		s.metrics.WatchVulnDB(cfg.DBUpdatedAt, time.Now)
	}
	st, err := store.Open(ctx, store.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	s.store = st
	s.limits = ghclient.NewLimiter(ghclient.LimiterConfig{
		Store: st, MaxConcurrent: cfg.InstallationConcurrency, SlotTTL: cfg.ScanTimeout + time.Minute, Logger: cfg.Logger,
		OnPause: func(_ int64, limit string, _ time.Time) { s.metrics.RateLimitPauses.WithLabelValues(limit).Inc() },
	})
	evcfg, err := s.evidenceConfig()
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	if s.evidence, err = evidence.New(ctx, evcfg); err != nil {
		_ = st.Close()
		return nil, err
	}
	if err := s.setup(); err != nil {
		_ = st.Close()
		return nil, err
	}
	return s, nil
}

// evidenceConfig is the recorder's configuration. Processes that record
// verdicts (worker, all) sign them, with the configured key or the data
// directory's, which the first start creates; the web role only reads.
func (s *Server) evidenceConfig() (evidence.Config, error) {
	cfg := evidence.Config{Store: s.store, Logger: s.log}
	urls, err := ghclient.ParseURLs(s.cfg.GitHubURL)
	if err != nil {
		return cfg, err
	}
	cfg.GitHubWebURL = urls.Web.String()
	if s.cfg.Role == RoleWeb {
		return cfg, nil
	}
	signer, src, err := attest.LoadSigner(attest.KeyConfig{PEM: s.cfg.SigningKeyPEM, Path: s.cfg.SigningKeyPath, DataDir: s.cfg.DataDir})
	if err != nil {
		return cfg, err
	}
	pub := signer.Public()
	from := src.Path
	if from == "" {
		from = "GATEHOUSE_SIGNING_KEY"
	}
	s.log.Info("signing verdicts", slog.String("key_id", pub.KeyID), slog.String("algorithm", string(pub.Algorithm)),
		slog.String("from", from), slog.Bool("created", src.Created))
	if src.Created && s.cfg.DatabaseURL != "" {
		// Each replica's data dir would hold a key of its own, and an
		// ephemeral one a new key at every start: all verify (every key is
		// listed), but verifiers have to trust each.
		s.log.Warn("created a signing key in this replica's data dir: with several replicas, give them one key (GATEHOUSE_SIGNING_KEY_PATH, a mounted secret)",
			slog.String("file", src.Path))
	}
	cfg.Signer = signer
	return cfg, nil
}

func (s *Server) setup() error {
	cfg := s.cfg
	urls, err := ghclient.ParseURLs(cfg.GitHubURL)
	if err != nil {
		return err
	}
	if cfg.AppID > 0 {
		if s.gh, err = s.newFactory(urls, cfg.AppID, cfg.PrivateKey); err != nil { // issue 11: shared with Configure (setup.go)
			return err
		}
	}
	workers := cfg.Workers
	if cfg.Role == RoleWeb || s.gh == nil {
		workers = 0 // insert only
	}
	q, err := s.newQueue(workers) // issue 11: shared with Configure (setup.go)
	if err != nil {
		return err
	}
	s.queue = q
	s.intake = q.NewIntake(queue.IntakeConfig{
		MaxWait: cfg.IntakeMaxWait, MaxPending: cfg.IntakeMaxPending, Logger: s.log,
		OnBatch: func(n int, took time.Duration, err error) {
			s.metrics.IntakeBatchSize.Observe(float64(n))
			if err != nil {
				s.metrics.IntakeBatchErrors.Inc()
			}
		},
	})
	s.watchQueue([]string{jobs.KindDelivery, jobs.KindScan, jobs.KindApproval})
	if workers > 0 {
		if err := s.buildWork(s.gh, q); err != nil { // issue 11: shared with Configure (setup.go)
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second}
	return nil
}

// Addr is the address the server listens on (useful with ":0").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done, then shuts down gracefully: stop intake,
// let running jobs finish (or hand them back to the queue), close the store.
func (s *Server) Run(ctx context.Context) error {
	if err := s.queue.Start(ctx); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	var retention sync.WaitGroup
	retentionCtx, stopRetention := context.WithCancel(ctx)
	defer stopRetention()
	if s.cfg.Role != RoleWeb && s.cfg.EvidenceRetention > 0 {
		tick := time.NewTicker(6 * time.Hour)
		defer tick.Stop()
		retention.Go(func() { s.evidence.RunRetention(retentionCtx, s.cfg.EvidenceRetention, tick.C) })
	}
	var intake sync.WaitGroup
	intakeCtx, stopIntake := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIntake()
	intake.Go(func() { s.intake.Run(intakeCtx) })
	var recovery sync.WaitGroup
	recoveryCtx, stopRecovery := context.WithCancel(ctx)
	defer stopRecovery()
	if s.cfg.Role != RoleWorker {
		recovery.Go(func() { s.runRecovery(recoveryCtx) })
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	s.log.Info("gatehouse serving", slog.String("addr", s.Addr()), slog.String("role", s.cfg.Role),
		slog.String("database", s.store.Driver()), slog.Bool("app_configured", s.app() != nil)) // issue 11: s.app()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	stopRecovery()
	_ = s.http.Shutdown(shutdown)
	// The handlers have answered: commit what is still waiting, then stop.
	stopIntake()
	intake.Wait()
	recovery.Wait()
	if qerr := s.queue.Stop(shutdown); qerr != nil {
		s.log.Warn("queue stop", slog.String("error", qerr.Error()))
	}
	s.stopLive(shutdown) // issue 11: the workers Configure started (setup.go)
	stopRetention()
	retention.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, s.Close())
}

// Close releases the store (Run calls it).
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.ln != nil {
			_ = s.ln.Close()
		}
		err = s.store.Close()
	})
	return err
}

func (s *Server) routes() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// gin trusts X-Forwarded-For from anyone by default; an address that
	// is not a configured proxy's is taken from the connection. The
	// addresses were checked in New.
	_ = r.SetTrustedProxies(s.cfg.TrustedProxies)
	r.Use(gin.Recovery())
	hook := webhook.New(webhook.Config{
		Secrets: s.cfg.WebhookSecrets, Sink: deliverySink{s.intake}, Busy: s.intake.Saturated, Logger: s.log, Observer: s,
	})
	if s.cfg.Role != RoleWorker {
		s.routeLive(r, hook) // issue 11: POST /webhooks/github (secrets swappable) and, without an app, /setup (setup.go)
	}
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(s.metrics.Handler()))
	if s.cfg.Role != RoleWorker {
		api.Register(r, api.Config{Evidence: s.evidence, Tokens: s.cfg.APITokens, Details: s.cfg.PublicURL != "", Logger: s.log})
	}
	return r
}

// Webhook records an intake outcome (webhook.Observer).
func (s *Server) Webhook(event, result string, took time.Duration) {
	s.metrics.WebhooksReceived.WithLabelValues(event, result).Inc()
	if result == "overloaded" {
		s.metrics.IntakeOverloaded.Inc()
	}
	s.metrics.IntakeLatency.Observe(took.Seconds())
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	status := http.StatusOK
	out := gin.H{}
	if err := s.store.Ping(ctx); err != nil {
		status, out["database"] = http.StatusServiceUnavailable, err.Error()
	} else {
		out["database"] = "ok (" + s.store.Driver() + ")"
	}
	if st, err := s.queue.Stats(ctx); err != nil {
		status, out["queue"] = http.StatusServiceUnavailable, err.Error()
	} else {
		out["queue"] = st
	}
	if s.app() == nil { // issue 11: s.gh may be set at run time (setup.go)
		status, out["app"] = http.StatusServiceUnavailable, "not configured: open /setup, or set GATEHOUSE_APP_ID and GATEHOUSE_PRIVATE_KEY_PATH"
	}
	if s.cfg.DBUpdatedAt != nil {
		// Reported, not required: trees without lockfiles scan without it.
		if t := s.cfg.DBUpdatedAt(); t.IsZero() {
			out["vulnerability_db"] = "missing: dependency scans of lockfiles cannot complete until it is downloaded (gatehouse db update) or imported (gatehouse db import FILE)"
		} else {
			out["vulnerability_db"] = fmt.Sprintf("ok (updated %s, %s old)", t.UTC().Format(time.RFC3339), max(time.Since(t), 0).Round(time.Minute))
		}
	}
	for name, check := range s.cfg.Readiness {
		if err := check(ctx); err != nil {
			status, out[name] = http.StatusServiceUnavailable, err.Error()
		} else {
			out[name] = "ok"
		}
	}
	c.JSON(status, out)
}

// Idle reports whether no job is waiting, scheduled, running or due for a
// retry (tests and graceful drains wait for it).
func (s *Server) Idle(ctx context.Context) (bool, error) {
	st, err := s.queue.Stats(ctx)
	if err != nil {
		return false, err
	}
	return st.Available+st.Running+st.Retryable+st.Scheduled == 0, nil
}

// detailsURL is a scan's details page, when GATEHOUSE_PUBLIC_URL is set:
// its evidence record's id is derived from the scan, so the planner can
// link the page before the scan runs.
func (s *Server) detailsURL(scan jobs.Scan) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	return api.DetailsURL(s.cfg.PublicURL, s.evidence.ID(scan))
}
