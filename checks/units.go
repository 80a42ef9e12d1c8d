package checks

import "strings"

// File is one file of a tree as a scan plans it, before anything is read:
// its path, git blob id and mode, and size.
type File struct {
	Path string `json:"path"` // slash-separated, from the root
	Mode string `json:"mode"` // git's octal mode: 100644, 100755, 120000 (a symlink, read as a file)
	OID  string `json:"oid"`  // git blob id: the content's address
	// Size in bytes; -1 when the content is not at hand (a blob the fetch
	// size limit left on the server).
	Size int64 `json:"size"`
}

// Missing reports whether the file's content is not at hand.
func (f File) Missing() bool { return f.Size < 0 }

// Unit is a set of files a check evaluates as a whole, and what its
// findings are cached by: the same files (by path and content) under the
// same engine and options give the same findings.
type Unit struct {
	// Kind is "file" (one file), "dir" (a directory evaluated whole, such
	// as a Helm chart; Path is the directory) or "set" (files evaluated
	// together across directories; Path is the set's name).
	Kind  string
	Path  string
	Files []File
}

// Owns reports whether a finding in file p belongs to the unit.
func (u Unit) Owns(p string) bool {
	switch u.Kind {
	case "file":
		return u.Path == p
	case "dir":
		return u.Path == "." || p == u.Path || strings.HasPrefix(p, u.Path+"/")
	}
	return false
}

// Splitter says, from paths and sizes alone, what a check reads and how it
// can be split into units. Each engine's package implements it by the
// engine's own rules; the checks/registry lists them. It runs where the
// scan is planned, which need not load the engine.
type Splitter interface {
	// Units splits a tree's files (the ones at hand) into the units the
	// check evaluates as a whole. Files the check does not read are left
	// out.
	Units(files []File) []Unit
	// MayRead reports whether the check may read a file at p whose size
	// is not known (a blob left on the server): by name alone, a superset.
	MayRead(p string) bool
}

// EachFile is the Splitter of a check that evaluates every file on its
// own (the secrets check in directory mode).
type EachFile struct{}

// Units makes one unit per file.
func (EachFile) Units(files []File) []Unit {
	out := make([]Unit, 0, len(files))
	for _, f := range files {
		out = append(out, Unit{Kind: "file", Path: f.Path, Files: []File{f}})
	}
	return out
}

// MayRead is true: every file is read.
func (EachFile) MayRead(string) bool { return true }

// WholeTree is the Splitter of a check with no finer rules: the whole tree
// is one unit.
type WholeTree struct{ Name string }

// Units makes one set of every file.
func (w WholeTree) Units(files []File) []Unit {
	if len(files) == 0 {
		return nil
	}
	return []Unit{{Kind: "set", Path: w.Name, Files: files}}
}

// MayRead is true: every file may be read.
func (WholeTree) MayRead(string) bool { return true }
