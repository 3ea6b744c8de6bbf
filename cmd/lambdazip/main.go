// Command lambdazip writes a Lambda deployment zip holding one file, byte
// for byte the same for the same input (fixed time, mode and order; see
// package artifact), and prints its CodeSha256 as Lambda will report it.
//
//	lambdazip -o bin/replicator.zip bin/bootstrap
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ddbsync/ddbsync/internal/artifact"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lambdazip:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lambdazip", flag.ContinueOnError)
	out := fs.String("o", "", "zip file to write (required)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: lambdazip -o OUT.zip FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 1 {
		fs.Usage()
		return errors.New("need -o OUT.zip and one FILE")
	}
	in := fs.Arg(0)
	data, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	var buf bytes.Buffer
	if err := artifact.Zip(&buf, filepath.Base(in), data); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s CodeSha256=%s\n", *out, artifact.CodeSHA256(buf.Bytes()))
	return err
}
