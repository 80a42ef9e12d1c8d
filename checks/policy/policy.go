package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/checks"
)

// Policy is the effective policy for one repository: every setting with the
// layer it came from. It is immutable once resolved.
type Policy struct {
	values      map[string]origin
	exceptions  []Exception
	enforce     []string        // the org's enforce entries, as written
	enforced    map[string]bool // setting keys the org enforces
	enforcedBy  string          // the org file's name
	enforceLine int
	notes       []note
	sources     []SourceFile
	overlays    []overlay // environments.<name> of each layer, lowest first
}

// CheckPolicy is the effective policy of one check.
type CheckPolicy struct {
	Mode Mode
	// MinSeverity is the lowest severity that blocks; SeverityUnknown for
	// secrets, where every finding blocks.
	MinSeverity checks.Severity
	// OnlyFixed: only findings with a fixed version block (dependencies).
	OnlyFixed bool
	// IgnorePaths are doublestar globs of paths whose findings are
	// suppressed.
	IgnorePaths []string
	// ExtraRules names the extra rule sets the check runs besides its
	// default rules (secrets: checks.SecretRuleSets).
	ExtraRules []string
}

// Report holds the reporting switches.
type Report struct {
	ReviewComments bool
	ReviewEvent    string // ReviewRequestChanges or ReviewComment
	SummaryComment bool
	SarifUpload    bool
}

// Setting is one effective setting and where it came from, for
// `gatehouse policy explain`.
type Setting struct {
	Key      string `json:"key"`   // "checks.iac.min_severity", "exceptions[0]", "enforce"
	Value    string `json:"value"` // as written in the file ("high", `["vendor/**"]`)
	Source   Source `json:"source"`
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Enforced bool   `json:"enforced,omitempty"` // the org enforces it
}

// SourceFile is one layer that went into the policy.
type SourceFile struct {
	Source Source `json:"source"`
	Name   string `json:"name"`             // file name, "built-in" for defaults
	Digest string `json:"digest,omitempty"` // SHA-256 of the file's bytes
}

// Check returns the policy of the named check; false when the policy has no
// such check.
func (p *Policy) Check(name string) (CheckPolicy, bool) {
	pre := "checks." + name + "."
	m, ok := p.values[pre+"mode"]
	if !ok {
		return CheckPolicy{}, false
	}
	cp := CheckPolicy{Mode: m.val.(Mode), IgnorePaths: slices.Clone(p.values[pre+"paths.ignore"].val.([]string))}
	if o, ok := p.values[pre+"min_severity"]; ok {
		cp.MinSeverity = o.val.(checks.Severity)
	}
	if o, ok := p.values[pre+"only_fixed"]; ok {
		cp.OnlyFixed = o.val.(bool)
	}
	if o, ok := p.values[pre+"extra_rules"]; ok && len(o.val.([]string)) > 0 {
		cp.ExtraRules = slices.Clone(o.val.([]string))
	}
	return cp, true
}

// NewFindingsOnly reports whether only findings the change introduces block.
func (p *Policy) NewFindingsOnly() bool { return p.values["new_findings_only"].val.(bool) }

// OnError is the conclusion setting for a scan that cannot complete.
func (p *Policy) OnError() OnError { return p.values["on_error"].val.(OnError) }

// OnLimit is the conclusion of a check, in block mode and without blocking
// findings, that a limit kept from some files.
func (p *Policy) OnLimit() OnError { return p.values["on_limit"].val.(OnError) }

// Report returns the reporting switches.
func (p *Policy) Report() Report {
	return Report{
		ReviewComments: p.values["report.review_comments"].val.(bool),
		ReviewEvent:    p.values["report.review_event"].val.(string),
		SummaryComment: p.values["report.summary_comment"].val.(bool),
		SarifUpload:    p.values["report.sarif_upload"].val.(bool),
	}
}

// Suppressions is what becomes of the suppressions a change brings for its
// own findings.
type Suppressions struct {
	FromChange FromChange
	// Approvers are the users and org/team slugs whose approval applies
	// them; empty: anyone with write access (never the author).
	Approvers []string
}

// Suppressions returns the suppressions settings.
func (p *Policy) Suppressions() Suppressions {
	return Suppressions{
		FromChange: p.values["suppressions.from_change"].val.(FromChange),
		Approvers:  slices.Clone(p.values["suppressions.approvers"].val.([]string)),
	}
}

// Exceptions returns the effective exceptions, lowest layer first.
func (p *Policy) Exceptions() []Exception { return slices.Clone(p.exceptions) }

// Notes says how the policy was resolved: settings held back by the org's
// enforce list, ignored exceptions and enforce lists.
func (p *Policy) Notes() []string {
	out := make([]string, len(p.notes))
	for i, n := range p.notes {
		out[i] = n.text
	}
	return out
}

// notesFor returns the notes a check's verdict shows: those about the check
// and those about settings every check shares.
func (p *Policy) notesFor(check string) []string {
	var out []string
	for _, n := range p.notes {
		if !strings.HasPrefix(n.key, "checks.") || strings.HasPrefix(n.key, "checks."+check+".") {
			out = append(out, n.text)
		}
	}
	return out
}

// notesWithPrefix returns the notes about settings under prefix.
func (p *Policy) notesWithPrefix(prefix string) []string {
	var out []string
	for _, n := range p.notes {
		if strings.HasPrefix(n.key, prefix) {
			out = append(out, n.text)
		}
	}
	return out
}

// Sources lists the layers that went into the policy, lowest first; the
// built-in defaults are always first.
func (p *Policy) Sources() []SourceFile { return slices.Clone(p.sources) }

// Explain lists every effective setting with where it came from: the
// settings in canonical order, then each exception, then the org's enforce
// list.
func (p *Policy) Explain() []Setting {
	var out []Setting
	for _, d := range defs {
		o := p.values[d.key]
		out = append(out, Setting{Key: d.key, Value: display(o.val), Source: o.source, File: o.file, Line: o.line, Enforced: p.enforced[d.key]})
	}
	for i, e := range p.exceptions {
		out = append(out, Setting{Key: fmt.Sprintf("exceptions[%d]", i), Value: e.summary(), Source: e.Source, File: e.File, Line: e.Line,
			Enforced: p.enforced[keyExceptions]})
	}
	if len(p.enforce) > 0 {
		out = append(out, Setting{Key: "enforce", Value: display(p.enforce), Source: SourceOrg, File: p.enforcedBy, Line: p.enforceLine})
	}
	return out
}

// summary renders an exception on one line for Explain.
func (e Exception) summary() string {
	s := e.ID
	if len(e.Paths) > 0 {
		s += " paths=" + display(e.Paths)
	}
	if e.Owner != "" {
		s += " owner=" + e.Owner
	}
	if d := e.ExpiresOn(); d != "" {
		s += " expires=" + d
	}
	return s + " reason=" + fmt.Sprintf("%q", e.Reason)
}

// canonicalSetting is one setting in the canonical form.
type canonicalSetting struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// canonicalException is an exception in the canonical form (where it was
// written does not change decisions, so it is left out).
type canonicalException struct {
	ID      string   `json:"id"`
	Paths   []string `json:"paths"`
	Reason  string   `json:"reason"`
	Owner   string   `json:"owner"`
	Expires string   `json:"expires"`
}

// Canonical is the resolved policy as deterministic JSON: every setting in
// canonical order, the exceptions in order, the enforced setting keys
// sorted. Equal policies have equal bytes whatever files they came from.
func (p *Policy) Canonical() []byte {
	c := struct {
		Version    int                  `json:"version"`
		Settings   []canonicalSetting   `json:"settings"`
		Exceptions []canonicalException `json:"exceptions"`
		Enforced   []string             `json:"enforced"`
	}{Version: Version, Settings: []canonicalSetting{}, Exceptions: []canonicalException{}, Enforced: []string{}}
	for _, d := range defs {
		c.Settings = append(c.Settings, canonicalSetting{d.key, display(p.values[d.key].val)})
	}
	for _, e := range p.exceptions {
		paths := e.Paths
		if paths == nil {
			paths = []string{}
		}
		c.Exceptions = append(c.Exceptions, canonicalException{e.ID, paths, e.Reason, e.Owner, e.ExpiresOn()})
	}
	for k := range p.enforced {
		c.Enforced = append(c.Enforced, k)
	}
	sort.Strings(c.Enforced)
	b, _ := json.Marshal(c) // strings and ints only: cannot fail
	return b
}

// Hash is the SHA-256 (hex) of Canonical: the identity of the policy a
// verdict was computed with.
func (p *Policy) Hash() string {
	sum := sha256.Sum256(p.Canonical())
	return hex.EncodeToString(sum[:])
}

// ShortHash is the first 12 hex digits of Hash, for display.
func (p *Policy) ShortHash() string { return p.Hash()[:12] }
