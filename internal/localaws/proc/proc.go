// Package proc runs the local AWS stand-ins (DynamoDB Local, the Lambda
// Runtime Interface Emulator, moto_server) as child processes: [Start] with
// free loopback ports, a retry when another process takes a port first, a
// process group of their own, a readiness probe and [Process.Close]; and
// what several test binaries need to install them side by side: a
// cross-process install lock, the module root and a log buffer safe for
// concurrent use.
//
// It uses process groups, flock and Pdeathsig: it runs on Linux.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// lockPoll is how often LockFile retries a held lock.
const lockPoll = 100 * time.Millisecond

// LockFile takes an exclusive flock on the file name (created if needed),
// waiting until it is free or ctx ends, and returns the function that
// releases it. Processes that install into the same directory serialise on
// it.
func LockFile(ctx context.Context, name string) (unlock func(), err error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", name, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

// FreePorts returns n distinct 127.0.0.1 TCP ports that were free a moment
// ago. Another process may take one before it is used: callers retry.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find free port: %w", err)
		}
		defer l.Close() // held until all are picked, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// LogBuffer is a bytes.Buffer safe for concurrent writes and reads, for a
// child process's output.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
