package githubtest

import (
	"encoding/base64"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// maxContentSize is the largest file the contents API returns inline.
const maxContentSize = 1 << 20

// getRepo answers GET /repos/{owner}/{repo}.
func (c *call) getRepo() { c.respond(http.StatusOK, c.repoJSON(c.repo)) }

// getContent answers GET /repos/{owner}/{repo}/contents/{path}: a file as
// base64 (or raw with the raw media type), a directory as a list.
func (c *call) getContent() {
	ctx := c.r.Context()
	ref := c.r.URL.Query().Get("ref")
	if ref == "" {
		ref = c.repo.DefaultBranch()
	}
	sha, ok := c.repo.resolveRef(ctx, ref)
	if !ok {
		c.fail(http.StatusNotFound, "No commit found for the ref "+ref)
		return
	}
	p := strings.Trim(c.param("path"), "/")
	entry, err := c.s.gitOut(ctx, c.repo.dir, nil, nil, "ls-tree", "-l", sha, "--", p)
	if err != nil || entry == "" {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	e := parseLsTree(entry)
	if e.typ == "tree" {
		out, err := c.s.gitOut(ctx, c.repo.dir, nil, nil, "ls-tree", "-l", sha+":"+p)
		if err != nil {
			c.fail(http.StatusNotFound, "Not Found")
			return
		}
		list := []any{}
		for _, line := range strings.Split(out, "\n") {
			if line == "" {
				continue
			}
			child := parseLsTree(line)
			child.name = path.Join(p, child.name)
			list = append(list, c.contentJSON(ref, child, nil))
		}
		c.respond(http.StatusOK, list)
		return
	}
	content, err := c.s.gitRaw(ctx, c.repo.dir, nil, nil, "cat-file", "blob", e.sha)
	if err != nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	if strings.Contains(c.r.Header.Get("Accept"), "raw") {
		c.w.Header().Set("Content-Type", "application/vnd.github.raw")
		c.w.WriteHeader(http.StatusOK)
		_, _ = c.w.Write(content)
		return
	}
	e.name = p
	c.respond(http.StatusOK, c.contentJSON(ref, e, content))
}

// lsEntry is one line of `git ls-tree -l`.
type lsEntry struct {
	mode, typ, sha, name string
	size                 int
}

func parseLsTree(line string) lsEntry {
	meta, name, _ := strings.Cut(line, "\t")
	f := strings.Fields(meta)
	e := lsEntry{name: name}
	if len(f) >= 4 {
		e.mode, e.typ, e.sha = f[0], f[1], f[2]
		e.size, _ = strconv.Atoi(f[3])
	}
	return e
}

// contentJSON renders a contents entry; content is set for a single file.
func (c *call) contentJSON(ref string, e lsEntry, content []byte) obj {
	typ := map[string]string{"blob": "file", "tree": "dir", "commit": "submodule"}[e.typ]
	if e.mode == "120000" {
		typ = "symlink"
	}
	self := c.apiURL("repos/%s/contents/%s?ref=%s", c.repo.FullName(), e.name, ref)
	html := c.s.srv.URL + "/" + c.repo.FullName() + "/blob/" + ref + "/" + e.name
	out := obj{
		"type":         typ,
		"name":         path.Base(e.name),
		"path":         e.name,
		"sha":          e.sha,
		"size":         e.size,
		"url":          self,
		"git_url":      c.apiURL("repos/%s/git/blobs/%s", c.repo.FullName(), e.sha),
		"html_url":     html,
		"download_url": nil,
		"_links":       obj{"self": self, "git": c.apiURL("repos/%s/git/blobs/%s", c.repo.FullName(), e.sha), "html": html},
	}
	if typ == "file" {
		out["download_url"] = c.s.srv.URL + "/" + c.repo.FullName() + "/raw/" + ref + "/" + e.name
	}
	if content != nil {
		switch {
		case typ == "symlink":
			out["target"] = string(content)
		case len(content) > maxContentSize:
			out["content"], out["encoding"] = "", "none"
		default:
			out["content"], out["encoding"] = wrap60(base64.StdEncoding.EncodeToString(content)), "base64"
		}
	}
	return out
}

// wrap60 breaks base64 text into lines of 60 characters, as GitHub does.
func wrap60(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60])
		b.WriteByte('\n')
		s = s[60:]
	}
	if s != "" {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.String()
}

// codeloadGrant lets one tarball redirect be followed for five minutes.
type codeloadGrant struct {
	repo    *Repo
	sha     string
	expires time.Time
}

// downloadTarball answers GET /repos/{owner}/{repo}/tarball/{ref} with a 302
// to a short-lived codeload URL, as GitHub does.
func (c *call) downloadTarball() {
	sha, ok := c.repo.resolveRef(c.r.Context(), c.param("ref"))
	if !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	token := randomToken("")
	s := c.s
	s.mu.Lock()
	s.codeload[token] = codeloadGrant{repo: c.repo, sha: sha, expires: s.now().Add(5 * time.Minute)}
	s.mu.Unlock()
	loc := s.srv.URL + "/_codeload/" + c.repo.FullName() + "/legacy.tar.gz/" + sha + "?token=" + token
	c.w.Header().Set("Location", loc)
	c.w.WriteHeader(http.StatusFound)
}

// serveCodeload streams `git archive` for a granted tarball URL:
// /_codeload/{owner}/{repo}/legacy.tar.gz/{sha}?token=...
func (s *Server) serveCodeload(w http.ResponseWriter, r *http.Request, p string) {
	s.mu.Lock()
	grant, ok := s.codeload[r.URL.Query().Get("token")]
	s.mu.Unlock()
	segs := strings.Split(strings.TrimPrefix(p, "/_codeload/"), "/")
	if !ok || !s.now().Before(grant.expires) || len(segs) != 4 || segs[3] != grant.sha {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	prefix := grant.repo.owner + "-" + grant.repo.name + "-" + grant.sha[:7]
	out, err := s.gitRaw(r.Context(), grant.repo.dir, nil, nil, "archive", "--format=tar.gz", "--prefix="+prefix+"/", grant.sha)
	if err != nil {
		s.tb.Errorf("githubtest: git archive %s@%s: %v", grant.repo.FullName(), grant.sha, err)
		http.Error(w, "archive failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-gzip")
	w.Header().Set("Content-Disposition", "attachment; filename="+prefix+".tar.gz")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// getPermission answers GET /repos/{owner}/{repo}/collaborators/{username}/permission.
func (c *call) getPermission() {
	user := c.param("username")
	s := c.s
	s.mu.Lock()
	role := s.perms[strings.ToLower(c.repo.FullName())][strings.ToLower(user)]
	s.mu.Unlock()
	if role == "" {
		role = "none"
	}
	legacy := map[string]string{"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}[role]
	if legacy == "" {
		legacy = "none"
	}
	u := c.userJSON(user)
	u["permissions"] = obj{
		"admin":    role == "admin",
		"maintain": role == "admin" || role == "maintain",
		"push":     legacy == "admin" || legacy == "write",
		"triage":   legacy != "none",
		"pull":     legacy != "none",
	}
	u["role_name"] = role
	c.respond(http.StatusOK, obj{"permission": legacy, "role_name": role, "user": u})
}
