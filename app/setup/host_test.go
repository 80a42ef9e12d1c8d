package setup_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/app/setup"
)

// getAt fetches path from the env's server with the given Host header.
func (e *env) getAt(host, path string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestSetupRefusesForeignHost: without GATEHOUSE_PUBLIC_URL the page builds
// the app's URLs from Host, so it answers only at loopback names, the
// listen address's host and PublicURL's host. A rebound name (evil.example
// resolving to 127.0.0.1) gets 421, no state, no cookie, no manifest.
func TestSetupRefusesForeignHost(t *testing.T) {
	port := strings.TrimPrefix(strings.TrimPrefix(newEnv(t).url, "http://127.0.0.1"), ":")
	for _, tc := range []struct {
		name       string
		public     string
		listen     string
		host       string
		wantStatus int
	}{
		{"rebound name", "", ":8080", "evil.example:" + port, http.StatusMisdirectedRequest},
		{"rebound name without port", "", "", "evil.example", http.StatusMisdirectedRequest},
		{"another address of the host", "", ":8080", "10.1.2.3:8080", http.StatusMisdirectedRequest},
		{"localhost", "", "", "localhost:" + port, http.StatusOK},
		{"LOCALHOST", "", "", "LOCALHOST:" + port, http.StatusOK},
		{"127.0.0.1", "", "", "127.0.0.1:" + port, http.StatusOK},
		{"127.0.0.2", "", "", "127.0.0.2", http.StatusOK},
		{"::1", "", "", "[::1]:" + port, http.StatusOK},
		{"the listen address", "", "10.1.2.3:8080", "10.1.2.3:8080", http.StatusOK},
		{"the public host", "https://gatehouse.example.com", "", "gatehouse.example.com", http.StatusOK},
		{"rebound name with a public URL", "https://gatehouse.example.com", "", "evil.example", http.StatusMisdirectedRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *setup.Config) { c.PublicURL, c.ListenAddr = tc.public, tc.listen })
			for _, path := range []string{setup.PagePath, setup.PagePath + "?org=acme", setup.CallbackPath + "?state=x&code=y"} {
				resp, body := e.getAt(tc.host, path)
				want := tc.wantStatus
				if want == http.StatusOK && strings.HasPrefix(path, setup.CallbackPath) {
					want = http.StatusBadRequest // an allowed host, but no valid state
				}
				if resp.StatusCode != want {
					t.Errorf("GET %s at Host %q = %d, want %d", path, tc.host, resp.StatusCode, want)
				}
				if want == http.StatusMisdirectedRequest && (strings.Contains(body, "manifest") || len(resp.Cookies()) > 0) {
					t.Errorf("a refused request got the page or a cookie: %v\n%s", resp.Cookies(), body)
				}
			}
		})
	}
}

// TestSetupCallbackNeedsTheSameBrowser: a state works only in the browser
// that loaded the page (its setup cookie), so a state read by someone else
// cannot complete the setup from another browser.
func TestSetupCallbackNeedsTheSameBrowser(t *testing.T) {
	e := newEnv(t)
	_, page, _ := e.get(setup.PagePath)
	u, _ := url.Parse(e.url)
	pageURL, _ := url.Parse(e.url + setup.PagePath)
	var cookie *http.Cookie
	for _, c := range e.client.Jar.Cookies(pageURL) {
		if c.Name == "gatehouse_setup" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("the page set no setup cookie (jar: %v)", e.client.Jar.Cookies(u))
	}
	resp, _ := e.getAt(u.Host, setup.PagePath)
	for _, c := range resp.Cookies() {
		if c.Name == "gatehouse_setup" && (!c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != setup.PagePath) {
			t.Errorf("setup cookie %+v: want HttpOnly, SameSite=Lax, Path=%s", c, setup.PagePath)
		}
	}

	for _, other := range []string{"", "AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		loc := e.postNoFollow(t, formTo(t, page, e.fake.URL()+"/settings/apps/new"))
		if loc.Path != setup.CallbackPath {
			t.Fatalf("GitHub sent the browser to %s", loc)
		}
		jar, _ := cookiejar.New(nil)
		if other != "" {
			jar.SetCookies(pageURL, []*http.Cookie{{Name: "gatehouse_setup", Value: other, Path: setup.PagePath}})
		}
		resp, err := (&http.Client{Jar: jar}).Get(loc.String())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "another browser") {
			t.Errorf("callback from another browser (cookie %q) = %d:\n%s", other, resp.StatusCode, b)
		}
		if got := e.configured(); len(got) != 0 {
			t.Fatalf("another browser's callback configured the app: %v", got)
		}
		_, page, _ = e.get(setup.PagePath)
	}
	// The browser that loaded the page completes it.
	status, body, _ := e.submit(formTo(t, page, e.fake.URL()+"/settings/apps/new"))
	if status != http.StatusOK || !strings.Contains(body, "gatehouse is set up") {
		t.Fatalf("the same browser's callback = %d:\n%s", status, body)
	}
}

// TestSetupPageMovesToPublicURL: opened at another address than
// GATEHOUSE_PUBLIC_URL (localhost while GitHub reaches a tunnel), the page
// sends the browser to the public URL, where GitHub will send it back and
// its cookie must be; once only, whatever a proxy does to Host.
func TestSetupPageMovesToPublicURL(t *testing.T) {
	e := newEnv(t)
	port := strings.TrimPrefix(e.url, "http://127.0.0.1:")
	resp, _ := e.getAt("localhost:"+port, setup.PagePath+"?org=acme")
	want := e.url + setup.PagePath + "?org=acme&via=public"
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
		t.Errorf("page at localhost = %d → %q, want 303 → %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp, _ := e.getAt("localhost:"+port, setup.PagePath+"?via=public"); resp.StatusCode != http.StatusOK {
		t.Errorf("page after the redirect = %d, want 200 (no loop)", resp.StatusCode)
	}
}
