package rie

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ddbsync/ddbsync/internal/localproc"
)

// Defaults for [Start].
const (
	// DefaultRegion is the AWS_REGION given to the function unless
	// [Options.Env] sets one; the emulator sets none.
	DefaultRegion = "us-east-1"
	// DefaultStartTimeout bounds the wait for the emulator to accept
	// connections.
	DefaultStartTimeout = 10 * time.Second

	invokePath       = "/2015-03-31/functions/function/invocations"
	timedOutPrefix   = "Task timed out"
	maxStartAttempts = 3
	readyPoll        = 20 * time.Millisecond
	stopGrace        = 2 * time.Second
)

// ErrTimedOut is returned (wrapped) by [Emulator.Invoke] when the function
// ran past its timeout.
var ErrTimedOut = errors.New("function timed out")

// errPortTaken marks a start that lost a port to another process.
var errPortTaken = errors.New("port already in use")

// FunctionError is a handler's error as the Lambda service reports it: an
// HTTP 200 response whose body is {"errorMessage": ..., "errorType": ...}.
// For a Go handler, Type is the dynamic type of the returned error (for
// example "errorString").
type FunctionError struct {
	// Type is the body's errorType.
	Type string
	// Message is the body's errorMessage.
	Message string
}

// Error returns "function error Type: Message".
func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// Options configures [Start].
type Options struct {
	// Bootstrap is the function's executable, as built by [Build]. Required.
	Bootstrap string
	// Env is added to the environment of the emulator, which passes it on
	// to the function ("KEY=value"; later entries win). Inherited AWS_*
	// variables are not passed on.
	Env []string
	// Timeout sets AWS_LAMBDA_FUNCTION_TIMEOUT, in whole seconds rounded
	// up; zero leaves the emulator's default (300 s).
	Timeout time.Duration
	// BinDir is where [Install] puts the emulator; empty means
	// [DefaultBinDir].
	BinDir string
	// Stderr, if set, also receives the emulator's and the function's
	// output as it is written. [Emulator.Logs] has it either way.
	Stderr io.Writer
}

// Emulator is a running aws-lambda-rie serving one function on 127.0.0.1.
type Emulator struct {
	// InvokeURL is the URL that [Emulator.Invoke] posts events to.
	InvokeURL string

	invokeMu  sync.Mutex // the emulator crashes on concurrent invocations
	client    *http.Client
	cmd       *exec.Cmd
	logs      *localproc.LogBuffer
	exited    chan struct{} // closed when the process has been waited for
	waitErr   error         // set before exited is closed
	closeOnce sync.Once
	closeErr  error
}

// Start installs the emulator if needed and runs it for opts.Bootstrap on
// two free 127.0.0.1 ports, in its own process group. It returns once the
// emulator accepts connections. ctx bounds the install and the start only:
// the emulator runs until [Emulator.Close].
func Start(ctx context.Context, opts Options) (*Emulator, error) {
	bootstrap, err := filepath.Abs(opts.Bootstrap)
	if err != nil || opts.Bootstrap == "" {
		return nil, fmt.Errorf("start emulator: bootstrap %q: not a valid path", opts.Bootstrap)
	}
	if _, err := os.Stat(bootstrap); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	bin, err := Install(ctx, opts.BinDir)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		e, err := start(ctx, bin, bootstrap, opts)
		if err == nil {
			return e, nil
		}
		// Another process may take a port between our probe and the
		// emulator's bind: try new ports.
		if !errors.Is(err, errPortTaken) || attempt == maxStartAttempts {
			return nil, fmt.Errorf("start emulator: %w", err)
		}
	}
}

// start makes one attempt to start the emulator.
func start(ctx context.Context, bin, bootstrap string, opts Options) (*Emulator, error) {
	ports, err := localproc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	invokeAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	logs := &localproc.LogBuffer{}
	var out io.Writer = logs
	if opts.Stderr != nil {
		out = io.MultiWriter(logs, opts.Stderr)
	}
	cmd := exec.Command(bin,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		bootstrap)
	cmd.Env = environ(opts)
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group, so Close stops everything; and killed if the test
	// binary dies without calling Close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", BinaryName, err)
	}
	e := &Emulator{
		InvokeURL: "http://" + invokeAddr + invokePath,
		client:    &http.Client{},
		cmd:       cmd,
		logs:      logs,
		exited:    make(chan struct{}),
	}
	go func() {
		e.waitErr = cmd.Wait()
		close(e.exited)
	}()
	if err := e.waitReady(ctx, invokeAddr); err != nil {
		_ = e.Close()
		if strings.Contains(strings.ToLower(logs.String()), "address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, fmt.Errorf("%w\nemulator output:\n%s", err, logs.String())
	}
	return e, nil
}

// environ returns the emulator's environment: ours without AWS_*, then
// opts.Env, with defaults for AWS_REGION and the timeout.
func environ(opts Options) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	hasRegion := false
	for _, kv := range opts.Env {
		hasRegion = hasRegion || strings.HasPrefix(kv, "AWS_REGION=")
	}
	if !hasRegion {
		env = append(env, "AWS_REGION="+DefaultRegion)
	}
	env = append(env, opts.Env...)
	if opts.Timeout > 0 {
		secs := int((opts.Timeout + time.Second - 1) / time.Second)
		env = append(env, "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(secs))
	}
	return env
}

// waitReady waits until addr accepts TCP connections.
func (e *Emulator) waitReady(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultStartTimeout)
	defer cancel()
	var d net.Dialer
	for {
		if conn, err := d.DialContext(ctx, "tcp", addr); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("wait for emulator: exited early: %v", e.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("wait for emulator on %s: %w", addr, ctx.Err())
		case <-time.After(readyPoll):
		}
	}
}

// Invoke sends one event to the function and returns the response body.
// Invocations are serialised: a call waits for the one in progress.
//
// The body is returned with any error that has one. The error is a
// [*FunctionError] when the handler returned an error, wraps [ErrTimedOut]
// when the function timed out, and reports the status for any other
// non-200 answer (a panic gives 502; its [*FunctionError], if the body has
// one, is wrapped).
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	e.invokeMu.Lock()
	defer e.invokeMu.Unlock()
	select {
	case <-e.exited:
		return nil, fmt.Errorf("invoke function: emulator exited: %v", e.waitErr)
	default:
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.InvokeURL, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("build invoke request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke function: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read invoke response: %w", err)
	}
	ferr := parseFunctionError(body)
	switch {
	case resp.StatusCode != http.StatusOK && ferr != nil:
		return body, fmt.Errorf("invoke function: status %d: %w", resp.StatusCode, ferr)
	case resp.StatusCode != http.StatusOK:
		return body, fmt.Errorf("invoke function: status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	case bytes.HasPrefix(bytes.TrimSpace(body), []byte(timedOutPrefix)):
		return body, fmt.Errorf("invoke function: %w: %s", ErrTimedOut, bytes.TrimSpace(body))
	case ferr != nil:
		return body, ferr
	}
	return body, nil
}

// parseFunctionError returns the error in body, or nil if body is not a
// JSON object with errorMessage or errorType.
func parseFunctionError(body []byte) *FunctionError {
	var v struct {
		Message *string `json:"errorMessage"`
		Type    *string `json:"errorType"`
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &v) != nil {
		return nil
	}
	if v.Message == nil && v.Type == nil {
		return nil
	}
	var fe FunctionError
	if v.Message != nil {
		fe.Message = *v.Message
	}
	if v.Type != nil {
		fe.Type = *v.Type
	}
	return &fe
}

// Logs returns everything the emulator and the function have written to
// stdout and stderr so far. The function's output reaches the emulator
// through a pipe, so a line the function wrote during an invocation may
// appear shortly after Invoke returns: poll for it (assert.Eventually)
// rather than checking once.
func (e *Emulator) Logs() string { return e.logs.String() }

// Close stops the emulator and waits for it to exit. It sends SIGTERM first,
// on which the emulator stops the function (which runs in a process group of
// its own), then kills the emulator's process group if it is still there
// after a grace period. It returns an error if the emulator had already
// exited on its own. It is safe to call more than once.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		select {
		case <-e.exited:
			e.closeErr = fmt.Errorf("close emulator: exited before close: %v", e.waitErr)
			return
		default:
		}
		pgid := -e.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(stopGrace):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-e.exited
		}
	})
	return e.closeErr
}

// StartTB starts an emulator for a test and closes it in tb.Cleanup,
// logging its output if the test failed. It calls tb.Fatal if the emulator
// cannot start: these tests must run everywhere, CI included.
func StartTB(tb testing.TB, opts Options) *Emulator {
	tb.Helper()
	e, err := Start(tb.Context(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		err := e.Close()
		if err != nil {
			tb.Error(err)
		}
		if err != nil || tb.Failed() {
			tb.Logf("%s output:\n%s", BinaryName, e.Logs())
		}
	})
	return e
}
