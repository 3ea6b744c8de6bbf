package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/rules"
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

// samOverridesRe is how SAM CLI reads `--parameter-overrides KEY=VALUE ...`
// (and samconfig.toml's parameter_overrides): samcli/cli/types.py,
// CfnParameterOverridesType._pattern_2, a value being double-quoted,
// single-quoted, or a run of characters other than space, double quote
// and backslash (a backslash escapes the next character).
var samOverridesRe = regexp.MustCompile(`(?: )([A-Za-z0-9"']+)=("(?:\\.|[^"\\]+)*"|'(?:\\.|[^'\\]+)*'|(?:\\.|[^ "\\]+)+)`)

// samParse reads one --parameter-overrides argument as SAM CLI does,
// with its _unquote_wrapped_quotes.
func samParse(arg string) map[string]string {
	unquote := func(v string) string {
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		return strings.NewReplacer(`\ `, " ", `\"`, `"`, `\'`, "'").Replace(v)
	}
	out := map[string]string{}
	for _, m := range samOverridesRe.FindAllStringSubmatch(" "+strings.TrimSpace(arg), -1) {
		out[unquote(m[1])] = unquote(m[2])
	}
	return out
}

// shellUnquote undoes shellQuote: the word a POSIX shell passes on.
func shellUnquote(tb testing.TB, s string) string {
	tb.Helper()
	if !strings.HasPrefix(s, "'") {
		return s
	}
	require.True(tb, strings.HasSuffix(s, "'"), s)
	return strings.ReplaceAll(s[1:len(s)-1], `'\''`, "'")
}

// TestSAMOverride: the `sam deploy --parameter-overrides` argument that
// filter-criteria prints gives SAM the image pattern as it is, with
// spaces, quotes, backslashes and non-ASCII in the values. Before, SAM
// read the unquoted JSON only up to its first double quote: "{".
func TestSAMOverride(t *testing.T) {
	tests := map[string]string{
		"example":   `tenant == "acme"`,
		"spaces":    `tenant in ["acme corp", "b  c"]`,
		"quotes":    `tenant == "a\"b'c"`,
		"backslash": `tenant == "a\\" && region == "x\\ y\\\"z"`,
		"html":      `tenant == "<a&b>"`,
		"unicode":   `tenant == "café – ü"`,
		"bool":      `active == true`,
	}
	for name, filter := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := rules.Parse("test.yaml", []byte("rules:\n  - filter: '"+strings.ReplaceAll(filter, "'", "''")+"'\n"))
			require.NoError(t, err)
			pd, err := rs.PushDown()
			require.NoError(t, err)
			arg := shellUnquote(t, samOverride(streamFilterParameter, pd.ImagePattern))
			got := samParse(arg)
			require.Contains(t, got, streamFilterParameter, arg)
			assert.Equal(t, pd.ImagePattern, got[streamFilterParameter], arg)
		})
	}
}
