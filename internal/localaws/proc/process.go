package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults for [Spec].
const (
	// DefaultStartTimeout bounds the wait for a started process to answer its
	// readiness probe. DynamoDB Local answers after about 2.5 s on an idle
	// 2-core machine but took more than 30 s at a load average of 28-41, so
	// the bound is generous: it only costs time when the start has failed.
	DefaultStartTimeout = 2 * time.Minute
	// DefaultReadyPoll is how often the readiness probe is retried.
	DefaultReadyPoll = 50 * time.Millisecond

	maxStartAttempts = 3
	killWait         = time.Second
)

// ErrPortTaken marks a start attempt that lost a port to another process.
var ErrPortTaken = errors.New("port already in use")

// Spec describes a child process for [Start].
type Spec struct {
	// Name names the process in errors ("dynamodb local").
	Name string
	// Ports is how many free 127.0.0.1 ports each attempt picks.
	Ports int
	// FixedPorts, if set, are the ports to use instead: a start that finds
	// one taken fails at once (with [ErrPortTaken]), without a retry.
	FixedPorts []int
	// Command returns the command for one attempt, given its ports. Start
	// sets its output, process group and parent-death signal.
	Command func(ports []int) (*exec.Cmd, error)
	// Ready probes once whether the process serves; Start calls it every
	// ReadyPoll until it returns nil, the process exits or StartTimeout
	// passes.
	Ready func(ctx context.Context, ports []int) error
	// PortTaken is a text (matched case-insensitively) in the process's
	// output that says a port was taken; a failed attempt with it is retried
	// on new ports.
	PortTaken string
	// StartTimeout bounds the readiness wait; zero means
	// [DefaultStartTimeout].
	StartTimeout time.Duration
	// ReadyPoll is the probe interval; zero means [DefaultReadyPoll].
	ReadyPoll time.Duration
	// Stop, if set, is sent to the process group first on Close, which
	// kills the group if it is still there after StopGrace. Zero kills at
	// once.
	Stop syscall.Signal
	// StopGrace is the wait between Stop and the kill.
	StopGrace time.Duration
	// Stderr, if set, also receives the process's output as it is written.
	// [Process.Logs] has it either way.
	Stderr io.Writer
}

// Process is a running child process in its own process group.
type Process struct {
	// Ports are the ports it was started with.
	Ports []int

	spec      Spec
	cmd       *exec.Cmd
	logs      *LogBuffer
	exited    chan struct{} // closed when the process has been waited for
	waitErr   error         // set before exited is closed
	closeOnce sync.Once
	closeErr  error
}

// Start starts the process described by spec and returns once its Ready
// probe succeeds. It tries up to three times with new ports when an attempt
// loses a port to another process. ctx bounds the start only: the process
// runs until [Process.Close]. On failure the error includes its output.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	if spec.StartTimeout <= 0 {
		spec.StartTimeout = DefaultStartTimeout
	}
	if spec.ReadyPoll <= 0 {
		spec.ReadyPoll = DefaultReadyPoll
	}
	for attempt := 1; ; attempt++ {
		p, err := start(ctx, spec)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, ErrPortTaken) || len(spec.FixedPorts) > 0 || attempt == maxStartAttempts {
			return nil, fmt.Errorf("start %s: %w", spec.Name, err)
		}
	}
}

// start makes one attempt.
func start(ctx context.Context, spec Spec) (*Process, error) {
	ports := spec.FixedPorts
	for _, port := range ports {
		// A taken port fails at once: another server answering the probe
		// there would look like this one starting.
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return nil, fmt.Errorf("%w: 127.0.0.1:%d: %w", ErrPortTaken, port, err)
		}
		l.Close()
	}
	if len(ports) == 0 {
		var err error
		if ports, err = FreePorts(spec.Ports); err != nil {
			return nil, err
		}
	}
	cmd, err := spec.Command(ports)
	if err != nil {
		return nil, err
	}
	logs := &LogBuffer{}
	var out io.Writer = logs
	if spec.Stderr != nil {
		out = io.MultiWriter(logs, spec.Stderr)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group, so Close stops everything; and killed if the
	// parent dies without calling Close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = killWait
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", filepath.Base(cmd.Path), err)
	}
	p := &Process{Ports: ports, spec: spec, cmd: cmd, logs: logs, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx); err != nil {
		_ = p.Close()
		if spec.PortTaken != "" && strings.Contains(strings.ToLower(logs.String()), strings.ToLower(spec.PortTaken)) {
			err = fmt.Errorf("%w: %w", ErrPortTaken, err)
		}
		return nil, fmt.Errorf("%w\n%s output:\n%s", err, spec.Name, logs.String())
	}
	return p, nil
}

// waitReady polls the Ready probe.
func (p *Process) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.spec.StartTimeout)
	defer cancel()
	for {
		err := p.spec.Ready(ctx, p.Ports)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("wait for %s: exited early: %v", p.spec.Name, p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to answer within %s: %w (last probe: %v)", p.spec.Name, p.spec.StartTimeout, ctx.Err(), err)
		case <-time.After(p.spec.ReadyPoll):
		}
	}
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitErr returns how the process exited; call it after [Process.Exited]
// is closed.
func (p *Process) ExitErr() error { return p.waitErr }

// Logs returns everything the process has written to stdout and stderr.
func (p *Process) Logs() string { return p.logs.String() }

// Close stops the process group (see [Spec.Stop]) and waits for the
// process to exit. It returns an error if the process had already exited
// on its own. It is safe to call more than once.
func (p *Process) Close() error {
	p.closeOnce.Do(func() {
		select {
		case <-p.exited:
			p.closeErr = fmt.Errorf("close %s: exited before close: %v", p.spec.Name, p.waitErr)
			return
		default:
		}
		pgid := -p.cmd.Process.Pid
		if p.spec.Stop != 0 {
			_ = syscall.Kill(pgid, p.spec.Stop)
			select {
			case <-p.exited:
				return
			case <-time.After(p.spec.StopGrace):
			}
		}
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.exited
	})
	return p.closeErr
}

// RepoRoot returns the directory that holds go.mod, found by walking up from
// the working directory. Tests run in their package directory, so this is
// the module root for them as for `go run` from anywhere in the tree.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("find repo root: no go.mod in %s or above", wd)
		}
	}
}

// DialReady is a [Spec.Ready] probe that succeeds once 127.0.0.1:ports[i]
// accepts TCP connections.
func DialReady(i int) func(ctx context.Context, ports []int) error {
	return func(ctx context.Context, ports []int) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", ports[i]))
		if err != nil {
			return err
		}
		return conn.Close()
	}
}
