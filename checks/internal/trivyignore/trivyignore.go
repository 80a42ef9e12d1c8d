// Package trivyignore parses the trivy ignore files a target carries
// (checks.Target.Ignore) with trivy's own parser, for the two checks built
// on trivy (dependencies, iac).
package trivyignore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aquasecurity/trivy/pkg/result"

	"github.com/gatehouse/gatehouse/checks"
)

// File is one parsed ignore file.
type File struct {
	Name       string
	FromChange bool
	Conf       result.IgnoreConfig
}

// Load parses the target's trivy ignore files: those in force first, then
// the change's, each list in checks.TrivyIgnoreFiles order. Expired entries
// (exp:YYYY-MM-DD, expired_at) are dropped by trivy's parser and stop
// applying. trivy reads ignore files by path (YAML by extension), so each
// is written to a temporary file under its own name first.
func Load(ctx context.Context, t checks.Target) ([]File, error) {
	inForce, fromChange := t.IgnoreFilesNamed(checks.TrivyIgnoreFiles...)
	var out []File
	for _, f := range append(inForce, fromChange...) {
		conf, err := parse(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: f.Name, FromChange: f.FromChange, Conf: conf})
	}
	return out, nil
}

func parse(ctx context.Context, f checks.IgnoreFile) (result.IgnoreConfig, error) {
	dir, err := os.MkdirTemp("", "trivyignore-")
	if err != nil {
		return result.IgnoreConfig{}, fmt.Errorf("%s: %w", f.Name, err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, filepath.Base(f.Name))
	if err := os.WriteFile(p, f.Content, 0o600); err != nil {
		return result.IgnoreConfig{}, fmt.Errorf("%s: %w", f.Name, err)
	}
	conf, err := result.ParseIgnoreFile(ctx, p)
	if err != nil {
		return result.IgnoreConfig{}, fmt.Errorf("parse %s: %w", f.Name, err)
	}
	return conf, nil
}

// Reason says why an ignore file's entry suppresses a finding.
func Reason(f File, m *result.IgnoreFinding) string {
	reason := fmt.Sprintf("%s entry %s", f.Name, m.ID)
	if f.FromChange {
		reason = fmt.Sprintf("%s, as this change edits it, entry %s", f.Name, m.ID)
	}
	if m.Statement != "" {
		reason += ": " + m.Statement
	}
	if !m.ExpiredAt.IsZero() {
		reason += fmt.Sprintf(" (until %s)", m.ExpiredAt.Format("2006-01-02"))
	}
	return reason
}

// Suppressed builds the suppression of a finding by an ignore file.
func Suppressed(f File, m *result.IgnoreFinding, finding checks.Finding) checks.Suppressed {
	return checks.Suppressed{Finding: finding, Reason: Reason(f, m), Via: checks.ViaIgnoreFile, FromChange: f.FromChange}
}
