package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/checks"
)

// JSONVersion is the version of the document JSON writes. It changes only
// when a field changes meaning or goes away; new fields may appear without
// a change.
const JSONVersion = 1

// JSONDocument is the document JSON writes, the stable machine-readable
// output of `gatehouse scan --format json`. Slices are never null.
type JSONDocument struct {
	Version     int         `json:"version"`                // JSONVersion
	Target      string      `json:"target"`                 // what was scanned
	Base        string      `json:"base,omitempty"`         // base revision of the scanned range
	Head        string      `json:"head,omitempty"`         // head revision of the scanned range
	ToolVersion string      `json:"tool_version,omitempty"` // gatehouse's version
	Policy      JSONPolicy  `json:"policy"`
	Checks      []JSONCheck `json:"checks"`    // in the report's verdict order
	Blocking    int         `json:"blocking"`  // blocking findings over all checks
	ExitCode    int         `json:"exit_code"` // what gatehouse scan exits with (see ExitCode)
}

// JSONPolicy identifies the policy the verdicts were computed with.
type JSONPolicy struct {
	Hash    string   `json:"hash"`
	Sources []string `json:"sources"`
}

// JSONCheck is one check: what ran, what it looked at, what it found and
// what the policy decided.
type JSONCheck struct {
	Check string `json:"check"`
	Mode  string `json:"mode,omitempty"` // block, warn or off
	// Engine and Scope are absent when the scan produced no result.
	Engine     *checks.Engine    `json:"engine,omitempty"`
	Conclusion checks.Conclusion `json:"conclusion"`
	Title      string            `json:"title"`
	Blocking   int               `json:"blocking"`
	Scope      *checks.Scope     `json:"scope,omitempty"`
	// Findings are sorted by file, line and rule; each carries the
	// policy's status (new/existing), blocking flag and reason.
	Findings []checks.Evaluated `json:"findings"`
	// Suppressed are findings an ignore convention or policy exception
	// removed, with the reason, sorted like Findings.
	Suppressed []checks.Suppressed `json:"suppressed"`
	// PendingApproval are suppressions the change brought for its own
	// findings that wait for an approval (suppressions.from_change); their
	// findings are judged as if unsuppressed and listed in Findings.
	PendingApproval []checks.Suppressed `json:"pending_approval,omitempty"`
	Notes           []string            `json:"notes"`
	Error           string              `json:"error,omitempty"` // why the scan could not complete
}

// Document builds the JSON document of r without writing it.
func Document(r *Report) (*JSONDocument, error) {
	cvs, err := views(r)
	if err != nil {
		return nil, err
	}
	doc := &JSONDocument{
		Version:     JSONVersion,
		Target:      r.Target,
		Base:        r.Base,
		Head:        r.Head,
		ToolVersion: r.ToolVersion,
		Policy:      JSONPolicy{Hash: r.PolicyHash, Sources: nonNil(r.PolicySources)},
		Checks:      make([]JSONCheck, 0, len(cvs)),
		Blocking:    blocking(cvs),
		ExitCode:    ExitCode(r),
	}
	for _, cv := range cvs {
		v := cv.verdict
		c := JSONCheck{
			Check:           v.Check,
			Mode:            v.Mode,
			Conclusion:      v.Conclusion,
			Title:           v.Title,
			Blocking:        v.Blocking(),
			Findings:        nonNil(cv.findings),
			Suppressed:      nonNil(cv.suppressed),
			PendingApproval: v.Pending,
			Notes:           nonNil(v.Notes),
			Error:           v.Error,
		}
		if cv.result != nil {
			e, s := cv.result.Engine, cv.result.Scope
			c.Engine, c.Scope = &e, &s
		}
		doc.Checks = append(doc.Checks, c)
	}
	return doc, nil
}

// JSON writes r as an indented JSONDocument followed by a newline. The same
// report always gives the same bytes.
func JSON(w io.Writer, r *Report) error {
	doc, err := Document(r)
	if err != nil {
		return err
	}
	b, err := marshalIndent(doc)
	if err != nil {
		return fmt.Errorf("encode json report: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// marshalIndent encodes v with two-space indentation and without HTML
// escaping: the output is read by people and tools, never embedded in HTML.
func marshalIndent(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
