package githubtest

import (
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AppJWT returns a valid app JWT signed with the app's key (issued a minute
// ago, expiring in nine minutes by the server's clock), for tests that call
// the /app routes themselves.
func (s *Server) AppJWT() string {
	now := s.now()
	return s.SignJWT(jwt.MapClaims{
		"iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(9 * time.Minute).Unix(),
		"iss": strconv.FormatInt(s.appID, 10),
	})
}

// SignJWT signs claims with the app's key (RS256), for tests of how the
// server treats bad JWTs.
func (s *Server) SignJWT(claims jwt.MapClaims) string {
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(s.key)
	if err != nil {
		s.tb.Fatalf("githubtest: sign JWT: %v", err)
	}
	return signed
}

// IssueToken creates an installation token directly, without an API call,
// for tests that need one to clone or call the API themselves. It is not
// counted by Tokens or TokenCount, which count the app's own requests.
func (s *Server) IssueToken(installationID int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[installationID]
	if inst == nil {
		s.tb.Fatalf("githubtest: IssueToken: no installation %d", installationID)
		return ""
	}
	now := s.now().UTC()
	tok := &Token{Token: randomToken("ghs_"), InstallationID: installationID, IssuedAt: now, ExpiresAt: now.Add(tokenLifetime), Permissions: cloneMap(inst.perms)}
	s.tokens[tok.Token] = tok
	return tok.Token
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
