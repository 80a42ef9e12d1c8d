package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Source is the layer a setting comes from. Layers are ordered: a higher
// one overrides a lower one, except where the org file enforces.
type Source int

// The layers, lowest first.
const (
	SourceDefault Source = iota // built-in defaults
	SourceServer                // the server-wide file (GATEHOUSE_POLICY_FILE)
	SourceOrg                   // the org's .github repository
	SourceRepo                  // the repository itself
)

var sourceNames = [...]string{"default", "server", "org", "repo"}

// String returns "default", "server", "org" or "repo".
func (s Source) String() string {
	if s < 0 || int(s) >= len(sourceNames) {
		return fmt.Sprintf("source(%d)", int(s))
	}
	return sourceNames[s]
}

// MarshalText writes the source's name (JSON output of explain).
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Layer is one policy file and where it sits. A nil File means the layer
// has no file (the repository has none); it is skipped.
type Layer struct {
	Source Source
	File   *File
}

// origin is an effective value and where it was set.
type origin struct {
	val    any
	source Source
	file   string
	line   int
}

// note is a sentence about how the policy was resolved; key is the setting
// it is about, so a verdict shows only the notes about its check.
type note struct {
	key  string
	text string
}

// Resolve merges the layers over the built-in defaults, lowest first: server,
// org, repo, each at most once and in that order (a layer with a nil File
// is skipped). A higher layer replaces what a lower one set (lists
// included) and adds its exceptions to theirs.
//
// The org file's enforce list names settings the repo file may only
// tighten: a mode only towards block, min_severity only lower, only_fixed
// and new_findings_only only true→false, on_error only to fail, a
// paths.ignore list only to a subset; report settings, which have no
// stricter side, are locked. With "exceptions" enforced the repo file's
// exceptions are ignored (leave it out of enforce to let repos add their
// own). A held-back attempt is never an error: the org's value stays and
// Notes says what was held. enforce in a server or repo file is ignored,
// with a note.
//
// Resolve fails only when the layers are out of order.
func Resolve(layers ...Layer) (*Policy, error) {
	p := &Policy{
		values:   map[string]origin{},
		enforced: map[string]bool{},
		sources:  []SourceFile{{Source: SourceDefault, Name: "built-in"}},
	}
	for _, d := range defs {
		p.values[d.key] = origin{val: d.dflt, source: SourceDefault, file: "built-in"}
	}
	last := SourceDefault
	for _, l := range layers {
		if l.Source <= last || l.Source > SourceRepo {
			return nil, fmt.Errorf("resolve policy: layer %s after %s (want server, org, repo in that order, each at most once)", l.Source, last)
		}
		last = l.Source
		if l.File == nil {
			continue
		}
		p.sources = append(p.sources, SourceFile{Source: l.Source, Name: l.File.Name, Digest: l.File.digest})
		p.apply(l.Source, l.File, "")
		for name, f := range l.File.environments {
			p.overlays = append(p.overlays, overlay{source: l.Source, env: name, file: f})
		}
	}
	return p, nil
}

// overlay is one layer's environments.<name> entry.
type overlay struct {
	source Source
	env    string // lower-cased
	file   *File
}

// Environment returns the policy a deployment to the named environment is
// judged by: the policy with each layer's environments.<name> overlay laid
// over it, server first, then org, then repo. The org's enforce list holds
// for the repo's overlays as for its top level (the org's own overlays may
// set what they like). ok is false when no layer has an overlay for the
// environment; the policy is then p itself.
func (p *Policy) Environment(name string) (env *Policy, ok bool) {
	name = strings.ToLower(name)
	var found []overlay
	for _, o := range p.overlays {
		if o.env == name {
			found = append(found, o)
		}
	}
	if len(found) == 0 {
		return p, false
	}
	e := &Policy{
		values: maps.Clone(p.values), exceptions: slices.Clone(p.exceptions), enforce: p.enforce, enforced: p.enforced,
		enforcedBy: p.enforcedBy, enforceLine: p.enforceLine, notes: slices.Clone(p.notes), sources: p.sources,
	}
	for _, o := range found {
		e.apply(o.source, o.file, "environments."+name+".")
	}
	return e, true
}

// Default returns the built-in policy.
func Default() *Policy {
	p, _ := Resolve() // no layers cannot be out of order
	return p
}

// apply lays file f from layer src over the policy; prefix names an
// environment overlay ("environments.production.") in notes. The org's
// enforce list binds the layers above the org.
func (p *Policy) apply(src Source, f *File, prefix string) {
	for _, d := range defs {
		fv, ok := f.set[d.key]
		if !ok {
			continue
		}
		cur := p.values[d.key]
		if src > SourceOrg && p.enforced[d.key] && !allowed(d, cur.val, fv.val) {
			p.notes = append(p.notes, note{d.key, fmt.Sprintf("%s %s:%d tried to set %s%s to %s; held at %s by org enforce (%s)",
				src, f.Name, fv.line, prefix, d.key, display(fv.val), display(cur.val), p.enforcedBy)})
			continue
		}
		p.values[d.key] = origin{val: fv.val, source: src, file: f.Name, line: fv.line}
	}
	for _, e := range f.exceptions {
		if src > SourceOrg && p.enforced[keyExceptions] {
			p.notes = append(p.notes, note{keyExceptions, fmt.Sprintf("%s %s:%d: exception %s ignored: exceptions are enforced by the org (%s)",
				src, f.Name, e.Line, e.ID, p.enforcedBy)})
			continue
		}
		e.Source = src
		p.exceptions = append(p.exceptions, e)
	}
	if len(f.enforce) == 0 {
		return
	}
	if src != SourceOrg {
		p.notes = append(p.notes, note{"enforce", fmt.Sprintf("%s %s:%d: enforce is ignored here; only the org file can enforce settings",
			src, f.Name, f.enforce[0].line)})
		return
	}
	p.enforcedBy = f.Name
	p.enforceLine = f.enforce[0].line
	for _, e := range f.enforce {
		p.enforce = append(p.enforce, e.name)
		for _, k := range expandEnforce(e.name) {
			p.enforced[k] = true
		}
	}
}
