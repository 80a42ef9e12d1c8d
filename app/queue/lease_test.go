package queue_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// leaseHelperEnv makes the test binary a worker process that works the
// "long-scan" job: it says when the job runs, then hangs in it until it is
// killed. Its value is the Postgres URL.
const leaseHelperEnv = "GATEHOUSE_QUEUE_TEST_LEASE"

// The lease test's settings: a short lease, and a timeout and rescue
// threshold far beyond the test's duration, so that only the lease can
// explain a rescue.
const (
	testLease          = 2 * time.Second
	longScanTimeout    = 10 * time.Minute
	longRescueAfter    = 20 * time.Minute
	longScanKind       = "long-scan"
	rescuerIntervalMax = 30 * time.Second // river v0.49's rescuer interval
)

func leaseConfig(workers int) queue.Config {
	return queue.Config{
		Workers: workers, PollInterval: 50 * time.Millisecond, RetryBackoff: time.Millisecond, RetryBackoffMax: 5 * time.Millisecond,
		JobTimeout: longScanTimeout, RescueStuckJobsAfter: longRescueAfter, Lease: testLease,
	}
}

func leaseHelper() int {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{URL: os.Getenv(leaseHelperEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	q, err := queue.New(s, leaseConfig(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	q.Register(longScanKind, func(ctx context.Context, j *queue.Job) error {
		fmt.Printf("running attempt %d\n", j.Attempt)
		<-ctx.Done()
		return ctx.Err()
	}, queue.KindOptions{Timeout: longScanTimeout})
	if err := q.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	time.Sleep(time.Hour)
	return 0
}

// TestKilledWorkersJobIsRescuedUnderLease: a worker process is SIGKILLed in
// the middle of a job whose timeout is 10 minutes. Another worker, with a
// 2-second lease configured, gets the job (attempt 2) although neither the
// timeout nor RescueStuckJobsAfter has passed: only the lost lease can have
// freed it. That worker then holds the job well past the lease and past a
// rescuer pass, and the job is not taken from it (no attempt 3): a live
// worker's renewals keep it.
func TestKilledWorkersJobIsRescuedUnderLease(t *testing.T) {
	ctx := context.Background()
	cfg := storetest.Config(t, store.DriverPostgres)
	s := storetest.OpenConfig(t, cfg)
	ins := newQueue(t, s, queue.Config{Logger: storetest.Logger(t)})
	ins.Register(longScanKind, nil, queue.KindOptions{Timeout: longScanTimeout})
	if err := ins.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ins.Enqueue(ctx, longScanKind, planArgs{DeliveryID: "dlv-lease", Repo: "octo/hello"}, queue.EnqueueOpts{}); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), leaseHelperEnv+"="+cfg.URL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "running attempt 1\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q (%v); stderr: %s", line, err, stderr.String())
	}
	// The helper holds the job; let it renew its lease a few times, so the
	// kill comes in the middle of a job that was alive past its lease.
	time.Sleep(2 * testLease)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()

	var (
		mu       sync.Mutex
		attempts []int
		done     = make(chan struct{})
	)
	lc := leaseConfig(1)
	lc.Logger = storetest.Logger(t)
	q := newQueue(t, s, lc)
	q.Register(longScanKind, func(ctx context.Context, j *queue.Job) error {
		mu.Lock()
		attempts = append(attempts, j.Attempt)
		mu.Unlock()
		// Past the lease and past a full rescuer interval.
		select {
		case <-time.After(rescuerIntervalMax + 2*testLease):
		case <-ctx.Done():
			return ctx.Err()
		}
		close(done)
		return nil
	}, queue.KindOptions{Timeout: longScanTimeout})
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the killed worker's job was not finished by another worker (attempts seen: %v)", attempts)
	}
	if since := time.Since(killed); since >= longScanTimeout {
		t.Fatalf("rescued after %s: the job timeout, not the lease, freed it", since)
	}
	waitFor(t, "the job to complete", func() bool { return stats(t, q).Completed == 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 1 || attempts[0] != 2 {
		t.Fatalf("attempts worked here: %v, want [2] (rescued once, then kept by its live worker)", attempts)
	}
	t.Logf("rescued and finished %s after the kill", time.Since(killed).Round(time.Second))
}
