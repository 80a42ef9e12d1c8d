package githubtest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// GitHub's lifetimes.
const (
	maxJWTLifetime = 10 * time.Minute
	tokenLifetime  = time.Hour
)

// authInfo is what the Authorization header proved.
type authInfo struct {
	kind  string // "none", "jwt", "token"
	token *Token // for kind "token"
}

// requiredPermission is a permission one of which an operation needs.
type requiredPermission struct {
	name, level string
}

// operationPermissions lists, per operation on a repository, the
// installation permissions that allow it (any one suffices), as GitHub
// documents them for GitHub Apps.
var operationPermissions = map[string][]requiredPermission{
	"checks/create":                           {{"checks", "write"}},
	"checks/update":                           {{"checks", "write"}},
	"checks/list-for-ref":                     {{"checks", "read"}},
	"checks/list-annotations":                 {{"checks", "read"}},
	"repos/get":                               {{"metadata", "read"}},
	"repos/get-content":                       {{"contents", "read"}},
	"repos/download-tarball-archive":          {{"contents", "read"}},
	"repos/compare-commits-with-basehead":     {{"contents", "read"}},
	"repos/get-collaborator-permission-level": {{"metadata", "read"}},
	"pulls/get":                               {{"pull_requests", "read"}},
	"pulls/list-files":                        {{"pull_requests", "read"}},
	"pulls/list-review-comments":              {{"pull_requests", "read"}},
	"pulls/create-review":                     {{"pull_requests", "write"}},
	"pulls/create-reply-for-review-comment":   {{"pull_requests", "write"}},
	"pulls/update-review-comment":             {{"pull_requests", "write"}},
	"issues/list-comments":                    {{"issues", "read"}, {"pull_requests", "read"}},
	"issues/create-comment":                   {{"issues", "write"}, {"pull_requests", "write"}},
	"issues/update-comment":                   {{"issues", "write"}, {"pull_requests", "write"}},
	"reactions/create-for-issue-comment":      {{"issues", "write"}, {"pull_requests", "write"}},
	"code-scanning/upload-sarif":              {{"security_events", "write"}},
	"actions/review-custom-gates-for-run":     {{"deployments", "write"}},
}

// levelRank orders permission levels.
func levelRank(level string) int {
	switch level {
	case "read":
		return 1
	case "write":
		return 2
	case "admin":
		return 3
	}
	return 0
}

// authenticate reads the Authorization header.
func (c *call) authenticate() (authInfo, bool) {
	h := c.r.Header.Get("Authorization")
	if h == "" {
		return authInfo{kind: "none"}, true
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "bearer", "token":
	default:
		c.fail(http.StatusUnauthorized, "Bad credentials")
		return authInfo{}, false
	}
	if strings.Count(cred, ".") == 2 {
		c.req.Auth = "jwt"
		return authInfo{kind: "jwt"}, true
	}
	c.req.Auth = "token"
	tok, msg := c.s.lookupToken(cred)
	if tok == nil {
		c.fail(http.StatusUnauthorized, msg)
		return authInfo{}, false
	}
	c.req.InstallationID = tok.InstallationID
	return authInfo{kind: "token", token: tok}, true
}

// authorize applies the route's authentication rules: app JWTs on /app
// routes, installation tokens elsewhere, and repository coverage and
// permissions on /repos routes.
func (c *call) authorize() bool {
	id := c.route.operationID()
	if id == "apps/create-from-manifest" {
		return true // authenticated by the one-time code
	}
	a, ok := c.authenticate()
	if !ok {
		return false
	}
	c.auth = a
	if strings.HasPrefix(c.route.path, "/app/") || c.route.path == "/app" {
		if a.kind != "jwt" {
			c.fail(http.StatusUnauthorized, "A JSON web token could not be decoded")
			return false
		}
		if msg := c.s.verifyJWT(c.jwtCredential()); msg != "" {
			c.fail(http.StatusUnauthorized, msg)
			return false
		}
		return true
	}
	switch a.kind {
	case "none":
		c.fail(http.StatusUnauthorized, "Requires authentication")
		return false
	case "jwt":
		// An app JWT cannot act on an installation's resources.
		c.fail(http.StatusForbidden, "Resource not accessible by integration")
		return false
	}
	if !strings.HasPrefix(c.route.path, "/repos/") {
		return true
	}
	repo, inst := c.s.repoAccess(c.param("owner")+"/"+c.param("repo"), a.token)
	if repo == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return false
	}
	if inst == nil {
		// Not covered by the token: GitHub lets any token read a public
		// repository and hides a private one.
		if !repo.isPublic() || c.r.Method != http.MethodGet {
			if repo.isPublic() {
				c.fail(http.StatusForbidden, "Resource not accessible by integration")
			} else {
				c.fail(http.StatusNotFound, "Not Found")
			}
			return false
		}
	} else if !hasPermission(a.token.Permissions, operationPermissions[id]) {
		c.fail(http.StatusForbidden, "Resource not accessible by integration")
		return false
	}
	c.repo = repo
	return true
}

func hasPermission(granted map[string]string, need []requiredPermission) bool {
	if len(need) == 0 {
		return true
	}
	for _, n := range need {
		if levelRank(granted[n.name]) >= levelRank(n.level) {
			return true
		}
	}
	return false
}

func (c *call) jwtCredential() string {
	_, cred, _ := strings.Cut(c.r.Header.Get("Authorization"), " ")
	return strings.TrimSpace(cred)
}

// verifyJWT checks an app JWT as GitHub does and returns GitHub's message
// when it is not acceptable, or "".
func (s *Server) verifyJWT(raw string) string {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		return &s.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return "A JSON web token could not be decoded"
	}
	iss := fmt.Sprint(claims["iss"])
	if f, ok := claims["iss"].(float64); ok {
		iss = strconv.FormatInt(int64(f), 10)
	}
	if iss != strconv.FormatInt(s.appID, 10) {
		return "'Issuer' claim ('iss') must be an Integer"
	}
	iat, okIat := claims["iat"].(float64)
	exp, okExp := claims["exp"].(float64)
	now := float64(s.now().Unix())
	switch {
	case !okIat || iat > now:
		return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	case !okExp || exp <= now:
		return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	case exp-now > maxJWTLifetime.Seconds():
		// GitHub measures the 10 minutes from its own clock, not from iat:
		// its documented example signs iat = now-60 and exp = now+600.
		return "'Expiration time' claim ('exp') is too far in the future"
	}
	return ""
}

// lookupToken finds a live installation token, or says why not.
func (s *Server) lookupToken(raw string) (*Token, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.tokens[raw]
	if tok == nil || tok.revoked || !s.now().Before(tok.ExpiresAt) {
		return nil, "Bad credentials"
	}
	if _, ok := s.installations[tok.InstallationID]; !ok {
		return nil, "Bad credentials"
	}
	return tok, ""
}

// repoAccess returns the repository and, when the token covers it, the
// token's installation.
func (s *Server) repoAccess(fullName string, tok *Token) (*Repo, *installation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repos[strings.ToLower(fullName)]
	if repo == nil || tok == nil {
		return repo, nil
	}
	inst := s.installations[tok.InstallationID]
	if inst == nil || !inst.covers(repo) {
		return repo, nil
	}
	if tok.Repositories != nil && !containsFold(tok.Repositories, repo.FullName()) {
		return repo, nil
	}
	return repo, inst
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// randomToken returns a GitHub-looking token: prefix and 36 characters.
func randomToken(prefix string) string {
	return prefix + (rand.Text() + rand.Text())[:36]
}

// basicToken extracts the token from git's basic auth (x-access-token:TOKEN,
// or the token as user name).
func basicToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", false
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	if pass == "" || pass == "x-oauth-basic" {
		return user, user != ""
	}
	return pass, true
}
