package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/app/api"
	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/metrics"
	"github.com/gatehouse/gatehouse/app/policysource"
	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/app/setup"
	"github.com/gatehouse/gatehouse/checks/deps"
	"github.com/gatehouse/gatehouse/checks/policy"
	"github.com/gatehouse/gatehouse/checks/registry"
	"github.com/gatehouse/gatehouse/checks/sandbox"
)

type serveFlags struct {
	appFlags
	addr, previousSecret, policyFile string
	dbRepository                     string
	offline                          bool
	workers, installationConcurrency int
	apiTokens, evidenceRetention     string
	scanTimeout                      time.Duration
	contentFlags
	mirrorCacheMB              int
	logFormat, logLevel        string
	signingKey, signingKeyPath string
	trustedProxies             string
	intakeMaxWait              time.Duration
	intakeMaxPending           int
	recoveryInterval           time.Duration
	recoveryLookback           time.Duration
}

func newServe() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the GitHub App: webhook intake, queue, workers and API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), f)
		},
	}
	fs := cmd.Flags()
	f.appFlags.register(fs)
	envString(fs, &f.addr, "addr", "GATEHOUSE_ADDR", "", "listen address (default :8080; 127.0.0.1:8080 while no GitHub App is configured)")
	envString(fs, &f.previousSecret, "webhook-secret-previous", "GATEHOUSE_WEBHOOK_SECRET_PREVIOUS", "", "previous webhook secret, still accepted during a rotation")
	envString(fs, &f.policyFile, "policy-file", "GATEHOUSE_POLICY_FILE", "", "server-wide default policy file (--policy is the same flag)")
	fs.SetNormalizeFunc(policyAlias)
	envString(fs, &f.dbRepository, "trivy-db-repository", "GATEHOUSE_TRIVY_DB_REPOSITORY", "", "OCI repository of the vulnerability DB (trivy's default when empty)")
	envBool(fs, &f.offline, "offline", "GATEHOUSE_OFFLINE", false, "never download; use what is in the data dir")
	envInt(fs, &f.workers, "workers", "GATEHOUSE_WORKERS", 2, "concurrent scan jobs in this process")
	envInt(fs, &f.installationConcurrency, "installation-concurrency", "GATEHOUSE_INSTALLATION_CONCURRENCY", 8, "most scans running at once for one installation, across all replicas (0: no bound)")
	envString(fs, &f.apiTokens, "api-tokens", "GATEHOUSE_API_TOKENS", "", "comma-separated bearer tokens of the evidence API (none: the API is off)")
	envString(fs, &f.evidenceRetention, "evidence-retention", "GATEHOUSE_EVIDENCE_RETENTION", "400d", "how long evidence is kept: days (400d), a duration (9600h) or off")
	f.contentFlags.register(fs)
	envInt(fs, &f.mirrorCacheMB, "mirror-cache-mb", "GATEHOUSE_MIRROR_CACHE_MB", 5120, "size cap of the repositories' git mirrors on disk, in MiB (least recently used evicted)")
	envDuration(fs, &f.scanTimeout, "scan-timeout", "GATEHOUSE_SCAN_TIMEOUT", 10*time.Minute, "longest a scan job may run; a dead worker's job moves to another one minute after")
	envString(fs, &f.signingKey, "signing-key", "GATEHOUSE_SIGNING_KEY", "", "key verdicts are signed with (PEM, ECDSA P-256 or Ed25519); empty: the data dir's evidence-signing-key.pem, created on first start")
	envString(fs, &f.trustedProxies, "trusted-proxies", "GATEHOUSE_TRUSTED_PROXIES", "", "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed (default: none)")
	envString(fs, &f.signingKeyPath, "signing-key-path", "GATEHOUSE_SIGNING_KEY_PATH", "", "file with the key verdicts are signed with (a mounted secret)")
	envDuration(fs, &f.intakeMaxWait, "intake-max-wait", "GATEHOUSE_INTAKE_MAX_WAIT", 500*time.Millisecond, "longest a delivery waits to be stored before it is refused with 503 (recovered later from GitHub's delivery log)")
	envInt(fs, &f.intakeMaxPending, "intake-max-pending", "GATEHOUSE_INTAKE_MAX_PENDING", 4096, "most deliveries waiting to be stored; beyond, 503 at once")
	envDuration(fs, &f.recoveryInterval, "recovery-interval", "GATEHOUSE_RECOVERY_INTERVAL", 5*time.Minute, "how often GitHub's delivery log is read for missed deliveries (0: off)")
	envDuration(fs, &f.recoveryLookback, "recovery-lookback", "GATEHOUSE_RECOVERY_LOOKBACK", 72*time.Hour, "how far back the first read of the delivery log goes (at most 72h, what GitHub keeps)")
	envChoice(fs, &f.logFormat, "log-format", "GATEHOUSE_LOG_FORMAT", "json", []string{"json", "text"}, "json or text")
	envChoice(fs, &f.logLevel, "log-level", "GATEHOUSE_LOG_LEVEL", "info", logLevels, "debug, info, warn or error")
	return cmd
}

// logLevels are the values --log-level accepts.
var logLevels = []string{"debug", "info", "warn", "error"}

func newLogger(format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

func runServe(ctx context.Context, f serveFlags) error {
	log := newLogger(f.logFormat, f.logLevel)
	// slog's default is gatehouse's logger too, with the lines trivy logs
	// through it (in process, when the sandbox is off) at gatehouse's levels.
	deps.RouteLogs(log)
	// 0711: where the sandbox cannot give its children the DB and the
	// checkouts as mounts (no user namespaces), they pass through the data
	// dir as an unprivileged user; nobody can list what is in it.
	if err := os.MkdirAll(f.dataDir, 0o711); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := os.Chmod(f.dataDir, 0o711); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	cfg := server.Config{
		Addr: f.addr, DataDir: f.dataDir, DatabaseURL: f.dbURL, Role: f.role,
		GitHubURL: f.githubURL, PublicURL: f.publicURL, Workers: f.workers, Logger: log, ScanTimeout: f.scanTimeout,
		APITokens: api.ParseTokens(f.apiTokens), Version: version,
		InstallationConcurrency: f.installationConcurrency, Metrics: metrics.New(),
		MirrorCacheBytes: int64(f.mirrorCacheMB) << 20,
		SigningKeyPEM:    []byte(f.signingKey), SigningKeyPath: f.signingKeyPath,
		TrustedProxies: splitList(f.trustedProxies),
		IntakeMaxWait:  f.intakeMaxWait, IntakeMaxPending: f.intakeMaxPending,
		Recovery: server.RecoveryConfig{Interval: f.recoveryInterval, Lookback: f.recoveryLookback},
	}
	if f.recoveryInterval == 0 {
		cfg.Recovery.Interval = -1 // off
	}
	retention, err := evidence.ParseRetention(f.evidenceRetention)
	if err != nil {
		return fmt.Errorf("GATEHOUSE_EVIDENCE_RETENTION: %w", err)
	}
	cfg.EvidenceRetention = retention
	// The app: environment variables win over what /setup stored (issue 11).
	var env setup.Credentials
	if f.appID != "" {
		id, err := parseAppID(f.appID)
		if err != nil {
			return err
		}
		env.AppID = id
	}
	key, err := readKey(f.key, f.keyPath)
	if err != nil {
		return err
	}
	env.PrivateKey, env.WebhookSecret = key, f.secret
	stored, err := setup.Load(f.dataDir)
	if err != nil {
		return err
	}
	app := setup.Merge(env, stored)
	cfg.AppID, cfg.PrivateKey = app.AppID, app.PrivateKey
	for _, s := range []string{app.WebhookSecret, f.previousSecret} {
		if s != "" {
			cfg.WebhookSecrets = append(cfg.WebhookSecrets, []byte(s))
		}
	}
	if stored != nil && app.AppID == stored.AppID {
		log.Info("using the GitHub App stored by /setup", slog.Any("app", app), slog.String("file", setup.Path(f.dataDir)))
	}
	src := &policysource.Source{}
	if f.policyFile != "" {
		pf, err := policy.Load(f.policyFile)
		if err != nil {
			return fmt.Errorf("server policy: %w", err)
		}
		src.Server = pf
	}
	cfg.Policies = src
	if f.role != server.RoleWeb {
		mode, err := sandbox.ParseMode(f.sandbox)
		if err != nil {
			return fmt.Errorf("GATEHOUSE_SANDBOX: %w", err)
		}
		// Repository content is parsed only in sandboxed, single-use
		// children (warm: engines loaded before a job arrives).
		lim, err := f.limits()
		if err != nil {
			return err
		}
		sb, err := sandbox.New(ctx, sandbox.Config{Mode: mode, DataDir: f.dataDir, DBDir: registry.DBDir(f.dataDir),
			CheckoutRoot: server.ScanDir(f.dataDir), Limits: lim, Logger: log,
			Observer: metrics.SandboxObserver{M: cfg.Metrics}})
		if err != nil {
			return err
		}
		defer sb.Close()
		cfg.Runner, cfg.Checks, cfg.Splitters = sb, registry.Names, registry.Splitters()
		cfg.Readiness = map[string]func(context.Context) error{"sandbox": func(context.Context) error {
			st := sb.Status()
			if !st.OK() || (st.Warm == 0 && st.LastStartError != "") {
				return fmt.Errorf("sandbox: %s %s", st.String(), st.LastStartError)
			}
			return nil
		}}
		dbDir := registry.DBDir(f.dataDir)
		cfg.DBUpdatedAt = func() time.Time {
			info, err := deps.DBStatus(dbDir)
			if err != nil {
				return time.Time{}
			}
			return info.UpdatedAt
		}
		if !f.offline {
			go refreshDB(ctx, log, dbDir, f.dbRepository, sb)
		}
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// refreshDB downloads the vulnerability DB at start when it is missing or
// stale, then every 6 hours, swapping it in atomically.
func refreshDB(ctx context.Context, log *slog.Logger, dir, repo string, sb *sandbox.Runner) {
	tick := time.NewTicker(6 * time.Hour)
	defer tick.Stop()
	for {
		info, err := deps.DBStatus(dir)
		if err != nil || !info.Present || time.Since(info.UpdatedAt) > 24*time.Hour {
			if err := deps.UpdateDB(ctx, dir, repo); err != nil {
				log.Warn("vulnerability DB update failed", slog.String("error", err.Error()))
			} else {
				sb.Recycle() // warm children reopen the new DB
				log.Info("vulnerability DB updated")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// limits are the sandbox limits serve's flags set; the rest keep
// sandbox.DefaultLimits. A scan may not outlive its job.
func (f *serveFlags) limits() (sandbox.Limits, error) {
	content, err := f.contentFlags.limits(f.scanTimeout)
	return sandbox.Limits{Timeout: f.scanTimeout, Limits: content}, err
}

// splitList splits a comma-separated setting, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
