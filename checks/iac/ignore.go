package iac

import (
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/internal/trivyignore"
)

// matchIgnore returns the suppression of a finding with these rule ids
// (id, AVD id, aliases) in its file by the first ignore file that lists
// it, or false.
func matchIgnore(files []trivyignore.File, ids []string, f checks.Finding) (checks.Suppressed, bool) {
	for _, file := range files {
		if m := file.Conf.MatchMisconfiguration(ids, f.File); m != nil {
			return trivyignore.Suppressed(file, m, f), true
		}
	}
	return checks.Suppressed{}, false
}
