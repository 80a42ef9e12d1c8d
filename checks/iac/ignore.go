package iac

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aquasecurity/trivy/pkg/result"

	"github.com/gatehouse/gatehouse/checks"
)

// ignoreFileNames are the trivy ignore files honoured at the target root, in
// the order they are consulted.
var ignoreFileNames = []string{".trivyignore", ".trivyignore.yaml"}

// ignoreFile is one parsed trivy ignore file.
type ignoreFile struct {
	name string
	conf result.IgnoreConfig
}

// loadIgnoreFiles parses the trivy ignore files at the target root with
// trivy's own parser. Expired entries (exp:YYYY-MM-DD, expired_at) are
// dropped by that parser and stop applying. A symlinked ignore file is not
// followed: it is reported as skipped and ignores nothing.
func loadIgnoreFiles(ctx context.Context, dir string) ([]ignoreFile, []checks.Skip, error) {
	var files []ignoreFile
	var skipped []checks.Skip
	for _, name := range ignoreFileNames {
		full := filepath.Join(dir, name)
		info, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("stat %s: %w", name, err)
		}
		if !info.Mode().IsRegular() {
			skipped = append(skipped, checks.Skip{Path: name, Reason: "not a regular file (symlinks are not followed); its ignores do not apply"})
			continue
		}
		conf, err := result.ParseIgnoreFile(ctx, full)
		if err != nil {
			return nil, nil, fmt.Errorf("parse %s: %w", name, err)
		}
		files = append(files, ignoreFile{name: name, conf: conf})
	}
	return files, skipped, nil
}

// matchIgnore returns why an ignore file suppresses a finding with these
// rule ids (id, AVD id, aliases) in this file, or "" when none does.
func matchIgnore(files []ignoreFile, ids []string, file string) string {
	for _, f := range files {
		m := f.conf.MatchMisconfiguration(ids, file)
		if m == nil {
			continue
		}
		reason := fmt.Sprintf("%s entry %s", f.name, m.ID)
		if m.Statement != "" {
			reason += ": " + m.Statement
		}
		if !m.ExpiredAt.IsZero() {
			reason += fmt.Sprintf(" (until %s)", m.ExpiredAt.Format("2006-01-02"))
		}
		return reason
	}
	return ""
}
