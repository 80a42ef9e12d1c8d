package githubtest

import (
	"context"
	"maps"
	"strings"
)

// installation is an installation of the app on an account.
type installation struct {
	id        int64
	account   string
	accountID int64
	all       bool     // every repository of the account
	repos     []string // "owner/name" when not all
	perms     map[string]string
}

func (i *installation) covers(r *Repo) bool {
	if i.all {
		return strings.EqualFold(r.owner, i.account)
	}
	return containsFold(i.repos, r.FullName())
}

// DefaultPermissions are the permissions an installation grants unless
// SetInstallationPermissions says otherwise: what gatehouse's app.yml asks
// for, plus security_events for SARIF upload.
func DefaultPermissions() map[string]string {
	return map[string]string{
		"checks":          "write",
		"contents":        "read",
		"metadata":        "read",
		"pull_requests":   "write",
		"security_events": "write",
		"deployments":     "write",
		"actions":         "read",
	}
}

// AddInstallation installs the app on account with the given repositories
// ("owner/name", or "name" for a repository of account). With no
// repositories the installation covers all of the account's repositories.
func (s *Server) AddInstallation(id int64, account string, repos ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	inst := &installation{id: id, account: account, accountID: s.nextID, all: len(repos) == 0, perms: DefaultPermissions()}
	for _, r := range repos {
		inst.repos = append(inst.repos, qualify(account, r))
	}
	s.installations[id] = inst
}

// AddInstallationRepos adds repositories to an installation, as when an
// installation_repositories "added" event is delivered.
func (s *Server) AddInstallationRepos(id int64, repos ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[id]
	if inst == nil {
		s.tb.Fatalf("githubtest: AddInstallationRepos: no installation %d", id)
		return
	}
	for _, r := range repos {
		inst.repos = append(inst.repos, qualify(inst.account, r))
	}
}

// SetInstallationPermissions replaces the permissions of an installation.
func (s *Server) SetInstallationPermissions(id int64, perms map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[id]
	if inst == nil {
		s.tb.Fatalf("githubtest: SetInstallationPermissions: no installation %d", id)
		return
	}
	inst.perms = maps.Clone(perms)
}

// RemoveInstallation uninstalls the app: the installation's tokens stop
// working at once.
func (s *Server) RemoveInstallation(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.installations, id)
	for _, t := range s.tokens {
		if t.InstallationID == id {
			t.revoked = true
		}
	}
}

func qualify(account, repo string) string {
	if strings.Contains(repo, "/") {
		return repo
	}
	return account + "/" + repo
}

// AddRepo creates an empty repository with default branch "main", backed by
// a bare git repository on disk. Add commits with Repo.Commit, or clone
// Repo.Dir with git, commit and push back.
func (s *Server) AddRepo(owner, name string) *Repo {
	s.tb.Helper()
	r := &Repo{s: s, id: s.newID(), owner: owner, name: name, defaultBranch: "main"}
	r.dir = s.repoDir(owner, name)
	if err := s.initBare(context.Background(), r.dir, ""); err != nil {
		s.tb.Fatalf("githubtest: AddRepo %s/%s: %v", owner, name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[strings.ToLower(r.FullName())] = r
	return r
}

// AddFork creates owner's fork of parent with all of parent's branches.
// Forks are private, so a token for an installation that does not cover the
// fork cannot read it (404); SetPublic makes it readable.
func (s *Server) AddFork(parent *Repo, owner string) *Repo {
	s.tb.Helper()
	r := &Repo{s: s, id: s.newID(), owner: owner, name: parent.name, defaultBranch: parent.DefaultBranch(), forkOf: parent}
	r.dir = s.repoDir(owner, parent.name)
	if err := s.initBare(context.Background(), r.dir, parent.dir); err != nil {
		s.tb.Fatalf("githubtest: AddFork %s of %s: %v", owner, parent.FullName(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[strings.ToLower(r.FullName())] = r
	return r
}

// Repo returns the repository "owner/name", or nil.
func (s *Server) Repo(fullName string) *Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos[strings.ToLower(fullName)]
}

// SetPermission sets user's role on repo ("admin", "maintain", "write",
// "triage", "read" or "none"), as the collaborator permission API reports.
func (s *Server) SetPermission(repo, user, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(repo)
	if s.perms[key] == nil {
		s.perms[key] = map[string]string{}
	}
	s.perms[key][strings.ToLower(user)] = role
}

// pull is a pull request's state.
type pull struct {
	PullRequest
	id   int64
	repo *Repo
	head *Repo
}

// AddPullRequest opens a pull request on repo ("owner/name") and publishes
// its head as refs/pull/<number>/head in repo, as GitHub does. Empty fields
// get defaults (see PullRequest); the filled-in pull request is returned.
func (s *Server) AddPullRequest(repo string, pr PullRequest) PullRequest {
	s.tb.Helper()
	base := s.Repo(repo)
	if base == nil {
		s.tb.Fatalf("githubtest: AddPullRequest: no repository %s", repo)
		return pr
	}
	head := base
	if pr.HeadRepo != "" {
		if head = s.Repo(pr.HeadRepo); head == nil {
			s.tb.Fatalf("githubtest: AddPullRequest: no head repository %s", pr.HeadRepo)
			return pr
		}
	}
	pr.HeadRepo = head.FullName()
	if pr.BaseRef == "" {
		pr.BaseRef = base.DefaultBranch()
	}
	if pr.User == "" {
		pr.User = "octocat"
	}
	if pr.State == "" {
		pr.State = "open"
	}
	s.mu.Lock()
	key := strings.ToLower(base.FullName())
	if s.pulls[key] == nil {
		s.pulls[key] = map[int]*pull{}
	}
	if pr.Number == 0 {
		pr.Number = len(s.pulls[key]) + 1
		for s.pulls[key][pr.Number] != nil {
			pr.Number++
		}
	}
	if pr.Title == "" {
		pr.Title = "Pull request " + itoa(pr.Number)
	}
	s.nextID++
	p := &pull{PullRequest: pr, id: s.nextID, repo: base, head: head}
	s.pulls[key][pr.Number] = p
	s.mu.Unlock()
	return s.syncPull(p, pr.HeadSHA, pr.BaseSHA)
}

// SyncPullRequest re-reads the head and base branches of a pull request
// after the test pushed to them (a "synchronize"), moves refs/pull/N/head,
// and returns the updated pull request.
func (s *Server) SyncPullRequest(repo string, number int) PullRequest {
	s.tb.Helper()
	p := s.pull(repo, number)
	if p == nil {
		s.tb.Fatalf("githubtest: SyncPullRequest: no pull request %s#%d", repo, number)
		return PullRequest{}
	}
	return s.syncPull(p, "", "")
}

// syncPull resolves the pull request's shas and publishes its head ref.
func (s *Server) syncPull(p *pull, headSHA, baseSHA string) PullRequest {
	ctx := context.Background()
	s.mu.Lock()
	pr := p.PullRequest
	s.mu.Unlock()
	var err error
	if headSHA == "" {
		if headSHA, err = p.head.resolve(ctx, "refs/heads/"+pr.HeadRef); err != nil {
			s.tb.Fatalf("githubtest: pull request %s#%d: head %s: %v", p.repo.FullName(), pr.Number, pr.HeadRef, err)
		}
	}
	if baseSHA == "" {
		if baseSHA, err = p.repo.resolve(ctx, "refs/heads/"+pr.BaseRef); err != nil {
			s.tb.Fatalf("githubtest: pull request %s#%d: base %s: %v", p.repo.FullName(), pr.Number, pr.BaseRef, err)
		}
	}
	ref := "refs/pull/" + itoa(pr.Number) + "/head"
	if p.head == p.repo {
		err = s.git(ctx, p.repo.dir, nil, "update-ref", ref, headSHA)
	} else {
		err = s.git(ctx, p.repo.dir, nil, "fetch", "--quiet", "--no-tags", p.head.dir, "+"+headSHA+":"+ref)
	}
	if err != nil {
		s.tb.Fatalf("githubtest: publish %s in %s: %v", ref, p.repo.FullName(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.HeadSHA, p.BaseSHA = headSHA, baseSHA
	return p.PullRequest
}

// pull returns the pull request state, or nil.
func (s *Server) pull(repo string, number int) *pull {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pulls[strings.ToLower(repo)][number]
}

// PullRequest returns a pull request as the server holds it.
func (s *Server) PullRequest(repo string, number int) (PullRequest, bool) {
	p := s.pull(repo, number)
	if p == nil {
		return PullRequest{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.PullRequest, true
}

// AddIssueComment adds a comment to a pull request's conversation, as if a
// user (or an earlier run of the app, with user BotLogin()) had posted it.
func (s *Server) AddIssueComment(repo string, number int, user, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.issueComments = append(s.issueComments, &IssueComment{ID: s.nextID, Repo: s.canonical(repo), IssueNumber: number, User: user, Body: body})
	return s.nextID
}

// AddReviewComment adds a review comment, as if posted earlier. Line and
// Path are taken as given (no diff check); ID and Repo are assigned.
func (s *Server) AddReviewComment(repo string, c ReviewComment) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	c.ID, c.Repo = s.nextID, s.canonical(repo)
	if c.Side == "" {
		c.Side = "RIGHT"
	}
	if c.SubjectType == "" {
		c.SubjectType = "line"
	}
	s.reviewComments = append(s.reviewComments, &c)
	return c.ID
}

// canonical returns the repository's own spelling of "owner/name".
// Callers hold s.mu.
func (s *Server) canonical(repo string) string {
	if r := s.repos[strings.ToLower(repo)]; r != nil {
		return r.FullName()
	}
	return repo
}
