package artifact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Names shared by the Makefile, template.yaml and Lambda.
const (
	// Target is the Makefile target `sam build` runs for the function
	// (build-<LogicalId>).
	Target = "build-ReplicatorFunction"
	// Bootstrap is the executable a provided.al2023 function runs: the
	// handler, and the only file in the zip.
	Bootstrap = "bootstrap"
	// DefaultVersion is the VERSION a plain `sam build` stamps: SAM copies
	// the source without .git to a scratch directory, where the Makefile's
	// `git describe` fails and it falls back to "dev".
	DefaultVersion = "dev"
)

// ErrUnknownArchitecture is returned for a Lambda architecture other than
// arm64 and x86_64.
var ErrUnknownArchitecture = errors.New("unknown Lambda architecture")

// goArchs maps Lambda's architecture names to GOARCH, which the Makefile's
// ARCH variable takes.
var goArchs = map[string]string{
	"arm64":  "arm64",
	"x86_64": "amd64",
}

// GoArch returns the GOARCH that builds for a Lambda architecture ("arm64"
// or "x86_64"; empty means x86_64, Lambda's default).
func GoArch(lambdaArch string) (string, error) {
	if lambdaArch == "" {
		lambdaArch = "x86_64"
	}
	goarch, ok := goArchs[lambdaArch]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownArchitecture, lambdaArch)
	}
	return goarch, nil
}

// LambdaArchitectures returns the Lambda architectures GoArch knows.
func LambdaArchitectures() []string { return []string{"arm64", "x86_64"} }

// BuildOptions says what Build builds.
type BuildOptions struct {
	// Dir is the repository root, where the Makefile is (default ".").
	Dir string
	// GOARCH is passed to the Makefile as ARCH (default: the Makefile's).
	GOARCH string
	// Version is passed to the Makefile as VERSION (default: the Makefile's).
	Version string
	// Env is added to the environment of make, such as GOCACHE=<dir>.
	Env []string
}

// Build runs `make build-ReplicatorFunction` with ARTIFACTS_DIR set to a
// temporary directory, as `sam build` does, and returns the bootstrap it
// wrote.
func Build(ctx context.Context, opts BuildOptions) ([]byte, error) {
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	out, err := os.MkdirTemp("", "ddbsync-artifact-")
	if err != nil {
		return nil, fmt.Errorf("create artifacts dir: %w", err)
	}
	defer os.RemoveAll(out)
	args := []string{"-s", "-C", dir, Target, "ARTIFACTS_DIR=" + out}
	if opts.GOARCH != "" {
		args = append(args, "ARCH="+opts.GOARCH)
	}
	if opts.Version != "" {
		args = append(args, "VERSION="+opts.Version)
	}
	cmd := exec.CommandContext(ctx, "make", args...)
	cmd.Env = append(os.Environ(), opts.Env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("make %s: %w\n%s", Target, err, b)
	}
	b, err := os.ReadFile(filepath.Join(out, Bootstrap))
	if err != nil {
		return nil, fmt.Errorf("read built %s: %w", Bootstrap, err)
	}
	return b, nil
}

// Source is the git state of a working tree.
type Source struct {
	// Commit is HEAD's full hash.
	Commit string
	// Dirty says whether tracked files differ from HEAD: a build of the
	// tree is then not a build of the commit.
	Dirty bool
}

// HeadCommit returns the git state of the working tree at dir.
func HeadCommit(ctx context.Context, dir string) (Source, error) {
	head, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return Source{}, err
	}
	status, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return Source{}, err
	}
	return Source{Commit: head, Dirty: status != ""}, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
