package worker

import (
	"context"

	"github.com/gatehouse/gatehouse/app/gitfetch"
	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/verdict"
)

// snapTree is a commit of a locked mirror as the verdict pipeline reads
// it. The snapshot must stay open while the pipeline runs.
type snapTree struct {
	snap *gitfetch.Snapshot
	rev  string
}

var _ verdict.Tree = snapTree{}

func (t snapTree) Rev() string { return t.rev }

// Files lists the commit's blobs with safe paths; a blob over the fetch
// size limit (left on the server) has size -1.
func (t snapTree) Files(ctx context.Context) ([]checks.File, error) {
	entries, err := t.snap.Tree(ctx, t.rev)
	if err != nil {
		return nil, err
	}
	out := make([]checks.File, 0, len(entries))
	for _, e := range entries {
		if e.Type != "blob" || !gitfetch.SafePath(e.Path) {
			continue // submodules are not checked out; unsafe paths never written
		}
		out = append(out, checks.File{Path: e.Path, Mode: e.Mode, OID: e.OID, Size: e.Size})
	}
	return out, nil
}

func (t snapTree) ReadFile(ctx context.Context, p string, max int64) ([]byte, error) {
	return t.snap.ReadFile(ctx, t.rev, p, max)
}

func (t snapTree) Checkout(ctx context.Context, dir string, files []checks.File, withGit bool) error {
	entries := make([]gitfetch.Entry, len(files))
	for i, f := range files {
		entries[i] = gitfetch.Entry{Path: f.Path, Mode: f.Mode, Type: "blob", OID: f.OID, Size: f.Size}
	}
	return t.snap.Materialize(ctx, dir, t.rev, entries, withGit)
}
