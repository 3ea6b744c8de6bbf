package replicate

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrBadAttribute is wrapped by every error about a malformed attribute value.
var ErrBadAttribute = errors.New("malformed attribute value")

// DecodeImage converts a DynamoDB JSON image ({"name":{"S":"v"},…}), as found
// in stream records' Keys, NewImage and OldImage, into SDK attribute values,
// losslessly: numbers stay decimal strings and binaries stay bytes. The
// conversion is the SDK's own (attributevalue.UnmarshalMapJSON); DecodeImage
// adds the checks the SDK leaves to the server, so a malformed record is
// rejected here with the attribute's path instead of failing a whole
// BatchWriteItem call: a value with no known type, a number that is not a
// number, NULL other than true, empty or duplicated sets, and a value with
// more than one type field ({"S":"a","N":"1"}), of which the SDK would keep
// one at random.
func DecodeImage(raw []byte) (map[string]types.AttributeValue, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("%w: image is missing", ErrBadAttribute)
	}
	if err := checkOneType(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAttribute, err)
	}
	item, err := attributevalue.UnmarshalMapJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAttribute, err)
	}
	if len(item) == 0 {
		return nil, fmt.Errorf("%w: image is empty", ErrBadAttribute)
	}
	for _, v := range item {
		if validateValue(v, false) != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadAttribute, firstInvalid(item))
		}
	}
	return item, nil
}

// firstInvalid returns the error of the first invalid attribute in name
// order, nested maps included, so that an image with several problems is
// always reported the same way.
func firstInvalid(item map[string]types.AttributeValue) error {
	for _, name := range sortedNames(item) {
		if err := validateValue(item[name], true); err != nil {
			return fmt.Errorf("attribute %s: %w", strconv.Quote(name), err)
		}
	}
	return nil
}

func sortedNames(m map[string]types.AttributeValue) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// validateValue checks one value; with ordered it visits map entries in
// name order (slower), otherwise in map order.
func validateValue(v types.AttributeValue, ordered bool) error {
	switch v := v.(type) {
	case nil:
		return errors.New("no type field (want one of S, N, B, BOOL, NULL, M, L, SS, NS, BS)")
	case *types.UnknownUnionMember:
		return fmt.Errorf("unknown type %q", v.Tag)
	case *types.AttributeValueMemberS, *types.AttributeValueMemberB, *types.AttributeValueMemberBOOL:
		return nil
	case *types.AttributeValueMemberN:
		return validateNumber(v.Value)
	case *types.AttributeValueMemberNULL:
		if !v.Value {
			return errors.New("NULL must be true")
		}
	case *types.AttributeValueMemberSS:
		return validateSet(v.Value, nil)
	case *types.AttributeValueMemberNS:
		return validateSet(v.Value, validateNumber)
	case *types.AttributeValueMemberBS:
		s := make([]string, len(v.Value))
		for i, b := range v.Value {
			s[i] = string(b)
		}
		return validateSet(s, nil)
	case *types.AttributeValueMemberL:
		for i, e := range v.Value {
			if err := validateValue(e, ordered); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case *types.AttributeValueMemberM:
		if ordered {
			for _, name := range sortedNames(v.Value) {
				if err := validateValue(v.Value[name], true); err != nil {
					return fmt.Errorf(".%s: %w", strconv.Quote(name), err)
				}
			}
			return nil
		}
		for name, e := range v.Value {
			if err := validateValue(e, false); err != nil {
				return fmt.Errorf(".%s: %w", strconv.Quote(name), err)
			}
		}
	default:
		return fmt.Errorf("unsupported type %T", v)
	}
	return nil
}

func validateSet(members []string, check func(string) error) error {
	if len(members) == 0 {
		return errors.New("empty set (DynamoDB sets must have at least one member)")
	}
	seen := make(map[string]struct{}, len(members))
	for _, m := range members {
		if check != nil {
			if err := check(m); err != nil {
				return err
			}
		}
		if _, dup := seen[m]; dup {
			return errors.New("set contains duplicate members")
		}
		seen[m] = struct{}{}
	}
	return nil
}

// validateNumber checks the syntax of a DynamoDB number: an optional sign,
// digits with an optional decimal point, and an optional exponent. Precision
// and range limits are left to DynamoDB.
func validateNumber(s string) error {
	if !isNumber(s) {
		return errors.New("number is not a decimal number (value not shown)")
	}
	return nil
}

// isNumber is validateNumber's test, for text of either kind.
func isNumber[T string | []byte](s T) bool {
	i, n := 0, len(s)
	if i < n && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < n && s[i] == '.' {
		i++
		for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits > 0 && i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 {
			digits = 0
		}
	}
	return digits > 0 && i == n
}
