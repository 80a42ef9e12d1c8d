package queue_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashHelperEnv) != "" {
		os.Exit(crashHelper())
	}
	if os.Getenv(burstHelperEnv) != "" {
		os.Exit(burstHelper())
	}
	if os.Getenv(leaseHelperEnv) != "" {
		os.Exit(leaseHelper())
	}
	os.Exit(m.Run())
}

// testConfig is a worker configuration with tiny intervals, so tests run
// fast without any timing assertion.
func testConfig(t testing.TB, workers int) queue.Config {
	return queue.Config{
		Workers:         workers,
		Logger:          storetest.Logger(t),
		PollInterval:    50 * time.Millisecond,
		RetryBackoff:    time.Millisecond,
		RetryBackoffMax: 5 * time.Millisecond,
	}
}

// newQueue builds a queue and stops it when the test ends (before the store
// closes: cleanups run last-registered first).
func newQueue(t testing.TB, s *store.Store, cfg queue.Config) *queue.Queue {
	t.Helper()
	q, err := queue.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop queue: %v", err)
		}
	})
	return q
}

// waitFor polls cond until it holds; the test's own deadline bounds it.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stats(t testing.TB, q *queue.Queue) queue.Stats {
	t.Helper()
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRegisterErrors(t *testing.T) {
	s := storetest.Open(t, store.DriverSQLite)
	nop := func(context.Context, *queue.Job) error { return nil }
	tests := []struct {
		name     string
		workers  int
		register func(q *queue.Queue)
		want     string
	}{
		{"no kinds", 1, func(*queue.Queue) {}, "no job kinds registered"},
		{"empty kind", 1, func(q *queue.Queue) { q.Register("", nop, queue.KindOptions{}) }, "empty job kind"},
		{"nil handler", 1, func(q *queue.Queue) { q.Register("a", nil, queue.KindOptions{}) }, "nil handler"},
		{"duplicate", 1, func(q *queue.Queue) {
			q.Register("a", nop, queue.KindOptions{})
			q.Register("a", nop, queue.KindOptions{})
		}, "registered twice"},
		{"negative attempts", 1, func(q *queue.Queue) { q.Register("a", nop, queue.KindOptions{MaxAttempts: -1}) }, "negative"},
		{"invalid kind for river", 1, func(q *queue.Queue) { q.Register("has space", nop, queue.KindOptions{}) }, "has space"},
		{"timeout beyond rescue", 1, func(q *queue.Queue) {
			q.Register("slow", nop, queue.KindOptions{Timeout: time.Hour})
		}, "RescueStuckJobsAfter"},
		{"insert only accepts nil handler", 0, func(q *queue.Queue) { q.Register("a", nil, queue.KindOptions{}) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, tt.workers)
			cfg.RescueStuckJobsAfter = 30 * time.Minute
			q := newQueue(t, s, cfg)
			tt.register(q)
			err := q.Start(context.Background())
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestNewRejectsNegativeWorkers(t *testing.T) {
	s := storetest.Open(t, store.DriverSQLite)
	if _, err := queue.New(s, queue.Config{Workers: -1}); err == nil {
		t.Fatal("New accepted Workers -1")
	}
}

// On SQLite nothing wakes the workers when a job is enqueued inside a
// transaction (the planner's scan, the intake's planning jobs), so the
// default poll there is short; Postgres' inserts notify, and keep the
// second.
func TestDefaultPollIntervalPerStore(t *testing.T) {
	for _, driver := range []string{store.DriverSQLite, store.DriverPostgres} {
		t.Run(driver, func(t *testing.T) {
			s := storetest.Open(t, driver)
			q, err := queue.New(s, queue.Config{Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			want := queue.DefaultPollInterval
			if driver == store.DriverSQLite {
				want = queue.DefaultPollIntervalSQLite
			}
			if got := q.PollInterval(); got != want {
				t.Errorf("default poll on %s = %s, want %s", driver, got, want)
			}
		})
	}
}
