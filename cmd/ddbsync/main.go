// Command ddbsync is the operator CLI of ddbsync. Its commands work on a
// source table, its stream and the target table that the replicator Lambda
// keeps in step; `ddbsync help` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// Exit codes, the same for every command.
const (
	exitOK          = 0
	exitError       = 1 // differences found, records failed, a plan declined
	exitUsage       = 2 // the command line is wrong, or a guard rail refused
	exitAWS         = 3 // AWS, permission or configuration error
	exitInterrupted = 130
)

// commands lists the visible commands for Usage, in order.
var commands = []struct{ name, summary string }{
	{"run", "replicate the source table's stream to the target, locally (Lambda's event source mapping on your machine)"},
	{"create-target", "create the target table from the source's description, re-keyed by the rules"},
	{"backfill", "copy every item of the source into the target, resumably (after the replicator is running)"},
	{"verify", "compare the tables (numbers as decimals, sets as sets); --repair fixes what differs"},
	{"repair", "make the target equal to the source, safely while replication runs"},
	{"redrive", "replay the batches in the failure file or queue once their cause is fixed"},
	{"status", "show a deployed stack's replication: mapping state, iterator age, lag, failure queue, code"},
	{"code-status", "compare the deployed Lambda code with this commit's build"},
	{"rules", "check a rule set, try it on a stream event or an item, derive its event filter"},
	{"local", "run local stand-ins by hand: ddbsync local ddb starts DynamoDB Local"},
	{"completion", "print the shell completion script (bash, zsh, fish or powershell)"},
	{"version", "print the version"},
	{"help", "show this help, or a command's with ddbsync help COMMAND"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first signal stops the command cleanly; a second one kills it
	}()
	os.Exit(Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// allCommands builds every command of the CLI writing to stdout and stderr.
func allCommands(stdout, stderr io.Writer) []commandBuilder {
	return []commandBuilder{
		(&RunCommand{Stdout: stdout, Stderr: stderr}).command,
		(&BackfillCommand{Stdout: stdout, Stderr: stderr}).command,
		(&VerifyCommand{Stdout: stdout, Stderr: stderr}).command,
		(&RepairCommand{Stdout: stdout, Stderr: stderr}).command,
		(&RedriveCommand{Stdout: stdout, Stderr: stderr}).command,
		(&CreateTargetCommand{Stdout: stdout, Stderr: stderr}).command,
		(&StatusCommand{Stdout: stdout, Stderr: stderr}).command,
		(&CodeStatusCommand{Stdout: stdout, Stderr: stderr}).command,
		(&RulesCommand{Stdout: stdout, Stderr: stderr}).command,
		(&LocalCommand{Stdout: stdout, Stderr: stderr}).command,
		(&DemoCommand{Stdout: stdout, Stderr: stderr}).command,
		newManCommand,
	}
}

// Main runs the command named by args[0] and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		Usage(stderr)
		return exitUsage
	}
	quietSDKLogs()
	root, _ := newRoot(stdout, stderr, allCommands(stdout, stderr)...)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	name := args[0]
	if cmd != nil && cmd != root {
		name = strings.TrimPrefix(cmd.CommandPath(), "ddbsync ")
	}
	if ctx.Err() != nil {
		err = &interruptedError{err: err}
	}
	return exitCode(stderr, name, err)
}

// Usage prints the list of commands.
func Usage(w io.Writer) {
	fmt.Fprint(w, "ddbsync keeps a copy of a DynamoDB table in step with the table's stream.\n\n"+
		"Usage:\n  ddbsync <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nGlobal flags, for every command (each also as DDBSYNC_<NAME>, e.g. DDBSYNC_PROFILE):\n")
	g := globalFlags{}
	fs := pflag.NewFlagSet("ddbsync", pflag.ContinueOnError)
	g.bind(fs)
	printFlags(w, fs)
	fmt.Fprint(w, "  --version\n        print the version\n")
	fmt.Fprint(w, "\n"+exitStatusHelp("differences found (verify, repair), records failed (run), batches left (redrive),\n       code drift (code-status, status), or the plan was declined"))
	fmt.Fprint(w, "\nRun \"ddbsync help <command>\" or \"ddbsync <command> --help\" for a command's flags.\n")
}

// usageError is a mistake on the command line; hint is a command to try.
type usageError struct {
	err  error
	hint string
}

func (e *usageError) Error() string { return e.err.Error() }

func (e *usageError) Unwrap() error { return e.err }

// interruptedError is a command stopped by SIGINT or SIGTERM; err is what
// it returned, if anything.
type interruptedError struct{ err error }

func (e *interruptedError) Error() string {
	if e.err == nil {
		return "interrupted"
	}
	return "interrupted: " + e.err.Error()
}

func (e *interruptedError) Unwrap() error { return e.err }

// exitCode reports err on stderr and returns the exit code for it: a usage
// error first, then an interruption (or a cancelled context), then a result
// (differences, failed records: 1), then an AWS or configuration error (3,
// with what to do about it), then any other error (1).
func exitCode(stderr io.Writer, name string, err error) int {
	var uerr *usageError
	var ierr *interruptedError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "ddbsync %s: %v\nTry: %s\n", name, uerr.err, uerr.hint)
		return exitUsage
	case errors.As(err, &ierr), errors.Is(err, context.Canceled):
		if ierr == nil {
			ierr = &interruptedError{err: err}
		}
		fmt.Fprintf(stderr, "ddbsync %s: %v\n", name, ierr)
		return exitInterrupted
	case outcome(err):
		fmt.Fprintf(stderr, "ddbsync %s: %v\n", name, err)
		return exitError
	case isAWSError(err):
		fmt.Fprintf(stderr, "ddbsync %s: %v\n", name, explain(err))
		return exitAWS
	}
	fmt.Fprintf(stderr, "ddbsync %s: %v\n", name, err)
	return exitError
}
