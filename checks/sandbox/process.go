package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/checks/registry"
)

// child is one sandboxed process: started, hardened, its engines loaded,
// waiting for its one job.
type child struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *bufio.Reader
	rawOut *os.File
	stderr *tail
	root   string // the child's own directory: scratch, mount points
	scans  string // where the child sees Config.CheckoutRoot; "" if not shared
	exited chan struct{}
	ready  readyMsg
	lim    Limits
	log    *slog.Logger
	obs    Observer

	mu     sync.Mutex
	killed string // why the parent killed it; "" if it did not
}

// Reasons the parent kills a child.
const (
	killTimeout  = "timeout"
	killOutput   = "output"
	killCanceled = "canceled"
	killDismiss  = "dismissed"
)

// spawn starts a child in the variant's namespaces and sends it its
// configuration. The caller waits for its ready line (awaitReady).
//
// Each child gets a directory of its own: its scratch directory and, when
// it shares the parent's trees (sharesTrees), the mount points of the DB
// and the checkouts.
func (r *Runner) spawn(v nsVariant, detectOnly bool) (*child, error) {
	cfg := r.cfg
	root, err := os.MkdirTemp(cfg.ScratchRoot, "gatehouse-sandbox-")
	if err != nil {
		return nil, fmt.Errorf("sandbox: scratch directory: %w", err)
	}
	var trees []*os.File
	fail := func(err error) (*child, error) {
		closeAll(trees...)
		_ = os.RemoveAll(root)
		return nil, err
	}
	scratch, dataDir, dbDir, scans := root, cfg.DataDir, cfg.DBDir, ""
	// The child's binary is fd 3, executed through /proc/self/fd: the
	// sandbox user need not reach its path.
	files := []*os.File{r.exe}
	var mounts []string
	if sharesTrees(v, cfg.Mode) {
		scratch, dataDir = filepath.Join(root, "scratch"), filepath.Join(root, "data")
		dbDir = registry.DBDir(dataDir)
		share := func(host, target string) error {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			t, err := shareTree(host)
			if err != nil {
				return err
			}
			trees = append(trees, t)
			files = append(files, t)
			mounts = append(mounts, fmt.Sprintf("%d:%s", 2+len(files), target))
			return nil
		}
		err := errors.Join(os.Chmod(root, 0o711), os.Mkdir(scratch, 0o700), os.MkdirAll(dbDir, 0o755))
		if _, statErr := os.Stat(cfg.DBDir); err == nil && statErr == nil {
			err = share(cfg.DBDir, dbDir)
		}
		if cfg.CheckoutRoot != "" && err == nil {
			scans = filepath.Join(root, "scans")
			err = share(cfg.CheckoutRoot, scans)
		}
		if err != nil {
			return fail(fmt.Errorf("sandbox: share the DB and the checkouts with the child: %w", err))
		}
	}
	if os.Geteuid() == 0 && cfg.Mode != ModeOff {
		if err := os.Chown(scratch, cfg.UID, cfg.GID); err != nil {
			return fail(fmt.Errorf("sandbox: give the scratch directory to the sandbox user: %w", err))
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return fail(fmt.Errorf("sandbox: pipe: %w", err))
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return fail(fmt.Errorf("sandbox: pipe: %w", err))
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW, outR, outW)
		return fail(fmt.Errorf("sandbox: pipe: %w", err))
	}
	cmd := exec.Command("/proc/self/fd/3", cfg.Command[1:]...)
	cmd.Args[0] = cfg.Command[0]
	cmd.Env = childEnv(scratch, r.gitDir, cfg.Env, os.LookupEnv)
	if len(mounts) > 0 {
		cmd.Env = append(cmd.Env, mountsEnv+"="+strings.Join(mounts, ","))
	}
	cmd.Dir = scratch
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.ExtraFiles = files
	cmd.SysProcAttr = sysProcAttr(v, cfg.Mode, cfg.UID, cfg.GID)
	err = cmd.Start()
	closeAll(inR, outW, errW) // the child holds its own copies
	closeAll(trees...)
	trees = nil
	if err != nil {
		closeAll(inW, outR, errR)
		return fail(fmt.Errorf("sandbox: start child (%s namespaces): %w", v.name, err))
	}
	cfg.Observer.ChildStarted()
	c := &child{
		cmd: cmd, stdin: inW, rawOut: outR, stdout: bufio.NewReaderSize(outR, 64<<10),
		stderr: &tail{max: 16 << 10}, root: root, scans: scans, exited: make(chan struct{}), lim: cfg.Limits, log: r.log,
		obs: cfg.Observer,
	}
	stderrDone := make(chan struct{})
	go c.copyStderr(errR, stderrDone)
	go func() {
		_ = cmd.Wait()
		// Let the last lines (a crash's reason) arrive, but do not wait on a
		// process that escaped with a copy of the pipe.
		timer := time.NewTimer(2 * time.Second)
		select {
		case <-stderrDone:
		case <-timer.C:
			_ = errR.Close()
			<-stderrDone
		}
		timer.Stop()
		close(c.exited)
	}()
	ccfg := childConfig{
		Mode: cfg.Mode, DetectOnly: detectOnly, DataDir: dataDir, DBDir: dbDir,
		Scratch: scratch, ReadPaths: r.readPaths, ExecPaths: r.execPaths, Limits: cfg.Limits,
		LogLevel: cfg.LogLevel.Level().String(),
	}
	if err := json.NewEncoder(inW).Encode(ccfg); err != nil {
		c.kill(killDismiss)
		c.cleanup()
		return nil, fmt.Errorf("sandbox: configure child: %w", err)
	}
	return c, nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// maxLoggedLines bounds how many lines of one child's stderr reach the
// parent's log: a hostile repository must not be able to flood it.
const maxLoggedLines = 200

// copyStderr keeps the tail of the child's stderr (to explain a crash) and
// forwards its first lines to the parent's logger.
func (c *child) copyStderr(r *os.File, done chan<- struct{}) {
	defer close(done)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lines := 0
	for sc.Scan() {
		line := sc.Bytes()
		c.stderr.Write(append(line, '\n'))
		lines++
		switch {
		case lines > maxLoggedLines:
			continue
		case lines == maxLoggedLines:
			c.log.Warn("sandbox child: further output not logged")
			continue
		case len(line) > 2000:
			line = line[:2000]
		}
		c.log.Warn("sandbox child", slog.String("output", string(line)))
	}
	// A line longer than the scanner's buffer ends the scan: drain the
	// rest so that the child never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// awaitReady reads the child's ready line, bounded by timeout.
func (c *child) awaitReady(ctx context.Context, timeout time.Duration) error {
	type line struct {
		b   []byte
		err error
	}
	got := make(chan line, 1)
	go func() {
		b, err := c.stdout.ReadSlice('\n')
		got <- line{bytes.Clone(b), err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case l := <-got:
		if l.err != nil {
			c.kill(killDismiss)
			<-c.exited
			// Before its job a child has read no repository content: its
			// last words are safe to quote.
			return fmt.Errorf("sandbox: child did not start: %w (%s)", c.failure(l.err), lastLine(c.stderr.String()))
		}
		if err := json.Unmarshal(l.b, &c.ready); err != nil {
			c.kill(killDismiss)
			return fmt.Errorf("sandbox: child's ready line: %w", err)
		}
		if c.ready.Err != "" {
			c.kill(killDismiss)
			return fmt.Errorf("sandbox: child: %s", c.ready.Err)
		}
		return nil
	case <-timer.C:
		c.kill(killTimeout)
		return fmt.Errorf("sandbox: child not ready after %s", timeout)
	case <-ctx.Done():
		c.kill(killCanceled)
		return ctx.Err()
	}
}

// serve hands the child its job and reads the answer: at most maxOutput
// bytes, within the context's deadline. The child is gone when it returns.
func (c *child) serve(ctx context.Context, req jobMsg, lim Limits) (*resultMsg, error) {
	defer func() { c.obs.ChildExited(peakRSS(c.cmd.ProcessState)) }() // after cleanup: reaped
	defer c.cleanup()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				c.kill(killTimeout)
			} else {
				c.kill(killCanceled)
			}
		case <-stop:
		}
	}()
	if err := json.NewEncoder(c.stdin).Encode(req); err != nil {
		c.kill(killDismiss)
		<-c.exited
		return nil, c.failure(fmt.Errorf("send job: %w", err))
	}
	_ = c.stdin.Close()
	data, err := io.ReadAll(io.LimitReader(c.stdout, lim.MaxOutput+1))
	if int64(len(data)) > lim.MaxOutput {
		c.kill(killOutput)
	}
	<-c.exited
	if reason := c.killReason(); reason != "" || err != nil || !c.cmd.ProcessState.Success() {
		return nil, c.failure(err)
	}
	var res resultMsg
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("%w: unreadable answer: %v", ErrChildFailed, err)
	}
	return &res, nil
}

// kill ends the child's process group (and with it, in a PID namespace,
// every process of the namespace). The first reason given is kept.
func (c *child) kill(reason string) {
	c.mu.Lock()
	first := c.killed == ""
	if first {
		c.killed = reason
	}
	c.mu.Unlock()
	select {
	case <-c.exited: // reaped: its process group id may belong to another process now
	default:
		if first {
			c.obs.ChildKilled(reason)
		}
		killGroup(c.cmd.Process)
	}
	// Unblock a read of the answer even if some process still holds the
	// other end.
	_ = c.rawOut.Close()
}

func (c *child) killReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killed
}

// cleanup kills the child if it still runs, waits for it and removes its
// directory.
func (c *child) cleanup() {
	select {
	case <-c.exited:
	default:
		c.kill(killDismiss)
		<-c.exited
	}
	closeAll(c.stdin, c.rawOut)
	_ = os.RemoveAll(c.root)
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lastLine is the last non-empty line of s, cut to 300 bytes.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
