package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// root returns the repository root.
func root(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(tb, err)
	require.FileExists(tb, filepath.Join(dir, ".goreleaser.yaml"))
	return dir
}

// TestGoreleaserCheck runs the pinned goreleaser's check on the
// configuration (the first run builds goreleaser from the module proxy;
// later runs use the build cache).
func TestGoreleaserCheck(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "go", "run", GoreleaserModule, "check")
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "goreleaser check:\n%s", out)
	assert.Contains(t, string(out), "1 configuration file(s) validated")
}

// TestGoreleaserConfig checks that the release builds what the README
// promises: the CLI for linux, darwin and windows on amd64 and arm64, and
// the Lambda bootstrap with the Makefile's tags and version stamp.
func TestGoreleaserConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), ".goreleaser.yaml"))
	require.NoError(t, err)
	var cfg struct {
		Builds []struct {
			ID      string   `yaml:"id"`
			Main    string   `yaml:"main"`
			Binary  string   `yaml:"binary"`
			GOOS    []string `yaml:"goos"`
			GOARCH  []string `yaml:"goarch"`
			Tags    []string `yaml:"tags"`
			LDFlags []string `yaml:"ldflags"`
			Flags   []string `yaml:"flags"`
		} `yaml:"builds"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	byID := map[string]int{}
	for i, bld := range cfg.Builds {
		byID[bld.ID] = i
		assert.Contains(t, bld.Flags, "-trimpath", bld.ID)
		assert.Contains(t, strings.Join(bld.LDFlags, " "), "-X main.Version={{ .Version }}", bld.ID)
	}
	require.Contains(t, byID, "ddbsync")
	require.Contains(t, byID, "bootstrap")
	cli := cfg.Builds[byID["ddbsync"]]
	assert.Equal(t, "./cmd/ddbsync", cli.Main)
	assert.ElementsMatch(t, []string{"linux", "darwin", "windows"}, cli.GOOS)
	assert.ElementsMatch(t, []string{"amd64", "arm64"}, cli.GOARCH)
	boot := cfg.Builds[byID["bootstrap"]]
	assert.Equal(t, "bootstrap", boot.Binary)
	assert.Equal(t, []string{"linux"}, boot.GOOS)
	assert.Contains(t, boot.Tags, "lambda.norpc")
}
