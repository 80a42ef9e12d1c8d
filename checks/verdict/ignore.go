package verdict

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/checks"
)

// ignoreSet is the tools' ignore files of a scan: the base's are in force
// on both trees; the head's edits to them are handed over marked as from
// the change, so what only they suppress waits for the policy (a change
// must not weaken its own gate). Without a base the head's are in force.
type ignoreSet struct {
	head, base []checks.IgnoreFile
	skips      []checks.Skip
}

// ignoreFiles reads the ignore files of head and base.
func (p *Pipeline) ignoreFiles(ctx context.Context, head, base *memoTree) (ignoreSet, error) {
	var set ignoreSet
	hf, skips, err := readIgnores(ctx, head)
	if err != nil {
		return set, err
	}
	set.skips = skips
	if base == nil {
		set.head = hf
		return set, nil
	}
	bf, skips, err := readIgnores(ctx, base)
	if err != nil {
		return set, err
	}
	set.skips = append(set.skips, skips...)
	set.base = bf
	set.head = slices.Clone(bf)
	for _, f := range hf {
		i := slices.IndexFunc(bf, func(b checks.IgnoreFile) bool { return b.Name == f.Name })
		if i >= 0 && bytes.Equal(bf[i].Content, f.Content) {
			continue
		}
		f.FromChange = true
		set.head = append(set.head, f)
	}
	return set, nil
}

// readIgnores reads a tree's ignore files at its root. A symlink is not
// followed and a file over checks.MaxIgnoreFileSize is not read: each is
// listed as a skip and ignores nothing.
func readIgnores(ctx context.Context, t *memoTree) ([]checks.IgnoreFile, []checks.Skip, error) {
	files, err := t.Files(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list files of %s: %w", revName(t), err)
	}
	var out []checks.IgnoreFile
	var skips []checks.Skip
	for _, name := range checks.IgnoreFiles {
		i := slices.IndexFunc(files, func(f checks.File) bool { return f.Path == name })
		if i < 0 {
			continue
		}
		f := files[i]
		switch {
		case f.Mode == "120000":
			skips = append(skips, checks.IgnoreSkip(name, "a symlink in "+revName(t)+" (not followed)"))
			continue
		case f.Missing() || f.Size > checks.MaxIgnoreFileSize:
			skips = append(skips, checks.IgnoreSkip(name, fmt.Sprintf("larger than %d bytes in %s", checks.MaxIgnoreFileSize, revName(t))))
			continue
		}
		b, err := t.ReadFile(ctx, name, checks.MaxIgnoreFileSize)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s of %s: %w", name, revName(t), err)
		}
		out = append(out, checks.IgnoreFile{Name: name, Content: b})
	}
	return out, skips, nil
}

// skipsFor lists the ignore files a check honours that were not read.
func (s ignoreSet) skipsFor(check string) []checks.Skip {
	var out []checks.Skip
	for _, sk := range s.skips {
		gitleaks := sk.Path == checks.GitleaksIgnore
		if (check == checks.Secrets) == gitleaks && !slices.Contains(out, sk) {
			out = append(out, sk)
		}
	}
	return out
}
