// Command intake measures gatehouse's webhook intake on loopback: signed
// pull_request deliveries at a fixed rate against a web-role server (verify,
// store and enqueue; no scanning), latency percentiles, and a count of what
// was stored afterwards (none may be lost).
//
//	GOEXPERIMENT=jsonv2 go run ./bench/intake -rate 500 -duration 10s
//	GOEXPERIMENT=jsonv2 go run ./bench/intake -rate 500 -database-url postgres://postgres@127.0.0.1:5432/test
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/app/store"
)

func main() {
	rate := flag.Int("rate", 500, "deliveries per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	dbURL := flag.String("database-url", "", "empty for SQLite in a temp dir, or postgres://…")
	payloadPath := flag.String("payload", "testdata/webhooks/pull_request.opened.json", "delivery body")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*rate, *duration, *dbURL, *payloadPath); err != nil {
		fmt.Fprintln(os.Stderr, "intake:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(rate int, duration time.Duration, dbURL, payloadPath string) error {
	body, err := os.ReadFile(payloadPath)
	if err != nil {
		return err
	}
	secret := []byte("bench-secret")
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	dataDir, err := os.MkdirTemp("", "gatehouse-intake-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	// A shared Postgres may hold earlier runs' deliveries: count what this
	// run adds.
	before, err := countDeliveries(dbURL, dataDir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := server.New(ctx, server.Config{
		Addr: "127.0.0.1:0", DataDir: dataDir, DatabaseURL: dbURL, Role: server.RoleWeb,
		WebhookSecrets: [][]byte{secret}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	url := "http://" + srv.Addr() + "/webhooks/github"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	runID := time.Now().UnixNano()

	total := int(float64(rate) * duration.Seconds())
	lat := make([]time.Duration, total)
	var failed atomic.Int64
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range total {
		// Open-loop: send on schedule whatever the answers do.
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("X-GitHub-Event", "pull_request")
			req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d-%d", runID, i))
			req.Header.Set("X-Hub-Signature-256", sig)
			t0 := time.Now()
			resp, err := client.Do(req)
			lat[i] = time.Since(t0)
			if err != nil {
				failed.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		return err
	}
	after, err := countDeliveries(dbURL, dataDir)
	if err != nil {
		return err
	}
	stored := after - before
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	db := "sqlite"
	if dbURL != "" {
		db = "postgres"
	}
	fmt.Printf("intake %s: %d deliveries of %d bytes at %d/s (achieved %.0f/s) — p50 %s p90 %s p99 %s max %s; non-202 %d; stored %d (lost %d)\n",
		db, total, len(body), rate, float64(total)/elapsed.Seconds(), pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond),
		pct(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond), failed.Load(), stored, total-stored)
	if stored != total || failed.Load() > 0 {
		return fmt.Errorf("lost deliveries")
	}
	return nil
}

func countDeliveries(dbURL, dataDir string) (int, error) {
	st, err := store.Open(context.Background(), store.Config{URL: dbURL, DataDir: dataDir})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	return st.CountDeliveries(context.Background())
}
