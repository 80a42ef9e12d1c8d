package templates

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io"
)

// The setup pages are HTML, rendered with html/template so everything
// they show is escaped for its context. They load nothing from elsewhere
// (no scripts, fonts or images) and read the same without JavaScript.
//
//go:embed setup*.html.tmpl
var htmlFiles embed.FS

var htmlTmpl = htmltemplate.Must(htmltemplate.New("").ParseFS(htmlFiles, "setup*.html.tmpl"))

// SetupPage is what /setup shows before the app exists.
type SetupPage struct {
	AppName     string
	Description string
	GitHubWeb   string // GitHub's web URL the app is created on
	Events      []SetupItem
	Permissions []SetupItem
	Notes       []string // app.yml's other comments on events and permissions
	WebhookURL  string
	CallbackURL string
	// PublicURLGuessed is set when GATEHOUSE_PUBLIC_URL is unset and the
	// URLs come from the address the page was opened at.
	PublicURLGuessed bool
	Manifest         string // the manifest JSON the forms post
	PagePath         string // the page's own path, for the organization form
	PersonalAction   string // GitHub's form URL for a personal account, with the state
	Org              string // the organization typed in, if any
	OrgAction        string // GitHub's form URL for Org, when Org is valid
	OrgError         string // why Org is not valid
	Expires          string // how long the forms work, e.g. "1 hour"
}

// SetupItem is an event or a permission and why the app needs it.
type SetupItem struct {
	Name  string
	Level string // permissions only
	Why   string
}

// SetupDone is what the callback shows once the app is created.
type SetupDone struct {
	AppID           int64
	Slug            string
	Owner           string
	InstallURL      string // GitHub's page to install the app
	SettingsURL     string // the app's settings on GitHub
	WebhookURL      string
	CredentialsFile string
	// SwitchError is why gatehouse could not start using the app without
	// a restart ("" when it did).
	SwitchError string
}

// SetupError is a setup page that could not do what was asked.
type SetupError struct {
	Title      string
	Message    string
	RestartURL string // a link to start again, or ""
}

// RenderSetupPage writes the /setup page.
func RenderSetupPage(w io.Writer, p SetupPage) error { return renderHTML(w, "setup.html.tmpl", p) }

// RenderSetupDone writes the page shown after the app is created.
func RenderSetupDone(w io.Writer, p SetupDone) error {
	return renderHTML(w, "setup_done.html.tmpl", p)
}

// RenderSetupError writes a setup error page.
func RenderSetupError(w io.Writer, p SetupError) error {
	return renderHTML(w, "setup_error.html.tmpl", p)
}

// renderHTML renders into a buffer first, so a failing template never
// sends half a page.
func renderHTML(w io.Writer, name string, data any) error {
	var b bytes.Buffer
	if err := htmlTmpl.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
