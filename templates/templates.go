// Package templates holds the text users read — check run summaries and
// details, review comments, the summary comment — as embedded text/template
// files, and the functions that render them within GitHub's size limits.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

//go:embed *.md.tmpl
var files embed.FS

// GitHub's limits on what gatehouse writes.
const (
	MaxCheckRunText = 65535 // output.summary and output.text, each
	MaxCommentBody  = 65536 // issue and review comment bodies
)

var tmpl = template.Must(template.New("").Funcs(funcs).Funcs(template.FuncMap{
	"scope": scopeLines,
}).ParseFS(files, "*.md.tmpl"))

var funcs = template.FuncMap{
	"short": func(sha string) string {
		if len(sha) > 7 {
			return sha[:7]
		}
		return sha
	},
	"bytes": humanBytes,
	"icon": func(e checks.Evaluated) string {
		switch {
		case e.Blocking:
			return "🔴"
		case e.Status == checks.StatusExisting:
			return "⚪"
		default:
			return "🟡"
		}
	},
	// Markdown escaping, one function per context (markdown.go).
	"text":      mdText,
	"cell":      mdCell,
	"code":      mdCode,
	"cellCode":  mdCellCode,
	"link":      mdLink,
	"fix":       FixText,
	"date":      func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"join":      strings.Join,
	"add":       func(a, b int) int { return a + b },
	"limitNote": LimitNote,
	"rejectedCustom": func(r *checks.Result) []checks.CustomStatus {
		if r == nil {
			return nil
		}
		return r.RejectedCustom()
	},
}

// LimitNote tells a user which files a limit kept from a check and how to
// deal with it ("" when none was), in Markdown.
func LimitNote(v checks.Verdict) string {
	n := len(v.LimitHits)
	if n == 0 {
		return ""
	}
	var files []string
	for i, s := range v.LimitHits {
		if i == 5 {
			files = append(files, fmt.Sprintf("and %d more", n-5))
			break
		}
		files = append(files, fmt.Sprintf("%s (%s)", mdCode(s.Path), mdText(s.Reason)))
	}
	it, was := "it", "it was"
	if n > 1 {
		it, was = "them", "they were"
	}
	return fmt.Sprintf("A limit kept %d %s from this check, so %s not scanned: %s. Shrink or split %s, list %s in `paths.ignore`, or set `on_limit: neutral` in the policy to let such changes through.",
		n, plural(n, "file", "files"), was, strings.Join(files, ", "), it, it)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// FixText is the one-line fix users read for a finding: the upgrade for a
// vulnerable dependency, otherwise the engine's resolution text.
func FixText(f checks.Finding) string {
	r := f.Remediation
	switch {
	case r.Package != "" && r.FixedVersion != "":
		return fmt.Sprintf("upgrade %s %s → %s", r.Package, r.InstalledVersion, r.FixedVersion)
	case r.Package != "":
		return fmt.Sprintf("%s %s: no fixed version yet", r.Package, r.InstalledVersion)
	case r.Text != "":
		return r.Text
	}
	return ""
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// render executes a named template.
func render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return b.String(), nil
}
