// Package motoserver starts moto_server, the local stand-in for SNS, SQS,
// S3, STS and CloudFormation, for tests. It is a test harness: nothing
// shipped imports it.
package motoserver

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localproc"
)

// readyTimeout bounds the wait for moto_server to accept connections.
const readyTimeout = 20 * time.Second

// Start starts moto_server on a free loopback port, stops it when tb ends,
// and returns its endpoint. Without moto_server on PATH the test is
// skipped, unless CI is set, where it fails.
func Start(tb testing.TB) string {
	tb.Helper()
	endpoint, stop := start(tb)
	tb.Cleanup(stop)
	return endpoint
}

// start starts moto_server and returns its endpoint and how to stop it.
func start(tb testing.TB) (string, func()) {
	tb.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("moto_server not on PATH (pip install 'moto[server]'): %v", err)
		}
		tb.Skipf("moto_server not on PATH (pip install 'moto[server]'); this test needs an SNS/SQS stand-in")
	}
	ports, err := localproc.FreePorts(1)
	require.NoError(tb, err)
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(ports[0]))
	var logs localproc.LogBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(tb, cmd.Start())
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its own process group
		_ = cmd.Wait()
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr, stop
		}
		if time.Now().After(deadline) {
			stop()
			tb.Fatalf("moto_server not ready at %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for readiness, not synchronisation
	}
}

// Shared is one moto_server for all the tests of a test binary, started by
// the first test that needs it (moto_server takes seconds to start on a
// loaded machine). Tests keep apart by using their own bucket, queue or
// topic names. Call Get in the tests and Close at the end of TestMain.
type Shared struct {
	mu       sync.Mutex
	endpoint string
	stop     func()
}

// Get returns the shared server's endpoint, starting it on first use; it
// skips or fails tb as [Start] does.
func (s *Shared) Get(tb testing.TB) string {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endpoint == "" {
		s.endpoint, s.stop = start(tb)
	}
	return s.endpoint
}

// Close stops the server if a test started it.
func (s *Shared) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		s.stop, s.endpoint = nil, ""
	}
}
