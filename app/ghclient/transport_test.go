package ghclient

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// answers serves the scripted answers in order, then 200.
func answers(t *testing.T, script ...func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32, *[]string) {
	t.Helper()
	var n atomic.Int32
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		i := int(n.Add(1)) - 1
		if i < len(script) {
			script[i](w)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n, &bodies
}

func status(code int, hdr ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"message":"scripted"}`)
	}
}

func newTestTransport() *retryTransport {
	return &retryTransport{
		next: http.DefaultTransport, maxRetries: 4, baseDelay: time.Millisecond,
		maxWait: 5 * time.Second, log: slog.New(slog.DiscardHandler), now: time.Now,
	}
}

func TestRetryTransport(t *testing.T) {
	tests := []struct {
		name      string
		script    []func(http.ResponseWriter)
		wantCode  int
		wantCalls int32
		wantErr   bool
	}{
		{name: "502 burst then success", script: []func(http.ResponseWriter){status(502), status(502), status(503)}, wantCode: 200, wantCalls: 4},
		{name: "secondary rate limit with Retry-After", script: []func(http.ResponseWriter){status(403, "Retry-After", "1")}, wantCode: 200, wantCalls: 2},
		{name: "429 with Retry-After", script: []func(http.ResponseWriter){status(429, "Retry-After", "1")}, wantCode: 200, wantCalls: 2},
		{name: "primary rate limit until reset", script: []func(http.ResponseWriter){status(403, "X-Ratelimit-Remaining", "0", "X-Ratelimit-Reset", strconv.FormatInt(time.Now().Unix(), 10))}, wantCode: 200, wantCalls: 2},
		{name: "plain 403 is not retried", script: []func(http.ResponseWriter){status(403)}, wantCode: 403, wantCalls: 1},
		{name: "422 is not retried", script: []func(http.ResponseWriter){status(422)}, wantCode: 422, wantCalls: 1},
		{name: "retries are bounded", script: []func(http.ResponseWriter){status(502), status(502), status(502), status(502), status(502), status(502)}, wantCode: 502, wantCalls: 5},
		{name: "rate limit too far away fails fast", script: []func(http.ResponseWriter){status(403, "Retry-After", "3600")}, wantErr: true, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls, bodies := answers(t, tt.script...)
			client := &http.Client{Transport: newTestTransport()}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/repos/o/r/check-runs", strings.NewReader(`{"name":"x"}`))
			resp, err := client.Do(req)
			if tt.wantErr {
				var rl *RateLimitError
				if !errors.As(err, &rl) {
					t.Fatalf("err = %v, want RateLimitError", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.wantCode {
					t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantCode)
				}
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			for i, b := range *bodies {
				if b != `{"name":"x"}` {
					t.Errorf("attempt %d body = %q: the body was not replayed", i, b)
				}
			}
		})
	}
}

func TestRetryTransportHonoursContext(t *testing.T) {
	srv, calls, _ := answers(t, status(403, "Retry-After", "4"))
	client := &http.Client{Transport: newTestTransport()}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/app", nil)
	go func() {
		for calls.Load() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err := client.Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d, want 1", calls.Load())
	}
}
