package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// outcome is what a handler does on one attempt.
type outcome func(attempt int) error

func succeed(int) error            { return nil }
func fail(attempt int) error       { return fmt.Errorf("fail %d", attempt) }
func crash(attempt int) error      { panic(fmt.Sprintf("crash %d", attempt)) }
func giveUp(attempt int) error     { return queue.Cancel(fmt.Errorf("gone %d", attempt)) }
func snoozeOnce(attempt int) error { return queue.Snooze(time.Millisecond) }

// recorder remembers what happened to each kind's job.
type recorder struct {
	mu        sync.Mutex
	attempts  map[string][]int
	discarded map[string][]string
}

func (r *recorder) attempt(kind string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[kind] = append(r.attempts[kind], n)
}

func (r *recorder) onDiscard(_ context.Context, job *queue.Job, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.discarded[job.Kind] = append(r.discarded[job.Kind], fmt.Sprintf("attempt %d: %v", job.Attempt, err))
}

func TestJobOutcomes(t *testing.T) {
	tests := []struct {
		kind         string
		maxAttempts  int
		runs         []outcome // by attempt; the last one repeats
		wantAttempts []int
		wantState    string   // "completed", "discarded", "cancelled"
		wantDiscard  []string // OnDiscard calls, by substring
		wantErrors   []string // the dead job's recorded errors, by substring
	}{
		{kind: "ok", runs: []outcome{succeed}, wantAttempts: []int{1}, wantState: "completed"},
		{kind: "flaky", maxAttempts: 5, runs: []outcome{fail, fail, succeed},
			wantAttempts: []int{1, 2, 3}, wantState: "completed"},
		{kind: "broken", maxAttempts: 3, runs: []outcome{fail},
			wantAttempts: []int{1, 2, 3}, wantState: "discarded",
			wantDiscard: []string{"attempt 3: fail 3"}, wantErrors: []string{"fail 1", "fail 2", "fail 3"}},
		{kind: "panics-then-works", maxAttempts: 3, runs: []outcome{crash, succeed},
			wantAttempts: []int{1, 2}, wantState: "completed"},
		{kind: "panics", maxAttempts: 1, runs: []outcome{crash},
			wantAttempts: []int{1}, wantState: "discarded",
			wantDiscard: []string{"attempt 1: panic in panics job"}, wantErrors: []string{"crash 1"}},
		{kind: "cancelled", maxAttempts: 5, runs: []outcome{giveUp},
			wantAttempts: []int{1}, wantState: "cancelled",
			wantDiscard: []string{"attempt 1: gone 1"}, wantErrors: []string{"gone 1"}},
		{kind: "snoozed", maxAttempts: 1, runs: []outcome{snoozeOnce, succeed},
			wantAttempts: []int{1, 1}, wantState: "completed"},
	}

	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		rec := &recorder{attempts: map[string][]int{}, discarded: map[string][]string{}}
		cfg := testConfig(t, 4)
		cfg.OnDiscard = rec.onDiscard
		q := newQueue(t, s, cfg)
		for _, tt := range tests {
			q.Register(tt.kind, func(_ context.Context, j *queue.Job) error {
				rec.attempt(j.Kind, j.Attempt)
				calls := len(rec.attemptsOf(j.Kind))
				return tt.runs[min(calls, len(tt.runs))-1](j.Attempt)
			}, queue.KindOptions{MaxAttempts: tt.maxAttempts})
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			if err := q.Enqueue(ctx, tt.kind, map[string]string{"kind": tt.kind}, queue.EnqueueOpts{}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "every job to finish", func() bool {
			st := stats(t, q)
			return st.Completed+st.Discarded+st.Cancelled == len(tests)
		})

		dead, err := q.Discarded(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		deadByKind := map[string]queue.DeadJob{}
		for _, d := range dead {
			deadByKind[d.Kind] = d
		}
		for _, tt := range tests {
			t.Run(tt.kind, func(t *testing.T) {
				if got := rec.attemptsOf(tt.kind); !reflect.DeepEqual(got, tt.wantAttempts) {
					t.Errorf("attempts = %v, want %v", got, tt.wantAttempts)
				}
				gotDiscard := rec.discardsOf(tt.kind)
				if len(gotDiscard) != len(tt.wantDiscard) {
					t.Fatalf("OnDiscard calls = %q, want %q", gotDiscard, tt.wantDiscard)
				}
				for i, want := range tt.wantDiscard {
					if !strings.Contains(gotDiscard[i], want) {
						t.Errorf("OnDiscard call %d = %q, want it to contain %q", i, gotDiscard[i], want)
					}
				}
				d, isDead := deadByKind[tt.kind]
				state := "completed"
				if isDead {
					state = d.State
				}
				if state != tt.wantState {
					t.Fatalf("state = %s, want %s", state, tt.wantState)
				}
				if !isDead {
					return
				}
				if len(d.Errors) != len(tt.wantErrors) {
					t.Fatalf("recorded errors = %+v, want %q", d.Errors, tt.wantErrors)
				}
				for i, want := range tt.wantErrors {
					if !strings.Contains(d.Errors[i].Error, want) || d.Errors[i].Attempt != i+1 {
						t.Errorf("error %d = attempt %d %q, want attempt %d containing %q", i, d.Errors[i].Attempt, d.Errors[i].Error, i+1, want)
					}
				}
				if !strings.Contains(d.LastError(), tt.wantErrors[len(tt.wantErrors)-1]) || d.FinalizedAt.IsZero() {
					t.Errorf("LastError = %q, FinalizedAt = %v", d.LastError(), d.FinalizedAt)
				}
			})
		}
		st := stats(t, q)
		wantDead := 0
		for _, tt := range tests {
			if tt.wantState == "discarded" {
				wantDead++
			}
		}
		if st.Discarded != wantDead || st.Cancelled != 1 || st.Running != 0 || st.Available != 0 {
			t.Errorf("Stats = %+v", st)
		}
	})
}

func (r *recorder) attemptsOf(kind string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.attempts[kind])
}

func (r *recorder) discardsOf(kind string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.discarded[kind])
}

func TestTimeoutCountsAsFailure(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		rec := &recorder{attempts: map[string][]int{}, discarded: map[string][]string{}}
		cfg := testConfig(t, 1)
		cfg.OnDiscard = rec.onDiscard
		q := newQueue(t, s, cfg)
		q.Register("hangs", func(ctx context.Context, j *queue.Job) error {
			<-ctx.Done()
			return fmt.Errorf("waited: %w", ctx.Err())
		}, queue.KindOptions{MaxAttempts: 1, Timeout: 50 * time.Millisecond})
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := q.Enqueue(ctx, "hangs", nil, queue.EnqueueOpts{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "discard", func() bool { return stats(t, q).Discarded == 1 })
		if got := rec.discardsOf("hangs"); len(got) != 1 || !strings.Contains(got[0], context.DeadlineExceeded.Error()) {
			t.Fatalf("OnDiscard calls = %q, want one deadline error", got)
		}
	})
}

func TestStopWaitsForRunningJob(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		q, started, release := blockingQueue(t, s)
		if err := q.Enqueue(ctx, "block", nil, queue.EnqueueOpts{}); err != nil {
			t.Fatal(err)
		}
		<-started
		stopped := make(chan error, 1)
		go func() { stopped <- q.Stop(ctx) }()
		// Let the job finish on its own, most likely while Stop waits (the
		// sleep only orders events; a Stop that did not wait fails below).
		go func() {
			time.Sleep(100 * time.Millisecond)
			close(release)
		}()
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if st := stats(t, q); st.Completed != 1 || st.Running != 0 {
			t.Fatalf("after Stop: Stats = %+v, want the job completed", st)
		}
	})
}

func TestStopRequeuesRunningJob(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		q, started, _ := blockingQueue(t, s)
		if err := q.Enqueue(ctx, "block", map[string]string{"x": "y"}, queue.EnqueueOpts{}); err != nil {
			t.Fatal(err)
		}
		<-started
		expired, cancel := context.WithCancel(ctx)
		cancel() // no patience: running jobs are cancelled at once
		if err := q.Stop(expired); err != nil {
			t.Fatal(err)
		}
		if st := stats(t, q); st.Available != 1 || st.Running != 0 || st.Retryable != 0 {
			t.Fatalf("after Stop: Stats = %+v, want the job back in the queue", st)
		}

		// Another process picks it up; the interrupted run did not count.
		job := workOne(t, s, "block", queue.KindOptions{MaxAttempts: 1})
		var args map[string]string
		if err := json.Unmarshal(job.Args, &args); err != nil || job.Attempt != 1 || args["x"] != "y" {
			t.Fatalf("requeued job = %+v (args %s), want attempt 1 with its args", job, job.Args)
		}
	})
}

// blockingQueue starts a queue whose "block" handler signals started and
// then waits for release or for its context to end, returning an error
// that does not itself say "canceled" (as a careless handler might).
func blockingQueue(t *testing.T, s *store.Store) (*queue.Queue, <-chan struct{}, chan struct{}) {
	t.Helper()
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfg := testConfig(t, 2)
	cfg.OnDiscard = func(_ context.Context, j *queue.Job, err error) {
		t.Errorf("OnDiscard(%d, %v) called for an interrupted job", j.ID, err)
	}
	q := newQueue(t, s, cfg)
	q.Register("block", func(ctx context.Context, _ *queue.Job) error {
		once.Do(func() { close(started) })
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return errors.New("interrupted while fetching")
		}
	}, queue.KindOptions{MaxAttempts: 1})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return q, started, release
}

// TestFastKindsDoNotWaitForLongJobs: with every default slot held by a
// long job and another waiting behind it, fast jobs (planning) are still
// worked, whichever role enqueued them (an insert-only process given the
// same FastKinds routes them the same way).
func TestFastKindsDoNotWaitForLongJobs(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		cfg := testConfig(t, 1)
		cfg.FastKinds, cfg.FastWorkers = []string{"plan"}, 4
		q := newQueue(t, s, cfg)
		started, release := make(chan struct{}, 2), make(chan struct{})
		q.Register("scan", func(ctx context.Context, _ *queue.Job) error {
			started <- struct{}{}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, queue.KindOptions{MaxAttempts: 1})
		planned := make(chan struct{}, 100)
		q.Register("plan", func(context.Context, *queue.Job) error {
			planned <- struct{}{}
			return nil
		}, queue.KindOptions{MaxAttempts: 1})
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer close(release)
		for range 2 {
			if err := q.Enqueue(ctx, "scan", nil, queue.EnqueueOpts{}); err != nil {
				t.Fatal(err)
			}
		}
		<-started // the one default slot is taken; the second scan waits

		webCfg := testConfig(t, 0)
		webCfg.FastKinds = cfg.FastKinds
		web := newQueue(t, s, webCfg)
		const n = 20
		for i := range n {
			enq := q
			if i%2 == 1 {
				enq = web
			}
			if err := enq.Enqueue(ctx, "plan", nil, queue.EnqueueOpts{}); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.After(30 * time.Second)
		for i := range n {
			select {
			case <-planned:
			case <-deadline:
				t.Fatalf("%d of %d fast jobs worked while a long job held the default queue's slot", i, n)
			}
		}
		select {
		case <-started:
			t.Error("the second scan started while the first held the only default slot")
		default:
		}
	})
}
