package rie

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ddbsync/ddbsync/internal/lambdainvoke"
	"github.com/ddbsync/ddbsync/internal/localaws/proc"
)

// Defaults for [Start].
const (
	// DefaultRegion is the AWS_REGION given to the function unless
	// [Options.Env] sets one; the emulator sets none.
	DefaultRegion = "us-east-1"
	// DefaultStartTimeout bounds the wait for the emulator to accept
	// connections.
	DefaultStartTimeout = proc.DefaultStartTimeout

	readyPoll = 20 * time.Millisecond
	stopGrace = 2 * time.Second
)

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

	client *lambdainvoke.Client
	proc   *proc.Process
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
	p, err := proc.Start(ctx, proc.Spec{
		Name:  BinaryName,
		Ports: 2, // invoke, runtime API
		Command: func(ports []int) (*exec.Cmd, error) {
			cmd := exec.Command(bin,
				"--runtime-interface-emulator-address", invokeAddr(ports),
				"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
				bootstrap)
			cmd.Env = environ(opts)
			return cmd, nil
		},
		Ready:     proc.DialReady(0),
		ReadyPoll: readyPoll,
		PortTaken: "address already in use",
		// On SIGTERM the emulator stops the function, which runs in a
		// process group of its own.
		Stop:      syscall.SIGTERM,
		StopGrace: stopGrace,
		Stderr:    opts.Stderr,
	})
	if err != nil {
		return nil, err
	}
	url := "http://" + invokeAddr(p.Ports) + lambdainvoke.InvokePath
	client, err := lambdainvoke.New(url, &http.Client{})
	if err != nil {
		_ = p.Close()
		return nil, err
	}
	return &Emulator{InvokeURL: url, client: client, proc: p}, nil
}

// invokeAddr is the emulator's invoke address for the ports of a start.
func invokeAddr(ports []int) string { return "127.0.0.1:" + strconv.Itoa(ports[0]) }

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

// Invoke sends one event to the function and returns the response body.
// Invocations are serialised: a call waits for the one in progress.
//
// The body is returned with any error that has one. The error is a
// [*lambdainvoke.FunctionError] when the handler returned an error, wraps [lambdainvoke.ErrTimedOut]
// when the function timed out, and reports the status for any other
// non-200 answer (a panic gives 502; its [*lambdainvoke.FunctionError], if the body has
// one, is wrapped).
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case <-e.proc.Exited():
		return nil, fmt.Errorf("invoke function: emulator exited: %v", e.proc.ExitErr())
	default:
	}
	return e.client.Invoke(ctx, payload)
}

// Logs returns everything the emulator and the function have written to
// stdout and stderr so far. The function's output reaches the emulator
// through a pipe, so a line the function wrote during an invocation may
// appear shortly after Invoke returns: poll for it (assert.Eventually)
// rather than checking once.
func (e *Emulator) Logs() string { return e.proc.Logs() }

// Close stops the emulator and waits for it to exit. It sends SIGTERM first,
// on which the emulator stops the function (which runs in a process group of
// its own), then kills the emulator's process group if it is still there
// after a grace period. It returns an error if the emulator had already
// exited on its own. It is safe to call more than once.
func (e *Emulator) Close() error { return e.proc.Close() }
