package verdict

import (
	"context"

	"github.com/gatehouse/gatehouse/checks"
)

// Tree is one revision of a repository as the pipeline reads it: a commit
// in the server's git mirror, a commit in the user's repository, or a
// working directory. The pipeline lists its files (to plan units and cache
// keys without reading them), reads a few small ones (ignore files), and
// asks for the files a scan must read.
type Tree interface {
	// Rev is the commit id, or "" for a working directory.
	Rev() string
	// Files lists the tree's regular files and symlinks (read as files)
	// with their blob ids and sizes (-1: the content is not at hand), with
	// safe relative paths only. Submodules are not files.
	Files(ctx context.Context) ([]checks.File, error)
	// ReadFile returns the content of the file at p (one Files lists), at
	// most max bytes (a larger file is an error).
	ReadFile(ctx context.Context, p string, max int64) ([]byte, error)
	// Checkout writes files into dir, which it creates (0755: a sandboxed
	// scanner runs as another user), as regular files (a symlink becomes
	// a file holding its target, as git checks it out with
	// core.symlinks=false: nothing in dir points elsewhere). With withGit,
	// dir also gets the repository (.git), so the secrets check can read
	// a commit range offline.
	Checkout(ctx context.Context, dir string, files []checks.File, withGit bool) error
}

// Range is a commit range whose commits the secrets check reads line by
// line (history, not only the final tree): every commit in Base..Head.
type Range struct {
	Base string `json:"base,omitempty"` // "": Head and all its ancestors
	Head string `json:"head"`
}
