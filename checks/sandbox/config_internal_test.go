//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeAuto, "auto": ModeAuto, " Strict ": ModeStrict, "off": ModeOff} {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMode("on"); err == nil {
		t.Error(`ParseMode("on") accepted`)
	}
}

func TestCredentialName(t *testing.T) {
	for name, want := range map[string]bool{
		"GATEHOUSE_PRIVATE_KEY": true, "GATEHOUSE_PRIVATE_KEY_PATH": true, "GATEHOUSE_WEBHOOK_SECRET": true,
		"GATEHOUSE_DATABASE_URL": true, "GATEHOUSE_API_TOKENS": true, "GITHUB_TOKEN": true,
		"AWS_SECRET_ACCESS_KEY": true, "PGPASSWORD": true, "http_proxy_auth": true,
		"GOMAXPROCS": false, "GODEBUG": false, "LANG": false, "GATEHOUSE_LOG_LEVEL": false,
	} {
		if got := credentialName(name); got != want {
			t.Errorf("credentialName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestChildEnv(t *testing.T) {
	parent := map[string]string{
		"GOMAXPROCS": "2", "GITHUB_TOKEN": "ghs_x", "GATEHOUSE_PRIVATE_KEY": "k", "HOME": "/root", "UNLISTED": "x",
	}
	lookup := func(k string) (string, bool) { v, ok := parent[k]; return v, ok }
	env := childEnv("/scratch", "/opt/git/bin", []string{"GOMAXPROCS", "GITHUB_TOKEN", "MISSING"}, lookup)
	names := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := names[k]; dup {
			t.Errorf("%s set twice", k)
		}
		names[k] = v
	}
	want := map[string]string{
		"HOME": "/scratch", "TMPDIR": "/scratch", "GOMAXPROCS": "2", "TZ": "UTC",
		"PATH": "/opt/git/bin:/usr/local/bin:/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "GOPATH": "/scratch/go",
	}
	for k, v := range want {
		if names[k] != v {
			t.Errorf("%s=%q, want %q", k, names[k], v)
		}
	}
	for _, k := range []string{"GITHUB_TOKEN", "GATEHOUSE_PRIVATE_KEY", "UNLISTED", "MISSING"} {
		if _, ok := names[k]; ok {
			t.Errorf("%s reached the child", k)
		}
	}
}

func TestConfigResolve(t *testing.T) {
	if _, err := (Config{}).resolve(); err == nil {
		t.Error("a Config without DataDir resolved")
	}
	r, err := (Config{DataDir: "/data"}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != ModeAuto || r.Pool != 2 || r.DBDir != "/data/vulndb" || r.Limits != DefaultLimits() || len(r.Command) != 2 || r.Command[1] != ChildCommand {
		t.Errorf("defaults: %+v", r)
	}
	if os.Geteuid() == 0 && (r.UID != 65534 || r.GID != 65534) {
		t.Errorf("root parent: child runs as %d:%d, want nobody", r.UID, r.GID)
	}
	if r, _ := (Config{DataDir: "/d", Pool: -1, Limits: Limits{Timeout: 5}}).resolve(); r.Pool != 0 || r.Limits.Timeout != 5 || r.Limits.MaxOutput != DefaultLimits().MaxOutput {
		t.Errorf("Pool -1 and a partial Limits: %+v", r)
	}
	if _, err := (Config{DataDir: "/d", Env: []string{"GATEHOUSE_WEBHOOK_SECRET"}}).resolve(); err == nil {
		t.Error("Env accepted a credential")
	}
	if _, err := (Config{DataDir: "/d", Mode: "sometimes"}).resolve(); err == nil {
		t.Error("an unknown mode resolved")
	}
}

func TestMergeLayersAndStatus(t *testing.T) {
	parent := []Layer{{Name: LayerNetNS, Active: true}, {Name: LayerTimeout, Active: true}}
	child := []Layer{{Name: LayerLandlock, Active: true, Detail: "ABI 7"}, {Name: LayerSeccomp, Detail: "no kernel support"}}
	merged := mergeLayers(parent, child)
	var names []string
	for _, l := range merged {
		names = append(names, l.Name)
	}
	if !slices.Equal(names, layerOrder) {
		t.Errorf("layers %v, want every layer in order %v", names, layerOrder)
	}
	st := Status{Mode: ModeStrict, Layers: merged, Missing: missing(merged)}
	if st.OK() || !slices.Contains(st.Missing, LayerSeccomp) || slices.Contains(st.Missing, LayerLandlock) {
		t.Errorf("status %+v", st)
	}
	if s := st.String(); !strings.Contains(s, "seccomp (no kernel support)") || !strings.Contains(s, "3 of 13 layers active") {
		t.Errorf("String() = %q", s)
	}
	// A job's report overrides what the child said at start-up.
	later := mergeLayers(merged, []Layer{{Name: LayerLandlock, Detail: "restrict failed"}})
	if slices.Contains(missing(merged), LayerLandlock) || !slices.Contains(missing(later), LayerLandlock) {
		t.Error("the later report did not win")
	}
	if (Status{Mode: ModeAuto, Missing: []string{LayerSeccomp}}).OK() != true {
		t.Error("auto mode must scan with layers missing")
	}
}

func TestCheckAccess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make files of other owners")
	}
	base := t.TempDir()
	if err := os.Chmod(filepath.Dir(base), 0o755); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, mode os.FileMode, uid, gid int) string {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		ok   bool
	}{
		{"world readable", mk("open", 0o755, 0, 0), true},
		{"root only", mk("closed", 0o700, 0, 0), false},
		{"owned by the sandbox user", mk("mine", 0o700, 65534, 65534), true},
		{"group of the sandbox user", mk("group", 0o750, 0, 65534), true},
		{"searchable, not listable", mk("search", 0o711, 0, 0), false},
		{"under a closed directory", filepath.Join(mk("parent", 0o700, 0, 0), "child"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasSuffix(tc.path, "child") {
				_ = os.MkdirAll(tc.path, 0o755)
			}
			err := checkAccess(tc.path, 65534, 65534)
			if (err == nil) != tc.ok {
				t.Errorf("checkAccess = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestSignalOf(t *testing.T) {
	for _, tc := range []struct {
		ws   syscall.WaitStatus
		sig  syscall.Signal
		want bool
	}{
		{syscall.WaitStatus(9), syscall.SIGKILL, true},        // killed by SIGKILL
		{syscall.WaitStatus(137 << 8), syscall.SIGKILL, true}, // init: exit 128+9
		{syscall.WaitStatus(152 << 8), syscall.SIGXCPU, true}, // init: exit 128+24
		{syscall.WaitStatus(2 << 8), 0, false},                // exit 2
		{syscall.WaitStatus(0), 0, false},                     // exit 0
	} {
		sig, ok := signalOf(tc.ws)
		if ok != tc.want || sig != tc.sig {
			t.Errorf("signalOf(%#x) = %v, %v; want %v, %v", uint32(tc.ws), sig, ok, tc.sig, tc.want)
		}
	}
}
