package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goreleaser/goreleaser/v2/pkg/config"
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

// TestGoreleaserConfig_Loads reads .goreleaser.yaml with the pinned
// goreleaser's own configuration loader, which refuses unknown or
// misspelt fields. The full `goreleaser check` (defaults and deprecations)
// is `make release-check`: it builds all of goreleaser, which took 8.5 min
// on a loaded 2-core machine, too long for `make test`.
func TestGoreleaserConfig_Loads(t *testing.T) {
	cfg, err := config.Load(filepath.Join(root(t), ".goreleaser.yaml"))
	require.NoError(t, err)
	assert.Equal(t, 2, cfg.Version, "goreleaser configuration version")
	assert.NotEmpty(t, cfg.Builds)
}

// TestGoreleaserConfig_RefusesUnknownField shows the loader is strict: a
// misspelt field is an error, not silently ignored.
func TestGoreleaserConfig_RefusesUnknownField(t *testing.T) {
	_, err := config.LoadReader(strings.NewReader("version: 2\nbuilds:\n  - id: x\n    mian: ./cmd/x\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mian")
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

// TestGoreleaserVersion_Pinned keeps the Makefile's release-check, the
// constant and go.mod on one goreleaser version.
func TestGoreleaserVersion_Pinned(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(root(t), "Makefile"))
	require.NoError(t, err)
	assert.Contains(t, string(mk), "GORELEASER = "+GoreleaserModule)
	mod, err := os.ReadFile(filepath.Join(root(t), "go.mod"))
	require.NoError(t, err)
	path, version, _ := strings.Cut(GoreleaserModule, "@")
	assert.Contains(t, string(mod), path+" "+version)
}
