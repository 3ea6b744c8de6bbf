package artifact_test

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/artifact"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// TestBuild_Reproducible builds the function twice through the Makefile
// target `sam build` runs, each time into its own fresh ARTIFACTS_DIR, and
// checks that the two bootstraps and their zips are byte-identical, and
// that the binary is what a provided.al2023 arm64 function runs. `make
// verify-build` does the same with an empty build cache for the second
// build (about a minute more).
func TestBuild_Reproducible(t *testing.T) {
	root := repoRoot(t)
	opts := artifact.BuildOptions{Dir: root, GOARCH: "arm64", Version: "0123456789abcdef0123456789abcdef01234567"}
	first, err := artifact.Build(t.Context(), opts)
	require.NoError(t, err)
	second, err := artifact.Build(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, sha256Hex(first), sha256Hex(second), "bootstrap sha256")
	assert.Equal(t, sha256Hex(zipOf(t, artifact.Bootstrap, first)), sha256Hex(zipOf(t, artifact.Bootstrap, second)), "zip sha256")

	info, err := buildinfo.Read(bytes.NewReader(first))
	require.NoError(t, err)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	assert.Equal(t, "github.com/ddbsync/ddbsync/cmd/replicator", info.Path)
	for key, want := range map[string]string{
		"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "-tags": "lambda.norpc", "-trimpath": "true",
	} {
		assert.Equal(t, want, settings[key], "build setting %s", key)
	}
	assert.NotContains(t, settings, "vcs.revision", "no VCS stamp: -buildvcs=false")
	assert.True(t, bytes.Contains(first, []byte(opts.Version)), "VERSION is stamped into the binary")

	other, err := artifact.Build(t.Context(), artifact.BuildOptions{Dir: root, GOARCH: "arm64", Version: "dev"})
	require.NoError(t, err)
	assert.NotEqual(t, sha256Hex(first), sha256Hex(other), "VERSION changes the bytes: code-status must build with the deployed one")
}

func TestGoArch(t *testing.T) {
	tests := map[string]struct {
		arch    string
		want    string
		wantErr error
	}{
		"arm64":           {arch: "arm64", want: "arm64"},
		"x86_64":          {arch: "x86_64", want: "amd64"},
		"lambda default":  {arch: "", want: "amd64"},
		"go name refused": {arch: "amd64", wantErr: artifact.ErrUnknownArchitecture},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := artifact.GoArch(tt.arch)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	for _, a := range artifact.LambdaArchitectures() {
		_, err := artifact.GoArch(a)
		assert.NoError(t, err, a)
	}
}

func TestHeadCommit(t *testing.T) {
	src, err := artifact.HeadCommit(t.Context(), repoRoot(t))
	if err != nil {
		testkit.SkipUnlessCI(t, "not a git checkout: %v", err) // a source tarball has no .git
	}
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{40}$`, src.Commit)

	_, err = artifact.HeadCommit(t.Context(), t.TempDir())
	assert.ErrorContains(t, err, "git rev-parse HEAD")
}

func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(tb, err)
	return root
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
