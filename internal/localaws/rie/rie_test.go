package rie_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/lambdainvoke"
	"github.com/ddbsync/ddbsync/internal/localaws/rie"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

const echoPkg = "./internal/localaws/rie/testdata/echofn"

func TestEmulator_Invoke(t *testing.T) {
	t.Setenv("AWS_PROFILE", "must-not-leak")
	bootstrap := buildEcho(t)
	start := time.Now()
	e := testkit.StartRIE(t, rie.Options{Bootstrap: bootstrap, Env: []string{"ECHO_VAR=hello"}})
	t.Logf("install and start took %s", time.Since(start))

	tests := map[string]struct {
		in      string
		want    string
		wantErr *lambdainvoke.FunctionError
		wantLog string
	}{
		"object":           {in: `{"a":1,"b":[true,null]}`, want: `{"a":1,"b":[true,null]}`},
		"string":           {in: `"hi"`, want: `"hi"`},
		"returned error":   {in: `{"fail":true}`, wantErr: &lambdainvoke.FunctionError{Type: "errorString", Message: "asked to fail"}},
		"env from options": {in: `{"env":"ECHO_VAR"}`, want: `{"env":"ECHO_VAR"}`, wantLog: `echofn env ECHO_VAR="hello"`},
		"default region":   {in: `{"env":"AWS_REGION"}`, want: `{"env":"AWS_REGION"}`, wantLog: `echofn env AWS_REGION="us-east-1"`},
		"no inherited AWS": {in: `{"env":"AWS_PROFILE"}`, want: `{"env":"AWS_PROFILE"}`, wantLog: `echofn env AWS_PROFILE=""`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := e.Invoke(t.Context(), []byte(tc.in))
			if tc.wantErr != nil {
				var ferr *lambdainvoke.FunctionError
				require.ErrorAs(t, err, &ferr)
				assert.Equal(t, tc.wantErr, ferr)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(got))
			if tc.wantLog != "" {
				// The function's output reaches the log through a pipe,
				// possibly after Invoke returns.
				assert.Eventually(t, func() bool { return strings.Contains(e.Logs(), tc.wantLog) },
					2*time.Second, 10*time.Millisecond, "no %q in the logs", tc.wantLog)
			}
		})
	}

	t.Run("concurrent calls are serialised", func(t *testing.T) {
		const calls = 8
		var wg sync.WaitGroup
		errs := make([]error, calls)
		for i := range calls {
			wg.Go(func() {
				in, _ := json.Marshal(map[string]int{"i": i, "sleepMs": 10})
				got, err := e.Invoke(t.Context(), in)
				if err == nil && string(got) != string(in) {
					err = errors.New("got " + string(got))
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			assert.NoError(t, err, "call %d", i)
		}
	})
	assert.Contains(t, e.Logs(), "echofn invoked with")
}

func TestEmulator_InvokeCrash(t *testing.T) {
	e := testkit.StartRIE(t, rie.Options{Bootstrap: buildEcho(t), Timeout: time.Second})

	t.Run("timeout", func(t *testing.T) {
		_, err := e.Invoke(t.Context(), []byte(`{"sleepMs":1500}`))
		require.ErrorIs(t, err, lambdainvoke.ErrTimedOut)
	})
	t.Run("panic", func(t *testing.T) {
		body, err := e.Invoke(t.Context(), []byte(`{"panic":true}`))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "status 502")
		var ferr *lambdainvoke.FunctionError
		if assert.ErrorAs(t, err, &ferr, "body %s", body) {
			assert.Equal(t, "asked to panic", ferr.Message)
		}
	})
	t.Run("recovered", func(t *testing.T) {
		got, err := e.Invoke(t.Context(), []byte(`{"after":"crash"}`))
		require.NoError(t, err, "the emulator restarts the function")
		assert.JSONEq(t, `{"after":"crash"}`, string(got))
	})
}

func TestEmulator_Close(t *testing.T) {
	bootstrap := buildEcho(t)
	e, err := rie.Start(t.Context(), rie.Options{Bootstrap: bootstrap})
	require.NoError(t, err)
	_, err = e.Invoke(t.Context(), []byte(`{}`))
	require.NoError(t, err)
	require.NotEmpty(t, processesOf(t, bootstrap), "function not running after an invocation")

	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "second Close")
	u, err := url.Parse(e.InvokeURL)
	require.NoError(t, err)
	_, err = net.DialTimeout("tcp", u.Host, time.Second)
	assert.Error(t, err, "emulator still answers after Close")
	assert.Eventually(t, func() bool { return len(processesOf(t, bootstrap)) == 0 }, 2*time.Second, 20*time.Millisecond,
		"function still running after Close")
	_, err = e.Invoke(context.Background(), []byte(`{}`))
	assert.Error(t, err)
}

func TestInstall(t *testing.T) {
	bin, err := rie.Install(t.Context(), "")
	require.NoError(t, err)
	dir, err := rie.DefaultBinDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, rie.BinaryName), bin)
	again, err := rie.Install(t.Context(), "")
	require.NoError(t, err)
	assert.Equal(t, bin, again)
}

// buildEcho builds testdata/echofn into a temp dir and returns the
// bootstrap's path.
func buildEcho(tb testing.TB) string {
	tb.Helper()
	bootstrap, err := rie.Build(tb.Context(), echoPkg, tb.TempDir())
	require.NoError(tb, err)
	return bootstrap
}

// processesOf returns the pids of the running processes whose executable is
// exe.
func processesOf(tb testing.TB, exe string) []string {
	tb.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(tb, err)
	var pids []string
	for _, entry := range entries {
		target, err := os.Readlink(filepath.Join("/proc", entry.Name(), "exe"))
		if err == nil && strings.TrimSuffix(target, " (deleted)") == exe {
			pids = append(pids, entry.Name())
		}
	}
	return pids
}
