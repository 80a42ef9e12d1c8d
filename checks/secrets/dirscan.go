package secrets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/sources"

	"github.com/gatehouse/gatehouse/checks"
)

// scanDir scans the files under paths (relative to root) in parallel.
//
// gitleaks' own walker (sources.Files) does not follow symlinks unless asked,
// but it opens files by path, reports skipped files only in its log, and
// names files by the path it was given. This walker goes through an os.Root,
// so no open can leave the target even if the tree changes under it, lists
// every file it does not scan, and hands each file to gitleaks' file source
// under its slash path relative to the target.
func (s *Scanner) scanDir(ctx context.Context, root *os.Root, paths []string, c *collector) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.conc)
	seen := make(map[string]struct{})
	fsys := root.FS()

	walk := func(start string) error {
		if link := symlinkOnPath(root, start); link != "" {
			c.skip("symlink:"+start, start, fmt.Sprintf("path goes through symlink %s, not followed", link))
			return nil
		}
		return fs.WalkDir(fsys, start, func(rel string, d fs.DirEntry, err error) error {
			if err != nil {
				if rel == start && errors.Is(err, fs.ErrNotExist) {
					c.note("path %s does not exist in the target", start)
					return nil
				}
				return fmt.Errorf("secrets: walk %s: %w", rel, err)
			}
			if err := gctx.Err(); err != nil {
				return err
			}
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				c.skip("symlink:"+rel, rel, "symlink, not followed")
				return nil
			case d.IsDir():
				if rel != "." && (d.Name() == ".git" || s.pathAllowlisted(rel)) {
					c.countAllowlisted()
					return fs.SkipDir
				}
				return nil
			case !d.Type().IsRegular():
				c.skip("special:"+rel, rel, "not a regular file")
				return nil
			}
			if s.pathAllowlisted(rel) {
				c.countAllowlisted()
				return nil
			}
			if _, dup := seen[rel]; dup {
				return nil
			}
			seen[rel] = struct{}{}
			info, err := d.Info()
			if err != nil {
				return fmt.Errorf("secrets: stat %s: %w", rel, err)
			}
			if info.Size() == 0 {
				return nil
			}
			if info.Size() > s.maxBytes {
				c.skip("size:"+rel, rel, s.tooLarge(info.Size()))
				return nil
			}
			g.Go(func() error { return s.scanFile(gctx, root, rel, c) })
			return nil
		})
	}

	var walkErr error
	for _, p := range paths {
		if walkErr = walk(p); walkErr != nil {
			break
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return walkErr
}

// scanFile feeds one regular file to gitleaks' file source.
func (s *Scanner) scanFile(ctx context.Context, root *os.Root, rel string, c *collector) error {
	f, err := root.Open(filepath.FromSlash(rel))
	if err != nil {
		return fmt.Errorf("secrets: open %s: %w", rel, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("secrets: stat %s: %w", rel, err)
	}
	if !info.Mode().IsRegular() { // replaced since the walk
		c.skip("special:"+rel, rel, "not a regular file")
		return nil
	}
	if info.Size() > s.maxBytes {
		c.skip("size:"+rel, rel, s.tooLarge(info.Size()))
		return nil
	}
	fragments := 0
	src := &sources.File{
		// Read no more than was measured, even if the file grows.
		Content: io.LimitReader(f, info.Size()),
		Path:    rel,
		Config:  &s.rules.cfg,
	}
	err = src.Fragments(ctx, func(frag sources.Fragment, err error) error {
		if err != nil {
			return fmt.Errorf("secrets: read %s: %w", rel, err)
		}
		fragments++
		c.detect(ctx, rel, frag)
		return nil
	})
	if err != nil {
		return err
	}
	if fragments == 0 && info.Size() > 0 {
		c.countBinary()
	}
	return nil
}

// pathAllowlisted applies gitleaks' global path allowlist the way its own
// walker does, so lockfiles, vendored code and .git are not even read.
func (s *Scanner) pathAllowlisted(rel string) bool {
	for _, a := range s.rules.cfg.Allowlists {
		if a.PathAllowed(rel) {
			return true
		}
	}
	return false
}

func (s *Scanner) tooLarge(size int64) string {
	return fmt.Sprintf("larger than %s (%d bytes)", s.limitText(), size)
}

// limitText is the size limit as users set it: "10 MB" or "2000 bytes".
func (s *Scanner) limitText() string {
	if s.maxBytes%1_000_000 == 0 {
		return fmt.Sprintf("%d MB", s.maxBytes/1_000_000)
	}
	return fmt.Sprintf("%d bytes", s.maxBytes)
}

// symlinkOnPath returns the first component of rel that is a symlink, or ""
// (a missing component is left to the walk to report).
func symlinkOnPath(root *os.Root, rel string) string {
	if rel == "." {
		return ""
	}
	prefix := ""
	for part := range strings.SplitSeq(rel, "/") {
		prefix = path.Join(prefix, part)
		info, err := root.Lstat(filepath.FromSlash(prefix))
		if err != nil {
			return ""
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return prefix
		}
	}
	return ""
}

// loadIgnores returns detectors holding the target's .gitleaksignore in
// force and the one the change brings (each nil when there is none).
// gitleaks reads its ignore file by path, so each is written to a
// temporary file first.
func loadIgnores(t checks.Target) (inForce, fromChange *detect.Detector, err error) {
	cur, next := t.IgnoreFilesNamed(checks.GitleaksIgnore)
	if inForce, err = ignoreDetector(cur); err != nil {
		return nil, nil, err
	}
	if fromChange, err = ignoreDetector(next); err != nil {
		return nil, nil, err
	}
	return inForce, fromChange, nil
}

func ignoreDetector(files []checks.IgnoreFile) (*detect.Detector, error) {
	if len(files) == 0 {
		return nil, nil
	}
	ignore := detect.NewDetector(config.Config{})
	for _, f := range files {
		tmp, err := os.CreateTemp("", "gitleaksignore-")
		if err != nil {
			return nil, fmt.Errorf("secrets: %s: %w", f.Name, err)
		}
		_, err = tmp.Write(f.Content)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = ignore.AddGitleaksIgnore(tmp.Name())
		}
		_ = os.Remove(tmp.Name())
		if err != nil {
			return nil, fmt.Errorf("secrets: read %s: %w", f.Name, err)
		}
	}
	return ignore, nil
}
