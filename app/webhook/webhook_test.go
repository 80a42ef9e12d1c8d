package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

type memSink struct {
	mu   sync.Mutex
	seen map[string]Delivery
	err  error
}

func (s *memSink) Accept(_ context.Context, d Delivery) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	if _, dup := s.seen[d.ID]; dup {
		return false, nil
	}
	s.seen[d.ID] = d
	return true, nil
}

func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func example(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/webhooks/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newServer(sink *memSink, secrets ...string) *gin.Engine {
	gin.SetMode(gin.TestMode)
	var ss [][]byte
	for _, s := range secrets {
		ss = append(ss, []byte(s))
	}
	h := New(Config{Secrets: ss, Sink: sink, Logger: slog.New(slog.DiscardHandler)})
	r := gin.New()
	r.POST("/webhooks/github", h.ServeGin)
	return r
}

func TestIntake(t *testing.T) {
	pr := example(t, "pull_request.opened")
	push := example(t, "push")
	closed := example(t, "pull_request.closed")
	secret := "s3cret"
	tests := []struct {
		name       string
		event, id  string
		body       []byte
		sig        string
		secrets    []string
		sinkErr    error
		wantStatus int
		wantStored bool
	}{
		{name: "signed pull_request.opened is queued", event: "pull_request", id: "d1", body: pr, sig: sign([]byte(secret), pr), wantStatus: 202, wantStored: true},
		{name: "previous secret during rotation", event: "pull_request", id: "d1", body: pr, sig: sign([]byte("old"), pr), secrets: []string{secret, "old"}, wantStatus: 202, wantStored: true},
		{name: "forged signature is 401", event: "pull_request", id: "d1", body: pr, sig: sign([]byte("wrong"), pr), wantStatus: 401},
		{name: "unsigned is 401", event: "pull_request", id: "d1", body: pr, wantStatus: 401},
		{name: "sha1 signature only is 401", event: "pull_request", id: "d1", body: pr, sig: "sha1=0000", wantStatus: 401},
		{name: "tampered body is 401", event: "pull_request", id: "d1", body: append(bytes.Clone(pr), ' '), sig: sign([]byte(secret), pr), wantStatus: 401},
		{name: "not configured is 503", event: "pull_request", id: "d1", body: pr, sig: sign([]byte(secret), pr), secrets: []string{}, wantStatus: 503},
		{name: "unknown event acknowledged, not stored", event: "star", id: "d1", body: []byte(`{"action":"created"}`), sig: sign([]byte(secret), []byte(`{"action":"created"}`)), wantStatus: 202},
		{name: "unhandled action acknowledged, not stored", event: "pull_request", id: "d1", body: closed, sig: sign([]byte(secret), closed), wantStatus: 202},
		{name: "push is queued", event: "push", id: "d2", body: push, sig: sign([]byte(secret), push), wantStatus: 202, wantStored: true},
		{name: "malformed JSON is 400", event: "pull_request", id: "d1", body: []byte(`{"action":`), sig: sign([]byte(secret), []byte(`{"action":`)), wantStatus: 400},
		{name: "missing delivery id is 400", event: "pull_request", body: pr, sig: sign([]byte(secret), pr), wantStatus: 400},
		{name: "store down is 503", event: "pull_request", id: "d1", body: pr, sig: sign([]byte(secret), pr), sinkErr: errors.New("db down"), wantStatus: 503},
		{name: "ping", event: "ping", id: "d1", body: []byte(`{"zen":"x"}`), sig: sign([]byte(secret), []byte(`{"zen":"x"}`)), wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memSink{seen: map[string]Delivery{}, err: tt.sinkErr}
			secrets := tt.secrets
			if secrets == nil {
				secrets = []string{secret}
			}
			srv := newServer(sink, secrets...)
			req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(tt.body))
			req.Header.Set("X-GitHub-Event", tt.event)
			if tt.id != "" {
				req.Header.Set("X-GitHub-Delivery", tt.id)
			}
			if tt.sig != "" {
				req.Header.Set("X-Hub-Signature-256", tt.sig)
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", w.Code, w.Body, tt.wantStatus)
			}
			if got := len(sink.seen) == 1; got != tt.wantStored {
				t.Fatalf("stored = %v, want %v", got, tt.wantStored)
			}
			if tt.wantStored {
				d := sink.seen[tt.id]
				if d.InstallationID == 0 || d.Repo == "" || !bytes.Equal(d.Payload, tt.body) {
					t.Errorf("delivery = %+v", d)
				}
			}
		})
	}
}

func TestIntakeDuplicateStoredOnce(t *testing.T) {
	pr := example(t, "pull_request.opened")
	sink := &memSink{seen: map[string]Delivery{}}
	srv := newServer(sink, "k")
	var results []string
	for range 3 {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(pr))
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", "same-id")
		req.Header.Set("X-Hub-Signature-256", sign([]byte("k"), pr))
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		results = append(results, w.Body.String())
	}
	if len(sink.seen) != 1 || !strings.Contains(results[0], "queued") || !strings.Contains(results[2], "duplicate") {
		t.Fatalf("stored %d, answers %v", len(sink.seen), results)
	}
}

func TestIntakeBodyCap(t *testing.T) {
	sink := &memSink{seen: map[string]Delivery{}}
	srv := newServer(sink, "k")
	big := bytes.Repeat([]byte("a"), MaxBodyBytes+1)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(big))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "big")
	req.Header.Set("X-Hub-Signature-256", sign([]byte("k"), big))
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != http.StatusRequestEntityTooLarge || len(sink.seen) != 0 {
		t.Fatalf("status %d, stored %d", w.Code, len(sink.seen))
	}
}

// Beyond capacity a delivery is refused at once with 503 and Retry-After
// (GitHub's log keeps it for recovery), counted as "overloaded".
func TestIntakeOverloadedIs503(t *testing.T) {
	pr := example(t, "pull_request.opened")
	sink := &memSink{seen: map[string]Delivery{}, err: fmt.Errorf("%w: queue full", ErrBusy)}
	gin.SetMode(gin.TestMode)
	var results []string
	h := New(Config{Secrets: [][]byte{[]byte("k")}, Sink: sink, Logger: slog.New(slog.DiscardHandler),
		Observer: observerFunc(func(_, result string, _ time.Duration) { results = append(results, result) })})
	r := gin.New()
	r.POST("/webhooks/github", h.ServeGin)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(pr))
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", "busy")
	req.Header.Set("X-Hub-Signature-256", sign([]byte("k"), pr))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != RetryAfter {
		t.Fatalf("status %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if len(results) != 1 || results[0] != "overloaded" {
		t.Errorf("observed %v", results)
	}
}

type observerFunc func(event, result string, took time.Duration)

func (f observerFunc) Webhook(event, result string, took time.Duration) { f(event, result, took) }

// A busy intake refuses before reading the body.
func TestIntakeBusyRefusesBeforeReading(t *testing.T) {
	sink := &memSink{seen: map[string]Delivery{}}
	gin.SetMode(gin.TestMode)
	h := New(Config{Secrets: [][]byte{[]byte("k")}, Sink: sink, Busy: func() bool { return true }, Logger: slog.New(slog.DiscardHandler)})
	r := gin.New()
	r.POST("/webhooks/github", h.ServeGin)
	body := &countingReader{r: bytes.NewReader(example(t, "pull_request.opened"))}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", body)
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", "busy")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || body.n != 0 || len(sink.seen) != 0 {
		t.Fatalf("status %d, Retry-After %q, %d bytes read, %d stored", w.Code, w.Header().Get("Retry-After"), body.n, len(sink.seen))
	}
}

type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// X-Hub-Signature-256 carries an HMAC-SHA256: a valid HMAC of another
// kind under that header is refused.
func TestSignatureMustBeSHA256(t *testing.T) {
	pr := example(t, "pull_request.opened")
	sink := &memSink{seen: map[string]Delivery{}}
	srv := newServer(sink, "k")
	other := func(prefix string, h func() hash.Hash) string {
		m := hmac.New(h, []byte("k"))
		m.Write(pr)
		return prefix + hex.EncodeToString(m.Sum(nil))
	}
	for _, sig := range []string{other("sha1=", sha1.New), other("sha512=", sha512.New), strings.TrimPrefix(sign([]byte("k"), pr), "sha256=")} {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(pr))
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", "d-"+sig[:8])
		req.Header.Set("X-Hub-Signature-256", sig)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("signature %.12s…: status %d, want 401", sig, w.Code)
		}
	}
	if len(sink.seen) != 0 {
		t.Errorf("stored %d deliveries", len(sink.seen))
	}
}

// A flood of large unsigned bodies holds at most the body budget before
// the signatures are checked: beyond it each is refused (503, Retry-After)
// without a byte read, and a small signed delivery still goes through.
func TestUnsignedFloodIsBounded(t *testing.T) {
	const budget, each, flood = 8 << 20, 3 << 20, 8
	sink := &memSink{seen: map[string]Delivery{}}
	gin.SetMode(gin.TestMode)
	h := New(Config{Secrets: [][]byte{[]byte("k")}, Sink: sink, Logger: slog.New(slog.DiscardHandler), BodyBudget: budget})
	r := gin.New()
	r.POST("/webhooks/github", h.ServeGin)
	type answer struct {
		code int
		read int64
	}
	answers := make(chan answer, flood)
	var writers []*io.PipeWriter
	for i := range flood {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		n := &atomic.Int64{}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/github", &countingPipe{r: pr, n: n})
		req.ContentLength = each
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("flood-%d", i))
		req.Header.Set("X-Hub-Signature-256", "sha256=00")
		go func() {
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			answers <- answer{w.Code, n.Load()}
		}()
	}
	// Those beyond the budget are refused without being read; the ones
	// within it are reading (blocked on their senders).
	admitted := budget / each
	for range flood - admitted {
		var a answer
		select {
		case a = <-answers:
		case <-time.After(time.Minute): // not a speed bound: without the budget they never answer
			t.Fatal("the bodies beyond the budget were admitted (no answer while their senders hold them)")
		}
		if a.code != http.StatusServiceUnavailable || a.read != 0 {
			t.Fatalf("a body beyond the budget: status %d after %d bytes read, want 503 before any", a.code, a.read)
		}
	}
	// A small signed delivery is not held up by them.
	pr := example(t, "pull_request.opened")
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(pr))
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", "signed")
	req.Header.Set("X-Hub-Signature-256", sign([]byte("k"), pr))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		t.Fatalf("signed delivery during the flood: %d", w.Code)
	}
	// The admitted ones end as what they are: unsigned.
	for _, pw := range writers {
		go func() { _, _ = pw.Write(bytes.Repeat([]byte("x"), each)); pw.Close() }()
	}
	for range admitted {
		if a := <-answers; a.code != http.StatusUnauthorized {
			t.Errorf("an admitted unsigned body: %d, want 401", a.code)
		}
	}
	// Their budget is back.
	if !h.budget.TryAcquire(budget) {
		t.Error("the budget was not released")
	}
}

type countingPipe struct {
	r *io.PipeReader
	n *atomic.Int64
}

func (c *countingPipe) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
