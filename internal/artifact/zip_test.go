package artifact_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/artifact"
)

func TestZip_Deterministic(t *testing.T) {
	tests := map[string][]byte{
		"empty":      {},
		"small":      []byte("#!/bin/sh\necho hi\n"),
		"compressed": bytes.Repeat([]byte("ddbsync "), 100_000),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			first := zipOf(t, artifact.Bootstrap, data)
			time.Sleep(time.Millisecond) // a wall-clock time in the zip would now differ
			second := zipOf(t, artifact.Bootstrap, data)
			assert.Equal(t, first, second, "two zips of the same bytes are identical")

			r, err := zip.NewReader(bytes.NewReader(first), int64(len(first)))
			require.NoError(t, err)
			require.Len(t, r.File, 1)
			f := r.File[0]
			assert.Equal(t, artifact.Bootstrap, f.Name)
			assert.Equal(t, artifact.FileMode, f.Mode().Perm(), "executable for Lambda")
			assert.True(t, f.Mode().IsRegular())
			assert.Equal(t, time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), f.Modified.UTC())
			assert.Empty(t, f.Extra, "no extra fields (they would carry times)")
			assert.Equal(t, zip.Deflate, f.Method)
			rc, err := f.Open()
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			assert.Equal(t, data, got)
		})
	}
}

func TestZip_DiffersWithContent(t *testing.T) {
	assert.NotEqual(t, zipOf(t, "bootstrap", []byte("a")), zipOf(t, "bootstrap", []byte("b")))
	assert.NotEqual(t, zipOf(t, "bootstrap", []byte("a")), zipOf(t, "main", []byte("a")))
}

func TestCodeSHA256(t *testing.T) {
	pkg := zipOf(t, artifact.Bootstrap, []byte("x"))
	sum := sha256.Sum256(pkg)
	assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), artifact.CodeSHA256(pkg))
	// The known value for an empty package, as Lambda would report it.
	assert.Equal(t, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", artifact.CodeSHA256(nil))
}

func zipOf(tb testing.TB, name string, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	require.NoError(tb, artifact.Zip(&buf, name, data))
	return buf.Bytes()
}
