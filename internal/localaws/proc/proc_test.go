package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockFile_Exclusive(t *testing.T) {
	name := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := LockFile(t.Context(), name)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = LockFile(ctx, name)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a held lock is not taken twice")

	unlock()
	unlock2, err := LockFile(t.Context(), name)
	require.NoError(t, err, "a released lock can be taken")
	unlock2()
}

func TestFreePorts_Distinct(t *testing.T) {
	ports, err := FreePorts(3)
	require.NoError(t, err)
	require.Len(t, ports, 3)
	assert.NotEqual(t, ports[0], ports[1])
	assert.NotEqual(t, ports[1], ports[2])
	assert.NotEqual(t, ports[0], ports[2])
}

func TestLogBuffer_Concurrent(t *testing.T) {
	var b LogBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _, _ = b.Write([]byte("ab")) })
	}
	wg.Wait()
	assert.Equal(t, "abababababababab", b.String())
}

func TestStart(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "ready")
	ready := func(context.Context, []int) error { _, err := os.Stat(flag); return err }
	never := func(context.Context, []int) error { return errors.New("not yet") }
	tests := map[string]struct {
		script  string
		ready   func(context.Context, []int) error
		wantErr string
	}{
		"ready":         {script: "echo started; touch " + flag + "; exec sleep 60", ready: ready},
		"exits early":   {script: "echo bye; exit 3", ready: never, wantErr: "exited early"},
		"never ready":   {script: "exec sleep 60", ready: never, wantErr: "to answer within"},
		"port taken":    {script: "echo 'Address already in use'; exit 1", ready: never, wantErr: "port already in use"},
		"output in err": {script: "echo some output; exit 1", ready: never, wantErr: "some output"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			attempts := 0
			p, err := Start(t.Context(), Spec{
				Name:  "test process",
				Ports: 2,
				Command: func(ports []int) (*exec.Cmd, error) {
					attempts++
					require.Len(t, ports, 2)
					return exec.Command("sh", "-c", tt.script), nil
				},
				Ready:        tt.ready,
				PortTaken:    "address ALREADY in use",
				StartTimeout: 300 * time.Millisecond,
			})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), "start test process")
				if name == "port taken" {
					assert.Equal(t, maxStartAttempts, attempts, "a lost port is retried on new ports")
				} else {
					assert.Equal(t, 1, attempts)
				}
				return
			}
			require.NoError(t, err)
			require.Len(t, p.Ports, 2)
			require.NoError(t, p.Close(), "a running process closes cleanly")
			require.NoError(t, p.Close(), "Close is idempotent")
			<-p.Exited()
			assert.Contains(t, p.Logs(), "started")
		})
	}
}

func TestProcess_CloseAfterExit(t *testing.T) {
	p, err := Start(t.Context(), Spec{
		Name:    "short",
		Command: func([]int) (*exec.Cmd, error) { return exec.Command("sh", "-c", "sleep 0.2"), nil },
		Ready:   func(context.Context, []int) error { return nil },
	})
	require.NoError(t, err)
	<-p.Exited()
	assert.ErrorContains(t, p.Close(), "exited before close", "a process that died on its own is reported")
}

func TestProcess_StopSignal(t *testing.T) {
	tests := map[string]struct {
		script   string
		min, max time.Duration
	}{
		"stops on the signal":            {script: "exec sleep 60", max: 2 * time.Second},
		"ignores it, killed after grace": {script: "trap '' TERM; exec sleep 60", min: 500 * time.Millisecond, max: 5 * time.Second},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Start(t.Context(), Spec{
				Name:      "graceful",
				Command:   func([]int) (*exec.Cmd, error) { return exec.Command("sh", "-c", tt.script), nil },
				Ready:     func(context.Context, []int) error { return nil },
				Stop:      syscall.SIGTERM,
				StopGrace: 500 * time.Millisecond,
			})
			require.NoError(t, err)
			time.Sleep(100 * time.Millisecond) // let sh set its trap: this test is about Close, not the start
			start := time.Now()
			require.NoError(t, p.Close())
			took := time.Since(start)
			assert.GreaterOrEqual(t, took, tt.min)
			assert.Less(t, took, tt.max)
		})
	}
}

func TestDialReady(t *testing.T) {
	ports, err := FreePorts(1)
	require.NoError(t, err)
	probe := DialReady(0)
	require.Error(t, probe(t.Context(), ports), "nothing listens yet")
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, probe(t.Context(), ports))
}
