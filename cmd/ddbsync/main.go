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
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1 // the command failed
	exitUsage       = 2 // the command line is wrong
	exitInterrupted = 130
)

// commands lists the visible commands for Usage, in order.
var commands = []struct{ name, summary string }{
	{"run", "replicate the source table's stream to the target, locally (Lambda's event source mapping on your machine)"},
	{"backfill", "copy every item of the source into the target, resumably (after the replicator is running)"},
	{"verify", "compare the tables (numbers as decimals, sets as sets); --repair fixes what differs"},
	{"repair", "make the target equal to the source, safely while replication runs"},
	{"redrive", "replay the batches in the failure file or queue once their cause is fixed"},
	{"code-status", "compare the deployed Lambda code with this commit's build"},
	{"help", "show this help"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first signal stops the command cleanly; a second one kills it
	}()
	os.Exit(Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the command named by args[0] and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		Usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	var err error
	switch name {
	case "run":
		err = (&RunCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, rest)
	case "backfill":
		err = (&BackfillCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, rest)
	case "verify":
		err = (&VerifyCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, rest)
	case "repair":
		err = (&RepairCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, rest)
	case "redrive":
		err = (&RedriveCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, rest)
	case "code-status":
		err = (&CodeStatusCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, rest)
	case "demo": // hidden: what `make demo` runs
		err = (&DemoCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, rest)
	case "help", "-h", "-help", "--help":
		Usage(stdout)
		return exitOK
	default:
		err = &usageError{err: fmt.Errorf("unknown command %q", name), hint: "ddbsync help"}
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
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"ddbsync <command> --help\" for a command's flags.\n")
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
// error first, then an interruption (or a cancelled context), then any
// other error.
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
	}
	fmt.Fprintf(stderr, "ddbsync %s: %v\n", name, err)
	return exitError
}

// printFlags documents every flag of fs, as flag.PrintDefaults does but
// with the "--name" spelling used everywhere else.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + strings.ToUpper(arg)
		}
		fmt.Fprintf(w, "  --%s%s\n", f.Name, arg)
		for _, line := range strings.Split(usage, "\n") {
			fmt.Fprintf(w, "        %s\n", line)
		}
		switch f.DefValue {
		case "", "0", "0s", "false", "[]":
		default:
			fmt.Fprintf(w, "        (default %s)\n", f.DefValue)
		}
	})
}

// parseFlags parses args into fs, printing usage to stdout for -h/--help.
// Errors are usage errors hinting at `ddbsync <name> --help`.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, usage func(io.Writer)) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return err
	case err != nil:
		return &usageError{err: err, hint: "ddbsync " + fs.Name() + " --help"}
	case fs.NArg() > 0:
		return &usageError{err: fmt.Errorf("unexpected argument %q", fs.Arg(0)), hint: "ddbsync " + fs.Name() + " --help"}
	}
	return nil
}
