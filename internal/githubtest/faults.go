package githubtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// fault is one injected answer.
type fault struct {
	status  int
	headers map[string]string
}

// FailNext makes the next n requests (of any kind, in arrival order) answer
// status with the given headers instead of being served. The body is
// GitHub's: for 403/429 with "x-ratelimit-remaining: 0" the primary
// rate-limit error, for other 403/429 the secondary rate-limit error (add
// "Retry-After" to say how long to wait), for 5xx a server error. Faults
// queue up behind earlier ones.
func (s *Server) FailNext(n int, status int, headers map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status, headers: headers})
	}
}

// injectFault answers with the next queued fault, if any.
func (s *Server) injectFault(w http.ResponseWriter) bool {
	s.mu.Lock()
	if len(s.faults) == 0 {
		s.mu.Unlock()
		return false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	s.mu.Unlock()

	primary := false
	for k, v := range f.headers {
		w.Header().Set(k, v)
		if strings.EqualFold(k, "x-ratelimit-remaining") && v == "0" {
			primary = true
		}
	}
	switch {
	case (f.status == http.StatusForbidden || f.status == http.StatusTooManyRequests) && primary:
		writeRaw(w, f.status, obj{
			"message":           "API rate limit exceeded for installation.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
			"status":            strconv.Itoa(f.status),
		})
	case f.status == http.StatusForbidden || f.status == http.StatusTooManyRequests:
		writeRaw(w, f.status, obj{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID " + w.Header().Get("X-GitHub-Request-Id") + ".",
			"documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
			"status":            strconv.Itoa(f.status),
		})
	case f.status >= 500:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte("<html><body><h1>" + strconv.Itoa(f.status) + " " + http.StatusText(f.status) + "</h1></body></html>\n"))
	default:
		writeError(w, f.status, http.StatusText(f.status), "")
	}
	return true
}

func writeRaw(w http.ResponseWriter, status int, body any) {
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// setRateHeaders sets GitHub's rate-limit headers for a request made with a
// token: 5,000 requests an hour per installation.
func (c *call) setRateHeaders() {
	if c.auth.token == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	used := 0
	for _, r := range s.requests {
		if r.InstallationID == c.auth.token.InstallationID {
			used++
		}
	}
	s.mu.Unlock()
	used++ // this request
	reset := c.auth.token.IssuedAt.Add(tokenLifetime).Unix()
	h := c.w.Header()
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, 5000-used)))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	h.Set("X-RateLimit-Resource", "core")
}
