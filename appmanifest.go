// Package gatehouse holds what belongs to the repository as a whole: the
// GitHub App manifest (app.yml), embedded so the binary's /setup page and
// the documented manual steps use one source of truth.
package gatehouse

import _ "embed" // for go:embed

//go:embed app.yml
var appManifest string

// AppManifest returns app.yml: the events gatehouse subscribes to and the
// least permissions it needs, with a comment saying why for each.
func AppManifest() []byte { return []byte(appManifest) }
