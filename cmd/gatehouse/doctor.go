package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/server"
	"github.com/gatehouse/gatehouse/app/setup"
	"github.com/gatehouse/gatehouse/checks/sandbox"
)

// doctorOptions are what gatehouse doctor checks: the same settings as
// gatehouse serve.
type doctorOptions struct {
	appFlags
	addr string
	// sandboxStatus starts a sandbox child and reports its layers; tests
	// replace it (the test binary is no gatehouse binary to start).
	sandboxStatus func(ctx context.Context, dataDir string, mode sandbox.Mode) (sandbox.Status, error)
	now           func() time.Time
}

// Line states, as printed.
const (
	stateOK   = "ok"
	stateWarn = "warn"
	stateFail = "FAIL"
	stateSkip = "skip"
)

// line is one item of the checklist.
type line struct {
	name, state, detail string
	fix                 string // what to do, when not ok
}

func newDoctor() *cobra.Command {
	o := doctorOptions{sandboxStatus: probeSandbox, now: time.Now}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check what gatehouse serve needs: app credentials, GitHub, webhook secret, public URL, database, vulnerability DB, sandbox",
		Long: "doctor checks, with the same settings as gatehouse serve, everything serve needs and says what to do\n" +
			"about what is missing. It exits 1 when a required item fails (warnings do not).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if failed := runDoctor(cmd.Context(), cmd.OutOrStdout(), o); failed {
				return exitError{code: 1}
			}
			return nil
		},
	}
	o.register(cmd.Flags())
	envString(cmd.Flags(), &o.addr, "addr", "GATEHOUSE_ADDR", "", "listen address serve uses (default :8080; 127.0.0.1:8080 while no GitHub App is configured)")
	return cmd
}

// doctorListen says where serve listens with these settings and, while no
// app is configured, how to reach the setup page.
func doctorListen(addr string, configured bool) line {
	l := line{name: "listen address", state: stateOK}
	if addr == "" {
		addr = server.DefaultAddr(configured)
	}
	l.detail = "serve listens on " + addr
	if !configured {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			port = "8080"
		}
		l.detail += fmt.Sprintf("; open http://localhost:%s/setup on this host to create the app "+
			"(in Kubernetes: kubectl port-forward to the pod, e.g. deploy/RELEASE-gatehouse-all %s:%s; with compose: the published port)", port, port, port)
	}
	return l
}

// runDoctor prints the checklist and reports whether a required item
// failed.
func runDoctor(ctx context.Context, w io.Writer, o doctorOptions) bool {
	var lines []line
	add := func(l ...line) { lines = append(lines, l...) }

	urls, urlErr := ghclient.ParseURLs(o.githubURL)
	creds, credLine := doctorCredentials(o, urls, urlErr)
	add(credLine)
	if creds != nil && urlErr == nil {
		add(doctorGitHub(ctx, urls, *creds)...)
	} else {
		add(line{name: "GitHub API", state: stateSkip, detail: "no usable app credentials"},
			line{name: "installations", state: stateSkip, detail: "no usable app credentials"})
	}
	add(doctorListen(o.addr, creds != nil))
	add(doctorWebhookSecret(creds, o.secret))
	add(doctorPublicURL(ctx, o.publicURL))
	add(doctorDatabase(ctx, o.dataDir, o.dbURL))
	if o.role == server.RoleWeb {
		add(line{name: "vulnerability DB", state: stateSkip, detail: "the web role does not scan"},
			line{name: "sandbox", state: stateSkip, detail: "the web role does not scan"})
	} else {
		add(doctorVulnDB(o.dataDir, o.now()))
		add(doctorSandbox(ctx, o))
	}
	return printChecklist(w, lines)
}

// printChecklist writes the lines and a summary; it reports a failure.
func printChecklist(w io.Writer, lines []line) bool {
	width := 0
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	counts := map[string]int{}
	for _, l := range lines {
		counts[l.state]++
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", l.state, width, l.name, l.detail)
		if l.fix != "" && l.state != stateOK && l.state != stateSkip {
			fmt.Fprintf(w, "%-4s  %-*s  → %s\n", "", width, "", l.fix)
		}
	}
	fmt.Fprintf(w, "\n%d ok, %d warnings, %d failed, %d skipped\n", counts[stateOK], counts[stateWarn], counts[stateFail], counts[stateSkip])
	return counts[stateFail] > 0
}

// doctorCredentials resolves the app's credentials as serve does
// (environment over stored) and says where they come from.
func doctorCredentials(o doctorOptions, urls ghclient.URLs, urlErr error) (*setup.Credentials, line) {
	l := line{name: "GitHub App"}
	fail := func(detail, fix string) (*setup.Credentials, line) {
		l.state, l.detail, l.fix = stateFail, detail, fix
		return nil, l
	}
	if urlErr != nil {
		return fail(urlErr.Error(), "set GATEHOUSE_GITHUB_URL to https://github.com or your GitHub Enterprise Server's URL")
	}
	var env setup.Credentials
	if o.appID != "" {
		id, err := parseAppID(o.appID)
		if err != nil {
			return fail(err.Error(), "set GATEHOUSE_APP_ID to the number on the app's settings page")
		}
		env.AppID = id
	}
	key, err := readKey(o.key, o.keyPath)
	if err != nil {
		return fail(err.Error(), "point GATEHOUSE_PRIVATE_KEY_PATH at the .pem file downloaded from the app's settings page")
	}
	env.PrivateKey, env.WebhookSecret = key, o.secret
	stored, err := setup.Load(o.dataDir)
	if err != nil {
		return fail(err.Error(), "run gatehouse setup --reset and create the app again at /setup")
	}
	c := setup.Merge(env, stored)
	switch {
	case c.AppID == 0 && len(c.PrivateKey) == 0:
		return fail("not configured", "run gatehouse serve and open "+setupURL(o.publicURL)+
			" to create the app, or set GATEHOUSE_APP_ID and GATEHOUSE_PRIVATE_KEY_PATH")
	case c.AppID == 0:
		return fail("a private key but no app id", "set GATEHOUSE_APP_ID")
	case len(c.PrivateKey) == 0:
		return fail(fmt.Sprintf("app %d has no private key", c.AppID), "set GATEHOUSE_PRIVATE_KEY_PATH to the app's .pem file")
	}
	from := "from the environment"
	if stored != nil && (env.AppID == 0 || env.AppID == stored.AppID) {
		from = "stored by /setup in " + setup.Path(o.dataDir)
		if env.AppID != 0 || len(env.PrivateKey) > 0 || env.WebhookSecret != "" {
			from += ", with environment overrides"
		}
	}
	l.state, l.detail = stateOK, c.String()+", "+from
	if stored != nil && stored.GitHubURL != "" && stored.GitHubURL != urls.Web.String() && from != "from the environment" {
		l.state = stateWarn
		l.detail += fmt.Sprintf("; created on %s but GATEHOUSE_GITHUB_URL is %s", stored.GitHubURL, urls.Web)
		l.fix = "set GATEHOUSE_GITHUB_URL to where the app lives, or run gatehouse setup --reset and create it again"
	}
	return &c, l
}

func doctorWebhookSecret(c *setup.Credentials, env string) line {
	l := line{name: "webhook secret"}
	switch {
	case c != nil && c.WebhookSecret != "" && env != "":
		l.state, l.detail = stateOK, "set (GATEHOUSE_WEBHOOK_SECRET)"
	case c != nil && c.WebhookSecret != "":
		l.state, l.detail = stateOK, "set (stored by /setup)"
	case env != "":
		l.state, l.detail = stateOK, "set (GATEHOUSE_WEBHOOK_SECRET)"
	default:
		l.state, l.detail = stateFail, "not set: every webhook is answered 503"
		l.fix = "set GATEHOUSE_WEBHOOK_SECRET to the secret in the app's settings (Webhook secret)"
	}
	return l
}

// doctorPublicURL checks GATEHOUSE_PUBLIC_URL: set, well-formed, not a
// loopback address GitHub cannot reach, and answering /healthz from here.
func doctorPublicURL(ctx context.Context, raw string) line {
	l := line{name: "public URL"}
	if raw == "" {
		l.state, l.detail = stateWarn, "not set"
		l.fix = "set GATEHOUSE_PUBLIC_URL to the address GitHub and users reach gatehouse at (the /setup page and check run links use it)"
		return l
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		l.state, l.detail, l.fix = stateFail, fmt.Sprintf("%q is not an http(s) URL", raw), "set GATEHOUSE_PUBLIC_URL to e.g. https://gatehouse.example.com"
		return l
	}
	l.state, l.detail = stateOK, raw
	if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsPrivate()) {
		l.state = stateWarn
		l.detail += " is a local address"
		l.fix = "GitHub.com cannot deliver webhooks to it: use a public address or a tunnel (fine for GitHub Enterprise Server on the same network)"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(raw, "/")+"/healthz", nil)
	if err == nil {
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
	}
	if err != nil {
		if l.state == stateOK {
			l.state, l.fix = stateWarn, "is gatehouse serve running and reachable there? (a proxy may hide it from this host)"
		}
		l.detail += "; /healthz did not answer from here: " + shortErr(err)
	} else {
		l.detail += "; /healthz answers"
	}
	return l
}

func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// setupURL is where the setup page will be.
func setupURL(public string) string {
	if public == "" {
		public = "http://localhost:8080"
	}
	return strings.TrimSuffix(public, "/") + setup.PagePath
}
