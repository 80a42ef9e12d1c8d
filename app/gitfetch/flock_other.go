//go:build !unix

package gitfetch

import (
	"context"
	"sync"
)

// Without flock, mirrors are locked within this process only.
var (
	locksMu sync.Mutex
	locks   = map[string]chan struct{}{}
)

type fileLock struct{ ch chan struct{} }

func lockChan(path string) chan struct{} {
	locksMu.Lock()
	defer locksMu.Unlock()
	ch, ok := locks[path]
	if !ok {
		ch = make(chan struct{}, 1)
		locks[path] = ch
	}
	return ch
}

func lockFile(ctx context.Context, path string) (*fileLock, error) {
	ch := lockChan(path)
	select {
	case ch <- struct{}{}:
		return &fileLock{ch: ch}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// sharedLockFile is exclusive here: without flock readers take turns.
func sharedLockFile(ctx context.Context, path string) (*fileLock, error) {
	return lockFile(ctx, path)
}

func tryLockFile(path string) (*fileLock, error) {
	ch := lockChan(path)
	select {
	case ch <- struct{}{}:
		return &fileLock{ch: ch}, nil
	default:
		return nil, nil
	}
}

func (l *fileLock) unlock() { <-l.ch }
