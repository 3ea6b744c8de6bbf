package dynamotest

import (
	"bytes"
	"math/big"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// checkCondition evaluates the condition expression cond (nil: none) on
// item (nil: no item). It returns a ConditionalCheckFailedException when
// the condition is false, and a ValidationException for a form MemTable
// does not know or a placeholder that is missing or unused, as DynamoDB
// refuses those.
func checkCondition(cond *string, names map[string]string, values map[string]types.AttributeValue, item Item) error {
	if cond == nil {
		if len(names) > 0 || len(values) > 0 {
			return validation("ExpressionAttributeNames and ExpressionAttributeValues can only be specified when using expressions")
		}
		return nil
	}
	e := &evaluator{names: names, values: values, item: item, usedNames: map[string]bool{}, usedValues: map[string]bool{}}
	ok, err := e.or(*cond)
	if err != nil {
		return err
	}
	for ref := range names {
		if !e.usedNames[ref] {
			return validation("Value provided in ExpressionAttributeNames unused in expressions: keys: {%s}", ref)
		}
	}
	for ref := range values {
		if !e.usedValues[ref] {
			return validation("Value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", ref)
		}
	}
	if !ok {
		return &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	return nil
}

// evaluator evaluates one condition expression. It reads every term, so
// that unused placeholders are found whatever the outcome.
type evaluator struct {
	names                 map[string]string
	values                map[string]types.AttributeValue
	item                  Item
	usedNames, usedValues map[string]bool
}

// or evaluates terms joined by OR, each terms joined by AND (AND binds
// tighter, as in DynamoDB). Parentheses other than a function's are not
// supported.
func (e *evaluator) or(s string) (bool, error) {
	anyTrue := false
	for _, part := range strings.Split(s, " OR ") {
		all := true
		for _, term := range strings.Split(part, " AND ") {
			ok, err := e.term(strings.TrimSpace(term))
			if err != nil {
				return false, err
			}
			all = all && ok
		}
		anyTrue = anyTrue || all
	}
	return anyTrue, nil
}

// term evaluates one function call or comparison.
func (e *evaluator) term(t string) (bool, error) {
	for _, fn := range []string{"attribute_exists", "attribute_not_exists"} {
		if rest, ok := strings.CutPrefix(t, fn+"("); ok && strings.HasSuffix(rest, ")") {
			name, err := e.name(strings.TrimSpace(strings.TrimSuffix(rest, ")")))
			if err != nil {
				return false, err
			}
			_, exists := e.item[name]
			return exists == (fn == "attribute_exists"), nil
		}
	}
	fields := strings.Fields(t)
	if len(fields) != 3 {
		return false, validation("Invalid ConditionExpression: MemTable does not support %q", t)
	}
	name, err := e.name(fields[0])
	if err != nil {
		return false, err
	}
	want, err := e.value(fields[2])
	if err != nil {
		return false, err
	}
	got, ok := e.item[name]
	if !ok {
		return false, nil // a comparison with a missing attribute is false
	}
	switch fields[1] {
	case "=":
		return tablecmp.Equal(got, want), nil
	case "<>":
		return !tablecmp.Equal(got, want), nil
	case "<", "<=", ">", ">=":
		c, ok := compare(got, want)
		if !ok {
			return false, nil
		}
		switch fields[1] {
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		}
		return c >= 0, nil
	}
	return false, validation("Invalid ConditionExpression: MemTable does not support the operator %q", fields[1])
}

// name resolves an attribute name or #placeholder.
func (e *evaluator) name(ref string) (string, error) {
	if !strings.HasPrefix(ref, "#") {
		if ref == "" || strings.ContainsAny(ref, "():# ") {
			return "", validation("Invalid ConditionExpression: bad attribute name %q", ref)
		}
		return ref, nil
	}
	name, ok := e.names[ref]
	if !ok {
		return "", validation("Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: %s", ref)
	}
	e.usedNames[ref] = true
	return name, nil
}

// value resolves a :placeholder.
func (e *evaluator) value(ref string) (types.AttributeValue, error) {
	v, ok := e.values[ref]
	if !ok || !strings.HasPrefix(ref, ":") {
		return nil, validation("Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: %s", ref)
	}
	e.usedValues[ref] = true
	return v, nil
}

// compare orders two scalars of one type as DynamoDB does: numbers by
// value, strings and binaries by their bytes. ok is false for other types
// or a type mismatch (the comparison is then false).
func compare(a, b types.AttributeValue) (int, bool) {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		if b, ok := b.(*types.AttributeValueMemberS); ok {
			return strings.Compare(a.Value, b.Value), true
		}
	case *types.AttributeValueMemberN:
		if b, ok := b.(*types.AttributeValueMemberN); ok {
			ra, okA := new(big.Rat).SetString(a.Value)
			rb, okB := new(big.Rat).SetString(b.Value)
			if okA && okB {
				return ra.Cmp(rb), true
			}
		}
	case *types.AttributeValueMemberB:
		if b, ok := b.(*types.AttributeValueMemberB); ok {
			return bytes.Compare(a.Value, b.Value), true
		}
	}
	return 0, false
}
