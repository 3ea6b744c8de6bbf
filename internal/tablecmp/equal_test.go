package tablecmp_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"

	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

type (
	av  = types.AttributeValue
	s   = types.AttributeValueMemberS
	n   = types.AttributeValueMemberN
	b   = types.AttributeValueMemberB
	bl  = types.AttributeValueMemberBOOL
	nul = types.AttributeValueMemberNULL
	ss  = types.AttributeValueMemberSS
	ns  = types.AttributeValueMemberNS
	bs  = types.AttributeValueMemberBS
	l   = types.AttributeValueMemberL
	m   = types.AttributeValueMemberM
)

func TestEqual(t *testing.T) {
	tests := map[string]struct {
		a, b av
		want bool
	}{
		"S equal":                  {&s{Value: "x"}, &s{Value: "x"}, true},
		"S differ":                 {&s{Value: "x"}, &s{Value: "X"}, false},
		"S empty":                  {&s{Value: ""}, &s{Value: ""}, true},
		"N same spelling":          {&n{Value: "42"}, &n{Value: "42"}, true},
		"N exponent":               {&n{Value: "1E+2"}, &n{Value: "100"}, true},
		"N trailing zeros":         {&n{Value: "100.0"}, &n{Value: "100"}, true},
		"N lower-case exponent":    {&n{Value: "1.5e1"}, &n{Value: "15"}, true},
		"N negative exponent":      {&n{Value: "25E-2"}, &n{Value: "0.25"}, true},
		"N 38 digits":              {&n{Value: "12345678901234567890123456789012345678"}, &n{Value: "1.2345678901234567890123456789012345678E+37"}, true},
		"N 38 digits differ":       {&n{Value: "12345678901234567890123456789012345678"}, &n{Value: "12345678901234567890123456789012345679"}, false},
		"N beyond float64":         {&n{Value: "0.1000000000000000000000000000000000001"}, &n{Value: "0.1"}, false},
		"N sign":                   {&n{Value: "-0"}, &n{Value: "0"}, true},
		"N differ":                 {&n{Value: "1"}, &n{Value: "2"}, false},
		"N not a number":           {&n{Value: "abc"}, &n{Value: "abd"}, false},
		"N huge exponent refused":  {&n{Value: "1E+99999"}, &n{Value: "1E+099999"}, false},
		"B equal":                  {&b{Value: []byte{0, 1, 2}}, &b{Value: []byte{0, 1, 2}}, true},
		"B differ":                 {&b{Value: []byte{0, 1, 2}}, &b{Value: []byte{0, 1}}, false},
		"BOOL":                     {&bl{Value: true}, &bl{Value: true}, true},
		"BOOL differ":              {&bl{Value: true}, &bl{Value: false}, false},
		"NULL":                     {&nul{Value: true}, &nul{Value: true}, true},
		"SS order":                 {&ss{Value: []string{"a", "b"}}, &ss{Value: []string{"b", "a"}}, true},
		"SS differ":                {&ss{Value: []string{"a", "b"}}, &ss{Value: []string{"a", "c"}}, false},
		"SS subset":                {&ss{Value: []string{"a", "b"}}, &ss{Value: []string{"a"}}, false},
		"SS superset":              {&ss{Value: []string{"a"}}, &ss{Value: []string{"a", "b"}}, false},
		"NS order and spelling":    {&ns{Value: []string{"1E+3", "0.5", "42"}}, &ns{Value: []string{"42", "1000", "0.50"}}, true},
		"NS differ":                {&ns{Value: []string{"1", "2"}}, &ns{Value: []string{"1", "3"}}, false},
		"BS order":                 {&bs{Value: [][]byte{{1}, {2, 3}}}, &bs{Value: [][]byte{{2, 3}, {1}}}, true},
		"BS differ":                {&bs{Value: [][]byte{{1}, {2, 3}}}, &bs{Value: [][]byte{{1}, {2}}}, false},
		"L order matters":          {&l{Value: []av{&s{Value: "a"}, &n{Value: "1"}}}, &l{Value: []av{&n{Value: "1"}, &s{Value: "a"}}}, false},
		"L nested numbers":         {&l{Value: []av{&n{Value: "1.0"}, &l{Value: []av{&n{Value: "2E0"}}}}}, &l{Value: []av{&n{Value: "1"}, &l{Value: []av{&n{Value: "2"}}}}}, true},
		"L length":                 {&l{Value: []av{&s{Value: "a"}}}, &l{Value: []av{}}, false},
		"L empty":                  {&l{Value: []av{}}, &l{Value: nil}, true},
		"M nested":                 {&m{Value: map[string]av{"x": &m{Value: map[string]av{"y": &ns{Value: []string{"1", "2"}}}}}}, &m{Value: map[string]av{"x": &m{Value: map[string]av{"y": &ns{Value: []string{"2.0", "1"}}}}}}, true},
		"M extra key":              {&m{Value: map[string]av{"x": &s{Value: "1"}}}, &m{Value: map[string]av{"x": &s{Value: "1"}, "y": &s{Value: "1"}}}, false},
		"M empty":                  {&m{Value: map[string]av{}}, &m{Value: map[string]av{}}, true},
		"types differ S and N":     {&s{Value: "1"}, &n{Value: "1"}, false},
		"types differ SS and L":    {&ss{Value: []string{"a"}}, &l{Value: []av{&s{Value: "a"}}}, false},
		"types differ NS and SS":   {&ns{Value: []string{"1"}}, &ss{Value: []string{"1"}}, false},
		"types differ B and S":     {&b{Value: []byte("a")}, &s{Value: "a"}, false},
		"nil and nil":              {nil, nil, true},
		"nil and value":            {nil, &s{Value: ""}, false},
		"unknown member":           {&types.UnknownUnionMember{Tag: "X"}, &types.UnknownUnionMember{Tag: "X"}, false},
		"value and nil":            {&s{Value: ""}, nil, false},
		"NULL and BOOL":            {&nul{Value: true}, &bl{Value: true}, false},
		"M and L of same contents": {&m{Value: map[string]av{}}, &l{Value: []av{}}, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, tablecmp.Equal(tt.a, tt.b))
			assert.Equal(t, tt.want, tablecmp.Equal(tt.b, tt.a), "symmetric")
		})
	}
}

func TestDiffItems(t *testing.T) {
	base := map[string]av{"pk": &s{Value: "a"}, "n": &n{Value: "10"}, "tags": &ss{Value: []string{"x", "y"}}}
	tests := map[string]struct {
		other map[string]av
		want  []string
	}{
		"same meaning":      {map[string]av{"pk": &s{Value: "a"}, "n": &n{Value: "1E+1"}, "tags": &ss{Value: []string{"y", "x"}}}, nil},
		"value differs":     {map[string]av{"pk": &s{Value: "a"}, "n": &n{Value: "11"}, "tags": &ss{Value: []string{"y", "x"}}}, []string{"n"}},
		"missing and extra": {map[string]av{"pk": &s{Value: "a"}, "n": &n{Value: "10"}, "new": &bl{Value: false}}, []string{"new", "tags"}},
		"type differs":      {map[string]av{"pk": &s{Value: "a"}, "n": &s{Value: "10"}, "tags": &ss{Value: []string{"x", "y"}}}, []string{"n"}},
		"empty":             {map[string]av{}, []string{"n", "pk", "tags"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, tablecmp.DiffItems(base, tt.other))
			assert.Equal(t, tt.want, tablecmp.DiffItems(tt.other, base), "symmetric")
			assert.Equal(t, tt.want == nil, tablecmp.EqualItems(base, tt.other))
		})
	}
}
