package queue_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
)

// crashHelperEnv makes the test binary act as a gatehouse web process that
// accepts one delivery, says so, and waits to be killed. Its value is the
// JSON-encoded database to use.
const crashHelperEnv = "GATEHOUSE_QUEUE_TEST_CRASH"

type helperDB struct{ URL, DataDir string }

func crashHelper() int {
	var db helperDB
	if err := json.Unmarshal([]byte(os.Getenv(crashHelperEnv)), &db); err != nil {
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
	inserted, err := q.AcceptDelivery(ctx, delivery("dlv-crash"), "plan", planArgs{DeliveryID: "dlv-crash", Repo: "octo/hello"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// This is the 202 to GitHub. Nothing is closed or flushed after it.
	fmt.Printf("accepted %v\n", inserted)
	time.Sleep(time.Hour)
	return 0
}

func TestAcceptedDeliverySurvivesKill(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		cfg := storetest.Config(t, driver)
		env, err := json.Marshal(helperDB{URL: cfg.URL, DataDir: cfg.DataDir})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashHelperEnv+"="+string(env))
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
		if line != "accepted true\n" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("helper said %q (%v); stderr: %s", line, err, stderr.String())
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("helper exited with %v, want killed by SIGKILL", cmd.ProcessState)
		}

		// A new process opens the same database (on SQLite the kernel has
		// released the dead one's lock) and finds the delivery and its job.
		s := storetest.OpenConfig(t, cfg)
		if d, err := s.GetDelivery(ctx, "dlv-crash"); err != nil || d.Repo != "octo/hello" {
			t.Fatalf("delivery after kill: %+v, %v", d, err)
		}
		job := workOne(t, s, "plan", queue.KindOptions{})
		var a planArgs
		if err := json.Unmarshal(job.Args, &a); err != nil || a.DeliveryID != "dlv-crash" {
			t.Fatalf("job after kill: %+v args %s (%v)", job, job.Args, err)
		}
	})
}
