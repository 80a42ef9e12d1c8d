//go:build linux

package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/sandbox"
)

// probeSetup is a checkout for the probes: probe.json, a symlink "link" to
// a file planted outside the checkout, everything readable by everyone so
// that only the sandbox stands between the child and the planted file.
type probeSetup struct {
	root, dir, outside string
	secret             string
}

func newProbeSetup(t *testing.T, p probeParams) probeSetup {
	t.Helper()
	root := worldDir(t)
	s := probeSetup{root: root, dir: filepath.Join(root, "repo"), outside: filepath.Join(root, "outside.txt")}
	s.secret = "HOST-ONLY-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	must(t, os.MkdirAll(s.dir, 0o755))
	must(t, os.WriteFile(s.outside, []byte(s.secret), 0o644))
	must(t, os.Symlink(s.outside, filepath.Join(s.dir, "link")))
	p.Outside, p.Link, p.ParentPID = s.outside, "link", os.Getpid()
	b, err := json.Marshal(p)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(s.dir, "probe.json"), b, 0o644))
	must(t, openUp(root))
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runProbe runs one probe check and returns its result.
func runProbe(t *testing.T, r *sandbox.Runner, s probeSetup, name string) *checks.Result {
	t.Helper()
	resp, err := r.Run(context.Background(), checks.Request{Target: checks.Target{Dir: s.dir}, Checks: []string{name}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if msg := resp.Errors[name]; msg != "" {
		t.Fatalf("%s: %s", name, msg)
	}
	res := resp.Result(name)
	if res == nil {
		t.Fatalf("%s: no result", name)
	}
	for _, n := range res.Scope.Notes {
		t.Logf("%s: %s", name, n)
	}
	return res
}

func noEscape(t *testing.T, res *checks.Result, leak string) {
	t.Helper()
	for _, f := range res.Findings {
		t.Errorf("ESCAPED: %s: %q", f.Title, f.Message)
	}
	if b, _ := json.Marshal(res); leak != "" && strings.Contains(string(b), leak) {
		t.Errorf("the planted host content %q came back in the result", leak)
	}
}

func hasNote(res *checks.Result, sub string) bool {
	for _, n := range res.Scope.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

func TestChildCannotReadOutsideCheckout(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1}, true)
	requireLayer(t, r, sandbox.LayerLandlock)
	s := newProbeSetup(t, probeParams{})
	res := runProbe(t, r, s, "probe-read")
	noEscape(t, res, s.secret)
	if !hasNote(res, "checkout read: ok") {
		t.Error("the child could not read its own checkout")
	}
	// The probe tried the planted file directly, through the symlink and
	// through "..": three attempts, all blocked.
	for _, what := range []string{"directly", "via symlink", "via .."} {
		if !hasNote(res, "read outside file "+what) {
			t.Errorf("attempt %q not made", what)
		}
	}
}

func TestChildHasNoNetwork(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1}, true)
	st := r.Status()
	if !layerActive(st, sandbox.LayerNetNS) && !layerActive(st, sandbox.LayerLandlock) {
		t.Skip("neither the network namespace nor Landlock is available on this host")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	s := newProbeSetup(t, probeParams{Port: ln.Addr().(*net.TCPAddr).Port})
	res := runProbe(t, r, s, "probe-net")
	noEscape(t, res, "")
	if n := accepted.Load(); n != 0 {
		t.Errorf("the listener accepted %d connections from the child", n)
	}
}

// TestChildCannotReachHostUnixSockets: Landlock does not govern connect(2)
// on a socket file, so the seccomp filter refuses Unix sockets outright.
// The host listens on a world-writable stream socket, a world-writable
// datagram socket and an abstract socket; the child reaches none of them.
// No layer is required: without the filter the child would connect, and
// that is a failure, not a skip.
func TestChildCannotReachHostUnixSockets(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1}, true)
	// Socket paths are limited to 108 bytes: a short directory of its own,
	// searchable by the sandbox user.
	dir, err := os.MkdirTemp("", "ghunix-")
	must(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	greeting := "HOST-SOCKET-" + strconv.FormatInt(time.Now().UnixNano(), 36)

	stream, err := net.Listen("unix", filepath.Join(dir, "stream.sock"))
	must(t, err)
	defer stream.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := stream.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_, _ = c.Write([]byte(greeting))
			c.Close()
		}
	}()
	dgramPath := filepath.Join(dir, "dgram.sock")
	dgram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: dgramPath, Net: "unixgram"})
	must(t, err)
	defer dgram.Close()
	var received atomic.Int32
	go func() {
		b := make([]byte, 256)
		for {
			if _, _, err := dgram.ReadFrom(b); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	abstractName := "gatehouse-probe-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	abstract, err := net.Listen("unix", "@"+abstractName)
	must(t, err)
	defer abstract.Close()
	go func() {
		for {
			c, err := abstract.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	for _, p := range []string{stream.Addr().String(), dgramPath} {
		must(t, os.Chmod(p, 0o777))
	}
	// The control: the sockets answer a client on the host.
	c, err := net.Dial("unix", stream.Addr().String())
	must(t, err)
	if b, err := io.ReadAll(c); err != nil || string(b) != greeting {
		t.Fatalf("control: the host's stream socket answered %q, %v", b, err)
	}
	c.Close()
	accepted.Store(0)

	s := newProbeSetup(t, probeParams{})
	b, _ := json.Marshal(probeParams{UnixStream: stream.Addr().String(), UnixDgram: dgramPath, UnixAbstract: abstractName})
	must(t, os.WriteFile(filepath.Join(s.dir, "probe.json"), b, 0o644))
	res := runProbe(t, r, s, "probe-unix")
	noEscape(t, res, greeting)
	if n := accepted.Load(); n != 0 {
		t.Errorf("the host's unix sockets accepted %d connections from the child", n)
	}
	if n := received.Load(); n != 0 {
		t.Errorf("the host's datagram socket received %d datagrams from the child", n)
	}
	for _, what := range []string{"unix stream socket", "unix datagram socket", "socketpair(AF_UNIX)", "abstract unix socket", "high bits set"} {
		if !hasNote(res, what) {
			t.Errorf("attempt %q not made", what)
		}
	}
	// IP and netlink sockets, which runtimes probe, are still allowed.
	for _, want := range []string{"socket(AF_INET): ok", "socket(AF_NETLINK): ok"} {
		if !hasNote(res, want) {
			t.Errorf("child: want %q", want)
		}
	}
}

func layerActive(st sandbox.Status, name string) bool {
	for _, l := range st.Layers {
		if l.Name == name {
			return l.Active
		}
	}
	return false
}

func TestChildEnvironmentIsScrubbed(t *testing.T) {
	planted := map[string]string{
		"GATEHOUSE_PRIVATE_KEY":    "-----BEGIN PLANTED KEY-----",
		"GATEHOUSE_WEBHOOK_SECRET": "planted-webhook-secret",
		"GATEHOUSE_DATABASE_URL":   "postgres://planted:pw@db/gatehouse",
		"GITHUB_TOKEN":             "ghs_plantedtoken",
		"AWS_SECRET_ACCESS_KEY":    "planted-aws-secret",
	}
	var secrets []string
	for k, v := range planted {
		t.Setenv(k, v)
		secrets = append(secrets, v)
	}
	t.Setenv("GATEHOUSE_SANDBOX_TEST_VISIBLE", "allowed-value")
	r := newRunner(t, sandbox.Config{Pool: -1, Env: []string{"GATEHOUSE_SANDBOX_TEST_VISIBLE"}}, true)
	s := newProbeSetup(t, probeParams{Secrets: secrets})
	res := runProbe(t, r, s, "probe-env")
	noEscape(t, res, "")
	// The allow-list works the other way too: a listed name gets through.
	if !hasNote(res, "GATEHOUSE_SANDBOX_TEST_VISIBLE=allowed-value") {
		t.Error("a variable named in Config.Env did not reach the child")
	}
	if _, err := sandbox.New(context.Background(), sandbox.Config{DataDir: dataDir(t), Env: []string{"GITHUB_TOKEN"}}); err == nil {
		t.Error("Config.Env accepted a credential's name")
	}
}

func TestChildCannotWriteOutsideScratch(t *testing.T) {
	const fileSize = 1 << 20
	r := newRunner(t, sandbox.Config{Pool: -1, Limits: sandbox.Limits{FileSize: fileSize}}, true)
	requireLayer(t, r, sandbox.LayerLandlock, sandbox.LayerRlimits)
	targets := []string{"/tmp", "/dev/shm", "/var/tmp", dataDir(t)}
	s := newProbeSetup(t, probeParams{FileSize: fileSize})
	targets = append(targets, s.root)
	// The probe reads its parameters from the checkout: rewrite them.
	b, _ := json.Marshal(probeParams{FileSize: fileSize, WriteTo: targets})
	must(t, os.WriteFile(filepath.Join(s.dir, "probe.json"), b, 0o644))
	t.Cleanup(func() {
		for _, d := range targets {
			_ = os.Remove(filepath.Join(d, "probe-was-here"))
		}
	})
	res := runProbe(t, r, s, "probe-write")
	noEscape(t, res, "")
	if !hasNote(res, "scratch write: ok") {
		t.Error("the child could not write to its scratch directory")
	}
	if !hasNote(res, "file too large") {
		t.Error("a write past RLIMIT_FSIZE was not refused with EFBIG")
	}
}

func TestChildSyscallsAreFiltered(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1}, true)
	requireLayer(t, r, sandbox.LayerSeccomp)
	s := newProbeSetup(t, probeParams{})
	res := runProbe(t, r, s, "probe-syscalls")
	noEscape(t, res, "")
	for _, call := range []string{"unshare", "ptrace", "bpf", "io_uring_setup", "keyctl", "clone(CLONE_NEWNET)", "setsid", "setpgid"} {
		if !hasNote(res, call) {
			t.Errorf("%s not attempted", call)
		}
	}
}

func TestChildCannotRunPrograms(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1}, true)
	requireLayer(t, r, sandbox.LayerLandlock)
	s := newProbeSetup(t, probeParams{})
	res := runProbe(t, r, s, "probe-exec")
	noEscape(t, res, "")
	// git, which the secrets check needs, still runs.
	if !hasNote(res, `"git version`) {
		t.Error("git does not run in the sandbox")
	}
}

// runKilled runs a probe that must be killed and checks the error; then
// checks that the parent still scans.
func runKilled(t *testing.T, r *sandbox.Runner, s probeSetup, name string, want error) {
	t.Helper()
	_, err := r.Run(context.Background(), checks.Request{Target: checks.Target{Dir: s.dir}, Checks: []string{name}})
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", name, err, want)
	}
	t.Logf("%s: %v", name, err)
	if leftovers := sandboxProcesses(t); len(leftovers) > 0 {
		t.Errorf("processes of the child survived: %v", leftovers)
	}
	res := runProbe(t, r, s, "probe-env") // the parent survives and scans again
	noEscape(t, res, "")
}

// sandboxProcesses lists processes running this test binary as a child
// (ChildCommand in their command line).
func sandboxProcesses(t *testing.T) []int {
	t.Helper()
	exe := childBinary(t)
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmd), "\x00")
		if len(args) > 1 && args[0] == exe && args[1] == sandbox.ChildCommand {
			out = append(out, pid)
		}
	}
	return out
}

func TestCPULoopIsKilled(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1, Limits: sandbox.Limits{CPUSeconds: 2}}, true)
	requireLayer(t, r, sandbox.LayerRlimits)
	runKilled(t, r, newProbeSetup(t, probeParams{}), "probe-cpu", sandbox.ErrCPULimit)
}

func TestAllocationBombIsKilled(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1, Limits: sandbox.Limits{AddressSpace: 1 << 30}}, true)
	requireLayer(t, r, sandbox.LayerRlimits)
	runKilled(t, r, newProbeSetup(t, probeParams{}), "probe-alloc", sandbox.ErrMemoryLimit)
}

func TestForkBombIsContained(t *testing.T) {
	const limit = 64
	r := newRunner(t, sandbox.Config{Pool: -1, Limits: sandbox.Limits{Processes: limit}}, true)
	requireLayer(t, r, sandbox.LayerRlimits, sandbox.LayerUnprivileged, sandbox.LayerPIDNS)
	s := newProbeSetup(t, probeParams{MaxForks: 5000})
	res := runProbe(t, r, s, "probe-fork")
	noEscape(t, res, "")
	if !hasNote(res, "resource temporarily unavailable") {
		t.Error("fork was never refused")
	}
	if leftovers := sandboxProcesses(t); len(leftovers) > 0 {
		t.Errorf("forked processes survived the child: %v", leftovers)
	}
}

func TestHugeOutputIsCut(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1, Limits: sandbox.Limits{MaxOutput: 8 << 20}}, true)
	runKilled(t, r, newProbeSetup(t, probeParams{OutputSize: 100 << 20}), "probe-output", sandbox.ErrOutputLimit)
}

func TestWallClockTimeoutKillsTheChild(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1, Limits: sandbox.Limits{Timeout: 3 * time.Second}}, true)
	runKilled(t, r, newProbeSetup(t, probeParams{}), "probe-hang", sandbox.ErrTimeout)
}

func TestCheckTimeoutIsReported(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1, Limits: sandbox.Limits{Limits: checks.Limits{CheckTimeout: time.Second}}}, true)
	s := newProbeSetup(t, probeParams{})
	resp, err := r.Run(context.Background(), checks.Request{Target: checks.Target{Dir: s.dir}, Checks: []string{"probe-slow", "probe-env"}})
	must(t, err)
	if msg := resp.Errors["probe-slow"]; !strings.Contains(msg, "time limit (scan timeout per check)") {
		t.Errorf("probe-slow: error %q, want the per-check time limit", msg)
	}
	if resp.Result("probe-env") == nil {
		t.Error("the other check's result was lost")
	}
}

// TestChildHasNoPrivileges: the child runs as a host user other than root,
// with every capability set empty (the bounding set too, so no exec can
// regain one) and no_new_privs.
func TestChildHasNoPrivileges(t *testing.T) {
	r := newRunner(t, sandbox.Config{Pool: -1}, true)
	requireLayer(t, r, sandbox.LayerUnprivileged, sandbox.LayerNoNewPrivs)
	res := runProbe(t, r, newProbeSetup(t, probeParams{}), "probe-ids")
	for _, want := range []string{"caps effective=0 permitted=0 inheritable=0", "bounding=0", "no_new_privs=1"} {
		if !hasNote(res, want) {
			t.Errorf("child: want %q", want)
		}
	}
	for _, l := range r.Layers() {
		if l.Name == sandbox.LayerUnprivileged && !strings.Contains(l.Detail, "host uid "+strconv.Itoa(65534)) && os.Geteuid() == 0 {
			t.Errorf("the child does not run as nobody: %s", l.Detail)
		}
	}
}
