// Package stopwatch times the steps of a piece of work for its log line:
// each Mark records the time since the previous one as a slog duration.
package stopwatch

import (
	"log/slog"
	"time"
)

// Stopwatch records step durations. Now defaults to time.Now.
type Stopwatch struct {
	now   func() time.Time
	last  time.Time
	attrs []any
}

// Start returns a stopwatch started at now() (time.Now when nil).
func Start(now func() time.Time) *Stopwatch {
	if now == nil {
		now = time.Now
	}
	return &Stopwatch{now: now, last: now()}
}

// Mark records the time since the previous mark (or the start) as step.
func (w *Stopwatch) Mark(step string) {
	t := w.now()
	w.attrs = append(w.attrs, slog.Duration(step, t.Sub(w.last)))
	w.last = t
}

// Attrs are the steps recorded, for slog.Group.
func (w *Stopwatch) Attrs() []any { return w.attrs }
