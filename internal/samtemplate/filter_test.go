package samtemplate

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/rules"
)

// TestTemplates_StreamFilter checks the push-down of the rules' filter in
// both templates' stream mappings: StreamFilterImagePattern, empty by
// default (no FilterCriteria), becomes the two filters that
// rules.RuleSet.PushDown derives, one per image, exactly as `ddbsync rules
// filter-criteria` prints them.
func TestTemplates_StreamFilter(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, "examples/rules/orders.yaml"))
	require.NoError(t, err)
	rs, err := rules.Parse("orders.yaml", src)
	require.NoError(t, err)
	pd, err := rs.PushDown()
	require.NoError(t, err)
	for file, fn := range map[string]string{templateFile: functionID, queueTemplateFile: "PublisherFunction"} {
		t.Run(file, func(t *testing.T) {
			tmpl := loadYAML(t, file)
			p := field(tmpl, "Parameters", "StreamFilterImagePattern")
			require.NotNil(t, p)
			assert.Equal(t, "", field(p, "Default").Value, "no filter by default")
			maxLen, err := strconv.Atoi(field(p, "MaxLength").Value)
			require.NoError(t, err)
			assert.LessOrEqual(t, maxLen+len(`{"dynamodb":{"NewImage":}}`), 4096, "Lambda's longest pattern")
			assert.Equal(t, `!Not[!Equals[!Ref StreamFilterImagePattern, ]]`, expr(field(tmpl, "Conditions", "HasStreamFilter")), "the empty string")
			// A filter without the rule set it was derived from would drop
			// nothing the copy needs but copy what leaves the filter: the
			// stack refuses it (a template rule, checked before any change).
			rule := field(tmpl, "Rules", "StreamFilterNeedsRules")
			require.NotNil(t, rule, "a template rule ties the filter to the rules")
			assert.Equal(t, `!Not[!Equals[!Ref StreamFilterImagePattern, ]]`, expr(field(rule, "RuleCondition")))
			require.NotNil(t, field(rule, "Assertions"))
			require.Len(t, field(rule, "Assertions").Content, 1)
			assert.Equal(t, `!Not[!Equals[!Ref ReplicationRules, ]]`, expr(field(field(rule, "Assertions").Content[0], "Assert")))

			fc := field(tmpl, "Resources", fn, "Properties", "Events", "SourceStream", "Properties", "FilterCriteria")
			name, arg, ok := intrinsic(fc)
			require.True(t, ok && name == "If" && len(arg.Content) == 3, "FilterCriteria: !If [HasStreamFilter, ..., !Ref AWS::NoValue]")
			assert.Equal(t, "HasStreamFilter", arg.Content[0].Value)
			assert.Equal(t, "!Ref AWS::NoValue", expr(arg.Content[2]))
			filters := field(arg.Content[1], "Filters")
			require.NotNil(t, filters)
			var got []string
			for _, f := range filters.Content {
				sub, subArg, ok := intrinsic(field(f, "Pattern"))
				require.True(t, ok && sub == "Sub")
				got = append(got, strings.ReplaceAll(subArg.Value, "${StreamFilterImagePattern}", pd.ImagePattern))
			}
			want := []string{pd.Criteria.Filters[0].Pattern, pd.Criteria.Filters[1].Pattern}
			assert.Equal(t, want, got)
		})
	}
}
