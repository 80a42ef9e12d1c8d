package githubtest

import (
	"bytes"
	"maps"
	"strings"
)

// CheckRuns returns the check runs created on repo ("owner/name"), oldest
// first.
func (s *Server) CheckRuns(repo string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, r := range s.checkRuns {
		if strings.EqualFold(r.Repo, repo) {
			cp := *r
			cp.Annotations = append([]Annotation(nil), r.Annotations...)
			cp.Transitions = append([]Transition(nil), r.Transitions...)
			out = append(out, cp)
		}
	}
	return out
}

// Reviews returns the reviews of a pull request, oldest first.
func (s *Server) Reviews(repo string, pr int) []Review {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Review
	for _, r := range s.reviews {
		if strings.EqualFold(r.Repo, repo) && r.PullNumber == pr {
			cp := *r
			cp.CommentIDs = append([]int64(nil), r.CommentIDs...)
			out = append(out, cp)
		}
	}
	return out
}

// ReviewComments returns the review comments of a pull request (including
// replies and those added with AddReviewComment), oldest first.
func (s *Server) ReviewComments(repo string, pr int) []ReviewComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ReviewComment
	for _, c := range s.reviewComments {
		if strings.EqualFold(c.Repo, repo) && c.PullNumber == pr {
			out = append(out, *c)
		}
	}
	return out
}

// IssueComments returns the conversation comments of a pull request,
// oldest first.
func (s *Server) IssueComments(repo string, number int) []IssueComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []IssueComment
	for _, c := range s.issueComments {
		if strings.EqualFold(c.Repo, repo) && c.IssueNumber == number {
			out = append(out, *c)
		}
	}
	return out
}

// Reactions returns the reactions to an issue comment.
func (s *Server) Reactions(commentID int64) []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Reaction
	for _, r := range s.reactions {
		if r.CommentID == commentID {
			out = append(out, *r)
		}
	}
	return out
}

// SARIFUploads returns the SARIF documents uploaded to repo.
func (s *Server) SARIFUploads(repo string) []SARIFUpload {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SARIFUpload
	for _, u := range s.sarifs {
		if strings.EqualFold(u.Repo, repo) {
			cp := *u
			cp.SARIF = bytes.Clone(u.SARIF)
			out = append(out, cp)
		}
	}
	return out
}

// Requests returns every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// Tokens returns the installation tokens issued so far, in order.
func (s *Server) Tokens() []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Token, len(s.issued))
	for i, t := range s.issued {
		out[i] = t
		out[i].Permissions = maps.Clone(t.Permissions)
	}
	return out
}

// TokenCount is the number of installation tokens issued so far.
func (s *Server) TokenCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.issued)
}

// Manifests returns the app manifests posted to the creation form.
func (s *Server) Manifests() []Manifest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Manifest
	for _, m := range s.manifests {
		cp := *m
		cp.Manifest = maps.Clone(m.Manifest)
		out = append(out, cp)
	}
	return out
}
