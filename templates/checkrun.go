package templates

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/checks"
)

// Range says what a verdict compared.
type Range struct {
	Kind     string // "pull_request", "push", "baseline", "merge_group", "rerun", "local"
	Base     string // base commit (pull request) or before (push); empty: head alone
	Head     string
	NewRef   bool // push of a new branch: head alone, said so
	PRNumber int
}

// CheckRunData is everything a check run's output shows.
type CheckRunData struct {
	Verdict      checks.Verdict
	Result       *checks.Result // nil when the scan failed
	Range        Range
	PolicyHash   string
	PolicySource []string
	DBUpdatedAt  time.Time // dependencies only; zero when unknown
	Now          time.Time
	DetailsURL   string

	// Filled by CheckRun while truncating.
	Rows    []checks.Evaluated
	Omitted int
}

// CheckRunOutput is a rendered check run output.
type CheckRunOutput struct {
	Title   string
	Summary string
	Text    string
}

// CheckRun renders a check run's title, summary and text, keeping summary
// and text within GitHub's 65,535 characters: when the findings do not fit,
// the table is cut and says how many were left out and where to see them.
func CheckRun(d CheckRunData) (CheckRunOutput, error) {
	rows := append([]checks.Evaluated(nil), d.Verdict.Findings...)
	checks.SortEvaluated(rows)
	d.Rows, d.Omitted = rows, 0
	title := d.Verdict.Title
	if len(title) > 250 {
		title = title[:247] + "..."
	}
	summary, err := fit("checkrun_summary.md.tmpl", &d, rows)
	if err != nil {
		return CheckRunOutput{}, err
	}
	text, err := fit("checkrun_text.md.tmpl", &d, rows)
	if err != nil {
		return CheckRunOutput{}, err
	}
	return CheckRunOutput{Title: title, Summary: summary, Text: text}, nil
}

// fit renders the template with as many rows as fit in MaxCheckRunText.
func fit(name string, d *CheckRunData, rows []checks.Evaluated) (string, error) {
	return fitRows(len(rows), MaxCheckRunText, "\n\n… output truncated to GitHub's limit.", func(n int) (string, error) {
		d.Rows, d.Omitted = rows[:n], len(rows)-n
		return render(name, d)
	})
}

// Age renders how old a timestamp is, in days.
func Age(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 24*time.Hour:
		return "less than a day old"
	case d < 48*time.Hour:
		return "1 day old"
	}
	return fmt.Sprintf("%d days old", int(d.Hours()/24))
}
