package browsertest

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/app/setup"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// update writes the screenshots to docs/images for the README.
var update = flag.Bool("update", false, "write the screenshots to docs/images")

// chromium finds the browser: $GATEHOUSE_CHROMIUM, or Debian's chromium.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GATEHOUSE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("SKIPPED: Chromium is not installed, so the setup pages were not clicked through in a browser " +
		"(install it with scripts/install-chromium.sh, or point GATEHOUSE_CHROMIUM at a Chrome binary)")
	return ""
}

// browser starts headless Chromium for the test.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	// A hang guard, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1100, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// TestSetupInBrowser: open /setup, choose an organization, create the app
// on the fake GitHub, land on the done page with the install link.
func TestSetupInBrowser(t *testing.T) {
	path := chromium(t)
	fake := githubtest.New(t)
	data := t.TempDir()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://localhost:" + portOf(ln)
	h, err := setup.New(setup.Config{
		DataDir: data, GitHubURL: fake.URL(), PublicURL: public, Logger: slog.New(slog.DiscardHandler),
		OnConfigured: func(context.Context, setup.Credentials) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	h.Register(r)
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	ctx := browser(t, path)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1100, 900),
		chromedp.Navigate(public+setup.PagePath),
		chromedp.WaitVisible(chromedp.ID("org")),
	); err != nil {
		t.Fatalf("open /setup: %v", err)
	}
	shot(t, ctx, "setup.png")

	// Choose an organization: a plain GET form, no JavaScript.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("org"), "acme"),
		chromedp.Click(chromedp.CSS(`form[method="get"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action*="/organizations/acme/settings/apps/new"] button`)),
	); err != nil {
		t.Fatalf("choose the organization: %v", err)
	}
	button, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`form[action*="/organizations/acme/settings/apps/new"] button`)))
	if err != nil || !strings.Contains(button, "acme") {
		t.Errorf("organization button %q, %v", button, err)
	}

	// Create the app: the form posts to GitHub, which sends the browser
	// back to the callback.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action*="/organizations/acme/settings/apps/new"] button`)),
		chromedp.WaitVisible(chromedp.CSS("h1.done")),
	); err != nil {
		t.Fatalf("create the app: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, public+setup.CallbackPath+"?") {
		t.Errorf("done page at %q, %v; want the callback", loc, err)
	}
	link, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.CSS("a.button")))
	if want := fake.URL() + "/apps/" + fake.AppSlug() + "/installations/new"; err != nil || link["href"] != want {
		t.Errorf("install link %q, %v; want %s", link["href"], err, want)
	}
	shot(t, ctx, "setup-done.png")

	if ms := fake.Manifests(); len(ms) != 1 || ms[0].Org != "acme" {
		t.Errorf("manifests posted to GitHub: %+v", ms)
	}
	if c, err := setup.Load(data); err != nil || c == nil || c.AppID != fake.AppID() {
		t.Errorf("stored credentials: %v, %v", c, err)
	}
	// Setup is closed: a reload of the page is a 404.
	if err := chromedp.Do(ctx, chromedp.Navigate(public+setup.PagePath)); err != nil {
		t.Fatal(err)
	}
	if body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err != nil || !strings.Contains(body, "404") {
		t.Errorf("/setup after setup shows %q, %v", body, err)
	}
}

// shot saves a full-page screenshot, checks it is a real picture, and with
// -update copies it to docs/images.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if n := colours(img); n < 16 {
		t.Errorf("screenshot %s has %d colours: a blank page?", name, n)
	}
	dir := t.TempDir()
	if *update {
		dir = filepath.Join("..", "..", "..", "docs", "images")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s: %dx%d, %d bytes, in %s", name, img.Bounds().Dx(), img.Bounds().Dy(), len(b), dir)
}

// colours counts distinct colours, up to 1000.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 3 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 3 {
			r, g, b, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, b, a}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}

func portOf(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
