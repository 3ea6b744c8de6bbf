package ddblocal

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/ddbsync/ddbsync/internal/localaws/proc"
)

// What Install fetches and pins.
const (
	// Version is the DynamoDB Local release that Install provides.
	Version = "1.25.1"
	// NPMPackage is the npm package that ships DynamoDB Local [Version] in
	// its emulator/ folder. Only the tarball is fetched (npm pack); none of
	// its dependencies are installed.
	NPMPackage = "amplify-dynamodb-simulator@2.9.30"
	// JarSHA256 is the pinned sha256 of DynamoDBLocal.jar. The emulator/sha256
	// file shipped in the package is the upstream tarball's hash, not the
	// jar's, so Install checks the jar itself.
	JarSHA256 = "454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7"
)

// Layout of an install directory.
const (
	jarName       = "DynamoDBLocal.jar"
	libDirName    = "DynamoDBLocal_lib"
	classesDir    = "classes"
	mainClass     = "LoopbackMain"
	markerName    = ".installed"
	tarballPrefix = "package/emulator/"
)

// loopbackSource is the Java main that binds DynamoDB Local to 127.0.0.1.
//
//go:embed LoopbackMain.java
var loopbackSource []byte

// DefaultDir returns the default install directory,
// <repo root>/.local-aws/dynamodb-local (git-ignored).
func DefaultDir() (string, error) {
	root, err := proc.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".local-aws", "dynamodb-local"), nil
}

// Install makes sure DynamoDB Local [Version] is in dir (empty means
// [DefaultDir]) and returns dir. It fetches [NPMPackage] with npm, extracts
// its emulator/ folder, checks DynamoDBLocal.jar against [JarSHA256] and
// compiles the loopback-only main with javac. It needs npm and javac on PATH
// (and java to run the server).
//
// Install owns dir: an incomplete or outdated install there is replaced.
// A marker file records a finished install, so later calls return at once.
// Install is safe to call from several processes at the same time (as the
// test binaries of several packages do): they serialise on a lock file next
// to dir, and a finished install appears in dir with one rename.
func Install(ctx context.Context, dir string) (string, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve install dir: %w", err)
	}
	if installed(dir) {
		return dir, nil
	}
	if err := lookTools("java", "javac", "npm"); err != nil {
		return "", err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create install parent: %w", err)
	}
	unlock, err := proc.LockFile(ctx, filepath.Join(parent, "."+filepath.Base(dir)+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if installed(dir) { // another process finished while we waited
		return dir, nil
	}
	if err := install(ctx, dir); err != nil {
		return "", fmt.Errorf("install dynamodb local %s: %w", Version, err)
	}
	return dir, nil
}

// install does the work of Install while holding the lock.
func install(ctx context.Context, dir string) error {
	// Holding the lock, any temp dir left here was left by a killed process.
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*"))
	for _, d := range stale {
		_ = os.RemoveAll(d)
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(work)

	tarball, err := npmPack(ctx, work)
	if err != nil {
		return err
	}
	stage := filepath.Join(work, "stage")
	if err := extract(tarball, stage); err != nil {
		return err
	}
	sum, err := fileSHA256(filepath.Join(stage, jarName))
	if err != nil {
		return err
	}
	if sum != JarSHA256 {
		return fmt.Errorf("verify %s from %s: sha256 is %s, want %s", jarName, NPMPackage, sum, JarSHA256)
	}
	if err := compileMain(ctx, work, stage); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stage, markerName), []byte(marker()), 0o644); err != nil {
		return fmt.Errorf("write install marker: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove old install: %w", err)
	}
	if err := os.Rename(stage, dir); err != nil {
		return fmt.Errorf("move install into place: %w", err)
	}
	return nil
}

// marker is the content of the marker file of a finished install. It names
// the jar and Java source hashes, so a change to either forces a reinstall.
func marker() string {
	src := sha256.Sum256(loopbackSource)
	return fmt.Sprintf("DynamoDB Local %s from %s\n%s sha256 %s\n%s.java sha256 %s\n",
		Version, NPMPackage, jarName, JarSHA256, mainClass, hex.EncodeToString(src[:]))
}

// installed reports whether dir holds a finished install of this version.
// The jar was hashed before the marker was written, so this stays cheap.
func installed(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, markerName))
	if err != nil || string(b) != marker() {
		return false
	}
	for _, name := range []string{jarName, libDirName, filepath.Join(classesDir, mainClass+".class")} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// lookTools returns an error naming every tool that is not on PATH.
func lookTools(names ...string) error {
	var missing []string
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("find tools: %s not on PATH (DynamoDB Local needs a JDK 11 or later, and npm to fetch it)",
			strings.Join(missing, ", "))
	}
	return nil
}

// npmPack fetches the package tarball into dir and returns its path.
func npmPack(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "npm", "pack", "--silent", NPMPackage)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm pack %s: %w\n%s", NPMPackage, err, out)
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if err != nil || len(matches) != 1 {
		return "", fmt.Errorf("npm pack %s: want one .tgz in %s, found %d", NPMPackage, dir, len(matches))
	}
	return matches[0], nil
}

// extract writes the files under package/emulator/ of the gzipped tarball
// to dir, without that prefix.
func extract(tarball, dir string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("open tarball: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("read tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tarball: %w", err)
		}
		rel, ok := strings.CutPrefix(path.Clean(h.Name), tarballPrefix)
		if !ok {
			continue
		}
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("extract tarball: unsafe path %q", h.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("extract tarball: %w", err)
			}
		case tar.TypeReg:
			if err := writeFile(dst, tr, os.FileMode(h.Mode).Perm()|0o644); err != nil {
				return fmt.Errorf("extract tarball: %w", err)
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("extract tarball: no files under %s", tarballPrefix)
	}
	return nil
}

// writeFile copies r to a new file name, creating its parent directories.
func writeFile(name string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fileSHA256 returns the hex sha256 of a file.
func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", filepath.Base(name), err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", filepath.Base(name), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// compileMain compiles the embedded LoopbackMain.java into stage/classes.
func compileMain(ctx context.Context, work, stage string) error {
	src := filepath.Join(work, mainClass+".java")
	if err := os.WriteFile(src, loopbackSource, 0o644); err != nil {
		return fmt.Errorf("write %s.java: %w", mainClass, err)
	}
	cmd := exec.CommandContext(ctx, "javac", "-nowarn", "-Xlint:-path", "-encoding", "UTF-8",
		"-cp", filepath.Join(stage, jarName), "-d", filepath.Join(stage, classesDir), src)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("compile %s.java: %w\n%s", mainClass, err, out)
	}
	return nil
}
