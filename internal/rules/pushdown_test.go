package rules

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRuleSet_PushDown(t *testing.T) {
	tests := map[string]struct {
		rules   string
		want    string // the image pattern
		wantErr string
	}{
		"equality":          {rules: `[{filter: 'tenant == "acme"'}]`, want: `{"tenant":{"S":["acme"]}}`},
		"item.attr":         {rules: `[{filter: 'item.tenant == "acme"'}]`, want: `{"tenant":{"S":["acme"]}}`},
		"literal first":     {rules: `[{filter: '"acme" == tenant'}]`, want: `{"tenant":{"S":["acme"]}}`},
		"in a list":         {rules: `[{filter: 'tenant in ["b", "a", "b"]'}]`, want: `{"tenant":{"S":["a","b"]}}`},
		"has and equality":  {rules: `[{filter: 'has(item.tenant) && item.tenant == "acme"'}]`, want: `{"tenant":{"S":["acme"]}}`},
		"has of another":    {rules: `[{filter: 'has(item.email) && tenant == "acme"'}]`, want: `{"tenant":{"S":["acme"]}}`},
		"bool":              {rules: `[{filter: 'active == true'}]`, want: `{"active":{"BOOL":[true]}}`},
		"conjunction":       {rules: `[{filter: 'tenant == "a" && tenant in ["a", "b"] && item.active == false'}]`, want: `{"active":{"BOOL":[false]},"tenant":{"S":["a"]}}`},
		"two filter rules":  {rules: `[{filter: 'tenant == "a"'}, {exclude: [email]}, {filter: 'kind in ["x"]'}]`, want: `{"kind":{"S":["x"]},"tenant":{"S":["a"]}}`},
		"after other rules": {rules: `[{rename: {status: state}}, {set: {n: "1"}}, {filter: 'tenant == "a"'}]`, want: `{"tenant":{"S":["a"]}}`},
		"number":            {rules: `[{filter: 'total == 100'}]`, wantErr: "total is compared with a int: only strings and bools are pushed down"},
		"comparison":        {rules: `[{filter: 'total > 100'}]`, wantErr: `only attr == "lit"`},
		"not equal":         {rules: `[{filter: 'tenant != "a"'}]`, wantErr: `only attr == "lit"`},
		"or":                {rules: `[{filter: 'tenant == "a" || tenant == "b"'}]`, wantErr: `only attr == "lit"`},
		"nested":            {rules: `[{filter: 'item.address.city == "x"'}]`, wantErr: `only attr == "lit"`},
		"list of numbers":   {rules: `[{filter: 'tenant in [1, 2]'}]`, wantErr: "lists something other than string literals"},
		"renamed earlier":   {rules: `[{rename: {org: tenant}}, {filter: 'tenant == "a"'}]`, wantErr: "reads tenant, which an earlier rule drops, renames, computes or changes"},
		"computed earlier":  {rules: `[{set: {tenant: '"a"'}}, {filter: 'tenant == "a"'}]`, wantErr: "reads tenant, which an earlier rule"},
		"excluded earlier":  {rules: `[{exclude: [tenant]}, {filter: 'has(item.tenant)'}]`, wantErr: "reads tenant, which an earlier rule"},
		"no filter":         {rules: `[{exclude: [email]}]`, wantErr: "no filter rule"},
		"only has":          {rules: `[{filter: 'has(item.tenant)'}]`, wantErr: "only test has()"},
		"never true":        {rules: `[{filter: 'tenant == "a" && tenant == "b"'}]`, wantErr: "exclude each other"},
		"string and bool":   {rules: `[{filter: 'x == "a" && x == true'}]`, wantErr: "as a string and as a bool"},
		"quote, backslash":  {rules: `[{filter: 'tenant == "a\"b\\c\\"'}]`, want: `{"tenant":{"S":["a\"b\\c\\"]}}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := Parse("test.yaml", []byte("rules: "+tt.rules))
			require.NoError(t, err)
			pd, err := rs.PushDown()
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrNotPushable)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, pd.ImagePattern)
			assert.NotRegexp(t, `\\[\\"]`, pd.ImagePattern, "no \\\\ or \\\" for SAM's --parameter-overrides to unescape")
			require.Len(t, pd.Criteria.Filters, 2)
			assert.JSONEq(t, `{"dynamodb":{"NewImage":`+tt.want+`}}`, pd.Criteria.Filters[0].Pattern)
			assert.JSONEq(t, `{"dynamodb":{"OldImage":`+tt.want+`}}`, pd.Criteria.Filters[1].Pattern)
		})
	}
}

// matches reports whether a Lambda filter pattern of the subset PushDown
// emits (nested objects ending in arrays of allowed scalar values) matches
// a record: every field of the pattern is in the record, an object field
// matches recursively, an array lists the values the record's may have.
func matches(pattern, record any) bool {
	switch p := pattern.(type) {
	case map[string]any:
		r, ok := record.(map[string]any)
		if !ok {
			return false
		}
		for k, sub := range p {
			v, ok := r[k]
			if !ok || !matches(sub, v) {
				return false
			}
		}
		return true
	case []any:
		for _, allowed := range p {
			if reflect.DeepEqual(allowed, record) {
				return true
			}
		}
	}
	return false
}

// TestRuleSet_PushDown_Records checks the derived filters against stream
// records: each record whose writes are not empty must match one filter
// (the function needs it), and the ones that match none have no writes.
func TestRuleSet_PushDown_Records(t *testing.T) {
	rs, err := Parse("test.yaml", []byte(`rules:
  - filter: 'has(item.tenant) && item.tenant == "acme" && active == true'
  - rename: {status: state}
ttl_deletes: skip
`))
	require.NoError(t, err)
	pd, err := rs.PushDown()
	require.NoError(t, err)
	assert.Contains(t, pd.Notes[len(pd.Notes)-1], "ttl_deletes: skip stays with the function")
	var filters []any
	for _, f := range pd.Criteria.Filters {
		var p any
		require.NoError(t, json.Unmarshal([]byte(f.Pattern), &p))
		filters = append(filters, p)
	}
	in := `{"pk":{"S":"1"},"tenant":{"S":"acme"},"active":{"BOOL":true},"status":{"S":"new"}}`
	other := `{"pk":{"S":"1"},"tenant":{"S":"globex"},"active":{"BOOL":true}}`
	inactive := `{"pk":{"S":"1"},"tenant":{"S":"acme"},"active":{"BOOL":false}}`
	ttl := `"userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},`
	tests := map[string]struct {
		record    string
		wantMatch bool
	}{
		"INSERT in the filter":         {`{"eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"1"}},"NewImage":` + in + `}}`, true},
		"MODIFY leaving the filter":    {`{"eventName":"MODIFY","dynamodb":{"Keys":{"pk":{"S":"1"}},"OldImage":` + in + `,"NewImage":` + other + `}}`, true},
		"MODIFY entering the filter":   {`{"eventName":"MODIFY","dynamodb":{"Keys":{"pk":{"S":"1"}},"OldImage":` + inactive + `,"NewImage":` + in + `}}`, true},
		"MODIFY within the filter":     {`{"eventName":"MODIFY","dynamodb":{"Keys":{"pk":{"S":"1"}},"OldImage":` + in + `,"NewImage":` + in + `}}`, true},
		"REMOVE of a kept item":        {`{"eventName":"REMOVE","dynamodb":{"Keys":{"pk":{"S":"1"}},"OldImage":` + in + `}}`, true},
		"TTL REMOVE of a kept item":    {`{"eventName":"REMOVE",` + ttl + `"dynamodb":{"Keys":{"pk":{"S":"1"}},"OldImage":` + in + `}}`, true},
		"INSERT out of the filter":     {`{"eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"1"}},"NewImage":` + other + `}}`, false},
		"MODIFY out of the filter":     {`{"eventName":"MODIFY","dynamodb":{"Keys":{"pk":{"S":"1"}},"OldImage":` + other + `,"NewImage":` + inactive + `}}`, false},
		"REMOVE of an item never kept": {`{"eventName":"REMOVE","dynamodb":{"Keys":{"pk":{"S":"1"}},"OldImage":` + inactive + `}}`, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var record any
			require.NoError(t, json.Unmarshal([]byte(tt.record), &record))
			matched := false
			for _, f := range filters {
				matched = matched || matches(f, record)
			}
			assert.Equal(t, tt.wantMatch, matched)

			writes, err := rs.Writes(changeOf(t, tt.record))
			require.NoError(t, err)
			if !matched {
				assert.Empty(t, writes, "a record the filter drops must need no write")
			}
		})
	}
}

// changeOf decodes a stream record (Lambda's images are DynamoDB JSON).
func changeOf(t *testing.T, record string) Change {
	t.Helper()
	var r struct {
		EventName    string    `json:"eventName"`
		UserIdentity *Identity `json:"userIdentity"`
		DynamoDB     struct {
			Keys, NewImage, OldImage json.RawMessage
		} `json:"dynamodb"`
	}
	require.NoError(t, json.Unmarshal([]byte(record), &r))
	c := Change{Event: Event(r.EventName), UserIdentity: r.UserIdentity}
	var err error
	c.Keys, err = attributevalue.UnmarshalMapJSON(r.DynamoDB.Keys)
	require.NoError(t, err)
	if r.DynamoDB.NewImage != nil {
		c.NewImage, err = attributevalue.UnmarshalMapJSON(r.DynamoDB.NewImage)
		require.NoError(t, err)
	}
	if r.DynamoDB.OldImage != nil {
		c.OldImage, err = attributevalue.UnmarshalMapJSON(r.DynamoDB.OldImage)
		require.NoError(t, err)
	}
	return c
}
