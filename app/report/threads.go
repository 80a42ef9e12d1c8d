package report

import (
	"context"
	"fmt"
	"net/http"
	"sort"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/templates"
)

// thread is what the app has said about one finding on a pull request.
type thread struct {
	check     string // from the finding marker; "" for a comment without one
	lastPost  int64  // id of the newest finding comment (a thread root)
	lastClose int64  // id of the newest resolution reply
}

// open reports whether the newest finding comment has not been answered
// with a resolution yet. A finding that comes back after it was fixed
// opens a new thread.
func (t *thread) open() bool { return t.lastPost > t.lastClose }

// threads reads the pull request's review comments (every page) and
// returns the app's threads by fingerprint. With BotLogin set, comments by
// anyone else are ignored, so a user cannot silence a finding by posting a
// marker.
func (r *Reviewer) threads(ctx context.Context, pr PullRequest) (map[string]*thread, error) {
	out := map[string]*thread{}
	opts := &github.PullRequestListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		page, resp, err := r.GH.PullRequests.ListComments(ctx, pr.Repo.Owner, pr.Repo.Name, pr.Number, opts)
		if err != nil {
			return nil, fmt.Errorf("list review comments of %s#%d: %w", pr.Repo, pr.Number, err)
		}
		for _, c := range page {
			if r.BotLogin != "" && c.GetUser().GetLogin() != r.BotLogin {
				continue
			}
			m := parseMarker(c.GetBody())
			if m.kind != markFinding && m.kind != markFixed {
				continue
			}
			t := out[m.fingerprint]
			if t == nil {
				t = &thread{}
				out[m.fingerprint] = t
			}
			switch {
			case m.kind == markFinding && c.GetInReplyTo() == 0 && c.GetID() > t.lastPost:
				t.lastPost = c.GetID()
				t.check = m.check
			case m.kind == markFixed && c.GetID() > t.lastClose:
				t.lastClose = c.GetID()
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// resolve answers, once, each open thread whose finding is gone or no
// longer blocks. A thread is only answered when its check ran on this head:
// a failed or skipped scan finds nothing, which is not a fix.
func (r *Reviewer) resolve(ctx context.Context, p *pass, verdicts []checks.Verdict) error {
	ran := map[string]bool{}
	blocking := map[string]bool{}
	still := map[string]string{} // fingerprint → why a finding still there no longer blocks
	for _, v := range verdicts {
		if v.Error != "" || v.Conclusion == checks.ConclusionSkipped {
			continue
		}
		ran[v.Check] = true
		for _, f := range v.Findings {
			if f.Blocking {
				blocking[f.Fingerprint] = true
			} else {
				still[f.Fingerprint] = fmt.Sprintf("gatehouse/%s still reports it, but it does not block%s", v.Check, reasonSuffix(f.Reason))
			}
		}
		for _, sup := range v.Suppressed {
			still[sup.Finding.Fingerprint] = fmt.Sprintf("gatehouse/%s suppresses it%s", v.Check, reasonSuffix(sup.Reason))
		}
	}
	for _, fp := range sortedKeys(p.threads) {
		t := p.threads[fp]
		if !t.open() || !ran[t.check] || blocking[fp] {
			continue
		}
		body, err := templates.FixedReply(templates.FixedReplyData{
			Marker: FixedMarker(fp), Check: t.check, HeadSHA: p.pr.HeadSHA, Reason: still[fp],
		})
		if err != nil {
			return err
		}
		if err := r.reply(ctx, p.pr, t.lastPost, body); err != nil {
			return err
		}
		p.res.FixedReplies++
	}
	return nil
}

// reply posts a reply in a review comment's thread. go-github has no
// method for this route (its CreateCommentInReplyTo uses the older
// in_reply_to form of the create route).
func (r *Reviewer) reply(ctx context.Context, pr PullRequest, commentID int64, body string) error {
	u := fmt.Sprintf("repos/%s/%s/pulls/%d/comments/%d/replies", pr.Repo.Owner, pr.Repo.Name, pr.Number, commentID)
	req, err := r.GH.NewRequest(ctx, http.MethodPost, u, map[string]string{"body": body})
	if err != nil {
		return fmt.Errorf("reply to finding thread %d on %s#%d: %w", commentID, pr.Repo, pr.Number, err)
	}
	if _, err := r.GH.Do(req, nil); err != nil {
		return fmt.Errorf("reply to finding thread %d on %s#%d: %w", commentID, pr.Repo, pr.Number, err)
	}
	return nil
}

func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

// sortedKeys returns a map's keys in order, so requests go out in the
// same order every run.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
