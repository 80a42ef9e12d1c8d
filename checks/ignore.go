package checks

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// GitleaksIgnore is gitleaks' fingerprint ignore file.
const GitleaksIgnore = ".gitleaksignore"

// TrivyIgnoreFiles are trivy's ignore files, plain and YAML, in the order
// they are consulted (the first that suppresses a finding names it).
var TrivyIgnoreFiles = []string{".trivyignore.yaml", ".trivyignore.yml", ".trivyignore"}

// IgnoreFiles is the one list of the tools' ignore files gatehouse honours
// at a checkout's root. They change what the checks report (suppressions)
// without being scanned themselves.
var IgnoreFiles = append([]string{GitleaksIgnore}, TrivyIgnoreFiles...)

// IsIgnoreFile reports whether p (slash-separated, from the root) is one of
// IgnoreFiles.
func IsIgnoreFile(p string) bool { return slices.Contains(IgnoreFiles, p) }

// MaxIgnoreFileSize is the largest ignore file honoured; a larger one is
// listed as a limit hit and ignores nothing.
const MaxIgnoreFileSize = 1 << 20

// IgnoreFile is one of the tools' ignore files, handed to the checks with
// the target: the checks never read ignore files from the checkout, so the
// caller decides which version is in force (a pull request's base) and
// which only proposed (the change's own edits).
type IgnoreFile struct {
	Name    string `json:"name"` // one of IgnoreFiles
	Content []byte `json:"content"`
	// FromChange marks the version the change under review brings: what
	// it suppresses beyond the version in force is reported as a
	// suppression from the change (Suppressed.FromChange), which the
	// policy honours, holds for approval or refuses.
	FromChange bool `json:"from_change,omitempty"`
}

// How a finding was suppressed (Suppressed.Via).
const (
	ViaInline     = "inline"      // gitleaks:allow, #trivy:ignore on the finding's lines
	ViaIgnoreFile = "ignore-file" // .gitleaksignore, .trivyignore*
	ViaPolicy     = "policy"      // paths.ignore or an exception of the policy
)

// IgnoreFilesNamed returns the target's ignore files with one of names, in
// names' order: those in force, then those from the change.
func (t Target) IgnoreFilesNamed(names ...string) (inForce, fromChange []IgnoreFile) {
	for _, n := range names {
		for _, f := range t.Ignore {
			if f.Name != n {
				continue
			}
			if f.FromChange {
				fromChange = append(fromChange, f)
			} else {
				inForce = append(inForce, f)
			}
		}
	}
	return inForce, fromChange
}

// ReadIgnoreFiles reads the ignore files at dir's root, all in force. A
// symlink or special file is not followed and a file over
// MaxIgnoreFileSize is not read: each is returned as a skip, and ignores
// nothing.
func ReadIgnoreFiles(dir string) ([]IgnoreFile, []Skip, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	var out []IgnoreFile
	var skips []Skip
	for _, name := range IgnoreFiles {
		info, err := root.Lstat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		case !info.Mode().IsRegular():
			skips = append(skips, IgnoreSkip(name, "not a regular file (symlinks are not followed)"))
			continue
		case info.Size() > MaxIgnoreFileSize:
			skips = append(skips, IgnoreSkip(name, fmt.Sprintf("larger than %d bytes", MaxIgnoreFileSize)))
			continue
		}
		f, err := root.Open(name)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		}
		b, err := io.ReadAll(io.LimitReader(f, MaxIgnoreFileSize+1))
		_ = f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		}
		out = append(out, IgnoreFile{Name: name, Content: b})
	}
	return out, skips, nil
}

// IgnoreSkip is the skip listed for an ignore file that is not honoured.
func IgnoreSkip(name, why string) Skip {
	return Skip{Path: name, Reason: why + "; its ignores do not apply"}
}
