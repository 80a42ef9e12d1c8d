package sandbox

// Observer is told what the sandbox's children do, for metrics. Its
// methods must be cheap and safe for concurrent use.
type Observer interface {
	// ChildStarted: a child process was started (warm, cold or probing).
	ChildStarted()
	// ChildKilled: the parent killed a child; reason is one of "timeout",
	// "output", "canceled" or "dismissed" (an idle or failed child let go).
	ChildKilled(reason string)
	// ChildExited: a child that was handed a job was reaped; peakRSS is
	// the largest resident set of the child and of what it started, in
	// bytes (0 when unknown).
	ChildExited(peakRSS int64)
}

// nopObserver is the Observer of a Config that sets none.
type nopObserver struct{}

func (nopObserver) ChildStarted()      {}
func (nopObserver) ChildKilled(string) {}
func (nopObserver) ChildExited(int64)  {}
