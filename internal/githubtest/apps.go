package githubtest

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// getApp answers GET /app.
func (c *call) getApp() { c.respond(http.StatusOK, c.appJSON()) }

// listInstallations answers GET /app/installations.
func (c *call) listInstallations() {
	s := c.s
	s.mu.Lock()
	insts := make([]*installation, 0, len(s.installations))
	for _, inst := range s.installations {
		insts = append(insts, inst)
	}
	s.mu.Unlock()
	sort.Slice(insts, func(i, j int) bool { return insts[i].id < insts[j].id })
	out := []any{}
	for _, inst := range paginate(c, insts) {
		out = append(out, c.installationJSON(inst))
	}
	c.respond(http.StatusOK, out)
}

// createInstallationToken answers POST
// /app/installations/{installation_id}/access_tokens.
func (c *call) createInstallationToken() {
	var body struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if !c.decode(&body) {
		return
	}
	s := c.s
	s.mu.Lock()
	inst := s.installations[c.intParam("installation_id")]
	if inst == nil {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	perms := maps.Clone(inst.perms)
	var repos []*Repo
	narrowed := len(body.Repositories) > 0 || len(body.RepositoryIDs) > 0
	ok := true
	for _, name := range body.Repositories {
		r := s.repos[strings.ToLower(qualify(inst.account, name))]
		if r == nil || !inst.covers(r) {
			ok = false
			break
		}
		repos = append(repos, r)
	}
	for _, id := range body.RepositoryIDs {
		var found *Repo
		for _, r := range s.repos {
			if r.id == id && inst.covers(r) {
				found = r
			}
		}
		if found == nil {
			ok = false
			break
		}
		repos = append(repos, found)
	}
	s.mu.Unlock()
	if !ok {
		c.fail(http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
		return
	}
	if body.Permissions != nil {
		for name, level := range body.Permissions {
			if levelRank(perms[name]) < levelRank(level) {
				c.fail(http.StatusUnprocessableEntity, "The permissions requested are not granted to this installation.")
				return
			}
		}
		perms = maps.Clone(body.Permissions)
	}
	now := s.now().UTC().Truncate(time.Second)
	tok := &Token{Token: randomToken("ghs_"), InstallationID: inst.id, IssuedAt: now, ExpiresAt: now.Add(tokenLifetime), Permissions: perms}
	if narrowed {
		tok.Repositories = []string{}
		for _, r := range repos {
			tok.Repositories = append(tok.Repositories, r.FullName())
		}
	}
	s.mu.Lock()
	s.tokens[tok.Token] = tok
	s.issued = append(s.issued, cloneToken(tok))
	all := inst.all
	s.mu.Unlock()
	selection := "selected"
	if all && !narrowed {
		selection = "all"
	}
	out := obj{
		"token":                tok.Token,
		"expires_at":           tok.ExpiresAt.Format(time.RFC3339),
		"permissions":          perms,
		"repository_selection": selection,
	}
	if narrowed {
		list := []any{}
		for _, r := range repos {
			list = append(list, c.repoJSON(r))
		}
		out["repositories"] = list
	}
	c.respond(http.StatusCreated, out)
}

// listInstallationRepos answers GET /installation/repositories.
func (c *call) listInstallationRepos() {
	s := c.s
	tok := c.auth.token
	s.mu.Lock()
	inst := s.installations[tok.InstallationID]
	var repos []*Repo
	for _, r := range s.repos {
		if inst != nil && inst.covers(r) && (tok.Repositories == nil || containsFold(tok.Repositories, r.FullName())) {
			repos = append(repos, r)
		}
	}
	selection := "selected"
	if inst != nil && inst.all && tok.Repositories == nil {
		selection = "all"
	}
	s.mu.Unlock()
	sort.Slice(repos, func(i, j int) bool { return repos[i].id < repos[j].id })
	list := []any{}
	for _, r := range paginate(c, repos) {
		list = append(list, c.repoJSON(r))
	}
	c.respond(http.StatusOK, obj{"total_count": len(repos), "repositories": list, "repository_selection": selection})
}

// isManifestFormPath matches GitHub's app-creation form:
// /settings/apps/new and /organizations/{org}/settings/apps/new.
func isManifestFormPath(path string) bool {
	if path == "/settings/apps/new" {
		return true
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	return len(segs) == 5 && segs[0] == "organizations" && segs[2] == "settings" && segs[3] == "apps" && segs[4] == "new"
}

// serveManifestForm is the web form a browser posts an app manifest to. On
// GitHub a person then confirms; here the app is "created" at once and the
// browser is sent to the manifest's redirect_url with a one-time code.
func (s *Server) serveManifestForm(w http.ResponseWriter, r *http.Request, path string, body []byte, req *Request) {
	reject := func(status int, reason string) {
		req.Violation = reason
		if !s.allowRejections {
			s.tb.Errorf("githubtest: %s %s rejected with %d: %s", r.Method, r.URL.Path, status, reason)
		}
		http.Error(w, reason, status)
	}
	if r.Method != http.MethodPost {
		reject(http.StatusNotFound, "the app manifest form only takes POST")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		reject(http.StatusBadRequest, "form body: "+err.Error())
		return
	}
	var manifest map[string]any
	if err := json.Unmarshal([]byte(form.Get("manifest")), &manifest); err != nil {
		reject(http.StatusUnprocessableEntity, "manifest is not a JSON object: "+err.Error())
		return
	}
	appURL, _ := manifest["url"].(string)
	redirect, _ := manifest["redirect_url"].(string)
	if appURL == "" {
		reject(http.StatusUnprocessableEntity, "manifest has no url")
		return
	}
	if hook, ok := manifest["hook_attributes"].(map[string]any); ok {
		if u, _ := hook["url"].(string); u == "" {
			reject(http.StatusUnprocessableEntity, "manifest hook_attributes has no url")
			return
		}
	}
	target, err := url.Parse(redirect)
	if redirect == "" || err != nil || !target.IsAbs() {
		reject(http.StatusUnprocessableEntity, "manifest redirect_url is missing or not absolute")
		return
	}
	state := r.URL.Query().Get("state")
	if state == "" {
		state = form.Get("state")
	}
	m := &Manifest{Code: strings.ToLower(randomToken("")[:20]), State: state, Manifest: manifest}
	if segs := strings.Split(strings.TrimPrefix(path, "/"), "/"); segs[0] == "organizations" {
		m.Org = segs[1]
	}
	s.mu.Lock()
	s.manifests[m.Code] = m
	s.mu.Unlock()
	q := target.Query()
	q.Set("code", m.Code)
	if state != "" {
		q.Set("state", state)
	}
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// createFromManifest answers POST /app-manifests/{code}/conversions: the
// app's credentials, once per code. The app is this server's app, so the
// returned id and key work against it.
func (c *call) createFromManifest() {
	s := c.s
	s.mu.Lock()
	m := s.manifests[c.param("code")]
	if m == nil || m.Converted {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	m.Converted = true
	m.WebhookSecret = randomToken("")[:32]
	secret := m.WebhookSecret
	name, _ := m.Manifest["name"].(string)
	s.mu.Unlock()
	out := c.appJSON()
	if name != "" {
		out["name"] = name
	}
	out["client_id"] = "Iv1.fake" + itoa(int(s.appID))
	out["client_secret"] = randomToken("")
	out["webhook_secret"] = secret
	out["pem"] = string(s.keyPEM)
	c.respond(http.StatusCreated, out)
}

func cloneToken(t *Token) Token {
	out := *t
	out.Repositories = append([]string(nil), t.Repositories...)
	if t.Repositories == nil {
		out.Repositories = nil
	}
	out.Permissions = maps.Clone(t.Permissions)
	return out
}
