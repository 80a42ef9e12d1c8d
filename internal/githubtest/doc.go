// Package githubtest is the fake GitHub that gatehouse's end-to-end tests talk
// to: a real HTTP server (httptest) that behaves like api.github.com for the
// operations gatehouse uses, and rejects what GitHub rejects.
//
// Every API request is checked against GitHub's published REST description
// (the subset kept in testdata/github/api.github.com.subset.json, cut from
// the npm package @octokit/openapi by scripts/extract-openapi.js). A request
// that does not match it, or that hits a route GitHub does not have, fails
// the test and gets the status GitHub would give. GitHub's limits are
// enforced the same way: 50 annotations per check-run request, 65,535
// characters of check-run text, 65,536 characters of comment body, review
// comments only on lines inside the pull request's diff. Every 2xx JSON
// answer the fake gives is itself checked against the description, so the
// fake cannot drift from GitHub's shapes unnoticed.
//
// Authentication is GitHub App authentication: the server owns an RSA key
// (PrivateKeyPEM), accepts app JWTs on /app routes, hands out installation
// tokens that live one hour, and answers repository routes only for a token
// whose installation covers the repository.
//
// Code is served by real git: each repository is a bare repository on disk,
// served with `git http-backend` at <URL>/<owner>/<name>.git (basic auth
// x-access-token:<token>, as on GitHub), and by the tarball endpoint (a
// redirect to a codeload-like URL that streams `git archive`). Pull request
// diffs, files and review-comment positions are computed with `git diff`
// from the same repositories.
//
// The server keeps no package-level state except the parsed description,
// which is loaded once per process.
package githubtest
