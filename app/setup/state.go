package setup

import (
	"crypto/rand"
	"crypto/subtle"
	"sync"
	"time"
)

// maxStates bounds the states kept at once, so reloading /setup in a loop
// cannot grow memory: past it, the oldest state is forgotten.
const maxStates = 256

// states are the one-time values the setup page puts in GitHub's form and
// GitHub hands back to the callback. Each is bound to the browser that
// loaded the page (the value of its setup cookie), so a state seen by
// someone else (a page read through DNS rebinding, a shared screen) is
// worth nothing in another browser. They live in memory: a restart
// forgets them, and the user reloads /setup.
type states struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]issued // state → expiry and browser
}

type issued struct {
	expires time.Time
	browser string // the setup cookie's value
}

func newStates(ttl time.Duration) *states {
	return &states{ttl: ttl, m: map[string]issued{}}
}

// issue returns a fresh state for browser, valid until now+ttl.
func (s *states) issue(now time.Time, browser string) string {
	state := rand.Text() // 26 base32 characters, 130 bits
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, st := range s.m {
		if !now.Before(st.expires) {
			delete(s.m, k)
		}
	}
	if len(s.m) >= maxStates {
		var oldest string
		for k, st := range s.m {
			if oldest == "" || st.expires.Before(s.m[oldest].expires) {
				oldest = k
			}
		}
		delete(s.m, oldest)
	}
	s.m[state] = issued{expires: now.Add(s.ttl), browser: browser}
	return state
}

// consume reports whether state was issued to browser and has not
// expired, and forgets it either way: a state works once.
func (s *states) consume(state, browser string, now time.Time) bool {
	if state == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[state]
	delete(s.m, state)
	return ok && now.Before(st.expires) && browser != "" &&
		subtle.ConstantTimeCompare([]byte(browser), []byte(st.browser)) == 1
}
