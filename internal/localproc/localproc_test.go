package localproc

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockFile_Exclusive(t *testing.T) {
	name := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := LockFile(t.Context(), name)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = LockFile(ctx, name)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a held lock is not taken twice")

	unlock()
	unlock2, err := LockFile(t.Context(), name)
	require.NoError(t, err, "a released lock can be taken")
	unlock2()
}

func TestFreePorts_Distinct(t *testing.T) {
	ports, err := FreePorts(3)
	require.NoError(t, err)
	require.Len(t, ports, 3)
	assert.NotEqual(t, ports[0], ports[1])
	assert.NotEqual(t, ports[1], ports[2])
	assert.NotEqual(t, ports[0], ports[2])
}

func TestLogBuffer_Concurrent(t *testing.T) {
	var b LogBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _, _ = b.Write([]byte("ab")) })
	}
	wg.Wait()
	assert.Equal(t, "abababababababab", b.String())
}
