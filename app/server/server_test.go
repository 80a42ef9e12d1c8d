package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func startServer(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return "http://" + srv.Addr()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Without an app, gatehouse starts anyway: healthy, not ready, and
// webhooks are refused with 503 so GitHub shows them failed.
func TestUnconfiguredServer(t *testing.T) {
	base := startServer(t, Config{})
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not configured") || !strings.Contains(body, `"database":"ok (sqlite)"`) {
		t.Errorf("/readyz = %d %s", code, body)
	}
	resp, err := http.Post(base+"/webhooks/github", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("webhook without a secret = %d, want 503", resp.StatusCode)
	}
	// The root points to the setup page.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/setup" {
		t.Errorf("GET / = %d to %q, want a redirect to /setup", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// The web role stores deliveries and serves metrics that move.
func TestWebRoleMetrics(t *testing.T) {
	base := startServer(t, Config{Role: RoleWeb, WebhookSecrets: [][]byte{[]byte("s")}})
	for _, sig := range []string{"sha256=00", ""} {
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/github", bytes.NewReader([]byte(`{}`)))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "x")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("bad signature = %d", resp.StatusCode)
		}
	}
	_, body := get(t, base+"/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	wh := families["gatehouse_webhooks_received_total"]
	if wh == nil {
		t.Fatalf("no gatehouse_webhooks_received_total in %v", keys(families))
	}
	var unauthorized float64
	for _, m := range wh.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "result" && l.GetValue() == "bad signature" {
				unauthorized += m.GetCounter().GetValue()
			}
		}
	}
	if unauthorized != 2 {
		t.Errorf("bad-signature deliveries counted %v, want 2", unauthorized)
	}
	if families["gatehouse_intake_duration_seconds"] == nil {
		t.Error("no intake latency histogram")
	}
	code, rb := get(t, base+"/readyz")
	var ready map[string]any
	_ = json.Unmarshal([]byte(rb), &ready)
	if code != http.StatusServiceUnavailable || ready["queue"] == nil {
		t.Errorf("/readyz = %d %s", code, rb)
	}
}

// A missing vulnerability DB shows in /readyz and as an infinite age, so
// the documented "DB older than two days" alert fires on it too.
func TestMissingVulnDBIsReported(t *testing.T) {
	base := startServer(t, Config{Role: RoleWeb, DBUpdatedAt: func() time.Time { return time.Time{} }})
	if _, body := get(t, base+"/readyz"); !strings.Contains(body, `"vulnerability_db":"missing: `) {
		t.Errorf("/readyz = %s", body)
	}
	_, body := get(t, base+"/metrics")
	if !strings.Contains(body, "gatehouse_vulndb_age_seconds +Inf") {
		t.Errorf("no infinite age in the metrics:\n%s", body)
	}
}

func TestRoleValidated(t *testing.T) {
	_, err := New(context.Background(), Config{Role: "everything", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "want web, worker or all") {
		t.Fatalf("err = %v", err)
	}
}

// A proxy address that is not one stops serve with what was wrong; by
// default nobody's X-Forwarded-For is believed (gin's default is anyone's).
func TestTrustedProxiesValidated(t *testing.T) {
	_, err := New(context.Background(), Config{TrustedProxies: []string{"10.0.0.0/8", "proxy.example"}, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "trusted proxies") {
		t.Fatalf("err = %v", err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// gin's "Running in debug mode" warning is not gatehouse's to print: it
// told operators to set GIN_MODE, which gatehouse does not read.
func TestNoGinDebugBanner(t *testing.T) {
	var out bytes.Buffer
	w := gin.DefaultWriter
	gin.DefaultWriter = &out
	gin.SetMode(gin.DebugMode)
	t.Cleanup(func() { gin.DefaultWriter = w; gin.SetMode(gin.ReleaseMode) })
	_, _ = New(context.Background(), Config{TrustedProxies: []string{"proxy.example"}, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if strings.Contains(out.String(), "GIN-debug") {
		t.Errorf("gin printed its debug banner:\n%s", out.String())
	}
}
