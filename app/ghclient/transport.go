package ghclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type installationKey struct{}

// WithInstallation marks ctx as belonging to a request for installation id
// (the installation clients do it), so the transport applies the
// installation's shared limits and metrics can name it.
func WithInstallation(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, installationKey{}, id)
}

// InstallationOf returns the installation a request's context is for.
func InstallationOf(ctx context.Context) (int64, bool) {
	id, ok := ctx.Value(installationKey{}).(int64)
	return id, ok && id > 0
}

// installationTransport tags each request with its installation.
type installationTransport struct {
	id   int64
	next http.RoundTripper
}

func (t installationTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(req.WithContext(WithInstallation(req.Context(), t.id)))
}

// retryTransport retries what GitHub asks to be retried, within bounds: 5xx
// answers and connection errors with exponential backoff, secondary rate
// limits (403/429 with Retry-After) after the time GitHub names, and primary
// rate limits (x-ratelimit-remaining: 0) until x-ratelimit-reset when that is
// not too far away. It never sleeps past the request's context.
//
// Hand-written because the well-known retry libraries (hashicorp's
// go-retryablehttp) know nothing of GitHub's rate-limit headers, and
// go-github's own handling only reports rate limits as errors.
type retryTransport struct {
	next       http.RoundTripper
	maxRetries int
	baseDelay  time.Duration
	maxWait    time.Duration // longest wait for a rate limit before giving up
	log        *slog.Logger
	now        func() time.Time
	observe    func(resp *http.Response, err error) // metrics hook, may be nil
	limits     *Limiter                             // shared per-installation pauses, may be nil
}

// RateLimitError is returned when GitHub's rate limit would require waiting
// longer than the transport allows; the job should be retried later.
type RateLimitError struct {
	Until time.Time
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("GitHub rate limit exceeded until %s", e.Until.UTC().Format(time.RFC3339))
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	inst, limited := t.limited(req)
	for attempt := 0; ; attempt++ {
		if limited {
			if err := t.awaitPause(req, inst); err != nil {
				return nil, err
			}
		}
		r := req
		if attempt > 0 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.next.RoundTrip(r)
		if t.observe != nil {
			t.observe(resp, err)
		}
		if limited && err == nil {
			if until, limit, ok := limitOf(resp, t.now()); ok {
				t.limits.Pause(req.Context(), inst, until, limit)
			}
		}
		wait, retry, limitErr := t.decide(req, resp, err, attempt)
		if limitErr != nil {
			drain(resp)
			return nil, limitErr
		}
		if !retry {
			return resp, err
		}
		drain(resp)
		t.log.LogAttrs(req.Context(), slog.LevelWarn, "github request retried",
			slog.String("method", req.Method), slog.String("path", req.URL.Path),
			slog.Int("attempt", attempt+1), slog.Duration("wait", wait), statusAttr(resp, err))
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
	}
}

// limited reports whether req is subject to an installation's shared
// limits: made with an installation's token, not the app's request for
// that token.
func (t *retryTransport) limited(req *http.Request) (int64, bool) {
	if t.limits == nil || strings.HasSuffix(req.URL.Path, "/access_tokens") {
		return 0, false
	}
	return InstallationOf(req.Context())
}

// awaitPause waits out a pause of the installation that this or another
// replica recorded, or fails with a RateLimitError when it lasts longer
// than the transport waits.
func (t *retryTransport) awaitPause(req *http.Request, inst int64) error {
	until := t.limits.PausedUntil(req.Context(), inst)
	wait := until.Sub(t.now())
	if wait <= 0 {
		return nil
	}
	if wait > t.maxWait {
		return &RateLimitError{Until: until}
	}
	t.log.LogAttrs(req.Context(), slog.LevelInfo, "github request waits for the installation's rate limit",
		slog.Int64("installation", inst), slog.String("path", req.URL.Path), slog.Duration("wait", wait))
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-req.Context().Done():
		return req.Context().Err()
	case <-timer.C:
		return nil
	}
}

// limitOf reads a rate limit from an answer: a secondary limit (403/429
// with Retry-After) or the primary one running out (x-ratelimit-remaining
// 0, until x-ratelimit-reset), on any status.
func limitOf(resp *http.Response, now time.Time) (time.Time, string, bool) {
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden {
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			secs, err := strconv.Atoi(ra)
			if err != nil || secs < 0 {
				secs = 60
			}
			if secs > 0 {
				return now.Add(time.Duration(secs) * time.Second), "secondary", true
			}
		}
	}
	if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
			if until := time.Unix(reset, 0); until.After(now) {
				return until, "primary", true
			}
		}
	}
	return time.Time{}, "", false
}

// decide says whether and when to retry. It returns a RateLimitError when
// the wait would be longer than maxWait.
func (t *retryTransport) decide(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool, error) {
	if attempt >= t.maxRetries {
		return 0, false, nil
	}
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 0, false, nil
		}
		return t.backoff(attempt), req.GetBody != nil || req.Body == nil, nil
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden:
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			secs, perr := strconv.Atoi(ra)
			if perr != nil || secs < 0 {
				secs = 60
			}
			wait := time.Duration(secs) * time.Second
			if wait > t.maxWait {
				return 0, false, &RateLimitError{Until: t.now().Add(wait)}
			}
			if wait == 0 {
				wait = t.backoff(attempt)
			}
			return wait, true, nil
		}
		if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
			reset, perr := strconv.ParseInt(resp.Header.Get("X-Ratelimit-Reset"), 10, 64)
			if perr != nil {
				return 0, false, nil
			}
			until := time.Unix(reset, 0)
			wait := until.Sub(t.now()) + time.Second
			if wait > t.maxWait {
				return 0, false, &RateLimitError{Until: until}
			}
			if wait < 0 {
				wait = t.backoff(attempt)
			}
			return wait, true, nil
		}
		return 0, false, nil
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return t.backoff(attempt), true, nil
	}
	return 0, false, nil
}

func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.baseDelay << attempt
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	return d
}

// rewind returns a copy of req with a fresh body for a retry.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, fmt.Errorf("retry %s %s: request body cannot be replayed", req.Method, req.URL.Path)
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("retry %s %s: %w", req.Method, req.URL.Path, err)
		}
		r.Body = body
	}
	return r, nil
}

func drain(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
	}
}

func statusAttr(resp *http.Response, err error) slog.Attr {
	if err != nil {
		return slog.String("error", err.Error())
	}
	return slog.Int("status", resp.StatusCode)
}
