package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/internal/rules"
)

// streamFilterParameter is the templates' parameter that takes the
// pushed-down image pattern (template.yaml, template-queue.yaml).
const streamFilterParameter = "StreamFilterImagePattern"

var rulesFilterHelp = `Usage: ddbsync rules filter-criteria FILE

Derives from the rule set's filters a Lambda event filter (the event
source mapping's FilterCriteria) that lets through every stream record
the function needs, so that the others never invoke it: a record whose
NewImage matches the filters, or whose OldImage does (a MODIFY leaving
the filter deletes the target item; the REMOVE of a kept item too). It
prints the FilterCriteria JSON and the value of the templates' parameter
` + streamFilterParameter + ` (template.yaml, template-queue.yaml), which puts
the pattern under both images. Only attr == "lit", item.attr == "lit",
attr in ["a", "b"], attr == true and has(item.attr), joined with &&, on
attributes no earlier rule changes, are pushed down; numbers are not.
Use it only on a NEW_AND_OLD_IMAGES stream (docs/filter-pushdown.md).

` + exitStatusHelp("the filter cannot be pushed down (the reason is printed)")

// filterCriteriaCommand returns `ddbsync rules filter-criteria FILE`.
func (c *RulesCommand) filterCriteriaCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:         "filter-criteria FILE",
		Short:       "print the Lambda event filter (FilterCriteria) a rule set's filters allow",
		Args:        oneFile("filter-criteria"),
		Annotations: map[string]string{annotationHelp: rulesFilterHelp},
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := loadRules(args[0])
			if err != nil {
				return err
			}
			return c.filterCriteria(g, rs)
		},
	}
}

func (c *RulesCommand) filterCriteria(g *globalFlags, rs *rules.RuleSet) error {
	pd, err := rs.PushDown()
	if err != nil && !errors.Is(err, rules.ErrNotPushable) {
		return err
	}
	if g.Output != outputText {
		rep := struct {
			Pushable       bool                  `json:"pushable"`
			Reason         string                `json:"reason,omitempty"`
			FilterCriteria *rules.FilterCriteria `json:"filterCriteria,omitempty"`
			Parameter      map[string]string     `json:"templateParameters,omitempty"`
			Notes          []string              `json:"notes,omitempty"`
		}{Pushable: err == nil}
		if err != nil {
			rep.Reason = err.Error()
		} else {
			rep.FilterCriteria, rep.Parameter, rep.Notes = &pd.Criteria, map[string]string{streamFilterParameter: pd.ImagePattern}, pd.Notes
		}
		if werr := writeJSON(c.Stdout, rep); werr != nil {
			return werr
		}
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "FilterCriteria (two filters, OR'ed: the new image or the old image matches):\n%s\n\n", pd.Criteria)
	fmt.Fprintf(c.Stdout, "template parameter (template.yaml, template-queue.yaml; it puts the pattern under both images):\n  %s=%s\n",
		streamFilterParameter, shellQuote(pd.ImagePattern))
	fmt.Fprintf(c.Stdout, "e.g. sam deploy --parameter-overrides %s\n\nnotes:\n", samOverride(streamFilterParameter, pd.ImagePattern))
	for _, n := range pd.Notes {
		fmt.Fprintf(c.Stdout, "  - %s\n", n)
	}
	return nil
}

// samOverride is NAME=VALUE as an argument of `sam deploy
// --parameter-overrides` (or an entry of samconfig.toml's
// parameter_overrides), quoted for a POSIX shell. SAM CLI splits the
// overrides on spaces and ends an unquoted value at its first double
// quote (samcli/cli/types.py, CfnParameterOverridesType), so a JSON value
// goes in double quotes with its own escaped; SAM then unescapes \" (and
// "\ ", \'), which a PushDown pattern never has otherwise.
func samOverride(name, value string) string {
	return shellQuote(name + `="` + strings.ReplaceAll(value, `"`, `\"`) + `"`)
}
