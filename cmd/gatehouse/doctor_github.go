package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/recovery"
	"github.com/gatehouse/gatehouse/app/setup"
)

// doctorGitHub checks that GitHub accepts the app's JWT, and counts its
// installations and their repositories.
func doctorGitHub(ctx context.Context, urls ghclient.URLs, c setup.Credentials) []line {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	api := line{name: "GitHub API"}
	insts := line{name: "installations"}
	f, err := ghclient.New(ghclient.Config{
		URLs: urls, AppID: c.AppID, PrivateKey: c.PrivateKey, Logger: slog.New(slog.DiscardHandler),
		MaxRetries: 1, RetryBaseDelay: 200 * time.Millisecond, MaxRateLimitWait: 5 * time.Second,
	})
	if err != nil {
		api.state, api.detail, api.fix = stateFail, err.Error(), "use the .pem file from the app's settings page (Private keys), or run gatehouse setup --reset"
		insts.state, insts.detail = stateSkip, "no usable key"
		return []line{api, insts}
	}
	gh, err := f.App()
	if err != nil {
		api.state, api.detail = stateFail, err.Error()
		return []line{api, {name: "installations", state: stateSkip, detail: "no GitHub client"}}
	}
	app, resp, err := gh.Apps.Get(ctx, "")
	if err != nil {
		api.state, api.detail = stateFail, "GET /app: "+githubError(resp, err)
		api.fix = "check GATEHOUSE_GITHUB_URL and the network to " + urls.API.String()
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			api.fix = "the app id and private key do not belong together, or the key was deleted: download a new key from the app's settings page, or run gatehouse setup --reset"
		}
		return []line{api, {name: "installations", state: stateSkip, detail: "GitHub refused the app"}}
	}
	api.state, api.detail = stateOK, fmt.Sprintf("GET /app accepted the app's token: %s on %s", app.GetSlug(), urls.API)
	lines := doctorInstallations(ctx, f, gh, urls, app, api, insts)
	return append(lines, doctorDeliveries(ctx, gh, time.Now()))
}

// doctorDeliveries reports the deliveries of the last day that GitHub
// could not hand to gatehouse (down, refused under overload, wrong secret).
func doctorDeliveries(ctx context.Context, gh *github.Client, now time.Time) line {
	l := line{name: "webhook deliveries"}
	missed, attempts, err := recovery.Failed(ctx, gh, now.Add(-24*time.Hour))
	if err != nil {
		l.state, l.detail, l.fix = stateWarn, "GET /app/hook/deliveries: "+err.Error(), "check the network to GitHub and run doctor again"
		return l
	}
	if len(missed) == 0 {
		l.state, l.detail = stateOK, fmt.Sprintf("none failed in the last 24 hours (%s)", plural(attempts, "attempt"))
		return l
	}
	newest := missed[0]
	status := "could not connect"
	if newest.StatusCode != 0 {
		status = fmt.Sprintf("answered %d", newest.StatusCode)
	}
	l.state = stateWarn
	l.detail = fmt.Sprintf("%s failed in the last 24 hours; the newest, %s %s, %s at %s", plural(len(missed), "delivery"),
		newest.Event, newest.GUID, status, newest.At.UTC().Format(time.RFC3339))
	l.fix = "gatehouse serve asks GitHub to redeliver failed deliveries (GATEHOUSE_RECOVERY_INTERVAL); if they keep failing, check the webhook URL and secret in the app's settings and the logs for \"webhook refused\""
	return l
}

// doctorInstallations counts the app's installations and their
// repositories.
func doctorInstallations(ctx context.Context, f *ghclient.Factory, gh *github.Client, urls ghclient.URLs, app *github.App, api, insts line) []line {
	install := urls.Web.JoinPath("apps", app.GetSlug(), "installations", "new").String()

	var all []*github.Installation
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := gh.Apps.ListInstallations(ctx, opts)
		if err != nil {
			insts.state, insts.detail, insts.fix = stateFail, "GET /app/installations: "+githubError(resp, err), "check the network to GitHub and run doctor again"
			return []line{api, insts}
		}
		all = append(all, page...)
		if resp.NextPage == 0 || len(all) >= 1000 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(all) == 0 {
		insts.state, insts.detail, insts.fix = stateFail, "the app is not installed anywhere", "install it on the repositories to check: "+install
		return []line{api, insts}
	}
	const maxCounted = 50
	repos, counted, accounts := 0, 0, []string{}
	var countErr error
	for _, inst := range all {
		accounts = append(accounts, inst.GetAccount().GetLogin())
		if counted == maxCounted {
			continue
		}
		counted++
		ic, err := f.Installation(inst.GetID())
		if err == nil {
			var list *github.ListRepositories
			list, _, err = ic.Apps.ListRepos(ctx, &github.ListOptions{PerPage: 1})
			if err == nil {
				repos += list.GetTotalCount()
			}
		}
		if err != nil && countErr == nil {
			countErr = fmt.Errorf("installation %d (%s): %w", inst.GetID(), inst.GetAccount().GetLogin(), err)
		}
	}
	insts.state = stateOK
	insts.detail = fmt.Sprintf("%s (%s), %s", plural(len(all), "installation"), strings.Join(accounts, ", "), plural(repos, "repository"))
	if counted < len(all) {
		insts.detail += fmt.Sprintf(" in the first %d", counted)
	}
	if countErr != nil {
		insts.state, insts.fix = stateWarn, "could not count every installation's repositories: "+countErr.Error()
	} else if repos == 0 {
		insts.state, insts.fix = stateWarn, "add repositories to the installation: "+install
	}
	return []line{api, insts}
}

// githubError is a short description of a failed GitHub call.
func githubError(resp *github.Response, err error) string {
	if resp != nil && resp.Response != nil {
		return resp.Status
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
