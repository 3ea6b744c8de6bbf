package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCommand returns the hidden `ddbsync man --dir DIR`, which writes a
// man page per command (make man runs it at build time).
func newManCommand(*globalFlags) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "man",
		Short:  "write the man pages",
		Hidden: true,
		Args:   noArgs,
		Annotations: map[string]string{annotationHelp: "Usage: ddbsync man --dir DIR\n\n" +
			"Writes the man pages of ddbsync and of every command to DIR (section 1).\n\n" + exitStatusHelp("not used")},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create man dir: %w", err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			if err := doc.GenManTree(root, &doc.GenManHeader{Title: "DDBSYNC", Section: "1", Source: "ddbsync " + cliVersion()}, dir); err != nil {
				return fmt.Errorf("write man pages: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "man", "write the pages into `DIR`")
	return cmd
}
