package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/bounded"
)

// Loader loads the engines in a child, once, before it waits for its job.
// The returned close func (which may be nil) releases them.
type Loader func(ctx context.Context, opts LoadOptions, log *slog.Logger) ([]checks.Check, func() error, error)

// LoadOptions is what the parent tells a child's Loader.
type LoadOptions struct {
	// DataDir holds the vulnerability DB.
	DataDir string
	// MaxFileSize is the largest file each scanner reads (Limits.MaxFileSize;
	// 0 keeps each engine's default).
	MaxFileSize int64
}

// ServeChild is the body of the hidden child subcommand (ChildCommand). It
// reads its configuration from the parent on stdin, hardens the process
// (no_new_privs, seccomp, resource limits), loads the engines with load,
// says it is ready, waits for exactly one job, applies Landlock for that
// job's checkout before reading any of it, scans, writes the response on
// stdout and returns. The caller exits after it: one job per process.
//
// Nothing a library prints can corrupt the answer: the protocol moves to a
// private copy of stdout and file descriptor 1 is pointed at stderr.
//
// Started as process 1 of a PID namespace, ServeChild becomes the
// namespace's init instead (runInit): it runs the real child as process 2
// and does not return, it exits with that child's status.
func ServeChild(ctx context.Context, load Loader) error {
	if isInit, err := runInit(); isInit {
		return err
	}
	out, err := protocolOut()
	if err != nil {
		return fmt.Errorf("sandbox child: %w", err)
	}
	defer out.Close()
	dec := json.NewDecoder(os.Stdin)
	var cfg childConfig
	if err := dec.Decode(&cfg); err != nil {
		return fmt.Errorf("sandbox child: read configuration: %w", err)
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// trivy buffers its log lines until the program sets slog's default.
	slog.SetDefault(log)

	var layers []Layer
	if cfg.Mode != ModeOff {
		layers = hardenStart(cfg)
	}
	ready := readyMsg{Layers: layers}
	if cfg.Mode == ModeStrict {
		if m := missing(layers); len(m) > 0 {
			ready.Err = fmt.Sprintf("strict mode: layers unavailable in the child: %v", m)
		}
	}
	if cfg.DetectOnly || ready.Err != "" {
		return writeLine(out, ready)
	}
	start := time.Now()
	all, closeEngines, err := load(ctx, LoadOptions{DataDir: cfg.DataDir, MaxFileSize: cfg.Limits.MaxFileSize}, log)
	if err != nil {
		ready.Err = "load engines: " + err.Error()
		return writeLine(out, ready)
	}
	if closeEngines != nil {
		defer func() { _ = closeEngines() }()
	}
	ready.LoadMillis = time.Since(start).Milliseconds()
	// Loading the engines (gitleaks' rules above all; trivy's IaC checks
	// are compiled later, by a job that has IaC files) leaves garbage; a
	// warm child holds it until its job unless it is collected and
	// returned now, and the pool keeps two warm children waiting.
	debug.FreeOSMemory()
	if err := writeLine(out, ready); err != nil {
		return err
	}

	var job jobMsg
	if err := dec.Decode(&job); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // dismissed without a job (shutdown, recycle)
		}
		return fmt.Errorf("sandbox child: read job: %w", err)
	}
	res := serveJob(ctx, cfg, all, job.Request)
	if err := json.NewEncoder(out).Encode(res); err != nil {
		return fmt.Errorf("sandbox child: write result: %w", err)
	}
	return nil
}

func writeLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sandbox child: encode: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("sandbox child: write: %w", err)
	}
	return nil
}

// serveJob locks the child down to the job's checkout, then scans it.
func serveJob(ctx context.Context, cfg childConfig, all []checks.Check, req checks.Request) resultMsg {
	dir := req.Target.Dir
	if !filepath.IsAbs(dir) {
		return resultMsg{Err: fmt.Sprintf("checkout %q is not an absolute path", dir)}
	}
	var layers []Layer
	if cfg.Mode != ModeOff {
		if err := setCPULimit(cfg.Limits.CPUSeconds); err != nil {
			layers = append(layers, Layer{Name: LayerRlimits, Detail: err.Error()})
		}
		ll := applyLandlock(cfg, dir)
		layers = append(layers, ll)
		if m := missing(layers); cfg.Mode == ModeStrict && len(m) > 0 {
			return resultMsg{Layers: layers, Err: fmt.Sprintf("strict mode: layers unavailable for the job: %v", m)}
		}
	}
	// From here on the checkout is read.
	resp, err := (&bounded.Runner{Checks: all, Limits: cfg.Limits.Limits}).Run(ctx, req)
	if err != nil {
		return resultMsg{Layers: layers, Err: err.Error()}
	}
	sboms := map[string][]byte{}
	for _, r := range resp.Results {
		if r.SBOM != nil {
			sboms[r.Check] = r.SBOM
		}
	}
	return resultMsg{Response: resp, SBOMs: sboms, Layers: layers}
}
