package verdict

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/gatehouse/gatehouse/checks"
)

// unit is a checks.Unit with its cache key. A key hashes the check, the
// engine key (engine, rules, check bundle and DB versions), the options the
// target carries that change findings (ignore files and their origin, rule
// sets: see optionsKey), the unit's kind and path and each file's path,
// mode and blob id, so the same content with the same engine is never
// scanned twice and any change is a new key.
type unit struct {
	checks.Unit
	key string
}

// unitResult is what the cache holds for a unit.
type unitResult struct {
	Findings   []checks.Finding    `json:"findings,omitempty"`
	Suppressed []checks.Suppressed `json:"suppressed,omitempty"`
	Inputs     []string            `json:"inputs,omitempty"`
	Skipped    []checks.Skip       `json:"skipped,omitempty"`
	Notes      []string            `json:"notes,omitempty"`
	Files      int                 `json:"files"`
	Bytes      int64               `json:"bytes"`
	SBOM       []byte              `json:"sbom,omitempty"`
}

// tree is a revision's files as the units see them.
type tree struct {
	files   []checks.File // at hand
	missing []checks.File // over the fetch size limit: not at hand
}

func newTree(files []checks.File) *tree {
	t := &tree{}
	for _, f := range files {
		if f.Missing() {
			t.missing = append(t.missing, f)
		} else {
			t.files = append(t.files, f)
		}
	}
	return t
}

func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// optionsKey hashes what a target carries besides where to read (ignore
// files, their origin, rule sets, custom checks when withCustom): every
// field of checks.Target that can change findings is part of the key by
// construction, so a new option cannot be left out of it.
func optionsKey(t checks.Target, withCustom bool) string {
	t.Dir, t.Paths, t.HeadRev, t.BaseRev = "", nil, "", ""
	if !withCustom {
		t.Custom = nil
	}
	b, err := json.Marshal(t)
	if err != nil {
		panic(err) // plain data always marshals
	}
	return hashKey(string(b))
}

// units splits the tree into check's units with the check's splitter and
// keys them. A check with nothing to read gets one "empty" unit: what it
// says about an empty tree ("no lockfiles") is cached too.
func (t *tree) units(check string, sp checks.Splitter, engine, options string) []*unit {
	var out []*unit
	for _, u := range sp.Units(t.files) {
		parts := []string{u.Kind, check, engine, options, u.Path}
		for _, f := range u.Files {
			parts = append(parts, f.Path, f.Mode, f.OID)
		}
		if u.Kind == "set" {
			// A set is evaluated whole: a file it would read that is not at
			// hand changes what it reports.
			for _, f := range t.missingFor(sp) {
				parts = append(parts, f.Path, f.OID)
			}
		}
		out = append(out, &unit{Unit: u, key: hashKey(parts...)})
	}
	if len(out) == 0 {
		out = append(out, &unit{Unit: checks.Unit{Kind: "empty"}, key: hashKey("empty", check, engine, options)})
	}
	return out
}

// missingFor lists the files not at hand that the check may read.
func (t *tree) missingFor(sp checks.Splitter) []checks.File {
	var out []checks.File
	for _, f := range t.missing {
		if sp.MayRead(f.Path) {
			out = append(out, f)
		}
	}
	return out
}

// owner returns the unit a finding in file p belongs to (nil: none). A set
// owns what no file or directory unit does: Terraform findings may point
// into any module it loads, dependency findings at any manifest.
func owner(units []*unit, p string) *unit {
	var set *unit
	for _, u := range units {
		if u.Owns(p) {
			return u
		}
		if u.Kind == "set" && set == nil {
			set = u
		}
	}
	return set
}

// materializeFiles lists the files to write for the units to scan.
func materializeFiles(units []*unit) []checks.File {
	seen := map[string]bool{}
	var out []checks.File
	for _, u := range units {
		for _, f := range u.Files {
			if !seen[f.Path] {
				seen[f.Path] = true
				out = append(out, f)
			}
		}
	}
	slices.SortFunc(out, func(a, b checks.File) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return out
}
