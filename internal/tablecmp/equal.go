package tablecmp

import (
	"bytes"
	"math/big"
	"sort"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Equal reports whether a and b hold the same DynamoDB value: numbers are
// compared as decimals, sets as sets, maps and lists recursively. Two nil
// values are equal; a nil and a non-nil value are not.
func Equal(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberN:
		b, ok := b.(*types.AttributeValueMemberN)
		return ok && equalNumber(a.Value, b.Value)
	case *types.AttributeValueMemberB:
		b, ok := b.(*types.AttributeValueMemberB)
		return ok && bytes.Equal(a.Value, b.Value)
	case *types.AttributeValueMemberBOOL:
		b, ok := b.(*types.AttributeValueMemberBOOL)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberNULL:
		b, ok := b.(*types.AttributeValueMemberNULL)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberSS:
		b, ok := b.(*types.AttributeValueMemberSS)
		return ok && equalSet(a.Value, b.Value, identity)
	case *types.AttributeValueMemberNS:
		b, ok := b.(*types.AttributeValueMemberNS)
		return ok && equalSet(a.Value, b.Value, canonicalNumber)
	case *types.AttributeValueMemberBS:
		b, ok := b.(*types.AttributeValueMemberBS)
		return ok && equalSet(toStrings(a.Value), toStrings(b.Value), identity)
	case *types.AttributeValueMemberL:
		b, ok := b.(*types.AttributeValueMemberL)
		if !ok || len(a.Value) != len(b.Value) {
			return false
		}
		for i := range a.Value {
			if !Equal(a.Value[i], b.Value[i]) {
				return false
			}
		}
		return true
	case *types.AttributeValueMemberM:
		b, ok := b.(*types.AttributeValueMemberM)
		return ok && EqualItems(a.Value, b.Value)
	}
	return false // an unknown union member is never equal to anything
}

// EqualItems reports whether two items (or M values) have the same
// attribute names with [Equal] values.
func EqualItems(a, b map[string]types.AttributeValue) bool {
	if len(a) != len(b) {
		return false
	}
	for name, av := range a {
		bv, ok := b[name]
		if !ok || !Equal(av, bv) {
			return false
		}
	}
	return true
}

// DiffItems returns the sorted names of the attributes that differ between
// a and b: present in only one of them, or not [Equal]. It returns nil when
// the items are equal.
func DiffItems(a, b map[string]types.AttributeValue) []string {
	var names []string
	for name, av := range a {
		if bv, ok := b[name]; !ok || !Equal(av, bv) {
			names = append(names, name)
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// equalNumber compares two DynamoDB numbers as decimals. A string that is
// not a number compares by spelling.
func equalNumber(a, b string) bool {
	if a == b {
		return true
	}
	ra, okA := parseNumber(a)
	rb, okB := parseNumber(b)
	if !okA || !okB {
		return false
	}
	return ra.Cmp(rb) == 0
}

// maxExponentDigits bounds the exponent accepted by parseNumber. DynamoDB
// numbers lie between 1E-130 and 1E+126, so three digits suffice; the bound
// keeps a hostile "1E+999999999" from allocating a huge big.Rat.
const maxExponentDigits = 4

// parseNumber parses a DynamoDB number exactly.
func parseNumber(s string) (*big.Rat, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			exp := s[i+1:]
			if len(exp) > 0 && (exp[0] == '+' || exp[0] == '-') {
				exp = exp[1:]
			}
			if len(exp) > maxExponentDigits {
				return nil, false
			}
			break
		}
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// canonicalNumber returns one spelling for every way of writing a number,
// for set membership.
func canonicalNumber(s string) string {
	if r, ok := parseNumber(s); ok {
		return r.RatString()
	}
	return s
}

func identity(s string) string { return s }

func toStrings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// equalSet reports whether a and b hold the same members once each is
// passed through canon.
func equalSet(a, b []string, canon func(string) string) bool {
	set := make(map[string]bool, len(a))
	for _, m := range a {
		set[canon(m)] = true
	}
	seen := make(map[string]bool, len(b))
	for _, m := range b {
		c := canon(m)
		if !set[c] {
			return false
		}
		seen[c] = true
	}
	return len(seen) == len(set)
}
