package rules

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
func m(v map[string]types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberM{Value: v}
}

type item = map[string]types.AttributeValue

func mustParse(tb testing.TB, src string) *RuleSet {
	tb.Helper()
	rs, err := Parse("test.yaml", []byte(src))
	require.NoError(tb, err)
	return rs
}

// allTypes is an item with every DynamoDB attribute type.
func allTypes() item {
	return item{
		"pk":   s("a"),
		"s":    s("text"),
		"n":    n("12345678901234567890123456789012345678"),
		"nf":   n("-1.5E-130"),
		"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 0xff}},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "99999999999999999999999999999999999999"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		"bool": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{s("x"), n("1"), m(item{"k": s("v")})}},
		"m":    m(item{"inner": m(item{"deep": n("3")}), "list": &types.AttributeValueMemberL{Value: []types.AttributeValue{}}}),
	}
}

func TestRuleSet_Item(t *testing.T) {
	tests := map[string]struct {
		rules    string
		src      item
		want     item
		wantKeep bool
		wantErr  string
	}{
		"identity": {rules: "", src: allTypes(), want: allTypes(), wantKeep: true},
		"filter in": {rules: `rules: [{filter: 'tenant == "acme"'}]`,
			src: item{"tenant": s("acme")}, want: item{"tenant": s("acme")}, wantKeep: true},
		"filter out": {rules: `rules: [{filter: 'tenant == "acme"'}]`, src: item{"tenant": s("globex")}},
		"filter with item and has": {rules: `rules: [{filter: 'has(item.tenant) && item.tenant == "acme"'}]`,
			src: item{"id": s("1")}},
		"filter missing bare name is an error": {rules: `rules: [{name: f, filter: 'tenant == "acme"'}]`,
			src: item{"id": s("1")}, wantErr: `rule "f" (line 1)`},
		"filter not bool": {rules: `rules: [{filter: 'tenant'}]`, src: item{"tenant": s("x")}, wantErr: "not a bool"},
		"include nested": {rules: `rules: [{include: [pk, address.city]}]`,
			src:  item{"pk": s("1"), "x": s("y"), "address": m(item{"city": s("Lisbon"), "street": s("Rua")})},
			want: item{"pk": s("1"), "address": m(item{"city": s("Lisbon")})}, wantKeep: true},
		"include whole wins over part": {rules: `rules: [{include: [address.city, address]}]`,
			src:  item{"address": m(item{"city": s("Lisbon"), "street": s("Rua")})},
			want: item{"address": m(item{"city": s("Lisbon"), "street": s("Rua")})}, wantKeep: true},
		"exclude nested": {rules: `rules: [{exclude: [email, address.street, missing.path]}]`,
			src:  item{"pk": s("1"), "email": s("e"), "address": m(item{"city": s("Lisbon"), "street": s("Rua")})},
			want: item{"pk": s("1"), "address": m(item{"city": s("Lisbon")})}, wantKeep: true},
		"rename flat and nested": {rules: `rules: [{rename: {status: state, address.city: city, absent: x}}]`,
			src:  item{"status": s("NEW"), "address": m(item{"city": s("Lisbon")})},
			want: item{"state": s("NEW"), "city": s("Lisbon"), "address": m(item{})}, wantKeep: true},
		"set computed": {rules: `rules: [{set: {cents: "total * 100", label: 'kind + ":" + string(total)', meta.ok: "true", l: "[1, 'a', b'x']", nul: "null"}}]`,
			src: item{"total": n("12.34"), "kind": s("o")},
			want: item{"total": n("12.34"), "kind": s("o"), "cents": n("1234"), "label": s("o:12.34"),
				"meta": m(item{"ok": &types.AttributeValueMemberBOOL{Value: true}}),
				"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{n("1"), s("a"), &types.AttributeValueMemberB{Value: []byte("x")}}},
				"nul":  &types.AttributeValueMemberNULL{Value: true}}, wantKeep: true},
		"set a map": {rules: `rules: [{set: {m: "{'a': 1}"}}]`, src: item{},
			want: item{"m": m(item{"a": n("1")})}, wantKeep: true},
		"key": {rules: `rules: [{key: {pk: 'tenant + "#" + id'}}]`,
			src:  item{"pk": s("order#1"), "tenant": s("acme"), "id": s("1")},
			want: item{"pk": s("acme#1"), "tenant": s("acme"), "id": s("1")}, wantKeep: true},
		"key of a bad type": {rules: `rules: [{name: k, key: {pk: "true"}}]`, src: item{}, wantErr: "a key attribute must be"},
		"source unchanged": {rules: `rules: [{exclude: [m.inner.deep]}, {rename: {s: t}}]`, src: allTypes(),
			want: func() item {
				w := allTypes()
				w["t"] = w["s"]
				delete(w, "s")
				w["m"] = m(item{"inner": m(item{}), "list": &types.AttributeValueMemberL{Value: []types.AttributeValue{}}})
				return w
			}(), wantKeep: true},
		"rules in order": {rules: `rules: [{rename: {a: b}}, {filter: 'has(item.b)'}, {set: {c: "b + 1"}}]`,
			src: item{"a": n("1")}, want: item{"b": n("1"), "c": n("2")}, wantKeep: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs := mustParse(t, tt.rules)
			src := tt.src
			before := allTypes()
			got, keep, err := rs.Item(src)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantKeep, keep)
			if tt.wantKeep {
				assert.Equal(t, tt.want, got)
			}
			if name == "source unchanged" {
				assert.Equal(t, before, src, "the source item is not modified")
			}
		})
	}
}

// TestRuleSet_Item_EveryTypeRoundTrips checks that every attribute type
// comes through rules that do not compute it unchanged, and that a value
// read by CEL and written back keeps its value (a set becomes a list).
func TestRuleSet_Item_EveryTypeRoundTrips(t *testing.T) {
	rs := mustParse(t, `rules: [{exclude: [nothing]}, {rename: {s: s2}}, {rename: {s2: s}}, {filter: "true"}]`)
	got, keep, err := rs.Item(allTypes())
	require.NoError(t, err)
	require.True(t, keep)
	assert.Equal(t, allTypes(), got)

	copies := map[string]types.AttributeValue{}
	src := allTypes()
	for name := range src {
		copies["c_"+name] = nil
	}
	for name, v := range src {
		t.Run(name, func(t *testing.T) {
			rs := mustParse(t, "rules: [{set: {c: 'item[\""+name+"\"]'}}]")
			got, _, err := rs.Item(src)
			require.NoError(t, err)
			want := v
			switch v := v.(type) {
			case *types.AttributeValueMemberSS:
				want = &types.AttributeValueMemberL{Value: []types.AttributeValue{s(v.Value[0]), s(v.Value[1])}}
			case *types.AttributeValueMemberNS:
				want = &types.AttributeValueMemberL{Value: []types.AttributeValue{n(v.Value[0]), n(v.Value[1])}}
			case *types.AttributeValueMemberBS:
				want = &types.AttributeValueMemberL{Value: []types.AttributeValue{
					&types.AttributeValueMemberB{Value: v.Value[0]}, &types.AttributeValueMemberB{Value: v.Value[1]}}}
			}
			assert.Equal(t, want, got["c"])
		})
	}
}

// TestDecimal_BeyondFloat64 checks CEL arithmetic and comparisons on
// 38-digit numbers, which a float64 would round.
func TestDecimal_BeyondFloat64(t *testing.T) {
	big := "12345678901234567890123456789012345678"
	tests := map[string]struct {
		expr string
		want types.AttributeValue
	}{
		"add one":             {"n + 1", n("12345678901234567890123456789012345679")},
		"subtract":            {"n - n", n("0")},
		"multiply":            {"n * 10", n("123456789012345678901234567890123456780")},
		"decimal fraction":    {"f + decimal('0.000000000000000000000000000000000001')", n("0.100000000000000000000000000000000002")},
		"unchanged spelling":  {"f", n("0.100000000000000000000000000000000001")},
		"greater by one":      {"n > decimal('12345678901234567890123456789012345677')", &types.AttributeValueMemberBOOL{Value: true}},
		"not equal by one":    {"n == decimal('12345678901234567890123456789012345677')", &types.AttributeValueMemberBOOL{Value: false}},
		"equal numerically":   {"e == 1000", &types.AttributeValueMemberBOOL{Value: true}},
		"less than int":       {"f < 1", &types.AttributeValueMemberBOOL{Value: true}},
		"compare with double": {"f > 0.1", &types.AttributeValueMemberBOOL{Value: true}},
		"negate":              {"-n", n("-12345678901234567890123456789012345678")},
		"string":              {"string(n)", s(big)},
		"int":                 {"int(e)", n("1000")},
		"double loses":        {"double(n) == 12345678901234567890123456789012345677.0", &types.AttributeValueMemberBOOL{Value: true}},
	}
	src := item{"n": n(big), "f": n("0.100000000000000000000000000000000001"), "e": n("1E3")}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs := mustParse(t, "rules: [{set: {out: \""+tt.expr+"\"}}]")
			got, _, err := rs.Item(src)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got["out"])
		})
	}
}

func TestParse_Errors(t *testing.T) {
	tests := map[string]struct {
		src, want string
	}{
		"yaml syntax":     {"rules: [", "test.yaml:1: parse:"},
		"not a mapping":   {"- a", "test.yaml:1: a rule set is a mapping"},
		"unknown top":     {"rulez: []", `test.yaml:1: unknown field "rulez"`},
		"rules not list":  {"rules: x", "test.yaml:1: rules must be a list"},
		"bad ttl":         {"ttl_deletes: never", `ttl_deletes is "never"`},
		"rule not map":    {"rules:\n  - x", `test.yaml:2: rule "rule 1": a rule is a mapping`},
		"empty rule":      {"rules:\n  - name: nothing", `test.yaml:2: rule "nothing": does nothing`},
		"two kinds":       {"rules:\n  - name: two\n    filter: 'true'\n    exclude: [a]", `test.yaml:4: rule "two": has both filter and exclude`},
		"unknown kind":    {"rules:\n  - {exclude: [a]}\n  - drop: [a]", `test.yaml:3: rule "rule 2": unknown field "drop"`},
		"bad cel":         {"rules:\n  - name: f\n    filter: 'a =='", `test.yaml:3: rule "f": filter: `},
		"undeclared func": {"rules:\n  - name: f\n    filter: 'nope(a)'", `test.yaml:3: rule "f": filter: `},
		"bad set line":    {"rules:\n  - name: s\n    set:\n      a: 'x'\n      b: '1 +'", `test.yaml:5: rule "s": set b: `},
		"duplicate set":   {"rules:\n  - name: s\n    set: {a: '1', a: '2'}", `rule "s"`},
		"empty path":      {"rules:\n  - name: p\n    exclude: [a..b]", `test.yaml:3: rule "p": exclude: "a..b" has an empty name`},
		"empty include":   {"rules:\n  - name: p\n    include: []", `rule "p": include must be a non-empty list`},
		"nested key":      {"rules:\n  - name: k\n    key: {a.b: 'x'}", `rule "k": key: "a.b": a key attribute is a top-level name`},
		"three keys":      {"rules:\n  - name: k\n    key: {a: '1', b: '2', c: '3'}", `rule "k": key: a DynamoDB key has one or two`},
		"two key rules":   {"rules:\n  - {name: k1, key: {a: '1'}}\n  - {name: k2, key: {a: '2'}}", `test.yaml:3: rule "k2": a second key rule (the first is "k1")`},
		"empty name":      {"rules:\n  - {name: '', filter: 'true'}", "name must be a non-empty string"},
		"empty filter":    {"rules:\n  - {name: f, filter: ''}", `rule "f": filter: empty expression`},
		"rename to map":   {"rules:\n  - {name: r, rename: {a: [b]}}", `rule "r": rename a: want an attribute path`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tt.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.ErrorIs(t, err, ErrInvalid)
			var perr *Error
			assert.True(t, errors.As(err, &perr))
		})
	}
}

func TestParse_Files(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			rs, err := Parse(f, src)
			if filepath.Base(f) == "bad-line.yaml" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), `testdata/bad-line.yaml:6: rule "broken": set total_cents: `)
				return
			}
			require.NoError(t, err)
			assert.False(t, rs.IsIdentity())
			assert.Len(t, rs.Summary(), len(rs.Rules)+1)
		})
	}
}

func TestParseEnv(t *testing.T) {
	js := `{"rules":[{"name":"f","filter":"tenant == 'acme'"}],"ttl_deletes":"skip"}`
	tests := map[string]struct {
		value    string
		identity bool
		wantErr  string
	}{
		"json":          {value: js},
		"base64":        {value: base64.StdEncoding.EncodeToString([]byte(js))},
		"base64 url":    {value: base64.RawURLEncoding.EncodeToString([]byte(js))},
		"empty":         {value: "  ", identity: true},
		"not base64":    {value: "%%%", wantErr: "environment: want the rule set's JSON"},
		"invalid rules": {value: `{"rules":[{"name":"x","filter":"("}]}`, wantErr: `environment:1: rule "x"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := ParseEnv(tt.value)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.identity, rs.IsIdentity())
			if !tt.identity {
				assert.Equal(t, TTLSkip, rs.TTL)
				assert.Equal(t, "f", rs.Rules[0].Name)
			}
		})
	}
}

func TestRuleSet_IsIdentity(t *testing.T) {
	assert.True(t, (*RuleSet)(nil).IsIdentity())
	assert.True(t, mustParse(t, "").IsIdentity())
	assert.True(t, mustParse(t, "rules: []\nttl_deletes: replicate").IsIdentity())
	assert.False(t, mustParse(t, "ttl_deletes: skip").IsIdentity(), "skipping TTL deletes is a rule")
	assert.False(t, mustParse(t, "rules: [{exclude: [a]}]").IsIdentity())
}

// TestDefaultCostLimit checks that a runaway expression stops.
func TestDefaultCostLimit(t *testing.T) {
	rs := mustParse(t, `rules: [{name: slow, filter: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, s.size() > 0))))))"}]`)
	_, _, err := rs.Item(item{"s": s("x")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cost")
}
