package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/planner"
	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/setup"
	"github.com/gatehouse/gatehouse/app/webhook"
	"github.com/gatehouse/gatehouse/app/worker"
	"github.com/gatehouse/gatehouse/checks/verdict"
)

// liveState is what changes when the app is configured while the server
// runs (through /setup): the webhook handler, which then knows the new
// secret, and the workers started for the new app.
type liveState struct {
	hook atomic.Pointer[webhook.Handler]
	// ghMu guards s.gh once the server runs: Configure writes it holding
	// ghMu and botMu, app reads it holding ghMu, botLogin holding botMu
	// (which it keeps during a GitHub call, so app does not use it).
	ghMu sync.RWMutex

	mu      sync.Mutex
	workers *queue.Queue // started by Configure; nil before
	stopped bool         // Run is shutting down: Configure must not start workers
}

// app returns the GitHub client factory, or nil while no app is configured.
func (s *Server) app() *ghclient.Factory {
	s.live.ghMu.RLock()
	defer s.live.ghMu.RUnlock()
	return s.gh
}

// newFactory builds the GitHub client factory for an app.
func (s *Server) newFactory(urls ghclient.URLs, appID int64, key []byte) (*ghclient.Factory, error) {
	return ghclient.New(ghclient.Config{
		URLs: urls, AppID: appID, PrivateKey: key, Logger: s.cfg.Logger,
		Transport: s.cfg.GitHubTransport, RetryBaseDelay: s.cfg.RetryBaseDelay, Observe: s.observeGitHub,
		Limits: s.limits,
	})
}

// newQueue builds a queue over the store; workers 0 means insert only.
func (s *Server) newQueue(workers int) (*queue.Queue, error) {
	cfg := s.cfg
	return queue.New(s.store, queue.Config{
		Workers: workers, Logger: cfg.Logger, RetryBackoff: cfg.JobRetryBase, PollInterval: cfg.PollInterval,
		FastKinds:            jobs.Fast,
		JobTimeout:           cfg.ScanTimeout,
		RescueStuckJobsAfter: cfg.ScanTimeout + min(max(cfg.ScanTimeout/2, 10*time.Second), time.Minute),
		OnDiscard:            s.onDiscard,
	})
}

// ScanDir is where a data directory's scans check out the trees they scan
// (the sandbox's CheckoutRoot: only this part of the work directory, not
// the git mirrors beside it, is shared with the sandboxed children).
func ScanDir(dataDir string) string { return filepath.Join(dataDir, "work", "scans") }

// buildWork makes the planner and the worker for an app and registers
// their jobs on q.
func (s *Server) buildWork(gh *ghclient.Factory, q *queue.Queue) error {
	cfg := s.cfg
	if cfg.Runner == nil || cfg.Policies == nil || len(cfg.Checks) == 0 {
		return errors.New("worker role needs a runner, a policy source and checks")
	}
	s.planner = planner.New(planner.Config{
		Deliveries: deliverySource{s.store}, Clients: gh, Queue: scanQueue{q, cfg.MaxAttempts},
		Heads: s.store, Checks: cfg.Checks, Logger: cfg.Logger, BaselinePace: cfg.BaselinePace,
		DetailsURL: s.detailsURL,
	})
	work := filepath.Join(cfg.DataDir, "work")
	pipeline := verdict.New(verdict.Config{
		Runner: meteredRunner{cfg.Runner, s.metrics}, Splitters: cfg.Splitters, Cache: s.store,
		WorkDir: ScanDir(cfg.DataDir), DBUpdatedAt: cfg.DBUpdatedAt, Logger: cfg.Logger,
	})
	s.worker = worker.New(worker.Config{
		Clients: gh, Pipeline: pipeline, Policies: cfg.Policies, Checks: cfg.Checks, OnVerdicts: s.countVerdicts,
		WorkDir: work, Logger: cfg.Logger, DBUpdatedAt: cfg.DBUpdatedAt,
		Mirrors: &gitfetch.Mirrors{Dir: filepath.Join(cfg.DataDir, "work", "mirrors"), MaxBytes: cfg.MirrorCacheBytes, Logger: cfg.Logger},
		Store:   s.store, BotLogin: s.botLogin,
		DetailsURL: s.detailsURL, Evidence: s.evidence, Version: cfg.Version,
	})
	s.registerJobs(q)
	return nil
}

// routeLive registers POST /webhooks/github through a handler that
// Configure can swap, and, while no app is configured, the setup pages.
func (s *Server) routeLive(r *gin.Engine, hook *webhook.Handler) {
	s.live.hook.Store(hook)
	r.POST(setup.WebhookPath, func(c *gin.Context) { s.live.hook.Load().ServeGin(c) })
	// The root says where to go: the setup page until an app is
	// configured, then what this server answers.
	r.GET("/", func(c *gin.Context) {
		if s.app() == nil {
			c.Redirect(http.StatusSeeOther, setup.PagePath)
			return
		}
		c.String(http.StatusOK, "gatehouse: GitHub webhooks at %s; /healthz, /readyz, /metrics\n", setup.WebhookPath)
	})
	if s.gh != nil {
		return
	}
	h, err := setup.New(setup.Config{
		DataDir: s.cfg.DataDir, GitHubURL: s.cfg.GitHubURL, PublicURL: s.cfg.PublicURL, ListenAddr: s.ln.Addr().String(), Logger: s.log,
		Transport: s.cfg.GitHubTransport, OnConfigured: s.Configure,
	})
	if err != nil {
		s.log.Error("setup page disabled", slog.String("error", err.Error()))
		return
	}
	h.Register(r)
	s.log.Warn("no GitHub App configured: open the setup page to create one",
		slog.String("url", h.PageURL(localURL(s.ln))))
}

// localURL is how a browser on this machine reaches the listener.
func localURL(ln net.Listener) string {
	host, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return "http://localhost"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Configure switches a server started without an app to running mode: it
// builds the GitHub clients, starts the planner and the workers (unless
// the role is web), then accepts webhooks signed with the app's secret.
// It is setup.Config.OnConfigured; calling it when an app is configured
// already is an error.
func (s *Server) Configure(ctx context.Context, c setup.Credentials) error {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	switch {
	case s.live.stopped:
		return errors.New("configure: the server is shutting down")
	case s.app() != nil:
		return errors.New("configure: a GitHub App is configured already")
	case !c.Configured() || c.WebhookSecret == "":
		return errors.New("configure: the app's id, private key and webhook secret are all needed")
	}
	urls, err := ghclient.ParseURLs(s.cfg.GitHubURL)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	gh, err := s.newFactory(urls, c.AppID, c.PrivateKey)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if s.cfg.Role != RoleWeb {
		q, err := s.newQueue(s.cfg.Workers)
		if err != nil {
			return fmt.Errorf("configure: %w", err)
		}
		if err := s.buildWork(gh, q); err != nil {
			return fmt.Errorf("configure: %w", err)
		}
		if err := q.Start(ctx); err != nil {
			return fmt.Errorf("configure: %w", err)
		}
		s.live.workers = q
	}
	s.botMu.Lock()
	s.live.ghMu.Lock()
	s.gh = gh
	s.live.ghMu.Unlock()
	s.botMu.Unlock()
	s.live.hook.Store(webhook.New(webhook.Config{
		Secrets: [][]byte{[]byte(c.WebhookSecret)}, Sink: deliverySink{s.intake}, Busy: s.intake.Saturated, Logger: s.log, Observer: s,
	}))
	s.log.Info("GitHub App configured; gatehouse is running", slog.Any("app", c), slog.String("role", s.cfg.Role))
	if s.cfg.Addr == DefaultAddr(false) {
		s.log.Warn("gatehouse listens on 127.0.0.1 only, as it does until an app is configured: GitHub reaches it through a proxy or tunnel on this host; "+
			"restart it (or set GATEHOUSE_ADDR) to listen on "+DefaultAddr(true), slog.String("addr", s.Addr()))
	}
	return nil
}

// stopLive stops the workers Configure started; Run calls it on shutdown,
// before the store closes.
func (s *Server) stopLive(ctx context.Context) {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	s.live.stopped = true
	if s.live.workers == nil {
		return
	}
	if err := s.live.workers.Stop(ctx); err != nil {
		s.log.Warn("queue stop", slog.String("error", err.Error()))
	}
}
