package rie

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/ddbsync/ddbsync/internal/localaws/proc"
)

// What Install fetches.
const (
	// Module is the Go package of the emulator's command.
	Module = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	// ModuleVersion is the pinned version of [Module].
	ModuleVersion = "v0.0.0-20261030222936-bef5c4ba774d"
	// BinaryName is the name of the installed emulator binary.
	BinaryName = "aws-lambda-rie"
)

// DefaultBinDir returns the default directory for the emulator binary,
// <repo root>/.local-aws/bin (git-ignored).
func DefaultBinDir() (string, error) {
	root, err := proc.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".local-aws", "bin"), nil
}

// Install makes sure binDir (empty means [DefaultBinDir]) holds the
// emulator built from [Module]@[ModuleVersion], running `go install` if
// not, and returns the binary's path. A binary built from another version
// is replaced. Install is safe to call from several processes at once: they
// take turns on a lock file in binDir, and the binary appears with one
// rename.
func Install(ctx context.Context, binDir string) (string, error) {
	if binDir == "" {
		d, err := DefaultBinDir()
		if err != nil {
			return "", err
		}
		binDir = d
	}
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return "", fmt.Errorf("resolve bin dir: %w", err)
	}
	bin := filepath.Join(binDir, BinaryName)
	if installed(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("create bin dir: %w", err)
	}
	unlock, err := proc.LockFile(ctx, filepath.Join(binDir, "."+BinaryName+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if installed(bin) { // another process finished while we waited
		return bin, nil
	}
	tmp, err := os.MkdirTemp(binDir, "."+BinaryName+".tmp-")
	if err != nil {
		return "", fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", Module+"@"+ModuleVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install %s: %w\n%s", BinaryName, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, BinaryName), bin); err != nil {
		return "", fmt.Errorf("move %s into place: %w", BinaryName, err)
	}
	return bin, nil
}

// installed reports whether bin was built from the pinned version.
func installed(bin string) bool {
	info, err := buildinfo.ReadFile(bin)
	return err == nil && info.Path == Module && info.Main.Version == ModuleVersion
}

// Build builds the Lambda function in pkg (a package path or a ./path
// relative to the repo root) into <outDir>/bootstrap, as SAM builds a Go
// function for the provided.al2023 runtime: CGO_ENABLED=0, GOOS=linux, the
// host's GOARCH (so it runs here), -tags lambda.norpc and -trimpath. It
// returns the bootstrap's path.
func Build(ctx context.Context, pkg, outDir string) (string, error) {
	root, err := proc.RepoRoot()
	if err != nil {
		return "", err
	}
	outDir, err = filepath.Abs(outDir)
	if err != nil {
		return "", fmt.Errorf("resolve out dir: %w", err)
	}
	out := filepath.Join(outDir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}
