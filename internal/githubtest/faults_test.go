package githubtest

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
)

func TestFailNext(t *testing.T) {
	reset := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	for _, tc := range []struct {
		name    string
		status  int
		headers map[string]string
		check   func(t *testing.T, err error)
	}{
		{"bad gateway", http.StatusBadGateway, nil, func(t *testing.T, err error) {
			var e *github.ErrorResponse
			if !errors.As(err, &e) || e.Response.StatusCode != http.StatusBadGateway {
				t.Errorf("err = %v, want a 502 ErrorResponse", err)
			}
		}},
		{"secondary rate limit", http.StatusForbidden, map[string]string{"Retry-After": "30"}, func(t *testing.T, err error) {
			var e *github.AbuseRateLimitError
			if !errors.As(err, &e) || e.RetryAfter == nil || *e.RetryAfter != 30*time.Second {
				t.Errorf("err = %v, want an AbuseRateLimitError with RetryAfter 30s", err)
			}
		}},
		{"secondary rate limit 429", http.StatusTooManyRequests, map[string]string{"Retry-After": "5"}, func(t *testing.T, err error) {
			var e *github.AbuseRateLimitError
			if !errors.As(err, &e) {
				t.Errorf("err = %v, want an AbuseRateLimitError", err)
			}
		}},
		{"primary rate limit", http.StatusForbidden, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000", "X-RateLimit-Reset": reset}, func(t *testing.T, err error) {
			var e *github.RateLimitError
			if !errors.As(err, &e) || e.Rate.Remaining != 0 || strconv.FormatInt(e.Rate.Reset.Unix(), 10) != reset {
				t.Errorf("err = %v, want a RateLimitError resetting at %s", err, reset)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			gh := f.installationClient(t)
			f.s.FailNext(2, tc.status, tc.headers)
			for range 2 {
				// A fresh client each time: go-github refuses to send while
				// it remembers a rate limit.
				_, resp, err := f.client(t, f.s.IssueToken(installationID)).Repositories.Get(f.ctx, "acme", "widgets")
				if statusOf(resp) != tc.status {
					t.Fatalf("status %d, want %d", statusOf(resp), tc.status)
				}
				tc.check(t, err)
			}
			if _, _, err := gh.Repositories.Get(f.ctx, "acme", "widgets"); err != nil {
				t.Errorf("third request: %v, want the faults used up", err)
			}
			faults := 0
			for _, r := range f.s.Requests() {
				if r.Fault {
					faults++
				}
			}
			if faults != 2 {
				t.Errorf("%d requests marked Fault, want 2", faults)
			}
		})
	}
}

func TestRateLimitHeaders(t *testing.T) {
	f := newFixture(t)
	gh := f.installationClient(t)
	_, resp, err := gh.Repositories.Get(f.ctx, "acme", "widgets")
	if err != nil {
		t.Fatal(err)
	}
	first := resp.Rate.Remaining
	_, resp, err = gh.Repositories.Get(f.ctx, "acme", "widgets")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rate.Limit != 5000 || resp.Rate.Remaining != first-1 {
		t.Errorf("rate limit %d remaining %d after %d; want 5000 and one less", resp.Rate.Limit, resp.Rate.Remaining, first)
	}
}
