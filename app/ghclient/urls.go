package ghclient

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// URLs are the two faces of one GitHub: the web host (forms, git, install
// links) and the REST API.
type URLs struct {
	Web *url.URL // https://github.com/
	API *url.URL // https://api.github.com/
}

// ParseURLs derives the API URL from GATEHOUSE_GITHUB_URL, the one setting an
// operator gives:
//
//	https://github.com          → API https://api.github.com/
//	https://ghe.example.com     → API https://ghe.example.com/api/v3/ (GitHub Enterprise Server)
//	http://127.0.0.1:PORT       → API the same base (a loopback test server)
//	https://host/api/v3         → web https://host/, API as given
//
// Empty means github.com.
func ParseURLs(raw string) (URLs, error) {
	if raw == "" {
		raw = "https://github.com"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return URLs{}, fmt.Errorf("parse GitHub URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return URLs{}, fmt.Errorf("GitHub URL %q: want http(s)://host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return URLs{}, fmt.Errorf("GitHub URL %q: must not carry credentials, a query or a fragment", raw)
	}
	path := strings.TrimSuffix(u.Path, "/")
	web := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/"}
	switch {
	case strings.EqualFold(u.Hostname(), "github.com") || strings.EqualFold(u.Hostname(), "api.github.com"):
		return URLs{
			Web: &url.URL{Scheme: "https", Host: "github.com", Path: "/"},
			API: &url.URL{Scheme: "https", Host: "api.github.com", Path: "/"},
		}, nil
	case strings.HasSuffix(path, "/api/v3"):
		web.Path = strings.TrimSuffix(path, "/api/v3") + "/"
		return URLs{Web: web, API: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: path + "/"}}, nil
	case isLoopback(u.Hostname()):
		base := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: path + "/"}
		return URLs{Web: base, API: base}, nil
	default:
		web.Path = path + "/"
		return URLs{Web: web, API: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: path + "/api/v3/"}}, nil
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CloneURL is the https git URL of a repository ("owner/name") on the web host.
func (u URLs) CloneURL(repo string) string {
	return u.Web.JoinPath(repo + ".git").String()
}
