package main

import (
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/rules"
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
