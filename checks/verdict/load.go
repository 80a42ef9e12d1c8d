package verdict

import (
	"context"
	"path"
	"slices"
	"strconv"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/policy"
)

// LoadPolicy resolves a policy from files at hand, as the server does from
// GitHub: the built-in defaults, the server-wide file (nil: none), then the
// repository's own PolicyPath as t holds it. A change is judged by its
// base's policy: pass the base. Outside GitHub there is no org layer.
func LoadPolicy(ctx context.Context, server *policy.File, t Tree) (*policy.Policy, error) {
	var layers []policy.Layer
	if server != nil {
		layers = append(layers, policy.Layer{Source: policy.SourceServer, File: server})
	}
	files, err := t.Files(ctx)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(files, func(f checks.File) bool { return f.Path == PolicyPath }); i >= 0 {
		f := files[i]
		if f.Mode == "120000" || f.Missing() || f.Size > policy.MaxFileSize {
			return nil, &policy.ParseError{File: PolicyPath, Msg: "not a regular file of at most " + humanBytes(policy.MaxFileSize) + " in " + revName(t)}
		}
		b, err := t.ReadFile(ctx, PolicyPath, policy.MaxFileSize)
		if err != nil {
			return nil, err
		}
		rf, err := policy.Parse(PolicyPath, b)
		if err != nil {
			return nil, err
		}
		layers = append(layers, policy.Layer{Source: policy.SourceRepo, File: rf})
	}
	return policy.Resolve(layers...)
}

// LoadCustomChecks reads the custom checks in t's ChecksDir (not its
// subdirectories), under the limits the server applies.
func LoadCustomChecks(ctx context.Context, t Tree, origin string) ([]checks.CustomCheck, error) {
	files, err := t.Files(ctx)
	if err != nil {
		return nil, err
	}
	var out []checks.CustomCheck
	admitted := 0
	for _, f := range files {
		if path.Dir(f.Path) != ChecksDir || !checks.IsCustomCheckFile(path.Base(f.Path)) {
			continue
		}
		kind := "file"
		if f.Mode == "120000" {
			kind = "symlink"
		}
		size := f.Size
		if f.Missing() {
			size = checks.MaxCustomCheckSize + 1
		}
		if why := checks.CustomCheckRejection(kind, size, admitted); why != "" {
			out = append(out, checks.CustomCheck{Name: f.Path, Origin: origin, Rejected: why})
			continue
		}
		admitted++
		b, err := t.ReadFile(ctx, f.Path, checks.MaxCustomCheckSize)
		if err != nil {
			return nil, err
		}
		out = append(out, checks.NewCustomCheck(f.Path, origin, b))
	}
	return out, nil
}

func humanBytes(n int64) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
