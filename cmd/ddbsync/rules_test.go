package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

const (
	exampleRules = "../../examples/rules/orders.yaml"
	exampleEvent = "../../examples/rules/orders-event.json"
)

func TestRulesCommand(t *testing.T) {
	tests := map[string]struct {
		args       []string
		wantCode   int
		golden     string
		wantStdout []string
		wantStderr []string
	}{
		"help":              {args: []string{"rules", "--help"}, golden: "help.golden"},
		"check help":        {args: []string{"help", "rules", "check"}, golden: "check-help.golden"},
		"apply help":        {args: []string{"rules", "apply", "--help"}, golden: "apply-help.golden"},
		"no subcommand":     {args: []string{"rules"}, wantCode: exitUsage, wantStderr: []string{"which?", "Try: ddbsync rules --help"}},
		"check":             {args: []string{"rules", "check", exampleRules}, golden: "check.golden"},
		"check json":        {args: []string{"rules", "check", exampleRules, "--output", "json"}, golden: "check.golden.json"},
		"check no file":     {args: []string{"rules", "check"}, wantCode: exitUsage, wantStderr: []string{"want one rule set FILE"}},
		"check missing":     {args: []string{"rules", "check", "testdata/rules/nope.yaml"}, wantCode: exitUsage, wantStderr: []string{"read rule set"}},
		"check invalid":     {args: []string{"rules", "check", "testdata/rules/invalid.yaml"}, wantCode: exitUsage, wantStderr: []string{`ddbsync rules check: testdata/rules/invalid.yaml:6: rule "broken-key": key pk: `}},
		"apply event":       {args: []string{"rules", "apply", exampleRules, "--event", exampleEvent}, wantCode: exitError, golden: "apply.golden", wantStderr: []string{"1 record the rules cannot apply"}},
		"apply event json":  {args: []string{"rules", "apply", exampleRules, "--event", exampleEvent, "--output", "json"}, wantCode: exitError, golden: "apply.golden.json"},
		"apply insert.json": {args: []string{"rules", "apply", exampleRules, "--event", "../../events/insert.json"}, wantStdout: []string{"no write (filtered out"}},
		"apply item":        {args: []string{"rules", "apply", exampleRules, "--item", "testdata/rules/item.json"}, golden: "apply-item.golden"},
		"apply item json":   {args: []string{"rules", "apply", exampleRules, "--item", "testdata/rules/item.json", "--output", "json"}, wantStdout: []string{`"keep":true`, `"pk":{"S":"acme#7"}`}},
		"apply neither":     {args: []string{"rules", "apply", exampleRules}, wantCode: exitUsage, wantStderr: []string{"give --event or --item"}},
		"apply both":        {args: []string{"rules", "apply", exampleRules, "--event", exampleEvent, "--item", "x"}, wantCode: exitUsage, wantStderr: []string{"not both"}},
		"apply bad event":   {args: []string{"rules", "apply", exampleRules, "--event", "testdata/rules/invalid.yaml"}, wantCode: exitUsage, wantStderr: []string{"--event: decode event"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tt.args...)
			assert.Equal(t, tt.wantCode, code, stderr)
			for _, want := range tt.wantStdout {
				assert.Contains(t, stdout, want)
			}
			for _, want := range tt.wantStderr {
				assert.Contains(t, stderr, want)
			}
			if tt.golden != "" {
				testkit.Golden(t, filepath.Join("rules", tt.golden), []byte(stdout))
			}
		})
	}
}
