package evidence

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/app/store"
)

// Page sizes of List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// ErrBadQuery is returned (wrapped) for a query List cannot run: a
// malformed cursor or an unknown decision.
var ErrBadQuery = errors.New("bad query")

// Query selects records for List. Empty fields do not filter.
type Query struct {
	Repo     string // "owner/name"
	SHA      string // head commit
	Decision string // failure, neutral, success, skipped
	Since    time.Time
	// Cursor is a previous Page's NextCursor.
	Cursor string
	Limit  int // DefaultPageSize when 0, at most MaxPageSize
}

// Page is one page of records, newest first.
type Page struct {
	Verdicts []Summary `json:"verdicts"`
	// NextCursor fetches the next (older) page; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Summary is a record in a list: enough to pick one and fetch it whole.
type Summary struct {
	ID           string            `json:"id"`
	Repository   string            `json:"repository"`
	Seq          int64             `json:"seq"`
	Kind         string            `json:"kind"`
	PullRequest  int               `json:"pull_request,omitempty"`
	HeadSHA      string            `json:"head_sha"`
	BaseSHA      string            `json:"base_sha,omitempty"`
	Decision     string            `json:"decision"`
	Checks       map[string]string `json:"checks"` // check → conclusion
	PolicySHA256 string            `json:"policy_sha256,omitempty"`
	RecordedAt   time.Time         `json:"recorded_at"`
	Hash         string            `json:"hash"`
}

// validDecision reports whether Query.Decision accepts d.
func validDecision(d string) bool {
	switch d {
	case "failure", "neutral", "success", "skipped":
		return true
	}
	return false
}

// List returns a page of records, newest first. Only the repository named
// by q.Repo is read when it is set.
func (r *Recorder) List(ctx context.Context, q Query) (Page, error) {
	if q.Decision != "" && !validDecision(q.Decision) {
		return Page{}, fmt.Errorf("decision %q (want failure, neutral, success or skipped): %w", q.Decision, ErrBadQuery)
	}
	before, err := decodeCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	// One row more than asked tells whether another page follows.
	rows, err := r.st.ListEvidence(ctx, store.EvidenceFilter{
		Repo: q.Repo, HeadSHA: q.SHA, Decision: q.Decision, Since: q.Since, Before: before, Limit: limit + 1,
	})
	if err != nil {
		return Page{}, err
	}
	p := Page{Verdicts: []Summary{}}
	if len(rows) > limit {
		rows = rows[:limit]
		p.NextCursor = encodeCursor(rows[len(rows)-1].Pos)
	}
	for _, e := range rows {
		s, err := decode(e)
		if err != nil {
			return Page{}, err
		}
		p.Verdicts = append(p.Verdicts, summarize(s))
	}
	return p, nil
}

func summarize(s *Stored) Summary {
	rec := s.Record
	out := Summary{
		ID: rec.ID, Repository: rec.Repository, Seq: rec.Seq, Kind: rec.Event.Kind, PullRequest: rec.Event.PullRequest,
		HeadSHA: rec.Commit.Head, BaseSHA: rec.Commit.Base, Decision: rec.Decision, Checks: map[string]string{},
		PolicySHA256: rec.Policy.SHA256, RecordedAt: rec.RecordedAt, Hash: s.Hash,
	}
	for _, c := range rec.Checks {
		out.Checks[c.Name] = c.Conclusion
	}
	return out
}

// A cursor is an opaque token for a position: base64url("p" + pos).
func encodeCursor(pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("p" + strconv.FormatInt(pos, 10)))
}

func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if s, ok := strings.CutPrefix(string(b), "p"); ok {
			if pos, err := strconv.ParseInt(s, 10, 64); err == nil && pos > 0 {
				return pos, nil
			}
		}
	}
	return 0, fmt.Errorf("cursor %q: %w", c, ErrBadQuery)
}
