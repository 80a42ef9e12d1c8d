package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/app/store/storetest"
)

func TestPullHeadKeepsTheNewest(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		if h, err := s.PullHead(ctx, "o/r", 7); err != nil || h != "" {
			t.Fatalf("empty head = %q, %v", h, err)
		}
		steps := []struct {
			head string
			at   time.Time
			want string
		}{
			{"aaa", t0, "aaa"},
			{"bbb", t0.Add(time.Minute), "bbb"},
			{"old", t0.Add(30 * time.Second), "bbb"}, // a late, older delivery does not win
			{"ccc", t0.Add(2 * time.Minute), "ccc"},
		}
		for _, st := range steps {
			if err := s.SetPullHead(ctx, "o/r", 7, st.head, st.at); err != nil {
				t.Fatal(err)
			}
			if h, _ := s.PullHead(ctx, "o/r", 7); h != st.want {
				t.Errorf("after %s: head = %s, want %s", st.head, h, st.want)
			}
		}
		if h, _ := s.PullHead(ctx, "o/r", 8); h != "" {
			t.Errorf("other PR head = %q", h)
		}
	})
}

func TestCommitResultCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		if b, err := s.CommitResult(ctx, "o/r", "sha1", "iac", "trivy@1"); err != nil || b != nil {
			t.Fatalf("miss = %q, %v", b, err)
		}
		if err := s.PutCommitResult(ctx, "o/r", "sha1", "iac", "trivy@1", []byte(`{"a":1}`)); err != nil {
			t.Fatal(err)
		}
		// A second put of the same key is a no-op, not an error.
		if err := s.PutCommitResult(ctx, "o/r", "sha1", "iac", "trivy@1", []byte(`{"a":2}`)); err != nil {
			t.Fatal(err)
		}
		if b, _ := s.CommitResult(ctx, "o/r", "sha1", "iac", "trivy@1"); string(b) != `{"a":1}` {
			t.Errorf("hit = %s", b)
		}
		if b, _ := s.CommitResult(ctx, "o/r", "sha1", "iac", "trivy@2"); b != nil {
			t.Errorf("another engine version must miss, got %s", b)
		}
	})
}
