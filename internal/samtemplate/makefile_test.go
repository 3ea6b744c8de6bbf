package samtemplate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// samTargets are the Makefile targets SAM's makefile builder runs for the
// functions of template.yaml and template-queue.yaml.
var samTargets = []string{"build-ReplicatorFunction", "build-PublisherFunction", "build-ApplyFunction"}

// makeDryRun runs `make -n` in the repository root with only the given
// variables set (ARCH, ARTIFACTS_DIR and VERSION are cleared from the
// environment unless given there), and returns its output and error.
func makeDryRun(tb testing.TB, env []string, args ...string) (string, error) {
	tb.Helper()
	makeBin := testkit.NeedTool(tb, "make", "apt-get install make")
	cmd := exec.CommandContext(tb.Context(), makeBin, append([]string{"-n", "-C", root}, args...)...)
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "ARCH", "ARTIFACTS_DIR", "VERSION", "MAKEFLAGS", "MFLAGS":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestMakefile_RefusesEmptyArtifactsDir: without ARTIFACTS_DIR a SAM
// target would write /bootstrap; it must stop instead.
func TestMakefile_RefusesEmptyArtifactsDir(t *testing.T) {
	tests := map[string]struct {
		env  []string
		args []string
	}{
		"unset":                   {},
		"empty on the command":    {args: []string{"ARTIFACTS_DIR="}},
		"blank in the env":        {env: []string{"ARTIFACTS_DIR= "}},
		"empty with ARCH and VER": {args: []string{"ARTIFACTS_DIR=", "ARCH=arm64", "VERSION=v1"}},
	}
	for _, target := range samTargets {
		for name, tt := range tests {
			t.Run(target+"/"+name, func(t *testing.T) {
				out, err := makeDryRun(t, tt.env, append([]string{target}, tt.args...)...)
				require.Error(t, err, "make -n %s must fail:\n%s", target, out)
				assert.Contains(t, out, "ARTIFACTS_DIR is empty")
				assert.NotContains(t, out, "go build", "nothing is built")
			})
		}
	}
}

// TestMakefile_Arch: ARCH takes Lambda's names (arm64, x86_64) as well as
// Go's (amd64), and under sam build the function's resolved Architecture
// (.aws-sam/build.toml) decides, so the binary always matches the function.
func TestMakefile_Arch(t *testing.T) {
	graph, err := os.ReadFile(filepath.Join("testdata", "build.toml"))
	require.NoError(t, err)
	// A SAM project layout: .aws-sam/build.toml, .aws-sam/build/<Id>, .aws-sam/cache/<uuid>.
	sam := filepath.Join(t.TempDir(), ".aws-sam")
	require.NoError(t, os.MkdirAll(sam, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(sam, "build.toml"), graph, 0o644))
	plain := t.TempDir() // no build graph two levels up
	samDir := func(fn string) string { return "ARTIFACTS_DIR=" + filepath.Join(sam, "build", fn) }

	tests := map[string]struct {
		env     []string
		args    []string
		goarch  string // the GOARCH built, or "" when make must fail
		failure string
	}{
		"default":                   {args: []string{"build-ReplicatorFunction", "ARTIFACTS_DIR=" + plain}, goarch: "arm64"},
		"ARCH=arm64":                {args: []string{"build-ReplicatorFunction", "ARTIFACTS_DIR=" + plain, "ARCH=arm64"}, goarch: "arm64"},
		"ARCH=x86_64":               {args: []string{"build-ReplicatorFunction", "ARTIFACTS_DIR=" + plain, "ARCH=x86_64"}, goarch: "amd64"},
		"ARCH=amd64":                {args: []string{"build-ReplicatorFunction", "ARTIFACTS_DIR=" + plain, "ARCH=amd64"}, goarch: "amd64"},
		"ARCH=x86_64 in the env":    {env: []string{"ARCH=x86_64"}, args: []string{"build-ApplyFunction", "ARTIFACTS_DIR=" + plain}, goarch: "amd64"},
		"ARCH=i386":                 {args: []string{"build-ReplicatorFunction", "ARTIFACTS_DIR=" + plain, "ARCH=i386"}, failure: "ARCH=i386 is not a Lambda architecture"},
		"make build ARCH=x86_64":    {args: []string{"build", "ARCH=x86_64"}, goarch: "amd64"},
		"make build ARCH=ppc64":     {args: []string{"build", "ARCH=ppc64"}, failure: "ARCH=ppc64 is not a Lambda architecture"},
		"sam: x86_64, no ARCH":      {args: []string{"build-PublisherFunction", samDir("PublisherFunction")}, goarch: "amd64"},
		"sam: second function":      {args: []string{"build-ApplyFunction", samDir("ApplyFunction")}, goarch: "amd64"},
		"sam: arm64, no ARCH":       {args: []string{"build-ReplicatorFunction", samDir("ReplicatorFunction")}, goarch: "arm64"},
		"sam: cached build dir":     {args: []string{"build-ApplyFunction", "ARTIFACTS_DIR=" + filepath.Join(sam, "cache", "4c0a6d9e")}, goarch: "amd64"},
		"sam: ARCH agrees":          {args: []string{"build-PublisherFunction", samDir("PublisherFunction"), "ARCH=amd64"}, goarch: "amd64"},
		"sam: ARCH contradicts":     {args: []string{"build-ReplicatorFunction", samDir("ReplicatorFunction"), "ARCH=amd64"}, failure: "ARCH=amd64 contradicts Architecture arm64"},
		"sam: env ARCH contradicts": {env: []string{"ARCH=arm64"}, args: []string{"build-ApplyFunction", samDir("ApplyFunction")}, failure: "ARCH=arm64 contradicts Architecture x86_64"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := makeDryRun(t, tt.env, tt.args...)
			if tt.failure != "" {
				require.Error(t, err, "make -n %v must fail:\n%s", tt.args, out)
				assert.Contains(t, out, tt.failure)
				assert.NotContains(t, out, "go build")
				return
			}
			require.NoError(t, err, "make -n %v:\n%s", tt.args, out)
			assert.Contains(t, out, "GOARCH="+tt.goarch+" ")
			assert.Equal(t, 1, strings.Count(out, "GOARCH="), "one build:\n%s", out)
		})
	}
}

// TestMakefile_SAMVersion: what SAM builds is stamped dev unless VERSION is
// given (the pipeline gives the commit), so a plain `sam build` in the
// source tree stamps what ddbsync code-status expects.
func TestMakefile_SAMVersion(t *testing.T) {
	dir := "ARTIFACTS_DIR=" + t.TempDir()
	tests := map[string]struct {
		env  []string
		args []string
		want string
	}{
		"default":      {args: []string{"build-ReplicatorFunction", dir}, want: "-X main.Version=dev\""},
		"command line": {args: []string{"build-ReplicatorFunction", dir, "VERSION=" + testSHA}, want: "-X main.Version=" + testSHA + "\""},
		"environment":  {env: []string{"VERSION=" + testSHA}, args: []string{"build-ApplyFunction", dir}, want: "-X main.Version=" + testSHA + "\""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := makeDryRun(t, tt.env, tt.args...)
			require.NoError(t, err, out)
			assert.Contains(t, out, tt.want)
		})
	}
}
