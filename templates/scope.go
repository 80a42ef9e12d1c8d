package templates

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/checks"
)

// scopeLines says what a verdict looked at, so "scanned nothing" never looks
// like "found nothing". Each line is Markdown: paths, names and notes in it
// are escaped (markdown.go).
func scopeLines(d *CheckRunData) []string {
	var lines []string
	r := d.Range
	switch {
	case r.Kind == "pull_request" && r.Base != "":
		lines = append(lines, fmt.Sprintf("Range: base `%s` … head `%s` (pull request #%d)", short(r.Base), short(r.Head), r.PRNumber))
	case r.Kind == "push" && r.Base != "" && !r.NewRef:
		lines = append(lines, fmt.Sprintf("Range: pushed `%s..%s`", short(r.Base), short(r.Head)))
	case r.Kind == "push":
		lines = append(lines, fmt.Sprintf("Range: new branch, head `%s` alone (its commits not on the default branch)", short(r.Head)))
	case r.Kind == "merge_group" && r.Base != "":
		lines = append(lines, fmt.Sprintf("Range: merge group `%s` onto base `%s` (merge queue)", short(r.Head), short(r.Base)))
	case r.Kind == "baseline":
		lines = append(lines, fmt.Sprintf("Range: baseline of the default branch at `%s` (head alone)", short(r.Head)))
	default:
		lines = append(lines, fmt.Sprintf("Range: `%s` alone", short(r.Head)))
	}
	if res := d.Result; res != nil {
		s := res.Scope
		var what string
		switch res.Check {
		case checks.Secrets:
			if s.Commits > 0 {
				what = fmt.Sprintf("%d commits, %d files, %s scanned", s.Commits, s.Files, humanBytes(s.Bytes))
			} else {
				what = fmt.Sprintf("%d files, %s scanned", s.Files, humanBytes(s.Bytes))
			}
		case checks.Dependencies:
			if len(s.Inputs) > 0 {
				what = "Read " + list(mapStrings(s.Inputs, mdText), 10)
			}
			if !d.DBUpdatedAt.IsZero() {
				if what != "" {
					what += " · "
				}
				what += fmt.Sprintf("vulnerability DB of %s (%s)", d.DBUpdatedAt.UTC().Format("2006-01-02"), Age(d.DBUpdatedAt, d.Now))
			}
		case checks.IaC:
			if len(s.Inputs) > 0 {
				what = fmt.Sprintf("Checked %d files: %s", len(s.Inputs), list(mapStrings(s.Inputs, mdText), 10))
			}

		default:
			what = fmt.Sprintf("%d files, %s scanned", s.Files, humanBytes(s.Bytes))
		}
		if what != "" {
			lines = append(lines, what)
		}
		if c := customLine(res.Custom); c != "" {
			lines = append(lines, c)
		}
		lines = append(lines, mapStrings(s.Notes, mdText)...)
		if len(s.Skipped) > 0 {
			var sk []string
			for _, x := range s.Skipped {
				sk = append(sk, fmt.Sprintf("%s (%s)", mdCode(x.Path), mdText(x.Reason)))
			}
			lines = append(lines, fmt.Sprintf("Not scanned (%d): %s", len(sk), list(sk, 10)))
		}
		e := res.Engine
		engine := fmt.Sprintf("Engine: %s %s", e.Name, e.Version)
		if e.DataVersion != "" {
			engine += fmt.Sprintf(" (data %s)", e.DataVersion)
		}
		lines = append(lines, engine)
	}
	if d.PolicyHash != "" {
		src := "built-in defaults"
		if len(d.PolicySource) > 0 {
			src = strings.Join(mapStrings(d.PolicySource, mdText), " < ")
		}
		lines = append(lines, fmt.Sprintf("Policy: `%s` from %s", d.PolicyHash, src))
	}
	return lines
}

// customLine says which custom checks ran: "Custom checks: 2 ran (org
// `a.rego`, repo `b.rego`), 1 rejected".
func customLine(cs []checks.CustomStatus) string {
	if len(cs) == 0 {
		return ""
	}
	var ran []string
	rejected := 0
	for _, c := range cs {
		if c.Rejected != "" {
			rejected++
			continue
		}
		ran = append(ran, fmt.Sprintf("%s %s", mdText(c.Origin), mdCode(c.Name)))
	}
	line := fmt.Sprintf("Custom checks: %d ran", len(ran))
	if len(ran) > 0 {
		line += " (" + list(ran, 10) + ")"
	}
	if rejected > 0 {
		line += fmt.Sprintf(", %d rejected (see Rejected custom checks)", rejected)
	}
	return line
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// list joins up to max items and says how many more there are.
func list(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}

// mapStrings applies f to each of items.
func mapStrings(items []string, f func(string) string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = f(s)
	}
	return out
}
