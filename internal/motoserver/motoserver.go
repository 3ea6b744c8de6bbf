// Package motoserver starts moto_server, the local stand-in for SNS, SQS,
// S3, STS and CloudFormation, for tests. It is a test harness: nothing
// shipped imports it.
package motoserver

import (
	"net"
	"os"
	"os/exec"
	"strconv"
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
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its own process group
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(readyTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			tb.Fatalf("moto_server not ready at %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for readiness, not synchronisation
	}
}
