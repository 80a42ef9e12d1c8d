package setup_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/net/html"

	"github.com/gatehouse/gatehouse/app/setup"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// form is an HTML form as a browser sees it.
type form struct {
	Method, Action string
	Fields         url.Values
}

// forms lists the forms of an HTML page, with their hidden and text inputs.
func forms(t *testing.T, page string) []form {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("page is not HTML: %v", err)
	}
	var out []form
	var walk func(n *html.Node, in int) // in: index of the enclosing form, or -1
	walk = func(n *html.Node, in int) {
		if n.Type == html.ElementNode && n.Data == "form" {
			out = append(out, form{Method: strings.ToUpper(attr(n, "method")), Action: attr(n, "action"), Fields: url.Values{}})
			in = len(out) - 1
		}
		if n.Type == html.ElementNode && n.Data == "input" && in >= 0 && attr(n, "name") != "" {
			out[in].Fields.Set(attr(n, "name"), attr(n, "value"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, -1)
	return out
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// env is a gatehouse setup handler behind a real HTTP server, with a fake
// GitHub that creates the app.
type env struct {
	t      *testing.T
	fake   *githubtest.Server
	h      *setup.Handler
	url    string
	data   string
	now    time.Time
	nowMu  sync.Mutex
	gotMu  sync.Mutex
	got    []setup.Credentials
	cfgErr error
	// client is the browser: it keeps the setup cookie.
	client *http.Client
}

type envOption func(*setup.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, fake: githubtest.New(t), data: t.TempDir(), now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), client: &http.Client{Jar: jar}}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	srv := httptest.NewUnstartedServer(r)
	e.url = "http://" + srv.Listener.Addr().String()
	cfg := setup.Config{
		DataDir: e.data, GitHubURL: e.fake.URL(), PublicURL: e.url, Logger: slog.New(slog.DiscardHandler),
		Now: e.clock,
		OnConfigured: func(_ context.Context, c setup.Credentials) error {
			e.gotMu.Lock()
			defer e.gotMu.Unlock()
			e.got = append(e.got, c)
			return e.cfgErr
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := setup.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	h.Register(r)
	srv.Start()
	t.Cleanup(srv.Close)
	return e
}

func (e *env) clock() time.Time {
	e.nowMu.Lock()
	defer e.nowMu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.nowMu.Lock()
	defer e.nowMu.Unlock()
	e.now = e.now.Add(d)
}

func (e *env) configured() []setup.Credentials {
	e.gotMu.Lock()
	defer e.gotMu.Unlock()
	return append([]setup.Credentials(nil), e.got...)
}

// get fetches a page and returns its status and body.
func (e *env) get(path string) (int, string, http.Header) {
	e.t.Helper()
	resp, err := e.client.Get(e.url + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// submit posts a form the way a browser does and follows redirects (to
// the fake GitHub, and from it back to the callback).
func (e *env) submit(f form) (int, string, *url.URL) {
	e.t.Helper()
	var resp *http.Response
	var err error
	if f.Method == http.MethodPost {
		resp, err = e.client.PostForm(f.Action, f.Fields)
	} else {
		resp, err = e.client.Get(f.Action + "?" + f.Fields.Encode())
	}
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Request.URL
}

// postNoFollow posts a form and returns where it redirects.
func (e *env) postNoFollow(t *testing.T, f form) *url.URL {
	t.Helper()
	c := &http.Client{Jar: e.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(f.Action, f.Fields)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("form post answered %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc
}

// formTo returns the page's form whose action starts with prefix.
func formTo(t *testing.T, page, prefix string) form {
	t.Helper()
	for _, f := range forms(t, page) {
		if strings.HasPrefix(f.Action, prefix) {
			return f
		}
	}
	t.Fatalf("no form posting to %s in the page:\n%s", prefix, page)
	return form{}
}
