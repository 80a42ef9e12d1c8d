package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/checks"
)

// Runner runs checks in sandboxed children, one job per child, never in
// the calling process. Build it with New and Close it on shutdown. It is
// safe for concurrent use: concurrent Runs take different children.
type Runner struct {
	cfg     resolved
	log     *slog.Logger
	variant nsVariant
	// Paths the child may read or execute once Landlock is on, and the
	// directory of git (put first on the child's PATH).
	readPaths, execPaths []string
	gitDir               string
	// exe is the child's binary, open for the Runner's life: children
	// execute it through their fd 3.
	exe *os.File
	// share: children get the DB and the checkouts as mounts
	// (sharesTrees), not through host paths.
	share bool

	ready     chan *child // warm children, handed over by the fillers
	startErrs chan error  // a filler's failure, offered to a waiting Run
	done      chan struct{}
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closed    atomic.Bool
	warm      atomic.Int32

	mu           sync.Mutex
	parentLayers []Layer // namespaces, timeout, environment
	childLayers  []Layer // as the last child reported them
	lastStartErr string
	recycle      chan struct{}
}

var _ checks.Runner = (*Runner)(nil)

// New detects the layers this host offers (by starting a child that
// applies them and reports, without loading the engines), logs them, and
// starts the pool of warm children. In strict mode it fails when a layer
// is missing, wrapping ErrLayerMissing.
func New(ctx context.Context, cfg Config) (_ *Runner, err error) {
	rc, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	r := &Runner{
		cfg: rc, log: rc.Logger,
		ready: make(chan *child), startErrs: make(chan error), done: make(chan struct{}),
		recycle: make(chan struct{}),
	}
	r.findPaths()
	if rc.Mode != ModeOff {
		// Only the file's own mode matters: it is executed through a
		// descriptor, not its path.
		if err := permits(rc.Command[0], rc.UID, rc.GID, 1); err != nil {
			return nil, fmt.Errorf("sandbox: the child (uid %d) cannot run %s: %w", rc.UID, rc.Command[0], err)
		}
	}
	if r.exe, err = os.Open(rc.Command[0]); err != nil {
		return nil, fmt.Errorf("sandbox: open the child's binary: %w", err)
	}
	defer func() {
		if err != nil {
			_ = r.exe.Close() // every failure from here on, strict mode's included
		}
	}()
	if rc.CheckoutRoot != "" {
		if err := os.MkdirAll(rc.CheckoutRoot, 0o711); err != nil {
			return nil, fmt.Errorf("sandbox: checkout root: %w", err)
		}
		if r.cfg.CheckoutRoot, err = filepath.EvalSymlinks(rc.CheckoutRoot); err != nil {
			return nil, fmt.Errorf("sandbox: checkout root: %w", err)
		}
	}
	if err := r.detect(ctx); err != nil {
		return nil, err
	}
	r.share = sharesTrees(r.variant, rc.Mode)
	if rc.Mode != ModeOff && !r.share {
		if err := checkDataDir(rc); err != nil {
			return nil, err
		}
	}
	st := r.Status()
	if rc.Mode == ModeStrict && len(st.Missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrLayerMissing, st)
	}
	attrs := []any{slog.String("mode", string(rc.Mode)), slog.Int("pool", rc.Pool), slog.Int("uid", rc.UID)}
	for _, l := range st.Layers {
		state := "active"
		if !l.Active {
			state = "unavailable"
		}
		attrs = append(attrs, slog.String(l.Name, state+": "+l.Detail))
	}
	if len(st.Missing) > 0 {
		r.log.Warn("sandbox layers missing", append(attrs, slog.Any("missing", st.Missing))...)
	} else {
		r.log.Info("sandbox ready", attrs...)
	}
	fillCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	for range rc.Pool {
		r.wg.Add(1)
		go r.fill(fillCtx)
	}
	return r, nil
}

// checkDataDir checks that the sandbox user can reach the vulnerability DB:
// pass through the data directory (which may hold other, private files) and
// read the DB directory if it is installed.
func checkDataDir(rc resolved) error {
	err := checkSearch(rc.DataDir, rc.UID, rc.GID)
	if _, statErr := os.Stat(rc.DBDir); err == nil && statErr == nil {
		err = checkAccess(rc.DBDir, rc.UID, rc.GID)
	}
	if err != nil {
		return fmt.Errorf("sandbox: the child (uid %d) cannot reach the vulnerability DB: %w "+
			"(the data directory needs mode 0711 or wider, the DB directory 0755)", rc.UID, err)
	}
	return nil
}

// findPaths works out what the child needs besides the checkout and the DB:
// its own binary (read), git and the system libraries (read and execute),
// the dynamic loader's cache.
func (r *Runner) findPaths() {
	// The binary by /proc/self/exe, which the child resolves to the file
	// without passing through its directories.
	r.readPaths = append([]string{"/proc/self/exe", "/etc/ld.so.cache"}, r.cfg.ReadPaths...)
	r.execPaths = []string{"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/libexec"}
	if git, err := exec.LookPath("git"); err == nil {
		if real, err := filepath.EvalSymlinks(git); err == nil {
			git = real
		}
		r.gitDir = filepath.Dir(git)
		r.execPaths = append(r.execPaths, git)
		if out, err := exec.Command(git, "--exec-path").Output(); err == nil {
			r.execPaths = append(r.execPaths, strings.TrimSpace(string(out)))
		}
	}
}

// detect finds the richest namespace variant the host allows and the
// layers a child can apply, with a child that exits right after.
func (r *Runner) detect(ctx context.Context) error {
	var why []string
	for _, v := range variants(r.cfg.Mode) {
		c, err := r.spawn(v, true)
		if err == nil {
			err = c.awaitReady(ctx, r.cfg.Limits.Timeout)
			c.cleanup()
		}
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", v.name, err))
			continue
		}
		r.variant = v
		reason := strings.Join(why, "; ")
		if reason == "" {
			reason = "not requested"
		}
		r.mu.Lock()
		r.parentLayers = append(namespaceLayers(v, r.cfg.Mode, reason), r.ownLayers()...)
		r.childLayers = c.ready.Layers
		r.mu.Unlock()
		return nil
	}
	return fmt.Errorf("sandbox: cannot start a child: %s", strings.Join(why, "; "))
}

// ownLayers are the layers the parent itself enforces.
func (r *Runner) ownLayers() []Layer {
	return []Layer{
		{Name: LayerTimeout, Active: true, Detail: fmt.Sprintf(
			"%s wall clock per scan, then the child's process group is killed; answers capped at %d MiB", r.cfg.Limits.Timeout, r.cfg.Limits.MaxOutput>>20)},
		{Name: LayerEnv, Active: true, Detail: "the environment is built from an allow-list; no key, token, secret or database URL"},
	}
}

// Run scans req.Target in a sandboxed child and returns its response. An
// error means the scan did not complete (a limit was hit, the child died,
// strict mode refused); it is never a pass.
func (r *Runner) Run(ctx context.Context, req checks.Request) (*checks.Response, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	dir, rel, err := r.checkout(req.Target.Dir)
	if err != nil {
		return nil, err
	}
	req.Target.Dir = dir
	if r.cfg.Mode == ModeOff {
		r.log.WarnContext(ctx, "sandbox is off: repository content is parsed without isolation", slog.String("dir", dir))
	}
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Limits.Timeout)
	defer cancel()
	c, err := r.take(ctx)
	if err == nil && rel != "" {
		req.Target.Dir = filepath.Join(c.scans, rel)
	}
	if err == nil {
		var res *resultMsg
		if res, err = c.serve(ctx, jobMsg{Request: req}, r.cfg.Limits); err == nil {
			return r.answer(req, res)
		}
	}
	if errors.Is(err, ErrTimeout) && caller.Err() != nil {
		// The caller's own deadline or cancellation, not the sandbox's.
		return nil, fmt.Errorf("sandbox: scan stopped: %w", caller.Err())
	}
	return nil, err
}

// answer turns the child's result into the Run's: one result or one error
// per requested check, never a check silently missing.
func (r *Runner) answer(req checks.Request, res *resultMsg) (*checks.Response, error) {
	r.noteLayers(res.Layers)
	switch {
	case res.Err != "" && strings.HasPrefix(res.Err, "strict mode"):
		return nil, fmt.Errorf("%w: %s", ErrLayerMissing, res.Err)
	case res.Err != "":
		return nil, fmt.Errorf("%w: %s", ErrChildFailed, res.Err)
	case res.Response == nil:
		return nil, fmt.Errorf("%w: empty answer", ErrChildFailed)
	}
	resp := &checks.Response{Errors: res.Response.Errors}
	seen := map[string]bool{}
	for _, result := range res.Response.Results {
		if result == nil || seen[result.Check] || (len(req.Checks) > 0 && !slices.Contains(req.Checks, result.Check)) {
			continue
		}
		seen[result.Check] = true
		result.SBOM = res.SBOMs[result.Check]
		resp.Results = append(resp.Results, result)
	}
	for _, name := range req.Checks {
		if !seen[name] && resp.Errors[name] == "" {
			if resp.Errors == nil {
				resp.Errors = map[string]string{}
			}
			resp.Errors[name] = "sandbox: the child returned no result for this check"
		}
	}
	return resp, nil
}

// checkout makes the target directory absolute and real. A checkout under
// the shared CheckoutRoot is returned with its path relative to it (the
// child sees it under its own mount); any other must be readable by the
// sandbox user through the host's directories.
func (r *Runner) checkout(dir string) (abs, rel string, err error) {
	if dir == "" {
		return "", "", errors.New("sandbox: target has no directory")
	}
	if abs, err = filepath.Abs(dir); err != nil {
		return "", "", fmt.Errorf("sandbox: target %s: %w", dir, err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", "", fmt.Errorf("sandbox: target %s: %w", dir, err)
	}
	if info, err := os.Stat(abs); err != nil || !info.IsDir() {
		return "", "", fmt.Errorf("sandbox: target %s is not a directory", dir)
	}
	if r.share && r.cfg.CheckoutRoot != "" {
		if rel, err := filepath.Rel(r.cfg.CheckoutRoot, abs); err == nil && filepath.IsLocal(rel) {
			return abs, rel, nil
		}
	}
	if r.cfg.Mode != ModeOff {
		if err := checkAccess(abs, r.cfg.UID, r.cfg.GID); err != nil {
			return "", "", fmt.Errorf("sandbox: the child cannot read the checkout: %w", err)
		}
	}
	return abs, "", nil
}

func (r *Runner) noteLayers(layers []Layer) {
	if len(layers) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.childLayers = mergeLayers(r.childLayers, layers)
}

// Layers returns every layer with whether it is active and why not.
func (r *Runner) Layers() []Layer { return r.Status().Layers }

// Status is the sandbox's state for /readyz and the log.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	var layers []Layer
	if r.cfg.Mode == ModeOff {
		layers = mergeLayers(offLayers(), r.parentLayers)
	} else {
		layers = mergeLayers(r.parentLayers, r.childLayers)
	}
	return Status{
		Mode: r.cfg.Mode, Layers: layers, Missing: missing(layers),
		Warm: int(r.warm.Load()), LastStartError: r.lastStartErr,
	}
}

// Close stops the pool and kills the idle children. Scans in progress
// finish (or time out) on their own.
func (r *Runner) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		close(r.done)
		if r.cancel != nil {
			r.cancel()
		}
		r.wg.Wait()
		_ = r.exe.Close()
	})
	return nil
}
