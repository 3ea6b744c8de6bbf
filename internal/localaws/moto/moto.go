// Package moto starts moto_server, the local stand-in for SNS, SQS, S3, STS
// and CloudFormation, on a free loopback port. It is a test harness: nothing
// shipped imports it. Tests use it through testkit.Moto and
// testkit.SharedMoto, which skip without moto_server unless CI is set.
package moto

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"

	"github.com/ddbsync/ddbsync/internal/localaws/proc"
)

// BinaryName is the program Start runs, found on PATH.
const BinaryName = "moto_server"

// InstallHint says how to install moto_server.
const InstallHint = "pip install 'moto[server]'"

// Server is a running moto_server.
type Server struct {
	// Endpoint is its base URL, "http://127.0.0.1:PORT".
	Endpoint string

	proc *proc.Process
}

// Start runs moto_server on a free 127.0.0.1 port, in its own process group,
// and returns once it accepts connections. ctx bounds the start only.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath(BinaryName)
	if err != nil {
		return nil, fmt.Errorf("find %s (%s): %w", BinaryName, InstallHint, err)
	}
	p, err := proc.Start(ctx, proc.Spec{
		Name:  BinaryName,
		Ports: 1,
		Command: func(ports []int) (*exec.Cmd, error) {
			return exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(ports[0])), nil
		},
		Ready:     proc.DialReady(0),
		PortTaken: "address already in use",
	})
	if err != nil {
		return nil, err
	}
	return &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(p.Ports[0]), proc: p}, nil
}

// Close kills the server and waits for it to exit.
func (s *Server) Close() error { return s.proc.Close() }

// Logs returns what the server has written so far.
func (s *Server) Logs() string { return s.proc.Logs() }
