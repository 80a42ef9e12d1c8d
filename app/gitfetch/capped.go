package gitfetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrRangeTooLarge is returned by EnsureRange when the blobs a range needs
// by id total more than Mirrors.MaxRangeBytes.
var ErrRangeTooLarge = errors.New("the changed files over the fetch size limit are too large in all")

// fetchCapped fetches the objects ids by id and keeps them only when they
// total at most limit bytes. While git receives the pack its temporary
// file is watched and the fetch is killed once it passes limit (bounding
// the disk a hostile change can use, compressed); once the pack is in, the
// blobs' own sizes are added up (bounding what the history readers will
// inflate) and the pack is removed when they pass it. The caller holds the
// writer lock.
func (s *Snapshot) fetchCapped(ctx context.Context, ids []string, limit int64) error {
	packDir := filepath.Join(s.dir, "objects", "pack")
	before, err := packFiles(packDir)
	if err != nil {
		return err
	}
	fetchCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if incomingBytes(packDir, before) > limit {
					cancel(ErrRangeTooLarge)
					return
				}
			}
		}
	}()
	err = s.fetch(fetchCtx, nil, ids)
	close(done)
	<-watched
	if cause := context.Cause(fetchCtx); errors.Is(cause, ErrRangeTooLarge) {
		s.removeNewPacks(packDir, before)
		return fmt.Errorf("%w: more than %d bytes arriving (the limit for blobs fetched by id)", ErrRangeTooLarge, limit)
	}
	if err != nil {
		s.removeNewPacks(packDir, before)
		return err
	}
	sizes, err := s.sizes(ctx, ids)
	if err != nil {
		return err
	}
	var total int64
	for _, n := range sizes {
		total += n
	}
	if total > limit {
		s.removeNewPacks(packDir, before)
		return fmt.Errorf("%w: %d bytes (the limit for blobs fetched by id is %d)", ErrRangeTooLarge, total, limit)
	}
	return nil
}

// packFiles lists the names in a pack directory.
func packFiles(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	m := make(map[string]bool, len(entries))
	for _, e := range entries {
		m[e.Name()] = true
	}
	return m, nil
}

// incomingBytes adds up the temporary files git writes a pack into (not
// counting those left by a crash before this fetch).
func incomingBytes(dir string, before map[string]bool) int64 {
	entries, _ := os.ReadDir(dir)
	var n int64
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "tmp_") || before[e.Name()] {
			continue
		}
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}

// removeNewPacks deletes what a fetch left in the pack directory: its pack
// (and index files) or the temporary files of a killed one.
func (s *Snapshot) removeNewPacks(dir string, before map[string]bool) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !before[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				s.mirrors.log().Warn("remove a refused pack", slog.String("file", e.Name()), slog.String("error", err.Error()))
			}
		}
	}
}
