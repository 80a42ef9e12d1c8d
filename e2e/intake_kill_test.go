package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// signedPoster posts signed deliveries the way GitHub does: one connection
// per delivery in flight, ten seconds for an answer.
type signedPoster struct {
	client *http.Client
	secret []byte
	body   []byte
	sig    string
}

func newSignedPoster(secret, body []byte) *signedPoster {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return &signedPoster{
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second},
		secret: secret, body: body, sig: "sha256=" + hex.EncodeToString(mac.Sum(nil)),
	}
}

// post sends one delivery and returns the status and the intake's result
// ("queued", "duplicate", "overloaded", …); err when no answer came.
func (p *signedPoster) post(addr, event, id string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/github", bytes.NewReader(p.body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", p.sig)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var answer struct {
		Result string `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return 0, "", fmt.Errorf("answer %d: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, answer.Result, nil
}

// The real binary, through HTTP: kill -9 in the middle of a burst of
// signed deliveries loses none that was answered 2xx. After a restart on
// the same store every acknowledged delivery is stored with exactly one
// planning job, and GitHub redelivering the whole burst (what the recovery
// asks for) finds the acknowledged ones stored and stores the rest once.
func TestBinaryBurstSurvivesKill(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		cfg := storetest.Config(t, driver)
		data := t.TempDir()
		if cfg.DataDir != "" {
			data = cfg.DataDir
		}
		secret := []byte("burst-secret")
		env := []string{"GATEHOUSE_ROLE=web", "GATEHOUSE_DATA_DIR=" + data, "GATEHOUSE_WEBHOOK_SECRET=" + string(secret),
			"GATEHOUSE_DATABASE_URL=" + cfg.URL, "GATEHOUSE_LOG_LEVEL=warn"}
		poster := newSignedPoster(secret, githubtest.LoadWebhook(t, "issue_comment.created"))
		const event, senders, killAfter = "issue_comment", 32, 400

		p := startBinary(t, env, freeAddr(t))
		var (
			mu     sync.Mutex
			acked  = map[string]bool{}
			sent   []string
			stop   atomic.Bool
			enough = make(chan struct{})
			once   sync.Once
			wg     sync.WaitGroup
		)
		for g := range senders {
			wg.Go(func() {
				for i := 0; !stop.Load(); i++ {
					id := fmt.Sprintf("burst-%d-%d", g, i)
					mu.Lock()
					sent = append(sent, id)
					mu.Unlock()
					code, _, err := poster.post(p.addr, event, id)
					if err != nil {
						continue // no answer (the kill): not acknowledged
					}
					if code >= 200 && code < 300 {
						mu.Lock()
						acked[id] = true
						if len(acked) >= killAfter {
							once.Do(func() { close(enough) })
						}
						mu.Unlock()
					}
				}
			})
		}
		select {
		case <-enough:
		case <-p.done:
			t.Fatalf("gatehouse exited during the burst:\n%s", p.Logs())
		case <-time.After(2 * time.Minute): // a hang guard
			stop.Store(true)
			wg.Wait()
			t.Fatalf("%d of %d deliveries acknowledged in 2 minutes:\n%s", len(acked), len(sent), p.Logs())
		}
		p.kill(t)
		stop.Store(true)
		wg.Wait()
		t.Logf("%s: %d deliveries sent, %d acknowledged before kill -9", driver, len(sent), len(acked))

		// Restarted on the same store, it knows every acknowledged delivery:
		// redelivered, each is a duplicate. The others are stored now.
		p2 := startBinary(t, env, freeAddr(t))
		ids := make(chan string)
		var redeliver sync.WaitGroup
		for range 8 {
			redeliver.Go(func() {
				for id := range ids {
					code, result, err := poster.post(p2.addr, event, id)
					for tries := 0; err == nil && code == http.StatusServiceUnavailable && tries < 20; tries++ {
						time.Sleep(100 * time.Millisecond) // overloaded: GitHub's next attempt
						code, result, err = poster.post(p2.addr, event, id)
					}
					if err != nil || code != http.StatusAccepted {
						t.Errorf("redelivery of %s: %d %s %v", id, code, result, err)
						continue
					}
					if acked[id] && result != "duplicate" {
						t.Errorf("%s was acknowledged before kill -9, but its redelivery was %q: it had been lost", id, result)
					}
				}
			})
		}
		for _, id := range sent {
			ids <- id
		}
		close(ids)
		redeliver.Wait()
		p2.stop(t)

		s := storetest.OpenConfig(t, store.Config{URL: cfg.URL, DataDir: data})
		have, err := s.DeliveryIDsStored(ctx, sent)
		if err != nil {
			t.Fatal(err)
		}
		for id := range acked {
			if !have[id] {
				t.Errorf("acknowledged %s not stored", id)
			}
		}
		stored, planned, distinct, _, err := s.DeliveryPlanCounts(ctx, jobs.KindDelivery, "burst-")
		if err != nil {
			t.Fatal(err)
		}
		if stored != len(sent) || planned != stored || distinct != stored {
			t.Errorf("%d deliveries sent; %d stored, %d planning jobs naming %d deliveries: want each stored and planned once",
				len(sent), stored, planned, distinct)
		}
	})
}
