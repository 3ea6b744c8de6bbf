package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

func TestRulesCommand_FilterCriteria(t *testing.T) {
	tests := map[string]struct {
		args       []string
		wantCode   int
		golden     string
		wantStdout []string
		wantStderr []string
	}{
		"help":    {args: []string{"help", "rules", "filter-criteria"}, golden: "filter-criteria-help.golden"},
		"example": {args: []string{"rules", "filter-criteria", exampleRules}, golden: "filter-criteria.golden"},
		"json": {args: []string{"rules", "filter-criteria", exampleRules, "--output", "json"},
			wantStdout: []string{`{"pushable":true,"filterCriteria":{"Filters":[{"Pattern":"{\"dynamodb\":{\"NewImage\":{\"tenant\":{\"S\":[\"acme\"]}}}}"}`,
				`"templateParameters":{"StreamFilterImagePattern":"{\"tenant\":{\"S\":[\"acme\"]}}"}`}},
		"not pushable": {args: []string{"rules", "filter-criteria", "testdata/rules/not-pushable.yaml"}, wantCode: exitError,
			wantStderr: []string{`ddbsync rules filter-criteria: filter cannot be pushed down: rule "rule 1" (line 2): only attr == "lit"`}},
		"not pushable json": {args: []string{"rules", "filter-criteria", "testdata/rules/not-pushable.yaml", "--output", "json"}, wantCode: exitError,
			wantStdout: []string{`{"pushable":false,"reason":"filter cannot be pushed down: rule \"rule 1\"`}},
		"no file": {args: []string{"rules", "filter-criteria"}, wantCode: exitUsage, wantStderr: []string{"want one rule set FILE"}},
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
