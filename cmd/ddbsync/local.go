package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
)

// LocalCommand is `ddbsync local`: local stand-ins of AWS services, to try
// the commands by hand.
type LocalCommand struct {
	Stdout, Stderr io.Writer

	// ready, if set, is called with the server once it answers (tests).
	ready func(*ddblocal.Server)
}

var localDDBHelp = `Usage: ddbsync local ddb [--port N]

Starts DynamoDB Local, the project's pinned version (installed into
.local-aws/ on first use; it needs java, javac and npm), in memory on a
free 127.0.0.1 port (or --port N), prints its endpoint on stdout and runs
until Ctrl-C.
Any credentials work; each access key id has its own database. Then, in
another shell:

  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
  export DDBSYNC_ENDPOINT_URL=http://127.0.0.1:PORT
  ddbsync verify --table orders --target-table orders-copy

With --output json the endpoint is printed as {"endpoint":"…","region":"…"}.
make ddblocal runs this command. events/env-local.json expects --port 8000
(sam local invoke against DynamoDB Local; see the README).

` + "Exit status: 130 when stopped with Ctrl-C (its normal end); 3 when DynamoDB\nLocal cannot start; 2 for a wrong command line.\n"

// command returns `ddbsync local` and its `ddb` subcommand.
func (c *LocalCommand) command(g *globalFlags) *cobra.Command {
	local := &cobra.Command{
		Use:   "local",
		Short: "run local stand-ins by hand",
		Args:  noArgs,
		Annotations: map[string]string{annotationHelp: "Usage: ddbsync local ddb\n\n" +
			"Runs local stand-ins of AWS services for trying commands by hand:\n" +
			"  ddb    DynamoDB Local on a loopback port (see ddbsync local ddb --help)\n\n" + exitStatusHelp("not used")},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return &usageError{err: fmt.Errorf("which stand-in? ddbsync local ddb"), hint: "ddbsync local ddb"}
		},
	}
	var port int
	ddb := &cobra.Command{
		Use:         "ddb",
		Short:       "start DynamoDB Local on a loopback port and print the endpoint",
		Args:        noArgs,
		Annotations: map[string]string{annotationHelp: localDDBHelp},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if port < 0 || port > 65535 {
				return &usageError{err: &FlagError{Flag: "port", Err: fmt.Errorf("%d is not a TCP port (1-65535, or 0 for a free one)", port)}, hint: "ddbsync local ddb --port 8000"}
			}
			return c.runDDB(cmd.Context(), g, port)
		},
	}
	ddb.Flags().IntVar(&port, "port", 0, "listen on 127.0.0.1:`N` (default: a free port)")
	local.AddCommand(ddb)
	return local
}

// runDDB starts DynamoDB Local and serves until ctx ends.
func (c *LocalCommand) runDDB(ctx context.Context, g *globalFlags, port int) error {
	if !g.Quiet {
		fmt.Fprintf(c.Stderr, "ddbsync local ddb: starting DynamoDB Local %s (installed into .local-aws/ on first use)\n", ddblocal.Version)
	}
	srv, err := ddblocal.Start(ctx, ddblocal.Options{Port: port})
	if err != nil {
		return &awsError{err: err}
	}
	defer srv.Close()
	if g.Output != outputText {
		err = writeJSON(c.Stdout, struct {
			Endpoint string `json:"endpoint"`
			Region   string `json:"region"`
		}{srv.Endpoint, ddblocal.Region})
	} else {
		_, err = fmt.Fprintln(c.Stdout, srv.Endpoint)
	}
	if err != nil {
		return err
	}
	if !g.Quiet {
		fmt.Fprintf(c.Stderr, "ddbsync local ddb: DynamoDB Local at %s, in memory; try:\n"+
			"  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local DDBSYNC_ENDPOINT_URL=%s DDBSYNC_REGION=%s ddbsync verify --table A --target-table B\n"+
			"Ctrl-C stops it (and forgets its tables).\n", srv.Endpoint, srv.Endpoint, ddblocal.Region)
	}
	if c.ready != nil {
		c.ready(srv)
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stop dynamodb local: %w", err)
	}
	return ctx.Err()
}
