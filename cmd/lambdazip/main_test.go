package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/artifact"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bootstrap")
	require.NoError(t, os.WriteFile(in, []byte("binary"), 0o600))
	out := filepath.Join(dir, "replicator.zip")

	var stdout bytes.Buffer
	require.NoError(t, run([]string{"-o", out, in}, &stdout))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	var want bytes.Buffer
	require.NoError(t, artifact.Zip(&want, "bootstrap", []byte("binary")))
	assert.Equal(t, want.Bytes(), got, "the input's mode and time do not matter")
	assert.Equal(t, out+" CodeSha256="+artifact.CodeSHA256(got)+"\n", stdout.String())

	assert.Error(t, run([]string{in}, &stdout), "-o is required")
	assert.Error(t, run([]string{"-o", out, filepath.Join(dir, "missing")}, &stdout))
}
