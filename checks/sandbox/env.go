package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// childEnv builds the child's whole environment from an allow-list: fixed
// values, then the names Config.Env copies from the parent. Nothing else
// of the parent's environment (GATEHOUSE_PRIVATE_KEY, tokens, the webhook
// secret, the database URL, cloud credentials...) ever reaches the child.
//
// git runs inside the child for history scans: its system and global
// configuration are switched off (only what gatehouse passes applies) and
// safe.directory is opened because the checkout belongs to another user
// than the sandbox's.
func childEnv(scratch, gitDir string, extra []string, lookup func(string) (string, bool)) []string {
	path := "/usr/local/bin:/usr/bin:/bin"
	if gitDir != "" && !slices.Contains(filepath.SplitList(path), gitDir) {
		path = gitDir + ":" + path
	}
	env := []string{
		"PATH=" + path,
		"HOME=" + scratch,
		"TMPDIR=" + scratch,
		"XDG_CACHE_HOME=" + filepath.Join(scratch, ".cache"),
		"XDG_CONFIG_HOME=" + filepath.Join(scratch, ".config"),
		// trivy's Go analyzer reads $GOPATH/pkg/mod for dependency graphs
		// and licences: an empty one, so a scan depends on the repository
		// alone, never on what the host happens to have downloaded.
		"GOPATH=" + filepath.Join(scratch, "go"),
		"TZ=UTC",
		"LANG=C.UTF-8",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=safe.directory",
		"GIT_CONFIG_VALUE_0=*",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_LFS_SKIP_SMUDGE=1",
		"GIT_OPTIONAL_LOCKS=0",
		"GIT_NO_REPLACE_OBJECTS=1",
	}
	for _, name := range extra {
		if credentialName(name) || strings.ContainsAny(name, "=\x00") {
			continue
		}
		if v, ok := lookup(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// credentialName reports names that must never be copied to the child,
// whatever the configuration says: gatehouse's own secrets and anything
// named like a credential.
func credentialName(name string) bool {
	up := strings.ToUpper(name)
	switch {
	case strings.HasPrefix(up, "GATEHOUSE_PRIVATE_KEY"),
		up == "GATEHOUSE_WEBHOOK_SECRET", up == "GATEHOUSE_DATABASE_URL", up == "GATEHOUSE_API_TOKENS":
		return true
	}
	for _, word := range []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH", "DATABASE_URL", "SESSION"} {
		if strings.Contains(up, word) {
			return true
		}
	}
	return false
}
