package worker

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/deps"
)

// A unit is what one check evaluates as a whole, and what its findings are
// cached by: a file for secrets (directory mode) and for single-file IaC
// (Kubernetes, CloudFormation, ARM, Dockerfile, chart archives); a Helm
// chart directory (its tree id); and, because their files are evaluated
// together across directories, the set of all Terraform files and the set
// of all dependency manifests. A unit's key hashes the check, the engine
// key (engine, rules, check bundle and DB versions), the unit's paths and
// object ids, and the ignore files in force, so the same content with the
// same engine is never scanned twice and any change is a new key.
type unit struct {
	check string
	kind  string // "file", "chart", "set" or "empty"
	path  string // file path or chart directory ("" for sets)
	key   string
	files []gitfetch.Entry // the blobs a scan of the unit reads
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

// tree is a commit's tree as the units see it.
type tree struct {
	files   []gitfetch.Entry // regular files and symlinks (as files), safe paths
	trees   map[string]string
	missing []gitfetch.Entry // blobs over the fetch size limit
	ignore  []gitfetch.Entry // root ignore files
	rootID  string
}

func newTree(entries []gitfetch.Entry, rootID string) *tree {
	t := &tree{trees: map[string]string{".": rootID}, rootID: rootID}
	for _, e := range entries {
		switch {
		case e.Type == "tree":
			t.trees[e.Path] = e.OID
		case e.Type != "blob" || !gitfetch.SafePath(e.Path):
			// submodules are not checked out; unsafe paths never written
		case e.Missing():
			t.missing = append(t.missing, e)
		default:
			t.files = append(t.files, e)
			if slices.Contains(checks.IgnoreFiles, e.Path) {
				t.ignore = append(t.ignore, e)
			}
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

// ignoreKey names the ignore files in force (path and blob).
func (t *tree) ignoreKey() string {
	var b strings.Builder
	for _, e := range t.ignore {
		fmt.Fprintf(&b, "%s=%s;", e.Path, e.OID)
	}
	return b.String()
}

// units splits the tree into check's units, keyed with engine.
func (t *tree) units(check, engine string) []unit {
	ign := t.ignoreKey()
	fileUnit := func(e gitfetch.Entry) unit {
		return unit{check: check, kind: "file", path: e.Path, files: []gitfetch.Entry{e},
			key: hashKey("file", check, engine, ign, e.Path, e.Mode, e.OID)}
	}
	setUnit := func(name string, files []gitfetch.Entry) unit {
		parts := []string{"set", name, check, engine, ign}
		for _, e := range files {
			parts = append(parts, e.Path, e.OID)
		}
		for _, e := range t.missingFor(check) {
			parts = append(parts, e.Path, e.OID)
		}
		return unit{check: check, kind: "set", files: files, key: hashKey(parts...)}
	}
	var out []unit
	switch check {
	case checks.Secrets:
		for _, e := range t.files {
			out = append(out, fileUnit(e))
		}
	case checks.Dependencies:
		var set []gitfetch.Entry
		for _, e := range t.files {
			if deps.Wants(e.Path, e.Size) {
				set = append(set, e)
			}
		}
		if len(set) > 0 {
			out = append(out, setUnit("dependencies", set))
		}
	case checks.IaC:
		charts := t.charts()
		chartFiles := map[string][]gitfetch.Entry{}
		var tf []gitfetch.Entry
		for _, e := range t.files {
			if !checks.IaCCandidate(e.Path) {
				continue
			}
			if c := chartOf(e.Path, charts); c != "" {
				chartFiles[c] = append(chartFiles[c], e)
				continue
			}
			if checks.TerraformFile(e.Path) {
				tf = append(tf, e)
				continue
			}
			out = append(out, fileUnit(e))
		}
		for _, c := range charts {
			files := chartFiles[c]
			if len(files) == 0 {
				continue
			}
			out = append(out, unit{check: check, kind: "chart", path: c, files: files,
				key: hashKey("chart", check, engine, ign, c, t.trees[c])})
		}
		if len(tf) > 0 {
			out = append(out, setUnit("terraform", tf))
		}
	default:
		// An unknown check: the whole tree is one unit.
		out = append(out, setUnit(check, t.files))
	}
	if len(out) == 0 {
		// Nothing for the check in this tree: what it says about an empty
		// tree ("no lockfiles") is cached too.
		out = append(out, unit{check: check, kind: "empty", key: hashKey("empty", check, engine, ign)})
	}
	return out
}

// charts lists the top-level Helm chart directories (a directory holding a
// Chart.yaml, not inside another chart). A chart at the root makes every
// IaC file of the tree one unit, keyed by the root tree.
func (t *tree) charts() []string {
	var dirs []string
	for _, e := range t.files {
		if strings.EqualFold(path.Base(e.Path), "Chart.yaml") {
			dirs = append(dirs, path.Dir(e.Path))
		}
	}
	slices.Sort(dirs)
	var top []string
	for _, d := range dirs {
		if chartOf(d, top) == "" {
			top = append(top, d)
		}
	}
	return top
}

// chartOf returns the chart directory p lies in, or "".
func chartOf(p string, charts []string) string {
	for _, c := range charts {
		if c == "." || p == c || strings.HasPrefix(p, c+"/") {
			return c
		}
	}
	return ""
}

// missingFor lists the blobs over the fetch limit that check would have
// read (by name alone: their size is not known).
func (t *tree) missingFor(check string) []gitfetch.Entry {
	var out []gitfetch.Entry
	for _, e := range t.missing {
		if wants(check, e.Path) {
			out = append(out, e)
		}
	}
	return out
}

func wants(check, p string) bool {
	switch check {
	case checks.Dependencies:
		return checks.DependencyCandidate(p)
	case checks.IaC:
		return checks.IaCCandidate(p)
	}
	return true
}

// owner returns the unit of check's units a path belongs to (nil: none).
func owner(units []*unit, p string) *unit {
	var set *unit
	for _, u := range units {
		switch u.kind {
		case "file":
			if u.path == p {
				return u
			}
		case "chart":
			if u.path == "." || p == u.path || strings.HasPrefix(p, u.path+"/") {
				return u
			}
		case "set":
			if set == nil {
				set = u
			}
		}
	}
	// A set owns what no file or chart unit does: Terraform findings may
	// point into any module it loads, dependency findings at any manifest.
	return set
}
