package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/atomicfile"
	"github.com/ddbsync/ddbsync/internal/redrive"
)

// TestFailureFile_RedriveWhileRunWrites: ddbsync run keeps its failure
// file open; a redrive that rewrote it then would make every later failure
// record of the run go to the replaced file, lost. The redrive is refused
// while the run has the file open, and a run that appends after a redrive
// appends to the rewritten file.
func TestFailureFile_RedriveWhileRunWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failures.jsonl")
	run := &lazyFile{path: path}
	_, err := run.Write([]byte("{\"first\":1}\n"))
	require.NoError(t, err)

	_, err = redrive.OpenFile(path)
	require.ErrorIs(t, err, atomicfile.ErrLocked, "refused while ddbsync run writes the file")
	require.NoError(t, run.Close())

	src, err := redrive.OpenFile(path)
	require.NoError(t, err)
	m, err := src.Next(t.Context())
	require.NoError(t, err)
	require.NoError(t, src.Done(t.Context(), m))
	require.NoError(t, src.Close(t.Context()))

	again := &lazyFile{path: path} // a later run
	_, err = again.Write([]byte("{\"second\":2}\n"))
	require.NoError(t, err)
	require.NoError(t, again.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{\"second\":2}\n", string(data), "the failure record written after the redrive is in the failure file")
}
