package atomicfile

import (
	"errors"
	"fmt"
	"os"
)

// ErrLocked is returned by [TryLock] when another process holds a lock on
// the file.
var ErrLocked = errors.New("file is in use by another process")

// OpenAppend opens path for appending (creating it if needed) and takes a
// shared lock on it, held until the file is closed: writers that append
// share the file, and [TryLock] (a rewrite) is refused while one holds it.
// If the path was replaced while it waited for the lock, it opens the new
// file, so that it never appends to a file that was renamed over.
func OpenAppend(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		if err := lockShared(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close() // replaced meanwhile: open the new one
	}
}

// TryLock opens path and takes an exclusive lock on it without waiting, to
// be held (until the returned file is closed) while the file is rewritten.
// It returns ErrLocked while a writer holds it open with [OpenAppend].
func TryLock(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := tryLockExclusive(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
