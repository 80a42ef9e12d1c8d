// Package webhook is gatehouse's intake: it verifies a GitHub delivery's
// signature before reading it, caps its size, keeps only the events gatehouse
// acts on, and hands it to a Sink that stores and enqueues it in one
// transaction. It never calls GitHub and never scans: GitHub gives a delivery
// ten seconds and does not retry on its own.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/go-github/v88/github"
	"github.com/tidwall/gjson"
	"golang.org/x/sync/semaphore"

	"github.com/gatehouse/gatehouse/app/events"
)

// MaxBodyBytes is GitHub's cap on webhook payloads (25 MB).
const MaxBodyBytes = 25 << 20

// Delivery is a verified delivery, ready to be stored.
type Delivery struct {
	ID             string // X-GitHub-Delivery
	Event          string // X-GitHub-Event
	Action         string
	InstallationID int64
	Repo           string // owner/name, empty for installation events
	Payload        []byte
	ReceivedAt     time.Time
}

// ErrBusy, wrapped in a Sink's error, says the delivery was refused
// because the intake is beyond its capacity: it is answered 503 at once
// with Retry-After, counted as "overloaded", and recovered later from
// GitHub's delivery log.
var ErrBusy = errors.New("intake busy")

// RetryAfter is the Retry-After of an overloaded answer, in seconds.
const RetryAfter = "5"

// Sink persists a delivery and enqueues its job atomically. inserted is
// false when the delivery id was seen before (a redelivery or duplicate).
type Sink interface {
	Accept(ctx context.Context, d Delivery) (inserted bool, err error)
}

// Observer receives the outcome of every request (metrics).
type Observer interface {
	Webhook(event, result string, took time.Duration)
}

// Config configures the Handler.
type Config struct {
	// Secrets are the accepted webhook secrets: the current one first, and
	// during a rotation the previous one, so no delivery is lost while
	// GitHub and gatehouse switch over. Empty means "not configured": every
	// delivery is answered 503.
	Secrets [][]byte
	Sink    Sink
	// Busy, if set, reports that the Sink is beyond its capacity: a
	// delivery is then refused (503, Retry-After) before its body is read,
	// so that overload costs as little as possible.
	Busy     func() bool
	Logger   *slog.Logger
	Observer Observer
	Now      func() time.Time
	// BodyBudget bounds the bytes of large bodies held before their
	// signature is checked (default DefaultBodyBudget): anyone can send
	// 25 MB bodies, and each is buffered whole to be verified.
	BodyBudget int64
}

// DefaultBodyBudget bounds what large unsigned bodies may hold at once.
// A body up to smallBody (GitHub's usual payloads) needs none of it.
const DefaultBodyBudget = 64 << 20

// smallBody is the largest declared body read without the budget; the
// server's connection limits bound how many are read at once.
const smallBody = 256 << 10

// budgetWait is how long a large body waits for budget before it is
// refused (503, Retry-After).
const budgetWait = 2 * time.Second

// Handler is the gin handler for POST /webhooks/github.
type Handler struct {
	cfg    Config
	budget *semaphore.Weighted

	// Refusals under overload are logged once a second with their count,
	// not one line each.
	busyMu     sync.Mutex
	busyLogged time.Time
	busyCount  int
}

// New builds a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BodyBudget <= 0 {
		cfg.BodyBudget = DefaultBodyBudget
	}
	return &Handler{cfg: cfg, budget: semaphore.NewWeighted(cfg.BodyBudget)}
}

// envelope is the part of any payload the intake reads. It is read with
// gjson rather than encoding/json: a pull_request payload is ~30 KB, and
// decoding it into a struct was a fifth of the intake's CPU time; gjson
// validates and picks four fields without allocating the rest.
type envelope struct {
	Action         string
	Deleted        bool // push: branch deletion
	InstallationID int64
	Repo           string
}

func parseEnvelope(body []byte) (envelope, bool) {
	if !gjson.ValidBytes(body) {
		return envelope{}, false
	}
	r := gjson.GetManyBytes(body, "action", "deleted", "installation.id", "repository.full_name")
	return envelope{Action: r[0].String(), Deleted: r[1].Bool(), InstallationID: r[2].Int(), Repo: r[3].String()}, true
}

// ServeGin handles one delivery.
func (h *Handler) ServeGin(c *gin.Context) {
	start := h.cfg.Now()
	event := c.GetHeader("X-GitHub-Event")
	status, result := h.serve(c, event)
	took := h.cfg.Now().Sub(start)
	if result == resultOverloaded {
		c.Header("Retry-After", RetryAfter)
	}
	if h.cfg.Observer != nil {
		h.cfg.Observer.Webhook(metricEvent(event), result, took)
	}
	c.JSON(status, gin.H{"result": result})
}

func (h *Handler) serve(c *gin.Context, event string) (int, string) {
	log := h.cfg.Logger.With(slog.String("delivery", capped(c.GetHeader("X-GitHub-Delivery"))), slog.String("event", capped(event)))
	if len(h.cfg.Secrets) == 0 {
		return http.StatusServiceUnavailable, "not configured"
	}
	r := c.Request
	if h.cfg.Busy != nil && h.cfg.Busy() {
		h.logBusy(log)
		return http.StatusServiceUnavailable, resultOverloaded
	}
	if r.ContentLength > MaxBodyBytes {
		log.Warn("webhook refused: body too large", slog.Int64("bytes", r.ContentLength))
		return http.StatusRequestEntityTooLarge, "too large"
	}
	// A large or unsized body takes its size from the budget until its
	// signature is checked (and, if it is a delivery, until it is stored).
	if weight := min(bodyWeight(r.ContentLength), h.cfg.BodyBudget); weight > 0 {
		wctx, cancel := context.WithTimeout(r.Context(), budgetWait)
		err := h.budget.Acquire(wctx, weight)
		cancel()
		if err != nil {
			h.logBusy(log)
			return http.StatusServiceUnavailable, resultOverloaded
		}
		defer h.budget.Release(weight)
	}
	body, err := readBody(c.Writer, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.Warn("webhook refused: body too large")
			return http.StatusRequestEntityTooLarge, "too large"
		}
		return http.StatusBadRequest, "unreadable body"
	}
	// The signature is checked before anything reads the body's content.
	if !h.verify(r.Header.Get("X-Hub-Signature-256"), body) {
		log.Warn("webhook refused: bad or missing signature", slog.String("remote", c.ClientIP()))
		return http.StatusUnauthorized, "bad signature"
	}
	id := r.Header.Get("X-GitHub-Delivery")
	if id == "" || len(id) > 128 || event == "" || len(event) > 64 {
		return http.StatusBadRequest, "missing delivery id or event"
	}
	if event == "ping" {
		return http.StatusOK, "pong"
	}
	if !events.Known(event) {
		return http.StatusAccepted, "ignored"
	}
	env, ok := parseEnvelope(body)
	if !ok {
		log.Warn("webhook refused: malformed JSON")
		return http.StatusBadRequest, "malformed JSON"
	}
	if !events.Wants(event, env.Action) {
		return http.StatusAccepted, "ignored"
	}
	if event == "push" && env.Deleted {
		return http.StatusAccepted, "ignored"
	}
	if env.InstallationID <= 0 {
		return http.StatusBadRequest, "no installation"
	}
	d := Delivery{
		ID: id, Event: event, Action: env.Action, InstallationID: env.InstallationID,
		Repo: env.Repo, Payload: body, ReceivedAt: h.cfg.Now().UTC(),
	}
	// A fresh context: the client hanging up must not half-store a delivery.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 8*time.Second)
	defer cancel()
	inserted, err := h.cfg.Sink.Accept(ctx, d)
	if errors.Is(err, ErrBusy) {
		h.logBusy(log)
		return http.StatusServiceUnavailable, resultOverloaded
	}
	if err != nil {
		log.Error("webhook not stored", slog.String("repo", d.Repo), slog.String("error", err.Error()))
		return http.StatusServiceUnavailable, "not stored"
	}
	if !inserted {
		log.Info("webhook duplicate ignored", slog.String("repo", d.Repo))
		return http.StatusAccepted, "duplicate"
	}
	log.Info("webhook accepted", slog.String("repo", d.Repo), slog.String("action", d.Action))
	return http.StatusAccepted, "queued"
}

// capped bounds a header value before it is logged: headers are the
// sender's, valid or not.
func capped(v string) string {
	const max = 128
	if len(v) > max {
		return v[:max] + "…"
	}
	return v
}

// resultOverloaded is the result of a delivery refused under overload.
const resultOverloaded = "overloaded"

// logBusy logs a refusal under overload, at most once a second, with how
// many were refused since the last line.
func (h *Handler) logBusy(log *slog.Logger) {
	h.busyMu.Lock()
	h.busyCount++
	now := h.cfg.Now()
	if now.Sub(h.busyLogged) < time.Second {
		h.busyMu.Unlock()
		return
	}
	n := h.busyCount
	h.busyCount, h.busyLogged = 0, now
	h.busyMu.Unlock()
	log.Warn("webhook refused: intake overloaded; GitHub's delivery log keeps it for recovery", slog.Int("refused_since_last_line", n))
}

// preallocCap bounds the buffer allocated up front from a request's
// Content-Length, which an unsigned request may set to anything.
const preallocCap = 1 << 20

// readBody reads the size-capped body into a buffer sized from
// Content-Length: io.ReadAll's growth from 512 bytes (each step copied and
// zeroed) was a tenth of the intake's CPU at 2,000 deliveries a second.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	size := int64(bytes.MinRead)
	if r.ContentLength > 0 {
		// ReadFrom keeps MinRead bytes free, so it reaches EOF without growing.
		size = min(r.ContentLength, preallocCap) + bytes.MinRead
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	return buf.Bytes(), err
}

// bodyWeight is what a body takes from the budget: its declared size when
// over smallBody, the most a body may be when it declares none (chunked).
func bodyWeight(contentLength int64) int64 {
	switch {
	case contentLength < 0:
		return MaxBodyBytes
	case contentLength <= smallBody:
		return 0
	default:
		return contentLength
	}
}

// verify checks X-Hub-Signature-256 against each configured secret in
// constant time (go-github's ValidateSignature uses hmac.Equal). The
// header must carry sha256=: go-github would also take a valid sha1= or
// sha512= HMAC under it.
func (h *Handler) verify(sig string, body []byte) bool {
	if !strings.HasPrefix(sig, "sha256=") {
		return false
	}
	ok := false
	for _, s := range h.cfg.Secrets {
		if github.ValidateSignature(sig, body, s) == nil {
			ok = true
		}
	}
	return ok
}

// metricEvent bounds the event label to the events gatehouse knows.
func metricEvent(event string) string {
	if events.Known(event) || event == "ping" {
		return event
	}
	return "other"
}
