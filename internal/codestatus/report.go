package codestatus

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ddbsync/ddbsync/internal/artifact"
)

// WriteReport prints the results as a table, one line per function and
// region, between a line naming the stack and local commit and a summary.
func WriteReport(w io.Writer, stack string, local artifact.Source, results []Result) error {
	dirty := ""
	if local.Dirty {
		dirty = " with uncommitted changes (the local build is of the working tree)"
	}
	if _, err := fmt.Fprintf(w, "stack %s; local commit %s%s\n", stack, orNone(local.Commit), dirty); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tFUNCTION\tVERDICT\tARCH\tDEPLOYED COMMIT\tDETAIL")
	differ := 0
	for _, r := range results {
		if r.Verdict != Match {
			differ++
		}
		arch, commit := r.Architecture, short(r.DeployedCommit)
		if r.FunctionName == "" || r.Verdict == NotDeployed {
			arch, commit = "-", "-"
		}
		if arch == "" {
			arch = "-"
		}
		if commit == "" {
			commit = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Region, r.LogicalID, r.Verdict, arch, commit, r.Detail)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	var err error
	switch {
	case len(results) == 0:
		_, err = fmt.Fprintln(w, "nothing checked")
	case differ == 0:
		_, err = fmt.Fprintf(w, "%d of %d: the deployed code is the local build and commit\n", len(results), len(results))
	default:
		_, err = fmt.Fprintf(w, "%d of %d differ from the local build or commit\n", differ, len(results))
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
