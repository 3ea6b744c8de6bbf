// Package testkit holds the test helpers that many packages share: one
// DynamoDB Local and one moto_server per test binary, access key ids that
// keep tests apart in them, the emulator with cleanup, golden files and
// tools that CI must have. Tests only: it imports testing, and no shipped
// binary links it (cmd/ddbsync's TestShippedBinaries_LinkNoTestCode).
//
// A package whose tests use [DDB] or [SharedMoto] stops the servers in its
// TestMain:
//
//	func TestMain(m *testing.M) { testkit.Main(m) }
package testkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/moto"
	"github.com/ddbsync/ddbsync/internal/localaws/rie"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// maxKeyIDPrefix bounds the test-name part of an access key id.
const maxKeyIDPrefix = 40

// shared holds the servers of this test binary, started on first use.
var shared struct {
	mu   sync.Mutex
	ddb  *ddblocal.Server
	moto *moto.Server
	err  error // the DynamoDB Local start error, kept: a second try would fail the same way, slowly

	builds   map[string]*build // by package, see Bootstrap
	buildDir string
}

// build is one package's bootstrap build, done once per test binary.
type build struct {
	once sync.Once
	path string
	err  error
}

// Main runs the tests (m is TestMain's), stops the shared servers and
// exits; a server that does not stop cleanly fails the run.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run runs the tests, stops the shared servers and returns the exit code,
// for a TestMain that does more.
func Run(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.ddb != nil {
		if err := shared.ddb.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		shared.ddb = nil
	}
	if shared.moto != nil {
		_ = shared.moto.Close() // killed: its exit status says nothing
		shared.moto = nil
	}
	if shared.buildDir != "" {
		_ = os.RemoveAll(shared.buildDir)
		shared.buildDir = ""
	}
	return code
}

// DDB returns the test binary's DynamoDB Local, starting it on first use.
// Each test keeps its own database by using its own access key id
// ([AccessKeyID], [NewAccessKeyID]). It fails tb (never skips) if the
// server cannot start: these tests run everywhere, CI included.
func DDB(tb testing.TB) *ddblocal.Server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.ddb == nil && shared.err == nil {
		shared.ddb, shared.err = ddblocal.Start(context.Background(), ddblocal.Options{})
	}
	require.NoError(tb, shared.err)
	return shared.ddb
}

// StartDDB starts a DynamoDB Local of tb's own and closes it at cleanup,
// for tests that stop or disturb their server.
func StartDDB(tb testing.TB) *ddblocal.Server {
	tb.Helper()
	s, err := ddblocal.Start(tb.Context(), ddblocal.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("%v\nserver output:\n%s", err, s.Logs())
		}
	})
	return s
}

// AccessKeyID returns an access key id unique to the test tb: the letters
// and digits of tb.Name() (at most 40) followed by 8 hex digits of its
// hash. Raw test names do not work: DynamoDB Local rejects ids with some
// characters ("_", "-", ".") and cuts ids at "/", so the subtests "TestX/a"
// and "TestX/b" would share one database.
func AccessKeyID(tb testing.TB) string {
	tb.Helper()
	name := tb.Name()
	var b strings.Builder
	for _, r := range name {
		if b.Len() == maxKeyIDPrefix {
			break
		}
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	sum := sha256.Sum256([]byte(name))
	return b.String() + hex.EncodeToString(sum[:4])
}

// keyIDs makes [NewAccessKeyID] unique across calls and -count runs.
var keyIDs atomic.Int64

// NewAccessKeyID returns a new access key id for tb on every call: an empty
// database in a shared server, also when the test runs again (-count).
func NewAccessKeyID(tb testing.TB) string {
	tb.Helper()
	return AccessKeyID(tb) + strconv.FormatInt(keyIDs.Add(1), 10)
}

// Bootstrap returns the Lambda bootstrap of pkg (a ./path from the module
// root, e.g. "./cmd/replicator") built as `sam build` builds it
// ([rie.Build]), building it on the first call of the test binary only. The
// build lives until [Run] ends; without testkit.Main in TestMain it stays
// in the temporary directory.
func Bootstrap(tb testing.TB, pkg string) string {
	tb.Helper()
	shared.mu.Lock()
	if shared.builds == nil {
		shared.builds = map[string]*build{}
	}
	b := shared.builds[pkg]
	if b == nil {
		b = &build{}
		shared.builds[pkg] = b
	}
	var err error
	if shared.buildDir == "" {
		shared.buildDir, err = os.MkdirTemp("", "testkit-bootstrap-")
	}
	dir := shared.buildDir
	shared.mu.Unlock()
	require.NoError(tb, err, "make the build directory")
	b.once.Do(func() {
		out, err := os.MkdirTemp(dir, "build-")
		if err != nil {
			b.err = err
			return
		}
		b.path, b.err = rie.Build(context.Background(), pkg, out)
	})
	require.NoError(tb, b.err)
	return b.path
}

// StartRIE starts the Lambda Runtime Interface Emulator for a test and
// closes it at cleanup, logging its output if the test failed. It fails tb
// if the emulator cannot start.
func StartRIE(tb testing.TB, opts rie.Options) *rie.Emulator {
	tb.Helper()
	e, err := rie.Start(tb.Context(), opts)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		err := e.Close()
		if err != nil {
			tb.Error(err)
		}
		if err != nil || tb.Failed() {
			tb.Logf("%s output:\n%s", rie.BinaryName, e.Logs())
		}
	})
	return e
}

// Moto starts a moto_server of tb's own, stops it at cleanup and returns
// its endpoint. Without moto_server on PATH the test is skipped, unless CI
// is set, where it fails.
func Moto(tb testing.TB) string {
	tb.Helper()
	NeedTool(tb, moto.BinaryName, moto.InstallHint)
	s, err := moto.Start(tb.Context())
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s.Endpoint
}

// SharedMoto returns the endpoint of the test binary's moto_server,
// starting it on first use (it takes seconds on a loaded machine); tests
// keep apart by their own bucket, queue or topic names. It skips or fails
// as [Moto] does.
func SharedMoto(tb testing.TB) string {
	tb.Helper()
	NeedTool(tb, moto.BinaryName, moto.InstallHint)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.moto == nil {
		s, err := moto.Start(context.Background())
		require.NoError(tb, err)
		shared.moto = s
	}
	return shared.moto.Endpoint
}

// NeedTool returns the path of a program on PATH, skipping the test when it
// is missing, except under CI (CI set), where it fails: CI must have every
// tool.
func NeedTool(tb testing.TB, name, install string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	SkipUnlessCI(tb, "%s is not on PATH (%s)", name, install)
	return ""
}

// SkipUnlessCI skips the test with the reason, or fails it when CI is set,
// where nothing a test needs may be missing.
func SkipUnlessCI(tb testing.TB, format string, args ...any) {
	tb.Helper()
	reason := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s, and CI is set", reason)
	}
	tb.Skipf("%s; CI runs this test", reason)
}

// Updating reports whether the tests run with -update, which rewrites
// golden files.
func Updating() bool { return *update }

// Golden compares got with testdata/name, or rewrites that file first
// with -update.
func Golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(tb, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(tb, err, "run go test -update to create %s", path)
	assert.Equal(tb, string(want), string(got))
}
