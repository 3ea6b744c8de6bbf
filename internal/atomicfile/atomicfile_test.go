package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/atomicfile"
)

func TestWriteFile(t *testing.T) {
	tests := map[string]struct {
		old  *string
		data string
	}{
		"creates":       {data: "new\n"},
		"replaces":      {old: ptr("old content, longer than the new\n"), data: "new\n"},
		"empties":       {old: ptr("old\n"), data: ""},
		"keeps no temp": {old: ptr("x"), data: "y"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.jsonl")
			if tt.old != nil {
				require.NoError(t, os.WriteFile(path, []byte(*tt.old), 0o600))
			}
			require.NoError(t, atomicfile.WriteFile(path, []byte(tt.data)))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tt.data, string(got))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "no temporary file left")
		})
	}
}

func TestWriteFile_MissingDir(t *testing.T) {
	err := atomicfile.WriteFile(filepath.Join(t.TempDir(), "no", "f"), []byte("x"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.done")
	require.NoError(t, atomicfile.Append(path, []byte("a\n")))
	require.NoError(t, atomicfile.Append(path, []byte("b\n")))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "a\nb\n", string(got))
	assert.ErrorIs(t, atomicfile.Append(filepath.Join(t.TempDir(), "no", "f"), nil), os.ErrNotExist)
}

func ptr(s string) *string { return &s }

// TestLock: a rewrite is refused while an appender holds the file, and an
// appender that opens the file during a rewrite appends to the new file.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	w, err := atomicfile.OpenAppend(path)
	require.NoError(t, err)
	_, err = atomicfile.TryLock(path)
	require.ErrorIs(t, err, atomicfile.ErrLocked)
	require.NoError(t, w.Close())

	l, err := atomicfile.TryLock(path)
	require.NoError(t, err)
	opened := make(chan *os.File)
	go func() {
		f, err := atomicfile.OpenAppend(path) // waits for the rewrite
		assert.NoError(t, err)
		opened <- f
	}()
	require.NoError(t, atomicfile.WriteFile(path, []byte("new\n")))
	require.NoError(t, l.Close())
	f := <-opened
	_, err = f.WriteString("appended\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new\nappended\n", string(data))
}
