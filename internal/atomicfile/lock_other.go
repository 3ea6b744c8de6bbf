//go:build !unix

package atomicfile

import "os"

// Without flock (Windows), files are not locked: do not redrive a failure
// file that ddbsync run is still writing.
func lockShared(*os.File) error { return nil }

func tryLockExclusive(*os.File) error { return nil }
