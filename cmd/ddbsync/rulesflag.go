package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// rulesFlag is --rules FILE: the rule set a command applies on the way
// from the source to the target. Every command that reads or writes the
// copy takes it, so they all apply the same rules as the Lambda (RULES or
// RULES_FILE).
type rulesFlag struct {
	RulesFile string
}

// bind adds --rules.
func (r *rulesFlag) bind(fs *pflag.FlagSet) {
	fs.StringVar(&r.RulesFile, "rules", "", "rule set `FILE` (YAML or JSON) the copy is made with: filter, projection,\nrenames, computed attributes, re-keying (see `ddbsync rules check`);\ndefault: items are copied as they are")
}

// load parses the rule set: the identity rule set without --rules, a
// usage error naming the rule and line for an invalid one.
func (r rulesFlag) load() (*rules.RuleSet, error) {
	if r.RulesFile == "" {
		return rules.Parse("no rules", nil)
	}
	return loadRules(r.RulesFile)
}

// planLines describe the rule set for a plan: its file and number of
// rules, and the target key when the rules re-key the copy. None for the
// identity rule set.
func planLines(rs *rules.RuleSet, src, dst tablesync.TableInfo) []string {
	if rs.IsIdentity() {
		return nil
	}
	lines := []string{fmt.Sprintf("%s, %d rules, applied to every item on its way to the target (ddbsync rules check %s lists them)",
		rs.Source, len(rs.Rules), rs.Source)}
	names, keys := rs.TargetKeyNames(src.Keys), slices.Clone(src.Keys)
	slices.Sort(names)
	slices.Sort(keys)
	if !slices.Equal(names, keys) {
		lines = append(lines, fmt.Sprintf("target key schema %s, re-keyed from the source's %s", dst.KeyString(), src.KeyString()))
	}
	if !rs.Reversible(src.Keys) {
		lines = append(lines, "the rules do not carry the source key into target items: verify holds the expected target keys in memory "+
			"(about 120 bytes plus the keys' sizes per item), and repair leaves target items it cannot trace to a source item")
	}
	return lines
}

// maxPrintedFailures bounds the failed items a command names on stderr.
const maxPrintedFailures = 20

// printItemFailures names the items the rules could not copy, by key
// (never their values): the first maxPrintedFailures, then a count.
func printItemFailures(w io.Writer, cmd string, failures []tablesync.ItemFailure, total int64) {
	for i, f := range failures {
		if i == maxPrintedFailures {
			fmt.Fprintf(w, "ddbsync %s: ... and %d more items not copied\n", cmd, total-int64(i))
			return
		}
		fmt.Fprintf(w, "ddbsync %s: item not copied: %s\n", cmd, f)
	}
}

// rulesArg is --rules FILE for a hint, or nothing.
func rulesArg(r rulesFlag) []string {
	if r.RulesFile == "" {
		return nil
	}
	return []string{"--rules", shellQuote(r.RulesFile)}
}

// filteredCount is a report's filtered count: nil without rules, so that
// the field is absent.
func filteredCount(rs *rules.RuleSet, n int64) *int64 {
	if rs.IsIdentity() {
		return nil
	}
	return &n
}
