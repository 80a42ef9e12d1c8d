package setup

import (
	"crypto/rand"
	"sync"
	"time"
)

// maxStates bounds the states kept at once, so reloading /setup in a loop
// cannot grow memory: past it, the oldest state is forgotten.
const maxStates = 256

// states are the one-time values the setup page puts in GitHub's form and
// GitHub hands back to the callback. They live in memory: a restart
// forgets them, and the user reloads /setup.
type states struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]time.Time // state → expiry
}

func newStates(ttl time.Duration) *states {
	return &states{ttl: ttl, m: map[string]time.Time{}}
}

// issue returns a fresh state, valid until now+ttl.
func (s *states) issue(now time.Time) string {
	state := rand.Text() // 26 base32 characters, 130 bits
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, exp := range s.m {
		if !now.Before(exp) {
			delete(s.m, k)
		}
	}
	if len(s.m) >= maxStates {
		var oldest string
		for k, exp := range s.m {
			if oldest == "" || exp.Before(s.m[oldest]) {
				oldest = k
			}
		}
		delete(s.m, oldest)
	}
	s.m[state] = now.Add(s.ttl)
	return state
}

// consume reports whether state was issued and has not expired, and
// forgets it either way: a state works once.
func (s *states) consume(state string, now time.Time) bool {
	if state == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.m[state]
	delete(s.m, state)
	return ok && now.Before(exp)
}
