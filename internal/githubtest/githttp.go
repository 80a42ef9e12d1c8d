package githubtest

import (
	"net/http"
	"net/http/cgi"
	"net/url"
	"strings"
)

// isGitPath reports whether path is a smart-HTTP git URL:
// /<owner>/<name>.git/...
func isGitPath(path string) bool {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	return len(segs) >= 3 && strings.HasSuffix(segs[1], ".git") && len(segs[1]) > len(".git")
}

// serveGit serves a repository with git http-backend, authenticated like
// GitHub: basic auth with an installation token as password (user name
// x-access-token), read-only.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request, path string, req *Request) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	owner, _ := url.PathUnescape(segs[0])
	name, _ := url.PathUnescape(strings.TrimSuffix(segs[1], ".git"))
	repo := s.Repo(owner + "/" + name)
	notFound := func() {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("Repository not found.\n"))
	}
	if repo == nil {
		notFound()
		return
	}
	if r.URL.Query().Get("service") == "git-receive-pack" || strings.HasSuffix(path, "/git-receive-pack") {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("Write access to repository not granted.\n"))
		return
	}
	unauthorized := func() {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("Invalid username or token. Password authentication is not supported for Git operations.\n"))
	}
	raw, ok := basicToken(r)
	if !ok {
		if repo.isPublic() {
			s.runHTTPBackend(w, r, path)
			return
		}
		unauthorized()
		return
	}
	req.Auth = "basic"
	tok, _ := s.lookupToken(raw)
	if tok == nil {
		unauthorized()
		return
	}
	req.InstallationID = tok.InstallationID
	_, inst := s.repoAccess(repo.FullName(), tok)
	switch {
	case inst == nil && !repo.isPublic():
		notFound()
		return
	case inst != nil && !hasPermission(tok.Permissions, []requiredPermission{{"contents", "read"}}):
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("Permission to " + repo.FullName() + ".git denied.\n"))
		return
	}
	s.runHTTPBackend(w, r, path)
}

// runHTTPBackend hands the request to git http-backend as a CGI.
func (s *Server) runHTTPBackend(w http.ResponseWriter, r *http.Request, path string) {
	r.URL.Path, _ = url.PathUnescape(path)
	r.URL.RawPath = ""
	env := append(s.gitEnv(),
		"GIT_PROJECT_ROOT="+s.gitRoot,
		"GIT_HTTP_EXPORT_ALL=1",
	)
	if proto := r.Header.Get("Git-Protocol"); proto != "" {
		env = append(env, "GIT_PROTOCOL="+proto)
	}
	h := &cgi.Handler{
		Path:       s.gitHTTPBackend,
		Root:       "/",
		Dir:        s.gitRoot,
		Env:        env,
		InheritEnv: []string{"PATH", "TMPDIR"},
		Stderr:     tbWriter{s},
	}
	h.ServeHTTP(w, r)
}

// tbWriter sends git http-backend's complaints to the test log.
type tbWriter struct{ s *Server }

func (w tbWriter) Write(p []byte) (int, error) {
	w.s.tb.Logf("githubtest: git http-backend: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}
