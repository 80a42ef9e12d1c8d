package queue_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

func accept(id string) queue.Accept {
	return queue.Accept{Delivery: delivery(id), Kind: "plan", Args: planArgs{DeliveryID: id, Repo: "octo/hello"}}
}

// runIntake runs in's writers until the test ends.
func runIntake(t *testing.T, in *queue.Intake) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { in.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// Deliveries that arrive together are stored in one transaction, and each
// is acknowledged only once that transaction committed: whatever Accept
// said was inserted is in the store with exactly one job; a duplicate is
// neither stored twice nor planned twice.
func TestIntakeGroupCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		q := newQueue(t, s, testConfig(t, 0))
		var (
			mu    sync.Mutex
			sizes []int
		)
		in := q.NewIntake(queue.IntakeConfig{Writers: 1, MaxWait: time.Hour, OnBatch: func(n int, _ time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("batch of %d failed: %v", n, err)
			}
			sizes = append(sizes, n)
		}})
		// Forty deliveries (one of them twice) wait before the writer runs,
		// so they go in one batch.
		const n = 40
		type answer struct {
			id       string
			inserted bool
			err      error
		}
		answers := make(chan answer, n+1)
		var wg sync.WaitGroup
		for i := range n + 1 {
			id := fmt.Sprintf("dlv-%d", i%n) // dlv-0 twice
			wg.Go(func() {
				ok, err := in.Accept(ctx, accept(id))
				answers <- answer{id, ok, err}
			})
		}
		waitFor(t, "the deliveries to wait", func() bool { return in.Pending() == n+1 })
		runIntake(t, in)
		wg.Wait()
		close(answers)
		inserted := map[string]int{}
		for a := range answers {
			if a.err != nil {
				t.Fatalf("accept %s: %v", a.id, a.err)
			}
			if a.inserted {
				inserted[a.id]++
			}
		}
		if len(inserted) != n {
			t.Errorf("%d distinct deliveries inserted, want %d", len(inserted), n)
		}
		for id, c := range inserted {
			if c != 1 {
				t.Errorf("%s inserted %d times", id, c)
			}
			if _, err := s.GetDelivery(ctx, id); err != nil {
				t.Errorf("acknowledged %s is not stored: %v", id, err)
			}
		}
		stored, jobs, distinct, _, err := s.DeliveryPlanCounts(ctx, "plan", "dlv-")
		if err != nil || stored != n || jobs != n || distinct != n {
			t.Errorf("stored %d, jobs %d for %d deliveries (%v); want %d each", stored, jobs, distinct, err, n)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(sizes) != 1 || sizes[0] != n+1 {
			t.Errorf("batches %v, want one of %d", sizes, n+1)
		}
	})
}

// Beyond capacity the intake refuses at once instead of holding the
// connection: when MaxPending deliveries wait, and when a delivery waited
// longer than MaxWait for a batch. A refused delivery is not stored.
func TestIntakeOverloaded(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		q := newQueue(t, s, testConfig(t, 0))
		in := q.NewIntake(queue.IntakeConfig{MaxPending: 1, MaxWait: time.Millisecond})
		first := make(chan error, 1)
		go func() {
			_, err := in.Accept(ctx, accept("dlv-waits"))
			first <- err
		}()
		// The first waits (no writer yet); the next finds the intake full.
		waitFor(t, "the delivery to wait", func() bool { return in.Pending() == 1 })
		if !in.Saturated() {
			t.Error("a full intake does not say it is saturated")
		}
		if _, err := in.Accept(ctx, accept("dlv-full")); !errors.Is(err, queue.ErrOverloaded) {
			t.Fatalf("accept while full: %v, want ErrOverloaded", err)
		}
		time.Sleep(5 * time.Millisecond) // longer than MaxWait
		runIntake(t, in)
		if err := <-first; !errors.Is(err, queue.ErrOverloaded) {
			t.Fatalf("accept after waiting past MaxWait: %v, want ErrOverloaded", err)
		}
		// Caught up, it lets deliveries in again.
		waitFor(t, "the intake to catch up", func() bool { return !in.Saturated() })
		for _, id := range []string{"dlv-waits", "dlv-full"} {
			if _, err := s.GetDelivery(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("refused %s: stored anyway (%v)", id, err)
			}
		}
	})
}

// Stopping the intake commits what was waiting; afterwards Accept refuses.
func TestIntakeStopCommitsWaiting(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, store.DriverSQLite)
	q := newQueue(t, s, testConfig(t, 0))
	in := q.NewIntake(queue.IntakeConfig{MaxWait: time.Hour})
	done := make(chan error, 1)
	go func() {
		_, err := in.Accept(ctx, accept("dlv-late"))
		done <- err
	}()
	waitFor(t, "the delivery to wait", func() bool { return in.Pending() == 1 })
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	in.Run(stopped) // already cancelled: only the drain runs
	if err := <-done; err != nil {
		t.Fatalf("waiting delivery at stop: %v", err)
	}
	if _, err := s.GetDelivery(ctx, "dlv-late"); err != nil {
		t.Fatalf("waiting delivery not stored at stop: %v", err)
	}
	if _, err := in.Accept(ctx, accept("dlv-after")); !errors.Is(err, queue.ErrIntakeClosed) {
		t.Fatalf("accept after stop: %v, want ErrIntakeClosed", err)
	}
}

// burstHelperEnv makes the test binary a web process taking a burst of
// deliveries through the intake, printing each acknowledged one, until it
// is killed. Its value is the JSON-encoded database to use.
const burstHelperEnv = "GATEHOUSE_QUEUE_TEST_BURST"

func burstHelper() int {
	var db helperDB
	if err := json.Unmarshal([]byte(os.Getenv(burstHelperEnv)), &db); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{URL: db.URL, DataDir: db.DataDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	q, err := queue.New(s, queue.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	in := q.NewIntake(queue.IntakeConfig{MaxWait: time.Hour})
	go in.Run(ctx)
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("burst-%d-%d", g, i)
				ok, err := in.Accept(ctx, accept(id))
				if err != nil || !ok {
					fmt.Fprintln(os.Stderr, id, ok, err)
					os.Exit(2)
				}
				// This is the 202 to GitHub.
				mu.Lock()
				fmt.Fprintln(out, "acked", id)
				_ = out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return 0
}

// kill -9 in the middle of a burst loses no acknowledged delivery, and
// none is planned twice.
func TestBurstSurvivesKill(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		cfg := storetest.Config(t, driver)
		env, err := json.Marshal(helperDB{URL: cfg.URL, DataDir: cfg.DataDir})
		if err != nil {
			t.Fatal(err)
		}
		runBurst(t, ctx, cfg, env)
	})
}

func runBurst(t *testing.T, ctx context.Context, cfg store.Config, env []byte) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), burstHelperEnv+"="+string(env))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(stdout)
	for len(acked) < 500 && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, id)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Acknowledgements printed before the kill landed count too.
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, id)
		}
	}
	_ = cmd.Wait()
	if len(acked) < 500 {
		t.Fatalf("helper acknowledged %d deliveries; stderr: %s", len(acked), stderr.String())
	}
	s := storetest.OpenConfig(t, cfg)
	have, err := s.DeliveryIDsStored(ctx, acked)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if !have[id] {
			t.Errorf("acknowledged %s lost by kill -9", id)
		}
	}
	stored, jobs, distinct, _, err := s.DeliveryPlanCounts(ctx, "plan", "burst-")
	if err != nil || jobs != stored || distinct != stored {
		t.Errorf("after kill: %d stored, %d jobs for %d deliveries (%v): want one job each", stored, jobs, distinct, err)
	}
	t.Logf("%d acknowledged before kill -9, %d stored", len(acked), stored)
}
