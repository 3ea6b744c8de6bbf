package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/internal/buildversion"
)

// Version is the build's version, set with -ldflags "-X main.Version=…" as
// for the replicator's bootstrap (the Makefile's VERSION, goreleaser's
// tag); otherwise the module version of go install, else "dev".
var Version = ""

func cliVersion() string { return buildversion.Of(Version) }

// versionInfo is `ddbsync version --output json`; the field order is the
// key order.
type versionInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// newVersionCommand returns `ddbsync version`, the same as --version with
// the Go toolchain and platform.
func newVersionCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  noArgs,
		Annotations: map[string]string{annotationHelp: "Usage: ddbsync version\n\n" +
			"Prints the version (the same stamp as the replicator's bootstrap), the Go\n" +
			"toolchain and the platform; --output json prints one JSON object.\n\n" + exitStatusHelp("not used")},
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo{Version: cliVersion(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
			if g.Output != outputText {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "ddbsync %s (%s %s/%s)\n", v.Version, v.Go, v.OS, v.Arch)
			return err
		},
	}
}
