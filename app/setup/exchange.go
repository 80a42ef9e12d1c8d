package setup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-github/v88/github"

	"github.com/gatehouse/gatehouse/app/ghclient"
)

// exchange trades the code GitHub put in the callback URL for the new
// app's credentials and the URL of the app's settings page: POST {API}/app-manifests/{code}/conversions, which
// takes no authentication (the code is the proof, valid once, for an
// hour). It is the one GitHub call made without an app, so it cannot go
// through ghclient.Factory, which needs the app's id and key.
func exchange(ctx context.Context, urls ghclient.URLs, transport http.RoundTripper, code string) (Credentials, string, error) {
	opts := []github.ClientOptionsFunc{github.WithUserAgent("gatehouse")}
	if transport != nil {
		opts = append(opts, github.WithTransport(transport))
	}
	if urls.API.Host != "api.github.com" {
		api := urls.API.String()
		opts = append(opts, github.WithURLs(&api, &api))
	}
	gh, err := github.NewClient(opts...)
	if err != nil {
		return Credentials{}, "", fmt.Errorf("GitHub client: %w", err)
	}
	app, resp, err := gh.Apps.CompleteAppManifest(ctx, code)
	if err != nil {
		return Credentials{}, "", conversionError(resp, err)
	}
	c := Credentials{
		AppID: app.GetID(), Slug: app.GetSlug(), Name: app.GetName(), Owner: app.GetOwner().GetLogin(),
		HTMLURL: app.GetHTMLURL(), GitHubURL: urls.Web.String(),
		ClientID: app.GetClientID(), ClientSecret: app.GetClientSecret(), WebhookSecret: app.GetWebhookSecret(),
		PrivateKey: []byte(app.GetPEM()),
	}
	switch {
	case c.AppID <= 0 || c.Slug == "":
		return Credentials{}, "", errors.New("GitHub's answer has no app id or slug")
	case c.WebhookSecret == "":
		return Credentials{}, "", errors.New("GitHub's answer has no webhook secret")
	}
	if err := checkKey(c.PrivateKey); err != nil {
		return Credentials{}, "", fmt.Errorf("GitHub's answer: %w", err)
	}
	settings := urls.Web.JoinPath("settings", "apps", c.Slug)
	if app.GetOwner().GetType() == "Organization" {
		settings = urls.Web.JoinPath("organizations", c.Owner, "settings", "apps", c.Slug)
	}
	return c, settings.String(), nil
}

// conversionError describes a failed conversion without the request URL:
// it holds the code, which stays valid until used and must not reach a log.
func conversionError(resp *github.Response, err error) error {
	if resp != nil && resp.Response != nil {
		msg := ""
		var er *github.ErrorResponse
		if errors.As(err, &er) && er.Message != "" {
			msg = ": " + er.Message
		}
		return fmt.Errorf("GitHub answered the manifest conversion with %s%s", resp.Status, msg)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("manifest conversion: %w", err)
}
