package rules

import (
	"errors"
	"fmt"
	"sort"

	"cel.dev/cel-go/cel"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrKeyType is a target key attribute whose type the rules do not tell:
// a key rule's expression whose checked type is dyn (an attribute read as
// it is, say) or not a string, number or bytes.
var ErrKeyType = errors.New("target key type unknown")

// ErrKeyLost is a target key attribute that the items the rules make do
// not carry as the key schema says: a source key attribute (without a key
// rule) that a rule drops, moves into a map or computes, or a key rule's
// attribute that a later rule drops, renames or changes. No copied item
// would fit a table with that key.
var ErrKeyLost = errors.New("target key attribute lost")

// TargetKeySchema returns the target table's key schema for a source
// table keyed by src: a key rule's attributes, the first the partition
// key (HASH) and the second, if any, the sort key (RANGE); without a key
// rule, the source key's attributes as the rename rules move them, in
// src's roles.
func (rs *RuleSet) TargetKeySchema(src []types.KeySchemaElement) []types.KeySchemaElement {
	var out []types.KeySchemaElement
	if rs != nil && rs.key != nil {
		for i, p := range rs.key.Pairs {
			kt := types.KeyTypeHash
			if i > 0 {
				kt = types.KeyTypeRange
			}
			name := p.To[0]
			out = append(out, types.KeySchemaElement{AttributeName: &name, KeyType: kt})
		}
		return out
	}
	for _, e := range src {
		name := rs.TargetKeyNames([]string{deref(e.AttributeName)})[0]
		out = append(out, types.KeySchemaElement{AttributeName: &name, KeyType: e.KeyType})
	}
	return out
}

// TargetKeyTypes returns the types (S, N or B) of the target key's
// attributes (TargetKeySchema) for a source table whose key attributes
// have the types src. A key rule's attribute has the checked output type
// of its CEL expression: string S, bytes B, int, uint, double or decimal
// N; a key attribute moved by renames keeps its source type; override
// (the user's --key-type NAME=S|N|B) wins over both. A key rule entry that
// reads a source key attribute as it is (pk: id, pk: item.id) has that
// attribute's type. An attribute whose type is not known (another dyn
// expression, such as a non-key attribute read as it is) is an ErrKeyType
// error naming it. A target key attribute the copied items would not
// carry (a source key attribute that a rule drops, moves or computes
// without a key rule; a key rule's attribute that a later rule drops,
// renames or changes) is an ErrKeyLost error naming it.
func (rs *RuleSet) TargetKeyTypes(src map[string]types.ScalarAttributeType, override map[string]types.ScalarAttributeType) (map[string]types.ScalarAttributeType, error) {
	out := map[string]types.ScalarAttributeType{}
	var errs []error
	if rs != nil && rs.key != nil {
		after := rs.Rules[rs.keyIndex()+1:]
		for _, p := range rs.key.Pairs {
			name := p.To[0]
			if to, same := followAttribute(after, name); !same || to != name {
				errs = append(errs, fmt.Errorf("%w: a rule after the key rule %q drops, renames or changes the target key attribute %s, "+
					"so no copied item would have it", ErrKeyLost, rs.key.Name, name))
				continue
			}
			if t, ok := override[name]; ok {
				out[name] = t
				continue
			}
			t, err := scalarType(p.expr.ast.OutputType())
			if err != nil {
				if st, ok := rs.sourceKeyType(p, src); ok {
					out[name] = st
					continue
				}
				errs = append(errs, fmt.Errorf("%w: key %s = %s %v: give it with --key-type %s=S|N|B", ErrKeyType, name, p.Expr, err, name))
				continue
			}
			out[name] = t
		}
		return out, errors.Join(errs...)
	}
	names := make([]string, 0, len(src))
	for n := range src {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		to := rs.TargetKeyNames([]string{n})[0]
		if rs != nil {
			if _, same := followAttribute(rs.Rules, n); !same {
				errs = append(errs, fmt.Errorf("%w: the rules drop, move or change the source key attribute %s, so no copied item "+
					"would have %s as it is: keep it, or re-key the target with a key rule (key: {%s: EXPR})", ErrKeyLost, n, to, to))
				continue
			}
		}
		out[to] = src[n]
		if t, ok := override[to]; ok {
			out[to] = t
		}
	}
	return out, errors.Join(errs...)
}

// keyIndex is the index of the key rule in rs.Rules (-1: none).
func (rs *RuleSet) keyIndex() int {
	for i := range rs.Rules {
		if &rs.Rules[i] == rs.key {
			return i
		}
	}
	return -1
}

// sourceKeyType is the source type of a key rule entry that reads a
// source key attribute as it is (pk: id, or pk: item.id, with no earlier
// rule changing id).
func (rs *RuleSet) sourceKeyType(p Pair, src map[string]types.ScalarAttributeType) (types.ScalarAttributeType, bool) {
	name, ok := attrName(p.expr.ast.NativeRep().Expr())
	if !ok {
		return "", false
	}
	t, ok := src[name]
	if !ok {
		return "", false
	}
	if i := rs.keyIndex(); i >= 0 {
		to, same := followAttribute(rs.Rules[:i], name)
		return t, same && to == name
	}
	return "", false
}

// scalarType maps a checked CEL type to a key attribute type.
func scalarType(t *cel.Type) (types.ScalarAttributeType, error) {
	switch {
	case t == nil:
		return "", errors.New("has no checked type")
	case t.IsExactType(cel.StringType):
		return types.ScalarAttributeTypeS, nil
	case t.IsExactType(cel.BytesType):
		return types.ScalarAttributeTypeB, nil
	case t.IsExactType(cel.IntType), t.IsExactType(cel.UintType), t.IsExactType(cel.DoubleType), t.TypeName() == DecimalType.TypeName():
		return types.ScalarAttributeTypeN, nil
	case t.IsExactType(cel.DynType):
		return "", errors.New("is of type dyn (it may be a string, a number or bytes)")
	}
	return "", fmt.Errorf("is a %s, not a string, number or bytes", t.String())
}

// TargetAttribute returns the name under which a top-level source
// attribute reaches the target with its value unchanged: its name, or the
// one the renames give it. ok is false when a rule drops it (include,
// exclude), replaces it (a rename or set writing to it, a key rule
// computing it), moves it into a map, or changes part of it.
func (rs *RuleSet) TargetAttribute(name string) (target string, ok bool) {
	if rs == nil {
		return name, true
	}
	return followAttribute(rs.Rules, name)
}

// followAttribute follows a top-level attribute through rules; see
// TargetAttribute.
func followAttribute(rules []Rule, name string) (string, bool) {
	cur := name
	for _, r := range rules {
		switch r.Kind {
		case KindInclude:
			kept := false
			for _, p := range r.Paths {
				if p[0] == cur {
					if len(p) > 1 {
						return "", false // only part of it is kept
					}
					kept = true
				}
			}
			if !kept {
				return "", false
			}
		case KindExclude:
			for _, p := range r.Paths {
				if p[0] == cur {
					return "", false
				}
			}
		case KindRename:
			for _, p := range r.Pairs {
				switch {
				case p.From[0] == cur && len(p.From) == 1 && len(p.To) == 1:
					cur = p.To[0]
				case p.From[0] == cur || p.To[0] == cur:
					return "", false
				}
			}
		case KindSet, KindKey:
			for _, p := range r.Pairs {
				if p.To[0] == cur {
					return "", false
				}
			}
		}
	}
	return cur, true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
